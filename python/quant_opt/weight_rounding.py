"""NumPy reference of the calibration-driven weight repairs
(docs/Quantization.md, "Data-driven repair: GPTQ rounding and bias
correction"): the contraction statistics, GPTQ rounding and bias correction.

quant-opt's passes `qnn-round-weights-gptq` and `qnn-correct-bias` read the
statistics file this module writes (`write_statistics`); the tests compare
their weights and biases with `gptq` and `correct_bias` here.

Layouts are those of the IR's weights: `nhwc` convolutions `[KH, KW, C, F]`
(reduction index `k = (kh, kw, c)` flattened row-major, output channel `F`),
`depthwise` `[KH, KW, C]` (each channel its own reduction over `(kh, kw)`),
`matmul` `[K, N]`. All arithmetic is in double precision.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .calibration import weight_parameters

FORMAT = "quant-opt-contraction-statistics"


# --- statistics -----------------------------------------------------------


def patches(x: np.ndarray, kind: str, kernel: tuple[int, int], strides, dilations) -> np.ndarray:
    """The rows a contraction multiplies its weights with: im2col patches
    `[N*OH*OW, KH*KW*C]` of an (already padded) NHWC input for `nhwc` and
    `depthwise`, the rows `[M, K]` of a 2-D input for `matmul`."""
    if kind == "matmul":
        return x.reshape(-1, x.shape[-1])
    n, h, w, c = x.shape
    kh, kw = kernel
    sh, sw = strides
    dh, dw = dilations
    oh = (h - dh * (kh - 1) - 1) // sh + 1
    ow = (w - dw * (kw - 1) - 1) // sw + 1
    cols = np.empty((n, oh, ow, kh, kw, c), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, :, i, j, :] = x[:, i * dh:i * dh + sh * (oh - 1) + 1:sh,
                                       j * dw:j * dw + sw * (ow - 1) + 1:sw, :]
    return cols.reshape(n * oh * ow, kh * kw * c)


class Accumulator:
    """Sums of the patches and of their outer products over batches."""

    def __init__(self, kind: str, weight_shape: tuple[int, ...]):
        self.kind, self.shape = kind, tuple(weight_shape)
        self.count = 0
        self.sum = None
        self.outer = None
        self.max_abs = None

    def add(self, rows: np.ndarray) -> None:
        rows = rows.astype(np.float64)
        self.count += rows.shape[0]
        s = rows.sum(axis=0)
        if self.kind == "depthwise":
            kk, c = self.shape[0] * self.shape[1], self.shape[2]
            r = rows.reshape(-1, kk, c)
            o = np.einsum("pkc,plc->ckl", r, r)
        else:
            o = rows.T @ rows
        self.sum = s if self.sum is None else self.sum + s
        self.outer = o if self.outer is None else self.outer + o
        m = np.abs(rows).max(axis=0) if rows.shape[0] else np.zeros(rows.shape[1])
        self.max_abs = m if self.max_abs is None else np.maximum(self.max_abs, m)

    def result(self) -> dict:
        """`count`, `mean` (one value per weight along the reduction, in the
        weight's layout without its output axis), `second_moment` (the
        mean outer product: `[K, K]`, or `[C, KH*KW, KH*KW]` for depthwise)
        and `max_abs` (the largest |value| of each column of the rows, as
        `mean`: SmoothQuant's per-channel activation maxima)."""
        return {"count": self.count, "mean": self.sum / self.count,
                "second_moment": self.outer / self.count, "max_abs": self.max_abs}


def write_statistics(path: Path, layers: dict[str, dict]) -> None:
    """The contraction statistics file (docs/Quantization.md)."""
    doc = {"format": FORMAT, "version": 1, "layers": {
        name: {"count": int(s["count"]), "mean": [float(v) for v in np.ravel(s["mean"])],
               "second_moment": [float(v) for v in np.ravel(s["second_moment"])],
               **({"max_abs": [float(v) for v in np.ravel(s["max_abs"])]} if s.get("max_abs") is not None else {})}
        for name, s in layers.items()}}
    Path(path).write_text(json.dumps(doc))


def read_statistics(path: Path) -> dict[str, dict]:
    doc = json.loads(Path(path).read_text())
    if doc.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} file")
    return {name: {"count": s["count"], "mean": np.array(s["mean"], np.float64),
                   "second_moment": np.array(s["second_moment"], np.float64),
                   "max_abs": np.array(s["max_abs"], np.float64) if "max_abs" in s else None}
            for name, s in doc["layers"].items()}


# --- the weights as a matrix ------------------------------------------------


def _as_rows(weight: np.ndarray, kind: str) -> np.ndarray:
    """`[F, K]`: one row per output channel (depthwise: `[C, KH*KW]`)."""
    w = np.asarray(weight, np.float64)
    if kind == "depthwise":
        return w.reshape(-1, w.shape[2]).T
    return w.reshape(-1, w.shape[-1]).T


