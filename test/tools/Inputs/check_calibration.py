"""Checks quant-run --calibrate against statistics computed here with NumPy.

Usage:
  check_calibration.py make DIR        write the data set and its two shards
  check_calibration.py check DIR FILE  compare FILE with the statistics of
                                       the whole data set
  check_calibration.py merge DIR A B   merge two shard files and compare
                                       with DIR/all.json and NumPy
"""

import json
import sys

import numpy as np

sys.path.insert(0, sys.argv[-1] if sys.argv[1] == "merge" else "")

W = np.array([[0.5, -1.0, 0.25], [0.3, 0.8, -0.7], [1.2, 0.05, -0.6],
              [0.0, -2.54, 0.63]], np.float32)
BINS = 16


def expected(x):
    """min, max, count and a 16-bin histogram over [min, max] per id."""
    y = x @ W  # the model of Inputs/calibrate.mlir, in float32
    out = {}
    for name, v in (("input", x), ("fc", y)):
        lo, hi = float(v.min()), float(v.max())
        bins = np.histogram(v.astype(np.float64), bins=BINS, range=(lo, hi))[0]
        out[name] = (lo, hi, int(v.size), bins.tolist())
    return out


def same(got, want):
    """The input observer sees the data itself: exact. The matmul's sums may
    be reassociated by the vectorized code (float addition is not
    associative), so its min and max agree to 1e-6 relative; counts and
    histogram bins are exact."""
    assert got.keys() == want.keys(), (got, want)
    for k in want:
        (glo, ghi, gn, gb), (wlo, whi, wn, wb) = got[k], want[k]
        rtol = 0 if k == "input" else 1e-6
        assert np.isclose(glo, wlo, rtol=rtol, atol=0), (k, glo, wlo)
        assert np.isclose(ghi, whi, rtol=rtol, atol=0), (k, ghi, whi)
        assert (gn, gb) == (wn, wb), (k, got[k], want[k])


def load(path):
    t = json.load(open(path))["tensors"]
    return {k: (v["min"], v["max"], v["count"], v["histogram"]["bins"]) for k, v in t.items()}


cmd, d = sys.argv[1], sys.argv[2]
if cmd == "make":
    x = np.random.default_rng(1).normal(0, 1, (12, 4)).astype(np.float32)
    np.save(f"{d}/all.npy", x)
    np.savez_compressed(f"{d}/all.npz", samples=x)
    np.save(f"{d}/shard0.npy", x[:6])
    np.save(f"{d}/shard1.npy", x[6:])
elif cmd == "check":
    same(load(sys.argv[3]), expected(np.load(f"{d}/all.npy")))
    print("calibration matches numpy")
elif cmd == "merge":
    from quant_opt.calibration import load_statistics, merge_statistics

    merged = merge_statistics(load_statistics(sys.argv[3]), load_statistics(sys.argv[4]))
    got = {k: (v.min, v.max, v.count, v.histogram.bins.tolist()) for k, v in merged.items()}
    # Exactly the whole run's file (same compiled code, same batches) ...
    assert got == load(f"{d}/all.json"), (got, load(f"{d}/all.json"))
    # ... and NumPy's statistics.
    same(got, expected(np.load(f"{d}/all.npy")))
    print("merged shards match the whole run")
