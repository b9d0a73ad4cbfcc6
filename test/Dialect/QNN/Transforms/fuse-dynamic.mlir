// RUN: quant-opt %s --qnn-fuse-quantized-ops --split-input-file | FileCheck %s
// RUN: quant-opt %s --qnn-fuse-quantized-ops --split-input-file 2>&1 >/dev/null | FileCheck %s --check-prefix=REMARK
// RUN: quant-opt %s --qnn-insert-observers "--qnn-insert-qdq=activation-dynamic=per_row activation-signed=true activation-symmetric=true" --canonicalize --qnn-fuse-quantized-ops --split-input-file 2>&1 | FileCheck %s --check-prefix=CONV

// A contraction of dynamically quantized activations and constant weights
// becomes an integer contraction of the stored values, from zero, and a
// float epilogue y = c + f32(acc - z_x * sum(w')) * (s_x * f32(s_w))
// (docs/Semantics.md, "Dynamically quantized contractions").

!w = !quant.uniform<i8<-127:127>:f32:1, {0.5, 0.25, 0.125}>

// CHECK-LABEL: func @per_row
// CHECK-SAME: (%[[X:.*]]: tensor<2x4xf32>, %[[C:.*]]: tensor<2x3xf32>)
// Per output channel: sum(w') of each column, and s_w in f32.
// CHECK-DAG: %[[SCALES:.*]] = arith.constant dense<[5.000000e-01, 2.500000e-01, 1.250000e-01]> : tensor<3xf32>
// CHECK-DAG: %[[SUMS:.*]] = arith.constant dense<[10, -2, 0]> : tensor<3xi32>
// CHECK-DAG: %[[W:.*]] = arith.constant dense<{{.*}}> : tensor<4x3xi8>
// CHECK: %[[Q:.*]], %[[S:.*]], %[[Z:.*]] = qnn.dynamic_quantize %[[X]] unsigned
// CHECK: %[[ZEROS:.*]] = linalg.fill ins(%{{.*}} : i32) outs(%{{.*}} : tensor<2x3xi32>)
// CHECK: %[[ACC:.*]] = linalg.generic
// CHECK-SAME: ins(%[[Q]], %[[W]] : tensor<2x4xi8>, tensor<4x3xi8>) outs(%[[ZEROS]] : tensor<2x3xi32>)
// CHECK: arith.extui %{{.*}} : i8 to i32
// CHECK: arith.extsi %{{.*}} : i8 to i32
// CHECK: %[[CS:.*]] = tensor.collapse_shape %[[S]] {{\[\[}}0, 1]] : tensor<2x1xf32> into tensor<2xf32>
// CHECK: %[[CZ:.*]] = tensor.collapse_shape %[[Z]] {{\[\[}}0, 1]] : tensor<2x1xi32> into tensor<2xi32>
// CHECK: linalg.generic
// CHECK-SAME: ins(%[[ACC]], %[[CS]], %[[SCALES]], %[[C]], %[[CZ]], %[[SUMS]] : tensor<2x3xi32>, tensor<2xf32>, tensor<3xf32>, tensor<2x3xf32>, tensor<2xi32>, tensor<3xi32>)
// CHECK: ^bb0(%[[A:.*]]: i32, %[[SX:.*]]: f32, %[[SW:.*]]: f32, %[[INIT:.*]]: f32, %[[ZX:.*]]: i32, %[[SUM:.*]]: i32, %{{.*}}: f32):
// CHECK: %[[CORR:.*]] = arith.muli %[[ZX]], %[[SUM]] : i32
// CHECK: %[[EXACT:.*]] = arith.subi %[[A]], %[[CORR]] : i32
// CHECK: %[[M:.*]] = arith.mulf %[[SX]], %[[SW]] : f32
// CHECK: %[[F:.*]] = arith.sitofp %[[EXACT]] : i32 to f32
// CHECK: %[[P:.*]] = arith.mulf %[[F]], %[[M]] : f32
// CHECK: %[[Y:.*]] = arith.addf %[[INIT]], %[[P]] : f32
// CHECK: linalg.yield %[[Y]] : f32
// CHECK-NOT: linalg.matmul
func.func @per_row(%x: tensor<2x4xf32>, %c: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %q, %s, %z = qnn.dynamic_quantize %x unsigned : tensor<2x4xf32> -> tensor<2x4xi8>, tensor<2x1xf32>, tensor<2x1xi32>
  %xd = qnn.dynamic_dequantize %q, %s, %z unsigned : tensor<2x4xi8>, tensor<2x1xf32>, tensor<2x1xi32> -> tensor<2x4xf32>
  %w = qnn.constant dense<[[1, 2, 3], [4, -5, 6], [-7, 8, -9], [12, -7, 0]]> : tensor<4x3xi8> -> tensor<4x3x!w>
  %wd = qnn.dequantize %w : tensor<4x3x!w> -> tensor<4x3xf32>
  %y = linalg.matmul ins(%xd, %wd : tensor<2x4xf32>, tensor<4x3xf32>) outs(%c : tensor<2x3xf32>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// -----

// Per-row parameters of a convolution's input vary along its reduced axes
// (the window): qnn-insert-qdq falls back to per tensor with a remark, and
// fusion reads the one scale everywhere.
// CONV: remark: per-row dynamic quantization needs a contraction that reduces one axis of its input; 'linalg.conv_2d_nhwc_hwcf' is quantized per tensor
// CONV-LABEL: func @conv
// CONV: qnn.dynamic_quantize %{{.*}} symmetric : tensor<1x4x4x2xf32> -> tensor<1x4x4x2xi8>, tensor<1x1x1x1xf32>, tensor<1x1x1x1xi32>
// CONV: tensor.collapse_shape %{{.*}} [] : tensor<1x1x1x1xf32> into tensor<f32>
// CONV-NOT: linalg.conv_2d
func.func @conv(%x: tensor<1x4x4x2xf32>) -> tensor<1x3x3x2xf32> {
  %w = arith.constant dense<[[[[0.5, -0.5], [0.25, 1.0]], [[0.1, 0.2], [0.3, 0.4]]], [[[-0.1, 0.6], [0.7, -0.8]], [[0.9, 1.0], [-1.0, 0.05]]]]> : tensor<2x2x2x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x3x3x2xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<1x3x3x2xf32>) -> tensor<1x3x3x2xf32>
  %y = linalg.conv_2d_nhwc_hwcf {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%x, %w : tensor<1x4x4x2xf32>, tensor<2x2x2x2xf32>) outs(%f : tensor<1x3x3x2xf32>) -> tensor<1x3x3x2xf32>
  return %y : tensor<1x3x3x2xf32>
}

// -----

// Two dynamic activations (attention): the zero points are read at run time
// inside the sum, each scale along the output axis it keeps.
// CHECK-LABEL: func @attention
// CHECK-SAME: (%[[A:.*]]: tensor<2x3x4xf32>, %[[B:.*]]: tensor<2x4x5xf32>)
// CHECK: %[[QA:.*]], %[[SA:.*]], %[[ZA:.*]] = qnn.dynamic_quantize %[[A]] symmetric
// CHECK: %[[QB:.*]], %[[SB:.*]], %[[ZB:.*]] = qnn.dynamic_quantize %[[B]] symmetric
// CHECK-DAG: %[[CSA:.*]] = tensor.collapse_shape %[[SA]] {{\[\[}}0], [1, 2]] : tensor<2x3x1xf32> into tensor<2x3xf32>
// CHECK-DAG: %[[CZA:.*]] = tensor.collapse_shape %[[ZA]] {{\[\[}}0], [1, 2]] : tensor<2x3x1xi32> into tensor<2x3xi32>
// CHECK-DAG: %[[CSB:.*]] = tensor.collapse_shape %[[SB]] {{\[\[}}0], [1, 2]] : tensor<2x1x5xf32> into tensor<2x5xf32>
// CHECK-DAG: %[[CZB:.*]] = tensor.collapse_shape %[[ZB]] {{\[\[}}0], [1, 2]] : tensor<2x1x5xi32> into tensor<2x5xi32>
// CHECK: %[[ACC:.*]] = linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "parallel", "parallel", "reduction"]
// CHECK-SAME: ins(%[[QA]], %[[QB]], %[[CZA]], %[[CZB]] : tensor<2x3x4xi8>, tensor<2x4x5xi8>, tensor<2x3xi32>, tensor<2x5xi32>)
// CHECK: ^bb0(%[[VA:.*]]: i8, %[[VB:.*]]: i8, %[[VZA:.*]]: i32, %[[VZB:.*]]: i32, %[[OUT:.*]]: i32):
// CHECK: %[[EA:.*]] = arith.extsi %[[VA]] : i8 to i32
// CHECK: %[[DA:.*]] = arith.subi %[[EA]], %[[VZA]] : i32
// CHECK: %[[EB:.*]] = arith.extsi %[[VB]] : i8 to i32
// CHECK: %[[DB:.*]] = arith.subi %[[EB]], %[[VZB]] : i32
// CHECK: %[[P:.*]] = arith.muli %[[DA]], %[[DB]] : i32
// CHECK: arith.addi %[[OUT]], %[[P]] : i32
// CHECK: linalg.generic
// CHECK-SAME: ins(%[[ACC]], %[[CSA]], %[[CSB]], %{{.*}} : tensor<2x3x5xi32>, tensor<2x3xf32>, tensor<2x5xf32>, tensor<2x3x5xf32>)
// CHECK: ^bb0(%[[X:.*]]: i32, %[[S1:.*]]: f32, %[[S2:.*]]: f32, %[[C:.*]]: f32, %{{.*}}: f32):
// CHECK: %[[M:.*]] = arith.mulf %[[S1]], %[[S2]] : f32
// CHECK: %[[F:.*]] = arith.sitofp %[[X]] : i32 to f32
// CHECK: %[[PR:.*]] = arith.mulf %[[F]], %[[M]] : f32
// CHECK: arith.addf %[[C]], %[[PR]] : f32
// CHECK-NOT: linalg.batch_matmul
func.func @attention(%a: tensor<2x3x4xf32>, %b: tensor<2x4x5xf32>) -> tensor<2x3x5xf32> {
  %qa, %sa, %za = qnn.dynamic_quantize %a symmetric : tensor<2x3x4xf32> -> tensor<2x3x4xi8>, tensor<2x3x1xf32>, tensor<2x3x1xi32>
  %da = qnn.dynamic_dequantize %qa, %sa, %za : tensor<2x3x4xi8>, tensor<2x3x1xf32>, tensor<2x3x1xi32> -> tensor<2x3x4xf32>
  %qb, %sb, %zb = qnn.dynamic_quantize %b symmetric : tensor<2x4x5xf32> -> tensor<2x4x5xi8>, tensor<2x1x5xf32>, tensor<2x1x5xi32>
  %db = qnn.dynamic_dequantize %qb, %sb, %zb : tensor<2x4x5xi8>, tensor<2x1x5xf32>, tensor<2x1x5xi32> -> tensor<2x4x5xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x3x5xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<2x3x5xf32>) -> tensor<2x3x5xf32>
  %y = linalg.batch_matmul ins(%da, %db : tensor<2x3x4xf32>, tensor<2x4x5xf32>) outs(%init : tensor<2x3x5xf32>) -> tensor<2x3x5xf32>
  return %y : tensor<2x3x5xf32>
}

