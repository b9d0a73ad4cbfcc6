// Propagation through ops that only move or select values: tensor.pad,
// linalg.pooling_nhwc_max, linalg.transpose, tensor.collapse_shape, and a
// tensor.concat of two inputs with different scales (an explicit requantize
// brings the first to the output type). After fusion these run on the
// stored u8 values, and the result must equal the float QDQ program's bit
// for bit, since quantize(op(dequantize(q))) = op(q) for such ops.
//
// RUN: quant-opt %s --qnn-insert-observers --qnn-insert-qdq=statistics=%S/Inputs/movement-stats.json > %t.qdq.mlir
// RUN: quant-opt %t.qdq.mlir --qnn-reference-cpu-pipeline \
// RUN: | mlir-runner -e main -entry-point-result=void -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | grep -v Unranked > %t.simulated
// RUN: quant-opt %t.qdq.mlir --qnn-fuse-quantized-ops --canonicalize | FileCheck %s --check-prefix=FUSED
// RUN: quant-opt %t.qdq.mlir --qnn-fuse-quantized-ops --canonicalize --qnn-reference-cpu-pipeline \
// RUN: | mlir-runner -e main -entry-point-result=void -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | grep -v Unranked > %t.fused
// RUN: diff %t.simulated %t.fused
// RUN: FileCheck %s --check-prefix=VALUES < %t.fused

// FUSED-LABEL: func @m
// FUSED: tensor.pad %{{.*}} low[0, 1, 1, 0] high[0, 1, 1, 0]
// The padding value is quantize(0.0) = z = 128, 0x80 as i8.
// FUSED: tensor.yield %{{.*}} : i8
// FUSED: linalg.pooling_nhwc_max_unsigned {{.*}} ins(%{{.*}}, %{{.*}} : tensor<1x6x6x2xi8>, tensor<3x3xf32>)
// FUSED: linalg.transpose ins(%{{.*}} : tensor<1x2x2x2xi8>)
// FUSED: tensor.collapse_shape %{{.*}} : tensor<1x2x2x2xi8> into tensor<1x8xi8>
// FUSED: qnn.requantize %{{.*}} : tensor<1x8x!quant.uniform<u8:f32, 0.0078431372549019607:128>> -> tensor<1x8x!quant.uniform<u8:f32, 0.031372549019607843:128>>
// FUSED: tensor.concat dim(1) %{{.*}}, %{{.*}} : (tensor<1x8xi8>, tensor<1x8xi8>) -> tensor<1x16xi8>
// FUSED-NOT: linalg.pooling_nhwc_max {{.*}}f32>) outs
// FUSED-LABEL: func @main

// By hand: the first window holds x[0..1][0..1] of channel 0 (0.1, 0.7, 0.6,
// 0.8) and the padding: max 0.8, stored 0.8 * 127.5 + 128 = 230 at s = 2/255;
// requantized to s = 8/255: 0.8 / (8/255) = 25.5 -> 26 -> 26 * 8/255 =
// 0.815686. The second input only requantizes: 1.0 -> 31.875 -> 32 ->
// 1.00392; -2.0 -> -64 -> -2.00784.
// VALUES: [0.815686,   0.909804, {{.*}}   1.00392,   -2.00784,

func.func @m(%x: tensor<1x4x4x2xf32> loc("input"), %z: tensor<1x8xf32> loc("other")) -> tensor<1x16xf32> {
  %c0 = arith.constant 0.0 : f32
  %ninf = arith.constant -3.4e38 : f32
  %p = tensor.pad %x low[0, 1, 1, 0] high[0, 1, 1, 0] {
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %c0 : f32
  } : tensor<1x4x4x2xf32> to tensor<1x6x6x2xf32> loc("pad")
  %win = tensor.empty() : tensor<3x3xf32>
  %e = tensor.empty() : tensor<1x2x2x2xf32>
  %i = linalg.fill ins(%ninf : f32) outs(%e : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %mp = linalg.pooling_nhwc_max {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>}
      ins(%p, %win : tensor<1x6x6x2xf32>, tensor<3x3xf32>) outs(%i : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32> loc("pool")
  %et = tensor.empty() : tensor<1x2x2x2xf32>
  %t = linalg.transpose ins(%mp : tensor<1x2x2x2xf32>) outs(%et : tensor<1x2x2x2xf32>) permutation = [0, 2, 1, 3] loc("transpose")
  %f = tensor.collapse_shape %t [[0], [1, 2, 3]] : tensor<1x2x2x2xf32> into tensor<1x8xf32> loc("flatten")
  %cat = tensor.concat dim(1) %f, %z : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x16xf32> loc("concat")
  return %cat : tensor<1x16xf32>
}
func.func @main() {
  %x = arith.constant dense<[[[[0.1, -0.5], [0.7, 0.2], [-0.9, 0.3], [0.4, 0.0]], [[0.6, -0.2], [0.8, 0.9], [-0.1, 0.5], [0.3, -0.7]], [[-0.4, 0.1], [0.2, 0.6], [0.9, -0.8], [0.5, 0.4]], [[0.0, 0.3], [-0.6, 0.7], [0.2, 0.1], [-0.3, 0.9]]]]> : tensor<1x4x4x2xf32>
  %z = arith.constant dense<[[1.0, -2.0, 3.0, -4.0, 0.5, 1.5, -2.5, 3.5]]> : tensor<1x8xf32>
  %y = call @m(%x, %z) : (tensor<1x4x4x2xf32>, tensor<1x8xf32>) -> tensor<1x16xf32> loc("result")
  %u = tensor.cast %y : tensor<1x16xf32> to tensor<*xf32>
  call @printMemrefF32(%u) : (tensor<*xf32>) -> ()
  return
}
func.func private @printMemrefF32(tensor<*xf32>) attributes { llvm.emit_c_interface }
