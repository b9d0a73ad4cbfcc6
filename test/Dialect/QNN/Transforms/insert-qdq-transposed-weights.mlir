// linalg.matmul and linalg.batch_matmul with `indexing_maps` reading the
// weights as [N, K] (torch-mlir's and TOSA's transposed weights; MLIR 22
// dropped matmul_transpose_b for these maps): the output channel is the
// weights' axis 0 and the reduction their axis 1, so per-channel scales go
// along axis 0, groups along axis 1, and the layer fuses into an integer
// contraction. The weights are insert-qdq.mlir's, transposed, so the
// expected integers are that test's, transposed (worked out there by hand).
//
// RUN: quant-opt %s --split-input-file --qnn-insert-observers --qnn-insert-qdq=statistics=%S/Inputs/mlp-stats.json | FileCheck %s --check-prefixes=CHECK,PC
// RUN: quant-opt %s --split-input-file --qnn-insert-observers "--qnn-insert-qdq=statistics=%S/Inputs/mlp-stats.json weight-granularity=per_group weight-group-size=2" | FileCheck %s --check-prefixes=CHECK,PG
// RUN: quant-opt %s --split-input-file --qnn-insert-observers --qnn-insert-qdq=statistics=%S/Inputs/mlp-stats.json --qnn-fuse-quantized-ops | FileCheck %s --check-prefix=FUSED

// CHECK-LABEL: func @transposed
// PC: qnn.constant dense<{{\[\[}}60, 30, -70, 127], [-60, 25, 127, 5]]> : tensor<2x4xi8> -> tensor<2x4x!quant.uniform<i8<-127:127>:f32:0, {0.0099999998{{[0-9]*}},0.019999999{{[0-9]*}}}>>
// PG: qnn.constant dense<{{\[\[}}127, {{6[34]}}, -70, 127], [-127, 53, 127, 5]]> : tensor<2x4xi8> -> tensor<2x4x!quant.uniform<i8<-127:127>:f32:{1:2, 0:1}, {{[{][{]}}0.00472440{{[0-9]*}}, 0.0099999{{[0-9]*}}}, {0.00944881{{[0-9]*}}, 2.000000e-02}}>>
// CHECK: linalg.matmul indexing_maps = [#{{.*}}, #{{.*}}, #{{.*}}] ins(%{{.*}}, %{{.*}} : tensor<1x4xf32>, tensor<2x4xf32>)

// FUSED-LABEL: func @transposed
// FUSED-NOT: linalg.matmul
// FUSED: arith.muli {{.*}} : i32
// FUSED: qnn.rescale
// FUSED-NOT: linalg.matmul
func.func @transposed(%x: tensor<1x4xf32> loc("input")) -> tensor<1x2xf32> {
  %w = arith.constant dense<[[0.6, 0.3, -0.7, 1.27], [-1.2, 0.5, 2.54, 0.1]]> : tensor<2x4xf32>
  %zero = arith.constant 0.0 : f32
  %init = tensor.empty() : tensor<1x2xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<1x2xf32>) -> tensor<1x2xf32>
  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : tensor<1x4xf32>, tensor<2x4xf32>) outs(%acc : tensor<1x2xf32>) -> tensor<1x2xf32> loc("fc")
  return %y : tensor<1x2xf32>
}

// -----

// Weights [K, N] shared by every batch (the batch loop is not in B): the
// output channel is the weights' axis 1 and the result's axis 2.
// CHECK-LABEL: func @broadcast_batch
// PC: qnn.constant dense<{{\[\[}}60, -60], [30, 25], [-70, 127], [127, 5]]> : tensor<4x2xi8> -> tensor<4x2x!quant.uniform<i8<-127:127>:f32:1, {0.0099999998{{[0-9]*}},0.019999999{{[0-9]*}}}>>
// PG: qnn.constant {{.*}} -> tensor<4x2x!quant.uniform<i8<-127:127>:f32:{0:2, 1:1},
// CHECK: linalg.batch_matmul

// FUSED-LABEL: func @broadcast_batch
// FUSED-NOT: linalg.batch_matmul
// FUSED: arith.muli {{.*}} : i32
// FUSED: qnn.rescale {{.*}} axis 2
func.func @broadcast_batch(%x: tensor<1x1x4xf32> loc("input")) -> tensor<1x1x2xf32> {
  %w = arith.constant dense<[[0.6, -1.2], [0.3, 0.5], [-0.7, 2.54], [1.27, 0.1]]> : tensor<4x2xf32>
  %zero = arith.constant 0.0 : f32
  %init = tensor.empty() : tensor<1x1x2xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<1x1x2xf32>) -> tensor<1x1x2xf32>
  %y = linalg.batch_matmul indexing_maps = [affine_map<(b, m, n, k) -> (b, m, k)>, affine_map<(b, m, n, k) -> (k, n)>, affine_map<(b, m, n, k) -> (b, m, n)>]
      ins(%x, %w : tensor<1x1x4xf32>, tensor<4x2xf32>) outs(%acc : tensor<1x1x2xf32>) -> tensor<1x1x2xf32> loc("fc")
  return %y : tensor<1x1x2xf32>
}
