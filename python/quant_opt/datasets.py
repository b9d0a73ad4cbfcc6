"""The small image data sets the bundled models (``models/``) are trained on.

Where the data comes from:

- ``fashion-mnist``: Zalando's Fashion-MNIST (60 000 training and 10 000
  test images, 28x28 grey levels, 10 classes), read from the idx files that
  Debian's ``dataset-fashion-mnist`` package installs under
  ``/usr/share/datasets/fashion-mnist`` (``{train,t10k}-images-idx3-ubyte.gz``
  and ``{train,t10k}-labels-idx1-ubyte.gz``). The environment variable
  ``QUANT_OPT_FASHION_MNIST_DIR`` points elsewhere. Images are
  ``pixel / 255`` in float32 (no mean/std normalisation); the ``train`` and
  ``test`` splits are the data set's own, in file order.
- ``digits``: the UCI optical recognition of handwritten digits test set as
  scikit-learn ships it (``sklearn.datasets.load_digits``, Debian package
  ``python3-sklearn``; 1797 images, 8x8, grey levels 0..16, 10 classes).
  Images are ``pixel / 16`` in float32. The data set has no split of its
  own: a permutation from ``numpy.random.default_rng(0)`` puts its first 500
  samples in ``test`` and the rest (1297) in ``train``, both in permuted
  order.

The ``calibration`` split is a subset of ``train``: the first 1000
(fashion-mnist) or 200 (digits) samples of a permutation of the train split
from ``numpy.random.default_rng(1)``. The ``validation`` split is the next
10 000 (fashion-mnist) or 500 (digits) samples of the same permutation: also
from ``train``, disjoint from ``calibration``, for choices that must not
look at the test split (quant-mixed's search).

``load`` returns ``(images, labels)``: images float32 NCHW ``(N, 1, H, W)``,
normalised exactly as the models were trained, and labels int64 ``(N,)``.
This module needs NumPy only (and scikit-learn for ``digits``); Debian's
``libdeflate0``, where installed, decompresses the idx files faster.
"""

from __future__ import annotations

import functools
import gzip
import os
from pathlib import Path

import numpy as np

__all__ = ["NAMES", "SPLITS", "FASHION_MNIST_DIR", "load", "split_size"]

NAMES = ("fashion-mnist", "digits")
SPLITS = ("train", "test", "calibration", "validation")

FASHION_MNIST_DIR = Path(
    os.environ.get("QUANT_OPT_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
)

_DIGITS_TEST_SIZE = 500
_DIGITS_SPLIT_SEED = 0
_CALIBRATION_SEED = 1
_CALIBRATION_SIZE = {"fashion-mnist": 1000, "digits": 200}
_VALIDATION_SIZE = {"fashion-mnist": 10000, "digits": 500}

# idx magic numbers: two zero bytes, the element type (0x08 = unsigned byte),
# the number of dimensions.
_IDX_UBYTE = 0x08


@functools.lru_cache(maxsize=None)
def _libdeflate():
    """libdeflate (Debian's libdeflate0) through ctypes, or None."""
    import ctypes
    import ctypes.util
    name = ctypes.util.find_library("deflate")
    try:
        lib = ctypes.CDLL(name or "libdeflate.so.0")
        decompress = lib.libdeflate_gzip_decompress_ex
    except (OSError, AttributeError):
        return None
    lib.libdeflate_alloc_decompressor.restype = ctypes.c_void_p
    lib.libdeflate_free_decompressor.argtypes = [ctypes.c_void_p]
    size = ctypes.POINTER(ctypes.c_size_t)
    decompress.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_void_p,
                           ctypes.c_size_t, size, size]
    return lib


def _gunzip(data: bytes) -> bytes | memoryview:
    """The contents of a gzip file: with libdeflate where it is installed
    (2.5x zlib's speed; the size is the trailer's, and the whole file must
    be one member of exactly that size, its CRC checked), else in one call
    of zlib (gzip.open's reader decompresses in small chunks, twice as
    slow)."""
    lib = _libdeflate()
    # The trailer's size, if DEFLATE can expand the file that much (at most
    # 1032:1): a damaged trailer is left to zlib's error.
    size = int.from_bytes(data[-4:], "little") if len(data) >= 18 else -1
    if lib is not None and 0 <= size <= 1032 * len(data):
        import ctypes
        out = bytearray(size)
        consumed, produced = ctypes.c_size_t(), ctypes.c_size_t()
        decompressor = lib.libdeflate_alloc_decompressor()
        if decompressor:
            try:
                result = lib.libdeflate_gzip_decompress_ex(
                    decompressor, data, len(data), (ctypes.c_char * size).from_buffer(out) if size else None,
                    size, ctypes.byref(consumed), ctypes.byref(produced))
            finally:
                lib.libdeflate_free_decompressor(decompressor)
            if result == 0 and consumed.value == len(data) and produced.value == size:
                return memoryview(out).toreadonly()
    return gzip.decompress(data)


