"""The order docs/Semantics.md ("Float sums") gives a float sum over a row,
in NumPy float32 (each addition rounded as the compiled code rounds it):
lane j of 16 sums the row's elements j, j + 16, ... from -0.0 in order,
the elements past the last whole chunk added last; then the initial value
plus lane 0, plus lane 1, ... Rows under three chunks: one sum in order.

    float_sums_check.py make DIR          # the inputs
    float_sums_check.py check DIR NAME... # NAME-<function>.npy against it
"""
import sys

import numpy as np

LANES = 16
SHAPES = {"sum": (6, 49), "sum100": (3, 100), "squares197": (4, 197), "sum40": (5, 40)}


def row_sums(x, init):
    rows, n = x.shape
    total = np.full(rows, init, np.float32)
    if n < 3 * LANES:
        for k in range(n):
            total = total + x[:, k]
        return total
    chunks = n // LANES
    lanes = np.full((rows, LANES), -0.0, np.float32)
    for c in range(chunks):
        lanes = lanes + x[:, c * LANES:(c + 1) * LANES]
    tail = n - chunks * LANES
    lanes[:, :tail] = lanes[:, :tail] + x[:, chunks * LANES:]
    for j in range(LANES):
        total = total + lanes[:, j]
    return total


def main():
    mode, folder = sys.argv[1], sys.argv[2]
    if mode == "make":
        rng = np.random.default_rng(4)
        for name, shape in SHAPES.items():
            # Magnitudes from 1e-3 to 1e3: the order of the additions shows.
            x = rng.standard_normal(shape) * 10.0 ** rng.uniform(-3, 3, shape)
            np.save(f"{folder}/x-{name}.npy", x.astype(np.float32))
        return
    for run in sys.argv[3:]:
        for name in SHAPES:
            x = np.load(f"{folder}/x-{name}.npy")
            want = row_sums(x * x if name.startswith("squares") else x, np.float32(0))
            got = np.load(f"{folder}/{run}-{name}.npy")
            same = np.array_equal(got.view(np.uint32), want.view(np.uint32))
            print(f"{run} {name}: {'bit-identical' if same else 'DIFFERENT'}"
                  + ("" if same else f" (max diff {np.abs(got - want).max()})"))
    # The check can fail: on these inputs the lanes' order and one sum in
    # order differ in some row of every split shape.
    for name in SHAPES:
        x = np.load(f"{folder}/x-{name}.npy")
        x = x * x if name.startswith("squares") else x
        if x.shape[1] >= 3 * LANES:
            in_order = np.full(x.shape[0], 0, np.float32)
            for k in range(x.shape[1]):
                in_order = in_order + x[:, k]
            print(f"{name}: differs from one sum in order: "
                  f"{not np.array_equal(in_order, row_sums(x, np.float32(0)))}")


if __name__ == "__main__":
    main()
