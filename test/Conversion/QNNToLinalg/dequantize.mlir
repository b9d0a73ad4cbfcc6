// RUN: quant-opt %s --convert-qnn-to-linalg --split-input-file | FileCheck %s

// CHECK-LABEL: func @per_tensor_signed
// CHECK-SAME: (%[[Q:.*]]: tensor<4xi8>) -> tensor<4xf32>
// CHECK-DAG: %[[S:.*]] = arith.constant 5.000000e-01 : f32
// CHECK-DAG: %[[Z:.*]] = arith.constant -3 : i32
// CHECK: linalg.generic
// CHECK-SAME: ins(%[[Q]] : tensor<4xi8>) outs(%{{.*}} : tensor<4xf32>)
// CHECK: ^bb0(%[[IN:.*]]: i8, %{{.*}}: f32):
// CHECK: %[[W:.*]] = arith.extsi %[[IN]] : i8 to i32
// CHECK: %[[D:.*]] = arith.subi %[[W]], %[[Z]] : i32
// CHECK: %[[F:.*]] = arith.sitofp %[[D]] : i32 to f32
// CHECK: %[[Y:.*]] = arith.mulf %[[F]], %[[S]] : f32
// CHECK: linalg.yield %[[Y]] : f32
func.func @per_tensor_signed(%q: tensor<4x!quant.uniform<i8:f32, 0.5:-3>>) -> tensor<4xf32> {
  %x = qnn.dequantize %q : tensor<4x!quant.uniform<i8:f32, 0.5:-3>> -> tensor<4xf32>
  return %x : tensor<4xf32>
}

// -----

// Unsigned storage is zero-extended; f16 results are rounded from f32.
// CHECK-LABEL: func @unsigned_f16
// CHECK: ^bb0(%[[IN:.*]]: i8, %{{.*}}: f16):
// CHECK: %[[W:.*]] = arith.extui %[[IN]] : i8 to i32
// CHECK: %[[Y:.*]] = arith.mulf %{{.*}}, %{{.*}} : f32
// CHECK: %[[H:.*]] = arith.truncf %[[Y]] : f32 to f16
// CHECK: linalg.yield %[[H]] : f16
func.func @unsigned_f16(%q: tensor<4x!quant.uniform<u8:f16, 0.5:128>>) -> tensor<4xf16> {
  %x = qnn.dequantize %q : tensor<4x!quant.uniform<u8:f16, 0.5:128>> -> tensor<4xf16>
  return %x : tensor<4xf16>
}

// -----

// CHECK-DAG: #[[$ID:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[$ROW:.*]] = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func @per_axis_rows
// CHECK-DAG: %[[S:.*]] = arith.constant dense<[2.500000e-01, 1.250000e-01]> : tensor<2xf32>
// CHECK-DAG: %[[Z:.*]] = arith.constant dense<[0, -4]> : tensor<2xi32>
// CHECK: linalg.generic {indexing_maps = [#[[$ID]], #[[$ROW]], #[[$ROW]], #[[$ID]]]
// CHECK-SAME: ins(%{{.*}}, %[[S]], %[[Z]] : tensor<2x3xi8>, tensor<2xf32>, tensor<2xi32>)
func.func @per_axis_rows(%q: tensor<2x3x!quant.uniform<i8:f32:0, {0.25, 0.125:-4}>>) -> tensor<2x3xf32> {
  %x = qnn.dequantize %q : tensor<2x3x!quant.uniform<i8:f32:0, {0.25, 0.125:-4}>> -> tensor<2x3xf32>
  return %x : tensor<2x3xf32>
}

// -----

// A whole axis can be one block (here axis 0): only axis 1 is expanded.
// CHECK-DAG: #[[$ID:.*]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG: #[[$BLK:.*]] = affine_map<(d0, d1, d2) -> (d1)>
// CHECK-LABEL: func @sub_channel_one_block_per_column_group
// CHECK: %[[E:.*]] = tensor.expand_shape %{{.*}} {{\[\[}}0], [1, 2]] output_shape [3, 2, 4] : tensor<3x8xi8> into tensor<3x2x4xi8>
// CHECK: %[[S:.*]] = arith.constant dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf32>
// CHECK: linalg.generic {indexing_maps = [#[[$ID]], #[[$BLK]], #[[$BLK]], #[[$ID]]]
// CHECK: tensor.collapse_shape %{{.*}} {{\[\[}}0], [1, 2]] : tensor<3x2x4xf32> into tensor<3x8xf32>
func.func @sub_channel_one_block_per_column_group(%q: tensor<3x8x!quant.uniform<i8:f32:{1:4}, {{1.0, 2.0}}>>) -> tensor<3x8xf32> {
  %x = qnn.dequantize %q : tensor<3x8x!quant.uniform<i8:f32:{1:4}, {{1.0, 2.0}}>> -> tensor<3x8xf32>
  return %x : tensor<3x8xf32>
}

// -----

// f64 types compute in f64.
// CHECK-LABEL: func @f64
// CHECK: arith.sitofp %{{.*}} : i32 to f64
// CHECK: arith.mulf %{{.*}}, %{{.*}} : f64
// CHECK-NOT: arith.truncf
func.func @f64(%q: tensor<4x!quant.uniform<i16:f64, 0.5>>) -> tensor<4xf64> {
  %x = qnn.dequantize %q : tensor<4x!quant.uniform<i16:f64, 0.5>> -> tensor<4xf64>
  return %x : tensor<4xf64>
}
