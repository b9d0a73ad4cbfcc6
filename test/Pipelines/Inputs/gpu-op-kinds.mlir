// Every quantized op kind, as a float op between qnn.dequantize and
// qnn.quantize (what qnn-fuse-quantized-ops turns into the fused integer
// program). Shapes are not multiples of the GPU tiles on purpose.
// Input of gpu-op-kinds-ptx.test.

!act = !quant.uniform<u8:f32, 0.5:10>
!out = !quant.uniform<u8:f32, 0.25:3>
!w = !quant.uniform<i8<-127:127>:f32, 0.02>

func.func @matmul(%xq: tensor<33x70x!act>) -> tensor<33x19x!out> {
  %x = qnn.dequantize %xq : tensor<33x70x!act> -> tensor<33x70xf32>
  %wq = qnn.constant dense<3> : tensor<70x19xi8> -> tensor<70x19x!w>
  %w = qnn.dequantize %wq : tensor<70x19x!w> -> tensor<70x19xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<33x19xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<33x19xf32>) -> tensor<33x19xf32>
  %m = linalg.matmul ins(%x, %w : tensor<33x70xf32>, tensor<70x19xf32>) outs(%i : tensor<33x19xf32>) -> tensor<33x19xf32>
  %yq = qnn.quantize %m : tensor<33x19xf32> -> tensor<33x19x!out>
  return %yq : tensor<33x19x!out>
}

func.func @matmul_signed(%xq: tensor<20x96x!quant.uniform<i8:f32, 0.5>>) -> tensor<20x40x!quant.uniform<i8:f32, 0.25>> {
  %x = qnn.dequantize %xq : tensor<20x96x!quant.uniform<i8:f32, 0.5>> -> tensor<20x96xf32>
  %wq = qnn.constant dense<5> : tensor<96x40xi8> -> tensor<96x40x!w>
  %w = qnn.dequantize %wq : tensor<96x40x!w> -> tensor<96x40xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<20x40xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<20x40xf32>) -> tensor<20x40xf32>
  %m = linalg.matmul ins(%x, %w : tensor<20x96xf32>, tensor<96x40xf32>) outs(%i : tensor<20x40xf32>) -> tensor<20x40xf32>
  %yq = qnn.quantize %m : tensor<20x40xf32> -> tensor<20x40x!quant.uniform<i8:f32, 0.25>>
  return %yq : tensor<20x40x!quant.uniform<i8:f32, 0.25>>
}

func.func @batch_matmul(%xq: tensor<2x17x40x!act>) -> tensor<2x17x24x!out> {
  %x = qnn.dequantize %xq : tensor<2x17x40x!act> -> tensor<2x17x40xf32>
  %wq = qnn.constant dense<-2> : tensor<2x40x24xi8> -> tensor<2x40x24x!w>
  %w = qnn.dequantize %wq : tensor<2x40x24x!w> -> tensor<2x40x24xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x17x24xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<2x17x24xf32>) -> tensor<2x17x24xf32>
  %m = linalg.batch_matmul ins(%x, %w : tensor<2x17x40xf32>, tensor<2x40x24xf32>) outs(%i : tensor<2x17x24xf32>) -> tensor<2x17x24xf32>
  %yq = qnn.quantize %m : tensor<2x17x24xf32> -> tensor<2x17x24x!out>
  return %yq : tensor<2x17x24x!out>
}

func.func @conv3x3(%xq: tensor<1x10x10x8x!act>) -> tensor<1x8x8x16x!out> {
  %x = qnn.dequantize %xq : tensor<1x10x10x8x!act> -> tensor<1x10x10x8xf32>
  %wq = qnn.constant dense<1> : tensor<3x3x8x16xi8> -> tensor<3x3x8x16x!w>
  %w = qnn.dequantize %wq : tensor<3x3x8x16x!w> -> tensor<3x3x8x16xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x8x8x16xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<1x8x8x16xf32>) -> tensor<1x8x8x16xf32>
  %c = linalg.conv_2d_nhwc_hwcf {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
      ins(%x, %w : tensor<1x10x10x8xf32>, tensor<3x3x8x16xf32>) outs(%i : tensor<1x8x8x16xf32>) -> tensor<1x8x8x16xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%c : tensor<1x8x8x16xf32>) outs(%e : tensor<1x8x8x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %lo = arith.constant 0.0 : f32
    %0 = arith.maximumf %in, %lo : f32
    linalg.yield %0 : f32
  } -> tensor<1x8x8x16xf32>
  %yq = qnn.quantize %r : tensor<1x8x8x16xf32> -> tensor<1x8x8x16x!out>
  return %yq : tensor<1x8x8x16x!out>
}

