"""Runs a 2-D NCHW convolution with a constant filter (conv_2d_nchw_fchw, or
depthwise_conv_2d_nchw_chw) or max pooling (pooling_nchw_max) through
quant-run's qnn-cpu-pipeline, which turns it into an NHWC micro-kernel (the
pooling into NHWC loops) between transposes
(qnn-convolutions-to-nhwc), on random data, and compares it bit for bit
with the sum computed here with NumPy in int64 (i8 x i8 -> i32) or float64
(f32 holding small integers, so that every partial sum is exact in f32 and
the order of the sums does not matter).

Usage: nchw_conv_vs_reference.py QUANT_RUN WORK_DIR KIND TYPE N H W C F KH KW STRIDE [quant-run args]
KIND: regular, depthwise or maxpool (F is then C); TYPE: i8 or f32 (maxpool:
the input's type, else the operands'; i8 operands accumulate in i32).
"""

import subprocess
import sys

import numpy as np

quant_run, work, kind, dtype = sys.argv[1:5]
n, h, w, c, f, kh, kw, s = map(int, sys.argv[5:13])
if kind in ("depthwise", "maxpool"):
    f = c
oh, ow = (h - kh) // s + 1, (w - kw) // s + 1
rng = np.random.default_rng(n + h * w + c * f + kh * kw + s)
lo, hi = (-128, 128) if dtype == "i8" else (-8, 9)
x = rng.integers(lo, hi, (n, c, h, w))
k_shape = {"depthwise": (c, kh, kw), "maxpool": (kh, kw)}.get(kind, (f, c, kh, kw))
k = rng.integers(lo, hi, k_shape)

element, acc = ("i8", "i32") if dtype == "i8" else ("f32", "f32")
zero = "0 : i32" if dtype == "i8" else "0.0 : f32"
if kind == "maxpool":
    acc = element
    zero = "-128 : i8" if dtype == "i8" else "-3.4e38 : f32"
tensor = lambda shape, e: "tensor<" + "x".join(map(str, shape)) + f"x{e}>"
xt, kt, yt = tensor(x.shape, element), tensor(k_shape, element), tensor((n, f, oh, ow), acc)
values = ", ".join(str(int(v)) if dtype == "i8" else f"{float(v)!r}" for v in k.reshape(-1))
op = {"depthwise": "linalg.depthwise_conv_2d_nchw_chw", "maxpool": "linalg.pooling_nchw_max"}.get(
    kind, "linalg.conv_2d_nchw_fchw")
window = (f"  %kr = tensor.empty() : {kt}" if kind == "maxpool" else
          f"  %k = arith.constant dense<[{values}]> : {tensor((k.size,), element)}\n"
          f"  %kr = tensor.expand_shape %k [[{', '.join(str(i) for i in range(len(k_shape)))}]] "
          f"output_shape {list(k_shape)} : {tensor((k.size,), element)} into {kt}")
module = f"""
func.func @conv(%x: {xt}) -> {yt} {{
{window}
  %z = arith.constant {zero}
  %e = tensor.empty() : {yt}
  %i = linalg.fill ins(%z : {acc}) outs(%e : {yt}) -> {yt}
  %r = {op} {{dilations = dense<1> : tensor<2xi64>, strides = dense<{s}> : tensor<2xi64>}}
      ins(%x, %kr : {xt}, {kt}) outs(%i : {yt}) -> {yt}
  return %r : {yt}
}}
"""
with open(f"{work}/conv.mlir", "w") as out:
    out.write(module)
np.save(f"{work}/x.npy", x.astype(np.int8 if dtype == "i8" else np.float32))
subprocess.run([quant_run, f"{work}/conv.mlir", "-f", "conv", "-i", f"{work}/x.npy",
                "-o", f"{work}/y.npy", *sys.argv[13:]], check=True)

want = np.zeros((n, f, oh, ow), np.int64) if kind != "maxpool" else np.full((n, f, oh, ow), lo)
for i in range(kh):
    for j in range(kw):
        patch = x[:, :, i:i + s * (oh - 1) + 1:s, j:j + s * (ow - 1) + 1:s].astype(np.int64)
        if kind == "maxpool":
            want = np.maximum(want, patch)
        elif kind == "depthwise":
            want += patch * k[:, i, j].astype(np.int64)[None, :, None, None]
        else:
            want += np.einsum("nchw,fc->nfhw", patch, k[:, :, i, j].astype(np.int64))
got = np.load(f"{work}/y.npy")
assert got.shape == want.shape, (got.shape, want.shape)
assert dtype == "i8" or np.abs(want).max() < 2**24, "f32 sums not exact"
bad = np.argwhere(got.astype(np.float64) != want)
if len(bad):
    for idx in bad[:10]:
        print(f"MISMATCH {tuple(idx)}: quant-run {got[tuple(idx)]}, reference {want[tuple(idx)]}")
    sys.exit(1)
print(f"{kind} {dtype} nchw {n}x{c}x{h}x{w}->{f} {kh}x{kw}/{s}: {want.size} outputs bit-exact")
