// RUN: quant-opt %s --qnn-fuse-quantized-ops --split-input-file | FileCheck %s

// Every constant below is worked out by hand from "Fused integer
// contractions" in docs/Semantics.md.

!x = !quant.uniform<u8:f32, 0.5:10>
!w = !quant.uniform<i8:f32:1, {0.25, 0.5}>
!y = !quant.uniform<u8:f32, 1.0:5>

// matmul + bias + ReLU, per-channel weights, asymmetric activations.
// Sums over k of w: channel 0: 1 + 3 = 4, channel 1: -2 + 4 = 2.
// Bias at s_x * s_w: 1.0 / 0.125 = 8, -1.0 / 0.25 = -4.
// Start: 8 - 10 * 4 = -32, -4 - 10 * 2 = -24.
// Multipliers: 0.125 = 0.5 * 2^-2 -> (2^30, 33); 0.25 -> (2^30, 32).
// ReLU: quantize(0) = z_y = 5, so the clamp is [5, 255].
// CHECK-DAG: #[[$MX:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG: #[[$MW:.*]] = affine_map<(d0, d1, d2) -> (d2, d1)>
// CHECK-DAG: #[[$MO:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG: #[[$CH:.*]] = affine_map<(d0, d1) -> (d1)>
// CHECK-LABEL: func @matmul_bias_relu
// CHECK-SAME: (%[[XQ:.*]]: tensor<3x2x!quant.uniform<u8:f32, 5.000000e-01:10>>)
// CHECK-DAG: %[[START:.*]] = arith.constant dense<[-32, -24]> : tensor<2xi32>
// CHECK-DAG: %[[W:.*]] = arith.constant dense<{{\[\[}}1, -2], [3, 4]]> : tensor<2x2xi8>
// CHECK: %[[X:.*]] = quant.scast %[[XQ]] : tensor<3x2x!quant.uniform<u8:f32, 5.000000e-01:10>> to tensor<3x2xi8>
// CHECK: %[[INIT:.*]] = linalg.generic {indexing_maps = [#[[$CH]], #{{.*}}]
// CHECK-SAME: ins(%[[START]] : tensor<2xi32>)
// CHECK: %[[ACC:.*]] = linalg.generic {indexing_maps = [#[[$MX]], #[[$MW]], #[[$MO]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK-SAME: ins(%[[X]], %[[W]] : tensor<3x2xi8>, tensor<2x2xi8>) outs(%[[INIT]] : tensor<3x2xi32>)
// CHECK: arith.extui %{{.*}} : i8 to i32
// CHECK: arith.extsi %{{.*}} : i8 to i32
// CHECK: arith.muli
// CHECK: arith.addi
// CHECK: %[[Y:.*]] = qnn.rescale %[[ACC]] multipliers [1073741824, 1073741824] shifts [33, 32] axis 1 clamp [5, 255] : tensor<3x2xi32> -> tensor<3x2x!quant.uniform<u8:f32, 1.000000e+00:5>>
// CHECK-NOT: linalg.matmul
// CHECK-NOT: linalg.add
// CHECK-NOT: linalg.max
// CHECK: return %[[Y]]
func.func @matmul_bias_relu(%xq: tensor<3x2x!x>) -> tensor<3x2x!y> {
  %x = qnn.dequantize %xq : tensor<3x2x!x> -> tensor<3x2xf32>
  %wq = qnn.constant dense<[[1, -2], [3, 4]]> : tensor<2x2xi8> -> tensor<2x2x!w>
  %w = qnn.dequantize %wq : tensor<2x2x!w> -> tensor<2x2xf32>
  %zero = arith.constant 0.0 : f32
  %zeros = arith.constant dense<0.0> : tensor<3x2xf32>
  %b = arith.constant dense<[[1.0, -1.0], [1.0, -1.0], [1.0, -1.0]]> : tensor<3x2xf32>
  %e = tensor.empty() : tensor<3x2xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<3x2xf32>) -> tensor<3x2xf32>
  %m = linalg.matmul ins(%x, %w : tensor<3x2xf32>, tensor<2x2xf32>) outs(%i : tensor<3x2xf32>) -> tensor<3x2xf32>
  %a = linalg.add ins(%m, %b : tensor<3x2xf32>, tensor<3x2xf32>) outs(%e : tensor<3x2xf32>) -> tensor<3x2xf32>
  %r = linalg.max ins(%a, %zeros : tensor<3x2xf32>, tensor<3x2xf32>) outs(%e : tensor<3x2xf32>) -> tensor<3x2xf32>
  %yq = qnn.quantize %r : tensor<3x2xf32> -> tensor<3x2x!y>
  return %yq : tensor<3x2x!y>
}

// -----

