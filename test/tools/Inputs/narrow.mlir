func.func @narrow(%q: tensor<4x!quant.uniform<i8<-127:127>:f32, 0.5>>) -> tensor<4xf32> {
  %d = qnn.dequantize %q : tensor<4x!quant.uniform<i8<-127:127>:f32, 0.5>> -> tensor<4xf32>
  return %d : tensor<4xf32>
}
func.func @i4_result(%x: tensor<4xf32>) -> tensor<4x!quant.uniform<i4:f32, 0.5>> {
  %q = qnn.quantize %x : tensor<4xf32> -> tensor<4x!quant.uniform<i4:f32, 0.5>>
  return %q : tensor<4x!quant.uniform<i4:f32, 0.5>>
}
