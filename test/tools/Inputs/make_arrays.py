"""Writes the .npy arrays quant-run.test uses into the directory argv[1]."""

import sys

import numpy as np

out = sys.argv[1]
np.save(f"{out}/x6.npy", np.array([1.4, 1000.0, -1000.0, 1.25, 1.75, np.nan], np.float32))
np.save(f"{out}/x14.npy", np.array([[0.25, -0.5, 0.75, 0.1]], np.float32))
np.save(f"{out}/q4.npy", np.array([-128, 127, -3, 0], np.int8))
np.save(f"{out}/bad_shape.npy", np.zeros((5,), np.float32))
np.save(f"{out}/bad_dtype.npy", np.zeros((6,), np.float64))
np.save(f"{out}/fortran.npy", np.asfortranarray(np.zeros((2, 3), np.float32)))
with open(f"{out}/garbage.npy", "wb") as f:
    f.write(b"not an array")
# The x6 values again, in archives: stored (np.savez) and deflated
# (np.savez_compressed), beside another array.
x6 = np.load(f"{out}/x6.npy")
np.savez(f"{out}/stored.npz", other=np.zeros(3, np.int8), x=x6)
np.savez_compressed(f"{out}/deflated.npz", x=x6)
# For bf16 arguments (float32 arrays): 1 + 2^-8 is halfway between 1 and
# 1 + 2^-7 (ties to the even 1), 1 + 3 * 2^-8 halfway between 1 + 2^-7 and
# 1 + 2^-6 (ties to the even 1 + 2^-6).
np.save(f"{out}/bf16_in.npy", np.array([1.0, 1 + 2**-8, 1 + 3 * 2**-8, np.nan], np.float32))
np.save(f"{out}/bf16_q.npy", np.array([1.25, 3.0], np.float32))
