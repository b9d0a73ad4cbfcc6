// RUN: quant-opt %s --convert-qnn-to-linalg --split-input-file | FileCheck %s

// qnn.lookup becomes a parallel loop over the codes that zero-extends each
// code to an index and extracts the entry of its channel's row.

// CHECK-LABEL: func @per_axis
// CHECK-SAME: (%[[C:.*]]: tensor<3x2xi4>, %[[T:.*]]: tensor<2x16xi8>) -> tensor<3x2xi8>
// CHECK: %[[E:.*]] = tensor.empty() : tensor<3x2xi8>
// CHECK: linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "parallel"]
// CHECK-SAME: ins(%[[C]] : tensor<3x2xi4>) outs(%[[E]] : tensor<3x2xi8>)
// CHECK: ^bb0(%[[CODE:.*]]: i4, %{{.*}}: i8):
// CHECK: %[[COL:.*]] = arith.index_castui %[[CODE]] : i4 to index
// CHECK: %[[ROW:.*]] = linalg.index 1 : index
// CHECK: %[[V:.*]] = tensor.extract %[[T]][%[[ROW]], %[[COL]]] : tensor<2x16xi8>
// CHECK: linalg.yield %[[V]] : i8
func.func @per_axis(%c: tensor<3x2xi4>, %t: tensor<2x16x!quant.uniform<i8<-127:127>:f32:0, {0.1, 0.2}>>)
    -> tensor<3x2x!quant.uniform<i8<-127:127>:f32:1, {0.1, 0.2}>> {
  %y = qnn.lookup %c, %t axis 1 : tensor<3x2xi4>, tensor<2x16x!quant.uniform<i8<-127:127>:f32:0, {0.1, 0.2}>>
      -> tensor<3x2x!quant.uniform<i8<-127:127>:f32:1, {0.1, 0.2}>>
  return %y : tensor<3x2x!quant.uniform<i8<-127:127>:f32:1, {0.1, 0.2}>>
}

// -----

// CHECK-LABEL: func @float_dynamic
// CHECK-SAME: (%[[C:.*]]: tensor<?x3xi2>, %[[T:.*]]: tensor<3x4xf32>)
// CHECK: %[[D:.*]] = tensor.dim %[[C]], %{{.*}} : tensor<?x3xi2>
// CHECK: %[[E:.*]] = tensor.empty(%[[D]]) : tensor<?x3xf32>
// CHECK: linalg.generic
// CHECK: arith.index_castui %{{.*}} : i2 to index
// CHECK: tensor.extract %[[T]]
func.func @float_dynamic(%c: tensor<?x3xi2>, %t: tensor<3x4xf32>) -> tensor<?x3xf32> {
  %y = qnn.lookup %c, %t axis 1 : tensor<?x3xi2>, tensor<3x4xf32> -> tensor<?x3xf32>
  return %y : tensor<?x3xf32>
}
