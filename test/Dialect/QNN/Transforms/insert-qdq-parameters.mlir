// qnn-insert-qdq{parameters=FILE} writes the types it chose: activations by
// id, weights by layer id, the same as in the IR (statistics: input in
// [-1, 3], fc in [-2, 2]; see insert-qdq.mlir for the arithmetic).
//
// RUN: quant-opt %s --qnn-insert-observers "--qnn-insert-qdq=statistics=%S/Inputs/mlp-stats.json parameters=%t.json" -o /dev/null
// RUN: FileCheck %s < %t.json
// RUN: not quant-opt %s --qnn-insert-observers "--qnn-insert-qdq=statistics=%S/Inputs/mlp-stats.json parameters=%t.missing/dir/p.json" -o /dev/null 2>&1 | FileCheck %s --check-prefix=ERROR

// CHECK: "activations": {
// CHECK-DAG: "input": "!quant.uniform<u8:f32, 0.01568627450980{{[0-9]*}}:64>"
// CHECK-DAG: "fc": "!quant.uniform<u8:f32, 0.01568627450980{{[0-9]*}}:128>"
// CHECK: "format": "quant-opt-quantization-parameters"
// CHECK: "version": 1
// CHECK: "weights": {
// CHECK-NEXT: "fc": "!quant.uniform<i8<-127:127>:f32:1, {0.0099999{{[0-9]*}},0.0199999{{[0-9]*}}}>"
// ERROR: error: cannot write '{{.*}}p.json'

func.func @mlp(%x: tensor<1x4xf32> loc("input")) -> tensor<1x2xf32> {
  %w = arith.constant dense<[[0.6, -1.2], [0.3, 0.5], [-0.7, 2.54], [1.27, 0.1]]> : tensor<4x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x2xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<1x2xf32>) -> tensor<1x2xf32>
  %y = linalg.matmul ins(%x, %w : tensor<1x4xf32>, tensor<4x2xf32>) outs(%i : tensor<1x2xf32>) -> tensor<1x2xf32> loc("fc")
  return %y : tensor<1x2xf32>
}
