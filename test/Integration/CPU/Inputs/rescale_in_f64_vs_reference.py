"""Fused layers (u8 x s8 matmul with a constant bias and constant weights,
then qnn.rescale) through quant-run, against the NumPy reference
(quant_opt.reference.rescale), element by element.

convert-qnn-to-linalg computes a rescale whose accumulator its contraction
bounds (|a| * m < 2^53) as roundeven(f64(a) * m / 2^n), exact in f64; one
past the bound keeps the 64-bit integer form. The multipliers here make
many accumulators land exactly half-way (m = 2^30 with n = 33 divides by 8;
3 * 2^28 with n = 34 multiplies by 3/64): the script prints how many ties
each case has, so that a case without any would show.

usage: rescale_in_f64_vs_reference.py QUANT_OPT QUANT_RUN WORKDIR [quant-run options]
"""
import subprocess
import sys

import numpy as np

from quant_opt import reference as ref

quant_opt, quant_run, work, extra = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]


def dense(array):
    return f'dense<"0x{array.tobytes().hex().upper()}">'


def case(name, m, k, multipliers, shifts, weight_range, bias_range, seed, bits=16):
    rng = np.random.default_rng(seed)
    n = len(multipliers)
    x = rng.integers(0, 256, (m, k)).astype(np.uint8)
    w = rng.integers(weight_range[0], weight_range[1] + 1, (k, n)).astype(np.int8)
    bias = rng.integers(bias_range[0], bias_range[1] + 1, n).astype(np.int32)
    out = ref.QuantType(storage_bits=bits, signed=True, expressed="f32",
                        scales=np.array(0.5), zero_points=np.array(3))
    qtype = f"!quant.uniform<i{bits}:f32, 0.5:3>"
    axis = f" axis 1" if n > 1 else ""
    module = f"""
func.func @f(%x: tensor<{m}x{k}xi8>) -> tensor<{m}x{n}xi{bits}> {{
  %w = arith.constant {dense(w)} : tensor<{k}x{n}xi8>
  %b = arith.constant {dense(bias)} : tensor<{n}xi32>
  %e = tensor.empty() : tensor<{m}x{n}xi32>
  %i = linalg.generic {{indexing_maps = [affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}}
      ins(%b : tensor<{n}xi32>) outs(%e : tensor<{m}x{n}xi32>) {{
  ^bb0(%in: i32, %o: i32):
    linalg.yield %in : i32
  }} -> tensor<{m}x{n}xi32>
  %acc = linalg.generic {{indexing_maps = [affine_map<(i, j, l) -> (i, l)>, affine_map<(i, j, l) -> (l, j)>, affine_map<(i, j, l) -> (i, j)>], iterator_types = ["parallel", "parallel", "reduction"]}}
      ins(%x, %w : tensor<{m}x{k}xi8>, tensor<{k}x{n}xi8>) outs(%i : tensor<{m}x{n}xi32>) {{
  ^bb0(%a: i8, %c: i8, %s: i32):
    %ae = arith.extui %a : i8 to i32
    %ce = arith.extsi %c : i8 to i32
    %p = arith.muli %ae, %ce : i32
    %t = arith.addi %s, %p : i32
    linalg.yield %t : i32
  }} -> tensor<{m}x{n}xi32>
  %q = qnn.rescale %acc multipliers {list(multipliers)} shifts {list(shifts)}{axis} : tensor<{m}x{n}xi32> -> tensor<{m}x{n}x{qtype}>
  %r = quant.scast %q : tensor<{m}x{n}x{qtype}> to tensor<{m}x{n}xi{bits}>
  return %r : tensor<{m}x{n}xi{bits}>
}}
"""
    path = f"{work}/{name}.mlir"
    with open(path, "w") as f:
        f.write(module)
    lowered = subprocess.run([quant_opt, path, "--convert-qnn-to-linalg"], check=True,
                             capture_output=True, text=True).stdout
    form = "f64" if "math.roundeven" in lowered else "i64"
    np.save(f"{work}/{name}.x.npy", x.view(np.int8))
    subprocess.run([quant_run, path, "-f", "f", "-i", f"{work}/{name}.x.npy", "-o",
                    f"{work}/{name}.out.npy", *extra], check=True, capture_output=True)
    got = np.load(f"{work}/{name}.out.npy").astype(np.int64)
    acc = x.astype(np.int64) @ w.astype(np.int64) + bias.astype(np.int64)
    want = ref.rescale(acc, multipliers, shifts, out, axis=1 if n > 1 else None)
    ms = np.broadcast_to(np.asarray(multipliers, np.int64), acc.shape)
    ns = np.broadcast_to(np.asarray(shifts, np.int64), acc.shape)
    p = acc * ms
    ties = int(((p & ((np.int64(1) << ns) - 1)) == (np.int64(1) << (ns - 1))).sum())
    bad = np.argwhere(got != want)
    for index in bad[:5]:
        print(f"MISMATCH {name} {tuple(index)}: quant-run {got[tuple(index)]}, "
              f"reference {want[tuple(index)]}")
    status = "bit-exact" if len(bad) == 0 else f"{len(bad)} mismatches"
    inside = int(((want > out.qmin) & (want < out.qmax)).sum())
    print(f"{name}: {form}, {got.size} outputs {status}, {inside} inside the range, "
          f"{ties} ties")


# Within the bound: K = 8 steps of 255 x 128 plus a bias below 2^12, into
# i16 (m / 2^n = 1/8, 3/128, 1/64, about 1/512).
case("ties", 256, 8, [1 << 30, 3 << 28, 1 << 30, 2147483647], [33, 35, 36, 40],
     (-128, 127), (-4096, 4096), 1)
case("per-tensor", 64, 32, [1 << 30], [36], (-128, 127), (-1000, 1000), 2)
case("i8", 128, 4, [1 << 30, 1 << 30], [36, 37], (-8, 8), (-64, 64), 4, bits=8)
# Past it: 300 steps of 255 x 128 times m near 2^31 reach 2^53.
case("past-bound", 32, 300, [1 << 30, 2147483647], [38, 45], (-128, -128), (0, 0), 3)
