"""Differential test of the fused integer contractions.

Generates random float layers (matmul, batch_matmul, the three convolutions,
with or without bias, with ReLU, ReLU6, a clamp or nothing), calibrates them
on random data, quantizes them with ``qnn-insert-qdq`` (several weight
settings), fuses them with ``qnn-fuse-quantized-ops``, lowers and runs both
the fused integer program and the unfused float QDQ program with
``mlir-runner`` on random inputs, and compares:

- the fused program, bit for bit, with the integer reference of
  docs/Semantics.md ("Fused integer contractions"), computed here with NumPy
  from the quantized types in the IR and :mod:`quant_opt.reference`;
- the fused program with the float QDQ program, in quantization steps (they
  may differ by a step where the float simulation rounds differently).

Exits with status 1 and lists the cases if any element of the fused program
differs from the reference.

Usage::

    python -m quant_opt.fusion_check --quant-opt build/bin/quant-opt \\
        --mlir-runner /usr/lib/llvm-22/bin/mlir-runner \\
        --shared-libs LIB1,LIB2 --work-dir /tmp/fusion --cases 20 --seed 1
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass

import numpy as np

from quant_opt import reference as ref

_WEIGHT_OPTIONS = [
    "",  # per channel, symmetric, i8<-127:127>
    "weight-granularity=per_tensor",
    "weight-symmetric=false",
    "weight-bits=4",
    "activation-signed=true activation-symmetric=true",
]


@dataclass
class Layer:
    kind: str
    x_shape: tuple
    w: np.ndarray
    bias: np.ndarray | None
    activation: str  # none, relu, relu6, clamp
    strides: int

    @property
    def channel_axis(self) -> int:  # of the result
        return {"matmul": 1, "batch_matmul": 2, "nhwc": 3, "nchw": 1, "depthwise": 3}[self.kind]


def _conv_out(size, k, stride):
    return (size - k) // stride + 1


def forward(layer: Layer, x: np.ndarray, w: np.ndarray, dtype) -> np.ndarray:
    """The contraction in `dtype` (float64 for the float model, int64 for the
    integer reference), before bias and activation."""
    x = x.astype(dtype)
    w = w.astype(dtype)
    s = layer.strides
    if layer.kind == "matmul":
        return x @ w
    if layer.kind == "batch_matmul":
        return np.einsum("bmk,bkn->bmn", x, w)
    if layer.kind == "nhwc":  # x [N,H,W,C], w [KH,KW,C,F]
        kh, kw = w.shape[:2]
        oh, ow = _conv_out(x.shape[1], kh, s), _conv_out(x.shape[2], kw, s)
        out = np.zeros((x.shape[0], oh, ow, w.shape[3]), dtype)
        for i in range(kh):
            for j in range(kw):
                patch = x[:, i : i + s * oh : s, j : j + s * ow : s, :]
                out += np.einsum("nhwc,cf->nhwf", patch, w[i, j])
        return out
    if layer.kind == "nchw":  # x [N,C,H,W], w [F,C,KH,KW]
        kh, kw = w.shape[2:]
        oh, ow = _conv_out(x.shape[2], kh, s), _conv_out(x.shape[3], kw, s)
        out = np.zeros((x.shape[0], w.shape[0], oh, ow), dtype)
        for i in range(kh):
            for j in range(kw):
                patch = x[:, :, i : i + s * oh : s, j : j + s * ow : s]
                out += np.einsum("nchw,fc->nfhw", patch, w[:, :, i, j])
        return out
    # depthwise: x [N,H,W,C], w [KH,KW,C]
    kh, kw = w.shape[:2]
    oh, ow = _conv_out(x.shape[1], kh, s), _conv_out(x.shape[2], kw, s)
    out = np.zeros((x.shape[0], oh, ow, w.shape[2]), dtype)
    for i in range(kh):
        for j in range(kw):
            out += x[:, i : i + s * oh : s, j : j + s * ow : s, :] * w[i, j]
    return out


def _bounds(activation):
    return {"none": None, "relu": (0.0, None), "relu6": (0.0, 6.0), "clamp": (-1.5, 2.5)}[activation]


def _float_model(layer: Layer, x):
    y = forward(layer, x, layer.w, np.float64)
    if layer.bias is not None:
        shape = [1] * y.ndim
        shape[layer.channel_axis] = -1
        y = y + layer.bias.astype(np.float64).reshape(shape)
    b = _bounds(layer.activation)
    if b:
        y = np.maximum(y, b[0]) if b[1] is None else np.clip(y, b[0], b[1])
    return y


def _random_layer(rng) -> Layer:
    kind = str(rng.choice(["matmul", "batch_matmul", "nhwc", "nchw", "depthwise"]))
    strides = int(rng.choice([1, 2])) if kind in ("nhwc", "nchw", "depthwise") else 1
    r = lambda lo, hi: int(rng.integers(lo, hi + 1))
    if kind == "matmul":
        x_shape, w_shape = (r(1, 5), r(1, 40)), None
        w_shape = (x_shape[1], r(1, 9))
    elif kind == "batch_matmul":
        x_shape = (r(1, 3), r(1, 5), r(1, 30))
        w_shape = (x_shape[0], x_shape[2], r(1, 7))
    elif kind == "nhwc":
        k = r(1, 3)
        x_shape = (r(1, 2), r(k, 7), r(k, 7), r(1, 5))
        w_shape = (k, k, x_shape[3], r(1, 6))
    elif kind == "nchw":
        k = r(1, 3)
        x_shape = (r(1, 2), r(1, 5), r(k, 7), r(k, 7))
        w_shape = (r(1, 6), x_shape[1], k, k)
    else:
        k = r(1, 3)
        x_shape = (r(1, 2), r(k, 7), r(k, 7), r(1, 6))
        w_shape = (k, k, x_shape[3])
    w = rng.normal(0, 0.5, size=w_shape).astype(np.float32)
    channel_axis = {"matmul": 1, "batch_matmul": 2, "nhwc": 3, "nchw": 0, "depthwise": 2}[kind]
    channels = w_shape[channel_axis]
    bias = rng.normal(0, 0.5, size=channels).astype(np.float32) if rng.random() < 0.7 else None
    activation = str(rng.choice(["none", "relu", "relu6", "clamp"]))
    return Layer(kind, x_shape, w, bias, activation, strides)


def _tensor(shape, element="f32"):
    return "tensor<" + "".join(f"{d}x" for d in shape) + element + ">"


def _dense(values: np.ndarray) -> str:
    return 'dense<"0x' + values.astype("<f4").tobytes().hex().upper() + '">'


def _model_mlir(layer: Layer, y_shape) -> str:
    xt, wt, yt = _tensor(layer.x_shape), _tensor(layer.w.shape), _tensor(y_shape)
    rank = len(y_shape)
    ident = "(" + ", ".join(f"d{i}" for i in range(rank)) + ")"
    iterators = ", ".join(['"parallel"'] * rank)
    conv_attrs = (f"{{dilations = dense<1> : tensor<2xi64>, strides = dense<{layer.strides}>"
                  " : tensor<2xi64>}")
    op = {"matmul": "linalg.matmul", "batch_matmul": "linalg.batch_matmul",
          "nhwc": f"linalg.conv_2d_nhwc_hwcf {conv_attrs}",
          "nchw": f"linalg.conv_2d_nchw_fchw {conv_attrs}",
          "depthwise": f"linalg.depthwise_conv_2d_nhwc_hwc {conv_attrs}"}[layer.kind]
    lines = [
        f'func.func @model(%x: {xt} loc("input")) -> {yt} {{',
        f"  %w = arith.constant {_dense(layer.w)} : {wt}",
        "  %zero = arith.constant 0.0 : f32",
        f"  %e = tensor.empty() : {yt}",
        f"  %i = linalg.fill ins(%zero : f32) outs(%e : {yt}) -> {yt}",
        f'  %y = {op} ins(%x, %w : {xt}, {wt}) outs(%i : {yt}) -> {yt} loc("layer")',
    ]
    last = "%y"
    if layer.bias is not None:
        bt = _tensor(layer.bias.shape)
        c = layer.channel_axis
        lines += [
            f"  %b = arith.constant {_dense(layer.bias)} : {bt}",
            f"  %yb = linalg.generic {{indexing_maps = [affine_map<{ident} -> {ident}>, "
            f"affine_map<{ident} -> (d{c})>, affine_map<{ident} -> {ident}>], "
            f"iterator_types = [{iterators}]}} "
            f"ins(%y, %b : {yt}, {bt}) outs(%e : {yt}) {{",
            "  ^bb0(%a: f32, %bb: f32, %o: f32):",
            "    %s = arith.addf %a, %bb : f32",
            "    linalg.yield %s : f32",
            f'  }} -> {yt} loc("bias")',
        ]
        last = "%yb"
    bounds = _bounds(layer.activation)
    if bounds:
        lo, hi = bounds
        body = [f"    %lo = arith.constant {lo!r} : f32", "    %m = arith.maximumf %a, %lo : f32"]
        result = "%m"
        if hi is not None:
            body += [f"    %hi = arith.constant {hi!r} : f32", "    %n = arith.minimumf %m, %hi : f32"]
            result = "%n"
        lines += [
            f"  %r = linalg.generic {{indexing_maps = [affine_map<{ident} -> {ident}>, "
            f"affine_map<{ident} -> {ident}>], iterator_types = [{iterators}]}} "
            f"ins({last} : {yt}) outs(%e : {yt}) {{",
            "  ^bb0(%a: f32, %o: f32):",
            *body,
            f"    linalg.yield {result} : f32",
            f'  }} -> {yt} loc("act")',
        ]
        last = "%r"
    lines += [f"  return {last} : {yt}", "}"]
    return "\n".join(lines) + "\n"


def _harness(x: np.ndarray, layer: Layer, y_shape) -> str:
    xt, yt = _tensor(layer.x_shape), _tensor(y_shape)
    return (
        "func.func @main() {\n"
        f"  %x = arith.constant {_dense(x)} : {xt}\n"
        f"  %y = call @model(%x) : ({xt}) -> {yt}\n"
        f"  %b = arith.bitcast %y : {yt} to {_tensor(y_shape, 'i32')}\n"
        f"  %u = tensor.cast %b : {_tensor(y_shape, 'i32')} to tensor<*xi32>\n"
        "  call @printMemrefI32(%u) : (tensor<*xi32>) -> ()\n"
        "  return\n}\n"
        "func.func private @printMemrefI32(tensor<*xi32>) attributes { llvm.emit_c_interface }\n"
    )


def _module_body(text: str) -> str:
    """The ops of a printed module, so that more functions can follow."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("module"))
    end = max(i for i, line in enumerate(lines) if line.strip() == "}")
    return "\n".join(lines[:start] + lines[start + 1 : end]) + "\n"


