// bf16 in and out: doubling is exact, so the result shows how the inputs
// were rounded to bf16.
func.func @twice(%x: tensor<4xbf16>) -> tensor<4xbf16> {
  %y = arith.addf %x, %x : tensor<4xbf16>
  return %y : tensor<4xbf16>
}

// A quantize from bf16 (s = 0.5): 1.25 rounds to 1.25 in bf16, then to 2
// (ties to even of 2.5); 3.0 -> 6.
func.func @quantize(%x: tensor<2xbf16>) -> tensor<2x!quant.uniform<i8:bf16, 0.5>> {
  %q = qnn.quantize %x : tensor<2xbf16> -> tensor<2x!quant.uniform<i8:bf16, 0.5>>
  return %q : tensor<2x!quant.uniform<i8:bf16, 0.5>>
}
