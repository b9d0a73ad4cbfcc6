// RUN: quant-opt %s --qnn-expose-activations --split-input-file | FileCheck %s
// RUN: quant-opt %s --qnn-expose-activations=cut=true --split-input-file | FileCheck %s --check-prefix=CUT

// Every activation qnn-insert-observers would observe (same ids) is appended
// to the results in IR order, and its id to qnn.exposed_activations. The
// contraction's output before its bias is a fused intermediate: not exposed.
// Constants and destinations are not activations.

// CHECK-LABEL: func.func @mlp
// CHECK-SAME: (%[[X:.*]]: tensor<2x4xf32>{{.*}}) -> (tensor<2x3xf32>, tensor<2x4xf32>, tensor<2x3xf32>)
// CHECK-SAME: qnn.exposed_activations = ["input", "fc"]
// CHECK: %[[OX:.*]] = qnn.observe %[[X]] as "input"
// CHECK: linalg.matmul ins(%[[OX]],
// CHECK: %[[OY:.*]] = qnn.observe %{{.*}} as "fc"
// CHECK: return %[[OY]], %[[OX]], %[[OY]]

// With cut, each activation's readers take a new argument (in the same
// order as the results) and the observed values are still returned: the
// matmul reads %[[A0]], not the model input.
// CUT-LABEL: func.func @mlp
// CUT-SAME: (%[[X:[^:]*]]: tensor<2x4xf32>{{.*}}, %[[A0:[^:]*]]: tensor<2x4xf32>{{.*}}, %[[A1:[^:]*]]: tensor<2x3xf32>{{.*}})
// CUT: %[[OX:.*]] = qnn.observe %[[X]] as "input"
// CUT: linalg.matmul ins(%[[A0]],
// CUT: %[[OY:.*]] = qnn.observe %{{.*}} as "fc"
// CUT: return %[[OY]], %[[OX]], %[[OY]]
func.func @mlp(%x: tensor<2x4xf32> loc("input")) -> tensor<2x3xf32> {
  %w = arith.constant dense<0.5> : tensor<4x3xf32>
  %b = arith.constant dense<[0.1, 0.2, 0.3]> : tensor<3xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x3xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<2x3xf32>) -> tensor<2x3xf32>
  %y = linalg.matmul ins(%x, %w : tensor<2x4xf32>, tensor<4x3xf32>) outs(%i : tensor<2x3xf32>) -> tensor<2x3xf32> loc("fc")
  %yb = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
      ins(%y, %b : tensor<2x3xf32>, tensor<3xf32>) outs(%e : tensor<2x3xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %s = arith.addf %a, %c : f32
    linalg.yield %s : f32
  } -> tensor<2x3xf32> loc("fc")
  return %yb : tensor<2x3xf32>
}

// -----

// Ops marked qnn.internal (the inner steps of an imported softmax) produce
// no activation: only the softmax's input and output are exposed.
// CHECK-LABEL: func.func @softmax
// CHECK-SAME: qnn.exposed_activations = ["input", "softmax"]
// CHECK-NOT: as "softmax.max"
func.func @softmax(%x: tensor<2x4xf32> loc("input")) -> tensor<2x4xf32> {
  %ninf = arith.constant -3.0e38 : f32
  %e1 = tensor.empty() : tensor<2xf32>
  %i1 = linalg.fill ins(%ninf : f32) outs(%e1 : tensor<2xf32>) -> tensor<2xf32>
  %m = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<2x4xf32>) outs(%i1 : tensor<2xf32>) attrs = {qnn.internal} {
  ^bb0(%a: f32, %acc: f32):
    %r = arith.maximumf %a, %acc : f32
    linalg.yield %r : f32
  } -> tensor<2xf32> loc("softmax.max")
  %e2 = tensor.empty() : tensor<2x4xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
      ins(%x, %m : tensor<2x4xf32>, tensor<2xf32>) outs(%e2 : tensor<2x4xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %d = arith.subf %a, %b : f32
    %r = math.exp %d : f32
    linalg.yield %r : f32
  } -> tensor<2x4xf32> loc("softmax")
  return %y : tensor<2x4xf32>
}

