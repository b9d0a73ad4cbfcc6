"""The GPU device check's preparation (docs/GPU.md, issue 11 item 5): runs
here, with no GPU, and writes a bundle that scripts/gpu-device-check/
run-on-device.sh runs on a machine with one (where there is no MLIR).

    python -m quant_opt.gpu_check [-o build/gpu-device-check] [--chip sm_90]
        [--cpu x86-64-v3] [--quick]

For every case the bundle holds the GPU object and header (quant-aot
--device=cuda), a generated C driver, the inputs and the outputs of the
CPU integer program (quant-run --pipeline=reference), as .npy and raw .bin:

- layers: single fused quantized layers (matmul, conv, depthwise, add,
  max and average pooling), small ONNX graphs made here, imported,
  calibrated on seeded data and quantized with qnn-quantize-pipeline;
- models: the bundled Fashion models (fashion-cnn, fashion-mobilenet,
  fashion-transformer), quantized the same way, at batch 8;
- runtime smoke: integer and float elementwise programs written with
  gpu.launch and their own host-device copies, lowered with upstream's
  gpu-lower-to-nvvm-pipeline: they exercise runtime, object, driver and
  comparison whatever the state of qnn-gpu-pipeline;
- gemm: i8 x i8 -> i32 4096^3 and 8192^3 for timing against cuBLASLt (no
  data carried: run-on-device.sh makes the operands there and checks the
  result against torch._int_mm), with B (k, n) as written and B given
  (n, k), the order the compiler packs constant weights in.

A case the GPU pipeline cannot compile yet is kept (inputs, CPU outputs)
with its GPU object missing and the one-line reason in manifest.json;
run-on-device.sh reports it as skipped. Until qnn-gpu-pipeline is built in,
that is every case but the runtime smoke ones. The pipeline is the one
quant-run --print-gpu-pipeline names (qnn::getGPUPipeline, the one place
to change).

The bundle also holds the CUDA runtime's source (built there with g++ or
nvcc), the ONNX models (for ONNX Runtime's CUDA provider there) and
manifest.json; it is checked to stay well under the 64 MiB a device call
carries.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from . import aot
from .execution import ToolNotFoundError, find_tool

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "build" / "gpu-device-check"
# A device call carries at most 64 MiB; leave room for the working tree.
BUNDLE_LIMIT = 48 << 20
MODELS = ("fashion-cnn", "fashion-mobilenet", "fashion-transformer")
MODEL_BATCH = 8
GEMM_SIZES = (4096, 8192)
# The GEMM timing cases' tilings: the pipeline's default (64x64x32, 2x2
# warps) and larger blocks (128x128x64, 2x4 warps: 16 MMAs per warp and k
# slice), so that one device run shows which to make the default.
# With B (n, k) both tiles are filled by cp.async in up to four stages
# (three at 128x128x64); "_t128_regs" is the same blocks through
# registers in two stages (async-copies=false), to measure what cp.async
# buys (B (k, n) takes the registers either way, so it has no such case).
GEMM_TILINGS = {"": "", "_t128": "tile-m=128 tile-n=128 tile-k=64 warps-m=2 warps-n=4",
                "_t128_regs": "tile-m=128 tile-n=128 tile-k=64 warps-m=2 warps-n=4 "
                              "async-copies=false"}
# Tilings that only differ from another for B (n, k).
GEMM_TILINGS_NK_ONLY = ("_t128_regs",)
# And B's layouts: (k, n) as a program writes a matmul of two activations,
# gathered byte by byte while staged; (n, k), the order
# qnn-pack-contraction-weights gives constant weights, staged 16 bytes at a
# time like A (cuBLASLt's own int8 layout, "TN").
GEMM_B_LAYOUTS = {"": "kn", "_bt": "nk"}

NPY_DTYPES = {"f32": "<f4", "f64": "<f8", "i8": "|i1", "i16": "<i2", "i32": "<i4", "i64": "<i8",
              "si8": "|i1", "si16": "<i2", "si32": "<i4", "si64": "<i8", "ui8": "|u1",
              "ui16": "<u2", "ui32": "<u4", "ui64": "<u8", "u8": "|u1", "u16": "<u2",
              "u32": "<u4", "index": "<i8"}


class CheckError(Exception):
    """A step of the preparation failed; the message is for the user."""


def _run(cmd, what):
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if result.returncode != 0:
        lines = [l for l in result.stderr.splitlines() if l.strip()]
        errors = [l for l in lines if "error" in l] or lines or ["(no message)"]
        raise CheckError(f"{what} failed: {errors[0].strip()}")
    return result.stdout


# --------------------------------------------------------------------------
# The cases
# --------------------------------------------------------------------------

def _layer_models():
    """Small float ONNX graphs, one fused layer each: name -> (model,
    [input shapes])."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(11)

    def weight(name, shape, scale=0.1):
        return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32),
                                       name)

    def graph(name, nodes, inputs, output_shape, initializers):
        g = helper.make_graph(
            nodes, name,
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, output_shape)],
            initializers)
        model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        onnx.checker.check_model(model)
        return model, [s for _, s in inputs]

    layers = {}
    layers["matmul"] = graph("matmul", [
        helper.make_node("Gemm", ["x", "w", "b"], ["g"], name="gemm_g"),
        helper.make_node("Relu", ["g"], ["y"], name="relu_y")],
        [("x", [16, 256])], [16, 128], [weight("w", (256, 128)), weight("b", (128,))])
    layers["conv"] = graph("conv", [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv_c", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["y"], name="relu_y")],
        [("x", [1, 16, 16, 16])], [1, 32, 16, 16],
        [weight("w", (32, 16, 3, 3)), weight("b", (32,))])
    layers["depthwise"] = graph("depthwise", [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv_c", kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                         group=32),
        helper.make_node("Clip", ["c", "lo", "hi"], ["y"], name="clip_y")],
        [("x", [1, 32, 16, 16])], [1, 32, 16, 16],
        [weight("w", (32, 1, 3, 3), 0.3), weight("b", (32,)),
         numpy_helper.from_array(np.array(0.0, np.float32), "lo"),
         numpy_helper.from_array(np.array(6.0, np.float32), "hi")])
    layers["add"] = graph("add", [
        helper.make_node("Add", ["x", "z"], ["s"], name="add_s"),
        helper.make_node("Relu", ["s"], ["y"], name="relu_y")],
        [("x", [1, 32, 16, 16]), ("z", [1, 32, 16, 16])], [1, 32, 16, 16], [])
    layers["maxpool"] = graph("maxpool", [
        helper.make_node("MaxPool", ["x"], ["y"], name="maxpool_y", kernel_shape=[2, 2], strides=[2, 2])],
        [("x", [1, 32, 16, 16])], [1, 32, 8, 8], [])
    layers["avgpool"] = graph("avgpool", [
        helper.make_node("AveragePool", ["x"], ["y"], name="averagepool_y", kernel_shape=[2, 2], strides=[2, 2])],
        [("x", [1, 32, 16, 16])], [1, 32, 8, 8], [])
    return layers


# Runtime smoke programs: the same arithmetic written for the CPU (linalg on
# tensors, the reference quant-run computes) and for the GPU (gpu.launch
# with its own copies, lowered by upstream's pipeline). N elements, 256
# threads a block.
SMOKE_N = 65536
SMOKE = {
    # i8 -> i8 requantization: clamp(((x * 1234 + 2^13) >> 14) + 3, -128, 127)
    "smoke_requant_i8": {
        "dtype": np.int8,
        "element": "i8",
        "body": """
    %m = arith.constant 1234 : i32
    %r = arith.constant 8192 : i32
    %s = arith.constant 14 : i32
    %z = arith.constant 3 : i32
    %lo = arith.constant -128 : i32
    %hi = arith.constant 127 : i32
    %w = arith.extsi %v : i8 to i32
    %p = arith.muli %w, %m : i32
    %q = arith.addi %p, %r : i32
    %t = arith.shrsi %q, %s : i32
    %u = arith.addi %t, %z : i32
    %k1 = arith.maxsi %u, %lo : i32
    %k2 = arith.minsi %k1, %hi : i32
    %o = arith.trunci %k2 : i32 to i8""",
    },
    # f32: max(x * 0.5 + 0.25, 0) (exact with or without a fused multiply-add)
    "smoke_scale_f32": {
        "dtype": np.float32,
        "element": "f32",
        "body": """
    %a = arith.constant 0.5 : f32
    %b = arith.constant 0.25 : f32
    %zero = arith.constant 0.0 : f32
    %p = arith.mulf %v, %a : f32
    %q = arith.addf %p, %b : f32
    %o = arith.maximumf %q, %zero : f32""",
    },
}


def _smoke_cpu(element: str, body: str) -> str:
    t = f"tensor<{SMOKE_N}x{element}>"
    return f"""func.func @main(%x: {t}) -> {t} {{
  %e = tensor.empty() : {t}
  %y = linalg.generic {{indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>],
      iterator_types = ["parallel"]}} ins(%x : {t}) outs(%e : {t}) {{
  ^bb0(%v: {element}, %unused: {element}):{body}
    linalg.yield %o : {element}
  }} -> {t}
  return %y : {t}
}}
"""


def _smoke_gpu(element: str, body: str) -> str:
    t = f"tensor<{SMOKE_N}x{element}>"
    m = f"memref<{SMOKE_N}x{element}>"
    return f"""func.func @main(%x: {t}) -> {t} {{
  %h = bufferization.to_buffer %x : {t} to {m}
  %c1 = arith.constant 1 : index
  %c256 = arith.constant 256 : index
  %blocks = arith.constant {SMOKE_N // 256} : index
  %d = gpu.alloc () : {m}
  gpu.memcpy %d, %h : {m}, {m}
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %blocks, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {{
    %base = arith.muli %bx, %c256 : index
    %i = arith.addi %base, %tx : index
    %v = memref.load %d[%i] : {m}{body}
    memref.store %o, %d[%i] : {m}
    gpu.terminator
  }}
  %out = memref.alloc () : {m}
  gpu.memcpy %out, %d : {m}, {m}
  gpu.dealloc %d : {m}
  %y = bufferization.to_tensor %out restrict : {m} to {t}
  return %y : {t}
}}
"""


def _gemm_module(n: int, b_layout: str = "kn") -> str:
    a, b, c = f"tensor<{n}x{n}xi8>", f"tensor<{n}x{n}xi8>", f"tensor<{n}x{n}xi32>"
    maps = ""
    if b_layout == "nk":
        maps = ("indexing_maps = [affine_map<(m, n, k) -> (m, k)>, "
                "affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>] ")
    return f"""func.func @main(%a: {a}, %b: {b}) -> {c} {{
  %zero = arith.constant 0 : i32
  %e = tensor.empty() : {c}
  %i = linalg.fill ins(%zero : i32) outs(%e : {c}) -> {c}
  %r = linalg.matmul {maps}ins(%a, %b : {a}, {b}) outs(%i : {c}) -> {c}
  return %r : {c}
}}
"""


# --------------------------------------------------------------------------
# Building one case
# --------------------------------------------------------------------------

DRIVER_C = r"""/* NAME_driver.c: generated by quant_opt.gpu_check; do not edit.
 * NAME_driver DATA_DIR OUT_DIR [REPEAT]: reads DATA_DIR/inputI.bin, calls
 * NAME_run once and writes OUT_DIR/outputI.bin; with REPEAT > 0 it then
 * times REPEAT calls (wall clock, then kernel time from the runtime's
 * timing events) and prints one TIME line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "NAME.h"

double qnnCudaKernelSeconds(long *launches);
void qnnCudaProfile(int enable);

static void *load(const char *dir, const char *what, int index, size_t bytes) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s%d.bin", dir, what, index);
  void *data = malloc(bytes ? bytes : 1);
  FILE *f = fopen(path, "rb");
  if (!data || !f || fread(data, 1, bytes, f) != bytes) {
    fprintf(stderr, "NAME_driver: cannot read %zu bytes from %s\n", bytes, path);
    exit(3);
  }
  fclose(f);
  return data;
}

static void save(const char *dir, int index, const void *data, size_t bytes) {
  char path[4096];
  snprintf(path, sizeof path, "%s/output%d.bin", dir, index);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, 1, bytes, f) != bytes) {
    fprintf(stderr, "NAME_driver: cannot write %s\n", path);
    exit(4);
  }
  fclose(f);
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s DATA_DIR OUT_DIR [REPEAT]\n", argv[0]);
    return 2;
  }
  long repeat = argc > 3 ? atol(argv[3]) : 0;
LOADS
  NAME_run(ARGS);
SAVES
  if (repeat > 0) {
    double start = now();
    for (long r = 0; r < repeat; ++r)
      NAME_run(ARGS);
    double wall = (now() - start) / repeat;
    qnnCudaKernelSeconds(NULL);
    qnnCudaProfile(1);
    for (long r = 0; r < repeat; ++r)
      NAME_run(ARGS);
    long launches = 0;
    double kernel = qnnCudaKernelSeconds(&launches) / repeat;
    printf("TIME NAME wall_ms=%.4f kernel_ms=%.4f launches_per_call=%.1f\n", wall * 1e3,
           kernel * 1e3, (double)launches / repeat);
  }
  return 0;
}
"""


def generate_driver(name: str, signature: aot.Signature) -> str:
    loads, saves, args = [], [], []
    for i, b in enumerate(signature.inputs):
        loads.append(f"  {b.ctype} *input{i} = load(argv[1], \"input\", {i}, "
                     f"(size_t){b.elements} * sizeof({b.ctype}));")
        args.append(f"input{i}")
    for i, b in enumerate(signature.outputs):
        loads.append(f"  {b.ctype} *output{i} = calloc((size_t){b.elements} + 1, "
                     f"sizeof({b.ctype}));")
        saves.append(f"  save(argv[2], {i}, output{i}, (size_t){b.elements} * sizeof({b.ctype}));")
        args.append(f"output{i}")
    return (DRIVER_C.replace("LOADS", "\n".join(loads)).replace("SAVES", "\n".join(saves))
            .replace("ARGS", ", ".join(args)).replace("NAME", name))


def _buffers(signature: aot.Signature):
    return ([{"shape": b.shape, "dtype": NPY_DTYPES[b.element]} for b in signature.inputs],
            [{"shape": b.shape, "dtype": NPY_DTYPES[b.element]} for b in signature.outputs])


def _write_arrays(case_dir: Path, prefix: str, arrays) -> None:
    for i, array in enumerate(arrays):
        array = np.ascontiguousarray(array)
        np.save(case_dir / f"{prefix}{i}.npy", array)
        (case_dir / f"{prefix}{i}.bin").write_bytes(array.tobytes())


def _cpu_outputs(module: Path, inputs, work: Path, count: int):
    """The CPU program's results (quant-run --pipeline=reference: the same
    integers as qnn-cpu-pipeline's code, and float arithmetic as the GPU
    kernels do it, multiplies and adds without FMA; the vectorized code's
    float contractions use FMA and differ in the last bits, which a float
    layer before a requantization, as the transformer's attention, could
    turn into a one-step mismatch)."""
    cmd = [find_tool("quant-run"), module, "-f", "main", "--pipeline=reference"]
    for i, array in enumerate(inputs):
        np.save(work / f"cpu_in{i}.npy", array)
        cmd += ["-i", work / f"cpu_in{i}.npy"]
    for i in range(count):
        cmd += ["-o", work / f"cpu_out{i}.npy"]
    _run(cmd, f"quant-run {module.name}")
    return [np.load(work / f"cpu_out{i}.npy") for i in range(count)]


def _quantize(float_text: str, calibration, work: Path) -> str:
    """qnn-insert-observers, quant-run --calibrate, qnn-quantize-pipeline:
    the demo's flow (scripts/demo.sh) with the tools."""
    quant_opt = find_tool("quant-opt")
    (work / "float.mlir").write_text(float_text)
    instrumented = _run([quant_opt, work / "float.mlir", "--qnn-insert-observers"],
                        "qnn-insert-observers")
    (work / "instrumented.mlir").write_text(instrumented)
    cmd = [find_tool("quant-run"), work / "instrumented.mlir", "-f", "main"]
    for i, data in enumerate(calibration):
        np.save(work / f"calibration{i}.npy", data)
        cmd += ["-i", work / f"calibration{i}.npy"]
    _run(cmd + ["--calibrate", work / "stats.json"], "calibration (quant-run --calibrate)")
    return _run([quant_opt, work / "float.mlir",
                 f"--qnn-quantize-pipeline=statistics={work / 'stats.json'}"],
                "qnn-quantize-pipeline")


def _build_gpu_object(module: Path, case_dir: Path, name: str, chip: str, cpu: str,
                      upstream: bool = False,
                      gpu_options: str = "") -> tuple[aot.Signature | None, str | None]:
    """quant-aot --device=cuda; (signature, None) or (None, why not)."""
    try:
        written = aot.compile_module(module, case_dir, name, "main", cpu=cpu, device="cuda",
                                     chip=chip, upstream_gpu_pipeline=upstream,
                                     gpu_pipeline_options=gpu_options)
    except (aot.AotError, ToolNotFoundError) as error:
        return None, str(error)
    return written["signature"], None


def _case(out: Path, name: str, kind: str, module_text: str, inputs, chip: str, cpu: str,
          cpu_module_text: str | None = None, upstream: bool = False,
          store_expected: bool = True, gpu_options: str = "") -> dict:
    """One case: the GPU object, the driver, inputs and the CPU outputs."""
    case_dir = out / "cases" / name
    case_dir.mkdir(parents=True)
    module = case_dir / f"{name}.mlir"
    module.write_text(module_text)
    started = time.time()
    signature, reason = _build_gpu_object(module, case_dir, name, chip, cpu, upstream,
                                          gpu_options)
    entry = {"name": name, "kind": kind, "gpu_object": signature is not None,
             "compile_seconds": round(time.time() - started, 2)}
    if signature is None:
        entry["skip_reason"] = reason
        # The signature still describes the buffers.
        signature = aot.prepare_module(_run([find_tool("quant-opt"), module], "reading"),
                                       "main", name)
    else:
        (case_dir / f"{name}_driver.c").write_text(generate_driver(name, signature))
    entry["inputs"], entry["outputs"] = _buffers(signature)
    if inputs is not None:
        _write_arrays(case_dir, "input", inputs)
    if store_expected:
        with tempfile.TemporaryDirectory() as work:
            cpu_module = module
            if cpu_module_text is not None:
                cpu_module = Path(work) / "cpu.mlir"
                cpu_module.write_text(cpu_module_text)
            expected = _cpu_outputs(cpu_module, inputs, Path(work), len(signature.outputs))
        for i, (array, spec) in enumerate(zip(expected, entry["outputs"])):
            if list(array.shape) != spec["shape"] or array.dtype.str != spec["dtype"]:
                raise CheckError(f"{name}: the CPU program's output #{i} is {array.dtype.str} "
                                 f"{list(array.shape)}, the object's {spec['dtype']} {spec['shape']}")
        _write_arrays(case_dir, "expected", expected)
    return entry


def prepare(out: Path, chip: str = "sm_90", cpu: str = "x86-64-v3", quick: bool = False,
            log=print) -> dict:
    """Writes the bundle into `out` (replacing it); returns the manifest."""
    import onnx

    from .onnx_import import import_model

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    pipeline = aot.gpu_pipeline(chip)
    own_pipeline = "qnn-gpu-pipeline" in pipeline
    manifest = {"chip": chip, "host_cpu": cpu, "gpu_pipeline": pipeline,
                "qnn_gpu_pipeline": own_pipeline, "cases": []}
    git = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True)
    manifest["commit"] = git.stdout.strip() or "unknown"
    log(f"GPU pipeline: {pipeline}")

    # Runtime smoke: always built with upstream's pipeline.
    for name, spec in SMOKE.items():
        rng = np.random.default_rng(5)
        if spec["dtype"] == np.int8:
            x = rng.integers(-128, 128, SMOKE_N, dtype=np.int8)
        else:
            x = (rng.standard_normal(SMOKE_N) * 4).astype(np.float32)
        entry = _case(out, name, "smoke", _smoke_gpu(spec["element"], spec["body"]), [x], chip, cpu,
                      cpu_module_text=_smoke_cpu(spec["element"], spec["body"]), upstream=True)
        manifest["cases"].append(entry)
        log(f"{name}: {'object' if entry['gpu_object'] else 'skipped: ' + entry['skip_reason']}")

    layers = _layer_models()
    if quick:
        layers = {k: layers[k] for k in ("matmul",)}
    for name, (model, shapes) in layers.items():
        rng = np.random.default_rng(7)
        with tempfile.TemporaryDirectory() as work:
            float_text = import_model(model, shapes[0][0])
            calibration = [rng.standard_normal([64 * s[0]] + s[1:]).astype(np.float32)
                           for s in shapes]
            quantized = _quantize(float_text, calibration, Path(work))
        inputs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        entry = _case(out, f"layer_{name}", "layer", quantized, inputs, chip, cpu)
        manifest["cases"].append(entry)
        log(f"layer_{name}: "
            f"{'object' if entry['gpu_object'] else 'skipped: ' + entry['skip_reason']}")

    from . import datasets
    try:
        images, _ = datasets.load("fashion-mnist", "test")
        calibration_images, _ = datasets.load("fashion-mnist", "calibration")
        source = "Fashion-MNIST test images"
    except Exception as error:  # the Debian data set is not installed
        rng = np.random.default_rng(9)
        images = rng.random((MODEL_BATCH, 1, 28, 28), dtype=np.float32)
        calibration_images = rng.random((256, 1, 28, 28), dtype=np.float32)
        source = f"random images ({error})"
    (out / "models").mkdir()
    for model_name in (MODELS[:1] if quick else MODELS):
        path = ROOT / "models" / model_name / "model.onnx"
        shutil.copy(path, out / "models" / f"{model_name}.onnx")
        with tempfile.TemporaryDirectory() as work:
            float_text = import_model(onnx.load(str(path)), MODEL_BATCH)
            quantized = _quantize(float_text, [calibration_images[:256]], Path(work))
        name = "model_" + model_name.replace("-", "_")
        entry = _case(out, name, "model", quantized,
                      [np.ascontiguousarray(images[:MODEL_BATCH], dtype=np.float32)], chip, cpu)
        entry["onnx"] = f"models/{model_name}.onnx"
        entry["input_source"] = source
        manifest["cases"].append(entry)
        log(f"{name}: {'object' if entry['gpu_object'] else 'skipped: ' + entry['skip_reason']}")

    # GEMM for timing: operands are made on the device (not carried), the
    # result checked there against torch._int_mm.
    for n, (layout_suffix, b_layout), (suffix, tiles) in itertools.product(
            GEMM_SIZES, GEMM_B_LAYOUTS.items(), GEMM_TILINGS.items()):
        name = f"gemm_{n}{layout_suffix}{suffix}"
        if suffix in GEMM_TILINGS_NK_ONLY and b_layout != "nk":
            continue
        if not own_pipeline:
            manifest["cases"].append({
                "name": name, "kind": "gemm", "gpu_object": False, "size": n, "b_layout": b_layout,
                "skip_reason": "needs qnn-gpu-pipeline (upstream's pipeline maps no linalg.matmul "
                               "to kernels)"})
            log(f"{name}: skipped (needs qnn-gpu-pipeline)")
            continue
        entry = _case(out, name, "gemm", _gemm_module(n, b_layout), None, chip, cpu,
                      store_expected=False, gpu_options=tiles)
        entry["size"] = n
        entry["b_layout"] = b_layout
        entry["tiles"] = tiles or "default (tile-m=64 tile-n=64 tile-k=32 warps-m=2 warps-n=2)"
        manifest["cases"].append(entry)
        log(f"{name}: {'object' if entry['gpu_object'] else 'skipped: ' + entry['skip_reason']}")

    runtime = out / "runtime"
    (runtime / "include" / "quant-opt" / "Runtime").mkdir(parents=True)
    shutil.copy(ROOT / aot.CUDA_RUNTIME_SOURCE, runtime / "CudaRuntime.cpp")
    shutil.copy(ROOT / "include" / "quant-opt" / "Runtime" / "CudaRuntime.h",
                runtime / "include" / "quant-opt" / "Runtime" / "CudaRuntime.h")
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    manifest["bundle_bytes"] = size
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    if size > BUNDLE_LIMIT:
        raise CheckError(f"the bundle is {size / 2**20:.1f} MiB, over the {BUNDLE_LIMIT >> 20} MiB "
                         "this check allows itself of a device call's 64 MiB")
    built = sum(c["gpu_object"] for c in manifest["cases"])
    log(f"bundle {out}: {size / 2**20:.2f} MiB, {len(manifest['cases'])} cases, {built} with a "
        "GPU object")
    return manifest