def _run(cmd, stdin=None):
    result = subprocess.run(cmd, input=stdin, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stderr}")
    return result.stdout


def _execute(args, module_text: str) -> np.ndarray:
    lowered = _run([args.quant_opt, "--qnn-reference-cpu-pipeline"], module_text)
    out = _run([args.mlir_runner, "-e", "main", "-entry-point-result=void",
                f"-shared-libs={args.shared_libs}"], lowered)
    data = out.split("data =", 1)[1]
    bits = np.array([int(v) for v in re.findall(r"-?\d+", data)], dtype=np.int64)
    return bits.astype(np.int32).view(np.float32)


_QUANTIZE = re.compile(r"qnn\.quantize %\S+ (?:rounding<\w+> )?: tensor<[^!]*?x?f32> -> tensor<[0-9x]*(!quant\.uniform<[^>]*>)>")
_CONSTANT = re.compile(r"qnn\.constant dense<(.*?)> : tensor<[0-9x]*(?:i|ui)\d+> -> tensor<[0-9x]*(!quant\.uniform<.*?>)>\n")


def _reference(layer: Layer, x, qdq_text: str, y_shape) -> tuple[np.ndarray, ref.QuantType]:
    """The fused program's output by docs/Semantics.md, from the QDQ types."""
    quantizes = _QUANTIZE.findall(qdq_text)
    x_type = ref.parse_quant_type(quantizes[0])
    y_type = ref.parse_quant_type(quantizes[-1])
    literal, w_text = _CONSTANT.search(qdq_text).groups()
    w_type = ref.parse_quant_type(w_text, shape=layer.w.shape)
    w_stored = np.array([int(v) for v in re.findall(r"-?\d+", literal)], dtype=np.int64)
    w_stored = np.broadcast_to(w_stored, layer.w.shape) if w_stored.size == 1 else w_stored.reshape(layer.w.shape)

    axis = {"matmul": 1, "batch_matmul": 2, "nhwc": 3, "nchw": 0, "depthwise": 2}[layer.kind]
    channels = layer.w.shape[axis]
    scales = np.broadcast_to(w_type.scales, (channels,)) if w_type.axis is None else w_type.scales
    zps = np.broadcast_to(w_type.zero_points, (channels,)) if w_type.axis is None else w_type.zero_points
    shape = [1] * layer.w.ndim
    shape[axis] = channels
    w_shifted = w_stored - zps.reshape(shape)

    xq = ref.quantize(x, x_type)
    sx, zx = float(x_type.scales), int(x_type.zero_points)
    acc = forward(layer, xq - zx, w_shifted, np.int64)
    out_shape = [1] * acc.ndim
    out_shape[layer.channel_axis] = channels
    if layer.bias is not None:
        bq = np.array([np.rint(float(b) / (sx * float(s))) for b, s in zip(layer.bias, scales)])
        acc = acc + bq.astype(np.int64).reshape(out_shape)
    pairs = [ref.quantize_multiplier((sx * float(s)) / float(y_type.scales)) for s in scales]
    bounds = _bounds(layer.activation)
    clamp = None
    if bounds:
        lo = int(ref.quantize(np.array([bounds[0]], np.float32), y_type)[0])
        hi = y_type.qmax if bounds[1] is None else int(ref.quantize(np.array([bounds[1]], np.float32), y_type)[0])
        clamp = (lo, hi)
    yq = ref.rescale(acc, [m for m, _ in pairs], [n for _, n in pairs], y_type,
                     axis=layer.channel_axis, clamp=clamp)
    return yq, y_type


