"""Runs matmuls and 2-D convolutions whose weights are constants (the
contractions qnn-microkernel-cpu packs at compile time) through quant-run,
on random data, and compares every output with NumPy: integer results bit
for bit (int64 sums), f32 results to a relative 1e-5 of the largest output
(the kernel sums in a different order). The cases cover what the kernels
must get right: signed and unsigned activations (vpdpbusd shifts signed
ones by +128 and folds the correction into the init), weights as (k, n) and
(n, k), leading activation dimensions, reductions that do not fill a k-group,
channels that do not fill a panel, rows that do not fill a tile, strides,
dilations and the HWCF and FHWC filter layouts; depthwise convolutions
(weights (kh, kw, c) or (c, kh, kw), the named op); and fused layers as
qnn-fuse-quantized-ops leaves them (bias broadcast into the accumulators,
per-channel qnn.rescale with a clamp, the epilogue the kernel computes in
registers), against the integer reference of docs/Semantics.md.

Usage: microkernel_vs_reference.py QUANT_RUN WORK_DIR [quant-run options]
Prints one line per case; exits non-zero on the first mismatch.
"""

import subprocess
import sys

import numpy as np

from quant_opt import reference as ref

quant_run, work, extra = sys.argv[1], sys.argv[2], sys.argv[3:]


def dense(array):
    """An MLIR dense literal of `array` (hex, little-endian)."""
    return f'dense<"0x{array.tobytes().hex().upper()}">'


def mlir_type(shape, dtype):
    return f"tensor<{'x'.join(map(str, shape))}x{dtype}>"


def body(dtype, a_signed):
    if dtype == "f32":
        return ("    %p = arith.mulf %x, %y : f32\n"
                "    %s = arith.addf %acc, %p : f32\n")
    ext = "extsi" if a_signed else "extui"
    return (f"    %xe = arith.{ext} %x : i8 to i32\n"
            "    %ye = arith.extsi %y : i8 to i32\n"
            "    %p = arith.muli %xe, %ye : i32\n"
            "    %s = arith.addi %acc, %p : i32\n")


def run(name, module, inputs):
    with open(f"{work}/{name}.mlir", "w") as out:
        out.write(module)
    args = []
    for i, array in enumerate(inputs):
        np.save(f"{work}/{name}.in{i}.npy", array)
        args += ["-i", f"{work}/{name}.in{i}.npy"]
    subprocess.run([quant_run, f"{work}/{name}.mlir", "-f", "f", *args, "-o",
                    f"{work}/{name}.out.npy", *extra], check=True)
    return np.load(f"{work}/{name}.out.npy")


def compare(name, got, want, dtype):
    assert got.shape == want.shape, (name, got.shape, want.shape)
    if dtype == "f32":
        error = np.abs(got.astype(np.float64) - want).max()
        scale = np.abs(want).max()
        if not error <= 1e-5 * scale:
            print(f"MISMATCH {name}: max error {error} of {scale}")
            sys.exit(1)
        print(f"{name}: {want.size} outputs within 1e-5")
        return
    bad = np.argwhere(got.astype(np.int64) != want)
    if len(bad):
        for idx in bad[:10]:
            print(f"MISMATCH {name} {tuple(idx)}: quant-run {got[tuple(idx)]}, "
                  f"reference {want[tuple(idx)]}")
        sys.exit(1)
    print(f"{name}: {want.size} outputs bit-exact")


def operands(rng, a_shape, w_shape, dtype, a_signed):
    if dtype == "f32":
        return (rng.normal(0, 1, a_shape).astype(np.float32),
                rng.normal(0, 1, w_shape).astype(np.float32))
    low = -128 if a_signed else 0
    a = rng.integers(low, low + 256, a_shape).astype(np.int8 if a_signed else np.uint8)
    return a, rng.integers(-128, 128, w_shape, dtype=np.int8)


