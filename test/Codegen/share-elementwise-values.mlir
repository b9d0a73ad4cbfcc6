// RUN: quant-opt %s --qnn-share-elementwise-values --split-input-file | FileCheck %s

#row = affine_map<(i, j) -> (i)>
#id = affine_map<(i, j) -> (i, j)>

// A softmax's sum and normalization both compute exp(x - max): one op
// computes it, both read it; the normalization no longer reads the max.
// CHECK-LABEL: func.func @softmax
// CHECK-SAME: (%[[X:.*]]: tensor<4x49xf32>, %[[M:.*]]: tensor<4xf32>)
// CHECK: %[[E:.*]] = linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "parallel"]
// CHECK-SAME: ins(%[[X]], %[[M]] : tensor<4x49xf32>, tensor<4xf32>)
// CHECK-NEXT: ^bb0(%[[A:.*]]: f32, %[[B:.*]]: f32, %{{.*}}: f32):
// CHECK-NEXT: %[[D:.*]] = arith.subf %[[A]], %[[B]] : f32
// CHECK-NEXT: %[[EXP:.*]] = math.exp %[[D]] : f32
// CHECK-NEXT: linalg.yield %[[EXP]] : f32
// CHECK: %[[S:.*]] = linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "reduction"]
// CHECK-SAME: ins(%[[E]] : tensor<4x49xf32>)
// CHECK-NOT: math.exp
// CHECK: arith.addf
// CHECK: linalg.generic
// CHECK-SAME: ins(%[[S]], %[[E]] : tensor<4xf32>, tensor<4x49xf32>)
// CHECK-NOT: math.exp
// CHECK: arith.divf
func.func @softmax(%x: tensor<4x49xf32>, %m: tensor<4xf32>) -> tensor<4x49xf32> {
  %zero = arith.constant 0.0 : f32
  %e0 = tensor.empty() : tensor<4xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e0 : tensor<4xf32>) -> tensor<4xf32>
  %s = linalg.generic {indexing_maps = [#id, #row, #row], iterator_types = ["parallel", "reduction"]} ins(%x, %m : tensor<4x49xf32>, tensor<4xf32>) outs(%z : tensor<4xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %d = arith.subf %a, %b : f32
    %e = math.exp %d : f32
    %r = arith.addf %e, %acc : f32
    linalg.yield %r : f32
  } -> tensor<4xf32>
  %e1 = tensor.empty() : tensor<4x49xf32>
  %n = linalg.generic {indexing_maps = [#id, #row, #row, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %m, %s : tensor<4x49xf32>, tensor<4xf32>, tensor<4xf32>) outs(%e1 : tensor<4x49xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32, %o: f32):
    %d = arith.subf %a, %b : f32
    %e = math.exp %d : f32
    %r = arith.divf %e, %c : f32
    linalg.yield %r : f32
  } -> tensor<4x49xf32>
  return %n : tensor<4x49xf32>
}

// -----

#row = affine_map<(i, j) -> (i)>
#id = affine_map<(i, j) -> (i, j)>
#col = affine_map<(i, j) -> (j)>

// Not the same value: the normalization subtracts a tensor read along the
// other loop (another map), and the sum's exp of a value that reads the
// accumulator is not an element value of its inputs.
// CHECK-LABEL: func.func @not_shared
// CHECK-COUNT-3: math.exp
// CHECK-NOT: math.exp
func.func @not_shared(%x: tensor<4x4xf32>, %m: tensor<4xf32>) -> (tensor<4xf32>, tensor<4x4xf32>, tensor<4xf32>) {
  %zero = arith.constant 0.0 : f32
  %e0 = tensor.empty() : tensor<4xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e0 : tensor<4xf32>) -> tensor<4xf32>
  %s = linalg.generic {indexing_maps = [#id, #row, #row], iterator_types = ["parallel", "reduction"]} ins(%x, %m : tensor<4x4xf32>, tensor<4xf32>) outs(%z : tensor<4xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %d = arith.subf %a, %b : f32
    %e = math.exp %d : f32
    %r = arith.addf %e, %acc : f32
    linalg.yield %r : f32
  } -> tensor<4xf32>
  %e1 = tensor.empty() : tensor<4x4xf32>
  %n = linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %m : tensor<4x4xf32>, tensor<4xf32>) outs(%e1 : tensor<4x4xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %d = arith.subf %a, %b : f32
    %e = math.exp %d : f32
    linalg.yield %e : f32
  } -> tensor<4x4xf32>
  %t = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<4x4xf32>) outs(%z : tensor<4xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %d = arith.subf %a, %acc : f32
    %e = math.exp %d : f32
    linalg.yield %e : f32
  } -> tensor<4xf32>
  return %s, %n, %t : tensor<4xf32>, tensor<4x4xf32>, tensor<4xf32>
}

// -----

#row = affine_map<(i, j) -> (i)>
#id = affine_map<(i, j) -> (i, j)>

// The elementwise op first, and the reduction reading a tensor computed
// after it: the shared op, before the elementwise one, reads only the
// inputs of the value (not the later tensor, which it could not).
// CHECK-LABEL: func.func @elementwise_first
// CHECK-SAME: (%[[X:.*]]: tensor<4x49xf32>, %[[M:.*]]: tensor<4xf32>)
// CHECK: %[[E:.*]] = linalg.generic
// CHECK-SAME: ins(%[[X]], %[[M]] : tensor<4x49xf32>, tensor<4xf32>)
// CHECK: math.exp
// CHECK: %[[N:.*]] = linalg.generic
// CHECK-SAME: ins(%[[E]] : tensor<4x49xf32>)
// CHECK: %[[W:.*]] = linalg.generic
// CHECK-SAME: ins(%[[N]] : tensor<4x49xf32>)
// CHECK: linalg.generic
// CHECK-SAME: ins(%[[W]], %[[E]] : tensor<4x49xf32>, tensor<4x49xf32>)
// CHECK-NOT: math.exp
func.func @elementwise_first(%x: tensor<4x49xf32>, %m: tensor<4xf32>) -> tensor<4xf32> {
  %e1 = tensor.empty() : tensor<4x49xf32>
  %n = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %m : tensor<4x49xf32>, tensor<4xf32>) outs(%e1 : tensor<4x49xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %d = arith.subf %a, %b : f32
    %e = math.exp %d : f32
    linalg.yield %e : f32
  } -> tensor<4x49xf32>
  %e2 = tensor.empty() : tensor<4x49xf32>
  %w = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%n : tensor<4x49xf32>) outs(%e2 : tensor<4x49xf32>) {
  ^bb0(%a: f32, %o: f32):
    %t = arith.addf %a, %a : f32
    linalg.yield %t : f32
  } -> tensor<4x49xf32>
  %zero = arith.constant 0.0 : f32
  %e0 = tensor.empty() : tensor<4xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e0 : tensor<4xf32>) -> tensor<4xf32>
  %s = linalg.generic {indexing_maps = [#id, #row, #id, #row], iterator_types = ["parallel", "reduction"]} ins(%x, %m, %w : tensor<4x49xf32>, tensor<4xf32>, tensor<4x49xf32>) outs(%z : tensor<4xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32, %acc: f32):
    %d = arith.subf %a, %b : f32
    %e = math.exp %d : f32
    %p = arith.mulf %e, %c : f32
    %r = arith.addf %p, %acc : f32
    linalg.yield %r : f32
  } -> tensor<4xf32>
  return %s : tensor<4xf32>
}
