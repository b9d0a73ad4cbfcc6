// RUN: quant-opt %s --qnn-distinct-insert-destinations --split-input-file | FileCheck %s

// Two padded tensors of one shape whose zero fills CSE merged into one: the
// second insert gets its own fill (and empty tensor), so that each padded
// buffer bufferizes in place.
// CHECK-LABEL: func.func @shared_fill
// CHECK: %[[E:.*]] = tensor.empty() : tensor<1x6x6x4xi8>
// CHECK-NEXT: %[[F:.*]] = linalg.fill ins(%{{.*}} : i8) outs(%[[E]] : tensor<1x6x6x4xi8>)
// CHECK-NEXT: %[[E2:.*]] = tensor.empty() : tensor<1x6x6x4xi8>
// CHECK-NEXT: %[[F2:.*]] = linalg.fill ins(%{{.*}} : i8) outs(%[[E2]] : tensor<1x6x6x4xi8>)
// CHECK: tensor.insert_slice %{{.*}} into %[[F]][0, 1, 1, 0]
// CHECK: tensor.insert_slice %{{.*}} into %[[F2]][0, 1, 1, 0]
func.func @shared_fill(%a: tensor<1x4x4x4xi8>, %b: tensor<1x4x4x4xi8>) -> (tensor<1x6x6x4xi8>, tensor<1x6x6x4xi8>) {
  %c0 = arith.constant 0 : i8
  %e = tensor.empty() : tensor<1x6x6x4xi8>
  %f = linalg.fill ins(%c0 : i8) outs(%e : tensor<1x6x6x4xi8>) -> tensor<1x6x6x4xi8>
  %p = tensor.insert_slice %a into %f[0, 1, 1, 0] [1, 4, 4, 4] [1, 1, 1, 1] : tensor<1x4x4x4xi8> into tensor<1x6x6x4xi8>
  %q = tensor.insert_slice %b into %f[0, 1, 1, 0] [1, 4, 4, 4] [1, 1, 1, 1] : tensor<1x4x4x4xi8> into tensor<1x6x6x4xi8>
  return %p, %q : tensor<1x6x6x4xi8>, tensor<1x6x6x4xi8>
}

// -----

// A destination computed from a run-time value is not recomputed: one-shot
// bufferization copies it as before.
// CHECK-LABEL: func.func @computed_destination
// CHECK-COUNT-1: linalg.generic
// CHECK: tensor.insert_slice %{{.*}} into %[[D:.*]][0, 0]
// CHECK: tensor.insert_slice %{{.*}} into %[[D]][1, 0]
#id = affine_map<(i, j) -> (i, j)>
func.func @computed_destination(%x: tensor<2x3xi8>, %a: tensor<1x3xi8>) -> (tensor<2x3xi8>, tensor<2x3xi8>) {
  %e = tensor.empty() : tensor<2x3xi8>
  %d = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<2x3xi8>) outs(%e : tensor<2x3xi8>) {
  ^bb0(%in: i8, %out: i8):
    %n = arith.addi %in, %in : i8
    linalg.yield %n : i8
  } -> tensor<2x3xi8>
  %p = tensor.insert_slice %a into %d[0, 0] [1, 3] [1, 1] : tensor<1x3xi8> into tensor<2x3xi8>
  %q = tensor.insert_slice %a into %d[1, 0] [1, 3] [1, 1] : tensor<1x3xi8> into tensor<2x3xi8>
  return %p, %q : tensor<2x3xi8>, tensor<2x3xi8>
}
