// A one-layer perceptron in QDQ form, as a quantizer hands it to quant-opt:
// the activation is quantized to u8 (asymmetric, per tensor), the weights
// to i8 per output channel (symmetric, narrow range), the result to i8.
// Each qnn.dequantize(qnn.quantize(x)) pair is the simulated quantization
// error; canonicalization keeps it, but quantizes the float weight constant
// at compile time into a qnn.constant.
//
// scripts/demo.sh shows the IR after each step and runs the lowered program.

!act = !quant.uniform<u8:f32, 0.0078125:128>
!wgt = !quant.uniform<i8<-127:127>:f32:1, {0.01, 0.02, 0.005}>
!out = !quant.uniform<i8:f32, 0.0625:-4>

func.func @mlp(%x: tensor<1x4xf32>) -> tensor<1x3xf32> {
  %xq = qnn.quantize %x : tensor<1x4xf32> -> tensor<1x4x!act>
  %xd = qnn.dequantize %xq : tensor<1x4x!act> -> tensor<1x4xf32>

  %w = arith.constant dense<[[ 0.50, -1.00,  0.25],
                             [-0.30,  0.80,  0.10],
                             [ 1.20,  0.05, -0.60],
                             [ 0.00, -2.54,  0.63]]> : tensor<4x3xf32>
  %wq = qnn.quantize %w : tensor<4x3xf32> -> tensor<4x3x!wgt>
  %wd = qnn.dequantize %wq : tensor<4x3x!wgt> -> tensor<4x3xf32>

  %zero = arith.constant 0.0 : f32
  %init = tensor.empty() : tensor<1x3xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<1x3xf32>) -> tensor<1x3xf32>
  %y = linalg.matmul ins(%xd, %wd : tensor<1x4xf32>, tensor<4x3xf32>)
                     outs(%acc : tensor<1x3xf32>) -> tensor<1x3xf32>

  %yq = qnn.quantize %y : tensor<1x3xf32> -> tensor<1x3x!out>
  %yd = qnn.dequantize %yq : tensor<1x3x!out> -> tensor<1x3xf32>
  return %yd : tensor<1x3xf32>
}

func.func @main() {
  %x = arith.constant dense<[[0.25, -0.5, 0.75, 0.1]]> : tensor<1x4xf32>
  %y = call @mlp(%x) : (tensor<1x4xf32>) -> tensor<1x3xf32>
  %u = tensor.cast %y : tensor<1x3xf32> to tensor<*xf32>
  call @printMemrefF32(%u) : (tensor<*xf32>) -> ()
  return
}
func.func private @printMemrefF32(tensor<*xf32>) attributes { llvm.emit_c_interface }
