// qnn-fuse-quantized-ops on IR the verifier accepts but no importer writes:
// it must leave what it cannot fuse as it is, or say why, never crash.

// RUN: not quant-opt %s --split-input-file --qnn-fuse-quantized-ops 2>/dev/null | FileCheck %s
// RUN: not quant-opt %s --split-input-file --qnn-fuse-quantized-ops 2>&1 | FileCheck %s --check-prefix=ERROR

// A quantize of a tensor.empty: no producer operand to look through (the
// chain matcher used to read operand 0 of an op that has none).
// CHECK-LABEL: func @quantize_of_empty
// CHECK: %[[E:.*]] = tensor.empty() : tensor<4xf32>
// CHECK: qnn.quantize %[[E]]
func.func @quantize_of_empty() -> tensor<4x!quant.uniform<i8:f32, 0.5>> {
  %e = tensor.empty() : tensor<4xf32>
  %q = qnn.quantize %e : tensor<4xf32> -> tensor<4x!quant.uniform<i8:f32, 0.5>>
  return %q : tensor<4x!quant.uniform<i8:f32, 0.5>>
}

// -----

// A NaN bias is no bias (NaN != NaN, so it does not match as one): the add
// stays in float, unfused.
// CHECK-LABEL: func @nan_bias
// CHECK: linalg.add
// CHECK: qnn.quantize
func.func @nan_bias(%xq: tensor<1x2x!quant.uniform<i8:f32, 0.5>>) -> tensor<1x2x!quant.uniform<i8:f32, 1.0>> {
  %x = qnn.dequantize %xq : tensor<1x2x!quant.uniform<i8:f32, 0.5>> -> tensor<1x2xf32>
  %wq = qnn.constant dense<[[1, 2], [3, 4]]> : tensor<2x2xi8> -> tensor<2x2x!quant.uniform<i8:f32, 0.5>>
  %w = qnn.dequantize %wq : tensor<2x2x!quant.uniform<i8:f32, 0.5>> -> tensor<2x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x2xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<1x2xf32>) -> tensor<1x2xf32>
  %m = linalg.matmul ins(%x, %w : tensor<1x2xf32>, tensor<2x2xf32>) outs(%i : tensor<1x2xf32>) -> tensor<1x2xf32>
  %b = arith.constant dense<[[1.0, 0x7FC00000]]> : tensor<1x2xf32>
  %e2 = tensor.empty() : tensor<1x2xf32>
  %y = linalg.add ins(%m, %b : tensor<1x2xf32>, tensor<1x2xf32>) outs(%e2 : tensor<1x2xf32>) -> tensor<1x2xf32>
  %yq = qnn.quantize %y : tensor<1x2xf32> -> tensor<1x2x!quant.uniform<i8:f32, 1.0>>
  return %yq : tensor<1x2x!quant.uniform<i8:f32, 1.0>>
}

// -----

// An infinite bias has no integer form: an error naming it (it used to be
// cast to i32 as it was).
// ERROR: error: bias of channel 1 is not finite: it has no integer form
func.func @inf_bias(%xq: tensor<1x2x!quant.uniform<i8:f32, 0.5>>) -> tensor<1x2x!quant.uniform<i8:f32, 1.0>> {
  %x = qnn.dequantize %xq : tensor<1x2x!quant.uniform<i8:f32, 0.5>> -> tensor<1x2xf32>
  %wq = qnn.constant dense<[[1, 2], [3, 4]]> : tensor<2x2xi8> -> tensor<2x2x!quant.uniform<i8:f32, 0.5>>
  %w = qnn.dequantize %wq : tensor<2x2x!quant.uniform<i8:f32, 0.5>> -> tensor<2x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x2xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<1x2xf32>) -> tensor<1x2xf32>
  %m = linalg.matmul ins(%x, %w : tensor<1x2xf32>, tensor<2x2xf32>) outs(%i : tensor<1x2xf32>) -> tensor<1x2xf32>
  %b = arith.constant dense<[[1.0, 0x7F800000]]> : tensor<1x2xf32>
  %e2 = tensor.empty() : tensor<1x2xf32>
  %y = linalg.add ins(%m, %b : tensor<1x2xf32>, tensor<1x2xf32>) outs(%e2 : tensor<1x2xf32>) -> tensor<1x2xf32>
  %yq = qnn.quantize %y : tensor<1x2xf32> -> tensor<1x2x!quant.uniform<i8:f32, 1.0>>
  return %yq : tensor<1x2x!quant.uniform<i8:f32, 1.0>>
}
