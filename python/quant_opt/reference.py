"""NumPy reference implementation of docs/Semantics.md.

This module is written from the specification alone and is meant to be
compared bit for bit with the C++ constant folder and the lowering. Section
names in the docstrings ("Quantized types", "qnn.quantize", ...) refer to
docs/Semantics.md.

Conventions:

- Float tensors of expressed type ``E`` are NumPy arrays of dtype
  ``float16`` (``f16``), ``float32`` (``f32``), ``float64`` (``f64``), or, for
  ``bf16``, ``float32`` arrays whose values are all bf16-representable.
- Quantized tensors are the **stored** integer values (with the storage
  type's signedness, e.g. ``0..255`` for ``u8``) as ``int64`` arrays.
- Integer accumulators (``qnn.rescale``) are integer arrays of any integer
  dtype whose values are those of a 32-bit signed integer.
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass

import numpy as np

__all__ = [
    "EXPRESSED_TYPES",
    "ROUNDING_MODES",
    "QuantType",
    "add",
    "add_parameters",
    "average_pool_nhwc",
    "dequantize",
    "format_quant_type",
    "parse_quant_type",
    "quantize",
    "quantize_multiplier",
    "requantize",
    "rescale",
    "round_to_bf16",
    "to_bits",
]

EXPRESSED_TYPES = ("f16", "bf16", "f32", "f64")
ROUNDING_MODES = ("half_to_even", "half_away_from_zero", "toward_zero")

# NumPy dtype holding values of each expressed type E (bf16 lives in float32).
_EXPRESSED_DTYPE = {
    "f16": np.dtype(np.float16),
    "bf16": np.dtype(np.float32),
    "f32": np.dtype(np.float32),
    "f64": np.dtype(np.float64),
}

# Every integer of magnitude <= 2^53 is exactly representable in float64.


def _storage_range(bits: int, signed: bool) -> tuple[int, int]:
    """Full range of ``iN`` / ``uN`` ("Quantized types")."""
    if signed:
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1


def _compute_dtype(expressed: str) -> np.dtype:
    """Compute type C: f64 when E is f64, f32 otherwise ("Quantized types")."""
    return np.dtype(np.float64) if expressed == "f64" else np.dtype(np.float32)


@dataclass(kw_only=True, eq=False)
class QuantType:
    """A ``!quant.uniform`` type ("Quantized types").

    ``scales`` (float64) and ``zero_points`` (int64) have shape ``()`` for
    per-tensor, ``(K,)`` for per-axis (with ``axis``), and the full-rank block
    parameter tensor for sub-channel (with ``block_sizes``, ``{axis: size}``
    for the listed axes only; an unlisted axis is a single block, so the
    parameter tensor has size 1 along it). ``qmin``/``qmax`` default to the
    full storage range and ``zero_points`` to zeros.
    """

    storage_bits: int
    signed: bool
    qmin: int | None = None
    qmax: int | None = None
    expressed: str
    scales: np.ndarray
    zero_points: np.ndarray | None = None
    axis: int | None = None
    block_sizes: dict[int, int] | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.storage_bits <= 32:
            raise ValueError(f"storage width must be 1..32 bits, got {self.storage_bits}")
        lo, hi = _storage_range(self.storage_bits, self.signed)
        self.qmin = lo if self.qmin is None else int(self.qmin)
        self.qmax = hi if self.qmax is None else int(self.qmax)
        if not lo <= self.qmin <= self.qmax <= hi:
            raise ValueError(
                f"storage range [{self.qmin}, {self.qmax}] is not within [{lo}, {hi}]"
            )
        if self.expressed not in EXPRESSED_TYPES:
            raise ValueError(f"expressed type must be one of {EXPRESSED_TYPES}")

        self.scales = np.array(self.scales, dtype=np.float64)
        if self.zero_points is None:
            self.zero_points = np.zeros(self.scales.shape, dtype=np.int64)
        else:
            self.zero_points = np.array(self.zero_points, dtype=np.int64)
        if self.zero_points.shape != self.scales.shape:
            raise ValueError("scales and zero points must have the same shape")
        if not (np.isfinite(self.scales).all() and (self.scales > 0).all()):
            raise ValueError("scales must be positive and finite")
        # The verifiers reject a zero point outside the storage range.
        for zp in self.zero_points.flat:
            if not self.qmin <= int(zp) <= self.qmax:
                raise ValueError(
                    f"zero point {int(zp)} is outside the storage range "
                    f"[{self.qmin}, {self.qmax}]"
                )

        if self.block_sizes is not None:
            # Sub-channel types hold their scales as values of E ("Quantized
            # types"), so a scale written as a decimal is rounded to E once.
            self.scales = _round_double_to_expressed(self.scales, self.expressed)

        if self.axis is not None and self.block_sizes is not None:
            raise ValueError("a type is per-axis or sub-channel, not both")
        if self.axis is not None:
            self.axis = int(self.axis)
            if self.axis < 0:
                raise ValueError("the channel axis must be non-negative")
            if self.scales.ndim != 1 or self.scales.size == 0:
                raise ValueError("per-axis parameters must be a non-empty 1-D array")
        elif self.block_sizes is not None:
            self.block_sizes = {int(a): int(b) for a, b in self.block_sizes.items()}
            rank = self.scales.ndim
            if rank == 0 or self.scales.size == 0:
                raise ValueError("sub-channel parameters must be a non-empty tensor")
            for a, b in self.block_sizes.items():
                if not 0 <= a < rank:
                    raise ValueError(f"blocked axis {a} is not within rank {rank}")
                if b < 1:
                    raise ValueError(f"block size along axis {a} must be positive")
            for d in range(rank):
                if d not in self.block_sizes and self.scales.shape[d] != 1:
                    raise ValueError(
                        f"axis {d} is not blocked, so the parameter tensor must have size 1 along it"
                    )
        elif self.scales.shape != ():
            raise ValueError("per-tensor parameters must be scalars")

    @property
    def kind(self) -> str:
        """``'per_tensor'``, ``'per_axis'`` or ``'sub_channel'``."""
        if self.axis is not None:
            return "per_axis"
        if self.block_sizes is not None:
            return "sub_channel"
        return "per_tensor"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, QuantType):
            return NotImplemented
        return (
            (self.storage_bits, self.signed, self.qmin, self.qmax, self.expressed)
            == (other.storage_bits, other.signed, other.qmin, other.qmax, other.expressed)
            and self.axis == other.axis
            and self.block_sizes == other.block_sizes
            and self.scales.shape == other.scales.shape
            and np.array_equal(self.scales, other.scales)
            and np.array_equal(self.zero_points, other.zero_points)
        )


def _element_params(qtype: QuantType, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Scale and zero point of every element ("Which scale and zero point an element uses").

    Returns float64 scales and int64 zero points broadcastable to ``shape``,
    after checking what the verifiers require for the indexing to be valid.
    """
    rank = len(shape)
    if qtype.kind == "per_tensor":
        return qtype.scales, qtype.zero_points
    if qtype.kind == "per_axis":
        a = qtype.axis
        if a >= rank:
            raise ValueError(f"channel axis {a} is not within rank {rank}")
        if shape[a] != qtype.scales.size:
            raise ValueError(
                f"axis {a} has size {shape[a]} but the type has {qtype.scales.size} scales"
            )
        bshape = [1] * rank
        bshape[a] = shape[a]
        return qtype.scales.reshape(bshape), qtype.zero_points.reshape(bshape)
    if rank != qtype.scales.ndim:
        raise ValueError(
            f"tensor rank {rank} differs from the parameter tensor rank {qtype.scales.ndim}"
        )
    scales, zero_points = qtype.scales, qtype.zero_points
    # (i_0 / b_0, ..., i_{r-1} / b_{r-1}) indexing == repeating each entry b_d
    # times along every blocked axis d; unblocked axes have size 1 and broadcast.
    for d, b in sorted(qtype.block_sizes.items()):
        if shape[d] % b != 0:
            raise ValueError(f"block size {b} does not divide axis {d} of size {shape[d]}")
        if scales.shape[d] != shape[d] // b:
            raise ValueError(
                f"axis {d} has {shape[d] // b} blocks but the type has {scales.shape[d]} entries"
            )
        scales = np.repeat(scales, b, axis=d)
        zero_points = np.repeat(zero_points, b, axis=d)
    return scales, zero_points


