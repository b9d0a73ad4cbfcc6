#!/bin/bash
# Compares two quant-run builds (before and after a code generation change)
# on the programs scripts/bench-models.sh writes (build/bench-models/): each
# model's float and int8 program at batch 1 and 64, with this CPU's code and
# the AVX2 code (--mcpu=x86-64-v3), the two builds interleaved, pinned to
# CPU 1, REPS times; prints the median of each build's medians as a Markdown
# table, and fails if the two builds' outputs differ anywhere. The int8
# program is run from its fused qnn form (`quant-opt quantized.qdq.mlir
# --qnn-fuse-quantized-ops --canonicalize`, build/bin/quant-opt), so that
# each build lowers it with its own convert-qnn-to-linalg too. Dynamically
# quantized programs (fashion-transformer-dynamic, which bench/models.py
# writes too) are included where their folders exist.
#
#   scripts/bench-ab.sh /tmp/quant-run-before build/bin/quant-run [REPS=5]
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 QUANT_RUN_BEFORE QUANT_RUN_AFTER [REPS]" >&2
  exit 2
fi
before=$1 after=$2 reps=${3:-5}
cd "$(dirname "$0")/.."
[ -d build/bench-models ] || { echo "$0: run scripts/bench-models.sh first (it writes build/bench-models/)" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
log=$out/log
status=0
for rep in $(seq "$reps"); do
  for model in fashion-cnn fashion-mobilenet fashion-transformer fashion-transformer-dynamic; do
    for batch in b1 b64; do
      dir=build/bench-models/$model-$batch
      [ -d $dir ] || continue
      fused=$out/$model-$batch.fused.mlir
      [ -f $fused ] || build/bin/quant-opt $dir/quantized.qdq.mlir \
        --qnn-fuse-quantized-ops --canonicalize -o $fused
      repeat=200; [ $batch = b1 ] && repeat=2000
      for isa in host avx2; do
        mcpu=(); [ $isa = avx2 ] && mcpu=(--mcpu=x86-64-v3)
        for kind in float quantized; do
          for build in before after; do
            bin=$before; [ $build = after ] && bin=$after
            program=$dir/float.mlir; [ $kind = quantized ] && program=$fused
            t=$(taskset -c 1 "$bin" $program -i $dir/x.npy -o $out/$build.npy \
                  --repeat $repeat "${mcpu[@]}" 2>&1 | awk '/^median/ {print $5}')
            echo "$model $batch $isa $kind $build $t" >> $log
          done
          if ! cmp -s $out/before.npy $out/after.npy; then
            echo "outputs differ: $model $batch $isa $kind" >&2
            status=1
          fi
        done
      done
    done
  done
done
python3 - "$log" <<'PY'
import collections, statistics, sys
times = collections.defaultdict(list)
for line in open(sys.argv[1]):
    *key, build, t = line.split()
    times[tuple(key), build].append(float(t) * 1e3)
print('| model | batch | code | program | before ms | after ms | speed-up |')
print('|---|---|---|---|---|---|---|')
for key in sorted({k for k, _ in times}):
    b = statistics.median(times[key, 'before'])
    a = statistics.median(times[key, 'after'])
    code = 'this CPU' if key[2] == 'host' else 'AVX2 (x86-64-v3)'
    prog = 'f32' if key[3] == 'float' else 'int8'
    print(f'| {key[0]} | {key[1][1:]} | {code} | {prog} | {b:.3f} | {a:.3f} | {b / a:.2f}x |')
PY
exit $status
