"""Tests of quant_opt.datasets (needs dataset-fashion-mnist and python3-sklearn)."""

import gzip

import numpy as np
import pytest

from quant_opt import datasets

SHAPES = {
    ("fashion-mnist", "train"): (60000, 1, 28, 28),
    ("fashion-mnist", "test"): (10000, 1, 28, 28),
    ("fashion-mnist", "calibration"): (1000, 1, 28, 28),
    ("digits", "train"): (1797 - 500, 1, 8, 8),
    ("digits", "test"): (500, 1, 8, 8),
    ("digits", "calibration"): (200, 1, 8, 8),
    ("fashion-mnist", "validation"): (10000, 1, 28, 28),
    ("digits", "validation"): (500, 1, 8, 8),
}


@pytest.mark.parametrize("name,split", sorted(SHAPES))
def test_shapes_dtypes_ranges(name, split):
    x, y = datasets.load(name, split)
    assert x.shape == SHAPES[(name, split)]
    assert x.dtype == np.float32 and y.dtype == np.int64
    assert y.shape == (x.shape[0],)
    assert x.flags["C_CONTIGUOUS"]
    assert x.min() == 0.0 and x.max() == 1.0
    assert set(np.unique(y)) == set(range(10))


def test_fashion_scaling_is_pixel_over_255():
    x, _ = datasets.load("fashion-mnist", "test")
    levels = np.unique(x[:100])
    # Every value is k / 255 for an integer k (no mean/std normalisation).
    k = levels * np.float32(255)
    np.testing.assert_allclose(k, np.round(k), atol=1e-4)
    np.testing.assert_array_equal(levels, np.round(k).astype(np.float32) / np.float32(255))


def test_fashion_test_split_is_file_order():
    # The first labels of Fashion-MNIST's t10k file: ankle boot, pullover,
    # trouser, trouser, shirt.
    _, y = datasets.load("fashion-mnist", "test")
    assert y[:5].tolist() == [9, 2, 1, 1, 6]
    assert np.bincount(y).tolist() == [1000] * 10


def test_digits_scaling_is_pixel_over_16():
    x, _ = datasets.load("digits", "train")
    np.testing.assert_array_equal(np.unique(x * 16), np.arange(17, dtype=np.float32))


def test_digits_split_is_deterministic_and_disjoint():
    from sklearn.datasets import load_digits

    digits = load_digits()
    perm = np.random.default_rng(0).permutation(len(digits.target))
    x_train, y_train = datasets.load("digits", "train")
    x_test, y_test = datasets.load("digits", "test")
    # The split is the documented one: test = perm[:500], train = perm[500:].
    np.testing.assert_array_equal(x_test[:, 0] * 16, digits.images[perm[:500]])
    np.testing.assert_array_equal(y_test, digits.target[perm[:500]])
    np.testing.assert_array_equal(x_train[:, 0] * 16, digits.images[perm[500:]])
    np.testing.assert_array_equal(y_train, digits.target[perm[500:]])
    # Disjoint, and together every sample once.
    assert len(y_train) + len(y_test) == len(digits.target)
    assert set(perm[:500]).isdisjoint(perm[500:])
    # Repeated calls give equal (and fresh) arrays.
    x_again, y_again = datasets.load("digits", "test")
    np.testing.assert_array_equal(x_again, x_test)
    np.testing.assert_array_equal(y_again, y_test)
    x_again[0, 0, 0, 0] = 42.0
    assert datasets.load("digits", "test")[0][0, 0, 0, 0] != 42.0


@pytest.mark.parametrize("name,size", [("digits", 200), ("fashion-mnist", 1000)])
def test_calibration_is_seeded_subset_of_train(name, size):
    x_train, y_train = datasets.load(name, "train")
    x_cal, y_cal = datasets.load(name, "calibration")
    idx = np.random.default_rng(1).permutation(len(y_train))[:size]
    np.testing.assert_array_equal(x_cal, x_train[idx])
    np.testing.assert_array_equal(y_cal, y_train[idx])
    x_again, y_again = datasets.load(name, "calibration")
    np.testing.assert_array_equal(x_again, x_cal)
    np.testing.assert_array_equal(y_again, y_cal)


