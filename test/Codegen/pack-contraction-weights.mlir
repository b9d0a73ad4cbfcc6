// RUN: quant-opt %s --qnn-pack-contraction-weights | FileCheck %s

// A matmul's constant (k, n) weights become (n, k), transposed at compile
// time, and the op reads them through the permuted map; the original global
// goes, since nothing else reads it.

#mk = affine_map<(m, n, k) -> (m, k)>
#kn = affine_map<(m, n, k) -> (k, n)>
#nk = affine_map<(m, n, k) -> (n, k)>
#mn = affine_map<(m, n, k) -> (m, n)>

// The convolution's packed map (below).
// CHECK: affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d3, d4, d5, d6)>
// CHECK-NOT: memref.global "private" constant @weights :
// CHECK: memref.global "private" constant @weights_packed : memref<3x2xi8> = dense<{{\[\[}}1, 4], [2, 5], [3, 6]]> {alignment = 64 : i64}
memref.global "private" constant @weights : memref<2x3xi8> = dense<[[1, 2, 3], [4, 5, 6]]> {alignment = 64 : i64}

// CHECK-LABEL: func @matmul
// CHECK: %[[W:.*]] = memref.get_global @weights_packed : memref<3x2xi8>
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #[[NK:.*]], #{{.*}}]
// CHECK-SAME: ins(%{{.*}}, %[[W]] : memref<4x2xi8>, memref<3x2xi8>)
func.func @matmul(%a: memref<4x2xi8>, %out: memref<4x3xi32>) {
  %w = memref.get_global @weights : memref<2x3xi8>
  linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %w : memref<4x2xi8>, memref<2x3xi8>) outs(%out : memref<4x3xi32>) {
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xe = arith.extui %x : i8 to i32
    %ye = arith.extsi %y : i8 to i32
    %p = arith.muli %xe, %ye : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  }
  return
}

// A convolution's (kh, kw, c, f) weights become (f, kh, kw, c). Here
// kh = 2, kw = 1, c = 2, f = 2 and element [kh][kw][c][f] is
// 100 kh + 2 c + f, so the packed [f][kh][kw][c] is
// [[[[0, 2]], [[100, 102]]], [[[1, 3]], [[101, 103]]]].
// CHECK: memref.global "private" constant @conv_weights_packed : memref<2x2x1x2xi8> = dense<{{\[\[\[\[}}0, 2]], {{\[\[}}100, 102]]], {{\[\[\[}}1, 3]], {{\[\[}}101, 103]]]]>
memref.global "private" constant @conv_weights : memref<2x1x2x2xi8> = dense<[[[[0, 1], [2, 3]]], [[[100, 101], [102, 103]]]]>

// CHECK-LABEL: func @conv
// CHECK: memref.get_global @conv_weights_packed : memref<2x2x1x2xi8>
// CHECK: linalg.generic
func.func @conv(%x: memref<1x3x3x2xi8>, %out: memref<1x2x3x2xi32>) {
  %w = memref.get_global @conv_weights : memref<2x1x2x2xi8>
  linalg.generic {indexing_maps = [affine_map<(n, oh, ow, f, kh, kw, c) -> (n, oh + kh, ow + kw, c)>,
                                   affine_map<(n, oh, ow, f, kh, kw, c) -> (kh, kw, c, f)>,
                                   affine_map<(n, oh, ow, f, kh, kw, c) -> (n, oh, ow, f)>],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
      ins(%x, %w : memref<1x3x3x2xi8>, memref<2x1x2x2xi8>) outs(%out : memref<1x2x3x2xi32>) {
  ^bb0(%a: i8, %b: i8, %acc: i32):
    %ae = arith.extui %a : i8 to i32
    %be = arith.extsi %b : i8 to i32
    %p = arith.muli %ae, %be : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  }
  return
}

// Weights that something else reads too (a copy here) stay, beside the
// packed copy; two contractions reading them share one packed global.
// CHECK: memref.global "private" constant @shared_weights : memref<2x3xi8>
// CHECK: memref.global "private" constant @shared_weights_packed : memref<3x2xi8>
// CHECK-NOT: @shared_weights_packed_0
memref.global "private" constant @shared_weights : memref<2x3xi8> = dense<[[1, 2, 3], [4, 5, 6]]>

// CHECK-LABEL: func @shared
// CHECK: memref.get_global @shared_weights_packed
// CHECK: memref.get_global @shared_weights_packed
// CHECK: %[[ORIGINAL:.*]] = memref.get_global @shared_weights :
// CHECK: memref.copy %[[ORIGINAL]]
func.func @shared(%a: memref<4x2xi8>, %out: memref<4x3xi32>, %copy: memref<2x3xi8>) {
  %w = memref.get_global @shared_weights : memref<2x3xi8>
  linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %w : memref<4x2xi8>, memref<2x3xi8>) outs(%out : memref<4x3xi32>) {
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xe = arith.extui %x : i8 to i32
    %ye = arith.extsi %y : i8 to i32
    %p = arith.muli %xe, %ye : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  }
  linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %w : memref<4x2xi8>, memref<2x3xi8>) outs(%out : memref<4x3xi32>) {
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xe = arith.extui %x : i8 to i32
    %ye = arith.extsi %y : i8 to i32
    %p = arith.muli %xe, %ye : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  }
  memref.copy %w, %copy : memref<2x3xi8> to memref<2x3xi8>
  return
}

// Weights already (n, k), float contractions and non-constant weights are
// left alone.
// CHECK: memref.global "private" constant @packed_already : memref<3x2xi8>
// CHECK-NOT: @packed_already_packed
memref.global "private" constant @packed_already : memref<3x2xi8> = dense<1>
memref.global "private" constant @float_weights : memref<2x3xf32> = dense<1.0>

// CHECK-LABEL: func @left_alone
// CHECK: memref.get_global @packed_already : memref<3x2xi8>
// CHECK: memref.get_global @float_weights : memref<2x3xf32>
func.func @left_alone(%a: memref<4x2xi8>, %out: memref<4x3xi32>, %af: memref<4x2xf32>, %outf: memref<4x3xf32>) {
  %w = memref.get_global @packed_already : memref<3x2xi8>
  linalg.generic {indexing_maps = [#mk, #nk, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %w : memref<4x2xi8>, memref<3x2xi8>) outs(%out : memref<4x3xi32>) {
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xe = arith.extui %x : i8 to i32
    %ye = arith.extsi %y : i8 to i32
    %p = arith.muli %xe, %ye : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  }
  %wf = memref.get_global @float_weights : memref<2x3xf32>
  linalg.matmul ins(%af, %wf : memref<4x2xf32>, memref<2x3xf32>) outs(%outf : memref<4x3xf32>)
  return
}
