"""Runs an i8 x i8 -> i32 2-D convolution (NHWC/HWCF, given stride) through
quant-run's vectorized qnn-cpu-pipeline on random data and compares it, bit
for bit, with the sum computed here in int64 with NumPy.

Usage: conv_vs_reference.py QUANT_RUN WORK_DIR H W C F KH KW STRIDE
"""

import subprocess
import sys

import numpy as np

quant_run, work = sys.argv[1], sys.argv[2]
h, w, c, f, kh, kw, s = map(int, sys.argv[3:10])
oh, ow = (h - kh) // s + 1, (w - kw) // s + 1
rng = np.random.default_rng(h * w + c * f + kh * kw + s)
x = rng.integers(-128, 128, (1, h, w, c), dtype=np.int8)
k = rng.integers(-128, 128, (kh, kw, c, f), dtype=np.int8)

module = f"""
func.func @conv(%x: tensor<1x{h}x{w}x{c}xi8>, %k: tensor<{kh}x{kw}x{c}x{f}xi8>) -> tensor<1x{oh}x{ow}x{f}xi32> {{
  %c0 = arith.constant 0 : i32
  %e = tensor.empty() : tensor<1x{oh}x{ow}x{f}xi32>
  %i = linalg.fill ins(%c0 : i32) outs(%e : tensor<1x{oh}x{ow}x{f}xi32>) -> tensor<1x{oh}x{ow}x{f}xi32>
  %r = linalg.conv_2d_nhwc_hwcf {{dilations = dense<1> : tensor<2xi64>, strides = dense<{s}> : tensor<2xi64>}}
      ins(%x, %k : tensor<1x{h}x{w}x{c}xi8>, tensor<{kh}x{kw}x{c}x{f}xi8>) outs(%i : tensor<1x{oh}x{ow}x{f}xi32>) -> tensor<1x{oh}x{ow}x{f}xi32>
  return %r : tensor<1x{oh}x{ow}x{f}xi32>
}}
"""
with open(f"{work}/conv.mlir", "w") as out:
    out.write(module)
np.save(f"{work}/x.npy", x)
np.save(f"{work}/k.npy", k)
subprocess.run([quant_run, f"{work}/conv.mlir", "-f", "conv", "-i", f"{work}/x.npy",
                "-i", f"{work}/k.npy", "-o", f"{work}/y.npy", *sys.argv[10:]], check=True)

want = np.zeros((1, oh, ow, f), np.int64)
for i in range(kh):
    for j in range(kw):
        patch = x[:, i:i + s * (oh - 1) + 1:s, j:j + s * (ow - 1) + 1:s, :].astype(np.int64)
        want += np.einsum("nhwc,cf->nhwf", patch, k[i, j].astype(np.int64))
got = np.load(f"{work}/y.npy").astype(np.int64)
assert got.shape == want.shape, (got.shape, want.shape)
bad = np.argwhere(got != want)
if len(bad):
    for idx in bad[:10]:
        print(f"MISMATCH {tuple(idx)}: quant-run {got[tuple(idx)]}, reference {want[tuple(idx)]}")
    sys.exit(1)
print(f"conv {h}x{w}x{c}->{f} {kh}x{kw}/{s}: {want.size} outputs bit-exact")