func.func @conv3x3_stride2_padded(%xq: tensor<1x9x9x8x!act>) -> tensor<1x5x5x16x!out> {
  %x = qnn.dequantize %xq : tensor<1x9x9x8x!act> -> tensor<1x9x9x8xf32>
  %zero = arith.constant 0.0 : f32
  %p = tensor.pad %x low[0, 1, 1, 0] high[0, 1, 1, 0] {
  ^bb0(%a: index, %b: index, %c: index, %d: index):
    tensor.yield %zero : f32
  } : tensor<1x9x9x8xf32> to tensor<1x11x11x8xf32>
  %wq = qnn.constant dense<-1> : tensor<3x3x8x16xi8> -> tensor<3x3x8x16x!w>
  %w = qnn.dequantize %wq : tensor<3x3x8x16x!w> -> tensor<3x3x8x16xf32>
  %e = tensor.empty() : tensor<1x5x5x16xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<1x5x5x16xf32>) -> tensor<1x5x5x16xf32>
  %c = linalg.conv_2d_nhwc_hwcf {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>}
      ins(%p, %w : tensor<1x11x11x8xf32>, tensor<3x3x8x16xf32>) outs(%i : tensor<1x5x5x16xf32>) -> tensor<1x5x5x16xf32>
  %yq = qnn.quantize %c : tensor<1x5x5x16xf32> -> tensor<1x5x5x16x!out>
  return %yq : tensor<1x5x5x16x!out>
}

func.func @depthwise(%xq: tensor<1x10x10x8x!act>) -> tensor<1x8x8x8x!out> {
  %x = qnn.dequantize %xq : tensor<1x10x10x8x!act> -> tensor<1x10x10x8xf32>
  %wq = qnn.constant dense<2> : tensor<3x3x8xi8> -> tensor<3x3x8x!w>
  %w = qnn.dequantize %wq : tensor<3x3x8x!w> -> tensor<3x3x8xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x8x8x8xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32>
  %c = linalg.depthwise_conv_2d_nhwc_hwc {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
      ins(%x, %w : tensor<1x10x10x8xf32>, tensor<3x3x8xf32>) outs(%i : tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32>
  %yq = qnn.quantize %c : tensor<1x8x8x8xf32> -> tensor<1x8x8x8x!out>
  return %yq : tensor<1x8x8x8x!out>
}

func.func @add(%aq: tensor<4x37x!act>, %bq: tensor<4x37x!quant.uniform<i8:f32, 0.25>>) -> tensor<4x37x!out> {
  %y = qnn.add %aq, %bq multipliers [1073741824, 536870912] shift 31 clamp [0, 255] : tensor<4x37x!act>, tensor<4x37x!quant.uniform<i8:f32, 0.25>> -> tensor<4x37x!out>
  return %y : tensor<4x37x!out>
}

func.func @average_pool(%xq: tensor<1x6x6x3x!act>) -> tensor<1x3x3x3x!out> {
  %x = qnn.dequantize %xq : tensor<1x6x6x3x!act> -> tensor<1x6x6x3xf32>
  %zero = arith.constant 0.0 : f32
  %w = tensor.empty() : tensor<2x2xf32>
  %e = tensor.empty() : tensor<1x3x3x3xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<1x3x3x3xf32>) -> tensor<1x3x3x3xf32>
  %s = linalg.pooling_nhwc_sum {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>}
      ins(%x, %w : tensor<1x6x6x3xf32>, tensor<2x2xf32>) outs(%i : tensor<1x3x3x3xf32>) -> tensor<1x3x3x3xf32>
  %p = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%s : tensor<1x3x3x3xf32>) outs(%e : tensor<1x3x3x3xf32>) {
  ^bb0(%in: f32, %out: f32):
    %c = arith.constant 4.0 : f32
    %d = arith.divf %in, %c : f32
    linalg.yield %d : f32
  } -> tensor<1x3x3x3xf32>
  %yq = qnn.quantize %p : tensor<1x3x3x3xf32> -> tensor<1x3x3x3x!out>
  return %yq : tensor<1x3x3x3x!out>
}

func.func @max_pool(%xq: tensor<1x6x6x3x!act>) -> tensor<1x3x3x3x!act> {
  %x = qnn.dequantize %xq : tensor<1x6x6x3x!act> -> tensor<1x6x6x3xf32>
  %lowest = arith.constant -3.4e38 : f32
  %w = tensor.empty() : tensor<2x2xf32>
  %e = tensor.empty() : tensor<1x3x3x3xf32>
  %i = linalg.fill ins(%lowest : f32) outs(%e : tensor<1x3x3x3xf32>) -> tensor<1x3x3x3xf32>
  %m = linalg.pooling_nhwc_max {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>}
      ins(%x, %w : tensor<1x6x6x3xf32>, tensor<2x2xf32>) outs(%i : tensor<1x3x3x3xf32>) -> tensor<1x3x3x3xf32>
  %yq = qnn.quantize %m : tensor<1x3x3x3xf32> -> tensor<1x3x3x3x!act>
  return %yq : tensor<1x3x3x3x!act>
}

func.func @quantize(%x: tensor<5x7xf32>) -> tensor<5x7x!act> {
  %q = qnn.quantize %x : tensor<5x7xf32> -> tensor<5x7x!act>
  return %q : tensor<5x7x!act>
}

func.func @dequantize(%q: tensor<5x7x!quant.uniform<i8:f32:1, {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7}>>) -> tensor<5x7xf32> {
  %x = qnn.dequantize %q : tensor<5x7x!quant.uniform<i8:f32:1, {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7}>> -> tensor<5x7xf32>
  return %x : tensor<5x7xf32>
}
