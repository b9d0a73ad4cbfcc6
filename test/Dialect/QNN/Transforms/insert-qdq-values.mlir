// qnn-insert-qdq refuses values it cannot quantize, naming the op and the
// value, instead of computing garbage: a NaN or infinite weight, an
// infinite bias (its widened weight range would be infinite), an observer
// that saw nothing (count 0: no range), and a range so small that its scale
// is below the smallest normal f32 (the program would output zeros).

// RUN: not quant-opt %s --split-input-file --qnn-insert-observers --qnn-insert-qdq=statistics=%S/Inputs/mlp-bias-stats.json 2>&1 | FileCheck %s
// RUN: not quant-opt %S/insert-qdq-errors.mlir --qnn-insert-observers --qnn-insert-qdq=statistics=%S/Inputs/stats-count-zero.json 2>&1 | FileCheck %s --check-prefix=COUNT
// RUN: not quant-opt %S/insert-qdq-errors.mlir --qnn-insert-observers --qnn-insert-qdq=statistics=%S/Inputs/stats-tiny-range.json 2>&1 | FileCheck %s --check-prefix=TINY

// COUNT: error: loc("fc"): tensor 'fc' in '{{.*}}stats-count-zero.json': count is 0: no value was observed, so it has no range (calibrate on data that reaches it)
// TINY: error: loc("fc"): tensor 'fc' in '{{.*}}stats-tiny-range.json': the range [0.000000e+00, 1.000000e-40] gives scale 3.921569e-43, below the smallest normal f32 (1.175494e-38); the tensor is all but zero: skip its layer in the recipe

// CHECK: error: loc("fc"): weight 5 is NaN: non-finite weights cannot be quantized
func.func @nan_weight(%x: tensor<1x4xf32> loc("input")) -> tensor<1x2xf32> {
  %w = arith.constant dense<[[0.6, -1.2], [0.3, 0.5], [-0.7, 0x7FC00000], [1.27, 0.1]]> : tensor<4x2xf32>
  %zero = arith.constant 0.0 : f32
  %init = tensor.empty() : tensor<1x2xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<1x2xf32>) -> tensor<1x2xf32>
  %y = linalg.matmul ins(%x, %w : tensor<1x4xf32>, tensor<4x2xf32>) outs(%acc : tensor<1x2xf32>) -> tensor<1x2xf32> loc("fc")
  return %y : tensor<1x2xf32>
}

// -----

// CHECK: error: loc("fc"): weight 0 is +Inf: non-finite weights cannot be quantized
func.func @inf_weight(%x: tensor<1x4xf32> loc("input")) -> tensor<1x2xf32> {
  %w = arith.constant dense<[[0x7F800000, -1.2], [0.3, 0.5], [-0.7, 2.54], [1.27, 0.1]]> : tensor<4x2xf32>
  %zero = arith.constant 0.0 : f32
  %init = tensor.empty() : tensor<1x2xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<1x2xf32>) -> tensor<1x2xf32>
  %y = linalg.matmul ins(%x, %w : tensor<1x4xf32>, tensor<4x2xf32>) outs(%acc : tensor<1x2xf32>) -> tensor<1x2xf32> loc("fc")
  return %y : tensor<1x2xf32>
}

// -----

// CHECK: error: loc("fc"): bias 1 is +Inf: a non-finite bias cannot be quantized
func.func @inf_bias(%x: tensor<1x4xf32> loc("input")) -> tensor<1x2xf32> {
  %w = arith.constant dense<[[0.6, -1.2], [0.3, 0.5], [-0.7, 2.54], [1.27, 0.1]]> : tensor<4x2xf32>
  %b = arith.constant dense<[[0.5, 0x7F800000]]> : tensor<1x2xf32>
  %zero = arith.constant 0.0 : f32
  %init = tensor.empty() : tensor<1x2xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<1x2xf32>) -> tensor<1x2xf32>
  %y = linalg.matmul ins(%x, %w : tensor<1x4xf32>, tensor<4x2xf32>) outs(%acc : tensor<1x2xf32>) -> tensor<1x2xf32> loc("fc")
  %e = tensor.empty() : tensor<1x2xf32>
  %z = linalg.add ins(%y, %b : tensor<1x2xf32>, tensor<1x2xf32>) outs(%e : tensor<1x2xf32>) -> tensor<1x2xf32> loc("bias")
  return %z : tensor<1x2xf32>
}