// The same layer with its bias as a dense_resource blob (how the ONNX
// importer writes constants), added by a linalg.generic along the channel:
// the same start values [-32, -24].
// [1.0, -1.0] as little-endian f32 after the 4-byte alignment header.
// CHECK-LABEL: func @matmul_resource_bias
// CHECK-DAG: arith.constant dense<[-32, -24]> : tensor<2xi32>
// CHECK: qnn.rescale %{{.*}} multipliers [1073741824, 1073741824] shifts [33, 32] axis 1 :
// CHECK-NOT: linalg.matmul
func.func @matmul_resource_bias(%xq: tensor<3x2x!quant.uniform<u8:f32, 0.5:10>>) -> tensor<3x2x!quant.uniform<u8:f32, 1.0:5>> {
  %x = qnn.dequantize %xq : tensor<3x2x!quant.uniform<u8:f32, 0.5:10>> -> tensor<3x2xf32>
  %wq = qnn.constant dense<[[1, -2], [3, 4]]> : tensor<2x2xi8> -> tensor<2x2x!quant.uniform<i8:f32:1, {0.25, 0.5}>>
  %w = qnn.dequantize %wq : tensor<2x2x!quant.uniform<i8:f32:1, {0.25, 0.5}>> -> tensor<2x2xf32>
  %zero = arith.constant 0.0 : f32
  %b = arith.constant dense_resource<bias> : tensor<2xf32>
  %e = tensor.empty() : tensor<3x2xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<3x2xf32>) -> tensor<3x2xf32>
  %m = linalg.matmul ins(%x, %w : tensor<3x2xf32>, tensor<2x2xf32>) outs(%i : tensor<3x2xf32>) -> tensor<3x2xf32>
  %a = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
      ins(%m, %b : tensor<3x2xf32>, tensor<2xf32>) outs(%e : tensor<3x2xf32>) {
  ^bb0(%p: f32, %q: f32, %o: f32):
    %s = arith.addf %p, %q : f32
    linalg.yield %s : f32
  } -> tensor<3x2xf32>
  %yq = qnn.quantize %a : tensor<3x2xf32> -> tensor<3x2x!quant.uniform<u8:f32, 1.0:5>>
  return %yq : tensor<3x2x!quant.uniform<u8:f32, 1.0:5>>
}
{-#
  dialect_resources: {
    builtin: {
      bias: "0x040000000000803F000080BF"
    }
  }
#-}

// -----

// The same layer with its bias as the contraction's init, a linalg.broadcast
// of [1.0, -1.0] (as IR written by hand or by other importers starts a
// matmul from its bias), and its activation a clamp to [0, 6] as a
// linalg.map: the same start values [-32, -24]; quantize(6) = 6 + 5 = 11.
// CHECK-LABEL: func @matmul_broadcast_bias_map_relu6
// CHECK-DAG: arith.constant dense<[-32, -24]> : tensor<2xi32>
// CHECK: qnn.rescale %{{.*}} multipliers [1073741824, 1073741824] shifts [33, 32] axis 1 clamp [5, 11] :
// CHECK-NOT: linalg.matmul
// CHECK-NOT: linalg.broadcast
// CHECK-NOT: linalg.map
func.func @matmul_broadcast_bias_map_relu6(%xq: tensor<3x2x!quant.uniform<u8:f32, 0.5:10>>) -> tensor<3x2x!quant.uniform<u8:f32, 1.0:5>> {
  %x = qnn.dequantize %xq : tensor<3x2x!quant.uniform<u8:f32, 0.5:10>> -> tensor<3x2xf32>
  %wq = qnn.constant dense<[[1, -2], [3, 4]]> : tensor<2x2xi8> -> tensor<2x2x!quant.uniform<i8:f32:1, {0.25, 0.5}>>
  %w = qnn.dequantize %wq : tensor<2x2x!quant.uniform<i8:f32:1, {0.25, 0.5}>> -> tensor<2x2xf32>
  %b = arith.constant dense<[1.0, -1.0]> : tensor<2xf32>
  %e = tensor.empty() : tensor<3x2xf32>
  %i = linalg.broadcast ins(%b : tensor<2xf32>) outs(%e : tensor<3x2xf32>) dimensions = [0]
  %m = linalg.matmul ins(%x, %w : tensor<3x2xf32>, tensor<2x2xf32>) outs(%i : tensor<3x2xf32>) -> tensor<3x2xf32>
  %r = linalg.map ins(%m : tensor<3x2xf32>) outs(%e : tensor<3x2xf32>)
    (%in: f32, %out: f32) {
      %lo = arith.constant 0.0 : f32
      %hi = arith.constant 6.0 : f32
      %0 = arith.maximumf %in, %lo : f32
      %1 = arith.minimumf %0, %hi : f32
      linalg.yield %1 : f32
    }
  %yq = qnn.quantize %r : tensor<3x2xf32> -> tensor<3x2x!quant.uniform<u8:f32, 1.0:5>>
  return %yq : tensor<3x2x!quant.uniform<u8:f32, 1.0:5>>
}

// -----

// Asymmetric per-tensor weights (z_w = 1): w' = w - 1 = [[0, -3], [2, 3]],
// held in i32; no bias, no activation. Sums: 2 and 0; start -10 * 2 = -20
// and 0. One multiplier: 0.5 * 0.25 / 1.0 = 0.125 -> (2^30, 33).
// CHECK-LABEL: func @matmul_asymmetric_weights
// CHECK-DAG: arith.constant dense<[-20, 0]> : tensor<2xi32>
// CHECK-DAG: %[[W:.*]] = arith.constant dense<{{\[\[}}0, -3], [2, 3]]> : tensor<2x2xi32>
// CHECK: linalg.generic {{.*}}"reduction"
// CHECK-SAME: ins(%{{.*}}, %[[W]] : tensor<3x2xi8>, tensor<2x2xi32>)
// CHECK: qnn.rescale %{{.*}} multipliers [1073741824] shifts [33] : tensor<3x2xi32>
func.func @matmul_asymmetric_weights(%xq: tensor<3x2x!quant.uniform<u8:f32, 0.5:10>>) -> tensor<3x2x!quant.uniform<u8:f32, 1.0:5>> {
  %x = qnn.dequantize %xq : tensor<3x2x!quant.uniform<u8:f32, 0.5:10>> -> tensor<3x2xf32>
  %wq = qnn.constant dense<[[1, -2], [3, 4]]> : tensor<2x2xi8> -> tensor<2x2x!quant.uniform<i8:f32, 0.25:1>>
  %w = qnn.dequantize %wq : tensor<2x2x!quant.uniform<i8:f32, 0.25:1>> -> tensor<2x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x2xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<3x2xf32>) -> tensor<3x2xf32>
  %m = linalg.matmul ins(%x, %w : tensor<3x2xf32>, tensor<2x2xf32>) outs(%i : tensor<3x2xf32>) -> tensor<3x2xf32>
  %yq = qnn.quantize %m : tensor<3x2xf32> -> tensor<3x2x!quant.uniform<u8:f32, 1.0:5>>
  return %yq : tensor<3x2x!quant.uniform<u8:f32, 1.0:5>>
}

