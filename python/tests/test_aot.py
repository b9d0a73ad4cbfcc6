"""Tests of quant_opt.aot (scripts/quant-aot): the bundled fashion-cnn,
float and quantized, compiled ahead of time, linked into a C program with
cc and run; its outputs must equal the JIT's (native.compile, the same
pipeline for the same CPU) bit for bit."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from quant_opt import aot, native

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "fashion-cnn" / "model.onnx"
BATCH = 4

pytestmark = pytest.mark.skipif(
    not native.available() or shutil.which("cc") is None
    or not (aot.LLVM_BIN / "llc").exists(),
    reason="needs the quant-opt Python extension, cc and LLVM 22's llc")

DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>
#include "NAME.h"

/* NAME_driver INPUT OUTPUT BATCHES: runs NAME_run on each batch of the
   raw float32 INPUT, writes the raw float32 outputs. */
int main(int argc, char **argv) {
  if (argc != 4) return 2;
  long batches = atol(argv[3]);
  size_t in = PREFIX_INPUT0_ELEMENTS, out = PREFIX_OUTPUT0_ELEMENTS;
  float *x = malloc(in * sizeof(float) * batches), *y = malloc(out * sizeof(float) * batches);
  float *copy = malloc(in * sizeof(float) * batches);
  FILE *f = fopen(argv[1], "rb");
  if (!f || fread(x, sizeof(float), in * batches, f) != in * batches) return 3;
  fclose(f);
  for (size_t i = 0; i < in * batches; ++i) copy[i] = x[i];
  /* The second batch after NAME_release: the buffers kept from the first
     call freed, new ones allocated. */
  for (long b = 0; b < batches; ++b) {
    if (b == 1) NAME_release();
    NAME_run(x + b * in, y + b * out);
  }
  for (size_t i = 0; i < in * batches; ++i)
    if (copy[i] != x[i]) { fprintf(stderr, "input %zu was written\n", i); return 4; }
  f = fopen(argv[2], "wb");
  if (!f || fwrite(y, sizeof(float), out * batches, f) != out * batches) return 5;
  fclose(f);
  return 0;
}
"""


@pytest.fixture(scope="module")
def modules(tmp_path_factory):
    """The float fashion-cnn at batch 4 and its quantized version (W8A8,
    calibrated in process on seeded random images)."""
    import onnx

    from quant_opt.onnx_import import import_model
    work = tmp_path_factory.mktemp("aot-modules")
    float_text = import_model(onnx.load(str(MODEL)), BATCH)
    calibration = np.random.default_rng(1).random((64, 1, 28, 28), dtype=np.float32)
    quantized_text = native.quantize_onnx(MODEL, calibration, batch=BATCH)
    paths = {"float": work / "fashion_float.mlir", "quantized": work / "fashion_quantized.mlir"}
    paths["float"].write_text(float_text)
    paths["quantized"].write_text(quantized_text)
    return paths


def _build_and_run(module: Path, work: Path, name: str, x: np.ndarray, extra=(),
                   shared=False) -> np.ndarray:
    out = work / "out"
    assert aot.main([str(module), "-o", str(out), "--name", name, *extra]
                    + (["--shared"] if shared else [])) == 0
    header = (out / f"{name}.h").read_text()
    assert f"void _mlir_ciface_{name}(" in header
    assert f"void {name}_release(void);" in header
    # The buffer allocator is linked in and local: the program links only
    # the C library (malloc and free, and the memset and memcpy opt makes
    # of loops).
    listed = re.search(r"undefined symbols \(nm -u\): (.*)\.", header).group(1).split(", ")
    assert {"free", "malloc"} <= set(listed) <= {"free", "malloc", "memset", "memcpy"}, listed
    driver = work / "driver.c"
    driver.write_text(DRIVER.replace("NAME", name).replace("PREFIX", name.upper()))
    exe = work / "driver"
    link = ([str(out / f"{name}.o")] if not shared
            else [f"-L{out}", f"-l{name}", f"-Wl,-rpath,{out}"])
    subprocess.run(["cc", "-O2", "-std=c11", "-Wall", "-Werror", f"-I{out}", str(driver),
                    *link, "-o", str(exe)], check=True)
    (work / "x.bin").write_bytes(np.ascontiguousarray(x, dtype=np.float32).tobytes())
    batches = len(x) // BATCH
    subprocess.run([str(exe), str(work / "x.bin"), str(work / "y.bin"), str(batches)], check=True)
    return np.frombuffer((work / "y.bin").read_bytes(), dtype=np.float32).reshape(len(x), -1)


