// RUN: quant-opt %s --qnn-equalize-cross-layer --split-input-file | FileCheck %s
// RUN: quant-opt %s --qnn-equalize-cross-layer=relu6=skip --split-input-file | FileCheck %s --check-prefix=SKIP
// RUN: not quant-opt %s --qnn-equalize-cross-layer=relu6=clip --split-input-file 2>&1 | FileCheck %s --check-prefix=BAD

// BAD: relu6=clip is not one of relax, skip

// A depthwise convolution (2 channels, 1x1 kernel) with a bias and a ReLU6
// into a pointwise one. Channel ranges: depthwise r1 = (4, 1), pointwise
// input channels r2 = (1, 4); s = sqrt(r1 * r2) / r2 = (2, 0.5). The
// depthwise weights and bias are divided by s: (4, 1) -> (2, 2), bias
// (2, 1) -> (1, 2); the pointwise input channels multiplied: (1, 4) ->
// (2, 2). The ReLU6 becomes a ReLU (its min goes).
// CHECK-LABEL: func @depthwise_pointwise
// CHECK: %[[DW:.*]] = arith.constant dense<2.000000e+00> : tensor<1x1x2xf32>
// CHECK: linalg.depthwise_conv_2d_nhwc_hwc {{.*}} ins(%{{.*}}, %[[DW]] :
// CHECK: %[[B:.*]] = arith.constant dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf32>
// CHECK: ins(%{{.*}}, %[[B]] : tensor<1x2x2x2xf32>, tensor<2xf32>)
// CHECK: arith.maximumf
// CHECK-NOT: arith.minimumf
// CHECK-NOT: 6.0
// CHECK: %[[PW:.*]] = arith.constant dense<2.000000e+00> : tensor<1x1x2x1xf32>
// CHECK: linalg.conv_2d_nhwc_hwcf {{.*}} ins(%{{.*}}, %[[PW]] :
// SKIP-LABEL: func @depthwise_pointwise
// SKIP: arith.constant dense<{{\[\[\[}}4.000000e+00, 1.000000e+00]]]> : tensor<1x1x2xf32>
// SKIP: arith.minimumf
func.func @depthwise_pointwise(%x: tensor<1x2x2x2xf32>) -> tensor<1x2x2x1xf32> {
  %zero = arith.constant 0.0 : f32
  %dw = arith.constant dense<[[[4.0, 1.0]]]> : tensor<1x1x2xf32>
  %e = tensor.empty() : tensor<1x2x2x2xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %d = linalg.depthwise_conv_2d_nhwc_hwc {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
      ins(%x, %dw : tensor<1x2x2x2xf32>, tensor<1x1x2xf32>) outs(%i : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %b = arith.constant dense<[2.0, 1.0]> : tensor<2xf32>
  %db = linalg.generic {indexing_maps = [affine_map<(n, h, w, c) -> (n, h, w, c)>, affine_map<(n, h, w, c) -> (c)>, affine_map<(n, h, w, c) -> (n, h, w, c)>],
                        iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%d, %b : tensor<1x2x2x2xf32>, tensor<2xf32>) outs(%e : tensor<1x2x2x2xf32>) {
  ^bb0(%in: f32, %bias: f32, %out: f32):
    %s = arith.addf %in, %bias : f32
    linalg.yield %s : f32
  } -> tensor<1x2x2x2xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(n, h, w, c) -> (n, h, w, c)>, affine_map<(n, h, w, c) -> (n, h, w, c)>],
                       iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%db : tensor<1x2x2x2xf32>) outs(%e : tensor<1x2x2x2xf32>) {
  ^bb0(%in: f32, %out: f32):
    %lo = arith.constant 0.0 : f32
    %hi = arith.constant 6.0 : f32
    %m = arith.maximumf %in, %lo : f32
    %n = arith.minimumf %m, %hi : f32
    linalg.yield %n : f32
  } -> tensor<1x2x2x2xf32>
  %pw = arith.constant dense<[[[[1.0], [4.0]]]]> : tensor<1x1x2x1xf32>
  %e2 = tensor.empty() : tensor<1x2x2x1xf32>
  %i2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<1x2x2x1xf32>) -> tensor<1x2x2x1xf32>
  %y = linalg.conv_2d_nhwc_hwcf {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
      ins(%r, %pw : tensor<1x2x2x2xf32>, tensor<1x1x2x1xf32>) outs(%i2 : tensor<1x2x2x1xf32>) -> tensor<1x2x2x1xf32>
  return %y : tensor<1x2x2x1xf32>
}

