// Integer contractions of shapes that exercise the tensor-core kernel's
// tiling on the GPU emulator (quant-run-cuda-emulator.test): several
// blocks in M and N, several k steps, partial tiles in every dimension,
// K a multiple of 16 (both operands staged 16 bytes at a time; the weights
// packed [n][k]), of 8 and not of 4, convolutions with 16 and 3 input channels,
// and a batch matmul of two activations (no constant operand). The
// weights are splats here; the test replaces them with random ones.

!act = !quant.uniform<u8:f32, 0.5:10>
!out = !quant.uniform<u8:f32, 4.0:3>
!w = !quant.uniform<i8<-127:127>:f32, 0.02>
!wact = !quant.uniform<i8:f32, 0.02>

func.func @matmul_large(%xq: tensor<130x200x!act>) -> tensor<130x72x!out> {
  %x = qnn.dequantize %xq : tensor<130x200x!act> -> tensor<130x200xf32>
  %wq = qnn.constant dense<3> : tensor<200x72xi8> -> tensor<200x72x!w>
  %w = qnn.dequantize %wq : tensor<200x72x!w> -> tensor<200x72xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<130x72xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<130x72xf32>) -> tensor<130x72xf32>
  %m = linalg.matmul ins(%x, %w : tensor<130x200xf32>, tensor<200x72xf32>) outs(%i : tensor<130x72xf32>) -> tensor<130x72xf32>
  %yq = qnn.quantize %m : tensor<130x72xf32> -> tensor<130x72x!out>
  return %yq : tensor<130x72x!out>
}

func.func @matmul_k208(%xq: tensor<70x208x!act>) -> tensor<70x40x!out> {
  %x = qnn.dequantize %xq : tensor<70x208x!act> -> tensor<70x208xf32>
  %wq = qnn.constant dense<3> : tensor<208x40xi8> -> tensor<208x40x!w>
  %w = qnn.dequantize %wq : tensor<208x40x!w> -> tensor<208x40xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<70x40xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<70x40xf32>) -> tensor<70x40xf32>
  %m = linalg.matmul ins(%x, %w : tensor<70x208xf32>, tensor<208x40xf32>) outs(%i : tensor<70x40xf32>) -> tensor<70x40xf32>
  %yq = qnn.quantize %m : tensor<70x40xf32> -> tensor<70x40x!out>
  return %yq : tensor<70x40x!out>
}

func.func @matmul_odd_k(%xq: tensor<67x45x!act>) -> tensor<67x33x!out> {
  %x = qnn.dequantize %xq : tensor<67x45x!act> -> tensor<67x45xf32>
  %wq = qnn.constant dense<3> : tensor<45x33xi8> -> tensor<45x33x!w>
  %w = qnn.dequantize %wq : tensor<45x33x!w> -> tensor<45x33xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<67x33xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<67x33xf32>) -> tensor<67x33xf32>
  %m = linalg.matmul ins(%x, %w : tensor<67x45xf32>, tensor<45x33xf32>) outs(%i : tensor<67x33xf32>) -> tensor<67x33xf32>
  %yq = qnn.quantize %m : tensor<67x33xf32> -> tensor<67x33x!out>
  return %yq : tensor<67x33x!out>
}

func.func @conv_cin16(%xq: tensor<1x12x12x16x!act>) -> tensor<1x10x10x32x!out> {
  %x = qnn.dequantize %xq : tensor<1x12x12x16x!act> -> tensor<1x12x12x16xf32>
  %wq = qnn.constant dense<1> : tensor<3x3x16x32xi8> -> tensor<3x3x16x32x!w>
  %w = qnn.dequantize %wq : tensor<3x3x16x32x!w> -> tensor<3x3x16x32xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x10x10x32xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<1x10x10x32xf32>) -> tensor<1x10x10x32xf32>
  %c = linalg.conv_2d_nhwc_hwcf {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
      ins(%x, %w : tensor<1x12x12x16xf32>, tensor<3x3x16x32xf32>) outs(%i : tensor<1x10x10x32xf32>) -> tensor<1x10x10x32xf32>
  %yq = qnn.quantize %c : tensor<1x10x10x32xf32> -> tensor<1x10x10x32x!out>
  return %yq : tensor<1x10x10x32x!out>
}

