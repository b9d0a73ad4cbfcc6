"""Differential test of the fused integer contractions.

Generates random float layers (matmul, matmul with transposed weights
``[N, K]`` (``matmul_bt``), batch_matmul, the three convolutions, depthwise
in NCHW (``depthwise_nchw``), with or without bias, with ReLU, ReLU6, a
clamp or nothing; residual adds, products of two activations, average
poolings, scalings by a constant), calibrates them on random data,
quantizes them with ``qnn-insert-qdq`` (several weight settings), fuses them with ``qnn-fuse-quantized-ops``, lowers and runs both
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
import math
import os
import re
import sys
from dataclasses import dataclass

import numpy as np

from quant_opt import reference as ref
from quant_opt.execution import add_arguments, lower_and_run, run_command

_WEIGHT_OPTIONS = [
    "",  # per channel, symmetric, i8<-127:127>
    "weight-granularity=per_tensor",
    "weight-symmetric=false",
    "weight-bits=4 weight-granularity=per_group",  # group size chosen per layer
    "activation-signed=true activation-symmetric=true",
    "weight-signed=false weight-symmetric=false weight-narrow-range=false",
]


def _reduction_size(layer) -> int | None:
    """The size of the weights' reduction axis (None for depthwise)."""
    axis = {"matmul": 0, "matmul_bt": 1, "batch_matmul": 1, "nhwc": 2, "nchw": 1}.get(layer.kind)
    return None if axis is None else layer.w.shape[axis]


def _group_size(layer) -> int:
    """A block size for per-group weights: the smallest divisor above 1 of
    the reduction size, so that there are several groups when possible."""
    k = _reduction_size(layer) or 1
    return next((d for d in range(2, k) if k % d == 0), k)


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
        return {"matmul": 1, "matmul_bt": 1, "batch_matmul": 2, "nhwc": 3, "nchw": 1,
                "depthwise": 3, "depthwise_nchw": 1}[self.kind]


def _conv_out(size, k, stride):
    return (size - k) // stride + 1


def _einsum(subscripts: str, a: np.ndarray, b: np.ndarray, k: int) -> np.ndarray:
    """np.einsum of two operands whose result sums `k` products. Integers
    go through float64 and BLAS where every such sum is exact in float64
    (its bound below 2**53): the same integers, without numpy's slow
    integer loops."""
    if np.issubdtype(a.dtype, np.integer):
        bound = int(np.abs(a).max(initial=0)) * int(np.abs(b).max(initial=0)) * k
        if bound < 2**53:
            return np.einsum(subscripts, a.astype(np.float64), b.astype(np.float64),
                             optimize=True).astype(a.dtype)
    return np.einsum(subscripts, a, b)


def _reduction(layer: Layer, x: np.ndarray, w: np.ndarray) -> int:
    """How many products each output element of forward() sums."""
    if layer.kind in ("matmul", "matmul_bt", "batch_matmul"):
        return x.shape[-1]
    if layer.kind == "nchw":
        return w.shape[1] * w.shape[2] * w.shape[3]
    if layer.kind == "nhwc":
        return w.shape[0] * w.shape[1] * w.shape[2]
    if layer.kind == "depthwise_nchw":
        return w.shape[1] * w.shape[2]
    return w.shape[0] * w.shape[1]


def forward(layer: Layer, x: np.ndarray, w: np.ndarray, dtype) -> np.ndarray:
    """The contraction in `dtype` (float64 for the float model, int64 for the
    integer reference), before bias and activation. Integers go through
    float64 and BLAS where every output's sum, and so each partial sum, is
    exact in float64 (its bound below 2**53): the same integers, without
    numpy's slow integer loops; through float32 where the bound is below
    2**24 (int8 layers of up to ~500 terms), twice as fast."""
    x = x.astype(dtype)
    w = w.astype(dtype)
    if np.issubdtype(dtype, np.integer):
        bound = int(np.abs(x).max(initial=0)) * int(np.abs(w).max(initial=0)) * _reduction(layer, x, w)
        if bound < 2**53:
            exact_type = np.float32 if bound < 2**24 else np.float64
            xf, wf = x.astype(exact_type), w.astype(exact_type)
            if layer.kind == "nhwc":
                exact = _conv_im2col(xf, wf, layer.strides)
            elif layer.kind == "nchw":
                exact = _conv_im2col(xf.transpose(0, 2, 3, 1), wf.transpose(2, 3, 1, 0),
                                     layer.strides).transpose(0, 3, 1, 2)
            else:
                exact = _forward(layer, xf, wf,
                                 lambda subscripts, a, b, k: np.einsum(subscripts, a, b, optimize=True))
            return exact.astype(dtype)
    return _forward(layer, x, w, _einsum)