def matmul(lead, k, n, dtype="i8", a_signed=True, transposed=False):
    rng = np.random.default_rng(sum(lead) * 1000 + k * 10 + n)
    a, w = operands(rng, (*lead, k), (n, k) if transposed else (k, n), dtype, a_signed)
    acc = "f32" if dtype == "f32" else "i32"
    dims = "".join(f"d{i}, " for i in range(len(lead)))
    loops = len(lead) + 2
    names = [f"d{i}" for i in range(loops)]
    nd, kd = names[-2], names[-1]
    w_map = f"({nd}, {kd})" if transposed else f"({kd}, {nd})"
    out_shape = (*lead, n)
    module = f"""
func.func @f(%a: {mlir_type(a.shape, 'i8' if dtype != 'f32' else 'f32')}) -> {mlir_type(out_shape, acc)} {{
  %w = arith.constant {dense(w)} : {mlir_type(w.shape, 'i8' if dtype != 'f32' else 'f32')}
  %zero = arith.constant 0{'.0' if dtype == 'f32' else ''} : {acc}
  %e = tensor.empty() : {mlir_type(out_shape, acc)}
  %i = linalg.fill ins(%zero : {acc}) outs(%e : {mlir_type(out_shape, acc)}) -> {mlir_type(out_shape, acc)}
  %r = linalg.generic {{indexing_maps = [affine_map<({', '.join(names)}) -> ({dims}{kd})>, affine_map<({', '.join(names)}) -> {w_map}>, affine_map<({', '.join(names)}) -> ({dims}{nd})>], iterator_types = [{'"parallel", ' * (loops - 1)}"reduction"]}}
      ins(%a, %w : {mlir_type(a.shape, 'i8' if dtype != 'f32' else 'f32')}, {mlir_type(w.shape, 'i8' if dtype != 'f32' else 'f32')}) outs(%i : {mlir_type(out_shape, acc)}) {{
  ^bb0(%x: {'f32' if dtype == 'f32' else 'i8'}, %y: {'f32' if dtype == 'f32' else 'i8'}, %acc: {acc}):
{body(dtype, a_signed)}    linalg.yield %s : {acc}
  }} -> {mlir_type(out_shape, acc)}
  return %r : {mlir_type(out_shape, acc)}
}}
"""
    wide = np.float64 if dtype == "f32" else np.int64
    want = a.astype(wide) @ (w.T if transposed else w).astype(wide)
    name = (f"matmul {'x'.join(map(str, lead))}x{k}x{n} {dtype}"
            f"{'' if a_signed else ' u8'}{' (n,k)' if transposed else ''}")
    compare(name, run("case", module, [a]), want, dtype)


def windows(x, kh, kw, stride, dilation, oh, ow, wide):
    """Per filter tap (i, j): the (n, oh, ow, c) input values it meets."""
    for i in range(kh):
        for j in range(kw):
            top, left = i * dilation, j * dilation
            yield i, j, x[:, top:top + stride * (oh - 1) + 1:stride,
                          left:left + stride * (ow - 1) + 1:stride, :].astype(wide)


