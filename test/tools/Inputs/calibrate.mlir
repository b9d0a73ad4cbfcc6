func.func @mlp(%x: tensor<2x4xf32> loc("input")) -> tensor<2x3xf32> {
  %w = arith.constant dense<[[0.5, -1.0, 0.25], [0.3, 0.8, -0.7], [1.2, 0.05, -0.6], [0.0, -2.54, 0.63]]> : tensor<4x3xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x3xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<2x3xf32>) -> tensor<2x3xf32>
  %y = linalg.matmul ins(%x, %w : tensor<2x4xf32>, tensor<4x3xf32>) outs(%i : tensor<2x3xf32>) -> tensor<2x3xf32> loc("fc")
  return %y : tensor<2x3xf32>
}
