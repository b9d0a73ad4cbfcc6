// RUN: quant-opt %s --split-input-file | quant-opt --split-input-file | FileCheck %s
// RUN: quant-opt %s --split-input-file --mlir-print-op-generic | quant-opt --split-input-file | FileCheck %s
// RUN: quant-opt %s --split-input-file --canonicalize | FileCheck %s --check-prefix=CANON

// qnn.lookup round trip (custom and generic forms), for the three kinds of
// codebook; the canonicalizer keeps a lookup of constants (the codes are
// the stored form of the weights).

// CHECK-LABEL: func @per_axis
// CHECK-SAME: %[[C:.*]]: tensor<4x2xi2>, %[[T:.*]]: tensor<2x4x!quant.uniform<i8:f32:0, {1.000000e-01,2.000000e-01}>>
// CHECK: qnn.lookup %[[C]], %[[T]] axis 1 : tensor<4x2xi2>, tensor<2x4x!quant.uniform<i8:f32:0, {1.000000e-01,2.000000e-01}>> -> tensor<4x2x!quant.uniform<i8:f32:1, {1.000000e-01,2.000000e-01}>>
func.func @per_axis(%c: tensor<4x2xi2>, %t: tensor<2x4x!quant.uniform<i8:f32:0, {0.1, 0.2}>>)
    -> tensor<4x2x!quant.uniform<i8:f32:1, {0.1, 0.2}>> {
  %y = qnn.lookup %c, %t axis 1 : tensor<4x2xi2>, tensor<2x4x!quant.uniform<i8:f32:0, {0.1, 0.2}>>
      -> tensor<4x2x!quant.uniform<i8:f32:1, {0.1, 0.2}>>
  return %y : tensor<4x2x!quant.uniform<i8:f32:1, {0.1, 0.2}>>
}

// -----

// CHECK-LABEL: func @float_table
// CHECK: qnn.lookup %{{.*}}, %{{.*}} axis 0 : tensor<3x5xi1>, tensor<3x2xf16> -> tensor<3x5xf16>
func.func @float_table(%c: tensor<3x5xi1>, %t: tensor<3x2xf16>) -> tensor<3x5xf16> {
  %y = qnn.lookup %c, %t axis 0 : tensor<3x5xi1>, tensor<3x2xf16> -> tensor<3x5xf16>
  return %y : tensor<3x5xf16>
}

// -----

// CHECK-LABEL: func @per_tensor_dynamic
// CHECK: qnn.lookup %{{.*}}, %{{.*}} axis 1 : tensor<?x1xi8>, tensor<1x256x!quant.uniform<u8:f32, 5.000000e-01:3>> -> tensor<?x1x!quant.uniform<u8:f32, 5.000000e-01:3>>
func.func @per_tensor_dynamic(%c: tensor<?x1xi8>, %t: tensor<1x256x!quant.uniform<u8:f32, 0.5:3>>)
    -> tensor<?x1x!quant.uniform<u8:f32, 0.5:3>> {
  %y = qnn.lookup %c, %t axis 1 : tensor<?x1xi8>, tensor<1x256x!quant.uniform<u8:f32, 0.5:3>>
      -> tensor<?x1x!quant.uniform<u8:f32, 0.5:3>>
  return %y : tensor<?x1x!quant.uniform<u8:f32, 0.5:3>>
}

// -----

// CANON-LABEL: func @constants_kept
// CANON-DAG: %[[C:.*]] = arith.constant dense<{{\[}}[1, -1]]> : tensor<1x2xi2>
// CANON-DAG: %[[T:.*]] = qnn.constant
// CANON: %[[L:.*]] = qnn.lookup %[[C]], %[[T]] axis 0
// CANON: qnn.dequantize %[[L]]
func.func @constants_kept() -> tensor<1x2xf32> {
  %c = arith.constant dense<[[1, 3]]> : tensor<1x2xi2>
  %t = qnn.constant dense<[[0, 1, 2, 3]]> : tensor<1x4xi8> -> tensor<1x4x!quant.uniform<i8:f32:0, {0.5}>>
  %l = qnn.lookup %c, %t axis 0 : tensor<1x2xi2>, tensor<1x4x!quant.uniform<i8:f32:0, {0.5}>>
      -> tensor<1x2x!quant.uniform<i8:f32:0, {0.5}>>
  %w = qnn.dequantize %l : tensor<1x2x!quant.uniform<i8:f32:0, {0.5}>> -> tensor<1x2xf32>
  return %w : tensor<1x2xf32>
}
