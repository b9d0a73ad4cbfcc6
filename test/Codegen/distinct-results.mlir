// qnn-distinct-results: a tensor returned twice is returned once as it is
// and once through a copy, so that each result gets its own buffer.
// RUN: quant-opt %s --qnn-distinct-results -split-input-file | FileCheck %s
// In qnn-cpu-pipeline with results as out parameters, the function then
// writes the first result straight into its out parameter (the allocation
// is hoisted to the caller) and copies it into the second's.
// RUN: quant-opt %s --qnn-cpu-pipeline='results-to-out-params=true lower-to-llvm=false' -split-input-file | FileCheck %s --check-prefix=PIPELINE

// CHECK-LABEL: func.func @twice
// CHECK-SAME: (%[[A:.*]]: tensor<4xf32>)
// CHECK: %[[R:.*]] = linalg.generic
// CHECK: %[[C:.*]] = bufferization.alloc_tensor() copy(%[[R]]) : tensor<4xf32>
// CHECK: return %[[R]], %[[C]], %[[A]] : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
// PIPELINE-LABEL: func.func @twice
// PIPELINE-SAME: (%[[A:.*]]: memref<4xf32>, %[[OUT0:.*]]: memref<4xf32>, %[[OUT1:.*]]: memref<4xf32>, %[[OUT2:.*]]: memref<4xf32>)
// PIPELINE-NOT: memref.alloc
// PIPELINE: vector.transfer_write %{{.*}}, %[[OUT0]]
// PIPELINE: memref.copy %[[OUT0]], %[[OUT1]]
// PIPELINE: memref.copy %[[A]], %[[OUT2]]
func.func @twice(%a: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) {
  %e = tensor.empty() : tensor<4xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%a : tensor<4xf32>) outs(%e : tensor<4xf32>) {
  ^bb0(%x: f32, %o: f32):
    %y = arith.addf %x, %x : f32
    linalg.yield %y : f32
  } -> tensor<4xf32>
  return %r, %r, %a : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
}

// -----

// Distinct results stay as they are.
// CHECK-LABEL: func.func @distinct
// CHECK-NOT: bufferization.alloc_tensor
// CHECK: return %arg0, %arg1
func.func @distinct(%a: tensor<4xf32>, %b: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  return %a, %b : tensor<4xf32>, tensor<4xf32>
}
