// Softmaxes over rows with no divisor near the vector width (49 keys:
// 7 lanes; 197 tokens, a prime: 1 lane), whose max and sum reductions
// qnn-tile-and-vectorize-cpu reads whole rows at a time.
func.func @keys49(%x: tensor<5x49xf32>) -> tensor<5x49xf32> {
  %e = tensor.empty() : tensor<5x49xf32>
  %r = linalg.softmax dimension(1) ins(%x : tensor<5x49xf32>) outs(%e : tensor<5x49xf32>) -> tensor<5x49xf32>
  return %r : tensor<5x49xf32>
}

func.func @tokens197(%x: tensor<3x197xf32>) -> tensor<3x197xf32> {
  %e = tensor.empty() : tensor<3x197xf32>
  %r = linalg.softmax dimension(1) ins(%x : tensor<3x197xf32>) outs(%e : tensor<3x197xf32>) -> tensor<3x197xf32>
  return %r : tensor<3x197xf32>
}
