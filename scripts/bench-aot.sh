#!/usr/bin/env bash
# Times the bundled models compiled ahead of time, as a program that
# deploys them runs them: scripts/quant-aot's object linked with
# bench/aot/aot_time.c, the mean of CALLS calls on one core (CPU 1), beside
# quant-run's median on the same input (the JIT, same pipeline). Uses the
# programs scripts/bench-models.sh writes (build/bench-models/MODEL-bBATCH:
# float.mlir, quantized.mlir, x.npy). Prints a Markdown table.
#
#   scripts/bench-aot.sh [BATCH=64] [CALLS=300]
#
# QUANT_AOT=... times another quant-aot (an older checkout's) instead.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
batch=${1:-64} calls=${2:-300}
aot=${QUANT_AOT:-$ROOT/scripts/quant-aot}
[ -d "$BUILD_DIR/bench-models" ] || {
  echo "$0: run scripts/bench-models.sh first (it writes $BUILD_DIR/bench-models/)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "| model | batch | program | deployed object (ms per call) | quant-run (ms, median) |"
echo "| --- | --- | --- | --- | --- |"
for model in fashion-cnn fashion-mobilenet fashion-transformer fashion-transformer-dynamic; do
  dir=$BUILD_DIR/bench-models/$model-b$batch
  [ -d "$dir" ] || continue
  "$ROOT/.venv/bin/python3" -c "import numpy, sys; numpy.load(sys.argv[1]).astype('float32').tofile(sys.argv[2])" \
    "$dir/x.npy" "$work/x.bin"
  for kind in float quantized; do
    out=$work/$model-$kind
    QUANT_OPT_BUILD_DIR=$BUILD_DIR "$aot" "$dir/$kind.mlir" -o "$out" --name model > "$out.log" 2>&1 \
      || { cat "$out.log" >&2; exit 1; }
    cc -O2 -std=c11 -I"$out" "$ROOT/bench/aot/aot_time.c" "$out/model.o" -o "$out/time" -lm
    deployed=$(taskset -c 1 "$out/time" "$work/x.bin" "$calls")
    jit=$(taskset -c 1 "$BUILD_DIR/bin/quant-run" "$dir/$kind.mlir" -i "$dir/x.npy" --repeat "$calls" \
          2>&1 | sed -n 's/^median of [0-9]* runs: \([0-9.e-]*\) s$/\1/p')
    printf "| %s | %s | %s | %.3f | %.3f |\n" "$model" "$batch" "$kind" "$deployed" \
      "$(awk -v s="$jit" 'BEGIN { print s * 1000 }')"
  done
done
