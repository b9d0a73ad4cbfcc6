"""Differential test of the qnn semantics against the NumPy reference.

Generates random cases (storage widths, expressed types, per-tensor /
per-axis / sub-channel parameters, rounding modes, shapes that are not
multiples of anything, and special values: ties, NaN, infinities, values far
out of range), writes them as one MLIR module, lowers it with
``quant-opt --qnn-reference-cpu-pipeline``, runs it with ``mlir-runner``, and
compares every element bit for bit with :mod:`quant_opt.reference`.

With ``--fold``, the quantize and requantize cases are instead applied to
constants and folded by ``quant-opt --canonicalize``; the stored values of
the resulting ``qnn.constant`` ops are compared the same way.

Exits with status 1 and lists the first mismatches if any element differs.

Usage::

    python -m quant_opt.semantics_check --quant-opt build/bin/quant-opt \\
        --mlir-runner /usr/lib/llvm-22/bin/mlir-runner \\
        --shared-libs /usr/lib/llvm-22/lib/libmlir_runner_utils.so,... \\
        --cases 60 --seed 1
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from dataclasses import dataclass

import numpy as np

from quant_opt import reference as ref
from quant_opt.execution import add_arguments, lower_and_run

# MLIR element type and NumPy dtype of the bit pattern of each float type.
_FLOAT_ELEMENT = {"f16": "f16", "bf16": "bf16", "f32": "f32", "f64": "f64"}
_BITS_WIDTH = {"f16": 16, "bf16": 16, "f32": 32, "f64": 64}
_ROUNDINGS = ref.ROUNDING_MODES


@dataclass
class Case:
    """One op applied to one input; `expected` holds integers to compare."""

    index: int  # k of @case<k> and @fold<k>
    name: str
    function: str  # the MLIR function holding the op
    call: str  # MLIR statements in @main that compute and print the result
    expected: np.ndarray  # int64 values as printed (stored values or bits)
    fold_function: str | None = None  # the op applied to a constant


def _tensor(shape, element: str) -> str:
    return "tensor<" + "".join(f"{d}x" for d in shape) + element + ">"


def _storage_element(qtype: ref.QuantType) -> str:
    return f"i{qtype.storage_bits}"


def _float_literal(x: np.ndarray, expressed: str) -> str:
    """A dense attribute with the exact bits of `x` (hex, little endian)."""
    if expressed == "bf16":
        bits = (ref.to_bits(x.astype(np.float32)) >> 16).astype("<u2")
    else:
        bits = x.astype(x.dtype.newbyteorder("<"))
    return 'dense<"0x' + bits.tobytes().hex().upper() + '">'


def _int_literal(values: np.ndarray, bits: int) -> str:
    """A dense attribute of signless `bits`-wide integers (two's complement)."""
    wrapped = np.where(values >= 2 ** (bits - 1), values - 2**bits, values)
    return "dense<" + np.array2string(wrapped, separator=", ", threshold=1 << 30).replace("\n", "") + ">"


# -- random types and data --------------------------------------------------


def _random_scale(rng, expressed: str, power_of_two: bool) -> float:
    low, high = (-3.0, 1.0) if expressed != "f16" else (-2.0, 1.0)
    scale = 10.0 ** rng.uniform(low, high)
    # Power-of-two scales make (k + 1/2) * s an exact tie in every float type.
    return float(2.0 ** np.round(np.log2(scale))) if power_of_two else float(scale)


def _random_type(rng, shape, expressed: str, allow_wide: bool = True) -> ref.QuantType:
    choices = [(4, True), (8, True), (8, False), (16, True), (16, False)]
    if allow_wide and expressed in ("f32", "f64"):
        choices.append((32, True))
    bits, signed = choices[rng.integers(len(choices))]
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    qmin, qmax = lo, hi
    if rng.random() < 0.25:  # a narrow range such as i8<-127:127>
        qmin, qmax = lo + 1, hi - int(rng.integers(0, 3))

    kind = rng.choice(["per_tensor", "per_axis", "sub_channel"])
    rank = len(shape)

    power_of_two = rng.random() < 0.4

    def params(param_shape):
        scales = np.vectorize(
            lambda _: _random_scale(rng, expressed, power_of_two), otypes=[float]
        )(np.zeros(param_shape))
        zero_points = rng.integers(qmin, qmax + 1, size=param_shape)
        if rng.random() < 0.3:  # symmetric, where the range allows it
            zero_points[...] = min(max(0, qmin), qmax)
        return scales, zero_points

    if kind == "per_axis":
        axis = int(rng.integers(rank))
        scales, zps = params((shape[axis],))
        return ref.QuantType(storage_bits=bits, signed=signed, qmin=qmin, qmax=qmax,
                             expressed=expressed, scales=scales, zero_points=zps, axis=axis)
    if kind == "sub_channel":
        block_sizes = {}
        for axis in range(rank):
            divisors = [b for b in range(1, shape[axis] + 1) if shape[axis] % b == 0]
            if rng.random() < 0.6:
                block_sizes[axis] = int(rng.choice(divisors))
        if not block_sizes:
            block_sizes[rank - 1] = 1
        param_shape = tuple(
            shape[a] // block_sizes[a] if a in block_sizes else 1 for a in range(rank)
        )
        scales, zps = params(param_shape)
        return ref.QuantType(storage_bits=bits, signed=signed, qmin=qmin, qmax=qmax,
                             expressed=expressed, scales=scales, zero_points=zps,
                             block_sizes=block_sizes)
    scales, zps = params(())
    return ref.QuantType(storage_bits=bits, signed=signed, qmin=qmin, qmax=qmax,
                         expressed=expressed, scales=scales, zero_points=zps)


def _random_floats(rng, shape, qtype: ref.QuantType) -> np.ndarray:
    """Values around the representable range, with ties and special values."""
    typical = float(np.max(qtype.scales)) * (qtype.qmax - qtype.qmin) / 2
    x = rng.normal(0.0, typical, size=shape)
    flat = x.reshape(-1)
    n = flat.size
    # Ties (k + 1/2) * s with each element's own scale: exact ties when s is
    # a power of two, near-ties otherwise.
    scales = np.broadcast_to(ref._element_params(qtype, shape)[0], shape).reshape(-1)
    ties = rng.random(n) < 0.3
    steps = rng.integers(-40, 40, size=n) + 0.5
    flat[ties] = steps[ties] * scales[ties]
    specials = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e30, -1e30, 1e-30])
    pick = rng.random(n) < 0.12
    flat[pick] = rng.choice(specials, size=int(pick.sum()))
    dtype = {"f16": np.float16, "bf16": np.float32, "f32": np.float32, "f64": np.float64}[
        qtype.expressed
    ]
    with np.errstate(over="ignore"):
        values = flat.astype(dtype)
    if qtype.expressed == "bf16":
        values = ref.round_to_bf16(values)
    return values.reshape(shape)


