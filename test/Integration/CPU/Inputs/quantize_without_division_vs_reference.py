"""qnn.quantize with a constant scale through quant-run, against the NumPy
reference (quant_opt.reference.quantize, which divides), element by element.

convert-qnn-to-linalg computes `x / s` for a constant scale in [2^-60, 2^60]
without a division: `q0 = x * RN(1/s)`, then one FMA correction
(docs/Semantics.md, qnn.quantize, "Without a division"). The inputs are
built where that could go wrong: next to every half-integer quotient (the
rounding boundaries), at +-2^40 * s (where the lowering clamps x), and the
specials (+-0, subnormals, +-Inf, NaN, the largest finite values). Each case
prints how many of its inputs `x * RN(1/s)` alone would quantize wrongly, so
that a case that does not exercise the correction shows; and whether the
lowering divided (scales outside the range, which keep the division).

usage: quantize_without_division_vs_reference.py QUANT_OPT QUANT_RUN WORKDIR [quant-run options]
"""
import subprocess
import sys

import numpy as np

from quant_opt import reference as ref

quant_opt, quant_run, work, extra = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]


def inputs(scale, dtype, qrange, rng):
    """Values whose quotient by `scale` lies next to a rounding boundary."""
    s = dtype(scale)
    # Half-integers (boundaries of the rounding to nearest) and integers
    # (toward zero's), over the storage range and beyond.
    steps = np.arange(2 * qrange[0] - 4, 2 * qrange[1] + 4, dtype=np.float64) / 2
    steps = np.concatenate([steps, rng.uniform(-3e4, 3e4, 2000).round() / 2])
    centers = (steps * np.float64(s)).astype(dtype)
    values = [centers]
    for steps in (1, 2, 3):
        up, down = centers.copy(), centers.copy()
        for _ in range(steps):
            up = np.nextafter(up, dtype(np.inf))
            down = np.nextafter(down, dtype(-np.inf))
        values += [up, down]
    info = np.finfo(dtype)
    limit = dtype(np.ldexp(np.float64(s), 40))
    specials = [0.0, -0.0, info.smallest_subnormal, -info.smallest_subnormal,
                info.tiny, info.max, -info.max, np.inf, -np.inf, np.nan,
                limit, -limit, np.nextafter(limit, dtype(np.inf)),
                np.nextafter(limit, dtype(0)), -np.nextafter(limit, dtype(np.inf))]
    values.append(np.array(specials, dtype))
    values.append((rng.standard_normal(2000) * 200 * np.float64(s)).astype(dtype))
    return np.concatenate(values).astype(dtype)


def case(name, scale, zero_point, storage, expressed, rounding, seed, search=True):
    rng = np.random.default_rng(seed)
    bits = int(storage[1:])
    signed = storage.startswith("i")
    dtype = np.float32 if expressed == "f32" else np.float64
    qtype = ref.QuantType(storage_bits=bits, signed=signed, expressed=expressed,
                          scales=np.array(scale), zero_points=np.array(zero_point))
    qrange = (qtype.qmin - zero_point, qtype.qmax - zero_point)

    def reciprocal_alone(x, scale):
        """What multiplying by the rounded reciprocal alone would give."""
        unit = ref.QuantType(storage_bits=bits, signed=signed, expressed=expressed,
                             scales=np.array(1.0), zero_points=np.array(zero_point))
        with np.errstate(all="ignore"):
            return ref.quantize(x * (dtype(1) / dtype(scale)), unit, rounding)

    # The scale's last bits are moved until the reciprocal alone is wrong for
    # some input (no case passes for want of a hard input); the scales below
    # and above the range keep the division and are taken as they are.
    for _ in range(1000):
        qtype = ref.QuantType(storage_bits=bits, signed=signed, expressed=expressed,
                              scales=np.array(scale), zero_points=np.array(zero_point))
        x = inputs(scale, dtype, qrange, rng)
        if not search or (reciprocal_alone(x, scale) != ref.quantize(x, qtype, rounding)).any():
            break
        scale = float(np.nextafter(dtype(scale), dtype(np.inf)))
    n = x.size
    mlir_type = f"!quant.uniform<{storage}:{expressed}, {scale!r}:{zero_point}>"
    module = f"""
func.func @f(%x: tensor<{n}x{expressed}>) -> tensor<{n}xi{bits}> {{
  %q = qnn.quantize %x rounding<{rounding}> : tensor<{n}x{expressed}> -> tensor<{n}x{mlir_type}>
  %r = quant.scast %q : tensor<{n}x{mlir_type}> to tensor<{n}xi{bits}>
  return %r : tensor<{n}xi{bits}>
}}
"""
    path = f"{work}/{name}.mlir"
    with open(path, "w") as f:
        f.write(module)
    lowered = subprocess.run([quant_opt, path, "--convert-qnn-to-linalg"], check=True,
                             capture_output=True, text=True).stdout
    form = ("division" if "arith.divf" in lowered else
            "fma" if "math.fma" in lowered else "multiplication")
    np.save(f"{work}/{name}.x.npy", x)
    subprocess.run([quant_run, path, "-f", "f", "-i", f"{work}/{name}.x.npy", "-o",
                    f"{work}/{name}.out.npy", *extra], check=True, capture_output=True)
    got = np.load(f"{work}/{name}.out.npy").astype(np.int64)
    if not signed:
        got &= (1 << bits) - 1
    want = ref.quantize(x, qtype, rounding)
    naive_wrong = int((reciprocal_alone(x, scale) != want).sum())
    bad = np.argwhere(got != want)
    for index in bad[:5]:
        i = tuple(index)
        print(f"MISMATCH {name} x={x[i]!r}: quant-run {got[i]}, reference {want[i]}")
    status = "bit-exact" if len(bad) == 0 else f"{len(bad)} mismatches"
    print(f"{name}: {form}, {n} inputs {status}, {naive_wrong} wrong by the reciprocal alone")


case("u8-one-255th", 1 / 255, 0, "u8", "f32", "half_to_even", 1)
case("i8-softmax", 0.00390625 * 1.0137, -128, "i8", "f32", "half_to_even", 2)
case("i8-odd-mantissa", 0.0173, 3, "i8", "f32", "half_away_from_zero", 3)
case("i16-small", 3.0517578125e-05 * 1.7, 0, "i16", "f32", "half_to_even", 4)
case("i8-toward-zero", 0.3, -7, "i8", "f32", "toward_zero", 5)
case("i8-f64", 0.0123456789, 1, "i8", "f64", "half_to_even", 6)
case("i8-near-2^-60", 2.0 ** -60 * 1.5, 0, "i8", "f32", "half_to_even", 7)
case("i8-near-2^60", 2.0 ** 59 * 1.75, 0, "i8", "f32", "half_to_even", 8)
case("i8-power-of-two", 0.125, 5, "i8", "f32", "half_to_even", 9, search=False)
case("i8-below-range", 2.0 ** -61, 0, "i8", "f32", "half_to_even", 10, search=False)
case("i8-above-range", 2.0 ** 61, 0, "i8", "f32", "half_to_even", 11, search=False)
