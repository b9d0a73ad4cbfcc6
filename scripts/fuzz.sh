#!/usr/bin/env bash
# Builds quant-opt's libFuzzer targets (fuzz/, docs/Fuzzing.md) with clang-22
# under ASan+UBSan in build-fuzz/ and runs each for a bounded time over seeds
# made from the test inputs. Ends with "N passed, N failed" (targets); exits
# non-zero when any target crashed, timed out or ran out of memory.
#
#   scripts/fuzz.sh            60 s per target
#   scripts/fuzz.sh 600        10 minutes per target
#   FUZZ_TARGETS="npy-fuzz" scripts/fuzz.sh 30
#
# Reproducers land in build-fuzz/crashes/<target>/ (crash-*, timeout-*,
# oom-*); replay one with `build-fuzz/bin/<target> FILE`. Each target's log is
# build-fuzz/fuzz-logs/<target>.log.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}"
LLVM_PREFIX=/usr/lib/llvm-22
SECONDS_PER_TARGET="${1:-60}"
TARGETS=(${FUZZ_TARGETS:-quant-opt-fuzz json-fuzz npy-fuzz})

if ! [[ "$SECONDS_PER_TARGET" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: scripts/fuzz.sh [seconds-per-target]" >&2
  exit 1
fi

# What building the fuzzers needs beyond a plain build: clang-22 and its
# runtimes (libclang-rt-22-dev holds libclang_rt.fuzzer*.a, asan and ubsan);
# numpy writes the .npy seeds.
APT_PACKAGES=(
  llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools
  clang-22 libclang-rt-22-dev
  cmake ninja-build zlib1g-dev python3 python3-numpy
)

source "$ROOT/scripts/apt-install.sh"
apt_install "${APT_PACKAGES[@]}"

PYTHON="$ROOT/.venv/bin/python3"
[ -x "$PYTHON" ] || PYTHON=/usr/bin/python3

if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  log "configuring $BUILD_DIR (clang-22, QUANT_OPT_FUZZ=ON)"
  CC=clang-22 CXX=clang++-22 cmake -G Ninja -S "$ROOT" -B "$BUILD_DIR" \
    -DCMAKE_BUILD_TYPE=Release \
    -DMLIR_DIR="$LLVM_PREFIX/lib/cmake/mlir" \
    -DLLVM_EXTERNAL_LIT="$LLVM_PREFIX/bin/lit" \
    -DQUANT_OPT_PYTHON="$PYTHON" \
    -DQUANT_OPT_BUILD_BENCHMARKS=OFF \
    -DQUANT_OPT_FUZZ=ON >/dev/null
fi
log "building ${TARGETS[*]}"
ninja -C "$BUILD_DIR" "${TARGETS[@]}"

SEEDS="$BUILD_DIR/fuzz-seeds"
rm -rf "$SEEDS"
"$PYTHON" "$ROOT/fuzz/make-seeds.py" "$ROOT" "$SEEDS"

# A leak in a fuzz target's input path is not what this run looks for (the
# MLIR context is torn down per input); the other ASan and UBSan checks stay.
# allow_user_poisoning=0: see scripts/sanitize.sh (LLVM's allocators poisoned
# by our instrumented code, handed out by the uninstrumented libMLIR.so).
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:allow_user_poisoning=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
export ASAN_SYMBOLIZER_PATH="${ASAN_SYMBOLIZER_PATH:-$LLVM_PREFIX/bin/llvm-symbolizer}"

passed=0 failed=0
summary=()
mkdir -p "$BUILD_DIR/fuzz-logs"
for target in "${TARGETS[@]}"; do
  crashes="$BUILD_DIR/crashes/$target"
  corpus="$BUILD_DIR/fuzz-corpus/$target"
  logfile="$BUILD_DIR/fuzz-logs/$target.log"
  mkdir -p "$crashes"
  # A scratch corpus: new inputs go there, the seeds stay as generated.
  rm -rf "$corpus"
  mkdir -p "$corpus"
  before=$(find "$crashes" -type f | wc -l)
  touch "$logfile.start"
  log "fuzzing $target for ${SECONDS_PER_TARGET}s"
  # -fork=1 with -ignore_*: a crash ends only its child process, the run
  # goes on for the whole time and saves every distinct reproducer.
  # -malloc_limit_mb below -rss_limit_mb: one huge allocation is reported at
  # the malloc, with the input that asked for it (the RSS check runs once a
  # second and may blame the next input).
  start=$(date +%s)
  set +e
  "$BUILD_DIR/bin/$target" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 \
    -ignore_ooms=1 -max_total_time="$SECONDS_PER_TARGET" -timeout=10 \
    -rss_limit_mb=4096 -malloc_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 \
    -artifact_prefix="$crashes/" "$corpus" "$SEEDS/$target" >"$logfile" 2>&1
  rc=$?
  set -e
  elapsed=$(( $(date +%s) - start ))
  # The fork-mode status lines: "#EXECS: cov: ... oom/timeout/crash: A/B/C".
  last=$(grep -E '^#[0-9]+: cov:' "$logfile" | tail -n 1 || true)
  execs=$(sed -E 's/^#([0-9]+):.*/\1/' <<<"$last")
  execs=${execs:-0}
  otc=$(sed -nE 's/.*oom\/timeout\/crash: ([0-9]+\/[0-9]+\/[0-9]+).*/\1/p' <<<"$last")
  otc=${otc:-0/0/0}
  new=$(( $(find "$crashes" -type f | wc -l) - before ))
  rate=$(( execs / (elapsed > 0 ? elapsed : 1) ))
  line="$target: $execs executions in ${elapsed}s ($rate/s), oom/timeout/crash $otc, $new new reproducer(s) in $crashes"
  if [ "$otc" = "0/0/0" ] && [ "$new" -eq 0 ] && [ "$rc" -eq 0 ]; then
    passed=$((passed + 1))
    summary+=("PASS $line")
  else
    failed=$((failed + 1))
    summary+=("FAIL $line (exit $rc, log $logfile)")
    # Fork mode logs only the first line of each report: replay every new
    # reproducer alone for its stack (top frames, libFuzzer's own left out).
    find "$crashes" -type f -newer "$logfile.start" | sort | while read -r f; do
      echo "-- $f"
      "$BUILD_DIR/bin/$target" "$f" 2>&1 |
        grep -E 'ERROR: |runtime error:|^ +#[0-9]+ 0x' |
        grep -v -E 'fuzzer::|LLVMFuzzerTestOneInput|libc_start|_start|main ' |
        head -n 8 | cut -c1-220 || true
    done
  fi
done

log "results"
printf '%s\n' "${summary[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