def _mismatches(expected: np.ndarray, got: np.ndarray) -> int:
    """Elements that differ bit for bit (floats by their bits, as the device
    check compares them); every element if type or shape differ."""
    if expected.dtype != got.dtype or expected.shape != got.shape:
        return int(expected.size)
    bits = np.dtype(f"u{expected.dtype.itemsize}")
    return int(np.count_nonzero(expected.view(bits) != got.view(bits)))


def emulate(out: Path, log=print) -> dict:
    """Runs every case of the bundle in `out` that carries CPU outputs on the
    GPU emulator here (quant-run --device=cuda-emulator: the same pipeline
    with the kernels as LLVM bitcode, run on this CPU; docs/GPU.md) and
    compares every output element with the CPU's, bit for bit. Returns
    {case: {"elements": n, "mismatches": m}}; a case the emulator cannot run
    gets "error" instead."""
    manifest = json.loads((out / "manifest.json").read_text())
    results = {}
    for case in manifest["cases"]:
        name = case["name"]
        case_dir = out / "cases" / name
        if not (case_dir / "expected0.npy").is_file():
            continue
        cmd = [find_tool("quant-run"), case_dir / f"{name}.mlir", "-f", "main",
               "--device=cuda-emulator", "--gpu-chip", manifest["chip"]]
        if case["kind"] == "smoke":
            cmd.append("--upstream-gpu-pipeline")
        for i in range(len(case["inputs"])):
            cmd += ["-i", case_dir / f"input{i}.npy"]
        with tempfile.TemporaryDirectory() as work:
            for i in range(len(case["outputs"])):
                cmd += ["-o", Path(work) / f"out{i}.npy"]
            started = time.time()
            run = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
            if run.returncode != 0:
                lines = [l for l in run.stderr.splitlines() if "error" in l or "emulator" in l]
                results[name] = {"error": (lines or ["quant-run failed"])[-1]}
                log(f"{name}: emulator failed: {results[name]['error']}")
                continue
            elements = mismatches = 0
            for i in range(len(case["outputs"])):
                expected = np.load(case_dir / f"expected{i}.npy")
                got = np.load(Path(work) / f"out{i}.npy")
                elements += expected.size
                mismatches += _mismatches(expected, got)
        results[name] = {"elements": elements, "mismatches": mismatches,
                         "seconds": round(time.time() - started, 2)}
        log(f"{name}: {elements} elements, {mismatches} mismatches "
            f"({results[name]['seconds']} s on the emulator)")
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="gpu-device-check/prepare",
        description="Prepare the GPU device check's bundle (GPU objects, inputs, CPU outputs, "
                    "the runtime's source) for scripts/gpu-device-check/run-on-device.sh.")
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUT,
                        help=f"bundle directory (default {DEFAULT_OUT.relative_to(ROOT)}; "
                             "replaced)")
    parser.add_argument("--chip", choices=aot.CUDA_CHIPS, default="sm_90",
                        help="GPU architecture (default sm_90: the H200)")
    parser.add_argument("--cpu", default="x86-64-v3",
                        help="CPU of the host code (default x86-64-v3: runs on any AVX2 server)")
    parser.add_argument("--quick", action="store_true",
                        help="one layer and one model only (tests)")
    parser.add_argument("--emulate", action="store_true",
                        help="then run every case with CPU outputs on the GPU emulator here "
                             "(quant-run --device=cuda-emulator) and compare bit for bit; "
                             "exit status 1 on any mismatch")
    args = parser.parse_args(argv)
    try:
        prepare(args.output, args.chip, args.cpu, args.quick)
        if args.emulate:
            results = emulate(args.output)
            bad = [n for n, r in results.items() if r.get("mismatches", 1) != 0]
            print(f"GPU emulator: {len(results) - len(bad)} of {len(results)} cases bit-exact"
                  + (f"; not: {', '.join(bad)}" if bad else ""))
            if bad:
                return 1
    except (CheckError, aot.AotError, ToolNotFoundError) as error:
        print(f"prepare: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
