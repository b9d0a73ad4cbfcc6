// RUN: quant-opt %s --convert-qnn-to-linalg --split-input-file | FileCheck %s

// qnn.dynamic_quantize becomes three loops (docs/Semantics.md, "Dynamic
// quantization"): a reduction of each row's finite range (starting from 0,
// a non-finite element read as 0), the scale and zero point of each row in
// f32, and qnn.quantize's element arithmetic with them; the parameters are
// computed and read in collapsed form (the kept axes only).

// CHECK-LABEL: func @per_row_asymmetric
// CHECK: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[FILL:.*]] = linalg.fill ins(%[[ZERO]] : f32) outs(%{{.*}} : tensor<4xf32>)
// CHECK: %[[RANGE:.*]]:2 = linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "reduction"]
// CHECK-SAME: outs(%[[FILL]], %[[FILL]] : tensor<4xf32>, tensor<4xf32>)
// CHECK: math.absf
// CHECK: arith.cmpf olt
// CHECK: arith.minimumf
// CHECK: arith.maximumf
// CHECK: %[[PARAMS:.*]]:2 = linalg.generic
// CHECK-SAME: ins(%[[RANGE]]#0, %[[RANGE]]#1 : tensor<4xf32>, tensor<4xf32>)
// CHECK: arith.cmpf oeq
// CHECK: arith.subf
// CHECK: arith.divf %{{.*}}, %{{.*}} : f32
// CHECK: arith.select
// CHECK: arith.divf
// CHECK: arith.subf
// CHECK: math.roundeven
// CHECK: arith.fptosi %{{.*}} : f32 to i32
// CHECK: %[[Q:.*]] = linalg.generic
// CHECK-SAME: ins(%{{.*}}, %[[PARAMS]]#0, %[[PARAMS]]#1 : tensor<4x8xf32>, tensor<4xf32>, tensor<4xi32>)
// CHECK: arith.divf
// CHECK: math.roundeven
// CHECK: arith.trunci %{{.*}} : i32 to i8
// CHECK: tensor.expand_shape %[[PARAMS]]#0 {{\[\[}}0, 1]] output_shape [4, 1] : tensor<4xf32> into tensor<4x1xf32>
// CHECK: tensor.expand_shape %[[PARAMS]]#1 {{\[\[}}0, 1]] output_shape [4, 1] : tensor<4xi32> into tensor<4x1xi32>
func.func @per_row_asymmetric(%x: tensor<4x8xf32>) -> (tensor<4x8xi8>, tensor<4x1xf32>, tensor<4x1xi32>) {
  %q, %s, %z = qnn.dynamic_quantize %x : tensor<4x8xf32> -> tensor<4x8xi8>, tensor<4x1xf32>, tensor<4x1xi32>
  return %q, %s, %z : tensor<4x8xi8>, tensor<4x1xf32>, tensor<4x1xi32>
}

// -----

// Symmetric: one reduction (max |x|), s = m / 127, z = 0; per tensor the
// parameters are rank 0.
// CHECK-LABEL: func @per_tensor_symmetric
// CHECK: %[[M:.*]] = linalg.generic
// CHECK-SAME: iterator_types = ["reduction", "reduction"]
// CHECK-SAME: outs(%{{.*}} : tensor<f32>)
// CHECK-NOT: arith.minimumf
// CHECK: arith.maximumf
// CHECK: %[[C127:.*]] = arith.constant 1.270000e+02 : f32
// CHECK: arith.divf %{{.*}}, %[[C127]] : f32
// CHECK: tensor.expand_shape %{{.*}} [] output_shape [1, 1] : tensor<f32> into tensor<1x1xf32>
func.func @per_tensor_symmetric(%x: tensor<4x8xf32>) -> (tensor<4x8xi8>, tensor<1x1xf32>) {
  %q, %s, %z = qnn.dynamic_quantize %x symmetric : tensor<4x8xf32> -> tensor<4x8xi8>, tensor<1x1xf32>, tensor<1x1xi32>
  return %q, %s : tensor<4x8xi8>, tensor<1x1xf32>
}

// -----

// dynamic_dequantize: f32(q - z) * s, q zero-extended when unsigned.
// CHECK-LABEL: func @dequantize_unsigned
// CHECK-SAME: (%[[Q:.*]]: tensor<4x8xi8>, %[[S:.*]]: tensor<4x1xf32>, %[[Z:.*]]: tensor<4x1xi32>)
// CHECK: %[[CS:.*]] = tensor.collapse_shape %[[S]] {{\[\[}}0, 1]] : tensor<4x1xf32> into tensor<4xf32>
// CHECK: %[[CZ:.*]] = tensor.collapse_shape %[[Z]] {{\[\[}}0, 1]] : tensor<4x1xi32> into tensor<4xi32>
// CHECK: linalg.generic
// CHECK-SAME: ins(%[[Q]], %[[CS]], %[[CZ]] : tensor<4x8xi8>, tensor<4xf32>, tensor<4xi32>)
// CHECK: ^bb0(%[[V:.*]]: i8, %[[SV:.*]]: f32, %[[ZV:.*]]: i32, %{{.*}}: f32):
// CHECK: %[[E:.*]] = arith.extui %[[V]] : i8 to i32
// CHECK: %[[D:.*]] = arith.subi %[[E]], %[[ZV]] : i32
// CHECK: %[[F:.*]] = arith.sitofp %[[D]] : i32 to f32
// CHECK: %[[P:.*]] = arith.mulf %[[F]], %[[SV]] : f32
// CHECK: linalg.yield %[[P]] : f32
func.func @dequantize_unsigned(%q: tensor<4x8xi8>, %s: tensor<4x1xf32>, %z: tensor<4x1xi32>) -> tensor<4x8xf32> {
  %d = qnn.dynamic_dequantize %q, %s, %z unsigned : tensor<4x8xi8>, tensor<4x1xf32>, tensor<4x1xi32> -> tensor<4x8xf32>
  return %d : tensor<4x8xf32>
}
