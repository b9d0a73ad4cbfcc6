func.func @quantize(%x: tensor<6xf32>) -> tensor<6x!quant.uniform<i8:f32, 0.5>> {
  %q = qnn.quantize %x : tensor<6xf32> -> tensor<6x!quant.uniform<i8:f32, 0.5>>
  return %q : tensor<6x!quant.uniform<i8:f32, 0.5>>
}
func.func @dequantize(%q: tensor<4x!quant.uniform<i8:f32, 0.5:-3>>) -> tensor<4xf32> {
  %x = qnn.dequantize %q : tensor<4x!quant.uniform<i8:f32, 0.5:-3>> -> tensor<4xf32>
  return %x : tensor<4xf32>
}