def _conv_im2col(x: np.ndarray, w: np.ndarray, s: int) -> np.ndarray:
    """A convolution, x [N,H,W,C] and w [KH,KW,C,F] to [N,OH,OW,F], as one
    product of each output's window with the weights (samples in chunks of
    at most 2**20 window elements, 8 MiB: reused memory, not fresh pages)."""
    kh, kw, c, _ = w.shape
    oh, ow = _conv_out(x.shape[1], kh, s), _conv_out(x.shape[2], kw, s)
    # [N, OH, OW, C, KH, KW]
    windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))[:, : s * oh : s, : s * ow : s]
    chunk = max(1, (1 << 20) // max(1, oh * ow * c * kh * kw))
    parts = [np.tensordot(windows[i : i + chunk], w, axes=([4, 5, 3], [0, 1, 2]))
             for i in range(0, len(x), chunk)]
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _forward(layer: Layer, x: np.ndarray, w: np.ndarray, einsum) -> np.ndarray:
    dtype = x.dtype
    s = layer.strides
    if layer.kind == "matmul":
        return x @ w
    if layer.kind == "matmul_bt":  # w [N, K]
        return x @ w.T
    if layer.kind == "batch_matmul":
        return einsum("bmk,bkn->bmn", x, w, x.shape[2])
    if layer.kind == "nhwc":  # x [N,H,W,C], w [KH,KW,C,F]
        kh, kw = w.shape[:2]
        oh, ow = _conv_out(x.shape[1], kh, s), _conv_out(x.shape[2], kw, s)
        out = np.zeros((x.shape[0], oh, ow, w.shape[3]), dtype)
        for i in range(kh):
            for j in range(kw):
                patch = x[:, i : i + s * oh : s, j : j + s * ow : s, :]
                out += einsum("nhwc,cf->nhwf", patch, w[i, j], w.shape[2])
        return out
    if layer.kind == "nchw":  # x [N,C,H,W], w [F,C,KH,KW]
        kh, kw = w.shape[2:]
        oh, ow = _conv_out(x.shape[2], kh, s), _conv_out(x.shape[3], kw, s)
        out = np.zeros((x.shape[0], w.shape[0], oh, ow), dtype)
        for i in range(kh):
            for j in range(kw):
                patch = x[:, :, i : i + s * oh : s, j : j + s * ow : s]
                out += einsum("nchw,fc->nfhw", patch, w[:, :, i, j], w.shape[1])
        return out
    if layer.kind == "depthwise_nchw":  # x [N,C,H,W], w [C,KH,KW]
        kh, kw = w.shape[1:]
        oh, ow = _conv_out(x.shape[2], kh, s), _conv_out(x.shape[3], kw, s)
        out = np.zeros((x.shape[0], w.shape[0], oh, ow), dtype)
        for i in range(kh):
            for j in range(kw):
                out += x[:, :, i : i + s * oh : s, j : j + s * ow : s] * w[:, i, j][None, :, None, None]
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
    kind = str(rng.choice(["matmul", "matmul_bt", "batch_matmul", "nhwc", "nchw", "depthwise",
                           "depthwise_nchw"]))
    strides = int(rng.choice([1, 2])) if kind in ("nhwc", "nchw", "depthwise", "depthwise_nchw") else 1
    r = lambda lo, hi: int(rng.integers(lo, hi + 1))
    if kind == "matmul":
        x_shape, w_shape = (r(1, 5), r(1, 40)), None
        w_shape = (x_shape[1], r(1, 9))
    elif kind == "matmul_bt":
        x_shape = (r(1, 5), r(1, 40))
        w_shape = (r(1, 9), x_shape[1])
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
    elif kind == "depthwise_nchw":
        k = r(1, 3)
        x_shape = (r(1, 2), r(1, 6), r(k, 7), r(k, 7))
        w_shape = (x_shape[1], k, k)
    else:
        k = r(1, 3)
        x_shape = (r(1, 2), r(k, 7), r(k, 7), r(1, 6))
        w_shape = (k, k, x_shape[3])
    w = rng.normal(0, 0.5, size=w_shape).astype(np.float32)
    channel_axis = {"matmul": 1, "matmul_bt": 0, "batch_matmul": 2, "nhwc": 3, "nchw": 0,
                    "depthwise": 2, "depthwise_nchw": 0}[kind]
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
    op = {"matmul": "linalg.matmul",
          "matmul_bt": "linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, "
                       "affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]",
          "batch_matmul": "linalg.batch_matmul",
          "nhwc": f"linalg.conv_2d_nhwc_hwcf {conv_attrs}",
          "nchw": f"linalg.conv_2d_nchw_fchw {conv_attrs}",
          "depthwise": f"linalg.depthwise_conv_2d_nhwc_hwc {conv_attrs}",
          "depthwise_nchw": f"linalg.depthwise_conv_2d_nchw_chw {conv_attrs}"}[layer.kind]
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
    activation_lines, last = _activation_body(layer.activation, rank, last, yt)
    lines += activation_lines
    lines += [f"  return {last} : {yt}", "}"]
    return "\n".join(lines) + "\n"


def _harness(inputs: list[np.ndarray], y_shape) -> str:
    """@main: calls @model on constant inputs and prints the output's bits."""
    types = [_tensor(x.shape) for x in inputs]
    yt = _tensor(y_shape)
    consts = "".join(f"  %x{i} = arith.constant {_dense(x)} : {t}\n"
                     for i, (x, t) in enumerate(zip(inputs, types)))
    args = ", ".join(f"%x{i}" for i in range(len(inputs)))
    return (
        "func.func @main() {\n" + consts +
        f"  %y = call @model({args}) : ({', '.join(types)}) -> {yt}\n"
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


def _execute(args, module_text: str) -> np.ndarray:
    out = lower_and_run(args, module_text)
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

    return contraction_reference(layer, ref.quantize(x, x_type), x_type, w_stored, w_type, y_type,
                                 _bounds(layer.activation)), y_type


def contraction_reference(layer: Layer, xq, x_type, w_stored, w_type, y_type, bounds) -> np.ndarray:
    """The stored output of a fused contraction by docs/Semantics.md: stored
    input `xq`, stored weights `w_stored` (float `layer.w` only gives the
    layout), the float bias `layer.bias`, and an activation clamping to
    `bounds` = (lo, hi or None), or None."""
    axis = {"matmul": 1, "matmul_bt": 0, "batch_matmul": 2, "nhwc": 3, "nchw": 0,
            "depthwise": 2, "depthwise_nchw": 0}[layer.kind]
    channels = layer.w.shape[axis]
    sx, zx, sy = float(x_type.scales), int(x_type.zero_points), float(y_type.scales)
    clamp = clamp_for_bounds(bounds, y_type)

    if w_type.kind == "sub_channel":
        # Per-group weights: per group G and channel c, a partial sum of
        # (x - z_x)(w - z_w) and M = s_x s_w / s_y at the channel's shift.
        scales, zps = ref._element_params(w_type, layer.w.shape)
        scales = np.broadcast_to(scales, layer.w.shape)
        w_shifted = w_stored - np.broadcast_to(zps, layer.w.shape)
        r_axis = {"matmul": 0, "matmul_bt": 1, "batch_matmul": 1, "nhwc": 2, "nchw": 1}[layer.kind]
        g = w_type.block_sizes.get(r_axis, layer.w.shape[r_axis])
        groups = layer.w.shape[r_axis] // g
        def take(a, group):
            index = [slice(None)] * a.ndim
            index[r_axis] = slice(group * g, (group + 1) * g)
            masked = np.zeros_like(a)
            masked[tuple(index)] = a[tuple(index)]
            return masked, a[tuple(index)]
        multipliers = np.zeros((groups, channels), dtype=object)
        shifts = []
        for c in range(channels):
            m_real = []
            for group in range(groups):
                _, block = take(scales, group)
                s_gc = float(np.take(block, c, axis=axis).reshape(-1)[0])
                m_real.append((sx * s_gc) / sy)
            n = ref.quantize_multiplier(max(m_real))[1]
            shifts.append(n)
            for group in range(groups):
                multipliers[group, c] = round(math.ldexp(m_real[group], n))
        acc = None
        for group in range(groups):
            w_group, _ = take(w_shifted, group)
            partial = forward(layer, xq - zx, w_group, np.int64)
            shape = [1] * partial.ndim
            shape[layer.channel_axis] = channels
            term = partial.astype(object) * multipliers[group].reshape(shape)
            acc = term if acc is None else acc + term
        shape = [1] * acc.ndim
        shape[layer.channel_axis] = channels
        if layer.bias is not None:
            beta = np.array([round(math.ldexp(float(b) / sy, n))
                             for b, n in zip(layer.bias, shifts)], dtype=object)
            acc = acc + beta.reshape(shape)
        n_b = np.broadcast_to(np.array(shifts, dtype=np.int64).reshape(shape), acc.shape)
        rounded = ref._round_quotient(acc.astype(np.int64), n_b, "half_to_even")
        lo, hi = clamp if clamp else (y_type.qmin, y_type.qmax)
        lo, hi = max(lo, y_type.qmin), min(hi, y_type.qmax)
        return np.clip(rounded + int(y_type.zero_points), lo, hi).astype(np.int64)

    scales = np.broadcast_to(w_type.scales, (channels,)) if w_type.axis is None else w_type.scales
    zps = np.broadcast_to(w_type.zero_points, (channels,)) if w_type.axis is None else w_type.zero_points
    shape = [1] * layer.w.ndim
    shape[axis] = channels
    w_shifted = w_stored - zps.reshape(shape)
    acc = forward(layer, xq - zx, w_shifted, np.int64)
    out_shape = [1] * acc.ndim
    out_shape[layer.channel_axis] = channels
    if layer.bias is not None:
        bq = np.array([np.rint(float(b) / (sx * float(s))) for b, s in zip(layer.bias, scales)])
        acc = acc + bq.astype(np.int64).reshape(out_shape)
    pairs = [ref.quantize_multiplier((sx * float(s)) / sy) for s in scales]
    return ref.rescale(acc, [m for m, _ in pairs], [n for _, n in pairs], y_type,
                       axis=layer.channel_axis, clamp=clamp)


def _activation_body(activation: str, rank: int, source: str, yt: str) -> tuple[list[str], str]:
    """Lines applying `activation` to `source` (or none), and the result."""
    bounds = _bounds(activation)
    if not bounds:
        return [], source
    ident = "(" + ", ".join(f"d{i}" for i in range(rank)) + ")"
    iterators = ", ".join(['"parallel"'] * rank)
    lo, hi = bounds
    body = [f"    %lo = arith.constant {lo!r} : f32", "    %m = arith.maximumf %a, %lo : f32"]
    result = "%m"
    if hi is not None:
        body += [f"    %hi = arith.constant {hi!r} : f32", "    %n = arith.minimumf %m, %hi : f32"]
        result = "%n"
    return [
        f"  %r = linalg.generic {{indexing_maps = [affine_map<{ident} -> {ident}>, "
        f"affine_map<{ident} -> {ident}>], iterator_types = [{iterators}]}} "
        f"ins({source} : {yt}) outs(%e : {yt}) {{",
        "  ^bb0(%a: f32, %o: f32):",
        *body,
        f"    linalg.yield {result} : f32",
        f'  }} -> {yt} loc("act")',
    ], "%r"


def _clamp_for(activation, y_type):
    return clamp_for_bounds(_bounds(activation), y_type)


def clamp_for_bounds(bounds, y_type):
    """The stored clamp [lo, hi] of float activation bounds (lo, hi or None):
    each bound quantized to the result's type."""
    if not bounds:
        return None
    lo = int(ref.quantize(np.array([bounds[0]], np.float32), y_type)[0])
    hi = y_type.qmax if bounds[1] is None else int(
        ref.quantize(np.array([bounds[1]], np.float32), y_type)[0])
    return (lo, hi)


def _add_case(rng, multiply=False):
    """A residual add (or a product) of two activations with their own scales."""
    shape = tuple(int(d) for d in rng.integers(1, 6, size=int(rng.integers(1, 4))))
    activation = str(rng.choice(["none", "relu", "clamp"]))
    yt = _tensor(shape)
    lines = [f'func.func @model(%x: {yt} loc("input"), %z: {yt} loc("input2")) -> {yt} {{',
             f"  %e = tensor.empty() : {yt}",
             f'  %s = linalg.{"mul" if multiply else "add"} ins(%x, %z : {yt}, {yt}) '
             f'outs(%e : {yt}) -> {yt} loc("sum")']
    act, last = _activation_body(activation, len(shape), "%s", yt)
    model = "\n".join(lines + act + [f"  return {last} : {yt}", "}"]) + "\n"
    a = rng.normal(0, float(10 ** rng.uniform(-1, 1)), size=(4,) + shape).astype(np.float32)
    b = rng.normal(0, float(10 ** rng.uniform(-1, 1)), size=(4,) + shape).astype(np.float32)
    y = a.astype(np.float64) * b if multiply else a.astype(np.float64) + b
    bounds = _bounds(activation)
    if bounds:
        y = np.maximum(y, bounds[0]) if bounds[1] is None else np.clip(y, *bounds)
    last_id = "act" if bounds else "sum"
    stats = {"input": a, "input2": b, last_id: y}

    def reference(inputs, qdq_text):
        quantizes = _QUANTIZE.findall(qdq_text)
        ta, tb, ty = (ref.parse_quant_type(t) for t in quantizes)
        aq, bq = ref.quantize(inputs[0], ta), ref.quantize(inputs[1], tb)
        clamp = _clamp_for(activation, ty)
        if multiply:
            m, n = ref.quantize_multiplier(
                (float(ta.scales) * float(tb.scales)) / float(ty.scales))
            product = (aq - int(ta.zero_points)) * (bq - int(tb.zero_points))
            return ref.rescale(product, [m], [n], ty, clamp=clamp), ty
        ma, mb, n = ref.add_parameters(float(ta.scales), float(tb.scales), float(ty.scales))
        return ref.add(aq, ta, bq, tb, (ma, mb), n, ty, clamp=clamp), ty

    kind = "mul" if multiply else "add"
    return kind, model, stats, [a[0] * 1.1, b[0] * 0.9], shape, reference


def _scale_case(rng):
    """An activation multiplied or divided by a positive scalar constant
    (attention's 1/sqrt(d)), with or without an activation after it; the
    output's range is sometimes exactly the input's times the factor (the
    rescale is then the identity and fusion drops it)."""
    shape = tuple(int(d) for d in rng.integers(1, 6, size=int(rng.integers(1, 4))))
    activation = str(rng.choice(["none", "relu", "clamp"]))
    divide = rng.random() < 0.5
    constant = float(np.float32(10 ** rng.uniform(-1.5, 1.0)))
    factor = 1.0 / constant if divide else constant
    yt = _tensor(shape)
    ident = "(" + ", ".join(f"d{i}" for i in range(len(shape))) + ")"
    iterators = ", ".join(['"parallel"'] * len(shape))
    lines = [f'func.func @model(%x: {yt} loc("input")) -> {yt} {{',
             f"  %e = tensor.empty() : {yt}",
             f"  %s = linalg.generic {{indexing_maps = [affine_map<{ident} -> {ident}>, "
             f"affine_map<{ident} -> {ident}>], iterator_types = [{iterators}]}} "
             f"ins(%x : {yt}) outs(%e : {yt}) {{",
             "  ^bb0(%a: f32, %o: f32):",
             f"    %c = arith.constant {constant!r} : f32",
             f"    %d = arith.{'divf' if divide else 'mulf'} %a, %c : f32",
             "    linalg.yield %d : f32",
             f'  }} -> {yt} loc("scale")']
    act, last = _activation_body(activation, len(shape), "%s", yt)
    model = "\n".join(lines + act + [f"  return {last} : {yt}", "}"]) + "\n"
    a = rng.normal(0.2, float(10 ** rng.uniform(-1, 1)), size=(4,) + shape).astype(np.float32)
    y = a.astype(np.float64) * factor * (1.0 if rng.random() < 0.5 else 1.37)
    bounds = _bounds(activation)
    if bounds:
        y = np.maximum(y, bounds[0]) if bounds[1] is None else np.clip(y, *bounds)
    stats = {"input": a, "act" if bounds else "scale": y}

    def reference(inputs, qdq_text):
        quantizes = _QUANTIZE.findall(qdq_text)
        ta, ty = ref.parse_quant_type(quantizes[0]), ref.parse_quant_type(quantizes[-1])
        aq = ref.quantize(inputs[0], ta)
        m, n = ref.quantize_multiplier((float(ta.scales) * factor) / float(ty.scales))
        return ref.rescale(aq - int(ta.zero_points), [m], [n], ty,
                           clamp=_clamp_for(activation, ty)), ty

    return "scale", model, stats, [a[0] * 1.1], shape, reference


def _avgpool_case(rng):
    """An average pooling: a sum pooling divided by (or times 1/) its size,
    in NHWC or NCHW (`linalg.pooling_nchw_sum`, computed here in NHWC)."""
    k = int(rng.integers(1, 4))
    stride = int(rng.integers(1, 3))
    x_shape = (int(rng.integers(1, 3)), int(rng.integers(k, 8)), int(rng.integers(k, 8)),
               int(rng.integers(1, 5)))
    oh, ow = _conv_out(x_shape[1], k, stride), _conv_out(x_shape[2], k, stride)
    y_shape = (x_shape[0], oh, ow, x_shape[3])
    nchw = rng.random() < 0.5
    # The model's layout: NCHW moves the channels to axis 1.
    layout = (lambda a: np.moveaxis(a, -1, -3)) if nchw else (lambda a: a)
    shape = (lambda t: (t[0], t[3], t[1], t[2])) if nchw else (lambda t: t)
    xt, yt = _tensor(shape(x_shape)), _tensor(shape(y_shape))
    count = k * k
    divide = rng.random() < 0.5
    factor = float(np.float32(1.0 / count))
    op = "arith.divf %a, %c : f32" if divide else "arith.mulf %a, %c : f32"
    constant = f"{float(count)!r}" if divide else f"{factor!r}"
    model = "\n".join([
        f'func.func @model(%x: {xt} loc("input")) -> {yt} {{',
        "  %zero = arith.constant 0.0 : f32",
        f"  %w = tensor.empty() : tensor<{k}x{k}xf32>",
        f"  %e = tensor.empty() : {yt}",
        f"  %i = linalg.fill ins(%zero : f32) outs(%e : {yt}) -> {yt}",
        f"  %s = linalg.pooling_{'nchw' if nchw else 'nhwc'}_sum {{dilations = dense<1> : tensor<2xi64>, strides = dense<{stride}> : tensor<2xi64>}}"
        f" ins(%x, %w : {xt}, tensor<{k}x{k}xf32>) outs(%i : {yt}) -> {yt}",
        "  %p = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, "
        "affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = "
        '["parallel", "parallel", "parallel", "parallel"]} '
        f"ins(%s : {yt}) outs(%e : {yt}) {{",
        "  ^bb0(%a: f32, %o: f32):",
        f"    %c = arith.constant {constant} : f32",
        f"    %d = {op}",
        "    linalg.yield %d : f32",
        f'  }} -> {yt} loc("avgpool")',
        f"  return %p : {yt}",
        "}",
    ]) + "\n"
    x = rng.normal(0.2, 1.0, size=(4,) + x_shape).astype(np.float32)
    stats = {"input": layout(x), "avgpool": layout(np.stack([
        _pool_mean(c, k, stride) for c in x.astype(np.float64)]))}

    def reference(inputs, qdq_text):
        quantizes = _QUANTIZE.findall(qdq_text)
        tx, ty = ref.parse_quant_type(quantizes[0]), ref.parse_quant_type(quantizes[-1])
        xq = ref.quantize(inputs[0], tx)
        if nchw:
            xq = np.moveaxis(xq, -3, -1)
        kwargs = {"divisor": float(count), "factor": None} if divide else {"divisor": None, "factor": factor}
        return layout(ref.average_pool_nhwc(xq, tx, (k, k), (stride, stride), out_type=ty, **kwargs)), ty

    kind = "avgpool_nchw" if nchw else "avgpool"
    return kind, model, stats, [layout(x[0])], shape(y_shape), reference


def _pool_mean(x, k, stride):
    oh, ow = _conv_out(x.shape[1], k, stride), _conv_out(x.shape[2], k, stride)
    out = np.zeros((x.shape[0], oh, ow, x.shape[3]))
    for i in range(k):
        for j in range(k):
            out += x[:, i : i + stride * oh : stride, j : j + stride * ow : stride, :]
    return out / (k * k)


def _check_case(args, k, kind, model, arrays, inputs, y_shape, reference, options=""):
    """Quantizes, fuses and runs one model; returns (elements, bad, steps)."""
    stats = {"format": "quant-opt-calibration-statistics", "version": 1, "tensors": {
        name: {"min": float(v.min()), "max": float(v.max()), "count": int(v.size)}
        for name, v in arrays.items()}}
    stats_path = os.path.join(args.work_dir, f"stats{k}.json")
    with open(stats_path, "w") as f:
        json.dump(stats, f)
    model_path = os.path.join(args.work_dir, f"model{k}.mlir")
    with open(model_path, "w") as f:
        f.write(model)
    qdq = run_command([args.quant_opt, model_path, "--qnn-insert-observers",
                f"--qnn-insert-qdq=statistics={stats_path} {options}",
                "--mlir-print-elementsattrs-with-hex-if-larger=-1"])
    fused = run_command([args.quant_opt, "--qnn-fuse-quantized-ops", "--canonicalize"], qdq)
    if re.search(r"linalg\.(matmul|batch_matmul|conv|depthwise|pooling_nhwc_sum|add |mul )"
                 r"|arith\.(mulf|divf)", fused):
        print(f"NOT FUSED case{k} {kind} [{options}]")
        return 0, 1, 0
    harness = _harness(inputs, y_shape)
    got = _execute(args, _module_body(fused) + harness)
    simulated = _execute(args, _module_body(qdq) + harness)
    want_q, y_type = reference(inputs, qdq)
    want = ref.dequantize(want_q, y_type).reshape(-1)
    got_bits, want_bits = ref.to_bits(got), ref.to_bits(want.astype(np.float32))
    bad = 0
    if not np.array_equal(got_bits, want_bits):
        bad = 1
        diff = np.nonzero(got_bits != want_bits)[0]
        print(f"MISMATCH case{k} {kind} [{options}]: {diff.size} elements, e.g. "
              f"{got[diff[0]]} vs {want[diff[0]]}")
    steps = int(np.max(np.rint(np.abs(got - simulated) / float(y_type.scales))))
    return want.size, bad, steps


def check(args) -> int:
    rng = np.random.default_rng(args.seed)
    os.makedirs(args.work_dir, exist_ok=True)
    bad_cases = total = max_float_steps = 0
    for k in range(args.cases):
        choice = k % 6
        if choice == 5:
            kind, model, arrays, inputs, y_shape, reference = _scale_case(rng)
            options = ""
        elif choice == 2:
            kind, model, arrays, inputs, y_shape, reference = _add_case(rng)
            options = ""
        elif choice == 4:
            kind, model, arrays, inputs, y_shape, reference = _add_case(rng, multiply=True)
            options = ""
        elif choice == 3:
            kind, model, arrays, inputs, y_shape, reference = _avgpool_case(rng)
            options = ""
        else:
            layer = _random_layer(rng)
            calibration = rng.normal(0.3, 1.0, size=(4,) + layer.x_shape).astype(np.float32)
            outputs = np.stack([_float_model(layer, c) for c in calibration])
            y_shape = outputs.shape[1:]
            last_id = "act" if layer.activation != "none" else (
                "bias" if layer.bias is not None else "layer")
            arrays = {"input": calibration, last_id: outputs}
            kind = layer.kind
            model = _model_mlir(layer, y_shape)
            inputs = [rng.normal(0.3, 1.2, size=layer.x_shape).astype(np.float32)]
            options = _WEIGHT_OPTIONS[(k // 5) % len(_WEIGHT_OPTIONS)]
            if "per_group" in options:
                options += f" weight-group-size={_group_size(layer)}"
            reference = (lambda layer: lambda xs, qdq: _reference(layer, xs[0], qdq, None))(layer)
        elements, bad, steps = _check_case(args, k, kind, model, arrays, inputs, y_shape,
                                           reference, options)
        total += elements
        bad_cases += bad
        max_float_steps = max(max_float_steps, steps)
    print(f"fused: checked {args.cases} layers, {total} elements: {bad_cases} mismatching layers")
    print(f"fused vs float QDQ simulation: at most {max_float_steps} quantization steps apart")
    return 1 if bad_cases else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--cases", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    return check(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