@pytest.mark.parametrize("kind", ["float", "quantized"])
def test_object_equals_jit_bit_for_bit(modules, tmp_path, kind):
    x = np.random.default_rng(2).random((4 * BATCH, 1, 28, 28), dtype=np.float32)
    y = _build_and_run(modules[kind], tmp_path, f"fashion_{kind}", x)
    jit, = native.compile(modules[kind].read_text()).run_dataset([x])
    assert y.shape == jit.shape and np.ptp(y) > 0
    assert np.array_equal(y.view(np.uint32), np.ascontiguousarray(jit).view(np.uint32))


def test_shared_library_for_another_cpu(modules, tmp_path):
    """--cpu x86-64-v3 --shared: a library for AVX2-only machines (this one
    runs it too), equal to the JIT's code for the same CPU."""
    x = np.random.default_rng(3).random((2 * BATCH, 1, 28, 28), dtype=np.float32)
    y = _build_and_run(modules["quantized"], tmp_path, "fashion_v3", x,
                       extra=["--cpu", "x86-64-v3"], shared=True)
    assert "CPU 'x86-64-v3'" in (tmp_path / "out" / "fashion_v3.h").read_text()
    jit, = native.compile(modules["quantized"].read_text(), cpu="x86-64-v3").run_dataset([x])
    assert np.array_equal(y.view(np.uint32), np.ascontiguousarray(jit).view(np.uint32))


def _cli(*args):
    return subprocess.run([str(ROOT / "scripts" / "quant-aot"), *map(str, args)],
                          capture_output=True, text=True)


def test_missing_module_is_one_line_error(tmp_path):
    result = _cli(tmp_path / "nothing.mlir", "-o", tmp_path / "out")
    assert result.returncode == 1
    assert result.stderr.startswith("quant-aot: error: cannot read the module")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_bad_module_is_one_line_error(tmp_path):
    bad = tmp_path / "bad.mlir"
    bad.write_text("func.func @main(%a: tensor<4xf32>) -> tensor<4xf32> { return %b }\n")
    result = _cli(bad, "-o", tmp_path / "out")
    assert result.returncode == 1
    assert result.stderr.startswith("quant-aot: error: reading ")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_missing_function_is_one_line_error(modules, tmp_path):
    result = _cli(modules["float"], "-o", tmp_path / "out", "--function", "forward")
    assert result.returncode == 1
    assert result.stderr.strip() == ("quant-aot: error: no function @forward in the module "
                                     "(functions: @main)")


def test_signature_of_quantized_and_multiple_buffers():
    """Quantized arguments are passed as their storage type; results after
    inputs; attributes kept and extended."""
    text = ("func.func @f(%a: tensor<2x3x!quant.uniform<i8:f32, 0.5:-1>> {foo.bar}, "
            "%b: memref<5xui8>) -> (tensor<2xi32>, tensor<f32>) attributes {x.y} {\n"
            "  return\n}\n")
    signature = aot.prepare_module(text, "f", "net")
    assert [(b.shape, b.ctype) for b in signature.inputs] == [([2, 3], "int8_t"), ([5], "uint8_t")]
    assert [(b.shape, b.ctype) for b in signature.outputs] == [([2], "int32_t"), ([], "float")]
    assert "func.func @net(%a: tensor<2x3x!quant.uniform<i8:f32, 0.5:-1>> " \
           "{foo.bar, bufferization.writable = false}" in signature.text
    assert "attributes {llvm.emit_c_interface, x.y}" in signature.text
    header = aot.generate_header("net", signature, "x86-64-v3", "", ["free", "malloc"], False,
                                 False)
    assert ("void _mlir_ciface_net(net_memref_i8_2d *input0, net_memref_ui8_1d *input1, "
            "net_memref_i32_1d *output0, net_memref_f32_0d *output1);") in header
    assert "typedef struct { float *allocated; float *aligned; int64_t offset; } " \
           "net_memref_f32_0d;" in header