def check(args) -> int:
    rng = np.random.default_rng(args.seed)
    os.makedirs(args.work_dir, exist_ok=True)
    bad_cases = 0
    total = 0
    max_float_steps = 0
    for k in range(args.cases):
        layer = _random_layer(rng)
        calibration = rng.normal(0.3, 1.0, size=(4,) + layer.x_shape).astype(np.float32)
        outputs = np.stack([_float_model(layer, c) for c in calibration])
        y_shape = outputs.shape[1:]
        stats = {"format": "quant-opt-calibration-statistics", "version": 1, "tensors": {
            "input": {"min": float(calibration.min()), "max": float(calibration.max()), "count": int(calibration.size)},
            "layer": {"min": float(outputs.min()), "max": float(outputs.max()), "count": int(outputs.size)},
        }}
        last_id = "act" if layer.activation != "none" else ("bias" if layer.bias is not None else "layer")
        stats["tensors"][last_id] = stats["tensors"]["layer"]
        stats_path = os.path.join(args.work_dir, f"stats{k}.json")
        with open(stats_path, "w") as f:
            json.dump(stats, f)
        model = _model_mlir(layer, y_shape)
        model_path = os.path.join(args.work_dir, f"model{k}.mlir")
        with open(model_path, "w") as f:
            f.write(model)
        options = _WEIGHT_OPTIONS[k % len(_WEIGHT_OPTIONS)]
        qdq = _run([args.quant_opt, model_path, "--qnn-insert-observers",
                    f"--qnn-insert-qdq=statistics={stats_path} {options}",
                    "--mlir-print-elementsattrs-with-hex-if-larger=-1"])
        fused = _run([args.quant_opt, "--qnn-fuse-quantized-ops", "--canonicalize"], qdq)
        if re.search(r"linalg\.(matmul|batch_matmul|conv|depthwise)", fused):
            print(f"NOT FUSED case{k} {layer.kind} [{options}]")
            bad_cases += 1
            continue
        x = rng.normal(0.3, 1.2, size=layer.x_shape).astype(np.float32)
        harness = _harness(x, layer, y_shape)
        got = _execute(args, _module_body(fused) + harness)
        simulated = _execute(args, _module_body(qdq) + harness)
        want_q, y_type = _reference(layer, x, qdq, y_shape)
        want = ref.dequantize(want_q, y_type).reshape(-1)
        total += want.size
        got_bits, want_bits = ref.to_bits(got), ref.to_bits(want.astype(np.float32))
        if not np.array_equal(got_bits, want_bits):
            bad_cases += 1
            diff = np.nonzero(got_bits != want_bits)[0]
            print(f"MISMATCH case{k} {layer.kind} bias={layer.bias is not None} "
                  f"{layer.activation} [{options}]: {diff.size} elements, e.g. "
                  f"{got[diff[0]]} vs {want[diff[0]]}")
        step = float(y_type.scales)
        max_float_steps = max(max_float_steps, int(np.max(np.rint(np.abs(got - simulated) / step))))
    print(f"fused: checked {args.cases} layers, {total} elements: {bad_cases} mismatching layers")
    print(f"fused vs float QDQ simulation: at most {max_float_steps} quantization steps apart")
    return 1 if bad_cases else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quant-opt", required=True)
    parser.add_argument("--mlir-runner", required=True)
    parser.add_argument("--shared-libs", required=True)
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--cases", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    return check(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
