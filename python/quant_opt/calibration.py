"""NumPy reference implementation of docs/Calibration.md.

This module is written from the specification alone and is meant to be
compared with the C++ implementation (``qnn-insert-qdq``). Section names in
the docstrings ("The statistics file", "From statistics to a range", "From a
range to a scale and a zero point") refer to docs/Calibration.md.

Conventions:

- All arithmetic is in double precision (Python ``float`` / NumPy
  ``float64``); counts are exact integers.
- ``quantize``/``dequantize`` of a bin center use the formulas of
  docs/Semantics.md with ``C = f64`` and half-to-even rounding:
  ``q = clamp(round_half_even(c / s) + z, qmin, qmax)`` (one IEEE division,
  zero point added after rounding) and ``(q - z) * s``.
- Sums over bins are accumulated sequentially in bin order (bin 0 first), as
  a plain loop does, so that exact ties are reproducible.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "FORMAT",
    "METHODS",
    "NUM_CANDIDATES",
    "VERSION",
    "Histogram",
    "TensorStatistics",
    "choose_parameters",
    "dump_statistics",
    "estimate_range",
    "load_statistics",
    "weight_parameters",
]

FORMAT = "quant-opt-calibration-statistics"
VERSION = 1
METHODS = ("minmax", "percentile", "mse", "entropy")
NUM_CANDIDATES = 128

_INT64_MAX = 2**63 - 1


@dataclass
class Histogram:
    """Equal-width histogram over ``[min, max]`` ("The statistics file").

    Bin ``i`` holds the values in ``[min + i*w, min + (i+1)*w)`` with
    ``w = (max - min) / len(bins)``; the last bin also holds ``max``.
    """

    min: float
    max: float
    bins: np.ndarray

    def __post_init__(self) -> None:
        self.min = float(self.min)
        self.max = float(self.max)
        self.bins = np.array(self.bins, dtype=np.int64).reshape(-1)

    @property
    def width(self) -> float:
        """``w = (hi - lo) / B``."""
        return (self.max - self.min) / self.bins.size

    def centers(self) -> np.ndarray:
        """``c_i = lo + (i + 1/2) * w`` (float64)."""
        i = np.arange(self.bins.size, dtype=np.float64)
        return self.min + (i + 0.5) * self.width

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Histogram):
            return NotImplemented
        return (
            self.min == other.min
            and self.max == other.max
            and np.array_equal(self.bins, other.bins)
        )


@dataclass
class TensorStatistics:
    """Statistics of one ``qnn.observe`` id ("The statistics file")."""

    min: float
    max: float
    count: int
    histogram: Histogram | None = None


# --------------------------------------------------------------------------
# The statistics file
# --------------------------------------------------------------------------


class _Object(dict):
    """A JSON object that remembers the keys it saw more than once."""

    duplicates: list[str]


def _object_pairs(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object()
    obj.duplicates = []
    for key, value in pairs:
        if key in obj:
            obj.duplicates.append(key)
        obj[key] = value
    return obj


class _Validator:
    """Checks a parsed document; every error names the file and JSON path."""

    def __init__(self, filename: str) -> None:
        self.filename = filename

    def fail(self, path: str, message: str) -> None:
        raise ValueError(f"{self.filename}: {path}: {message}")

    @staticmethod
    def child(path: str, key: str) -> str:
        return key if path == "$" else f"{path}.{key}"

    def object(
        self, value: Any, path: str, required: tuple[str, ...], optional: tuple[str, ...] = ()
    ) -> dict:
        if not isinstance(value, dict):
            self.fail(path, "expected an object")
        for key in getattr(value, "duplicates", []):
            self.fail(self.child(path, key), "duplicate key")
        for key in value:
            if key not in required and key not in optional:
                self.fail(self.child(path, key), "unknown key")
        for key in required:
            if key not in value:
                self.fail(self.child(path, key), "missing required key")
        return value

    def number(self, value: Any, path: str) -> float:
        # JSON true/false parse to bool, a subclass of int: not a number.
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(path, "expected a number")
        try:
            result = float(value)
        except OverflowError:
            result = math.inf
        if not math.isfinite(result):
            self.fail(path, "expected a finite number")
        return result

    def count(self, value: Any, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.fail(path, "expected a non-negative integer")
        if value > _INT64_MAX:
            self.fail(path, "integer does not fit in 64 bits")
        return int(value)


def _parse_document(doc: Any, filename: str) -> dict[str, TensorStatistics]:
    v = _Validator(filename)
    v.object(doc, "$", ("format", "version", "tensors"))
    if doc["format"] != FORMAT:
        v.fail("format", f'expected "{FORMAT}"')
    version = doc["version"]
    if isinstance(version, bool) or not isinstance(version, int) or version != VERSION:
        v.fail("version", f"expected {VERSION}")
    tensors = doc["tensors"]
    if not isinstance(tensors, dict):
        v.fail("tensors", "expected an object")
    for key in getattr(tensors, "duplicates", []):
        v.fail(f"tensors.{key}", "duplicate key")

    result: dict[str, TensorStatistics] = {}
    for name, entry in tensors.items():
        path = f"tensors.{name}"
        v.object(entry, path, ("min", "max", "count"), ("histogram",))
        lo = v.number(entry["min"], f"{path}.min")
        hi = v.number(entry["max"], f"{path}.max")
        count = v.count(entry["count"], f"{path}.count")
        if not lo <= hi:
            v.fail(path, f"min ({lo!r}) is greater than max ({hi!r})")
        histogram = None
        if "histogram" in entry:
            hpath = f"{path}.histogram"
            h = v.object(entry["histogram"], hpath, ("min", "max", "bins"))
            hlo = v.number(h["min"], f"{hpath}.min")
            hhi = v.number(h["max"], f"{hpath}.max")
            if not hlo < hhi:
                v.fail(hpath, f"min ({hlo!r}) must be less than max ({hhi!r})")
            bins = h["bins"]
            if not isinstance(bins, list):
                v.fail(f"{hpath}.bins", "expected an array")
            if not bins:
                v.fail(f"{hpath}.bins", "expected at least one bin")
            counts = [v.count(b, f"{hpath}.bins[{i}]") for i, b in enumerate(bins)]
            histogram = Histogram(hlo, hhi, np.array(counts, dtype=np.int64))
        result[name] = TensorStatistics(lo, hi, count, histogram)
    return result


def load_statistics(path: str | os.PathLike) -> dict[str, TensorStatistics]:
    """Read and validate a statistics file ("The statistics file").

    Raises ``ValueError`` whose message starts with the file name and, for a
    malformed document, the JSON path of the offending value, e.g.
    ``stats.json: tensors.conv1.histogram.bins[2]: expected a non-negative
    integer``. The root object is written ``$``.
    """
    filename = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{filename}: not UTF-8 text: {e}") from None
    try:
        doc = json.loads(text, object_pairs_hook=_object_pairs)
    except json.JSONDecodeError as e:
        raise ValueError(f"{filename}: invalid JSON: {e}") from None
    return _parse_document(doc, filename)


def _document(stats: dict[str, TensorStatistics]) -> dict:
    tensors: dict[str, Any] = {}
    for name, st in stats.items():
        entry: dict[str, Any] = {"min": float(st.min), "max": float(st.max), "count": int(st.count)}
        if st.histogram is not None:
            h = st.histogram
            entry["histogram"] = {
                "min": float(h.min),
                "max": float(h.max),
                "bins": [int(b) for b in np.asarray(h.bins).reshape(-1)],
            }
        tensors[str(name)] = entry
    return {"format": FORMAT, "version": VERSION, "tensors": tensors}


def dump_statistics(stats: dict[str, TensorStatistics], path: str | os.PathLike) -> None:
    """Write ``stats`` in the format ``load_statistics`` reads.

    The document is validated first (same rules and messages as loading), so
    nothing is written that could not be read back. Floats are written with
    Python's shortest round-trip representation, so a round trip is exact.
    """
    filename = os.fspath(path)
    doc = _document(stats)
    _parse_document(doc, filename)
    text = json.dumps(doc, indent=2, allow_nan=False)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text + "\n")


# --------------------------------------------------------------------------
# From a range to a scale and a zero point
# --------------------------------------------------------------------------


def _check_storage(qmin: int, qmax: int) -> tuple[int, int]:
    if isinstance(qmin, bool) or isinstance(qmax, bool):
        raise ValueError("qmin and qmax must be integers")
    if int(qmin) != qmin or int(qmax) != qmax:
        raise ValueError("qmin and qmax must be integers")
    qmin, qmax = int(qmin), int(qmax)
    if not qmin < qmax:
        raise ValueError(f"storage range [{qmin}, {qmax}] must hold at least two values")
    return qmin, qmax


def _round_half_even(v: float) -> int:
    # Python's round() of a float is exact round-half-to-even.
    return int(round(v))


def choose_parameters(
    lo: float, hi: float, qmin: int, qmax: int, symmetric: bool
) -> tuple[float, int]:
    """Scale and zero point for the range ``[lo, hi]``.

    "From a range to a scale and a zero point": the range is widened to
    contain 0, then

    - asymmetric: ``s = (hi - lo) / (qmax - qmin)``,
      ``z = clamp(qmin - round_half_even(lo / s), qmin, qmax)``;
    - symmetric: ``z = floor((qmin + qmax + 1) / 2)``,
      ``t = max(|lo|, |hi|)``, ``s = t / (qmax - z)``;
    - an empty range (``s = 0``) gives ``s = 1`` (applied before ``z`` is
      computed in the asymmetric case, so there ``z = qmin``).
    """
    qmin, qmax = _check_storage(qmin, qmax)
    lo, hi = float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"range [{lo!r}, {hi!r}] is not finite")
    if lo > hi:
        raise ValueError(f"range [{lo!r}, {hi!r}] has lo > hi")
    lo = min(lo, 0.0)
    hi = max(hi, 0.0)
    if symmetric:
        z = (qmin + qmax + 1) // 2  # floor division == floor((qmin+qmax+1)/2)
        if qmax - z <= 0:
            raise ValueError(
                f"storage range [{qmin}, {qmax}] is too small for symmetric quantization"
            )
        t = max(abs(lo), abs(hi))
        s = t / (qmax - z)
        if s == 0.0:
            s = 1.0
        return s, z
    s = (hi - lo) / (qmax - qmin)
    if s == 0.0:
        s = 1.0
    z = qmin - _round_half_even(lo / s)
    z = min(max(z, qmin), qmax)
    return s, z


def _quantize(x: np.ndarray, s: float, z: int, qmin: int, qmax: int) -> np.ndarray:
    """Stored values (as exact integer-valued float64) of ``x`` at ``(s, z)``."""
    r = np.rint(x / s)  # np.rint rounds half to even
    return np.clip(r + z, qmin, qmax)


def _dequantize(q: np.ndarray, s: float, z: int) -> np.ndarray:
    return (q - z) * s


# --------------------------------------------------------------------------
# From statistics to a range [lo, hi]
# --------------------------------------------------------------------------


def _sequential_sum(values) -> float:
    total = 0.0
    for v in values:
        total += v
    return total


def _label(name: str | None) -> str:
    return f"tensor {name!r}" if name is not None else "tensor"


def _percentile_q(hist: Histogram, u: float) -> float:
    """``Q(u)``: the inverse of the histogram's CDF, linear inside each bin."""
    bins = [int(b) for b in hist.bins]
    n_total = sum(bins)
    un = u * float(n_total)
    w = hist.width
    c = 0  # C_i
    for i, n in enumerate(bins):
        if n > 0 and c + n >= un:
            return hist.min + (i + (un - c) / n) * w
        c += n
    raise AssertionError("unreachable: some non-empty bin satisfies C_{i+1} >= u*N")


