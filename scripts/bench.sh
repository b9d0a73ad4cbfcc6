#!/usr/bin/env bash
# Sets up and builds (scripts/setup.sh), then runs bench/ on one core, one
# thread: quant-opt's qnn-cpu-pipeline code and oneDNN on the same shapes,
# side by side (medians of BENCH_REPETITIONS=5 runs in random order). The
# benchmark first detects the host CPU and its ISA (LLVM's
# host query) and measures its int8 and f32 peaks (bench/CPUPeak.h); the
# percentages are of that peak. Prints the CPU lines and the Markdown table
# docs/Performance.md records, then ONNX Runtime's MatMulInteger and
# QLinearConv on the same shapes (bench/ort_ops.py); the raw Google
# Benchmark JSON goes to
# $BUILD_DIR/bench.json. Arguments go to the benchmark binary, e.g.
# `scripts/bench.sh --benchmark_filter=Conv` for the convolutions only.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
export BUILD_DIR
"$ROOT/scripts/setup.sh" >&2

BENCH="$BUILD_DIR/bin/quant-opt-bench"
if [ ! -x "$BENCH" ]; then
  echo "bench.sh: $BENCH is missing: the build did not make it (see scripts/setup.sh's output)" >&2
  exit 1
fi
# Repetitions in random order, medians reported: on a shared VM the
# machine's speed drifts over minutes, and interleaving keeps a drift from
# landing on one side of a ratio.
OMP_NUM_THREADS=1 taskset -c 0 "$BENCH" \
  --benchmark_min_time="${BENCH_MIN_TIME:-0.5}" \
  --benchmark_repetitions="${BENCH_REPETITIONS:-5}" \
  --benchmark_enable_random_interleaving=true \
  --benchmark_report_aggregates_only=true \
  --benchmark_out="$BUILD_DIR/bench.json" --benchmark_out_format=json "$@" >&2

"$ROOT/.venv/bin/python" - "$BUILD_DIR/bench.json" <<'PY'
import json
import re
import sys

report = json.load(open(sys.argv[1]))
context, runs = report["context"], report["benchmarks"]
print(f"Host CPU: {context['host_cpu']} ({context.get('mhz_per_cpu', '?')} MHz nominal), "
      f"ISA: {context['host_isa']}; measured core clock {context['clock_ghz']} GHz.")
print(f"- int8 peak: {context['int8_peak']}")
print(f"- f32 peak: {context['f32_peak']}")
if "target" in context:
    print(f"- code generated: {context['target']}")
for key, value in context.items():
    if key.startswith("also_"):
        print(f"- also measured: {value}")
print()
by_name = {}
for run in runs:
    if run.get("run_type") == "aggregate" and run.get("aggregate_name") != "median":
        continue
    m = re.match(r"BM_(QuantOpt|OneDNN)(Matmul|ConvNCHW|Conv|Depthwise)/(int8|f32)((?:/\d+)*)", run["name"])
    if not m or "GOPS" not in run:
        continue
    who, op, dtype, dims = m.groups()
    shape = ("x".join(dims.strip("/").split("/")) if dims
             else "3x3 112x112x32" if op == "Depthwise"
             else "3x3 56x56x64->64 NCHW" if op == "ConvNCHW" else "3x3 56x56x64->64")
    by_name[(op, shape, dtype, who)] = run["GOPS"]

peak = {"int8": float(context["int8_peak_gops"]), "f32": float(context["f32_peak_gflops"])}
print("| op | shape (MxKxN) | type | quant-opt GOPS | % of this CPU's peak | oneDNN GOPS | quant-opt / oneDNN |")
print("|---|---|---|---|---|---|---|")
for (op, shape, dtype, who), gops in by_name.items():
    if who != "QuantOpt":
        continue
    peer = by_name.get((op, shape, dtype, "OneDNN"))
    ratio = f"{gops / peer:.3f}" if peer else "n/a"
    peer_text = ("n/a" if not peer else f"{peer:.1f}" if peer >= 0.1 else f"{peer:.3f}")
    print(f"| {op.lower().replace('nchw', '')} | {shape} | {dtype} | {gops:.1f} | {gops / peak[dtype] * 100:.1f}% | {peer_text} | {ratio} |")
PY

# ONNX Runtime's int8 operators on the same shapes (bench/ort_ops.py).
echo
OMP_NUM_THREADS=1 taskset -c 0 "$ROOT/.venv/bin/python" "$ROOT/bench/ort_ops.py"