// -----

// A strided convolution keeps its indexing maps; ReLU6 becomes the clamp
// [quantize(0), quantize(6)] = [0, 12] for s_y = 0.5, z_y = 0, i8.
// CHECK-DAG: #[[$IN:.*]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d1 * 2 + d4, d2 * 2 + d5, d6)>
// CHECK-DAG: #[[$FILTER:.*]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d4, d5, d6, d3)>
// CHECK-LABEL: func @conv_relu6
// CHECK: linalg.generic {indexing_maps = [#[[$IN]], #[[$FILTER]], #{{.*}}], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
// CHECK: arith.extsi %{{.*}} : i8 to i32
// CHECK: qnn.rescale %{{.*}} clamp [0, 12] : tensor<1x2x2x2xi32> -> tensor<1x2x2x2x!quant.uniform<i8:f32, 5.000000e-01>>
func.func @conv_relu6(%xq: tensor<1x5x5x1x!quant.uniform<i8:f32, 0.1>>) -> tensor<1x2x2x2x!quant.uniform<i8:f32, 0.5>> {
  %x = qnn.dequantize %xq : tensor<1x5x5x1x!quant.uniform<i8:f32, 0.1>> -> tensor<1x5x5x1xf32>
  %wq = qnn.constant dense<1> : tensor<2x2x1x2xi8> -> tensor<2x2x1x2x!quant.uniform<i8<-127:127>:f32, 0.02>>
  %w = qnn.dequantize %wq : tensor<2x2x1x2x!quant.uniform<i8<-127:127>:f32, 0.02>> -> tensor<2x2x1x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x2x2x2xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %c = linalg.conv_2d_nhwc_hwcf {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>}
      ins(%x, %w : tensor<1x5x5x1xf32>, tensor<2x2x1x2xf32>) outs(%i : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%c : tensor<1x2x2x2xf32>) outs(%e : tensor<1x2x2x2xf32>) {
  ^bb0(%in: f32, %out: f32):
    %lo = arith.constant 0.0 : f32
    %hi = arith.constant 6.0 : f32
    %0 = arith.maximumf %in, %lo : f32
    %1 = arith.minimumf %0, %hi : f32
    linalg.yield %1 : f32
  } -> tensor<1x2x2x2xf32>
  %yq = qnn.quantize %r : tensor<1x2x2x2xf32> -> tensor<1x2x2x2x!quant.uniform<i8:f32, 0.5>>
  return %yq : tensor<1x2x2x2x!quant.uniform<i8:f32, 0.5>>
}

// -----

// A matmul of two activations accumulating from 1.0 (not a bias: the
// weights are not constant), or an op that is not a contraction: nothing is
// fused. A quantize of a dequantize into another type is a requantize.
// CHECK-LABEL: func @not_fused
// CHECK: linalg.matmul
// CHECK: %[[R:.*]] = qnn.requantize %{{.*}} : tensor<2x2x!quant.uniform<i8:f32, 5.000000e-01>> -> tensor<2x2x!quant.uniform<u8:f32, 2.500000e-01:128>>
// CHECK: return %{{.*}}, %[[R]]
func.func @not_fused(%xq: tensor<2x2x!quant.uniform<i8:f32, 0.5>>, %wq: tensor<2x2x!quant.uniform<i8:f32, 0.5>>) -> (tensor<2x2x!quant.uniform<i8:f32, 1.0>>, tensor<2x2x!quant.uniform<u8:f32, 0.25:128>>) {
  %x = qnn.dequantize %xq : tensor<2x2x!quant.uniform<i8:f32, 0.5>> -> tensor<2x2xf32>
  %w = qnn.dequantize %wq : tensor<2x2x!quant.uniform<i8:f32, 0.5>> -> tensor<2x2xf32>
  %zero = arith.constant 1.0 : f32
  %e = tensor.empty() : tensor<2x2xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<2x2xf32>) -> tensor<2x2xf32>
  %m = linalg.matmul ins(%x, %w : tensor<2x2xf32>, tensor<2x2xf32>) outs(%i : tensor<2x2xf32>) -> tensor<2x2xf32>
  %yq = qnn.quantize %m : tensor<2x2xf32> -> tensor<2x2x!quant.uniform<i8:f32, 1.0>>
  %r = qnn.quantize %x : tensor<2x2xf32> -> tensor<2x2x!quant.uniform<u8:f32, 0.25:128>>
  return %yq, %r : tensor<2x2x!quant.uniform<i8:f32, 1.0>>, tensor<2x2x!quant.uniform<u8:f32, 0.25:128>>
}

// -----