def conv(h, w, c, f, kh, kw, stride=1, dilation=1, dtype="i8", a_signed=False,
         fhwc=False):
    rng = np.random.default_rng(h * w + c * f + kh * kw + stride + 7 * dilation)
    x, k = operands(rng, (2, h, w, c), (kh, kw, c, f), dtype, a_signed)
    oh = (h - dilation * (kh - 1) - 1) // stride + 1
    ow = (w - dilation * (kw - 1) - 1) // stride + 1
    acc = "f32" if dtype == "f32" else "i32"
    elt = "f32" if dtype == "f32" else "i8"
    stored = np.ascontiguousarray(k.transpose(3, 0, 1, 2)) if fhwc else k
    k_map = "(d3, d4, d5, d6)" if fhwc else "(d4, d5, d6, d3)"
    out_shape = (2, oh, ow, f)
    module = f"""
func.func @f(%x: {mlir_type(x.shape, elt)}) -> {mlir_type(out_shape, acc)} {{
  %k = arith.constant {dense(stored)} : {mlir_type(stored.shape, elt)}
  %zero = arith.constant 0{'.0' if dtype == 'f32' else ''} : {acc}
  %e = tensor.empty() : {mlir_type(out_shape, acc)}
  %i = linalg.fill ins(%zero : {acc}) outs(%e : {mlir_type(out_shape, acc)}) -> {mlir_type(out_shape, acc)}
  %r = linalg.generic {{indexing_maps = [affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d1 * {stride} + d4 * {dilation}, d2 * {stride} + d5 * {dilation}, d6)>, affine_map<(d0, d1, d2, d3, d4, d5, d6) -> {k_map}>, affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}}
      ins(%x, %k : {mlir_type(x.shape, elt)}, {mlir_type(stored.shape, elt)}) outs(%i : {mlir_type(out_shape, acc)}) {{
  ^bb0(%x0: {elt}, %y: {elt}, %acc: {acc}):
{body(dtype, a_signed).replace('%x ', '%x0 ').replace('%x,', '%x0,')}    linalg.yield %s : {acc}
  }} -> {mlir_type(out_shape, acc)}
  return %r : {mlir_type(out_shape, acc)}
}}
"""
    wide = np.float64 if dtype == "f32" else np.int64
    want = np.zeros(out_shape, wide)
    for i, j, patch in windows(x, kh, kw, stride, dilation, oh, ow, wide):
        want += np.einsum("nhwc,cf->nhwf", patch, k[i, j].astype(wide))
    name = (f"conv {h}x{w}x{c}->{f} {kh}x{kw}/{stride} dilation {dilation} {dtype}"
            f"{' s8' if a_signed else ''}{' fhwc' if fhwc else ''}")
    compare(name, run("case", module, [x]), want, dtype)


def depthwise(h, w, c, kh, kw, stride=1, dilation=1, dtype="i8", a_signed=False,
              chw=False, named=False):
    """A depthwise convolution (each channel its own filter): the weights
    as (kh, kw, c), or (c, kh, kw) with `chw`; `named` writes it as
    linalg.depthwise_conv_2d_nhwc_hwc (signed activations)."""
    rng = np.random.default_rng(h * w + 3 * c + kh * kw + stride + 5 * dilation)
    x, k = operands(rng, (2, h, w, c), (kh, kw, c), dtype, a_signed)
    oh = (h - dilation * (kh - 1) - 1) // stride + 1
    ow = (w - dilation * (kw - 1) - 1) // stride + 1
    acc = "f32" if dtype == "f32" else "i32"
    elt = "f32" if dtype == "f32" else "i8"
    stored = np.ascontiguousarray(k.transpose(2, 0, 1)) if chw else k
    k_map = "(d3, d4, d5)" if chw else "(d4, d5, d3)"
    out_shape = (2, oh, ow, c)
    x_t, k_t, o_t = mlir_type(x.shape, elt), mlir_type(stored.shape, elt), mlir_type(out_shape, acc)
    if named:
        assert a_signed and not chw
        op = f"""linalg.depthwise_conv_2d_nhwc_hwc {{dilations = dense<{dilation}> : tensor<2xi64>, strides = dense<{stride}> : tensor<2xi64>}}
      ins(%x, %k : {x_t}, {k_t}) outs(%i : {o_t}) -> {o_t}"""
    else:
        op = f"""linalg.generic {{indexing_maps = [affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1 * {stride} + d4 * {dilation}, d2 * {stride} + d5 * {dilation}, d3)>, affine_map<(d0, d1, d2, d3, d4, d5) -> {k_map}>, affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction"]}}
      ins(%x, %k : {x_t}, {k_t}) outs(%i : {o_t}) {{
  ^bb0(%x0: {elt}, %y: {elt}, %acc: {acc}):
{body(dtype, a_signed).replace('%x ', '%x0 ').replace('%x,', '%x0,')}    linalg.yield %s : {acc}
  }} -> {o_t}"""
    module = f"""
func.func @f(%x: {x_t}) -> {o_t} {{
  %k = arith.constant {dense(stored)} : {k_t}
  %zero = arith.constant 0{'.0' if dtype == 'f32' else ''} : {acc}
  %e = tensor.empty() : {o_t}
  %i = linalg.fill ins(%zero : {acc}) outs(%e : {o_t}) -> {o_t}
  %r = {op}
  return %r : {o_t}
}}
"""
    wide = np.float64 if dtype == "f32" else np.int64
    want = np.zeros(out_shape, wide)
    for i, j, patch in windows(x, kh, kw, stride, dilation, oh, ow, wide):
        want += patch * k[i, j].astype(wide)
    name = (f"depthwise {h}x{w}x{c} {kh}x{kw}/{stride} dilation {dilation} {dtype}"
            f"{' s8' if a_signed else ''}{' chw' if chw else ''}{' named' if named else ''}")
    compare(name, run("case", module, [x]), want, dtype)


