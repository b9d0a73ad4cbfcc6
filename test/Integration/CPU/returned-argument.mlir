// RUN: quant-opt %s --qnn-cpu-pipeline | FileCheck %s --check-prefix=LOWERED --implicit-check-not=bufferization.
// RUN: quant-opt %s --qnn-cpu-pipeline \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:     -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | FileCheck %s
// RUN: quant-opt %s --qnn-reference-cpu-pipeline \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:     -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | FileCheck %s

// A function that returns its argument (as a model with its input exposed
// does, quant_opt.evaluate's per-layer programs): the deallocation pipeline
// returns it as a bufferization.clone, which the pipelines lower to an
// allocation and a copy (no LLVM conversion takes the clone itself).

// LOWERED: llvm.func @input_and_double

func.func @input_and_double(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %e = tensor.empty() : tensor<4xf32>
  %r = linalg.add ins(%x, %x : tensor<4xf32>, tensor<4xf32>) outs(%e : tensor<4xf32>) -> tensor<4xf32>
  return %x, %r : tensor<4xf32>, tensor<4xf32>
}

func.func @main() {
  // CHECK: [1,  -2.5,  3,  0.25]
  // CHECK: [2,  -5,  6,  0.5]
  %x = arith.constant dense<[1.0, -2.5, 3.0, 0.25]> : tensor<4xf32>
  %same, %double = call @input_and_double(%x) : (tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>)
  %u = tensor.cast %same : tensor<4xf32> to tensor<*xf32>
  call @printMemrefF32(%u) : (tensor<*xf32>) -> ()
  %v = tensor.cast %double : tensor<4xf32> to tensor<*xf32>
  call @printMemrefF32(%v) : (tensor<*xf32>) -> ()
  return
}
func.func private @printMemrefF32(tensor<*xf32>) attributes { llvm.emit_c_interface }
