// RUN: quant-opt %s "--qnn-quantize-pipeline=statistics=%S/Inputs/cnn-stats.json lower-to-integers=false" | FileCheck %s --check-prefix=FUSED
// RUN: quant-opt %s "--qnn-quantize-pipeline=statistics=%S/Inputs/cnn-stats.json" | FileCheck %s --check-prefix=INTEGER
// No remark: every op is quantized or fused.
// RUN: quant-opt %s "--qnn-quantize-pipeline=statistics=%S/Inputs/cnn-stats.json" 2>&1 >/dev/null | count 0

// conv + bias + ReLU, depthwise + ReLU6, flatten, matmul + bias: every
// contraction is fused into an integer one with its epilogue, each output
// requantized once, the weights integer constants.

// FUSED-LABEL: func @cnn
// FUSED-DAG: arith.constant dense<{{.*}}> : tensor<1x1x2x2xi8>
// FUSED-DAG: arith.constant dense<{{.*}}> : tensor<1x1x2xi8>
// FUSED-DAG: arith.constant dense<{{.*}}> : tensor<32x3xi8>
// FUSED: qnn.quantize %{{.*}} : tensor<1x4x4x2xf32> -> tensor<1x4x4x2x!quant.uniform<u8:f32, {{.*}}>>
// FUSED: linalg.generic {{.*}}"reduction"
// conv1 (ReLU) in [0, 3]: u8, z = 0, clamp [quantize(0), 255].
// FUSED: qnn.rescale {{.*}} axis 3 clamp [0, 255] : tensor<1x4x4x2xi32> -> tensor<1x4x4x2x!quant.uniform<u8:f32, 0.0117647058{{[0-9]*}}>>
// FUSED: linalg.generic {{.*}}"reduction"
// dw (ReLU6) in [0, 6]: s = 6/255, quantize(6) = 255.
// FUSED: qnn.rescale {{.*}} axis 3 clamp [0, 255] : tensor<1x4x4x2xi32> -> tensor<1x4x4x2x!quant.uniform<u8:f32, 0.0235294117{{[0-9]*}}>>
// FUSED: tensor.collapse_shape
// FUSED: linalg.generic {{.*}}"reduction"
// fc in [-5, 5]: s = 10/255, z = 128; one multiplier (per-channel weight
// scales are all 0.05/127).
// FUSED: qnn.rescale {{.*}} : tensor<1x3xi32> -> tensor<1x3x!quant.uniform<u8:f32, 0.0392156862{{[0-9]*}}:128>>
// FUSED-NOT: linalg.conv
// FUSED-NOT: linalg.depthwise
// FUSED-NOT: linalg.matmul
// FUSED-NOT: qnn.rescale

// INTEGER-LABEL: func @cnn
// INTEGER-NOT: linalg.conv_2d
// INTEGER-NOT: linalg.depthwise
// INTEGER-NOT: linalg.matmul
// INTEGER-NOT: !quant
// INTEGER: return %{{.*}} : tensor<1x3xf32>
func.func @cnn(%x: tensor<1x4x4x2xf32> loc("input")) -> tensor<1x3xf32> {
  %zero = arith.constant 0.0 : f32
  %f1 = arith.constant dense<[[[[0.5, -0.25], [1.0, 0.75]]]]> : tensor<1x1x2x2xf32>
  %b1 = arith.constant dense<[0.1, -0.1]> : tensor<2xf32>
  %f2 = arith.constant dense<[[[0.5, -2.0]]]> : tensor<1x1x2xf32>
  %w = arith.constant dense<0.05> : tensor<32x3xf32>
  %b3 = arith.constant dense<[[0.5, 0.0, -0.5]]> : tensor<1x3xf32>
  %zeros = arith.constant dense<0.0> : tensor<1x4x4x2xf32>
  %e4 = tensor.empty() : tensor<1x4x4x2xf32>
  %i4 = linalg.fill ins(%zero : f32) outs(%e4 : tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32>
  %c1 = linalg.conv_2d_nhwc_hwcf {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
      ins(%x, %f1 : tensor<1x4x4x2xf32>, tensor<1x1x2x2xf32>) outs(%i4 : tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32>
  %c1b = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%c1, %b1 : tensor<1x4x4x2xf32>, tensor<2xf32>) outs(%e4 : tensor<1x4x4x2xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<1x4x4x2xf32>
  %r1 = linalg.max ins(%c1b, %zeros : tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>) outs(%e4 : tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32> loc("conv1")
  %d = linalg.depthwise_conv_2d_nhwc_hwc {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
      ins(%r1, %f2 : tensor<1x4x4x2xf32>, tensor<1x1x2xf32>) outs(%i4 : tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32>
  %r2 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%d : tensor<1x4x4x2xf32>) outs(%e4 : tensor<1x4x4x2xf32>) {
  ^bb0(%a: f32, %o: f32):
    %lo = arith.constant 0.0 : f32
    %hi = arith.constant 6.0 : f32
    %m = arith.maximumf %a, %lo : f32
    %n = arith.minimumf %m, %hi : f32
    linalg.yield %n : f32
  } -> tensor<1x4x4x2xf32> loc("dw")
  %flat = tensor.collapse_shape %r2 [[0], [1, 2, 3]] : tensor<1x4x4x2xf32> into tensor<1x32xf32> loc("flatten")
  %e2 = tensor.empty() : tensor<1x3xf32>
  %i2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<1x3xf32>) -> tensor<1x3xf32>
  %y = linalg.matmul ins(%flat, %w : tensor<1x32xf32>, tensor<32x3xf32>) outs(%i2 : tensor<1x3xf32>) -> tensor<1x3xf32>
  %yb = linalg.add ins(%y, %b3 : tensor<1x3xf32>, tensor<1x3xf32>) outs(%e2 : tensor<1x3xf32>) -> tensor<1x3xf32> loc("fc")
  return %yb : tensor<1x3xf32>
}
