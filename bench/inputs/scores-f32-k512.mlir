// The float batch matmul of scores-int8-k512.mlir's shape.
func.func @main(%x: tensor<64x128x512xf32>, %y: tensor<64x512x64xf32>) -> tensor<64x128x64xf32> {
  %c0 = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<64x128x64xf32>
  %f = linalg.fill ins(%c0 : f32) outs(%e : tensor<64x128x64xf32>) -> tensor<64x128x64xf32>
  %r = linalg.batch_matmul ins(%x, %y : tensor<64x128x512xf32>, tensor<64x512x64xf32>) outs(%f : tensor<64x128x64xf32>) -> tensor<64x128x64xf32>
  return %r : tensor<64x128x64xf32>
}