// Residual add with a ReLU: s_a / s_y = 0.5 -> (2^30, 31) is the larger
// multiplier; s_b / s_y = 0.25 at shift 31 is 2^29. ReLU: clamp [z_y, 255].
// CHECK-LABEL: func @residual_add_relu
// CHECK-SAME: (%[[A:.*]]: tensor<4x!quant.uniform<u8:f32, 5.000000e-01:128>>, %[[B:.*]]: tensor<4x!quant.uniform<i8:f32, 2.500000e-01>>)
// CHECK: %[[Y:.*]] = qnn.add %[[A]], %[[B]] multipliers [1073741824, 536870912] shift 31 clamp [128, 255]
// CHECK-NOT: linalg.add
// CHECK: return %[[Y]]
func.func @residual_add_relu(%aq: tensor<4x!quant.uniform<u8:f32, 0.5:128>>, %bq: tensor<4x!quant.uniform<i8:f32, 0.25>>) -> tensor<4x!quant.uniform<u8:f32, 1.0:128>> {
  %a = qnn.dequantize %aq : tensor<4x!quant.uniform<u8:f32, 0.5:128>> -> tensor<4xf32>
  %b = qnn.dequantize %bq : tensor<4x!quant.uniform<i8:f32, 0.25>> -> tensor<4xf32>
  %e = tensor.empty() : tensor<4xf32>
  %zeros = arith.constant dense<0.0> : tensor<4xf32>
  %s = linalg.add ins(%a, %b : tensor<4xf32>, tensor<4xf32>) outs(%e : tensor<4xf32>) -> tensor<4xf32>
  %r = linalg.max ins(%s, %zeros : tensor<4xf32>, tensor<4xf32>) outs(%e : tensor<4xf32>) -> tensor<4xf32>
  %yq = qnn.quantize %r : tensor<4xf32> -> tensor<4x!quant.uniform<u8:f32, 1.0:128>>
  return %yq : tensor<4x!quant.uniform<u8:f32, 1.0:128>>
}

// -----

// Average pooling 2x2: the window sum of x - z_x starts at -4 * 10 = -40;
// one rescale by (0.5 / 4) / 0.25 = 0.5 -> (2^30, 31).
// CHECK-LABEL: func @average_pool
// CHECK-DAG: %[[START:.*]] = arith.constant -40 : i32
// CHECK: %[[INIT:.*]] = linalg.fill ins(%[[START]] : i32)
// CHECK: %[[SUM:.*]] = linalg.generic {{.*}} outs(%[[INIT]] : tensor<1x2x2x1xi32>)
// CHECK: arith.extui %{{.*}} : i8 to i32
// CHECK: qnn.rescale %[[SUM]] multipliers [1073741824] shifts [31] : tensor<1x2x2x1xi32> -> tensor<1x2x2x1x!quant.uniform<i8:f32, 2.500000e-01>>
// CHECK-NOT: linalg.pooling_nhwc_sum
func.func @average_pool(%xq: tensor<1x4x4x1x!quant.uniform<u8:f32, 0.5:10>>) -> tensor<1x2x2x1x!quant.uniform<i8:f32, 0.25>> {
  %x = qnn.dequantize %xq : tensor<1x4x4x1x!quant.uniform<u8:f32, 0.5:10>> -> tensor<1x4x4x1xf32>
  %zero = arith.constant 0.0 : f32
  %w = tensor.empty() : tensor<2x2xf32>
  %e = tensor.empty() : tensor<1x2x2x1xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<1x2x2x1xf32>) -> tensor<1x2x2x1xf32>
  %s = linalg.pooling_nhwc_sum {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>}
      ins(%x, %w : tensor<1x4x4x1xf32>, tensor<2x2xf32>) outs(%i : tensor<1x2x2x1xf32>) -> tensor<1x2x2x1xf32>
  %p = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%s : tensor<1x2x2x1xf32>) outs(%e : tensor<1x2x2x1xf32>) {
  ^bb0(%in: f32, %out: f32):
    %c = arith.constant 4.0 : f32
    %d = arith.divf %in, %c : f32
    linalg.yield %d : f32
  } -> tensor<1x2x2x1xf32>
  %yq = qnn.quantize %p : tensor<1x2x2x1xf32> -> tensor<1x2x2x1x!quant.uniform<i8:f32, 0.25>>
  return %yq : tensor<1x2x2x1x!quant.uniform<i8:f32, 0.25>>
}

// -----

// Product of two activations: (a - 128) * b in i32, then one rescale by
// 0.5 * 0.25 / 1.0 = 0.125 -> (2^30, 33).
// CHECK-LABEL: func @product
// CHECK: %[[P:.*]] = linalg.generic
// CHECK-DAG: %[[A:.*]] = arith.extui %{{.*}} : i8 to i32
// CHECK-DAG: %[[B:.*]] = arith.extsi %{{.*}} : i8 to i32
// CHECK-DAG: %[[AC:.*]] = arith.subi %[[A]], %{{.*}} : i32
// CHECK: arith.muli %[[AC]], %[[B]] : i32
// CHECK: qnn.rescale %[[P]] multipliers [1073741824] shifts [33] : tensor<4xi32> -> tensor<4x!quant.uniform<i8:f32, 1.000000e+00>>
// CHECK-NOT: linalg.mul
func.func @product(%aq: tensor<4x!quant.uniform<u8:f32, 0.5:128>>, %bq: tensor<4x!quant.uniform<i8:f32, 0.25>>) -> tensor<4x!quant.uniform<i8:f32, 1.0>> {
  %a = qnn.dequantize %aq : tensor<4x!quant.uniform<u8:f32, 0.5:128>> -> tensor<4xf32>
  %b = qnn.dequantize %bq : tensor<4x!quant.uniform<i8:f32, 0.25>> -> tensor<4xf32>
  %e = tensor.empty() : tensor<4xf32>
  %p = linalg.mul ins(%a, %b : tensor<4xf32>, tensor<4xf32>) outs(%e : tensor<4xf32>) -> tensor<4xf32>
  %yq = qnn.quantize %p : tensor<4xf32> -> tensor<4x!quant.uniform<i8:f32, 1.0>>
  return %yq : tensor<4x!quant.uniform<i8:f32, 1.0>>
}

