#!/usr/bin/env bash
# Runs the lit suite and the Python tests with every program that JIT-compiles and runs generated
# code (quant-run, mlir-runner) under qemu-user emulating another CPU, so that
# the code generated for an AVX2-only CPU (AMD Zen 3: no AVX-512, no VNNI) is
# executed and checked on any machine, e.g. one with AVX-512. LLVM's host
# query sees the emulated CPU, so the JIT compiles for it; an AVX-512
# instruction would stop the run (qemu 7.2 does not emulate AVX-512).
#
#   scripts/test-emulated-cpu.sh                       # lit (~5 min)
#   scripts/test-emulated-cpu.sh --pytest -k evaluate  # and pytest (all: ~40 min)
#
# Installs qemu-user from apt if it is missing. Not part of scripts/test.sh
# (emulation makes the executed tests ~10x slower); docs/Testing.md records
# its last result. The CPU model is scripts/emulate-zen3's.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
LLVM_BIN=/usr/lib/llvm-22/bin
for tool in quant-opt quant-run; do
  if [ ! -x "$BUILD_DIR/bin/$tool" ]; then
    echo "test-emulated-cpu.sh: $BUILD_DIR/bin/$tool is missing: run scripts/setup.sh first" >&2
    exit 1
  fi
done
source "$ROOT/scripts/apt-install.sh"
apt_install qemu-user

# A build tree whose tools are wrappers: the emulated ones for the programs
# that run generated code, the real ones for the rest.
EMU="$BUILD_DIR/emulated-zen3"
rm -rf "$EMU" && mkdir -p "$EMU/bin"
for tool in "$BUILD_DIR"/bin/*; do ln -s "$tool" "$EMU/bin/"; done
for tool in quant-run:"$BUILD_DIR/bin/quant-run" mlir-runner:"$LLVM_BIN/mlir-runner"; do
  rm -f "$EMU/bin/${tool%%:*}"
  printf '#!/bin/sh\nexec %s %s "$@"\n' "$ROOT/scripts/emulate-zen3" "${tool#*:}" >"$EMU/bin/${tool%%:*}"
  chmod +x "$EMU/bin/${tool%%:*}"
done
cp -r "$BUILD_DIR/test" "$EMU/test"
sed -i -e "s|^config.quant_opt_tools_dir = .*|config.quant_opt_tools_dir = \"$EMU/bin\"|" \
  -e "s|^config.quant_opt_obj_root = .*|config.quant_opt_obj_root = \"$EMU\"|" \
  "$EMU/test/lit.site.cfg.py"

echo "== the emulated CPU, as LLVM's host query sees it"
"$ROOT/scripts/emulate-zen3" "$LLVM_BIN/llc" --version | grep "Host CPU"
echo "== lit under qemu-x86_64 -cpu EPYC-Milan (AVX2, no AVX-512)"
status=0
QUANT_OPT_BUILD_DIR="$EMU" "$LLVM_BIN/lit" -s "$EMU/test" || status=1
if [ "${1:-}" = --pytest ]; then
  shift
  echo "== pytest with quant-run under qemu-x86_64 (ONNX Runtime runs natively)"
  (cd "$ROOT" && QUANT_OPT_BUILD_DIR="$EMU" BUILD_DIR="$BUILD_DIR" \
    "$ROOT/.venv/bin/python3" -m pytest -q -p no:cacheprovider python/tests "$@") || status=1
fi
exit "$status"