def _from_rows(rows: np.ndarray, kind: str, shape) -> np.ndarray:
    if kind == "depthwise":
        return rows.T.reshape(shape)
    return rows.T.reshape(shape)


def channel_scales(weight: np.ndarray, kind: str, bits: int) -> np.ndarray:
    """The per-channel symmetric scales qnn-insert-qdq gives the weights
    (narrow signed range `[-(2^(b-1) - 1), 2^(b-1) - 1]`)."""
    qmax = 2 ** (bits - 1) - 1
    axis = 2 if kind == "depthwise" else np.ndim(weight) - 1
    scales, _ = weight_parameters(weight, -qmax, qmax, True, axis=axis)
    return scales


# --- GPTQ ---------------------------------------------------------------------


def _gptq_rows(w: np.ndarray, h: np.ndarray, scales: np.ndarray, qmax: int, damp: float) -> np.ndarray:
    """GPTQ (Frantar et al., 2022, Algorithm 1 with one block): the rows of
    `w` (`[F, K]`) quantized column by column, each column's rounding error
    spread over the columns not yet quantized through the upper Cholesky
    factor of the damped inverse second moment `h` (`[K, K]`)."""
    w = w.copy()
    h = h.copy()
    k = h.shape[0]
    dead = np.diag(h) == 0
    h[dead, dead] = 1.0
    w[:, dead] = 0.0
    h[np.diag_indices(k)] += damp * np.mean(np.diag(h))
    u = np.linalg.cholesky(np.linalg.inv(h)).T  # upper: h^-1 = u^T u
    q = np.zeros(w.shape, np.int64)
    for i in range(k):
        col = np.clip(np.rint(w[:, i] / scales), -qmax, qmax)
        q[:, i] = col
        err = (w[:, i] - col * scales) / u[i, i]
        w[:, i + 1:] -= np.outer(err, u[i, i + 1:])
    return q


def gptq(weight: np.ndarray, kind: str, second_moment: np.ndarray, bits: int = 4,
         damp: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """GPTQ's stored integers (in the weight's layout) and the per-channel
    scales (those of `channel_scales`)."""
    qmax = 2 ** (bits - 1) - 1
    scales = channel_scales(weight, kind, bits)
    rows = _as_rows(weight, kind)
    if kind == "depthwise":
        kk = rows.shape[1]
        h = np.asarray(second_moment, np.float64).reshape(-1, kk, kk)
        q = np.stack([_gptq_rows(rows[c:c + 1], h[c], scales[c:c + 1], qmax, damp)[0]
                      for c in range(rows.shape[0])])
    else:
        k = rows.shape[1]
        q = _gptq_rows(rows, np.asarray(second_moment, np.float64).reshape(k, k), scales, qmax, damp)
    return _from_rows(q, kind, np.shape(weight)).astype(np.int64), scales


def round_to_nearest(weight: np.ndarray, kind: str, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """What qnn-insert-qdq stores (round half to even, clamped), with its scales."""
    qmax = 2 ** (bits - 1) - 1
    scales = channel_scales(weight, kind, bits)
    q = np.clip(np.rint(_as_rows(weight, kind) / scales[:, None]), -qmax, qmax)
    return _from_rows(q, kind, np.shape(weight)).astype(np.int64), scales


def dequantize(q: np.ndarray, scales: np.ndarray, kind: str) -> np.ndarray:
    """The f32 weights the program computes with: `q * s` with `s` in f32
    (docs/Semantics.md, dequantize with a zero point of 0)."""
    axis = 2 if kind == "depthwise" else q.ndim - 1
    shape = [1] * q.ndim
    shape[axis] = -1
    return (q.astype(np.float32) * scales.astype(np.float32).reshape(shape)).astype(np.float32)


# --- bias correction --------------------------------------------------------


def correct_bias(bias: np.ndarray, weight: np.ndarray, quantized: np.ndarray, kind: str,
                 mean: np.ndarray) -> np.ndarray:
    """Nagel et al. 2019 (section 4.2): the quantized contraction's expected
    output exceeds the float one's by `(W_q - W) E[x]` per output channel;
    subtracting it from the bias removes that shift. `quantized` is the
    dequantized weight, `mean` the mean patch (`Accumulator.result`)."""
    delta = _as_rows(quantized, kind) - _as_rows(weight, kind)  # [F, K]
    m = np.asarray(mean, np.float64)
    if kind == "depthwise":
        shift = (delta * m.reshape(-1, delta.shape[0]).T).sum(axis=1)
    else:
        shift = delta @ m
    return (np.asarray(bias, np.float64) - shift).astype(np.float32)