def _random_stored(rng, shape, qtype: ref.QuantType) -> np.ndarray:
    q = rng.integers(qtype.qmin, qtype.qmax + 1, size=shape)
    flat = q.reshape(-1)
    edges = rng.random(flat.size) < 0.2
    flat[edges] = rng.choice([qtype.qmin, qtype.qmax], size=int(edges.sum()))
    return q


def _random_shape(rng):
    rank = int(rng.integers(1, 4))
    return tuple(int(d) for d in rng.integers(1, 8, size=rank))


# -- MLIR for one case ------------------------------------------------------


def _print_stored(var: str, shape, qtype: ref.QuantType, k: int) -> str:
    """Statements printing the stored values of quantized `var` as i32."""
    storage = _tensor(shape, _storage_element(qtype))
    qt = _tensor(shape, ref.format_quant_type(qtype))
    lines = [f"  %s{k} = quant.scast {var} : {qt} to {storage}"]
    if qtype.storage_bits == 32:
        wide = f"%s{k}"
    else:
        ext = "arith.extsi" if qtype.signed else "arith.extui"
        lines.append(f"  %w{k} = {ext} %s{k} : {storage} to {_tensor(shape, 'i32')}")
        wide = f"%w{k}"
    lines.append(f"  %u{k} = tensor.cast {wide} : {_tensor(shape, 'i32')} to tensor<*xi32>")
    lines.append(f"  call @printMemrefI32(%u{k}) : (tensor<*xi32>) -> ()")
    return "\n".join(lines)


def _print_float_bits(var: str, shape, expressed: str, k: int) -> str:
    """Statements printing the bit patterns of float `var`."""
    width = _BITS_WIDTH[expressed]
    ft = _tensor(shape, _FLOAT_ELEMENT[expressed])
    bt = _tensor(shape, f"i{width}")
    lines = [f"  %b{k} = arith.bitcast {var} : {ft} to {bt}"]
    if width == 64:
        lines.append(f"  %u{k} = tensor.cast %b{k} : {bt} to tensor<*xi64>")
        lines.append(f"  call @printMemrefI64(%u{k}) : (tensor<*xi64>) -> ()")
    else:
        wide = f"%b{k}"
        if width < 32:
            lines.append(f"  %w{k} = arith.extui %b{k} : {bt} to {_tensor(shape, 'i32')}")
            wide = f"%w{k}"
        lines.append(f"  %u{k} = tensor.cast {wide} : {_tensor(shape, 'i32')} to tensor<*xi32>")
        lines.append(f"  call @printMemrefI32(%u{k}) : (tensor<*xi32>) -> ()")
    return "\n".join(lines)


