"""Runs an i8 x i8 -> i32 matmul with a per-channel requantization through
quant-run (the vectorized qnn-cpu-pipeline unless --pipeline says otherwise)
on random data, and compares every stored output with the integer reference
of docs/Semantics.md (python/quant_opt/reference.py), bit for bit.

Usage: matmul_vs_reference.py QUANT_RUN WORK_DIR M K N [quant-run options]
"""

import subprocess
import sys

import numpy as np

from quant_opt import reference as ref

quant_run, work, m, k, n = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
extra = sys.argv[6:]
rng = np.random.default_rng(m * 10000 + k * 100 + n)
a = rng.integers(-128, 128, (m, k), dtype=np.int8)
b = rng.integers(-128, 128, (k, n), dtype=np.int8)
multipliers = rng.integers(1 << 30, 1 << 31, n).tolist()
shifts = rng.integers(38, 44, n).tolist()
out_type = ref.parse_quant_type("!quant.uniform<i8:f32, 0.5:3>")

module = f"""
func.func @mm(%a: tensor<{m}x{k}xi8>, %b: tensor<{k}x{n}xi8>) -> tensor<{m}x{n}x!quant.uniform<i8:f32, 0.5:3>> {{
  %c0 = arith.constant 0 : i32
  %e = tensor.empty() : tensor<{m}x{n}xi32>
  %i = linalg.fill ins(%c0 : i32) outs(%e : tensor<{m}x{n}xi32>) -> tensor<{m}x{n}xi32>
  %r = linalg.generic {{indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (k, n)>, affine_map<(m, n, k) -> (m, n)>], iterator_types = ["parallel", "parallel", "reduction"]}}
      ins(%a, %b : tensor<{m}x{k}xi8>, tensor<{k}x{n}xi8>) outs(%i : tensor<{m}x{n}xi32>) {{
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xe = arith.extsi %x : i8 to i32
    %ye = arith.extsi %y : i8 to i32
    %p = arith.muli %xe, %ye : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  }} -> tensor<{m}x{n}xi32>
  %y = qnn.rescale %r multipliers {multipliers} shifts {shifts} axis 1 clamp [-100, 120] : tensor<{m}x{n}xi32> -> tensor<{m}x{n}x!quant.uniform<i8:f32, 0.5:3>>
  return %y : tensor<{m}x{n}x!quant.uniform<i8:f32, 0.5:3>>
}}
"""
with open(f"{work}/mm.mlir", "w") as f:
    f.write(module)
np.save(f"{work}/a.npy", a)
np.save(f"{work}/b.npy", b)
subprocess.run([quant_run, f"{work}/mm.mlir", "-f", "mm", "-i", f"{work}/a.npy",
                "-i", f"{work}/b.npy", "-o", f"{work}/y.npy", *extra], check=True)

acc = a.astype(np.int64) @ b.astype(np.int64)
want = ref.rescale(acc, multipliers, shifts, out_type, axis=1, clamp=(-100, 120))
got = np.load(f"{work}/y.npy").astype(np.int64)
bad = np.argwhere(got != want)
assert got.shape == want.shape, (got.shape, want.shape)
# The test must be able to fail: the outputs are not all clamped.
assert len(np.unique(want)) > 20, np.unique(want)
if len(bad):
    for i, j in bad[:10]:
        print(f"MISMATCH [{i}, {j}]: quant-run {got[i, j]}, reference {want[i, j]}")
    sys.exit(1)
print(f"{m}x{k}x{n}: {want.size} outputs bit-exact")