def _candidate(stats: TensorStatistics, k: int, symmetric: bool) -> tuple[float, float]:
    if symmetric:
        t = max(abs(stats.min), abs(stats.max))
        tk = t * k / NUM_CANDIDATES
        return -tk, tk
    return stats.min * k / NUM_CANDIDATES, stats.max * k / NUM_CANDIDATES


def _mse_range(stats, symmetric, qmin, qmax) -> tuple[float, float]:
    hist = stats.histogram
    centers = hist.centers()
    counts = hist.bins.astype(np.float64)
    best_k, best_e = 0, math.inf
    for k in range(1, NUM_CANDIDATES + 1):
        lo, hi = _candidate(stats, k, symmetric)
        s, z = choose_parameters(lo, hi, qmin, qmax, symmetric)
        err = centers - _dequantize(_quantize(centers, s, z, qmin, qmax), s, z)
        e = _sequential_sum((counts * (err * err)).tolist())
        if e <= best_e:  # ties go to the larger k
            best_k, best_e = k, e
    return _candidate(stats, best_k, symmetric)


ENTROPY_LEVELS = 128  # TensorRT's int8 calibrator's target


def _magnitude_width(hist: Histogram) -> float:
    """The magnitude histogram's bin width: the histogram's, or
    ``max(|min|, |max|) / B`` if larger (a histogram far from 0)."""
    magnitude = max(abs(hist.min), abs(hist.min + hist.bins.size * hist.width))
    return max(hist.width, magnitude / hist.bins.size)


