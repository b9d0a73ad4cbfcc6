// A per-axis u8 requantize to per-axis i4 and to another axis: the path
// (buildDequantize, then buildElementwiseWithParameters for the quantize)
// where an ASan build was once reported to read freed memory. It lowers, and
// scripts/sanitize.sh runs this test under ASan+UBSan.

// RUN: quant-opt %s --convert-qnn-to-linalg | FileCheck %s

// CHECK-LABEL: func @to_i4
// CHECK-SAME: (%{{.*}}: tensor<2x3xi8>) -> tensor<2x3xi4>
// CHECK: arith.constant dense<[10, 20, 30]> : tensor<3xi32>
// CHECK: arith.constant -8 : i32
// CHECK: arith.constant 7 : i32
// CHECK: arith.trunci %{{.*}} : i32 to i4
func.func @to_i4(%x: tensor<2x3x!quant.uniform<u8:f32:1, {0.5:10,0.25:20,0.125:30}>>) -> tensor<2x3x!quant.uniform<i4:f32:1, {0.5,0.25,0.125}>> {
  %r = qnn.requantize %x : tensor<2x3x!quant.uniform<u8:f32:1, {0.5:10,0.25:20,0.125:30}>> -> tensor<2x3x!quant.uniform<i4:f32:1, {0.5,0.25,0.125}>>
  return %r : tensor<2x3x!quant.uniform<i4:f32:1, {0.5,0.25,0.125}>>
}

// CHECK-LABEL: func @other_axis
// CHECK: arith.constant dense<[5.000000e-01, 2.500000e-01]> : tensor<2xf32>
// CHECK: arith.constant dense<[1, 2]> : tensor<2xi32>
func.func @other_axis(%x: tensor<2x3x!quant.uniform<u8:f32:1, {0.5:10,0.25:20,0.125:30}>>) -> tensor<2x3x!quant.uniform<u8:f32:0, {0.5:1,0.25:2}>> {
  %r = qnn.requantize %x : tensor<2x3x!quant.uniform<u8:f32:1, {0.5:10,0.25:20,0.125:30}>> -> tensor<2x3x!quant.uniform<u8:f32:0, {0.5:1,0.25:2}>>
  return %r : tensor<2x3x!quant.uniform<u8:f32:0, {0.5:1,0.25:2}>>
}