func.func @conv_cin3(%xq: tensor<2x9x9x3x!act>) -> tensor<2x7x7x8x!out> {
  %x = qnn.dequantize %xq : tensor<2x9x9x3x!act> -> tensor<2x9x9x3xf32>
  %wq = qnn.constant dense<1> : tensor<3x3x3x8xi8> -> tensor<3x3x3x8x!w>
  %w = qnn.dequantize %wq : tensor<3x3x3x8x!w> -> tensor<3x3x3x8xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x7x7x8xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<2x7x7x8xf32>) -> tensor<2x7x7x8xf32>
  %c = linalg.conv_2d_nhwc_hwcf {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
      ins(%x, %w : tensor<2x9x9x3xf32>, tensor<3x3x3x8xf32>) outs(%i : tensor<2x7x7x8xf32>) -> tensor<2x7x7x8xf32>
  %yq = qnn.quantize %c : tensor<2x7x7x8xf32> -> tensor<2x7x7x8x!out>
  return %yq : tensor<2x7x7x8x!out>
}

func.func @batch_matmul_activations(%aq: tensor<2x20x64x!act>, %bq: tensor<2x64x24x!wact>) -> tensor<2x20x24x!out> {
  %a = qnn.dequantize %aq : tensor<2x20x64x!act> -> tensor<2x20x64xf32>
  %b = qnn.dequantize %bq : tensor<2x64x24x!wact> -> tensor<2x64x24xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x20x24xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<2x20x24xf32>) -> tensor<2x20x24xf32>
  %m = linalg.batch_matmul ins(%a, %b : tensor<2x20x64xf32>, tensor<2x64x24xf32>) outs(%i : tensor<2x20x24xf32>) -> tensor<2x20x24xf32>
  %yq = qnn.quantize %m : tensor<2x20x24xf32> -> tensor<2x20x24x!out>
  return %yq : tensor<2x20x24x!out>
}

// Integer GEMMs of two i8 arguments with B (k, n), as a matmul of two
// activations has it: B is contiguous along N, staged k-major from 4 x 4
// blocks transposed in registers (tile-n a multiple of 32; else, and where
// N is not a multiple of 4, gathered byte by byte). Partial tiles in M, N
// and K.
func.func @gemm_kn(%a: tensor<70x200xi8>, %b: tensor<200x136xi8>) -> tensor<70x136xi32> {
  %zero = arith.constant 0 : i32
  %e = tensor.empty() : tensor<70x136xi32>
  %i = linalg.fill ins(%zero : i32) outs(%e : tensor<70x136xi32>) -> tensor<70x136xi32>
  %r = linalg.matmul ins(%a, %b : tensor<70x200xi8>, tensor<200x136xi8>) outs(%i : tensor<70x136xi32>) -> tensor<70x136xi32>
  return %r : tensor<70x136xi32>
}

func.func @batch_gemm_kn(%a: tensor<2x36x72xi8>, %b: tensor<2x72x100xi8>) -> tensor<2x36x100xi32> {
  %zero = arith.constant 0 : i32
  %e = tensor.empty() : tensor<2x36x100xi32>
  %i = linalg.fill ins(%zero : i32) outs(%e : tensor<2x36x100xi32>) -> tensor<2x36x100xi32>
  %r = linalg.batch_matmul ins(%a, %b : tensor<2x36x72xi8>, tensor<2x72x100xi8>) outs(%i : tensor<2x36x100xi32>) -> tensor<2x36x100xi32>
  return %r : tensor<2x36x100xi32>
}

func.func @gemm_kn_odd_n(%a: tensor<40x64xi8>, %b: tensor<64x30xi8>) -> tensor<40x30xi32> {
  %zero = arith.constant 0 : i32
  %e = tensor.empty() : tensor<40x30xi32>
  %i = linalg.fill ins(%zero : i32) outs(%e : tensor<40x30xi32>) -> tensor<40x30xi32>
  %r = linalg.matmul ins(%a, %b : tensor<40x64xi8>, tensor<64x30xi8>) outs(%i : tensor<40x30xi32>) -> tensor<40x30xi32>
  return %r : tensor<40x30xi32>
}
