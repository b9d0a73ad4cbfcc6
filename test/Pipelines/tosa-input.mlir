// TOSA input goes through upstream tosa-to-linalg, then the quantization
// pipeline, in one pass pipeline so that the layer names survive: the
// tosa.matmul (a linalg.batch_matmul) and its tosa.clamp (ReLU6) become one
// integer contraction and one qnn.rescale clamped to [quantize(0),
// quantize(6)] = [0, 255] for relu6 in [0, 6].
//
// RUN: quant-opt %s --pass-pipeline="builtin.module(func.func(tosa-to-linalg-named,tosa-to-linalg,tosa-to-arith),qnn-quantize-pipeline{statistics=%S/Inputs/tosa-stats.json lower-to-integers=false})" -split-input-file 2>&1 | FileCheck %s

// CHECK-LABEL: func @fc
// CHECK: qnn.quantize %{{.*}} : tensor<1x2x4xf32> -> tensor<1x2x4x!quant.uniform<u8:f32, 0.0078431372549019{{[0-9]*}}:128>>
// CHECK: linalg.generic {{.*}}"reduction"
// CHECK-SAME: tensor<1x2x4xi8>, tensor<1x4x3xi8>
// CHECK: qnn.rescale %{{.*}} axis 2 clamp [0, 255] : tensor<1x2x3xi32> -> tensor<1x2x3x!quant.uniform<u8:f32, 0.0235294117{{[0-9]*}}>>
// CHECK-NOT: linalg.batch_matmul
// CHECK-NOT: tosa.
func.func @fc(%x: tensor<1x2x4xf32> loc("input")) -> tensor<1x2x3xf32> {
  %w = "tosa.const"() <{values = dense<[[[0.5, -1.0, 0.25], [0.3, 0.8, -0.7], [1.2, 0.05, -0.6], [0.0, -2.54, 0.63]]]> : tensor<1x4x3xf32>}> : () -> tensor<1x4x3xf32>
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %y = tosa.matmul %x, %w, %zp, %zp : (tensor<1x2x4xf32>, tensor<1x4x3xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x2x3xf32> loc("fc")
  %r = tosa.clamp %y {min_val = 0.0 : f32, max_val = 6.0 : f32} : (tensor<1x2x3xf32>) -> tensor<1x2x3xf32> loc("relu6")
  return %r : tensor<1x2x3xf32>
}

// -----

// tosa.conv2d becomes linalg.conv_2d_nhwc_fhwc (OHWI filter) accumulating
// into the bias broadcast along the channels; quantized per output channel
// (axis 0 of the filter: scales 0.5/127 and 1/127, so w = [127, -64] and
// [127, 95]) and fused, the bias folded into the integer start of the
// accumulators: 0.1 / (s_x s_w) - z_x sum(w) = 3238.1 - 128 * 63 -> -4825,
// -0.2 / (s_x s_w) - 128 * 222 = -3238.1 - 28416 -> -31655 (s_x = 1/127.5,
// z_x = 128). No float op is left and no remark is given.
// CHECK-LABEL: func @conv
// CHECK-NOT: remark
// CHECK-DAG: arith.constant dense<[-4825, -31655]> : tensor<2xi32>
// CHECK-DAG: arith.constant dense<{{\[\[\[\[}}127, -64]]], {{\[\[\[}}127, 95]]]]> : tensor<2x1x1x2xi8>
// CHECK: linalg.generic {{.*}}"reduction"
// CHECK-SAME: tensor<1x2x2x2xi8>, tensor<2x1x1x2xi8>
// CHECK: qnn.rescale %{{.*}} axis 3
// CHECK-NOT: linalg.conv
// CHECK-NOT: f32>) outs
func.func @conv(%x: tensor<1x2x2x2xf32> loc("input")) -> tensor<1x2x2x2xf32> {
  %w = "tosa.const"() <{values = dense<[[[[0.5, -0.25]]], [[[1.0, 0.75]]]]> : tensor<2x1x1x2xf32>}> : () -> tensor<2x1x1x2xf32>
  %b = "tosa.const"() <{values = dense<[0.1, -0.2]> : tensor<2xf32>}> : () -> tensor<2xf32>
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %y = tosa.conv2d %x, %w, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x2x2x2xf32>, tensor<2x1x1x2xf32>, tensor<2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x2x2x2xf32> loc("relu6")
  return %y : tensor<1x2x2x2xf32>
}
