// A concat of two inputs with different scales in ONNX Runtime's QDQ form
// (each input dequantized with its own scale, the concat quantized with a
// third): qnn-fuse-quantized-ops requantizes each input to the output's type
// and concatenates stored values. The fused program must equal the QDQ
// program simulated in float bit for bit. (Before, the pattern created ops
// for the first input and then failed on the second, the rewrite never
// settled, and the pass failed with nothing on stderr.)
//
// RUN: quant-opt %s --qnn-reference-cpu-pipeline \
// RUN: | mlir-runner -e main -entry-point-result=void -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | grep -v Unranked > %t.simulated
// RUN: quant-opt %s --qnn-fuse-quantized-ops --canonicalize | FileCheck %s --check-prefix=FUSED
// RUN: quant-opt %s --qnn-fuse-quantized-ops --canonicalize --qnn-reference-cpu-pipeline \
// RUN: | mlir-runner -e main -entry-point-result=void -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | grep -v Unranked > %t.fused
// RUN: diff %t.simulated %t.fused
// RUN: FileCheck %s --check-prefix=VALUES < %t.fused

// FUSED-LABEL: func @cat
// FUSED-DAG: qnn.requantize %arg0 : tensor<1x4x!quant.uniform<i8:f32, 5.000000e-02>> -> tensor<1x4x!quant.uniform<i8:f32, 1.000000e-01>>
// FUSED-DAG: qnn.requantize %arg1 : tensor<1x4x!quant.uniform<i8:f32, 4.000000e-02>> -> tensor<1x4x!quant.uniform<i8:f32, 1.000000e-01>>
// FUSED: tensor.concat dim(0) %{{.*}}, %{{.*}} : (tensor<1x4xi8>, tensor<1x4xi8>) -> tensor<2x4xi8>
// FUSED-NOT: qnn.dequantize
// FUSED-LABEL: func @main

// By hand, output scale 0.1, half to even: a = 0.05 * [1, 3, -5, 127] =
// [0.05, 0.15, -0.25, 6.35] -> [0.5, 1.5, -2.5, 63.5] -> [0, 2, -2, 64];
// b = 0.04 * [10, -128, 3, 25] = [0.4, -5.12, 0.12, 1.0] -> [4, -51.2, 1.2, 10]
// -> [4, -51, 1, 10]; printed times 0.1.
// VALUES: [0,   0.2,   -0.2,   6.4],
// VALUES: [0.4,   -5.1,   0.1,   1]

func.func @cat(%a: tensor<1x4x!quant.uniform<i8:f32, 0.05>>, %b: tensor<1x4x!quant.uniform<i8:f32, 0.04>>) -> tensor<2x4x!quant.uniform<i8:f32, 0.1>> {
  %da = qnn.dequantize %a : tensor<1x4x!quant.uniform<i8:f32, 0.05>> -> tensor<1x4xf32>
  %db = qnn.dequantize %b : tensor<1x4x!quant.uniform<i8:f32, 0.04>> -> tensor<1x4xf32>
  %c = tensor.concat dim(0) %da, %db : (tensor<1x4xf32>, tensor<1x4xf32>) -> tensor<2x4xf32>
  %q = qnn.quantize %c : tensor<2x4xf32> -> tensor<2x4x!quant.uniform<i8:f32, 0.1>>
  return %q : tensor<2x4x!quant.uniform<i8:f32, 0.1>>
}
func.func @main() {
  %a = qnn.constant dense<[[1, 3, -5, 127]]> : tensor<1x4xi8> -> tensor<1x4x!quant.uniform<i8:f32, 0.05>>
  %b = qnn.constant dense<[[10, -128, 3, 25]]> : tensor<1x4xi8> -> tensor<1x4x!quant.uniform<i8:f32, 0.04>>
  %q = call @cat(%a, %b) : (tensor<1x4x!quant.uniform<i8:f32, 0.05>>, tensor<1x4x!quant.uniform<i8:f32, 0.04>>) -> tensor<2x4x!quant.uniform<i8:f32, 0.1>>
  %y = qnn.dequantize %q : tensor<2x4x!quant.uniform<i8:f32, 0.1>> -> tensor<2x4xf32>
  %u = tensor.cast %y : tensor<2x4xf32> to tensor<*xf32>
  call @printMemrefF32(%u) : (tensor<*xf32>) -> ()
  return
}
func.func private @printMemrefF32(tensor<*xf32>) attributes { llvm.emit_c_interface }