def to_bits(arr) -> np.ndarray:
    """IEEE bit patterns of a float array: uint16 (f16), uint32 (f32, bf16 in f32), uint64 (f64)."""
    arr = np.asarray(arr)
    views = {
        np.dtype(np.float16): np.uint16,
        np.dtype(np.float32): np.uint32,
        np.dtype(np.float64): np.uint64,
    }
    if arr.dtype not in views:
        raise TypeError(f"expected float16, float32 or float64, got {arr.dtype}")
    return arr.view(views[arr.dtype])


def round_to_bf16(x_f32) -> np.ndarray:
    """Round float32 values to bf16 (nearest, ties to even); returned as float32.

    bf16 is the upper 16 bits of a float32. NaN stays NaN (quieted, sign kept).
    """
    x = np.asarray(x_f32)
    if x.dtype != np.float32:
        raise TypeError(f"expected float32, got {x.dtype}")
    bits = to_bits(x).astype(np.uint64)
    lsb = (bits >> np.uint64(16)) & np.uint64(1)
    rounded = ((bits + np.uint64(0x7FFF) + lsb) >> np.uint64(16)) << np.uint64(16)
    quiet_nan = ((bits >> np.uint64(16)) | np.uint64(0x0040)) << np.uint64(16)
    out = np.where(np.isnan(x), quiet_nan, rounded).astype(np.uint32)
    return out.view(np.float32)


def _check_float_input(x, expressed: str) -> np.ndarray:
    """The float tensor as an array of E's NumPy dtype; no implicit rounding."""
    x = np.asarray(x)
    dtype = _EXPRESSED_DTYPE[expressed]
    if x.dtype != dtype:
        raise TypeError(f"values of expressed type {expressed} must be {dtype} arrays, got {x.dtype}")
    if expressed == "bf16":
        low_bits = to_bits(x) & np.uint32(0xFFFF)
        if ((low_bits != 0) & ~np.isnan(x)).any():
            raise ValueError("bf16 values must be float32 values representable in bf16")
    return x


def _check_stored(q, qtype: QuantType) -> np.ndarray:
    """Stored values as int64, checked to lie in ``[qmin, qmax]``."""
    q = np.asarray(q)
    if q.dtype.kind not in "iu":
        raise TypeError(f"stored values must be integers, got {q.dtype}")
    if q.dtype == np.uint64 and (q > np.uint64(2**63 - 1)).any():
        raise ValueError("stored value out of the int64 range")
    q = q.astype(np.int64)
    if ((q < qtype.qmin) | (q > qtype.qmax)).any():
        raise ValueError(f"stored values must lie in [{qtype.qmin}, {qtype.qmax}]")
    return q


def _round(v: np.ndarray, rounding: str) -> np.ndarray:
    """Step 4 of ``qnn.quantize`` on float64 values (exact; +-Inf stays +-Inf).

    ``v`` holds values of C converted exactly to float64, so every operation
    here is exact: ``trunc`` and ``rint`` are, ``v - trunc(v)`` is, and adding
    +-1 to an integer below 2^53 in magnitude is.
    """
    if rounding == "half_to_even":
        return np.rint(v)
    if rounding == "toward_zero":
        return np.trunc(v)
    t = np.trunc(v)
    frac = v - t  # NaN for +-Inf; the comparison below is then False.
    return np.where(np.abs(frac) >= 0.5, t + np.sign(v), t)


