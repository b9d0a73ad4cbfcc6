// Every failure path of qnn-insert-qdq gives a message naming the file, the
// JSON path, the tensor or the op, and the pass fails. A bad option or file
// is one line: not followed by the whole module ("see current operation").

// RUN: not quant-opt %s --qnn-insert-observers --qnn-insert-qdq=statistics=%S/Inputs/stats-input-only.json 2>&1 | FileCheck %s --check-prefix=MISSING-ID
// MISSING-ID: error: loc("fc"): no statistics for tensor 'fc' in '{{.*}}stats-input-only.json'

// RUN: not quant-opt %s --qnn-insert-observers 2>&1 --qnn-insert-qdq | FileCheck %s --check-prefix=NO-FILE
// NO-FILE: error: the module has qnn.observe ops but no statistics file was given (qnn-insert-qdq{statistics=...})

// RUN: not quant-opt %s --qnn-insert-observers --qnn-insert-qdq=statistics=%S/Inputs/does-not-exist.json 2>&1 | FileCheck %s --check-prefix=NO-SUCH-FILE --implicit-check-not='see current operation'
// NO-SUCH-FILE: error: cannot read statistics file '{{.*}}does-not-exist.json': No such file or directory

// RUN: not quant-opt %s --qnn-insert-observers --qnn-insert-qdq=statistics=%S/Inputs/stats-not-json.json 2>&1 | FileCheck %s --check-prefix=NOT-JSON
// NOT-JSON: error: {{.*}}stats-not-json.json: invalid JSON: {{.*}}

// RUN: not quant-opt %s --qnn-insert-observers --qnn-insert-qdq=statistics=%S/Inputs/stats-missing-count.json 2>&1 | FileCheck %s --check-prefix=MISSING-KEY
// MISSING-KEY: error: {{.*}}stats-missing-count.json: missing value at (root).tensors.input.count

// RUN: not quant-opt %s --qnn-insert-observers --qnn-insert-qdq=statistics=%S/Inputs/stats-unknown-key.json 2>&1 | FileCheck %s --check-prefix=UNKNOWN-KEY
// UNKNOWN-KEY: error: {{.*}}stats-unknown-key.json: unknown key at (root).tensors.input.maximum

// RUN: not quant-opt %s --qnn-insert-observers --qnn-insert-qdq=statistics=%S/Inputs/stats-negative-bin.json 2>&1 | FileCheck %s --check-prefix=NEGATIVE-BIN
// NEGATIVE-BIN: error: {{.*}}stats-negative-bin.json: expected a non-negative integer at (root).tensors.input.histogram.bins[2]

// Bins that each fit an int64 but whose total does not (found by json-fuzz:
// the range methods sum them).
// RUN: not quant-opt %s --qnn-insert-observers --qnn-insert-qdq=statistics=%S/Inputs/stats-bins-overflow.json 2>&1 | FileCheck %s --check-prefix=BINS-OVERFLOW
// BINS-OVERFLOW: error: {{.*}}stats-bins-overflow.json: the bins' total exceeds a 64-bit count at (root).tensors.input.histogram.bins[1]

// RUN: not quant-opt %s --qnn-insert-observers --qnn-insert-qdq=statistics=%S/Inputs/stats-wrong-format.json 2>&1 | FileCheck %s --check-prefix=FORMAT
// FORMAT: error: {{.*}}stats-wrong-format.json: expected "quant-opt-calibration-statistics" at (root).format

// RUN: not quant-opt %s --qnn-insert-observers --qnn-insert-qdq=statistics=%S/Inputs/stats-min-above-max.json 2>&1 | FileCheck %s --check-prefix=MIN-MAX
// MIN-MAX: error: {{.*}}stats-min-above-max.json: expected max >= min at (root).tensors.input.max

// The percentile, mse and entropy methods need a histogram.
// RUN: not quant-opt %s --qnn-insert-observers "--qnn-insert-qdq=statistics=%S/Inputs/stats-input-only.json activation-method=mse" 2>&1 | FileCheck %s --check-prefix=NO-HISTOGRAM -DMETHOD=mse
// RUN: not quant-opt %s --qnn-insert-observers "--qnn-insert-qdq=statistics=%S/Inputs/stats-input-only.json activation-method=entropy" 2>&1 | FileCheck %s --check-prefix=NO-HISTOGRAM -DMETHOD=entropy
// RUN: not quant-opt %s --qnn-insert-observers "--qnn-insert-qdq=statistics=%S/Inputs/stats-input-only.json activation-method=percentile" 2>&1 | FileCheck %s --check-prefix=NO-HISTOGRAM -DMETHOD=percentile
// NO-HISTOGRAM: error: loc("input"): tensor 'input' in '{{.*}}stats-input-only.json': the '[[METHOD]]' method needs a histogram

