// A small float CNN (the model of test/Pipelines/quantize-pipeline.mlir):
// 1x1 conv + bias + ReLU, depthwise 1x1 + ReLU6, flatten, fully connected +
// bias. Locations name the layers for calibration and reports.
// scripts/demo.sh calibrates, quantizes, lowers and runs it.
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