def quantize(x, qtype: QuantType, rounding: str = "half_to_even") -> np.ndarray:
    """``qnn.quantize``: float values of type E to stored values (int64).

    1. ``x_C`` = x converted to C (exact);
    2. ``v = x_C / s_C``, one IEEE division in C, ``s_C`` the scale rounded
       from double to C (nearest, ties to even);
    3. NaN gives ``q = z`` (the zero point itself, as written);
    4. ``r = round_R(v)``;
    5. ``q = clamp(r + z, qmin, qmax)`` with exact integer arithmetic.

    Step 5 is done as ``clamp(r, qmin - z, qmax - z) + z`` (equal for exact
    integers), clamping in float64 where both bounds are exact, so that +-Inf
    and huge values saturate before the conversion to int64.
    """
    if rounding not in ROUNDING_MODES:
        raise ValueError(f"rounding must be one of {ROUNDING_MODES}, got {rounding!r}")
    x = _check_float_input(x, qtype.expressed)
    scales, zero_points = _element_params(qtype, x.shape)
    c = _compute_dtype(qtype.expressed)
    with np.errstate(all="ignore"):
        v = x.astype(c) / scales.astype(c)  # steps 1-2 (same dtype c on both sides)
        v = v.astype(np.float64)  # exact widening, for exact rounding and clamping
        is_nan = np.isnan(v)
        r = _round(np.where(is_nan, 0.0, v), rounding)  # step 4
        lo = (qtype.qmin - zero_points).astype(np.float64)
        hi = (qtype.qmax - zero_points).astype(np.float64)
        q = np.clip(r, lo, hi).astype(np.int64) + zero_points  # step 5
        return np.where(is_nan, zero_points, q).astype(np.int64)  # step 3


def _round_double_to_expressed(x: np.ndarray, expressed: str) -> np.ndarray:
    """Round float64 values to E in one step (nearest, ties to even).

    Returned as float64. bf16 is rounded on the float64 bits (7 fraction
    bits kept of 52), avoiding the double rounding of going through float32;
    it assumes normal values, as scales are.
    """
    x = np.asarray(x, dtype=np.float64)
    if expressed == "f64":
        return x.copy()
    if expressed == "f32":
        return x.astype(np.float32).astype(np.float64)
    if expressed == "f16":
        with np.errstate(all="ignore"):
            return x.astype(np.float16).astype(np.float64)
    bits = x.view(np.uint64)
    shift = np.uint64(52 - 7)
    lsb = (bits >> shift) & np.uint64(1)
    half = np.uint64(1) << (shift - np.uint64(1))
    rounded = ((bits + half - np.uint64(1) + lsb) >> shift) << shift
    return rounded.view(np.float64)


def _round_to_expressed(y: np.ndarray, expressed: str) -> np.ndarray:
    """Round a value of C to E (nearest, ties to even)."""
    if expressed == "f16":
        with np.errstate(all="ignore"):
            return y.astype(np.float16)
    if expressed == "bf16":
        return round_to_bf16(y)
    return y


def dequantize(q, qtype: QuantType) -> np.ndarray:
    """``qnn.dequantize``: stored values to floats of type E.

    1. ``d = q - z``, exact (int64);
    2. ``y_C = C(d) * s_C``: ``d`` converted to C (nearest, ties to even),
       then one IEEE multiplication in C;
    3. ``y_C`` rounded to E (nearest, ties to even).

    Returns float16 / float32 / float64 arrays; bf16 results are float32
    arrays of bf16-representable values.
    """
    q = _check_stored(q, qtype)
    scales, zero_points = _element_params(qtype, q.shape)
    c = _compute_dtype(qtype.expressed)
    d = q - zero_points  # step 1; |d| <= 2^53 by QuantType's check
    with np.errstate(all="ignore"):
        # int64 -> float64 is exact for |d| <= 2^53, so float64 -> C is the
        # single rounding of step 2.
        y = d.astype(np.float64).astype(c) * scales.astype(c)
        return _round_to_expressed(np.asarray(y, dtype=c), qtype.expressed)


def requantize(q, qtype_in: QuantType, qtype_out: QuantType, rounding: str = "half_to_even") -> np.ndarray:
    """``qnn.requantize``: ``quantize_{Q2,R}(dequantize_{Q1}(q))`` exactly,
    including the rounding of the intermediate value to E."""
    if qtype_in.expressed != qtype_out.expressed:
        raise ValueError("requantize needs the same expressed type on both sides")
    return quantize(dequantize(q, qtype_in), qtype_out, rounding)


# ---------------------------------------------------------------------------
# Fixed-point rescaling of integer accumulators.
# ---------------------------------------------------------------------------

# Bounds of "qnn.rescale": 0 <= m < 2^31, 1 <= n <= 62, a 32-bit accumulator.
_M_LIMIT = 2**31
_N_MIN, _N_MAX = 1, 62
_ACC_MIN, _ACC_MAX = -(2**31), 2**31 - 1


def quantize_multiplier(real: float) -> tuple[int, int]:
    """``(m, n)`` with ``M ~ m * 2^-n`` ("Deriving (m, n) from a real multiplier").

    For ``M > 0``, in double precision:

    1. ``M = f * 2^e`` with ``0.5 <= f < 1`` (``math.frexp``);
    2. ``m = round_half_even(f * 2^31)``; if ``m = 2^31``, then ``m = 2^30``
       and ``e = e + 1``;
    3. ``n = 31 - e``;
    4. if ``n > 62``: ``n = 62`` and ``m = round_half_even(M * 2^62)``
       (possibly 0);
    5. ``n < 1`` is an error.

    ``f * 2^31`` and ``M * 2^62`` only change the exponent, so they are exact
    (no overflow: ``f < 1``, and ``M < 2^-31`` when ``n > 62``), and Python's
    ``round`` of a float is exact, ties to even. Returns Python ints.
    Raises ``ValueError`` for ``M <= 0``, a non-finite ``M``, or ``n < 1``
    (``M >= 2^30``, or ``M`` just below ``2^30`` where step 2 renormalizes
    ``e`` to 31).
    """
    if not isinstance(real, numbers.Real):
        raise TypeError(f"the real multiplier must be a real number, got {type(real).__name__}")
    try:
        value = float(real)
    except OverflowError:
        raise ValueError(f"the real multiplier {real!r} is not a finite double") from None
    if not math.isfinite(value) or value <= 0.0:
        raise ValueError(f"the real multiplier must be positive and finite, got {value!r}")
    f, e = math.frexp(value)  # step 1: value = f * 2^e, 0.5 <= f < 1
    m = round(math.ldexp(f, 31))  # step 2 (exact scaling; round: ties to even)
    if m == 2**31:
        m, e = 2**30, e + 1
    n = 31 - e  # step 3
    if n > _N_MAX:  # step 4
        n = _N_MAX
        m = round(math.ldexp(value, _N_MAX))
    if n < _N_MIN:  # step 5
        raise ValueError(
            f"the real multiplier {value!r} is too large: n = {n} < 1 (M >= 2^30)"
        )
    return m, n