def _bits_as_printed(values: np.ndarray, expressed: str) -> np.ndarray:
    """The integers _print_float_bits shows for float `values`."""
    bits = ref.to_bits(values)
    if expressed == "f64":  # printed as signed i64
        return bits.view(np.int64)
    if expressed == "f32":  # printed as signed i32
        return bits.view(np.int32).astype(np.int64)
    if expressed == "bf16":  # the upper half of the f32 bits, zero-extended
        bits = bits >> 16
    return bits.astype(np.int64)  # f16: zero-extended


def _make_case(rng, k: int) -> Case:
    shape = _random_shape(rng)
    expressed = str(rng.choice(list(ref.EXPRESSED_TYPES)))
    op = str(rng.choice(["quantize", "dequantize", "requantize"]))
    rounding = str(rng.choice(_ROUNDINGS))
    ftype = _tensor(shape, _FLOAT_ELEMENT[expressed])
    attr = "" if rounding == "half_to_even" else f" rounding<{rounding}>"

    if op == "quantize":
        qtype = _random_type(rng, shape, expressed)
        qt = _tensor(shape, ref.format_quant_type(qtype))
        x = _random_floats(rng, shape, qtype)
        function = (
            f"func.func @case{k}(%x: {ftype}) -> {qt} {{\n"
            f"  %q = qnn.quantize %x{attr} : {ftype} -> {qt}\n"
            f"  return %q : {qt}\n}}"
        )
        call = (
            f"  %in{k} = arith.constant {_float_literal(x, expressed)} : {ftype}\n"
            f"  %r{k} = call @case{k}(%in{k}) : ({ftype}) -> {qt}\n"
            + _print_stored(f"%r{k}", shape, qtype, k)
        )
        expected = ref.quantize(x, qtype, rounding)
        fold = (
            f"func.func @fold{k}() -> {qt} {{\n"
            f"  %x = arith.constant {_float_literal(x, expressed)} : {ftype}\n"
            f"  %q = qnn.quantize %x{attr} : {ftype} -> {qt}\n"
            f"  return %q : {qt}\n}}"
        )
        return Case(k, f"case{k}: quantize {ftype} -> {qt} {rounding}", function, call, expected,
                    fold)

    qtype = _random_type(rng, shape, expressed)
    qt = _tensor(shape, ref.format_quant_type(qtype))
    stored = _random_stored(rng, shape, qtype)
    storage = _tensor(shape, _storage_element(qtype))
    load = (
        f"  %i{k} = arith.constant {_int_literal(stored, qtype.storage_bits)} : {storage}\n"
        f"  %in{k} = quant.scast %i{k} : {storage} to {qt}\n"
    )
    if op == "dequantize":
        function = (
            f"func.func @case{k}(%q: {qt}) -> {ftype} {{\n"
            f"  %x = qnn.dequantize %q : {qt} -> {ftype}\n"
            f"  return %x : {ftype}\n}}"
        )
        call = (
            load
            + f"  %r{k} = call @case{k}(%in{k}) : ({qt}) -> {ftype}\n"
            + _print_float_bits(f"%r{k}", shape, expressed, k)
        )
        expected = _bits_as_printed(ref.dequantize(stored, qtype), expressed)
        return Case(k, f"case{k}: dequantize {qt} -> {ftype}", function, call, expected)

    out_type = _random_type(rng, shape, expressed)
    ot = _tensor(shape, ref.format_quant_type(out_type))
    function = (
        f"func.func @case{k}(%q: {qt}) -> {ot} {{\n"
        f"  %r = qnn.requantize %q{attr} : {qt} -> {ot}\n"
        f"  return %r : {ot}\n}}"
    )
    call = (
        load
        + f"  %r{k} = call @case{k}(%in{k}) : ({qt}) -> {ot}\n"
        + _print_stored(f"%r{k}", shape, out_type, k)
    )
    expected = ref.requantize(stored, qtype, out_type, rounding)
    fold = (
        f"func.func @fold{k}() -> {ot} {{\n"
        f"  %c = qnn.constant {_int_literal(stored, qtype.storage_bits)} : {storage} -> {qt}\n"
        f"  %r = qnn.requantize %c{attr} : {qt} -> {ot}\n"
        f"  return %r : {ot}\n}}"
    )
    return Case(k, f"case{k}: requantize {qt} -> {ot} {rounding}", function, call, expected, fold)


