// An i8 x i8 -> i32 dot product (a rank-0 result): lowered as scalar
// loops with a remark by qnn-cpu-pipeline (not vectorizable as a
// vector.contract).
func.func @main(%a: tensor<1000xi8>, %b: tensor<1000xi8>) -> tensor<i32> {
  %zero = arith.constant 0 : i32
  %e = tensor.empty() : tensor<i32>
  %i = linalg.fill ins(%zero : i32) outs(%e : tensor<i32>) -> tensor<i32>
  %r = linalg.dot ins(%a, %b : tensor<1000xi8>, tensor<1000xi8>) outs(%i : tensor<i32>) -> tensor<i32>
  return %r : tensor<i32>
}
