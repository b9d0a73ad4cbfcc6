#!/usr/bin/env bash
# The GPU device check, on the machine with the GPU (docs/GPU.md): builds
# quant-opt's CUDA runtime from the bundle's source, runs every GPU object
# of the bundle (scripts/gpu-device-check/prepare made it here) through a
# generated C driver, compares every output element with the CPU integer
# program's, times int8 GEMM against cuBLASLt and the models against ONNX
# Runtime, and prints the results as Markdown (also into $OUT/results.md).
#
#   scripts/gpu-device-check/run-on-device.sh [BUNDLE] [--dry-run] [--skip-timing] [--max-gemm=N]
#
# BUNDLE defaults to build/gpu-device-check. --dry-run checks the bundle,
# builds the runtime and links the drivers, and runs nothing on a GPU (it
# works here). --max-gemm=N times only the GEMMs of size N^3 or smaller.
# Designed to end in well under 8 minutes on an H200.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BUNDLE="$ROOT/build/gpu-device-check"
ARGS=()
for arg in "$@"; do
  case "$arg" in
    --dry-run|--skip-timing|--max-gemm=*) ARGS+=("$arg") ;;
    -h|--help) sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "run-on-device.sh: unknown option $arg" >&2; exit 2 ;;
    *) BUNDLE="$arg" ;;
  esac
done
if [ ! -f "$BUNDLE/manifest.json" ]; then
  echo "run-on-device.sh: no bundle at $BUNDLE (run scripts/gpu-device-check/prepare, and carry it)" >&2
  exit 2
fi
PYTHON="${PYTHON:-$(command -v python3 || true)}"
if [ -z "$PYTHON" ] || ! "$PYTHON" -c 'import numpy' 2>/dev/null; then
  echo "run-on-device.sh: needs python3 with numpy" >&2
  exit 2
fi
# The CUDA toolkit's bin (nvcc) where it is not on PATH.
for dir in "${CUDA_HOME:-}" /usr/local/cuda; do
  if [ -n "$dir" ] && [ -x "$dir/bin/nvcc" ]; then export PATH="$PATH:$dir/bin"; break; fi
done
export PYTHONUNBUFFERED=1
exec timeout 470 "$PYTHON" "$HERE/device_check.py" "$BUNDLE" "${ARGS[@]}"