def build_module(cases: list[Case]) -> str:
    body = "\n".join(c.call for c in cases)
    functions = "\n\n".join(c.function for c in cases)
    return (
        functions
        + "\n\nfunc.func @main() {\n"
        + body
        + "\n  return\n}\n"
        + "func.func private @printMemrefI32(tensor<*xi32>) attributes { llvm.emit_c_interface }\n"
        + "func.func private @printMemrefI64(tensor<*xi64>) attributes { llvm.emit_c_interface }\n"
    )


def parse_prints(output: str) -> list[np.ndarray]:
    """The integers of each printMemref call, in order."""
    chunks = output.split("Unranked Memref")[1:]
    results = []
    for chunk in chunks:
        data = chunk.split("data =", 1)[1]
        results.append(np.array([int(v) for v in re.findall(r"-?\d+", data)], dtype=np.int64))
    return results


def _run_lowered(cases: list[Case], args) -> list[np.ndarray] | None:
    """Lowers and executes the cases; returns what each one printed."""
    module = build_module(cases)
    if args.keep:
        with open(args.keep, "w") as f:
            f.write(module)
    try:
        return parse_prints(lower_and_run(args, module))
    except RuntimeError as error:
        sys.stderr.write(f"{error}\n")
        return None


_FOLDED = re.compile(r"^(\d+)\(\).*?qnn\.constant dense<([^>]*)> : tensor<([^>]*)>", re.S)


def _run_folded(cases: list[Case], args) -> list[np.ndarray] | None:
    """Folds the cases' constant variants; returns the folded stored values."""
    module = "\n\n".join(c.fold_function for c in cases) + "\n"
    if args.keep:
        with open(args.keep, "w") as f:
            f.write(module)
    folded = subprocess.run(
        [args.quant_opt, "--canonicalize", "--mlir-print-elementsattrs-with-hex-if-larger=-1"],
        input=module, capture_output=True, text=True,
    )
    if folded.returncode != 0:
        sys.stderr.write(folded.stderr)
        return None
    values = {}
    functions = folded.stdout.split("func.func @fold")[1:]
    for index, literal, tensor_type in (m.groups() for f in functions if (m := _FOLDED.match(f))):
        ints = np.array([int(v) for v in re.findall(r"-?\d+", literal)], dtype=np.int64)
        shape = [int(d) for d in tensor_type.split("x")[:-1]]
        values[int(index)] = np.broadcast_to(ints, shape).reshape(-1) if ints.size == 1 else ints
    missing = [c.name for c in cases if c.index not in values]
    if missing:  # a quantize or requantize of a constant that did not fold
        sys.stderr.write("not folded:\n  " + "\n  ".join(missing) + "\n")
        return None
    return [values[c.index] for c in cases]


def run(args) -> int:
    rng = np.random.default_rng(args.seed)
    cases = [_make_case(rng, k) for k in range(args.cases)]
    if args.fold:
        cases = [c for c in cases if c.fold_function]
        results = _run_folded(cases, args)
    else:
        results = _run_lowered(cases, args)
    if results is None:
        return 1
    if len(results) != len(cases):
        sys.stderr.write(f"expected {len(cases)} results, got {len(results)}\n")
        return 1

    mismatches = 0
    elements = 0
    for case, got in zip(cases, results):
        want = case.expected.reshape(-1).astype(np.int64)
        elements += want.size
        if got.shape != want.shape:
            print(f"MISMATCH {case.name}: {got.size} values, expected {want.size}")
            mismatches += want.size
            continue
        bad = np.nonzero(got != want)[0]
        if bad.size:
            mismatches += bad.size
            print(f"MISMATCH {case.name}")
            for i in bad[:5]:
                print(f"  element {i}: quant-opt {got[i]}, reference {want[i]}")
    what = "folded" if args.fold else "lowered"
    print(f"{what}: checked {len(cases)} cases, {elements} elements: {mismatches} mismatches")
    return 1 if mismatches else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(parser, runner_required=False)
    parser.add_argument("--fold", action="store_true",
                        help="check the constant folder instead of the lowering")
    parser.add_argument("--cases", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", help="also write the generated module here")
    args = parser.parse_args(argv)
    if not args.fold and not (args.mlir_runner and args.shared_libs):
        parser.error("--mlir-runner and --shared-libs are needed unless --fold")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
