#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets from the project's own test
inputs (nothing binary is committed; scripts/fuzz.sh calls this at run time).

    make-seeds.py SOURCE_ROOT OUT_DIR

OUT_DIR/quant-opt-fuzz: every `// -----` chunk of test/**/*.mlir and
    examples/*.mlir, prefixed by the selector byte quant-opt-fuzz reads (which
    pass or pipeline runs); the chunks take the selectors in turn, so every
    pass starts from some module.
OUT_DIR/json-fuzz: every .json under test/, python/tests/ and examples/ (the
    statistics and recipes the tests use, valid and malformed).
OUT_DIR/npy-fuzz: small .npy files of every dtype quant-run reads (both byte
    orders of header versions 1 and 2, Fortran order, 0-d and empty shapes)
    and .npz archives (stored and deflated) whose array is named `x`.
"""

import io
import sys
from pathlib import Path

import numpy as np

# Keep in step with kJobs in fuzz/quant-opt-fuzz.cpp (any count works; this
# only spreads the seeds over the jobs).
NUM_JOBS = 21
MAX_SEED = 64 * 1024


def mlir_seeds(root: Path, out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    files = sorted(root.glob("test/**/*.mlir")) + sorted(root.glob("examples/*.mlir"))
    n = 0
    for path in files:
        text = path.read_text(errors="replace")
        chunks, current = [], []
        for line in text.splitlines(keepends=True):
            if line.startswith("// -----"):
                chunks.append("".join(current))
                current = []
            else:
                current.append(line)
        chunks.append("".join(current))
        for chunk in chunks:
            data = chunk.encode()
            if not chunk.strip() or len(data) + 1 > MAX_SEED:
                continue
            (out / f"{n:04d}").write_bytes(bytes([n % NUM_JOBS]) + data)
            n += 1
    return n


def json_seeds(root: Path, out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    for folder in ("test", "python/tests", "examples"):
        for path in sorted((root / folder).glob("**/*.json")):
            data = path.read_bytes()
            if len(data) <= MAX_SEED:
                (out / f"{n:04d}.json").write_bytes(data)
                n += 1
    return n


def npy_bytes(array, version=None) -> bytes:
    buffer = io.BytesIO()
    if version is None:
        np.save(buffer, array)
    else:
        np.lib.format.write_array(buffer, array, version=version)
    return buffer.getvalue()


def npy_seeds(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = []
    for dtype in ("<f4", "<f8", "<f2", "|i1", "|u1", "<i2", "<u2", "<i4", "<u4",
                  "<i8", "<u8", "|b1"):
        arrays.append(rng.integers(0, 3, size=(2, 3)).astype(dtype))
    arrays += [
        np.float32(1.5).reshape(()),                      # 0-d
        np.zeros((0, 3), np.float32),                      # empty
        np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)),
        np.arange(24, dtype=np.int8).reshape(1, 2, 3, 4),
        np.arange(4, dtype=">f4"),                         # big-endian
    ]
    n = 0
    for array in arrays:
        (out / f"{n:03d}.npy").write_bytes(npy_bytes(array))
        n += 1
    (out / f"{n:03d}.npy").write_bytes(npy_bytes(arrays[0], version=(2, 0)))
    n += 1
    for save in (np.savez, np.savez_compressed):
        for array in (arrays[0], arrays[3], arrays[13]):
            buffer = io.BytesIO()
            save(buffer, x=array, y=np.ones(2, np.float32))
            (out / f"{n:03d}.npz").write_bytes(buffer.getvalue())
            n += 1
    return n


def main() -> int:
    if len(sys.argv) != 3:
        print("usage: make-seeds.py SOURCE_ROOT OUT_DIR", file=sys.stderr)
        return 1
    root, out = Path(sys.argv[1]), Path(sys.argv[2])
    counts = {
        "quant-opt-fuzz": mlir_seeds(root, out / "quant-opt-fuzz"),
        "json-fuzz": json_seeds(root, out / "json-fuzz"),
        "npy-fuzz": npy_seeds(out / "npy-fuzz"),
    }
    for name, count in counts.items():
        print(f"{name}: {count} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
