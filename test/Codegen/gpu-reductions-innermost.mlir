// RUN: quant-opt %s --qnn-gpu-reductions-innermost | FileCheck %s

// A row's lane sums (qnn-split-float-sums: rows, chunks, lanes): the lanes
// become the second parallel loop, the chunks the innermost reduction, and
// the maps follow; the body is unchanged.
// CHECK-DAG: #[[$X:.*]] = affine_map<(d0, d1, d2) -> (d0, d2, d1)>
// CHECK-DAG: #[[$OUT:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func @lane_sums
// CHECK: linalg.generic {indexing_maps = [#[[$X]], #[[$OUT]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK: arith.addf
func.func @lane_sums(%x: memref<5x3x16xf32>, %lanes: memref<5x16xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d2)>], iterator_types = ["parallel", "reduction", "parallel"]} ins(%x : memref<5x3x16xf32>) outs(%lanes : memref<5x16xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %r = arith.addf %a, %acc : f32
    linalg.yield %r : f32
  }
  return
}

// Reductions already innermost: left as they are.
// CHECK-LABEL: func @row_sums
// CHECK: iterator_types = ["parallel", "reduction"]
func.func @row_sums(%x: memref<5x49xf32>, %sums: memref<5xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>], iterator_types = ["parallel", "reduction"]} ins(%x : memref<5x49xf32>) outs(%sums : memref<5xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %r = arith.addf %a, %acc : f32
    linalg.yield %r : f32
  }
  return
}
