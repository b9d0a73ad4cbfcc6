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

// A static pad with a constant: at the top of the function (before the
// producer of the source), the padded tensor's border filled in place,
// one slab per padded side (rows 0 and 5 whole, then columns 0 and 6 of
// rows 1 to 4: no element twice, none of the interior), and an insert of
// the source into it.
// CHECK-LABEL: func.func @pad
// CHECK-NEXT: %[[C:.*]] = arith.constant 3 : i8
// CHECK-NEXT: %[[E:.*]] = tensor.empty() : tensor<1x6x7x2xi8>
// CHECK-NEXT: %[[X0:.*]] = tensor.extract_slice %[[E]][0, 0, 0, 0] [1, 1, 7, 2] [1, 1, 1, 1]
// CHECK-NEXT: %[[F0:.*]] = linalg.fill ins(%[[C]] : i8) outs(%[[X0]] : tensor<1x1x7x2xi8>)
// CHECK-NEXT: %[[B0:.*]] = tensor.insert_slice %[[F0]] into %[[E]][0, 0, 0, 0] [1, 1, 7, 2] [1, 1, 1, 1]
// CHECK-NEXT: %[[X1:.*]] = tensor.extract_slice %[[B0]][0, 5, 0, 0] [1, 1, 7, 2] [1, 1, 1, 1]
// CHECK-NEXT: %[[F1:.*]] = linalg.fill ins(%[[C]] : i8) outs(%[[X1]] : tensor<1x1x7x2xi8>)
// CHECK-NEXT: %[[B1:.*]] = tensor.insert_slice %[[F1]] into %[[B0]][0, 5, 0, 0] [1, 1, 7, 2] [1, 1, 1, 1]
// CHECK-NEXT: %[[X2:.*]] = tensor.extract_slice %[[B1]][0, 1, 0, 0] [1, 4, 1, 2] [1, 1, 1, 1]
// CHECK-NEXT: %[[F2:.*]] = linalg.fill ins(%[[C]] : i8) outs(%[[X2]] : tensor<1x4x1x2xi8>)
// CHECK-NEXT: %[[B2:.*]] = tensor.insert_slice %[[F2]] into %[[B1]][0, 1, 0, 0] [1, 4, 1, 2] [1, 1, 1, 1]
// CHECK-NEXT: %[[X3:.*]] = tensor.extract_slice %[[B2]][0, 1, 6, 0] [1, 4, 1, 2] [1, 1, 1, 1]
// CHECK-NEXT: %[[F3:.*]] = linalg.fill ins(%[[C]] : i8) outs(%[[X3]] : tensor<1x4x1x2xi8>)
// CHECK-NEXT: %[[B3:.*]] = tensor.insert_slice %[[F3]] into %[[B2]][0, 1, 6, 0] [1, 4, 1, 2] [1, 1, 1, 1]
// CHECK-NOT: linalg.fill
// CHECK: %[[S:.*]] = linalg.generic
// CHECK: tensor.insert_slice %[[S]] into %[[B3]][0, 1, 1, 0] [1, 4, 5, 2] [1, 1, 1, 1] : tensor<1x4x5x2xi8> into tensor<1x6x7x2xi8>
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

// -----

