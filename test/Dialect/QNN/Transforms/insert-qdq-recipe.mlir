// RUN: quant-opt %s --qnn-insert-observers "--qnn-insert-qdq=statistics=%S/Inputs/cnn-stats.json recipe=%S/Inputs/cnn-recipe.json" 2>/dev/null | FileCheck %s
// RUN: quant-opt %s --qnn-insert-observers "--qnn-insert-qdq=statistics=%S/Inputs/cnn-stats.json recipe=%S/Inputs/cnn-recipe.json" 2>&1 >/dev/null | FileCheck %s --check-prefix=REMARK

// REMARK-DAG: remark: loc("dw"): weights of 'linalg.depthwise_conv_2d_nhwc_hwc' have no reduction dimension to group: quantized per channel
// REMARK-DAG: remark: loc("softmax"): 'linalg.softmax' is not quantized: it stays in float between a dequantize and a quantize
// REMARK-NOT: remark: loc("{{conv1|fc|flatten|slice}}")

// The recipe (Inputs/cnn-recipe.json) sets per-tensor weights by default,
// keeps conv1 in float, asks per_group for depthwise convolutions (which have
// no reduction dimension in their weights, so they fall back to per channel
// with a remark), per channel for matmuls, and 4-bit weights and 16-bit
// symmetric activations for the layer "fc" (id rules apply after op rules).

// CHECK-LABEL: func @cnn
// input in [0, 1]: u8, s = 1/255, z = 0.
// CHECK: qnn.quantize %{{.*}} : tensor<1x4x4x2xf32> -> tensor<1x4x4x2x!quant.uniform<u8:f32, 0.0039215686274509{{[0-9]*}}>>
// conv1 is kept in float: its filter is the float constant...
// CHECK: %[[F1:.*]] = arith.constant dense<{{.*}}> : tensor<1x1x2x2xf32>
// CHECK: linalg.conv_2d_nhwc_hwcf {{.*}} ins(%{{.*}}, %[[F1]] : tensor<1x4x4x2xf32>, tensor<1x1x2x2xf32>)
// ... but its output is still quantized for the next layer: [-1, 1], s = 2/255, z = 128 (127.5 to even).
// CHECK: qnn.quantize %{{.*}} : tensor<1x4x4x2xf32> -> tensor<1x4x4x2x!quant.uniform<u8:f32, 0.0078431372549019{{[0-9]*}}:128>>
// Depthwise: per channel along the filter's channel axis 2.
// CHECK: %[[F2:.*]] = qnn.constant dense<{{.*}}> : tensor<1x1x2xi8> -> tensor<1x1x2x!quant.uniform<i8<-127:127>:f32:2, {{.*}}>>
// CHECK: linalg.depthwise_conv_2d_nhwc_hwc
// fc: 4-bit weights per output channel (axis 1 of [K, N])...
// CHECK: qnn.constant dense<{{.*}}> : tensor<2x2xi4> -> tensor<2x2x!quant.uniform<i4<-7:7>:f32:1, {{.*}}>>
// CHECK: linalg.matmul
// ... and a 16-bit symmetric output: [-4, 4], s = 4/32767 = 1.2207403790...e-4.
// CHECK: qnn.quantize %{{.*}} : tensor<1x2xf32> -> tensor<1x2x!quant.uniform<i16:f32, 1.220740379{{[0-9]*}}E-4>>
// softmax stays in float between a dequantize and a quantize (defaults: u8).
// CHECK: linalg.softmax
// CHECK: qnn.quantize %{{.*}} : tensor<1x2xf32> -> tensor<1x2x!quant.uniform<u8:f32, 0.0039215686274509{{[0-9]*}}>>
func.func @cnn(%x: tensor<1x4x4x2xf32> loc("input")) -> tensor<1x2xf32> {
  %zero = arith.constant 0.0 : f32
  %f1 = arith.constant dense<[[[[0.5, -0.25], [1.0, 0.75]]]]> : tensor<1x1x2x2xf32>
  %f2 = arith.constant dense<[[[0.5, -2.0]]]> : tensor<1x1x2xf32>
  %w = arith.constant dense<[[0.5, -1.0], [0.25, 0.125]]> : tensor<2x2xf32>
  %e4 = tensor.empty() : tensor<1x4x4x2xf32>
  %i4 = linalg.fill ins(%zero : f32) outs(%e4 : tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32>
  %c1 = linalg.conv_2d_nhwc_hwcf {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
      ins(%x, %f1 : tensor<1x4x4x2xf32>, tensor<1x1x2x2xf32>) outs(%i4 : tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32> loc("conv1")
  %d = linalg.depthwise_conv_2d_nhwc_hwc {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
      ins(%c1, %f2 : tensor<1x4x4x2xf32>, tensor<1x1x2xf32>) outs(%i4 : tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32> loc("dw")
  %flat = tensor.collapse_shape %d [[0], [1, 2, 3]] : tensor<1x4x4x2xf32> into tensor<1x32xf32> loc("flatten")
  %first = tensor.extract_slice %flat[0, 0] [1, 2] [1, 1] : tensor<1x32xf32> to tensor<1x2xf32> loc("slice")
  %e2 = tensor.empty() : tensor<1x2xf32>
  %i2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<1x2xf32>) -> tensor<1x2xf32>
  %y = linalg.matmul ins(%first, %w : tensor<1x2xf32>, tensor<2x2xf32>) outs(%i2 : tensor<1x2xf32>) -> tensor<1x2xf32> loc("fc")
  %s = linalg.softmax dimension(1) ins(%y : tensor<1x2xf32>) outs(%e2 : tensor<1x2xf32>) -> tensor<1x2xf32> loc("softmax")
  return %s : tensor<1x2xf32>
}
