// RUN: quant-opt %s | quant-opt | FileCheck %s
// RUN: quant-opt %s --mlir-print-op-generic | quant-opt | FileCheck %s

// Round trip of qnn.dynamic_quantize and qnn.dynamic_dequantize (per tensor,
// per row, unsigned, symmetric, dynamic sizes); their verifier errors are in
// dynamic-invalid.mlir.

// CHECK-LABEL: func @per_row
// CHECK: %[[Q:.*]], %[[S:.*]], %[[Z:.*]] = qnn.dynamic_quantize %{{.*}} symmetric : tensor<4x8xf32> -> tensor<4x8xi8>, tensor<4x1xf32>, tensor<4x1xi32>
// CHECK: qnn.dynamic_dequantize %[[Q]], %[[S]], %[[Z]] : tensor<4x8xi8>, tensor<4x1xf32>, tensor<4x1xi32> -> tensor<4x8xf32>
func.func @per_row(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %q, %s, %z = qnn.dynamic_quantize %x symmetric : tensor<4x8xf32> -> tensor<4x8xi8>, tensor<4x1xf32>, tensor<4x1xi32>
  %d = qnn.dynamic_dequantize %q, %s, %z : tensor<4x8xi8>, tensor<4x1xf32>, tensor<4x1xi32> -> tensor<4x8xf32>
  return %d : tensor<4x8xf32>
}

// CHECK-LABEL: func @per_tensor_unsigned
// CHECK: qnn.dynamic_quantize %{{.*}} unsigned : tensor<2x3x4xf32> -> tensor<2x3x4xi8>, tensor<1x1x1xf32>, tensor<1x1x1xi32>
// CHECK: qnn.dynamic_dequantize %{{.*}} unsigned : tensor<2x3x4xi8>
func.func @per_tensor_unsigned(%x: tensor<2x3x4xf32>) -> tensor<2x3x4xf32> {
  %q, %s, %z = qnn.dynamic_quantize %x unsigned : tensor<2x3x4xf32> -> tensor<2x3x4xi8>, tensor<1x1x1xf32>, tensor<1x1x1xi32>
  %d = qnn.dynamic_dequantize %q, %s, %z unsigned : tensor<2x3x4xi8>, tensor<1x1x1xf32>, tensor<1x1x1xi32> -> tensor<2x3x4xf32>
  return %d : tensor<2x3x4xf32>
}

// CHECK-LABEL: func @dynamic_rows
// CHECK: qnn.dynamic_quantize %{{.*}} : tensor<?x16xf32> -> tensor<?x16xi16>, tensor<?x1xf32>, tensor<?x1xi32>
func.func @dynamic_rows(%x: tensor<?x16xf32>) -> tensor<?x16xi16> {
  %q, %s, %z = qnn.dynamic_quantize %x : tensor<?x16xf32> -> tensor<?x16xi16>, tensor<?x1xf32>, tensor<?x1xi32>
  return %q : tensor<?x16xi16>
}
