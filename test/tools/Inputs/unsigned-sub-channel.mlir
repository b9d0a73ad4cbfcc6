// u4 weights per group of 2 with zero points 12 and 3: MLIR prints 12 as
// -4 (a signed 4-bit integer), and reads "-4" back as a wider integer.
!t = !quant.uniform<u4<1:15>:f32:{0:2}, {0.5:12, 0.25:3}>
func.func @main() -> tensor<4xf32> {
  %q = qnn.constant dense<[12, 14, 3, 1]> : tensor<4xi4> -> tensor<4x!t>
  %d = qnn.dequantize %q : tensor<4x!t> -> tensor<4xf32>
  return %d : tensor<4xf32>
}