def fused(lead, k, n, conv_shape=None, depthwise=False):
    """A fused integer layer: u8 activations, s8 weights, i32 bias
    broadcast into the accumulators, per-channel qnn.rescale to u8 with a
    clamp. A matmul over leading dimensions `lead`, or a 3x3 convolution on
    an image of `conv_shape` (H, W) with k input channels."""
    rng = np.random.default_rng(sum(lead) + 31 * (k or 0) + n)
    if depthwise:
        h, w = conv_shape
        a_shape, w_shape = (*lead, h, w, n), (3, 3, n)
        out_shape = (*lead, h - 2, w - 2, n)
    elif conv_shape:
        h, w = conv_shape
        a_shape, w_shape = (*lead, h, w, k), (3, 3, k, n)
        out_shape = (*lead, h - 2, w - 2, n)
    else:
        a_shape, w_shape, out_shape = (*lead, k), (k, n), (*lead, n)
    a = rng.integers(0, 256, a_shape).astype(np.uint8)
    wt = rng.integers(-128, 128, w_shape, dtype=np.int8)
    bias = rng.integers(-20000, 20000, n).astype(np.int32)
    multipliers = rng.integers(1 << 30, 1 << 31, n).tolist()
    shifts = rng.integers(38, 42, n).tolist()
    out_type = ref.parse_quant_type("!quant.uniform<u8:f32, 0.5:7>")
    rank = len(out_shape)
    dims = [f"d{i}" for i in range(rank)]
    if depthwise:
        loops = [f"d{i}" for i in range(6)]
        maps = ["(d0, d1 + d4, d2 + d5, d3)", "(d4, d5, d3)", "(d0, d1, d2, d3)"]
        iterators = '"parallel", "parallel", "parallel", "parallel", "reduction", "reduction"'
    elif conv_shape:
        loops = [f"d{i}" for i in range(7)]
        maps = ["(d0, d1 + d4, d2 + d5, d6)", "(d4, d5, d6, d3)", "(d0, d1, d2, d3)"]
        iterators = '"parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"'
    else:
        loops = dims + [f"d{rank}"]
        maps = [f"({', '.join(dims[:-1] + [loops[-1]])})", f"({loops[-1]}, {dims[-1]})",
                f"({', '.join(dims)})"]
        iterators = '"parallel", ' * rank + '"reduction"'
    acc_t = mlir_type(out_shape, "i32")
    module = f"""
func.func @f(%a: {mlir_type(a_shape, 'i8')}) -> tensor<{'x'.join(map(str, out_shape))}x!quant.uniform<u8:f32, 0.5:7>> {{
  %w = arith.constant {dense(wt)} : {mlir_type(w_shape, 'i8')}
  %bias = arith.constant {dense(bias)} : tensor<{n}xi32>
  %e = tensor.empty() : {acc_t}
  %i = linalg.generic {{indexing_maps = [affine_map<({', '.join(dims)}) -> ({dims[-1]})>, affine_map<({', '.join(dims)}) -> ({', '.join(dims)})>], iterator_types = [{', '.join(['"parallel"'] * rank)}]}}
      ins(%bias : tensor<{n}xi32>) outs(%e : {acc_t}) {{
  ^bb0(%b: i32, %o: i32):
    linalg.yield %b : i32
  }} -> {acc_t}
  %r = linalg.generic {{indexing_maps = [{', '.join(f'affine_map<({", ".join(loops)}) -> {m}>' for m in maps)}], iterator_types = [{iterators}]}}
      ins(%a, %w : {mlir_type(a_shape, 'i8')}, {mlir_type(w_shape, 'i8')}) outs(%i : {acc_t}) {{
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xe = arith.extui %x : i8 to i32
    %ye = arith.extsi %y : i8 to i32
    %p = arith.muli %xe, %ye : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  }} -> {acc_t}
  %y = qnn.rescale %r multipliers {multipliers} shifts {shifts} axis {rank - 1} clamp [10, 250] : {acc_t} -> tensor<{'x'.join(map(str, out_shape))}x!quant.uniform<u8:f32, 0.5:7>>
  return %y : tensor<{'x'.join(map(str, out_shape))}x!quant.uniform<u8:f32, 0.5:7>>
}}
"""
    wide_a, wide_w = a.astype(np.int64), wt.astype(np.int64)
    if depthwise:
        acc = np.zeros(out_shape, np.int64)
        for i in range(3):
            for j in range(3):
                acc += wide_a[:, i:i + h - 2, j:j + w - 2, :] * wide_w[i, j]
    elif conv_shape:
        acc = np.zeros(out_shape, np.int64)
        for i in range(3):
            for j in range(3):
                acc += np.einsum("nhwc,cf->nhwf", wide_a[:, i:i + h - 2, j:j + w - 2, :], wide_w[i, j])
    else:
        acc = wide_a @ wide_w
    acc += bias
    want = ref.rescale(acc, multipliers, shifts, out_type, axis=rank - 1, clamp=(10, 250))
    # The case must be able to fail: its outputs are not all clamped.
    assert len(np.unique(want)) > 20, np.unique(want)
    kind = "depthwise " if depthwise else "conv " if conv_shape else ""
    sizes = (*lead, n) if depthwise else (*lead, k, n)
    name = (f"fused {kind + 'x'.join(map(str, conv_shape)) + ' ' if conv_shape else ''}"
            f"{'x'.join(map(str, sizes))} u8 + bias + rescale")
    compare(name, run("case", module, [a]), want, "i8")