def test_dynamic_shape_is_rejected():
    with pytest.raises(aot.AotError, match="only static shapes"):
        aot.prepare_module("func.func @main(%a: tensor<?x4xf32>) { return }", "main", "m")


def test_shared_library_named_like_a_system_one_is_refused(tmp_path):
    """--name m --shared would write libm.so, which -lm finds as the C math
    library (and the header said "-lm with libm.so")."""
    module = tmp_path / "model.mlir"
    module.write_text("func.func @main(%a: tensor<4xf32>) -> tensor<4xf32> { return %a : tensor<4xf32> }")
    with pytest.raises(aot.AotError, match=r"--name m with --shared would write libm.so, which -lm"):
        aot.compile_module(module, tmp_path / "out", "m", shared=True)


def test_memref_copy_runtime(tmp_path):
    """The generated memrefCopy copies a strided 2-D view like MLIR's."""
    source = tmp_path / "copy.c"
    source.write_text(aot.MEMREF_COPY_C + r"""
#include <stdio.h>
typedef struct { float *a, *b; int64_t off, sizes[2], strides[2]; } d2;
int main(void) {
  float src[12], dst[6] = {0};
  for (int i = 0; i < 12; ++i) src[i] = (float)i;
  /* src: rows 0-1 of a 3x4 array, columns 1-3 (offset 1, strides 4, 1) */
  d2 s = {src, src, 1, {2, 3}, {4, 1}}, d = {dst, dst, 0, {2, 3}, {3, 1}};
  quant_opt_unranked_memref us = {2, &s}, ud = {2, &d};
  memrefCopy(sizeof(float), &us, &ud);
  for (int i = 0; i < 6; ++i) printf("%g ", dst[i]);
  return 0;
}
""")
    subprocess.run(["cc", "-std=c11", str(source), "-o", str(tmp_path / "copy")], check=True)
    out = subprocess.run([str(tmp_path / "copy")], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "2", "3", "5", "6", "7"]


def test_kept_blocks(tmp_path):
    """The allocator quant-aot links into objects: a freed block of 64 KiB or
    more comes back for the same size (from the same thread only), other
    sizes and small blocks are new; blocks are aligned like malloc's, hold
    what is written, and NAME_release frees the thread's kept blocks."""
    source = tmp_path / "blocks.c"
    source.write_text(aot.KEPT_BLOCKS_C.replace("NAME", "m") + r"""
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
static void *big;
static void *other_thread(void *unused) {
  (void)unused;
  void *p = m_block_alloc(100000);  /* not the main thread's kept block */
  int fresh = p != big;
  m_block_free(p);
  m_release();
  return (void *)(intptr_t)fresh;
}
int main(void) {
  big = m_block_alloc(100000);
  void *small = m_block_alloc(1000);
  if (!big || !small || (uintptr_t)big % _Alignof(max_align_t) || (uintptr_t)small % 16) return 1;
  memset(big, 7, 100000);
  m_block_free(big);
  m_block_free(small);
  pthread_t thread;
  void *fresh;
  if (pthread_create(&thread, NULL, other_thread, NULL) || pthread_join(thread, &fresh)) return 2;
  if (!fresh) return 3;
  void *other_size = m_block_alloc(200000);
  if (other_size == big) return 4;
  void *again = m_block_alloc(100000);
  if (again != big) return 5;
  m_block_free(again);
  m_block_free(other_size);
  m_release();
  void *after_release = m_block_alloc(100000);
  m_block_free(after_release);
  m_release();
  puts("ok");
  return 0;
}
""")
    exe = tmp_path / "blocks"
    subprocess.run(["cc", "-std=c11", "-O2", "-Wall", "-Werror", str(source), "-o", str(exe),
                    "-lpthread"], check=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.returncode


def test_missing_build_is_one_line_error(modules, tmp_path):
    import os
    result = subprocess.run([str(ROOT / "scripts" / "quant-aot"), str(modules["float"]), "-o",
                             str(tmp_path / "out")], capture_output=True, text=True,
                            env={**os.environ, "QUANT_OPT_BUILD_DIR": str(tmp_path / "no-build")})
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("quant-aot: error: 'quant-opt' is not built")
