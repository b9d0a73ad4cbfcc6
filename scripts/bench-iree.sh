#!/usr/bin/env bash
# IREE, the compiler peer, on bench/quant_opt_bench.cpp's shapes (one
# thread, pinned to one core): installs iree-base-compiler and
# iree-base-runtime from PyPI into their own venv ($BUILD_DIR/iree-venv, so
# that the project's .venv keeps Debian's numpy), then runs bench/iree.py.
# Prints the Markdown table docs/Performance.md records beside
# scripts/bench.sh's. Not part of the tests or of setup.sh (a ~100 MB
# download that only this benchmark needs).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
VENV="$BUILD_DIR/iree-venv"
if [ ! -x "$VENV/bin/iree-compile" ]; then
  /usr/bin/python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check \
    iree-base-compiler iree-base-runtime numpy
fi
echo "IREE: $("$VENV/bin/iree-compile" --version | grep -o 'compiler version [^ ]*')"
echo
taskset -c 0 "$VENV/bin/python" "$ROOT/bench/iree.py" "$VENV/bin" "$BUILD_DIR/bench-iree" "$@"