def _int_params(values, name: str) -> list[int]:
    """A scalar or a 1-D sequence of integers as a non-empty list of Python ints."""
    arr = np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) else values
    if arr.ndim > 1:
        raise ValueError(f"{name} must be a scalar or a 1-D sequence")
    items = [arr.item()] if arr.ndim == 0 else list(arr)
    if not items:
        raise ValueError(f"{name} must not be empty")
    out = []
    for v in items:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name} must be integers, got {v!r}")
        out.append(int(v))
    return out


def _round_quotient(p: np.ndarray, n: np.ndarray, rounding: str) -> np.ndarray:
    """``round_R(p / 2^n)`` of exact integers (step 2 of ``qnn.rescale``).

    ``p`` is int64 with ``|p| < 2^62`` and ``1 <= n <= 62``, so ``2^n`` and
    every intermediate fit in int64. With the floor division
    ``p = k * 2^n + rem``, ``0 <= rem < 2^n``, the exact quotient is
    ``k + rem / 2^n``; comparing ``rem`` with ``2^(n-1)`` is comparing the
    fraction with one half, with no float anywhere.
    """
    one = np.int64(1)
    half = np.left_shift(one, n - one)  # 2^(n-1)
    # Floor quotient and remainder 0 <= rem < 2^n: an arithmetic right shift
    # floors (two's complement), and the low n bits are what it dropped.
    # (np.divmod gives the same, several times slower.)
    k = np.right_shift(p, n)
    rem = np.bitwise_and(p, np.left_shift(one, n) - one)
    if rounding == "half_to_even":
        up = (rem > half) | ((rem == half) & ((k & 1) == 1))  # k odd
    elif rounding == "half_away_from_zero":
        # A tie is k + 1/2: away from zero is k + 1 for p >= 0, k for p < 0.
        up = (rem > half) | ((rem == half) & (p >= 0))
    else:  # toward_zero: floor for p >= 0, ceiling for p < 0.
        up = (rem != 0) & (p < 0)
    return k + up.astype(np.int64)


def _clamp_bounds(out_type: QuantType, clamp) -> tuple[int, int]:
    """``(max(qmin, c_lo), min(qmax, c_hi))``, checking ``qmin <= c_lo <= c_hi <= qmax``."""
    qmin, qmax = out_type.qmin, out_type.qmax
    if clamp is None:
        return qmin, qmax
    c_lo, c_hi = (int(c) for c in clamp)
    if not qmin <= c_lo <= c_hi <= qmax:
        raise ValueError(
            f"clamp [{c_lo}, {c_hi}] must be an interval within [{qmin}, {qmax}]"
        )
    return max(qmin, c_lo), min(qmax, c_hi)


def rescale(
    acc,
    multipliers,
    shifts,
    out_type: QuantType,
    axis: int | None = None,
    clamp: tuple[int, int] | None = None,
    rounding: str = "half_to_even",
) -> np.ndarray:
    """``qnn.rescale``: 32-bit integer accumulators to stored values (int64).

    ``multipliers`` ``m`` and ``shifts`` ``n`` are equal-length integer
    sequences (a scalar counts as length 1): one pair for the whole tensor
    (``axis`` is None), or one per index of ``axis``. ``out_type`` is the
    result's per-tensor type; its zero point ``z`` and ``[qmin, qmax]`` are
    used (not its scale). For every element:

    1. ``p = a * m``, exact (``|p| < 2^62``, int64);
    2. ``r = round_R(p / 2^n)``, rounding the exact quotient with integer
       arithmetic;
    3. ``q = clamp(r + z, lo, hi)``, ``lo = max(qmin, c_lo)``,
       ``hi = min(qmax, c_hi)``, ``(c_lo, c_hi)`` the optional ``clamp``.

    Checked: ``0 <= m < 2^31``, ``1 <= n <= 62``, every ``a`` is a 32-bit
    signed integer, ``qmin <= c_lo <= c_hi <= qmax``.
    """
    if rounding not in ROUNDING_MODES:
        raise ValueError(f"rounding must be one of {ROUNDING_MODES}, got {rounding!r}")
    if out_type.kind != "per_tensor":
        raise ValueError(f"the result type of rescale must be per-tensor, got {out_type.kind}")

    a = np.asarray(acc)
    if a.dtype.kind not in "iu":
        raise TypeError(f"accumulators must be integers, got {a.dtype}")
    if a.dtype == np.uint64 and (a > np.uint64(2**63 - 1)).any():
        raise ValueError("accumulator out of the 32-bit range")
    a = a.astype(np.int64)
    if ((a < _ACC_MIN) | (a > _ACC_MAX)).any():
        raise ValueError(f"accumulators must be 32-bit integers, in [{_ACC_MIN}, {_ACC_MAX}]")

    ms = _int_params(multipliers, "multipliers")
    ns = _int_params(shifts, "shifts")
    if len(ms) != len(ns):
        raise ValueError(f"{len(ms)} multipliers but {len(ns)} shifts")
    for m in ms:
        if not 0 <= m < _M_LIMIT:
            raise ValueError(f"multiplier {m} is not in [0, 2^31)")
    for n in ns:
        if not _N_MIN <= n <= _N_MAX:
            raise ValueError(f"shift {n} is not in [{_N_MIN}, {_N_MAX}]")

    rank = a.ndim
    pshape = [1] * rank
    if axis is None:
        if len(ms) != 1:
            raise ValueError(f"{len(ms)} (multiplier, shift) pairs without a channel axis")
    else:
        axis = int(axis)
        if not 0 <= axis < rank:
            raise ValueError(f"channel axis {axis} is not within rank {rank}")
        if len(ms) != a.shape[axis]:
            raise ValueError(
                f"axis {axis} has size {a.shape[axis]} but there are {len(ms)} "
                "(multiplier, shift) pairs"
            )
        pshape[axis] = len(ms)
    m_arr = np.array(ms, dtype=np.int64).reshape(pshape)
    n_arr = np.array(ns, dtype=np.int64).reshape(pshape)

    lo, hi = _clamp_bounds(out_type, clamp)
    z = int(out_type.zero_points)

    p = a * m_arr  # step 1: |a| <= 2^31, m < 2^31, so |p| < 2^62: exact in int64
    r = _round_quotient(p, n_arr, rounding)  # step 2: |r| <= 2^61
    # step 3: |r + z| < 2^61 + 2^32, exact in int64.
    return np.asarray(np.clip(r + z, lo, hi), dtype=np.int64)


