// TOSA input goes through upstream tosa-to-linalg, then the quantization
// pipeline, in one pass pipeline so that the layer names survive: the
// tosa.matmul (a linalg.batch_matmul) and its tosa.clamp (ReLU6) become one
// integer contraction and one qnn.rescale clamped to [quantize(0),
// quantize(6)] = [0, 255] for relu6 in [0, 6].
//
// RUN: quant-opt %s --pass-pipeline="builtin.module(func.func(tosa-to-linalg-named,tosa-to-linalg,tosa-to-arith),qnn-quantize-pipeline{statistics=%S/Inputs/tosa-stats.json lower-to-integers=false})" | FileCheck %s

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
