// RUN: quant-opt %s --convert-qnn-to-linalg | FileCheck %s

// requantize is literally quantize(dequantize(q)): a dequantizing generic
// into the expressed type, then a quantizing one, each with its own type's
// parameters (here per-tensor in, per-axis out).
// CHECK-LABEL: func @requantize
// CHECK-SAME: (%[[Q:.*]]: tensor<2x2xi8>) -> tensor<2x2xi8>
// CHECK: %[[X:.*]] = linalg.generic
// CHECK-SAME: ins(%[[Q]] : tensor<2x2xi8>) outs(%{{.*}} : tensor<2x2xf32>)
// CHECK: arith.extsi
// CHECK: arith.mulf
// CHECK: linalg.yield %{{.*}} : f32
// CHECK-DAG: arith.constant dense<[2.500000e-01, 5.000000e-01]> : tensor<2xf32>
// CHECK-DAG: arith.constant dense<[128, 0]> : tensor<2xi32>
// CHECK: %[[R:.*]] = linalg.generic
// CHECK-SAME: ins(%[[X]], %{{.*}}, %{{.*}} : tensor<2x2xf32>, tensor<2xf32>, tensor<2xi32>) outs(%{{.*}} : tensor<2x2xi8>)
// CHECK: arith.divf
// CHECK: math.trunc
// CHECK: return %[[R]]
func.func @requantize(%q: tensor<2x2x!quant.uniform<i8:f32, 0.5>>) -> tensor<2x2x!quant.uniform<u8:f32:1, {0.25:128, 0.5}>> {
  %r = qnn.requantize %q rounding<toward_zero> : tensor<2x2x!quant.uniform<i8:f32, 0.5>> -> tensor<2x2x!quant.uniform<u8:f32:1, {0.25:128, 0.5}>>
  return %r : tensor<2x2x!quant.uniform<u8:f32:1, {0.25:128, 0.5}>>
}
