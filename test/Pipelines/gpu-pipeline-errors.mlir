// RUN: not quant-opt %s --split-input-file --qnn-gpu-pipeline 2>&1 | FileCheck %s

// What the GPU pipeline cannot do is an error with a location, never a
// crash: the host cannot read device buffers, and each function copies its
// own arguments from the host.

// CHECK: gpu-pipeline-errors.mlir:[[# @LINE + 3]]:8: error: qnn-gpu-pipeline: this op would touch device memory on the host; it was not turned into a kernel
func.func @host_scalar(%t: tensor<4xi32>) -> i32 {
  %c0 = arith.constant 0 : index
  %v = tensor.extract %t[%c0] : tensor<4xi32>
  return %v : i32
}

// -----

func.func private @callee(%t: tensor<4xi32>) -> tensor<4xi32> {
  return %t : tensor<4xi32>
}

// CHECK: gpu-pipeline-errors.mlir:[[# @LINE + 2]]:8: error: qnn-gpu-pipeline: calls passing buffers are not supported
func.func @caller(%t: tensor<4xi32>) -> tensor<4xi32> {
  %r = func.call @callee(%t) : (tensor<4xi32>) -> tensor<4xi32>
  return %r : tensor<4xi32>
}