# ---------------------------------------------------------------------------
# qnn.add and average pooling: integer programs built on qnn.rescale.
# ---------------------------------------------------------------------------

# |p| stays below 2^62 for _round_quotient (and int64) to be exact.
_P_LIMIT = 2**62


def _positive_real(value, name: str) -> float:
    """A positive finite real number as a Python float (double)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    try:
        x = float(value)
    except OverflowError:
        raise ValueError(f"{name} {value!r} is not a finite double") from None
    if not math.isfinite(x) or x <= 0.0:
        raise ValueError(f"{name} must be positive and finite, got {x!r}")
    return x


def _per_tensor_scale(qtype: QuantType, role: str) -> float:
    """The only scale of a per-tensor type, as a double."""
    if qtype.kind != "per_tensor":
        raise ValueError(f"the {role} type must be per-tensor, got {qtype.kind}")
    return float(qtype.scales)


def add_parameters(scale_a: float, scale_b: float, scale_y: float) -> tuple[int, int, int]:
    """``(m_a, m_b, n)`` of a fused ``qnn.add`` ("qnn.add", "Deriving (m, n)").

    In double precision: ``M_a = s_a / s_y`` and ``M_b = s_b / s_y``; ``n`` is
    the shift :func:`quantize_multiplier` gives the larger of ``M_a``, ``M_b``
    (either one when they are equal), and each ``m = round_half_even(M * 2^n)``.
    The larger multiplier gets exactly the ``m`` of :func:`quantize_multiplier`
    (its 31 bits); the smaller one is rounded at that common shift (not at its
    own), so it is ``<=`` the larger and may be 0. ``M * 2^n`` only changes the
    exponent (exact, no overflow as ``M < 2^30`` and ``n <= 62``), and Python's
    ``round`` of a float is exact, ties to even. Returns Python ints.

    Raises ``TypeError`` for a non-real scale, ``ValueError`` for a scale that
    is not positive and finite, or when :func:`quantize_multiplier` rejects the
    larger multiplier (``M >= 2^30``, or ``M`` not positive and finite after
    the division).
    """
    s_a = _positive_real(scale_a, "scale_a")
    s_b = _positive_real(scale_b, "scale_b")
    s_y = _positive_real(scale_y, "scale_y")
    big_a = s_a / s_y
    big_b = s_b / s_y
    m_larger, n = quantize_multiplier(max(big_a, big_b))
    m_a = round(math.ldexp(big_a, n))
    m_b = round(math.ldexp(big_b, n))
    # M * 2^n of the larger is f * 2^31 (or M * 2^62 when n is clamped), which
    # quantize_multiplier rounds the same way; after its renormalization the
    # rounded value is 2^30 either way.
    assert max(m_a, m_b) == m_larger
    return m_a, m_b, n


def add(
    a,
    a_type: QuantType,
    b,
    b_type: QuantType,
    multipliers,
    shift,
    out_type: QuantType,
    clamp: tuple[int, int] | None = None,
    rounding: str = "half_to_even",
) -> np.ndarray:
    """``qnn.add``: the sum of two quantized tensors, in integers (int64 result).

    ``a`` and ``b`` are stored values of the per-tensor types ``a_type`` and
    ``b_type``, of the same shape (no broadcasting). ``multipliers`` is the
    pair ``(m_a, m_b)`` and ``shift`` the single ``n`` (see
    :func:`add_parameters`). Only the zero points of the three types and the
    result's ``[qmin, qmax]`` are used (not the scales). For every element:

    1. ``p = (a - z_a) * m_a + (b - z_b) * m_b``, exact;
    2. ``r = round_R(p / 2^n)``, rounding the exact quotient as ``qnn.rescale``;
    3. ``q = clamp(r + z_y, max(qmin, c_lo), min(qmax, c_hi))``.

    Checked: ``0 <= m < 2^31``, ``1 <= n <= 62``, stored values within their
    type's ``[qmin, qmax]``, ``qmin <= c_lo <= c_hi <= qmax``. ``p`` is
    computed in int64: for storage up to 16 bits ``|a - z_a|, |b - z_b| < 2^16``
    so ``|p| < 2 * 2^16 * 2^31 = 2^48``; for wider storage the bound
    ``max|a - z_a| * m_a + max|b - z_b| * m_b < 2^62`` is checked on the values
    (exactly, in Python ints) and a ``ValueError`` raised when it fails.
    """
    if rounding not in ROUNDING_MODES:
        raise ValueError(f"rounding must be one of {ROUNDING_MODES}, got {rounding!r}")
    for qtype, role in ((a_type, "first operand"), (b_type, "second operand"),
                        (out_type, "result")):
        _per_tensor_scale(qtype, role)

    qa = _check_stored(a, a_type)
    qb = _check_stored(b, b_type)
    if qa.shape != qb.shape:
        raise ValueError(f"operand shapes differ: {qa.shape} and {qb.shape}")

    ms = _int_params(multipliers, "multipliers")
    ns = _int_params(shift, "shift")
    if len(ms) != 2:
        raise ValueError(f"add takes two multipliers (m_a, m_b), got {len(ms)}")
    if len(ns) != 1:
        raise ValueError(f"add takes one shift, got {len(ns)}")
    for m in ms:
        if not 0 <= m < _M_LIMIT:
            raise ValueError(f"multiplier {m} is not in [0, 2^31)")
    (n,) = ns
    if not _N_MIN <= n <= _N_MAX:
        raise ValueError(f"shift {n} is not in [{_N_MIN}, {_N_MAX}]")
    m_a, m_b = ms

    lo, hi = _clamp_bounds(out_type, clamp)
    z_y = int(out_type.zero_points)

    # |q - z| < 2^33 for any storage up to 32 bits: exact in int64.
    da = qa - a_type.zero_points
    db = qb - b_type.zero_points
    max_da = int(np.abs(da).max()) if da.size else 0
    max_db = int(np.abs(db).max()) if db.size else 0
    if max_da * m_a + max_db * m_b >= _P_LIMIT:  # Python ints: exact
        raise ValueError(
            "|(a - z_a) * m_a + (b - z_b) * m_b| may reach 2^62, beyond the exact "
            "int64 arithmetic of this reference (storage wider than 16 bits)"
        )
    p = da * np.int64(m_a) + db * np.int64(m_b)  # step 1, |p| < 2^62
    r = _round_quotient(p, np.int64(n), rounding)  # step 2, |r| <= 2^61
    # step 3: |r + z_y| < 2^61 + 2^32, exact in int64.
    return np.asarray(np.clip(r + z_y, lo, hi), dtype=np.int64)


def _positive_int_pair(values, name: str) -> tuple[int, int]:
    """Two positive integers (a window or strides along H and W)."""
    items = tuple(values)
    if len(items) != 2:
        raise ValueError(f"{name} must have 2 entries (H, W), got {len(items)}")
    for v in items:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name} must be integers, got {v!r}")
        if v < 1:
            raise ValueError(f"{name} must be positive, got {tuple(items)}")
    return int(items[0]), int(items[1])


def average_pool_nhwc(
    xq,
    x_type: QuantType,
    window: tuple[int, int],
    strides: tuple[int, int],
    divisor: float | None,
    factor: float | None,
    out_type: QuantType,
    rounding: str = "half_to_even",
    dilations: tuple[int, int] = (1, 1),
) -> np.ndarray:
    """Fused quantized average pooling ("Average pooling"), NHWC (int64 result).

    ``xq``: stored values of the per-tensor type ``x_type``, shape
    ``(N, H, W, C)``; ``window`` ``(KH, KW)``, ``strides`` ``(SH, SW)`` and
    ``dilations`` ``(DH, DW)``, no padding, as ``linalg.pooling_nhwc_sum``:
    window element ``(i, j)`` of output ``(oh, ow)`` reads row
    ``oh * SH + i * DH``, column ``ow * SW + j * DW``; the result has shape
    ``(N, (H - (KH - 1) * DH - 1) // SH + 1, (W - (KW - 1) * DW - 1) // SW + 1,
    C)``. Exactly one of
    ``divisor`` (the constant ``c`` the sum is divided by) and ``factor`` (the
    constant ``f`` it is multiplied by) is given, as the double value of the
    constant (an f32 ``1/9`` is passed as that f32 value, not as ``1/9`` in
    double; nothing here rounds it). ``c`` need not be ``KH * KW``.

    1. ``acc_o = sum over the window of (x - z_x)``, exact; it must fit a
       32-bit signed integer (checked by :func:`rescale`);
    2. ``(m, n) = quantize_multiplier((s_x / c) / s_y)``, or
       ``quantize_multiplier((s_x * f) / s_y)``, in double precision;
    3. ``rescale(acc, m, n, out_type, rounding=rounding)``: one rounded
       division, no float.
    """
    if rounding not in ROUNDING_MODES:
        raise ValueError(f"rounding must be one of {ROUNDING_MODES}, got {rounding!r}")
    s_x = _per_tensor_scale(x_type, "input")
    s_y = _per_tensor_scale(out_type, "result")
    kh, kw = _positive_int_pair(window, "window")
    sh, sw = _positive_int_pair(strides, "strides")
    dh, dw = _positive_int_pair(dilations, "dilations")
    if (divisor is None) == (factor is None):
        raise ValueError("give exactly one of divisor and factor")

    x = _check_stored(xq, x_type)
    if x.ndim != 4:
        raise ValueError(f"the input must be NHWC (rank 4), got rank {x.ndim}")
    batch, height, width, channels = x.shape
    # The window's extent, dilated.
    eh, ew = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    if eh > height or ew > width:
        raise ValueError(f"window {(kh, kw)} dilated by {(dh, dw)} is larger than the input's H, W "
                         f"{(height, width)}")
    oh = (height - eh) // sh + 1
    ow = (width - ew) // sw + 1

    if divisor is not None:
        real = (s_x / _positive_real(divisor, "divisor")) / s_y
    else:
        real = (s_x * _positive_real(factor, "factor")) / s_y
    m, n = quantize_multiplier(real)

    d = x - x_type.zero_points  # |d| < 2^33
    acc = np.zeros((batch, oh, ow, channels), dtype=np.int64)
    for i in range(kh):
        for j in range(kw):
            # Element (i, j) of every window: rows i*DH, i*DH + SH, ...,
            # i*DH + SH*(OH-1).
            r, c = i * dh, j * dw
            acc += d[:, r : r + sh * (oh - 1) + 1 : sh, c : c + sw * (ow - 1) + 1 : sw, :]
    # |acc| < KH*KW*2^33; rescale rejects anything outside the 32-bit range
    # before any product is formed (int64 cannot overflow for windows below
    # 2^30 elements).
    return rescale(acc, [m], [n], out_type, rounding=rounding)


# ---------------------------------------------------------------------------
# Parsing and printing of the upstream `!quant.uniform` syntax.
# ---------------------------------------------------------------------------

# MLIR float literals need a '.': [0-9]+ '.' [0-9]* ([eE] [-+]? [0-9]+)?
_TOKEN = re.compile(
    r"\s*(?:"
    r"(?P<float>[-+]?[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?)"
    r"|(?P<int>[-+]?[0-9]+)"
    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_.]*)"
    r"|(?P<punct>[!<>:,{}])"
    r")"
)
_STORAGE = re.compile(r"([iu])([0-9]+)")


class _Parser:
    """Recursive-descent parser over the tokens of one type."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        stripped = text.rstrip()
        while pos < len(stripped):
            m = _TOKEN.match(stripped, pos)
            if m is None or m.end() == pos:
                raise ValueError(f"unexpected character at offset {pos} in {text!r}")
            self.tokens.append((m.lastgroup, m.group(m.lastgroup)))
            pos = m.end()
        self.pos = 0

    def error(self, what: str) -> ValueError:
        found = self.tokens[self.pos][1] if self.pos < len(self.tokens) else "end of input"
        return ValueError(f"expected {what}, found {found!r} in {self.text!r}")

    def peek(self, value: str) -> bool:
        return self.pos < len(self.tokens) and self.tokens[self.pos][1] == value

    def accept(self, value: str) -> bool:
        if self.peek(value):
            self.pos += 1
            return True
        return False

    def expect(self, value: str) -> None:
        if not self.accept(value):
            raise self.error(repr(value))

    def take(self, kind: str) -> str:
        if self.pos < len(self.tokens) and self.tokens[self.pos][0] == kind:
            self.pos += 1
            return self.tokens[self.pos - 1][1]
        raise self.error({"int": "an integer", "float": "a float literal", "ident": "a name"}[kind])

    def integer(self) -> int:
        return int(self.take("int"))

    def at_end(self) -> bool:
        return self.pos == len(self.tokens)

    def param(self) -> tuple[float, int]:
        """``scale`` or ``scale:zero_point``."""
        scale = float(self.take("float"))
        zero_point = self.integer() if self.accept(":") else 0
        return scale, zero_point

    def param_tree(self):
        """A parameter, or a ``{...}`` list of parameter trees."""
        if not self.accept("{"):
            return self.param()
        items = [self.param_tree()]
        while self.accept(","):
            items.append(self.param_tree())
        self.expect("}")
        return items


