// An f16 model: its activations are observed as f32 values (exact).
func.func @double(%x: tensor<2x3xf16> loc("x")) -> tensor<2x3xf16> {
  %e = tensor.empty() : tensor<2x3xf16>
  %y = linalg.add ins(%x, %x : tensor<2x3xf16>, tensor<2x3xf16>) outs(%e : tensor<2x3xf16>) -> tensor<2x3xf16> loc("y")
  return %y : tensor<2x3xf16>
}
