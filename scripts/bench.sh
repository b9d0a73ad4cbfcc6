#!/usr/bin/env bash
# Sets up and builds (scripts/setup.sh), then runs bench/ on one core, one
# thread: quant-opt's qnn-cpu-pipeline code and oneDNN on the same shapes,
# side by side. Prints the Markdown table docs/Performance.md records; the
# raw Google Benchmark JSON goes to $BUILD_DIR/bench.json.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
export BUILD_DIR
"$ROOT/scripts/setup.sh" >&2

OMP_NUM_THREADS=1 taskset -c 0 "$BUILD_DIR/bin/quant-opt-bench" \
  --benchmark_min_time="${BENCH_MIN_TIME:-0.5}" \
  --benchmark_out="$BUILD_DIR/bench.json" --benchmark_out_format=json >&2

"$ROOT/.venv/bin/python" - "$BUILD_DIR/bench.json" <<'PY'
import json
import re
import sys

runs = json.load(open(sys.argv[1]))["benchmarks"]
by_name = {}
for run in runs:
    m = re.match(r"BM_(QuantOpt|OneDNN)(Matmul|Conv)/(int8|f32)((?:/\d+)*)", run["name"])
    if not m or "GOPS" not in run:
        continue
    who, op, dtype, dims = m.groups()
    shape = "x".join(dims.strip("/").split("/")) if dims else "3x3 56x56x64->64"
    by_name[(op, shape, dtype, who)] = run["GOPS"]

print("| op | shape (MxKxN) | type | quant-opt GOPS | % of VNNI peak | oneDNN GOPS | quant-opt / oneDNN |")
print("|---|---|---|---|---|---|---|")
for (op, shape, dtype, who), gops in by_name.items():
    if who != "QuantOpt":
        continue
    peer = by_name.get((op, shape, dtype, "OneDNN"))
    ratio = f"{gops / peer:.3f}" if peer else "n/a"
    peer_text = f"{peer:.1f}" if peer else "n/a"
    print(f"| {op.lower()} | {shape} | {dtype} | {gops:.1f} | {gops / 459 * 100:.1f}% | {peer_text} | {ratio} |")
PY
