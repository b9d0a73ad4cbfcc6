// Tensors with a zero-size dimension have no elements, and every qnn path
// must take them without dividing by that size: a splat constant quantized
// by the folder (it used to divide by zero computing the parameter entry of
// its first element), and a sub-channel type whose unblocked axis has size 0
// (the verifier used to count 0/0 blocks on it).

// RUN: quant-opt %s --canonicalize | FileCheck %s
// RUN: quant-opt %s --canonicalize --convert-qnn-to-linalg --canonicalize | FileCheck %s --check-prefix=LOWERED

// CHECK-LABEL: func @splat_zero_size
// CHECK: qnn.constant dense<2> : tensor<0x4xi8> -> tensor<0x4x!quant.uniform<i8:f32, 5.000000e-01>>
// LOWERED-LABEL: func @splat_zero_size
// LOWERED: arith.constant dense<2> : tensor<0x4xi8>
func.func @splat_zero_size() -> tensor<0x4x!quant.uniform<i8:f32, 0.5>> {
  %c = arith.constant dense<1.0> : tensor<0x4xf32>
  %q = qnn.quantize %c : tensor<0x4xf32> -> tensor<0x4x!quant.uniform<i8:f32, 0.5>>
  return %q : tensor<0x4x!quant.uniform<i8:f32, 0.5>>
}

// CHECK-LABEL: func @per_axis_zero_size
// CHECK: qnn.constant dense<{{.*}}> : tensor<0x2xi8>
func.func @per_axis_zero_size() -> tensor<0x2x!quant.uniform<i8:f32:1, {0.5, 0.25}>> {
  %c = arith.constant dense<1.0> : tensor<0x2xf32>
  %q = qnn.quantize %c : tensor<0x2xf32> -> tensor<0x2x!quant.uniform<i8:f32:1, {0.5, 0.25}>>
  return %q : tensor<0x2x!quant.uniform<i8:f32:1, {0.5, 0.25}>>
}

// CHECK-LABEL: func @sub_channel_zero_size
// CHECK: qnn.dequantize %{{.*}} : tensor<4x0x!quant.uniform<i8:f32:{0:2}, {{.*}}>> -> tensor<4x0xf32>
// LOWERED-LABEL: func @sub_channel_zero_size
// LOWERED: linalg.generic
// LOWERED-SAME: tensor<2x2x0xi8>
func.func @sub_channel_zero_size(%x: tensor<4x0x!quant.uniform<i8:f32:{0:2}, {{1.0},{2.0}}>>) -> tensor<4x0xf32> {
  %d = qnn.dequantize %x : tensor<4x0x!quant.uniform<i8:f32:{0:2}, {{1.0},{2.0}}>> -> tensor<4x0xf32>
  return %d : tensor<4x0xf32>
}

// CHECK-LABEL: func @requantize_zero_size
// CHECK: qnn.constant dense<{{.*}}> : tensor<3x0xi8>
func.func @requantize_zero_size() -> tensor<3x0x!quant.uniform<i8:f32, 0.25>> {
  %c = qnn.constant dense<1> : tensor<3x0xi8> -> tensor<3x0x!quant.uniform<i8:f32, 0.5>>
  %r = qnn.requantize %c : tensor<3x0x!quant.uniform<i8:f32, 0.5>> -> tensor<3x0x!quant.uniform<i8:f32, 0.25>>
  return %r : tensor<3x0x!quant.uniform<i8:f32, 0.25>>
}