def _tree_to_arrays(tree) -> tuple[np.ndarray, np.ndarray]:
    """Nested lists of ``(scale, zp)`` leaves to rectangular scale/zp arrays."""
    shape = []
    level = tree
    while isinstance(level, list):
        shape.append(len(level))
        level = level[0]

    scales, zero_points = [], []

    def walk(node, depth: int) -> None:
        if depth == len(shape):
            if isinstance(node, list):
                raise ValueError("ragged parameter tensor")
            scales.append(node[0])
            zero_points.append(node[1])
            return
        if not isinstance(node, list) or len(node) != shape[depth]:
            raise ValueError("ragged parameter tensor")
        for child in node:
            walk(child, depth + 1)

    walk(tree, 0)
    return (
        np.array(scales, dtype=np.float64).reshape(shape),
        np.array(zero_points, dtype=np.int64).reshape(shape),
    )


def parse_quant_type(text: str, shape: tuple[int, ...] | None = None) -> QuantType:
    """Parse the upstream ``!quant.uniform<...>`` syntax (the ``!`` is optional).

    Storage ``iN``/``uN`` with an optional ``<qmin:qmax>``, expressed type,
    then one of ``, s[:z]`` (per-tensor), ``:axis, {s[:z], ...}`` (per-axis)
    or ``:{axis:block, ...}, {{...}}`` (sub-channel; the nesting of braces is
    the rank of the parameter tensor, which is the tensor's rank). The type
    itself determines every parameter; when ``shape`` is given, the type is
    also checked against a tensor of that shape as the verifiers do.
    """
    p = _Parser(text)
    p.accept("!")
    if p.take("ident") != "quant.uniform":
        raise ValueError(f"expected '!quant.uniform' in {text!r}")
    p.expect("<")

    storage = _STORAGE.fullmatch(p.take("ident"))
    if storage is None:
        raise ValueError(f"bad storage type in {text!r}")
    signed, bits = storage.group(1) == "i", int(storage.group(2))
    qmin = qmax = None
    if p.accept("<"):
        qmin = p.integer()
        p.expect(":")
        qmax = p.integer()
        p.expect(">")
    p.expect(":")
    expressed = p.take("ident")

    axis = block_sizes = None
    if p.accept(":"):
        if p.accept("{"):
            block_sizes = {}
            while True:
                a = p.integer()
                p.expect(":")
                if a in block_sizes:
                    raise ValueError(f"axis {a} listed twice in {text!r}")
                block_sizes[a] = p.integer()
                if not p.accept(","):
                    break
            p.expect("}")
        else:
            axis = p.integer()
    p.expect(",")
    tree = p.param_tree()
    p.expect(">")
    if not p.at_end():
        raise p.error("end of input")

    if axis is None and block_sizes is None:
        if isinstance(tree, list):
            raise ValueError(f"per-tensor type with a parameter list in {text!r}")
        scales, zero_points = np.array(tree[0]), np.array(tree[1])
    else:
        if not isinstance(tree, list):
            raise ValueError(f"expected a '{{...}}' parameter list in {text!r}")
        scales, zero_points = _tree_to_arrays(tree)
        if axis is not None and scales.ndim != 1:
            raise ValueError(f"per-axis parameters must be a flat list in {text!r}")
        if block_sizes is not None and not signed:
            # MLIR prints a sub-channel type's zero points as signed
            # integers of the storage width whatever its signedness (12 of a
            # u4 type as -4): an unsigned zero point is never negative.
            zero_points = np.where(zero_points < 0, zero_points + (1 << bits), zero_points)

    qtype = QuantType(
        storage_bits=bits,
        signed=signed,
        qmin=qmin,
        qmax=qmax,
        expressed=expressed,
        scales=scales,
        zero_points=zero_points,
        axis=axis,
        block_sizes=block_sizes,
    )
    if shape is not None:
        _element_params(qtype, tuple(shape))
    return qtype


