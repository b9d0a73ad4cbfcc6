// Max pooling in NCHW (linalg.pooling_nchw_max, as torch-mlir imports it)
// runs on stored values like the NHWC one: with unsigned storage as a
// linalg.generic with the pooling's maps and arith.maxui (upstream has no
// unsigned NCHW max pooling), with signed storage as linalg.pooling_nchw_max
// on i8. The pooling's init is quantized too: quantize is monotonic, so
// quantize(max(c, x)) = max(quantize(c), quantize(x)); a pooling from 0.0
// (a ReLU folded into it) keeps its 0.0, one from -3.4e38 starts at qmin.
// The fused program must equal the float QDQ program bit for bit.
//
// RUN: quant-opt %s --qnn-insert-observers --qnn-insert-qdq=statistics=%S/Inputs/nchw-pool-stats.json > %t.u8.mlir
// RUN: quant-opt %s --qnn-insert-observers '--qnn-insert-qdq=statistics=%S/Inputs/nchw-pool-stats.json activation-signed=true' > %t.i8.mlir
// RUN: quant-opt %t.u8.mlir --qnn-fuse-quantized-ops --canonicalize | FileCheck %s --check-prefix=U8
// RUN: quant-opt %t.i8.mlir --qnn-fuse-quantized-ops --canonicalize | FileCheck %s --check-prefix=I8
// RUN: quant-opt %t.u8.mlir --qnn-reference-cpu-pipeline \
// RUN: | mlir-runner -e main -entry-point-result=void -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | grep -v Unranked > %t.u8.simulated
// RUN: quant-opt %t.u8.mlir --qnn-fuse-quantized-ops --qnn-cpu-pipeline \
// RUN: | mlir-runner -e main -entry-point-result=void -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | grep -v Unranked > %t.u8.fused
// RUN: diff %t.u8.simulated %t.u8.fused
// RUN: FileCheck %s --check-prefix=VALUES < %t.u8.fused
// RUN: quant-opt %t.i8.mlir --qnn-reference-cpu-pipeline \
// RUN: | mlir-runner -e main -entry-point-result=void -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | grep -v Unranked > %t.i8.simulated
// RUN: quant-opt %t.i8.mlir --qnn-fuse-quantized-ops --qnn-cpu-pipeline \
// RUN: | mlir-runner -e main -entry-point-result=void -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | grep -v Unranked > %t.i8.fused
// RUN: diff %t.i8.simulated %t.i8.fused
// RUN: FileCheck %s --check-prefix=VALUES < %t.i8.fused

// u8 at s = 2/255, z = 128: -3.4e38 saturates to 0, 0.0 is z = 128
// (-128 as i8).
// U8-LABEL: func @m
// U8-DAG: %[[LOW:.*]] = arith.constant 0 : i8
// U8-DAG: %[[ZERO:.*]] = arith.constant -128 : i8
// U8: linalg.fill ins(%[[LOW]] : i8)
// U8: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<1x2x4x4xi8>, tensor<2x2xf32>) outs(%{{.*}} : tensor<1x2x2x2xi8>)
// U8: arith.maxui
// U8: linalg.fill ins(%[[ZERO]] : i8)
// U8: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<1x2x4x4xi8>, tensor<2x2xf32>) outs(%{{.*}} : tensor<1x2x2x2xi8>)
// U8: arith.maxui
// U8-NOT: linalg.pooling_nchw_max
// U8-LABEL: func @main

// i8 at s = 2/255, z = 0 (symmetric): qmin -127 or -128, and 0.0 is 0.
// I8-LABEL: func @m
// I8: linalg.pooling_nchw_max {{.*}} ins(%{{.*}}, %{{.*}} : tensor<1x2x4x4xi8>, tensor<2x2xf32>) outs(%{{.*}} : tensor<1x2x2x2xi8>)
// I8: linalg.pooling_nchw_max {{.*}} ins(%{{.*}}, %{{.*}} : tensor<1x2x4x4xi8>, tensor<2x2xf32>) outs(%{{.*}} : tensor<1x2x2x2xi8>)
// I8-NOT: f32>) outs
// I8-LABEL: func @main

// By hand, channel 0's four windows: max(0.1, 0.7, 0.6, 0.8) = 0.8,
// max(-0.9, 0.3, -0.1, 0.5) = 0.5, max(-0.4, -0.2, -0.6, -0.7) = -0.2,
// max(0.9, 0.5, 0.2, 0.1) = 0.9; at s = 2/255 (u8 or i8 alike) 0.8 is
// 102 steps = 0.8, 0.5 is 63.75 -> 64 steps = 0.501961, -0.2 is 25 steps
// = -0.196078 (-25.5 in reals, but f32's -0.2 / s is just above it), 0.9 is
// 114.75 -> 115 steps = 0.901961. The second pooling starts from 0.0: its
// third window gives 0, not -0.196078.
// VALUES:      [0.8, 0.501961],
// VALUES-NEXT: [-0.196078, 0.901961]],
// VALUES:      [0.8, 0.501961],
// VALUES-NEXT: [0, 0.901961]],

func.func @m(%x: tensor<1x2x4x4xf32> loc("input")) -> (tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>) {
  %zero = arith.constant 0.0 : f32
  %lowest = arith.constant -3.4e38 : f32
  %win = tensor.empty() : tensor<2x2xf32>
  %e = tensor.empty() : tensor<1x2x2x2xf32>
  %from_lowest = linalg.fill ins(%lowest : f32) outs(%e : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %pool = linalg.pooling_nchw_max {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>}
      ins(%x, %win : tensor<1x2x4x4xf32>, tensor<2x2xf32>) outs(%from_lowest : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32> loc("pool")
  %from_zero = linalg.fill ins(%zero : f32) outs(%e : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %relu_pool = linalg.pooling_nchw_max {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>}
      ins(%x, %win : tensor<1x2x4x4xf32>, tensor<2x2xf32>) outs(%from_zero : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32> loc("relu_pool")
  return %pool, %relu_pool : tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>
}
func.func @main() {
  %x = arith.constant dense<[[[[0.1, 0.7, -0.9, 0.3], [0.6, 0.8, -0.1, 0.5], [-0.4, -0.2, 0.9, 0.5], [-0.6, -0.7, 0.2, 0.1]],
                              [[-0.5, 0.2, 0.3, 0.0], [-0.2, 0.9, 0.5, -0.7], [0.1, 0.6, -0.8, 0.4], [0.3, 0.7, 0.1, 0.9]]]]> : tensor<1x2x4x4xf32>
  %y:2 = call @m(%x) : (tensor<1x2x4x4xf32>) -> (tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>) loc("result")
  %u = tensor.cast %y#0 : tensor<1x2x2x2xf32> to tensor<*xf32>
  call @printMemrefF32(%u) : (tensor<*xf32>) -> ()
  %v = tensor.cast %y#1 : tensor<1x2x2x2xf32> to tensor<*xf32>
  call @printMemrefF32(%v) : (tensor<*xf32>) -> ()
  return
}
func.func private @printMemrefF32(tensor<*xf32>) attributes { llvm.emit_c_interface }