@pytest.mark.parametrize("name,start,size", [("digits", 200, 500), ("fashion-mnist", 1000, 10000)])
def test_validation_follows_calibration_in_the_same_permutation(name, start, size):
    x_train, y_train = datasets.load(name, "train")
    x_val, y_val = datasets.load(name, "validation")
    idx = np.random.default_rng(1).permutation(len(y_train))[start:start + size]
    np.testing.assert_array_equal(x_val, x_train[idx])
    np.testing.assert_array_equal(y_val, y_train[idx])


def test_bad_name():
    with pytest.raises(ValueError, match="unknown data set 'mnist'.*fashion-mnist, digits"):
        datasets.load("mnist", "train")


def test_bad_split():
    with pytest.raises(ValueError, match="unknown split 'val'.*train, test, calibration, validation"):
        datasets.load("digits", "val")


def test_missing_file_names_file_and_package(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "FASHION_MNIST_DIR", tmp_path)
    datasets._fashion_raw.cache_clear()
    try:
        with pytest.raises(FileNotFoundError) as info:
            datasets.load("fashion-mnist", "test")
    finally:
        datasets._fashion_raw.cache_clear()
    message = str(info.value)
    assert str(tmp_path / "t10k-images-idx3-ubyte.gz") in message
    assert "dataset-fashion-mnist" in message


def test_bad_header(tmp_path, monkeypatch):
    with gzip.open(tmp_path / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(bytes([0, 0, 8, 1]) + (3).to_bytes(4, "big") + bytes(3))  # 1-D, not 3-D
    monkeypatch.setattr(datasets, "FASHION_MNIST_DIR", tmp_path)
    datasets._fashion_raw.cache_clear()
    try:
        with pytest.raises(ValueError, match="not an idx file of unsigned bytes with 3 dimensions"):
            datasets.load("fashion-mnist", "test")
    finally:
        datasets._fashion_raw.cache_clear()


def test_truncated_file(tmp_path, monkeypatch):
    with gzip.open(tmp_path / "t10k-images-idx3-ubyte.gz", "wb") as f:
        header = bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in (2, 28, 28))
        f.write(header + bytes(28 * 28))  # one image of two
    monkeypatch.setattr(datasets, "FASHION_MNIST_DIR", tmp_path)
    datasets._fashion_raw.cache_clear()
    try:
        with pytest.raises(ValueError, match="expected .* for dimensions"):
            datasets.load("fashion-mnist", "test")
    finally:
        datasets._fashion_raw.cache_clear()


@pytest.mark.parametrize("kind", ["whole", "two members", "damaged crc", "damaged size", "cut short", "empty"])
def test_gunzip_is_gzip_decompress(kind):
    """libdeflate (where installed) gives zlib's bytes, and zlib's errors
    for what it does not decompress as one whole member."""
    payload = np.random.default_rng(0).integers(0, 4, 100_000, dtype=np.uint8).tobytes()
    data = gzip.compress(payload)
    if kind == "two members":
        data += gzip.compress(payload[:10])
    elif kind == "damaged crc":
        data = data[:-8] + bytes(4) + data[-4:]
    elif kind == "damaged size":
        data = data[:-4] + (len(payload) - 1).to_bytes(4, "little")
    elif kind == "cut short":
        data = data[:-20]
    elif kind == "empty":
        data = gzip.compress(b"")
    try:
        expected = gzip.decompress(data)
    except Exception as error:  # zlib's error: _gunzip raises the same
        with pytest.raises(type(error)):
            datasets._gunzip(data)
        return
    assert bytes(datasets._gunzip(data)) == expected


@pytest.mark.parametrize("name,split", sorted(SHAPES))
def test_split_size_is_the_loaded_count_where_known(name, split):
    # quant-eval starts compiling the calibration program from this count
    # before the data loads: it must be the count load() returns.
    size = datasets.split_size(name, split)
    if split in ("calibration", "validation"):
        assert size == datasets.load(name, split)[0].shape[0]
    else:
        assert size is None
    assert datasets.split_size("no-such-set", "calibration") is None