// -----

// Scaling by a constant (attention's 1/sqrt(d)): a - 128 in i32, then one
// rescale by 0.5 * 0.25 / 0.1 = 1.25 -> (1.25 * 2^30, 30).
// CHECK-LABEL: func @scaling
// CHECK: %[[C:.*]] = linalg.generic
// CHECK: %[[A:.*]] = arith.extui %{{.*}} : i8 to i32
// CHECK: arith.subi %[[A]], %{{.*}} : i32
// CHECK: qnn.rescale %[[C]] multipliers [1342177280] shifts [30] : tensor<2x3xi32> -> tensor<2x3x!quant.uniform<u8:f32, 1.000000e-01:7>>
// CHECK-NOT: arith.mulf
func.func @scaling(%aq: tensor<2x3x!quant.uniform<u8:f32, 0.5:128>>) -> tensor<2x3x!quant.uniform<u8:f32, 0.1:7>> {
  %a = qnn.dequantize %aq : tensor<2x3x!quant.uniform<u8:f32, 0.5:128>> -> tensor<2x3xf32>
  %e = tensor.empty() : tensor<2x3xf32>
  %s = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
      ins(%a : tensor<2x3xf32>) outs(%e : tensor<2x3xf32>) {
  ^bb0(%in: f32, %out: f32):
    %c = arith.constant 0.25 : f32
    %m = arith.mulf %in, %c : f32
    linalg.yield %m : f32
  } -> tensor<2x3xf32>
  %yq = qnn.quantize %s : tensor<2x3xf32> -> tensor<2x3x!quant.uniform<u8:f32, 0.1:7>>
  return %yq : tensor<2x3x!quant.uniform<u8:f32, 0.1:7>>
}

// -----

// A division by 8 followed by a ReLU: 0.5 * (1 / 8) / 0.25 = 0.25 ->
// (2^30, 32), clamped to [z_y, qmax] = [-3, 127]; a signed input is
// sign-extended.
// CHECK-LABEL: func @scaling_division_relu
// CHECK: %[[C:.*]] = linalg.generic
// CHECK: %[[A:.*]] = arith.extsi %{{.*}} : i8 to i32
// CHECK: arith.subi %[[A]], %{{.*}} : i32
// CHECK: qnn.rescale %[[C]] multipliers [1073741824] shifts [32] clamp [-3, 127] : tensor<4xi32> -> tensor<4x!quant.uniform<i8:f32, 2.500000e-01:-3>>
// CHECK-NOT: arith.divf
// CHECK-NOT: arith.maximumf
func.func @scaling_division_relu(%aq: tensor<4x!quant.uniform<i8:f32, 0.5:5>>) -> tensor<4x!quant.uniform<i8:f32, 0.25:-3>> {
  %a = qnn.dequantize %aq : tensor<4x!quant.uniform<i8:f32, 0.5:5>> -> tensor<4xf32>
  %e = tensor.empty() : tensor<4xf32>
  %s = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]}
      ins(%a : tensor<4xf32>) outs(%e : tensor<4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %c = arith.constant 8.0 : f32
    %d = arith.divf %in, %c : f32
    linalg.yield %d : f32
  } -> tensor<4xf32>
  %zero = arith.constant 0.0 : f32
  %e2 = tensor.empty() : tensor<4xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]}
      ins(%s : tensor<4xf32>) outs(%e2 : tensor<4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.maximumf %in, %zero : f32
    linalg.yield %m : f32
  } -> tensor<4xf32>
  %yq = qnn.quantize %r : tensor<4xf32> -> tensor<4x!quant.uniform<i8:f32, 0.25:-3>>
  return %yq : tensor<4x!quant.uniform<i8:f32, 0.25:-3>>
}

// -----

// A factor the output's scale absorbs exactly (0.5 * 0.25 / 0.125 = 1, the
// same zero point and storage): the stored values are the result, no
// rescale.
// CHECK-LABEL: func @scaling_absorbed
// CHECK-SAME: (%[[AQ:.*]]: tensor<4x!quant.uniform<u8:f32, 5.000000e-01:128>>)
// CHECK: %[[S:.*]] = quant.scast %[[AQ]] : tensor<4x!quant.uniform<u8:f32, 5.000000e-01:128>> to tensor<4xi8>
// CHECK: %[[Y:.*]] = quant.scast %[[S]] : tensor<4xi8> to tensor<4x!quant.uniform<u8:f32, 1.250000e-01:128>>
// CHECK: return %[[Y]]
// CHECK-NOT: qnn.rescale
func.func @scaling_absorbed(%aq: tensor<4x!quant.uniform<u8:f32, 0.5:128>>) -> tensor<4x!quant.uniform<u8:f32, 0.125:128>> {
  %a = qnn.dequantize %aq : tensor<4x!quant.uniform<u8:f32, 0.5:128>> -> tensor<4xf32>
  %e = tensor.empty() : tensor<4xf32>
  %s = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]}
      ins(%a : tensor<4xf32>) outs(%e : tensor<4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %c = arith.constant 0.25 : f32
    %m = arith.mulf %in, %c : f32
    linalg.yield %m : f32
  } -> tensor<4xf32>
  %yq = qnn.quantize %s : tensor<4xf32> -> tensor<4x!quant.uniform<u8:f32, 0.125:128>>
  return %yq : tensor<4x!quant.uniform<u8:f32, 0.125:128>>
}

// -----

