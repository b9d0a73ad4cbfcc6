"""The demo's flow as a test. `make DIR` writes seeded calibration and
evaluation data; `compare DIR N` compares the N float and quantized
outputs: the quantized CNN must agree with the float one on top-1 and stay
above 35 dB SQNR (a broken scale, zero point or rescale drops it far
below; measured: ~50 dB)."""

import sys

import numpy as np

cmd, d = sys.argv[1], sys.argv[2]
if cmd == "make":
    rng = np.random.default_rng(0)
    np.save(f"{d}/calibration.npy", rng.normal(0, 1, (64, 4, 4, 2)).astype(np.float32))
    for i in range(4):
        np.save(f"{d}/eval{i}.npy", rng.normal(0, 1, (1, 4, 4, 2)).astype(np.float32))
else:
    n = int(sys.argv[3])
    f = np.concatenate([np.load(f"{d}/float{i}.npy") for i in range(n)]).astype(np.float64)
    q = np.concatenate([np.load(f"{d}/quant{i}.npy") for i in range(n)]).astype(np.float64)
    sqnr = 10 * np.log10(np.sum(f ** 2) / max(np.sum((q - f) ** 2), 1e-30))
    agree = np.mean(f.argmax(1) == q.argmax(1))
    assert sqnr > 35 and agree == 1.0, (sqnr, agree)
    print(f"quantized vs float: SQNR above 35 dB, top-1 agreement 100%")
