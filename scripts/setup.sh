#!/usr/bin/env bash
# Sets up quant-opt on Debian 12 from nothing, and is a no-op when all is
# there: installs LLVM/MLIR 22 and the build and Python tools from apt, makes
# the project's Python environment (.venv), configures and builds.
#
#   scripts/setup.sh            install what is missing, then build
#   BUILD_DIR=out scripts/setup.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
LLVM_PREFIX=/usr/lib/llvm-22

# Everything the build, the tests and the Python tooling use. clang-format-22
# is the pinned formatter .ci/run checks with; Google Benchmark and oneDNN
# (the peer) build bench/. matplotlib draws the accuracy plot; sklearn's
# digits and Debian's Fashion-MNIST are the accuracy harness's data.
# ocl-icd-opencl-dev: oneDNN's CMake package (dnnl-config.cmake) calls
# find_package(OpenCL), but libdnnl-dev only *recommends* the headers, and
# --no-install-recommends leaves them out on a bare machine.
# pkgconf and libxml2-utils: LLVM's CMake package looks for them (optional
# finds); installing them makes every machine configure alike.
# libomp-22-dev: the LLVM OpenMP runtime quant-run's JIT loads for
# --num-threads N > 1 (qnn-cpu-pipeline threads=N); it replaces an older
# libomp-NN-dev, which it conflicts with.
# pybind11-dev and python3-dev: the in-process Python extension _quant_opt
# (lib/Bindings/Python, quant_opt.native), built for the .venv's Python.
# libdeflate0: decompresses Fashion-MNIST's files 2.5x faster than zlib
# (quant_opt.datasets; optional there).
# scripts/check-build-deps.py checks this list after each fresh configure.
APT_PACKAGES=(
  llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools clang-format-22
  cmake ninja-build g++ git zlib1g-dev libbenchmark-dev pkgconf libxml2-utils
  libdnnl-dev ocl-icd-opencl-dev libomp-22-dev pybind11-dev python3-dev
  python3 python3-venv python3-numpy python3-pytest
  python3-matplotlib python3-sklearn dataset-fashion-mnist libdeflate0
)

source "$ROOT/scripts/apt-install.sh"
apt_install "${APT_PACKAGES[@]}"

# One interpreter for the project: Debian's Python 3.11 with its numpy,
# extended by python/requirements.txt.
if [ ! -x "$ROOT/.venv/bin/python3" ]; then
  log "creating $ROOT/.venv"
  /usr/bin/python3 -m venv --system-site-packages "$ROOT/.venv"
fi
# Already satisfied requirements need no network.
"$ROOT/.venv/bin/python3" -m pip install -q --disable-pip-version-check \
  -r "$ROOT/python/requirements.txt"

configured=0
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  log "configuring $BUILD_DIR"
  cmake -G Ninja -S "$ROOT" -B "$BUILD_DIR" \
    -DCMAKE_BUILD_TYPE=Release \
    -DMLIR_DIR="$LLVM_PREFIX/lib/cmake/mlir" \
    -DLLVM_EXTERNAL_LIT="$LLVM_PREFIX/bin/lit" \
    -DQUANT_OPT_PYTHON="$ROOT/.venv/bin/python3" >/dev/null
  configured=1
fi
log "building"
ninja -C "$BUILD_DIR"

# After a fresh configure and build (always the case in CI's clean clone):
# every system file the build read must come from APT_PACKAGES or their
# dependencies, so that a bare machine gets it too.
if [ "$configured" -eq 1 ] || [ "${QUANT_OPT_CHECK_BUILD_DEPS:-0}" = 1 ]; then
  /usr/bin/python3 "$ROOT/scripts/check-build-deps.py" "$BUILD_DIR" "${APT_PACKAGES[@]}"
fi