// A negative factor reverses the order of the stored values: left in
// float.
// CHECK-LABEL: func @scaling_negative
// CHECK: qnn.dequantize
// CHECK: arith.mulf
// CHECK: qnn.quantize
// CHECK-NOT: qnn.rescale
func.func @scaling_negative(%aq: tensor<4x!quant.uniform<u8:f32, 0.5:128>>) -> tensor<4x!quant.uniform<u8:f32, 0.5:128>> {
  %a = qnn.dequantize %aq : tensor<4x!quant.uniform<u8:f32, 0.5:128>> -> tensor<4xf32>
  %e = tensor.empty() : tensor<4xf32>
  %s = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]}
      ins(%a : tensor<4xf32>) outs(%e : tensor<4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %c = arith.constant -1.0 : f32
    %m = arith.mulf %in, %c : f32
    linalg.yield %m : f32
  } -> tensor<4xf32>
  %yq = qnn.quantize %s : tensor<4xf32> -> tensor<4x!quant.uniform<u8:f32, 0.5:128>>
  return %yq : tensor<4x!quant.uniform<u8:f32, 0.5:128>>
}

// -----

// Per-group weights, groups of 2 rows: scales 0.25 and 0.5. Multipliers
// 0.5 * 0.25 = 0.125 and 0.5 * 0.5 = 0.25; the larger gives the shift:
// 0.25 -> (2^30, 32); at shift 32, 0.125 is 2^29. The reduction over K is
// expanded into (2 groups, 2), one i32 partial sum per group (shape 1x1x2), summed
// with the multipliers in i64, then rounded once with multiplier 1.
// CHECK-DAG: #[[$PX:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d2, d3)>
// CHECK-DAG: #[[$PW:.*]] = affine_map<(d0, d1, d2, d3) -> (d2, d3, d1)>
// CHECK-DAG: #[[$PO:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-LABEL: func @grouped_matmul
// CHECK-DAG: %[[M:.*]] = arith.constant dense<{{\[\[}}536870912], [1073741824]]> : tensor<2x1xi64>
// CHECK-DAG: %[[W:.*]] = arith.constant dense<{{\[\[\[}}1], [2]], {{\[\[}}3], [4]]]> : tensor<2x2x1xi8>
// CHECK: %[[X:.*]] = tensor.expand_shape %{{.*}} {{\[\[}}0], [1, 2]] output_shape [1, 2, 2] : tensor<1x4xi8> into tensor<1x2x2xi8>
// CHECK: %[[P:.*]] = linalg.generic {indexing_maps = [#[[$PX]], #[[$PW]], #[[$PO]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
// CHECK-SAME: ins(%[[X]], %[[W]] : tensor<1x2x2xi8>, tensor<2x2x1xi8>) outs(%{{.*}} : tensor<1x1x2xi32>)
// CHECK: %[[S:.*]] = linalg.generic {{.*}} ins(%[[P]], %[[M]] : tensor<1x1x2xi32>, tensor<2x1xi64>)
// CHECK: qnn.rescale %[[S]] multipliers [1] shifts [32] : tensor<1x1xi64> -> tensor<1x1x!quant.uniform<i8:f32, 1.000000e+00>>
// CHECK-NOT: linalg.matmul
func.func @grouped_matmul(%xq: tensor<1x4x!quant.uniform<u8:f32, 0.5>>) -> tensor<1x1x!quant.uniform<i8:f32, 1.0>> {
  %x = qnn.dequantize %xq : tensor<1x4x!quant.uniform<u8:f32, 0.5>> -> tensor<1x4xf32>
  %wq = qnn.constant dense<[[1], [2], [3], [4]]> : tensor<4x1xi8> -> tensor<4x1x!quant.uniform<i8:f32:{0:2, 1:1}, {{0.25}, {0.5}}>>
  %w = qnn.dequantize %wq : tensor<4x1x!quant.uniform<i8:f32:{0:2, 1:1}, {{0.25}, {0.5}}>> -> tensor<4x1xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x1xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<1x1xf32>) -> tensor<1x1xf32>
  %m = linalg.matmul ins(%x, %w : tensor<1x4xf32>, tensor<4x1xf32>) outs(%i : tensor<1x1xf32>) -> tensor<1x1xf32>
  %yq = qnn.quantize %m : tensor<1x1xf32> -> tensor<1x1x!quant.uniform<i8:f32, 1.0>>
  return %yq : tensor<1x1x!quant.uniform<i8:f32, 1.0>>
}

// -----

