// A loop that carries a tensor it recomputes: each iteration's matmul
// writes a new tensor (not its iter_arg in place), so each iteration
// yields a new buffer.
func.func @f(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %w = arith.constant dense<[[0.5, -1.0, 0.25], [1.0, 0.5, -0.5], [0.0, 2.0, 1.0]]> : tensor<3x3xf32>
  %zero = arith.constant 0.0 : f32
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %empty = tensor.empty() : tensor<2x3xf32>
  %r = scf.for %i = %c0 to %c3 step %c1 iter_args(%acc = %x) -> tensor<2x3xf32> {
    %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<2x3xf32>) -> tensor<2x3xf32>
    %y = linalg.matmul ins(%acc, %w : tensor<2x3xf32>, tensor<3x3xf32>) outs(%init : tensor<2x3xf32>) -> tensor<2x3xf32>
    scf.yield %y : tensor<2x3xf32>
  }
  return %r : tensor<2x3xf32>
}