def _format_float(value: float) -> str:
    """Shortest round-tripping decimal (``repr``) written as an MLIR float literal."""
    text = repr(float(value))
    mantissa, e, exponent = text.partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    return mantissa + e + exponent


def _format_param(scale: float, zero_point: int) -> str:
    text = _format_float(scale)
    return text if zero_point == 0 else f"{text}:{int(zero_point)}"


def _format_tree(scales: np.ndarray, zero_points: np.ndarray) -> str:
    if scales.ndim == 0:
        return _format_param(scales, zero_points)
    return "{" + ", ".join(_format_tree(s, z) for s, z in zip(scales, zero_points)) + "}"


def format_quant_type(qtype: QuantType) -> str:
    """Print a type in the syntax :func:`parse_quant_type` reads.

    The storage range is printed only when it is narrowed, a zero point only
    when it is non-zero, blocked axes in increasing order.
    """
    storage = f"{'i' if qtype.signed else 'u'}{qtype.storage_bits}"
    if (qtype.qmin, qtype.qmax) != _storage_range(qtype.storage_bits, qtype.signed):
        storage += f"<{qtype.qmin}:{qtype.qmax}>"
    head = f"{storage}:{qtype.expressed}"
    if qtype.kind == "per_axis":
        head += f":{qtype.axis}"
    elif qtype.kind == "sub_channel":
        blocks = ", ".join(f"{a}:{b}" for a, b in sorted(qtype.block_sizes.items()))
        head += ":{" + blocks + "}"
    return f"!quant.uniform<{head}, {_format_tree(qtype.scales, qtype.zero_points)}>"