// ONNX Runtime's QDQ convolutions: the dequantized input goes through the
// importer's NCHW -> NHWC transpose and a zero padding before the
// convolution, with no quantize in between. The dequantize moves after them
// (they run on the stored values; the padding is the zero point, 10), and
// the convolution fuses into integer code instead of reading its weights as
// weight-only.
// The accumulator starts at -z_x * sum(w) = -10 * 9 (no bias); the padded
// border is z_x, so it adds nothing, as the float zeros did.
// CHECK-LABEL: func @conv_behind_transpose_and_pad
// CHECK-DAG: arith.constant dense<-90> : tensor<1xi32>
// CHECK-DAG: %[[ZP:.*]] = arith.constant 10 : i8
// CHECK: %[[T:.*]] = linalg.transpose ins(%{{.*}} : tensor<1x1x3x3xi8>) outs(%{{.*}} : tensor<1x3x3x1xi8>) permutation = [0, 2, 3, 1]
// CHECK: tensor.pad %[[T]] low[0, 1, 1, 0] high[0, 1, 1, 0]
// CHECK: tensor.yield %[[ZP]] : i8
// CHECK-NOT: qnn.dequantize
// CHECK: arith.extui %{{.*}} : i8 to i32
// CHECK: qnn.rescale
// CHECK-NOT: f32>
func.func @conv_behind_transpose_and_pad(%xq: tensor<1x1x3x3x!quant.uniform<u8:f32, 0.1:10>>) -> tensor<1x3x3x1x!quant.uniform<i8:f32, 0.5>> {
  %x = qnn.dequantize %xq : tensor<1x1x3x3x!quant.uniform<u8:f32, 0.1:10>> -> tensor<1x1x3x3xf32>
  %te = tensor.empty() : tensor<1x3x3x1xf32>
  %t = linalg.transpose ins(%x : tensor<1x1x3x3xf32>) outs(%te : tensor<1x3x3x1xf32>) permutation = [0, 2, 3, 1]
  %zero = arith.constant 0.0 : f32
  %p = tensor.pad %t low[0, 1, 1, 0] high[0, 1, 1, 0] {
  ^bb0(%a: index, %b: index, %c: index, %d: index):
    tensor.yield %zero : f32
  } : tensor<1x3x3x1xf32> to tensor<1x5x5x1xf32>
  %wq = qnn.constant dense<1> : tensor<3x3x1x1xi8> -> tensor<3x3x1x1x!quant.uniform<i8<-127:127>:f32, 0.02>>
  %w = qnn.dequantize %wq : tensor<3x3x1x1x!quant.uniform<i8<-127:127>:f32, 0.02>> -> tensor<3x3x1x1xf32>
  %e = tensor.empty() : tensor<1x3x3x1xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<1x3x3x1xf32>) -> tensor<1x3x3x1xf32>
  %c = linalg.conv_2d_nhwc_hwcf {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
      ins(%p, %w : tensor<1x5x5x1xf32>, tensor<3x3x1x1xf32>) outs(%i : tensor<1x3x3x1xf32>) -> tensor<1x3x3x1xf32>
  %yq = qnn.quantize %c : tensor<1x3x3x1xf32> -> tensor<1x3x3x1x!quant.uniform<i8:f32, 0.5>>
  return %yq : tensor<1x3x3x1x!quant.uniform<i8:f32, 0.5>>
}

// -----

// What does not move: a padding by another value than 0.0 (max pooling pads
// with -inf), and a per-channel dequantize (a transpose would move its axis).
// CHECK-LABEL: func @not_sunk
// CHECK: %[[D:.*]] = qnn.dequantize
// CHECK: tensor.pad %[[D]]
// CHECK: %[[DA:.*]] = qnn.dequantize
// CHECK: linalg.transpose ins(%[[DA]] : tensor<2x3xf32>)
func.func @not_sunk(%xq: tensor<1x3x3x1x!quant.uniform<u8:f32, 0.1:10>>, %aq: tensor<2x3x!quant.uniform<i8:f32:1, {0.1, 0.2, 0.3}>>) -> (tensor<1x5x5x1xf32>, tensor<3x2xf32>) {
  %x = qnn.dequantize %xq : tensor<1x3x3x1x!quant.uniform<u8:f32, 0.1:10>> -> tensor<1x3x3x1xf32>
  %low = arith.constant 0xFF800000 : f32
  %p = tensor.pad %x low[0, 1, 1, 0] high[0, 1, 1, 0] {
  ^bb0(%a: index, %b: index, %c: index, %d: index):
    tensor.yield %low : f32
  } : tensor<1x3x3x1xf32> to tensor<1x5x5x1xf32>
  %a = qnn.dequantize %aq : tensor<2x3x!quant.uniform<i8:f32:1, {0.1, 0.2, 0.3}>> -> tensor<2x3xf32>
  %te = tensor.empty() : tensor<3x2xf32>
  %t = linalg.transpose ins(%a : tensor<2x3xf32>) outs(%te : tensor<3x2xf32>) permutation = [1, 0]
  return %p, %t : tensor<1x5x5x1xf32>, tensor<3x2xf32>
}

// -----

// A flatten between the dequantize and a matmul (ONNX Runtime's QDQ Gemm
// after Flatten): the collapse runs on the stored values and the matmul
// fuses.
// CHECK-LABEL: func @matmul_behind_flatten
// CHECK: tensor.collapse_shape %{{.*}} {{\[\[}}0], [1, 2]] : tensor<2x2x2xi8> into tensor<2x4xi8>
// CHECK-NOT: qnn.dequantize
// CHECK: qnn.rescale
func.func @matmul_behind_flatten(%xq: tensor<2x2x2x!quant.uniform<u8:f32, 0.5:10>>) -> tensor<2x3x!quant.uniform<i8:f32, 1.0>> {
  %x = qnn.dequantize %xq : tensor<2x2x2x!quant.uniform<u8:f32, 0.5:10>> -> tensor<2x2x2xf32>
  %f = tensor.collapse_shape %x [[0], [1, 2]] : tensor<2x2x2xf32> into tensor<2x4xf32>
  %wq = qnn.constant dense<1> : tensor<4x3xi8> -> tensor<4x3x!quant.uniform<i8<-127:127>:f32, 0.25>>
  %w = qnn.dequantize %wq : tensor<4x3x!quant.uniform<i8<-127:127>:f32, 0.25>> -> tensor<4x3xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x3xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<2x3xf32>) -> tensor<2x3xf32>
  %m = linalg.matmul ins(%f, %w : tensor<2x4xf32>, tensor<4x3xf32>) outs(%i : tensor<2x3xf32>) -> tensor<2x3xf32>
  %yq = qnn.quantize %m : tensor<2x3xf32> -> tensor<2x3x!quant.uniform<i8:f32, 1.0>>
  return %yq : tensor<2x3x!quant.uniform<i8:f32, 1.0>>
}

// -----

