#!/usr/bin/env bash
# The main job, end to end for what quant-opt does today: set up and build
# (scripts/setup.sh), then take the bundled QDQ example through quant-opt and
# show each stage: the quantized IR (weights quantized at compile time), the
# IR lowered to integer storage, and the result of running the lowered
# program.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
export BUILD_DIR
EXAMPLE="${1:-$ROOT/examples/mlp-qdq.mlir}"
LLVM_PREFIX=/usr/lib/llvm-22

"$ROOT/scripts/setup.sh"
QUANT_OPT="$BUILD_DIR/bin/quant-opt"

section() { printf '\n===== %s =====\n' "$*"; }

section "1. quantized IR: quant-opt --canonicalize $EXAMPLE"
"$QUANT_OPT" --canonicalize "$EXAMPLE"

section "2. lowered to integers: quant-opt --canonicalize --convert-qnn-to-linalg --canonicalize"
"$QUANT_OPT" --canonicalize --convert-qnn-to-linalg --canonicalize "$EXAMPLE"

section "3. run: quant-opt --qnn-reference-cpu-pipeline | mlir-runner"
"$QUANT_OPT" --qnn-reference-cpu-pipeline "$EXAMPLE" \
  | "$LLVM_PREFIX/bin/mlir-runner" -e main -entry-point-result=void \
      -shared-libs="$LLVM_PREFIX/lib/libmlir_runner_utils.so,$LLVM_PREFIX/lib/libmlir_c_runner_utils.so"
