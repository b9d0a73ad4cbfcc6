// Quantized activations computed in float between a dequantize and a
// quantize (as qnn-insert-qdq leaves GELU, sigmoid and SiLU): the CPU
// pipeline looks them up in tables of 256 outputs
// (qnn-elementwise-lookup-tables), the reference pipeline computes them.
!in = !quant.uniform<i8:f32, 0.0625:-3>
!unit = !quant.uniform<u8:f32, 0.00390625>
!out = !quant.uniform<i8:f32, 0.046875:-20>
func.func @activations(%x: tensor<16x256x!in>) -> (tensor<16x256x!out>, tensor<16x256x!unit>, tensor<16x256x!out>, tensor<16x256xf32>) {
  %half = arith.constant dense<0.5> : tensor<16x256xf32>
  %one = arith.constant dense<1.0> : tensor<16x256xf32>
  %sqrt2 = arith.constant dense<1.41421354> : tensor<16x256xf32>
  %d = qnn.dequantize %x : tensor<16x256x!in> -> tensor<16x256xf32>
  // GELU: x / 2 * (1 + erf(x / sqrt(2))).
  %xs = arith.divf %d, %sqrt2 : tensor<16x256xf32>
  %erf = math.erf %xs : tensor<16x256xf32>
  %erf1 = arith.addf %erf, %one : tensor<16x256xf32>
  %xh = arith.mulf %d, %half : tensor<16x256xf32>
  %gelu = arith.mulf %xh, %erf1 : tensor<16x256xf32>
  %qgelu = qnn.quantize %gelu : tensor<16x256xf32> -> tensor<16x256x!out>
  // Sigmoid: 1 / (1 + exp(-x)).
  %neg = arith.negf %d : tensor<16x256xf32>
  %exp = math.exp %neg : tensor<16x256xf32>
  %den = arith.addf %exp, %one : tensor<16x256xf32>
  %sigmoid = arith.divf %one, %den : tensor<16x256xf32>
  %qsigmoid = qnn.quantize %sigmoid : tensor<16x256xf32> -> tensor<16x256x!unit>
  // SiLU: x * sigmoid(x).
  %silu = arith.mulf %d, %sigmoid : tensor<16x256xf32>
  %qsilu = qnn.quantize %silu : tensor<16x256xf32> -> tensor<16x256x!out>
  // A float result: the sigmoid of the input, dequantized.
  return %qgelu, %qsigmoid, %qsilu, %sigmoid : tensor<16x256x!out>, tensor<16x256x!unit>, tensor<16x256x!out>, tensor<16x256xf32>
}
