// RUN: not quant-opt %s --convert-qnn-to-linalg --split-input-file 2>&1 | FileCheck %s

// An op that carries quantized types but has no lowering is reported with
// its location and the pass fails; nothing is silently miscompiled.

func.func @unknown_op_on_quantized_values(%q: tensor<2x2x!quant.uniform<i8:f32, 0.5>>) -> tensor<4x!quant.uniform<i8:f32, 0.5>> {
  // CHECK: errors.mlir:[[# @LINE + 1]]:8: error: failed to legalize operation 'tensor.collapse_shape'
  %c = tensor.collapse_shape %q [[0, 1]] : tensor<2x2x!quant.uniform<i8:f32, 0.5>> into tensor<4x!quant.uniform<i8:f32, 0.5>>
  return %c : tensor<4x!quant.uniform<i8:f32, 0.5>>
}

// -----

// Upstream quant.qcast has no rounding or saturation semantics to follow:
// it is not lowered as if it were qnn.quantize.
func.func @upstream_qcast(%x: tensor<4xf32>) -> tensor<4x!quant.uniform<i8:f32, 0.5>> {
  // CHECK: errors.mlir:[[# @LINE + 1]]:8: error: failed to legalize operation 'quant.qcast'
  %q = quant.qcast %x : tensor<4xf32> to tensor<4x!quant.uniform<i8:f32, 0.5>>
  return %q : tensor<4x!quant.uniform<i8:f32, 0.5>>
}
