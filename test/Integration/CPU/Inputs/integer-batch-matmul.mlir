// An i8 x i8 -> i32 batch matmul of two arguments (attention's scores
// have this form once quantized): no constant weights, so the generic
// vectorized strategy, whose tiles have a one-element batch.
func.func @main(%a: tensor<2x36x72xi8>, %b: tensor<2x72x100xi8>) -> tensor<2x36x100xi32> {
  %zero = arith.constant 0 : i32
  %e = tensor.empty() : tensor<2x36x100xi32>
  %i = linalg.fill ins(%zero : i32) outs(%e : tensor<2x36x100xi32>) -> tensor<2x36x100xi32>
  %r = linalg.batch_matmul ins(%a, %b : tensor<2x36x72xi8>, tensor<2x72x100xi8>) outs(%i : tensor<2x36x100xi32>) -> tensor<2x36x100xi32>
  return %r : tensor<2x36x100xi32>
}
