// RUN: quant-opt %s --qnn-simplify-data-movement --split-input-file | FileCheck %s

// A transpose that only moves unit dimensions (NCHW -> NHWC with one
// channel) is a reshape.
// CHECK-LABEL: func.func @unit_transpose
// CHECK-NOT: linalg.transpose
// CHECK: %[[FLAT:.*]] = tensor.collapse_shape %{{.*}} {{\[\[}}0, 1, 2, 3]] : tensor<2x1x5x7xi8> into tensor<70xi8>
// CHECK: tensor.expand_shape %[[FLAT]] {{\[\[}}0, 1, 2, 3]] output_shape [2, 5, 7, 1] : tensor<70xi8> into tensor<2x5x7x1xi8>
func.func @unit_transpose(%x: tensor<2x1x5x7xi8>) -> tensor<2x5x7x1xi8> {
  %e = tensor.empty() : tensor<2x5x7x1xi8>
  %t = linalg.transpose ins(%x : tensor<2x1x5x7xi8>) outs(%e : tensor<2x5x7x1xi8>) permutation = [0, 2, 3, 1]
  return %t : tensor<2x5x7x1xi8>
}

// -----

// A real transpose stays.
// CHECK-LABEL: func.func @real_transpose
// CHECK: linalg.transpose
func.func @real_transpose(%x: tensor<2x3x5x7xi8>) -> tensor<2x5x7x3xi8> {
  %e = tensor.empty() : tensor<2x5x7x3xi8>
  %t = linalg.transpose ins(%x : tensor<2x3x5x7xi8>) outs(%e : tensor<2x5x7x3xi8>) permutation = [0, 2, 3, 1]
  return %t : tensor<2x5x7x3xi8>
}

// -----

// A static pad with a constant: a fill of the padded tensor at the top of
// the function (before the producer of the source) and an insert.
// CHECK-LABEL: func.func @pad
// CHECK-NEXT: %[[C:.*]] = arith.constant 3 : i8
// CHECK-NEXT: %[[E:.*]] = tensor.empty() : tensor<1x6x7x2xi8>
// CHECK-NEXT: %[[F:.*]] = linalg.fill ins(%[[C]] : i8) outs(%[[E]] : tensor<1x6x7x2xi8>)
// CHECK: %[[S:.*]] = linalg.generic
// CHECK: tensor.insert_slice %[[S]] into %[[F]][0, 1, 1, 0] [1, 4, 5, 2] [1, 1, 1, 1] : tensor<1x4x5x2xi8> into tensor<1x6x7x2xi8>
// CHECK-NOT: tensor.pad
func.func @pad(%x: tensor<1x4x5x2xi8>) -> tensor<1x6x7x2xi8> {
  %e = tensor.empty() : tensor<1x4x5x2xi8>
  %s = linalg.generic {indexing_maps = [affine_map<(a, b, c, d) -> (a, b, c, d)>, affine_map<(a, b, c, d) -> (a, b, c, d)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%x : tensor<1x4x5x2xi8>) outs(%e : tensor<1x4x5x2xi8>) {
  ^bb0(%in: i8, %out: i8):
    %n = arith.addi %in, %in : i8
    linalg.yield %n : i8
  } -> tensor<1x4x5x2xi8>
  %c3 = arith.constant 3 : i8
  %p = tensor.pad %s low[0, 1, 1, 0] high[0, 1, 1, 0] {
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %c3 : i8
  } : tensor<1x4x5x2xi8> to tensor<1x6x7x2xi8>
  return %p : tensor<1x6x7x2xi8>
}
