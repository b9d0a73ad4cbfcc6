// 1024³ i8 x i8 -> i32 GEMM, B given (n, k): the order qnn-pack-contraction-weights
// gives constant weights. For scripts/gpu-kernel-stats (docs/GPU.md).
func.func @gemm_bt(%a: tensor<1024x1024xi8>, %bt: tensor<1024x1024xi8>) -> tensor<1024x1024xi32> {
  %zero = arith.constant 0 : i32
  %e = tensor.empty() : tensor<1024x1024xi32>
  %i = linalg.fill ins(%zero : i32) outs(%e : tensor<1024x1024xi32>) -> tensor<1024x1024xi32>
  %r = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%a, %bt : tensor<1024x1024xi8>, tensor<1024x1024xi8>) outs(%i : tensor<1024x1024xi32>) -> tensor<1024x1024xi32>
  return %r : tensor<1024x1024xi32>
}