// A batch matmul of two statically quantized activations (attention's
// scores): (a - 128) * (b - 3) in i32, the zero points defined above the
// contraction, then one rescale by 0.5 * 0.25 / 1.0 = 0.125 -> (2^30, 33)
// to the output's zero point 5.
// CHECK-LABEL: func @activation_times_activation
// CHECK-DAG: %[[ZA:.*]] = arith.constant 128 : i32
// CHECK-DAG: %[[ZB:.*]] = arith.constant 3 : i32
// CHECK: %[[ACC:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%{{.*}}, %{{.*}} : tensor<2x4x8xi8>, tensor<2x8x5xi8>) outs(%{{.*}} : tensor<2x4x5xi32>)
// CHECK: %[[A:.*]] = arith.extui %{{.*}} : i8 to i32
// CHECK: %[[AC:.*]] = arith.subi %[[A]], %[[ZA]] : i32
// CHECK: %[[B:.*]] = arith.extui %{{.*}} : i8 to i32
// CHECK: %[[BC:.*]] = arith.subi %[[B]], %[[ZB]] : i32
// CHECK: arith.muli %[[AC]], %[[BC]] : i32
// CHECK: qnn.rescale %[[ACC]] multipliers [1073741824] shifts [33] : tensor<2x4x5xi32> -> tensor<2x4x5x!quant.uniform<u8:f32, 1.000000e+00:5>>
// CHECK-NOT: linalg.batch_matmul
func.func @activation_times_activation(%aq: tensor<2x4x8x!quant.uniform<u8:f32, 0.5:128>>, %bq: tensor<2x8x5x!quant.uniform<u8:f32, 0.25:3>>) -> tensor<2x4x5x!quant.uniform<u8:f32, 1.0:5>> {
  %a = qnn.dequantize %aq : tensor<2x4x8x!quant.uniform<u8:f32, 0.5:128>> -> tensor<2x4x8xf32>
  %b = qnn.dequantize %bq : tensor<2x8x5x!quant.uniform<u8:f32, 0.25:3>> -> tensor<2x8x5xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x4x5xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<2x4x5xf32>) -> tensor<2x4x5xf32>
  %m = linalg.batch_matmul ins(%a, %b : tensor<2x4x8xf32>, tensor<2x8x5xf32>) outs(%i : tensor<2x4x5xf32>) -> tensor<2x4x5xf32>
  %yq = qnn.quantize %m : tensor<2x4x5xf32> -> tensor<2x4x5x!quant.uniform<u8:f32, 1.0:5>>
  return %yq : tensor<2x4x5x!quant.uniform<u8:f32, 1.0:5>>
}

// -----

// Signed activations without zero points: the products as they are; the
// rescale by 0.1 * 0.2 / 0.05 = 0.4 -> (round(0.8 * 2^31), 32).
// CHECK-LABEL: func @signed_activations
// CHECK: %[[ACC:.*]] = linalg.generic
// CHECK: %[[A:.*]] = arith.extsi %{{.*}} : i8 to i32
// CHECK: %[[B:.*]] = arith.extsi %{{.*}} : i8 to i32
// CHECK: arith.muli %[[A]], %[[B]] : i32
// CHECK: qnn.rescale %[[ACC]] multipliers [1717986918] shifts [32]
func.func @signed_activations(%aq: tensor<3x6x!quant.uniform<i8:f32, 0.1>>, %bq: tensor<6x2x!quant.uniform<i8:f32, 0.2>>) -> tensor<3x2x!quant.uniform<i8:f32, 0.05>> {
  %a = qnn.dequantize %aq : tensor<3x6x!quant.uniform<i8:f32, 0.1>> -> tensor<3x6xf32>
  %b = qnn.dequantize %bq : tensor<6x2x!quant.uniform<i8:f32, 0.2>> -> tensor<6x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x2xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<3x2xf32>) -> tensor<3x2xf32>
  %m = linalg.matmul ins(%a, %b : tensor<3x6xf32>, tensor<6x2xf32>) outs(%i : tensor<3x2xf32>) -> tensor<3x2xf32>
  %yq = qnn.quantize %m : tensor<3x2xf32> -> tensor<3x2x!quant.uniform<i8:f32, 0.05>>
  return %yq : tensor<3x2x!quant.uniform<i8:f32, 0.05>>
}

// -----

// 16-bit activations over 4 steps could overflow the i32 accumulator
// (4 * 32768 * 32768 = 2^32): the matmul stays float.
// CHECK-LABEL: func @activations_overflowing_i32
// CHECK: linalg.matmul
// CHECK: qnn.quantize
// CHECK-NOT: qnn.rescale
func.func @activations_overflowing_i32(%aq: tensor<3x4x!quant.uniform<i16:f32, 0.1>>, %bq: tensor<4x2x!quant.uniform<i16:f32, 0.2>>) -> tensor<3x2x!quant.uniform<i16:f32, 0.05>> {
  %a = qnn.dequantize %aq : tensor<3x4x!quant.uniform<i16:f32, 0.1>> -> tensor<3x4xf32>
  %b = qnn.dequantize %bq : tensor<4x2x!quant.uniform<i16:f32, 0.2>> -> tensor<4x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x2xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<3x2xf32>) -> tensor<3x2xf32>
  %m = linalg.matmul ins(%a, %b : tensor<3x4xf32>, tensor<4x2xf32>) outs(%i : tensor<3x2xf32>) -> tensor<3x2xf32>
  %yq = qnn.quantize %m : tensor<3x2xf32> -> tensor<3x2x!quant.uniform<i16:f32, 0.05>>
  return %yq : tensor<3x2x!quant.uniform<i16:f32, 0.05>>
}
