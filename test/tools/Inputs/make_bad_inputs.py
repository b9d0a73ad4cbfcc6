"""Writes the inputs quant-run-bad-inputs.test feeds quant-run into the
directory argv[1]: data sets that cannot be calibrated, a stored value out
of a narrow range, an .npy header whose shape overflows, and JSON nested
deeper than any quant-opt file."""

import json
import struct
import sys

import numpy as np

out = sys.argv[1]
x = np.random.default_rng(0).normal(0, 1, (4, 4)).astype(np.float32)
np.save(f"{out}/good.npy", x)
with_inf = x.copy()
with_inf[1, 2] = np.inf
np.save(f"{out}/inf.npy", with_inf)
np.save(f"{out}/nan.npy", np.full((4, 4), np.nan, np.float32))
np.save(f"{out}/empty.npy", np.zeros((0, 4), np.float32))
np.save(f"{out}/minus128.npy", np.array([3, -128, 127, -127], np.int8))

# An .npy file whose header claims shape (2^62 + 2, 4) of float32 but holds
# 32 bytes: in int64 the element count wraps around to 8.
header = "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387906, 4), }"
header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
with open(f"{out}/overflow.npy", "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
    f.write(b"\0" * 32)

# A statistics-shaped file nested 35 000 levels deep.
with open(f"{out}/deep.json", "w") as f:
    f.write("[" * 35000 + "]" * 35000)
# A --ranges file that lacks the observer 'fc'.
with open(f"{out}/ranges.json", "w") as f:
    json.dump({"format": "quant-opt-calibration-statistics", "version": 1,
               "tensors": {"input": {"min": -1.0, "max": 1.0, "count": 1}}}, f)

# An .npz whose deflated member claims 3.75 GiB in its central directory.
import io
import zipfile
buffer = io.BytesIO()
np.savez_compressed(buffer, x=x)
data = bytearray(buffer.getvalue())
central = data.rfind(b"PK\x01\x02")
data[central + 24:central + 28] = struct.pack("<I", 0xF0000000)
with open(f"{out}/bomb.npz", "wb") as f:
    f.write(bytes(data))
