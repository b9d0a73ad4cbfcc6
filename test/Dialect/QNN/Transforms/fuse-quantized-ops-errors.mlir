// RUN: not quant-opt %s --qnn-fuse-quantized-ops 2>&1 | FileCheck %s

// 70000 weights of 127 with u8 activations up to 255: partial sums can reach
// 255 * 127 * 70000 = 2266950000 >= 2^31, so fusing would risk a silent
// wrap-around. Start: 0 - 0 * sum = 0.
// CHECK: error: the i32 accumulator of channel 0 could overflow: |bias| + max|x| * sum|w - z_w| = 0 + 255 * 8890000 >= 2^31
func.func @overflow(%xq: tensor<1x70000x!quant.uniform<u8:f32, 0.5>>) -> tensor<1x1x!quant.uniform<i8:f32, 1.0>> {
  %x = qnn.dequantize %xq : tensor<1x70000x!quant.uniform<u8:f32, 0.5>> -> tensor<1x70000xf32>
  %wq = qnn.constant dense<127> : tensor<70000x1xi8> -> tensor<70000x1x!quant.uniform<i8:f32, 0.5>>
  %w = qnn.dequantize %wq : tensor<70000x1x!quant.uniform<i8:f32, 0.5>> -> tensor<70000x1xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x1xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<1x1xf32>) -> tensor<1x1xf32>
  %m = linalg.matmul ins(%x, %w : tensor<1x70000xf32>, tensor<70000x1xf32>) outs(%i : tensor<1x1xf32>) -> tensor<1x1xf32>
  %yq = qnn.quantize %m : tensor<1x1xf32> -> tensor<1x1x!quant.uniform<i8:f32, 1.0>>
  return %yq : tensor<1x1x!quant.uniform<i8:f32, 1.0>>
}