// -----

// Per-group weights with a dynamically quantized activation have no fused
// form: the matmul stays float, with a remark (it used to be silent).
// REMARK: fuse-dynamic.mlir:{{[0-9]+}}:8: remark: not fused: a dynamically quantized activation with per-group weights stays a float contraction of the dequantized values (per-channel or per-tensor weights fuse)
// CHECK-LABEL: func @per_group_weights
// CHECK: linalg.matmul
func.func @per_group_weights(%x: tensor<2x4xf32>, %c: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %q, %s, %z = qnn.dynamic_quantize %x unsigned : tensor<2x4xf32> -> tensor<2x4xi8>, tensor<2x1xf32>, tensor<2x1xi32>
  %xd = qnn.dynamic_dequantize %q, %s, %z unsigned : tensor<2x4xi8>, tensor<2x1xf32>, tensor<2x1xi32> -> tensor<2x4xf32>
  %w = qnn.constant dense<[[1, 2, 3], [4, -5, 6], [-7, 8, -9], [12, -7, 0]]> : tensor<4x3xi8> -> tensor<4x3x!quant.uniform<i8:f32:{0:2, 1:1}, {{0.5, 0.25, 0.125}, {0.5, 0.5, 0.5}}>>
  %wd = qnn.dequantize %w : tensor<4x3x!quant.uniform<i8:f32:{0:2, 1:1}, {{0.5, 0.25, 0.125}, {0.5, 0.5, 0.5}}>> -> tensor<4x3xf32>
  %y = linalg.matmul ins(%xd, %wd : tensor<2x4xf32>, tensor<4x3xf32>) outs(%c : tensor<2x3xf32>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}
