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

// -----

// Two padded tensors of one shape whose border fills (slabs extracted,
// filled and inserted in place, qnn-simplify-data-movement) CSE merged:
// the second insert gets its own copy of the whole computation, each
// value of it copied once (the tensor a slab is extracted from and
// inserted into is one copy, not two).
// CHECK-LABEL: func.func @shared_border
// CHECK: %[[E:.*]] = tensor.empty() : tensor<1x3x4x4xi8>
// CHECK: %[[B0:.*]] = tensor.insert_slice %{{.*}} into %[[E]][0, 0, 0, 0]
// CHECK: %[[B1:.*]] = tensor.insert_slice %{{.*}} into %[[B0]][0, 2, 0, 0]
// CHECK: %[[E2:.*]] = tensor.empty() : tensor<1x3x4x4xi8>
// CHECK: %[[X2:.*]] = tensor.extract_slice %[[E2]][0, 0, 0, 0]
// CHECK: %[[F2:.*]] = linalg.fill ins(%{{.*}} : i8) outs(%[[X2]] : tensor<1x1x4x4xi8>)
// CHECK: %[[C0:.*]] = tensor.insert_slice %[[F2]] into %[[E2]][0, 0, 0, 0]
// CHECK: %[[X3:.*]] = tensor.extract_slice %[[C0]][0, 2, 0, 0]
// CHECK: %[[F3:.*]] = linalg.fill ins(%{{.*}} : i8) outs(%[[X3]] : tensor<1x1x4x4xi8>)
// CHECK: %[[C1:.*]] = tensor.insert_slice %[[F3]] into %[[C0]][0, 2, 0, 0]
// CHECK-NOT: tensor.empty
// CHECK: tensor.insert_slice %{{.*}} into %[[B1]][0, 1, 0, 0]
// CHECK: tensor.insert_slice %{{.*}} into %[[C1]][0, 1, 0, 0]
func.func @shared_border(%a: tensor<1x1x4x4xi8>, %b: tensor<1x1x4x4xi8>) -> (tensor<1x3x4x4xi8>, tensor<1x3x4x4xi8>) {
  %c0 = arith.constant 0 : i8
  %e = tensor.empty() : tensor<1x3x4x4xi8>
  %x0 = tensor.extract_slice %e[0, 0, 0, 0] [1, 1, 4, 4] [1, 1, 1, 1] : tensor<1x3x4x4xi8> to tensor<1x1x4x4xi8>
  %f0 = linalg.fill ins(%c0 : i8) outs(%x0 : tensor<1x1x4x4xi8>) -> tensor<1x1x4x4xi8>
  %b0 = tensor.insert_slice %f0 into %e[0, 0, 0, 0] [1, 1, 4, 4] [1, 1, 1, 1] : tensor<1x1x4x4xi8> into tensor<1x3x4x4xi8>
  %x1 = tensor.extract_slice %b0[0, 2, 0, 0] [1, 1, 4, 4] [1, 1, 1, 1] : tensor<1x3x4x4xi8> to tensor<1x1x4x4xi8>
  %f1 = linalg.fill ins(%c0 : i8) outs(%x1 : tensor<1x1x4x4xi8>) -> tensor<1x1x4x4xi8>
  %b1 = tensor.insert_slice %f1 into %b0[0, 2, 0, 0] [1, 1, 4, 4] [1, 1, 1, 1] : tensor<1x1x4x4xi8> into tensor<1x3x4x4xi8>
  %p = tensor.insert_slice %a into %b1[0, 1, 0, 0] [1, 1, 4, 4] [1, 1, 1, 1] : tensor<1x1x4x4xi8> into tensor<1x3x4x4xi8>
  %q = tensor.insert_slice %b into %b1[0, 1, 0, 0] [1, 1, 4, 4] [1, 1, 1, 1] : tensor<1x1x4x4xi8> into tensor<1x3x4x4xi8>
  return %p, %q : tensor<1x3x4x4xi8>, tensor<1x3x4x4xi8>
}