// RUN: not quant-opt %s --qnn-insert-observers "--qnn-insert-qdq=statistics=%S/Inputs/mlp-stats.json recipe=%S/Inputs/recipe-unknown-layer.json" 2>&1 | FileCheck %s --check-prefix=UNKNOWN-LAYER
// UNKNOWN-LAYER: error: {{.*}}recipe-unknown-layer.json: layers[1]: no layer has id 'conv9'

// RUN: not quant-opt %s --qnn-insert-observers "--qnn-insert-qdq=statistics=%S/Inputs/mlp-stats.json recipe=%S/Inputs/recipe-bad-method.json" 2>&1 | FileCheck %s --check-prefix=BAD-METHOD
// BAD-METHOD: error: {{.*}}recipe-bad-method.json: expected "minmax", "percentile", "mse" or "entropy" at (root).activations.method
// RUN: not quant-opt %s --qnn-insert-observers "--qnn-insert-qdq=statistics=%S/Inputs/mlp-stats.json recipe=%S/Inputs/recipe-bad-dynamic.json" 2>&1 | FileCheck %s --check-prefix=BAD-DYNAMIC
// BAD-DYNAMIC: error: {{.*}}recipe-bad-dynamic.json: expected "static", "per_tensor" or "per_row" at (root).activations.dynamic

// RUN: not quant-opt %s --qnn-insert-observers "--qnn-insert-qdq=statistics=%S/Inputs/mlp-stats.json recipe=%S/Inputs/recipe-id-and-op.json" 2>&1 | FileCheck %s --check-prefix=ID-AND-OP
// ID-AND-OP: error: {{.*}}recipe-id-and-op.json: expected exactly one of "id" and "op" at (root).layers[0]

// RUN: not quant-opt %s --qnn-insert-observers "--qnn-insert-qdq=statistics=%S/Inputs/mlp-stats.json recipe=%S/Inputs/recipe-unknown-key.json" 2>&1 | FileCheck %s --check-prefix=RECIPE-KEY
// RECIPE-KEY: error: {{.*}}recipe-unknown-key.json: unknown key at (root).weights.per_channel

// RUN: not quant-opt %s --qnn-insert-observers "--qnn-insert-qdq=statistics=%S/Inputs/mlp-stats.json recipe=%S/Inputs/recipe-bad-bits.json" 2>&1 | FileCheck %s --check-prefix=RECIPE-BITS
// layers[0] asks for 3 bits, which is fine; layers[1] asks for 64.
// RECIPE-BITS: error: {{.*}}recipe-bad-bits.json: expected an integer from 2 to 16 at (root).layers[1].weights.bits

// RUN: not quant-opt %s --qnn-insert-observers "--qnn-insert-qdq=statistics=%S/Inputs/mlp-stats.json weight-granularity=per_group weight-group-size=3" 2>&1 | FileCheck %s --check-prefix=GROUP
// GROUP: error: loc("fc"): group size 3 does not divide the reduction dimension (size 4, axis 0) of the weights

// RUN: not quant-opt %s --qnn-insert-observers "--qnn-insert-qdq=statistics=%S/Inputs/mlp-stats.json activation-method=kl" 2>&1 | FileCheck %s --check-prefix=OPTION-METHOD --implicit-check-not='see current operation'
// OPTION-METHOD: error: unknown activation-method 'kl' (minmax, percentile, mse, entropy)
// RUN: not quant-opt %s --qnn-insert-observers "--qnn-insert-qdq=statistics=%S/Inputs/mlp-stats.json weight-granularity=per_row" 2>&1 | FileCheck %s --check-prefix=OPTION-GRANULARITY
// OPTION-GRANULARITY: error: unknown weight-granularity 'per_row' (per_tensor, per_channel, per_group)
// RUN: not quant-opt %s --qnn-insert-observers "--qnn-insert-qdq=statistics=%S/Inputs/mlp-stats.json weight-bits=1" 2>&1 | FileCheck %s --check-prefix=OPTION-BITS
// OPTION-BITS: error: bit widths must be from 2 to 16, got 1

func.func @mlp(%x: tensor<1x4xf32> loc("input")) -> tensor<1x2xf32> {
  %w = arith.constant dense<[[0.6, -1.2], [0.3, 0.5], [-0.7, 2.54], [1.27, 0.1]]> : tensor<4x2xf32>
  %zero = arith.constant 0.0 : f32
  %init = tensor.empty() : tensor<1x2xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<1x2xf32>) -> tensor<1x2xf32>
  %y = linalg.matmul ins(%x, %w : tensor<1x4xf32>, tensor<4x2xf32>) outs(%acc : tensor<1x2xf32>) -> tensor<1x2xf32> loc("fc")
  return %y : tensor<1x2xf32>
}