def _read_idx(path: Path, ndim: int) -> np.ndarray:
    """Reads a gzip-compressed idx file of unsigned bytes with ``ndim`` dims."""
    if not path.is_file():
        raise FileNotFoundError(
            f"Fashion-MNIST file {path} not found; the Debian package "
            f"'dataset-fashion-mnist' provides it (apt-get install "
            f"dataset-fashion-mnist), or set QUANT_OPT_FASHION_MNIST_DIR"
        )
    data = _gunzip(path.read_bytes())
    magic = bytes(data[:4])
    if magic != bytes([0, 0, _IDX_UBYTE, ndim]):
        raise ValueError(
            f"{path}: not an idx file of unsigned bytes with {ndim} dimensions "
            f"(magic {magic.hex()}, expected 0000{_IDX_UBYTE:02x}{ndim:02x})"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated idx header ({len(data)} bytes)")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(dims)) + header
    if len(data) != expected:
        raise ValueError(
            f"{path}: {len(data)} bytes, expected {expected} for dimensions {dims}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


@functools.lru_cache(maxsize=None)
def _fashion_raw(split: str) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 images (N, 28, 28), uint8 labels (N,)) of 'train' or 'test'."""
    prefix = "train" if split == "train" else "t10k"
    images = _read_idx(FASHION_MNIST_DIR / f"{prefix}-images-idx3-ubyte.gz", 3)
    labels = _read_idx(FASHION_MNIST_DIR / f"{prefix}-labels-idx1-ubyte.gz", 1)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"Fashion-MNIST {split}: {images.shape[0]} images but "
            f"{labels.shape[0]} labels"
        )
    return images, labels


@functools.lru_cache(maxsize=None)
def _digits_raw() -> tuple[np.ndarray, np.ndarray]:
    """(float64 images (1797, 8, 8) in 0..16, int labels (1797,)), file order."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:
        raise ImportError(
            "the 'digits' data set is scikit-learn's load_digits(); install "
            "Debian's python3-sklearn (or scikit-learn)"
        ) from e
    digits = load_digits()
    return digits.images, digits.target


def _fashion(split: str) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, 28, 28) and labels of 'train' or 'test'."""
    return _fashion_raw(split)


def _digits(split: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 8, 8) in 0..16 and labels of 'train' or 'test'."""
    images, labels = _digits_raw()
    perm = np.random.default_rng(_DIGITS_SPLIT_SEED).permutation(len(labels))
    idx = perm[:_DIGITS_TEST_SIZE] if split == "test" else perm[_DIGITS_TEST_SIZE:]
    return images[idx], labels[idx]


# Maximum pixel value of each data set: images are pixel / _SCALE[name].
_SCALE = {"fashion-mnist": 255.0, "digits": 16.0}


def split_size(name: str, split: str) -> int | None:
    """The sample count of a split, where known without loading the data
    (``calibration`` and ``validation``); None otherwise (and for a name
    that is not a data set's)."""
    if split == "calibration":
        return _CALIBRATION_SIZE.get(name)
    if split == "validation":
        return _VALIDATION_SIZE.get(name)
    return None


def load(name: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Returns ``(images, labels)`` of data set ``name``, split ``split``.

    ``name`` is one of ``NAMES`` ("fashion-mnist", "digits"); ``split`` one of
    ``SPLITS`` ("train", "test", "calibration", "validation"). Images are float32
    ``(N, 1, H, W)`` (28x28 for fashion-mnist, 8x8 for digits) in [0, 1];
    labels are int64 in 0..9. Every call returns fresh arrays.
    """
    if name not in NAMES:
        raise ValueError(f"unknown data set {name!r}; expected one of {', '.join(NAMES)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    loader = _fashion if name == "fashion-mnist" else _digits
    images, labels = loader("test" if split == "test" else "train")
    if split in ("calibration", "validation"):
        perm = np.random.default_rng(_CALIBRATION_SEED).permutation(len(labels))
        start = 0 if split == "calibration" else _CALIBRATION_SIZE[name]
        size = _CALIBRATION_SIZE[name] if split == "calibration" else _VALIDATION_SIZE[name]
        idx = perm[start:start + size]
        images, labels = images[idx], labels[idx]
    x = images.astype(np.float32) / np.float32(_SCALE[name])
    return np.ascontiguousarray(x[:, None, :, :]), labels.astype(np.int64)
