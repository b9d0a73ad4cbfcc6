#!/usr/bin/env bash
# The main job, end to end for what quant-opt does today: set up and build
# (scripts/setup.sh), then post-training quantization of the bundled float
# CNN (examples/cnn.mlir): instrument it, calibrate it with quant-run on
# seeded random data, quantize and fuse it with qnn-quantize-pipeline, and
# run the float and the integer program through the same vectorized CPU
# pipeline on evaluation samples, reporting how far apart they are. Then
# the QDQ example's stages (examples/mlp-qdq.mlir), and the accuracy
# harness on real data: quant-eval on the bundled digits model (ONNX) and a
# short recipe sweep.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
export BUILD_DIR
MODEL="$ROOT/examples/cnn.mlir"
QDQ_EXAMPLE="$ROOT/examples/mlp-qdq.mlir"

"$ROOT/scripts/setup.sh"
QUANT_OPT="$BUILD_DIR/bin/quant-opt"
QUANT_RUN="$BUILD_DIR/bin/quant-run"
PYTHON="$ROOT/.venv/bin/python"
WORK="$BUILD_DIR/demo"
rm -rf "$WORK" && mkdir -p "$WORK"

section() { printf '\n===== %s =====\n' "$*"; }

section "1. data: 256 calibration and 8 evaluation samples (seeded)"
"$PYTHON" - "$WORK" <<'PY'
import sys
import numpy as np
rng = np.random.default_rng(0)
out = sys.argv[1]
np.save(f"{out}/calibration.npy", rng.normal(0, 1, (256, 4, 4, 2)).astype(np.float32))
for i in range(8):
    np.save(f"{out}/eval{i}.npy", rng.normal(0, 1, (1, 4, 4, 2)).astype(np.float32))
print("written to", out)
PY

section "2. instrument: quant-opt --qnn-insert-observers"
"$QUANT_OPT" "$MODEL" --qnn-insert-observers > "$WORK/instrumented.mlir"
grep -o 'qnn.observe [^:]*' "$WORK/instrumented.mlir"

section "3. calibrate: quant-run --calibrate (statistics per observer)"
"$QUANT_RUN" "$WORK/instrumented.mlir" -f cnn -i "$WORK/calibration.npy" \
  --calibrate "$WORK/stats.json"
"$PYTHON" - "$WORK/stats.json" <<'PY'
import json, sys
for name, t in json.load(open(sys.argv[1]))["tensors"].items():
    print(f"{name:>8}: min {t['min']:+.4f}  max {t['max']:+.4f}  count {t['count']}")
PY

section "4. quantize: quant-opt --qnn-quantize-pipeline (fused integer IR)"
"$QUANT_OPT" "$MODEL" "--qnn-quantize-pipeline=statistics=$WORK/stats.json" \
  > "$WORK/quantized.mlir"
cat "$WORK/quantized.mlir"

section "5. run float and quantized (qnn-cpu-pipeline, JIT) and compare"
for i in $(seq 0 7); do
  "$QUANT_RUN" "$MODEL" -f cnn -i "$WORK/eval$i.npy" -o "$WORK/float$i.npy"
  "$QUANT_RUN" "$WORK/quantized.mlir" -f cnn -i "$WORK/eval$i.npy" -o "$WORK/quant$i.npy"
done
"$PYTHON" - "$WORK" <<'PY'
import sys
import numpy as np
d = sys.argv[1]
f = np.concatenate([np.load(f"{d}/float{i}.npy") for i in range(8)])
q = np.concatenate([np.load(f"{d}/quant{i}.npy") for i in range(8)])
err = q - f
sqnr = 10 * np.log10(np.sum(f.astype(np.float64) ** 2) / max(np.sum(err.astype(np.float64) ** 2), 1e-30))
print(f"outputs: {f.size}  max |error|: {np.abs(err).max():.5f}  SQNR: {sqnr:.1f} dB  "
      f"top-1 agreement: {np.mean(f.argmax(1) == q.argmax(1)) * 100:.0f}%")
PY

section "6. the QDQ example, lowered to integers: quant-opt --convert-qnn-to-linalg"
"$QUANT_OPT" --canonicalize --convert-qnn-to-linalg --canonicalize "$QDQ_EXAMPLE"

section "7. accuracy on real data: quant-eval (ONNX model, sklearn digits)"
# The bundled digits CNN (models/digits-cnn, trained by models/train.py):
# imported from ONNX, calibrated, quantized W8A8 per channel, run in float
# and in integers; the report ends with the per-layer error table.
"$ROOT/scripts/quant-eval" "$ROOT/models/digits-cnn/model.onnx" --data digits \
  -o "$WORK/digits-report"

section "8. a short recipe sweep: quant-sweep --short (the full one writes docs/Accuracy.md)"
"$ROOT/scripts/quant-sweep" --short --layer-samples 0 -q