matmul((64,), 128, 96)
matmul((30,), 50, 45, a_signed=False)
matmul((17,), 23, 19, transposed=True)
matmul((2, 13), 64, 80, a_signed=False)
matmul((1,), 256, 33)
matmul((30,), 50, 45, dtype="f32")
matmul((7,), 19, 70, dtype="f32", transposed=True)
conv(10, 10, 16, 64, 3, 3)
conv(11, 11, 8, 16, 3, 3, stride=2, a_signed=True)
conv(9, 9, 3, 5, 5, 3, fhwc=True)
conv(12, 13, 6, 20, 3, 3, dilation=2)
conv(8, 8, 16, 24, 1, 1)
conv(10, 9, 5, 18, 3, 3, stride=2, dtype="f32")
# Few input channels: filter columns folded into the k-groups, the input
# read as one flat run per filter row (the last window ends at the last
# byte: its last k-group reads the zeros appended past it).
conv(9, 9, 1, 16, 3, 3, stride=2)
conv(8, 10, 1, 20, 3, 3, a_signed=True)
conv(9, 11, 2, 16, 3, 5, stride=2, a_signed=True, fhwc=True)
conv(9, 9, 3, 8, 3, 3, stride=2)
fused((24,), 64, 40)
fused((2, 7), 30, 70)
fused((2,), 12, 16, conv_shape=(9, 8))
fused((2,), 1, 16, conv_shape=(9, 8))
depthwise(10, 11, 32, 3, 3)
depthwise(9, 9, 20, 3, 3, stride=2, a_signed=True, chw=True)
depthwise(12, 10, 7, 3, 3, dilation=2)
depthwise(8, 9, 48, 3, 3, a_signed=True, named=True)
depthwise(7, 7, 70, 5, 5)
depthwise(10, 9, 21, 3, 3, stride=2, dtype="f32")
depthwise(9, 8, 64, 3, 3, dtype="f32", chw=True)
fused((2,), None, 40, conv_shape=(9, 10), depthwise=True)
