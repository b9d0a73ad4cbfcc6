// RUN: quant-opt %s --qnn-cluster-weights=bits=1 --split-input-file | FileCheck %s
// RUN: quant-opt %s --qnn-cluster-weights --split-input-file | FileCheck %s --check-prefix=FOUR
// RUN: not quant-opt %s --qnn-cluster-weights=bits=9 --split-input-file 2>&1 | FileCheck %s --check-prefix=BAD

// RUN: quant-opt %s --qnn-cluster-weights=bits=1 --qnn-insert-observers --split-input-file | FileCheck %s --check-prefix=OBS

// Codebook weights are weights, not activations: no observer on them.
// OBS-LABEL: func @matmul
// OBS: qnn.observe %{{.*}} : tensor<3x2xf32>
// OBS-NOT: qnn.observe %{{.*}} : tensor<2x2xf32>
// OBS: qnn.observe %{{.*}} : tensor<3x2xf32>
// OBS-LABEL: func @depthwise

// BAD: qnn-cluster-weights: bits must be 1 to 8, got 9

// Two values per output channel and 1-bit codes: k-means finds them
// exactly. Channel 0 {-1, 1}: scale 1/127, entries [-127, 127]; channel 1
// {-0.5, 0.2}: scale 0.5/127, entries [-127, 51] (0.2 / (0.5/127) = 50.8).

// CHECK-LABEL: func @matmul
// CHECK-DAG: %[[C:.*]] = arith.constant dense<{{\[}}[true, false], [false, true]]> : tensor<2x2xi1>
// CHECK-DAG: %[[T:.*]] = qnn.constant dense<{{\[}}[-127, 127], [-127, 51]]> : tensor<2x2xi8> -> tensor<2x2x!quant.uniform<i8<-127:127>:f32:0, {0.0078740157480314959,0.003937007874015748}>>
// CHECK: %[[L:.*]] = qnn.lookup %[[C]], %[[T]] axis 1 : tensor<2x2xi1>, tensor<2x2x!quant.uniform<i8<-127:127>:f32:0, {{.*}}>> -> tensor<2x2x!quant.uniform<i8<-127:127>:f32:1, {0.0078740157480314959,0.003937007874015748}>>
// CHECK: %[[W:.*]] = qnn.dequantize %[[L]]
// CHECK: linalg.matmul ins(%{{.*}}, %[[W]] :
// CHECK-NOT: arith.constant dense<{{.*}}> : tensor<2x2xf32>
func.func @matmul(%x: tensor<3x2xf32>) -> tensor<3x2xf32> {
  %w = arith.constant dense<[[1.0, -0.5], [-1.0, 0.2]]> : tensor<2x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x2xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<3x2xf32>) -> tensor<3x2xf32>
  %y = linalg.matmul ins(%x, %w : tensor<3x2xf32>, tensor<2x2xf32>) outs(%f : tensor<3x2xf32>) -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}

// -----

// Depthwise weights [KH, KW, C]: one codebook per channel (axis 2). With
// 4-bit codes, 16 entries for 4 weights per channel.

// FOUR-LABEL: func @depthwise
// FOUR: arith.constant dense<{{.*}}> : tensor<2x2x3xi4>
// FOUR: qnn.constant dense<{{.*}}> : tensor<3x16xi8> -> tensor<3x16x!quant.uniform<i8<-127:127>:f32:0
// FOUR: qnn.lookup %{{.*}}, %{{.*}} axis 2 : tensor<2x2x3xi4>
// FOUR-SAME: -> tensor<2x2x3x!quant.uniform<i8<-127:127>:f32:2
// FOUR: linalg.depthwise_conv_2d_nhwc_hwc
func.func @depthwise(%x: tensor<1x4x4x3xf32>) -> tensor<1x3x3x3xf32> {
  %w = arith.constant dense<[[[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], [[0.7, 0.8, 0.9], [1.0, 1.1, 1.2]]]> : tensor<2x2x3xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x3x3x3xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<1x3x3x3xf32>) -> tensor<1x3x3x3xf32>
  %y = linalg.depthwise_conv_2d_nhwc_hwc {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
      ins(%x, %w : tensor<1x4x4x3xf32>, tensor<2x2x3xf32>) outs(%f : tensor<1x3x3x3xf32>) -> tensor<1x3x3x3xf32>
  return %y : tensor<1x3x3x3xf32>
}

// -----

// Weights that are not constants (an activation) are left alone.

// CHECK-LABEL: func @activation_weights
// CHECK-NOT: qnn.lookup
// FOUR-LABEL: func @activation_weights
// FOUR-NOT: qnn.lookup
func.func @activation_weights(%x: tensor<3x2xf32>, %w: tensor<2x2xf32>) -> tensor<3x2xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x2xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<3x2xf32>) -> tensor<3x2xf32>
  %y = linalg.matmul ins(%x, %w : tensor<3x2xf32>, tensor<2x2xf32>) outs(%f : tensor<3x2xf32>) -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}

// -----

// A contraction of codebook weights still fuses with its ReLU: its output
// is a fused intermediate and gets no observer of its own.

// CHECK-LABEL: func @matmul_relu
// FOUR-LABEL: func @matmul_relu
// OBS-LABEL: func @matmul_relu
// OBS: qnn.observe %{{.*}} as "input"
// OBS: %[[Y:.*]] = linalg.matmul
// OBS-NOT: qnn.observe %{{.*}} as "fc"
// OBS: linalg.max ins(%[[Y]],
// OBS: qnn.observe %{{.*}} as "relu"
func.func @matmul_relu(%x: tensor<1x2xf32> loc("input")) -> tensor<1x2xf32> {
  %w = arith.constant dense<[[1.0, -0.5], [-1.0, 0.2]]> : tensor<2x2xf32>
  %zero = arith.constant 0.0 : f32
  %zeros = arith.constant dense<0.0> : tensor<1x2xf32>
  %init = tensor.empty() : tensor<1x2xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<1x2xf32>) -> tensor<1x2xf32>
  %y = linalg.matmul ins(%x, %w : tensor<1x2xf32>, tensor<2x2xf32>) outs(%acc : tensor<1x2xf32>) -> tensor<1x2xf32> loc("fc")
  %r = linalg.max ins(%y, %zeros : tensor<1x2xf32>, tensor<1x2xf32>) outs(%init : tensor<1x2xf32>) -> tensor<1x2xf32> loc("relu")
  return %r : tensor<1x2xf32>
}

// -----

// Zero-size weights have nothing to cluster.

// CHECK-LABEL: func @empty_weights
// CHECK-NOT: qnn.lookup
// FOUR-LABEL: func @empty_weights
// FOUR-NOT: qnn.lookup
func.func @empty_weights(%x: tensor<3x0xf32>) -> tensor<3x2xf32> {
  %w = arith.constant dense<> : tensor<0x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x2xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<3x2xf32>) -> tensor<3x2xf32>
  %y = linalg.matmul ins(%x, %w : tensor<3x0xf32>, tensor<0x2xf32>) outs(%f : tensor<3x2xf32>) -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}