// -----

// Left alone: a tanh between the convolutions is not positively
// homogeneous; an activation also returned is read twice.
// CHECK-LABEL: func @not_equalized
// CHECK: arith.constant dense<{{\[\[\[}}4.000000e+00, 1.000000e+00]]]> : tensor<1x1x2xf32>
// CHECK: arith.constant dense<{{\[\[\[\[}}1.000000e+00], [4.000000e+00]]]]> : tensor<1x1x2x1xf32>
// CHECK: arith.constant dense<{{\[\[\[}}4.000000e+00, 1.000000e+00]]]> : tensor<1x1x2xf32>
// CHECK: arith.constant dense<{{\[\[\[\[}}1.000000e+00], [4.000000e+00]]]]> : tensor<1x1x2x1xf32>
func.func @not_equalized(%x: tensor<1x2x2x2xf32>) -> (tensor<1x2x2x1xf32>, tensor<1x2x2x1xf32>, tensor<1x2x2x2xf32>) {
  %zero = arith.constant 0.0 : f32
  %dw = arith.constant dense<[[[4.0, 1.0]]]> : tensor<1x1x2xf32>
  %e = tensor.empty() : tensor<1x2x2x2xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %d = linalg.depthwise_conv_2d_nhwc_hwc {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
      ins(%x, %dw : tensor<1x2x2x2xf32>, tensor<1x1x2xf32>) outs(%i : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %t = linalg.generic {indexing_maps = [affine_map<(n, h, w, c) -> (n, h, w, c)>, affine_map<(n, h, w, c) -> (n, h, w, c)>],
                       iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%d : tensor<1x2x2x2xf32>) outs(%e : tensor<1x2x2x2xf32>) {
  ^bb0(%in: f32, %out: f32):
    %h = math.tanh %in : f32
    linalg.yield %h : f32
  } -> tensor<1x2x2x2xf32>
  %pw = arith.constant dense<[[[[1.0], [4.0]]]]> : tensor<1x1x2x1xf32>
  %e2 = tensor.empty() : tensor<1x2x2x1xf32>
  %i2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<1x2x2x1xf32>) -> tensor<1x2x2x1xf32>
  %y = linalg.conv_2d_nhwc_hwcf {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
      ins(%t, %pw : tensor<1x2x2x2xf32>, tensor<1x1x2x1xf32>) outs(%i2 : tensor<1x2x2x1xf32>) -> tensor<1x2x2x1xf32>
  %dw2 = arith.constant dense<[[[4.0, 1.0]]]> : tensor<1x1x2xf32>
  %d2 = linalg.depthwise_conv_2d_nhwc_hwc {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
      ins(%x, %dw2 : tensor<1x2x2x2xf32>, tensor<1x1x2xf32>) outs(%i : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %pw2 = arith.constant dense<[[[[1.0], [4.0]]]]> : tensor<1x1x2x1xf32>
  %y2 = linalg.conv_2d_nhwc_hwcf {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
      ins(%d2, %pw2 : tensor<1x2x2x2xf32>, tensor<1x1x2x1xf32>) outs(%i2 : tensor<1x2x2x1xf32>) -> tensor<1x2x2x1xf32>
  return %y, %y2, %d2 : tensor<1x2x2x1xf32>, tensor<1x2x2x1xf32>, tensor<1x2x2x2xf32>
}