def _magnitude_histogram(hist: Histogram) -> list[int]:
    """The histogram of |x|: bins of `_magnitude_width` from 0, each bin
    counted where its center's magnitude falls; then the zero bin takes bin
    1's count."""
    width = _magnitude_width(hist)
    index = [int(math.floor(abs(float(c)) / width)) for c in hist.centers()]
    size = 1 + max(index[0], index[-1])
    magnitudes = [0] * size
    for a, n in zip(index, hist.bins):
        magnitudes[a] += int(n)
    if size > 1:
        magnitudes[0] = magnitudes[1]
    return magnitudes


def _threshold_divergence(n: list[int], i: int) -> float:
    """``KL(P||Q)`` of the threshold at bin edge ``i``: ``P`` the first ``i``
    bins with the rest added to the last; ``Q`` each level's (bin ``j`` is in
    level ``j * 128 // i``) total of the original counts spread over its
    bins with a count."""
    p = list(n[:i])
    p[-1] += sum(n[i:])
    totals = [0] * ENTROPY_LEVELS
    nonempty = [0] * ENTROPY_LEVELS
    for j in range(i):
        level = j * ENTROPY_LEVELS // i
        totals[level] += n[j]
        nonempty[level] += 1 if n[j] > 0 else 0
    q = [totals[j * ENTROPY_LEVELS // i] / nonempty[j * ENTROPY_LEVELS // i] if n[j] > 0 else 0.0
         for j in range(i)]
    sum_p = sum(p)
    if sum_p == 0:
        return 0.0  # the sum over p_j > 0 is empty
    sum_q = _sequential_sum(q)
    if sum_q == 0:
        return math.inf
    kl = 0.0
    for pn, qn in zip(p, q):
        if pn > 0:
            if qn == 0:
                return math.inf  # clipped mass where Q has none
            pj = pn / sum_p
            qj = qn / sum_q
            kl += pj * math.log(pj / qj)
    return kl


def _entropy_range(stats, symmetric) -> tuple[float, float]:
    """TensorRT's threshold search on the magnitude histogram (candidates:
    the bin edges from the 128th, and none that clips more than half of the
    values; the least divergence, ties to the larger threshold), then
    ``[-T, T]`` or ``[min, max]`` clipped to it."""
    n = _magnitude_histogram(stats.histogram)
    best_i, best_kl = len(n), _threshold_divergence(n, len(n))
    # No threshold that clips more than half of the values: the smallest i
    # whose first i bins hold at least half of the total.
    total, below, median = sum(n), 0, len(n)
    for i, count in enumerate(n):
        below += count
        if 2 * below >= total:
            median = i + 1
            break
    first = max(min(ENTROPY_LEVELS, len(n)), median)
    for i in range(len(n) - 1, first - 1, -1):
        kl = _threshold_divergence(n, i)
        if kl < best_kl:
            best_i, best_kl = i, kl
    t = best_i * _magnitude_width(stats.histogram)
    if symmetric:
        return -t, t
    return max(stats.min, -t), min(stats.max, t)


def estimate_range(
    stats: TensorStatistics,
    method: str,
    symmetric: bool,
    qmin: int,
    qmax: int,
    percentile: float = 99.99,
    *,
    name: str | None = None,
) -> tuple[float, float]:
    """The range ``[lo, hi]`` of one tensor ("From statistics to a range").

    ``method`` is ``'minmax'``, ``'percentile'``, ``'mse'`` or ``'entropy'``.
    ``symmetric``, ``qmin`` and ``qmax`` are the parameters the range will be
    turned into (``mse`` and ``entropy`` evaluate each candidate with them;
    ``minmax`` and ``percentile`` ignore them). ``percentile`` is ``p``.
    ``name`` (the ``qnn.observe`` id) is only used in error messages.

    The candidate ranges of ``mse``/``entropy`` are returned as written in
    the spec, before widening to contain 0: asymmetric
    ``[min*k/128, max*k/128]``, symmetric ``[-t*k/128, t*k/128]``.
    """
    if method not in METHODS:
        raise ValueError(f"unknown calibration method {method!r}; expected one of {METHODS}")
    qmin, qmax = _check_storage(qmin, qmax)
    if method == "minmax":
        return float(stats.min), float(stats.max)
    if stats.histogram is None:
        raise ValueError(f"{_label(name)}: method {method!r} needs a histogram, but none was recorded")
    if method == "percentile":
        p = float(percentile)
        if not 50.0 <= p <= 100.0:
            raise ValueError(f"percentile must be within [50, 100], got {percentile!r}")
        if int(stats.histogram.bins.sum()) == 0:
            raise ValueError(f"{_label(name)}: method 'percentile' needs a non-empty histogram")
        u_hi = p / 100.0
        u_lo = 1.0 - u_hi
        lo = _percentile_q(stats.histogram, u_lo)
        hi = _percentile_q(stats.histogram, u_hi)
        lo = min(max(lo, stats.min), stats.max)
        hi = min(max(hi, stats.min), stats.max)
        return float(lo), float(hi)
    if method == "mse":
        return _mse_range(stats, symmetric, qmin, qmax)
    return _entropy_range(stats, symmetric)


# --------------------------------------------------------------------------
# Weights
# --------------------------------------------------------------------------


def weight_parameters(
    values: np.ndarray,
    qmin: int,
    qmax: int,
    symmetric: bool,
    axis: int | None = None,
    block: dict[int, int] | None = None,
    widen=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Scales (float64) and zero points (int64) of a weight tensor.

    The range of the whole tensor (``axis`` and ``block`` None: 0-d
    results), of each index along ``axis`` (per-channel: shape
    ``(values.shape[axis],)``) or of each block (``block = {axis: size}``:
    full-rank results of shape ``values.shape[d] // size`` along each listed
    axis and 1 along the others, which form a single block) is its
    ``[min, max]``, then ``choose_parameters`` applies. ``widen`` (broadcast
    against the ranges' shape) widens each range to contain ``[-widen,
    widen]`` first: docs/Calibration.md, "Weights and the bias".
    """
    qmin, qmax = _check_storage(qmin, qmax)
    x = np.asarray(values)
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise ValueError(f"weights must be real numbers, got dtype {x.dtype}")
    x = x.astype(np.float64)  # exact for every float16/32/64 value
    if x.size == 0:
        raise ValueError("weights must not be empty")
    if not np.isfinite(x).all():
        raise ValueError("weights must be finite")
    if axis is not None and block is not None:
        raise ValueError("weights are quantized per channel or per group, not both")

    if axis is not None:
        axis = int(axis)
        if not 0 <= axis < x.ndim:
            raise ValueError(f"channel axis {axis} is not within rank {x.ndim}")
        others = tuple(d for d in range(x.ndim) if d != axis)
        mins, maxs = x.min(axis=others), x.max(axis=others)
    elif block is not None:
        block = {int(a): int(b) for a, b in block.items()}
        if not block:
            raise ValueError("per-group quantization needs at least one blocked axis")
        for d in block:
            if not 0 <= d < x.ndim:
                raise ValueError(f"blocked axis {d} is not within rank {x.ndim}")
        split_shape: list[int] = []
        for d, size in enumerate(x.shape):
            if d in block:
                b = block[d]
                if b < 1:
                    raise ValueError(f"block size along axis {d} must be positive")
                if size % b != 0:
                    raise ValueError(f"block size {b} does not divide axis {d} of size {size}")
                split_shape += [size // b, b]
            else:
                split_shape += [1, size]
        inner = tuple(range(1, 2 * x.ndim, 2))
        blocks = x.reshape(split_shape)
        mins, maxs = blocks.min(axis=inner), blocks.max(axis=inner)
    else:
        mins, maxs = np.array(x.min()), np.array(x.max())

    if widen is not None:
        reach = np.broadcast_to(np.asarray(widen, dtype=np.float64), mins.shape)
        mins, maxs = np.minimum(mins, -reach), np.maximum(maxs, reach)
    scales = np.empty(mins.shape, dtype=np.float64)
    zero_points = np.empty(mins.shape, dtype=np.int64)
    for idx in np.ndindex(mins.shape):
        s, z = choose_parameters(float(mins[idx]), float(maxs[idx]), qmin, qmax, symmetric)
        scales[idx] = s
        zero_points[idx] = z
    return scales, zero_points


def merge_statistics(
    first: dict[str, TensorStatistics], second: dict[str, TensorStatistics]
) -> dict[str, TensorStatistics]:
    """Merges the statistics of two runs ("Merging statistics").

    Ids of one side only are kept; for ids on both sides the ranges widen,
    the counts add, and histograms of the same range and bin count add bin
    by bin. Different histogram ranges raise ``ValueError`` naming the id.
    """
    merged = dict(first)
    for name, b in second.items():
        a = merged.get(name)
        if a is None:
            merged[name] = b
            continue
        if (a.histogram is None) != (b.histogram is None):
            raise ValueError(f"{name}: only one side has a histogram")
        histogram = None
        if a.histogram is not None:
            ha, hb = a.histogram, b.histogram
            if (ha.min, ha.max, len(ha.bins)) != (hb.min, hb.max, len(hb.bins)):
                raise ValueError(
                    f"{name}: histograms over different ranges or bin counts "
                    f"([{ha.min}, {ha.max}] x {len(ha.bins)} and "
                    f"[{hb.min}, {hb.max}] x {len(hb.bins)})"
                )
            histogram = Histogram(ha.min, ha.max,
                                  np.asarray(ha.bins, np.int64) + np.asarray(hb.bins, np.int64))
        merged[name] = TensorStatistics(
            min(a.min, b.min), max(a.max, b.max), a.count + b.count, histogram
        )
    return merged