// A quantization fused with the transpose of a one-channel NCHW input to
// NHWC writes a unit dimension innermost: the same op on the other
// dimensions, between reshapes, so that it vectorizes along the columns.
// CHECK-LABEL: func.func @unit_innermost_output
// CHECK: %[[IN:.*]] = tensor.collapse_shape %{{.*}} {{\[\[}}0, 1], [2], [3]] : tensor<2x1x5x7xf32> into tensor<2x5x7xf32>
// CHECK: %[[Q:.*]] = linalg.generic {indexing_maps = [#[[ID:.*]], #[[ID]]], iterator_types = ["parallel", "parallel", "parallel"]} ins(%[[IN]] : tensor<2x5x7xf32>) outs(%{{.*}} : tensor<2x5x7xi8>)
// CHECK: arith.fptosi
// CHECK: tensor.expand_shape %[[Q]] {{\[\[}}0], [1], [2, 3]] output_shape [2, 5, 7, 1] : tensor<2x5x7xi8> into tensor<2x5x7x1xi8>
#nchw = affine_map<(n, h, w, c) -> (n, c, h, w)>
#nhwc = affine_map<(n, h, w, c) -> (n, h, w, c)>
func.func @unit_innermost_output(%x: tensor<2x1x5x7xf32>) -> tensor<2x5x7x1xi8> {
  %e = tensor.empty() : tensor<2x5x7x1xi8>
  %q = linalg.generic {indexing_maps = [#nchw, #nhwc], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%x : tensor<2x1x5x7xf32>) outs(%e : tensor<2x5x7x1xi8>) {
  ^bb0(%in: f32, %out: i8):
    %i = arith.fptosi %in : f32 to i8
    linalg.yield %i : i8
  } -> tensor<2x5x7x1xi8>
  return %q : tensor<2x5x7x1xi8>
}

// -----

// The epilogue of a contraction with one output channel keeps the
// contraction's layout (the micro-kernels fuse it only so).
// CHECK-LABEL: func.func @epilogue_with_unit_channel
// CHECK: linalg.matmul
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]} ins(%{{.*}} : tensor<6x1xi32>) outs(%{{.*}} : tensor<6x1xi8>)
#id2 = affine_map<(m, n) -> (m, n)>
func.func @epilogue_with_unit_channel(%a: tensor<6x4xi8>, %b: tensor<4x1xi8>, %acc: tensor<6x1xi32>) -> tensor<6x1xi8> {
  %c = linalg.matmul ins(%a, %b : tensor<6x4xi8>, tensor<4x1xi8>) outs(%acc : tensor<6x1xi32>) -> tensor<6x1xi32>
  %e = tensor.empty() : tensor<6x1xi8>
  %r = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]} ins(%c : tensor<6x1xi32>) outs(%e : tensor<6x1xi8>) {
  ^bb0(%in: i32, %out: i8):
    %t = arith.trunci %in : i32 to i8
    linalg.yield %t : i8
  } -> tensor<6x1xi8>
  return %r : tensor<6x1xi8>
}

// -----

// A single element has nothing to vectorize.
// CHECK-LABEL: func.func @one_element
// CHECK-NOT: tensor.collapse_shape
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<1x1xi8>)
#id2b = affine_map<(m, n) -> (m, n)>
func.func @one_element(%x: tensor<1x1xf32>) -> tensor<1x1xi8> {
  %e = tensor.empty() : tensor<1x1xi8>
  %q = linalg.generic {indexing_maps = [#id2b, #id2b], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<1x1xf32>) outs(%e : tensor<1x1xi8>) {
  ^bb0(%in: f32, %out: i8):
    %i = arith.fptosi %in : f32 to i8
    linalg.yield %i : i8
  } -> tensor<1x1xi8>
  return %q : tensor<1x1xi8>
}

// -----

// A padded image of one channel is filled as the flat tensor it is (the
// vectorizers would write a unit innermost dimension one byte at a time).
// CHECK-LABEL: func.func @pad_one_channel
// CHECK: %[[E:.*]] = tensor.empty() : tensor<84xi8>
// CHECK: %[[F:.*]] = linalg.fill ins(%{{.*}} : i8) outs(%[[E]] : tensor<84xi8>)
// CHECK: %[[X:.*]] = tensor.expand_shape %[[F]] {{\[\[}}0, 1, 2, 3]] output_shape [2, 6, 7, 1] : tensor<84xi8> into tensor<2x6x7x1xi8>
// CHECK: tensor.insert_slice %{{.*}} into %[[X]][0, 1, 1, 0] [2, 4, 5, 1] [1, 1, 1, 1] : tensor<2x4x5x1xi8> into tensor<2x6x7x1xi8>
func.func @pad_one_channel(%x: tensor<2x4x5x1xi8>) -> tensor<2x6x7x1xi8> {
  %c0 = arith.constant 0 : i8
  %p = tensor.pad %x low[0, 1, 1, 0] high[0, 1, 1, 0] {
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %c0 : i8
  } : tensor<2x4x5x1xi8> to tensor<2x6x7x1xi8>
  return %p : tensor<2x6x7x1xi8>
}
