"""Data and checks for tosa-end-to-end.test.

`make DIR` writes seeded calibration images (NHWC 8x8x2). `check DIR`
runs, with quant-run (on PATH), DIR/float.mlir and DIR/quantized.mlir on
eight seeded evaluation images, the quantized one through both the
micro-kernel pipeline and the scalar reference one, and checks: the two
pipelines agree bit for bit, and the quantized model tracks the float one
(SQNR above 25 dB, same top-1 on every image; a broken scale, zero point,
bias or rescale drops far below)."""

import subprocess
import sys

import numpy as np

cmd, d = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(0)
calibration = rng.normal(0, 1, (64, 8, 8, 2)).astype(np.float32)
images = rng.normal(0, 1, (8, 1, 8, 8, 2)).astype(np.float32)
if cmd == "make":
    np.save(f"{d}/calibration.npy", calibration)
    sys.exit(0)


def run(module, image, *options):
    np.save(f"{d}/x.npy", image)
    subprocess.run(["quant-run", f"{d}/{module}", "-f", "net", "-i", f"{d}/x.npy",
                    "-o", f"{d}/y.npy", *options], check=True)
    return np.load(f"{d}/y.npy").reshape(-1)


f = np.stack([run("float.mlir", x) for x in images]).astype(np.float64)
q = np.stack([run("quantized.mlir", x) for x in images])
r = np.stack([run("quantized.mlir", x, "--pipeline=reference") for x in images])
assert q.dtype == r.dtype == np.float32
assert (q == r).all(), "micro-kernel and reference pipelines differ"
q = q.astype(np.float64)
sqnr = 10 * np.log10(np.sum(f ** 2) / max(np.sum((q - f) ** 2), 1e-30))
agree = np.mean(f.argmax(1) == q.argmax(1))
assert len(np.unique(q)) > 20, "outputs too uniform for the check to mean much"
assert sqnr > 25 and agree == 1.0, (sqnr, agree)
print(f"{len(images)} images: bit-exact across pipelines; vs float: SQNR above "
      "25 dB, top-1 agreement 100%")
