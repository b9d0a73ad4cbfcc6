#!/usr/bin/env bash
# Sets up and builds (scripts/setup.sh), then times the three bundled
# Fashion models end to end on one core, one thread: quant-opt's float and
# int8 programs (quant-run --repeat) beside ONNX Runtime's float model and
# its own int8 quantization (quantize_static, QDQ), at batch 1 and 64
# (bench/models.py). Prints the Markdown table docs/Performance.md records.
# Options go to bench/models.py (--batches, --repeat, --models).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
export BUILD_DIR
"$ROOT/scripts/setup.sh" >&2

WORK="$BUILD_DIR/bench-models"
OMP_NUM_THREADS=1 taskset -c 0 "$ROOT/.venv/bin/python" "$ROOT/bench/models.py" \
  "$ROOT/scripts/quant-eval" "$BUILD_DIR/bin/quant-run" "$WORK" "$@" 2> "$WORK.log" \
  || { cat "$WORK.log" >&2; exit 1; }