def lookup(codes, codebook, axis: int, bits: int) -> np.ndarray:
    """qnn.lookup (docs/Semantics.md): `codes` hold K-bit codes (`bits`),
    read as unsigned (negative values are their two's complement bits), and
    `codebook` one row of 2^K entries per index of `axis`:
    `y[i] = codebook[i_axis, zext(codes[i])]`. Entries are copied (stored
    values or floats alike)."""
    codes = np.asarray(codes)
    codebook = np.asarray(codebook)
    if not 1 <= bits <= 8:
        raise ValueError(f"codes must be 1 to 8 bits, got {bits}")
    if codebook.ndim != 2 or codebook.shape[1] != 2 ** bits:
        raise ValueError(f"codebook must be [channels, {2 ** bits}], got {codebook.shape}")
    if not 0 <= axis < codes.ndim or codes.shape[axis] != codebook.shape[0]:
        raise ValueError(f"codes axis {axis} must have the codebook's {codebook.shape[0]} channels")
    index = codes.astype(np.int64) & (2 ** bits - 1)
    channel = np.arange(codes.shape[axis]).reshape([-1 if d == axis else 1 for d in range(codes.ndim)])
    return codebook[np.broadcast_to(channel, codes.shape), index]



def _reduced_axes(shape, parameter_shape) -> tuple[int, ...]:
    """The axes a run-time parameter of ``parameter_shape`` covers (size 1)."""
    if len(parameter_shape) != len(shape):
        raise ValueError(f"parameters of shape {tuple(parameter_shape)} must have the rank of {tuple(shape)}")
    axes = []
    for axis, (size, psize) in enumerate(zip(shape, parameter_shape)):
        if psize == 1:
            axes.append(axis)
        elif psize != size:
            raise ValueError(f"parameter axis {axis} has size {psize}: it must be 1 or {size}")
    return tuple(axes)


def dynamic_quantize(x, parameter_shape, bits: int = 8, signed: bool = False,
                     symmetric: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``qnn.dynamic_quantize`` (docs/Semantics.md, "Dynamic quantization").

    Returns (stored values as int64, scales as float32, zero points as int64),
    the parameters of ``parameter_shape`` (the rank of ``x``, size 1 on the
    axes one parameter covers). Every step is one IEEE float32 operation.
    """
    x = np.asarray(x)
    if x.dtype != np.float32:
        raise ValueError(f"dynamic_quantize takes float32 values, got {x.dtype}")
    if symmetric and not signed:
        raise ValueError("symmetric dynamic quantization needs signed storage")
    qmin, qmax = _storage_range(bits, signed)
    axes = _reduced_axes(x.shape, parameter_shape)
    f32 = np.float32
    with np.errstate(all="ignore"):
        # 1. The range of the finite elements, always containing 0: a
        # non-finite element read as 0 changes neither bound.
        finite = np.where(np.isfinite(x), x, f32(0))
        lo = np.minimum(finite.min(axis=axes, keepdims=True), f32(0)).astype(f32)
        hi = np.maximum(finite.max(axis=axes, keepdims=True), f32(0)).astype(f32)
        if symmetric:
            m = np.maximum(-lo, hi)  # exact
            s = np.where(m == 0, f32(1), m / f32(qmax)).astype(f32)
            z = np.zeros(s.shape, dtype=np.int64)
        else:
            s = np.where(hi == lo, f32(1), (hi - lo) / f32(qmax - qmin)).astype(f32)
            shifted = (f32(qmin) - lo / s).astype(f32)
            z = np.rint(np.clip(shifted, f32(qmin), f32(qmax))).astype(np.int64)
        # 3. qnn.quantize, half to even, with the group's (s, z).
        v = (x / s).astype(np.float64)
        is_nan = np.isnan(v)
        r = np.rint(np.where(is_nan, 0.0, v))
        q = np.clip(r, (qmin - z).astype(np.float64), (qmax - z).astype(np.float64)).astype(np.int64) + z
        q = np.where(is_nan, np.broadcast_to(z, q.shape), q)
    return q.astype(np.int64), s, z


def dynamic_dequantize(q, scale, zero_point) -> np.ndarray:
    """``qnn.dynamic_dequantize``: ``f32(q - z) * s`` in float32."""
    q = np.asarray(q, dtype=np.int64)
    scale = np.asarray(scale, dtype=np.float32)
    zero_point = np.asarray(zero_point, dtype=np.int64)
    _reduced_axes(q.shape, scale.shape)
    return (q - zero_point).astype(np.float32) * scale


def dynamic_contraction_epilogue(acc, x_scale, w_scales, init=None) -> np.ndarray:
    """Step 2-3 of a dynamically quantized contraction: ``c + f32(acc) * m``.

    ``acc`` holds the exact integer sums (int64, within i32), ``x_scale`` the
    run-time activation scales broadcast to ``acc``'s shape, ``w_scales`` the
    weight scales (doubles from the type) broadcast likewise; ``m`` is one
    float32 product, and ``init`` (the contraction's init, e.g. a broadcast
    bias) is added in float32 (0 without one).
    """
    acc = np.asarray(acc, dtype=np.int64)
    if np.any(np.abs(acc) >= 2**31):
        raise ValueError("an accumulator left i32")
    m = np.asarray(x_scale, dtype=np.float32) * np.asarray(w_scales, dtype=np.float64).astype(np.float32)
    y = acc.astype(np.float32) * m
    if init is None:
        return (np.float32(0) + y).astype(np.float32)
    return (np.asarray(init, dtype=np.float32) + y).astype(np.float32)
