// RUN: quant-opt %s --qnn-split-float-sums --split-input-file | FileCheck %s
// RUN: not quant-opt %s --qnn-split-float-sums=lanes=12 2>&1 | FileCheck %s --check-prefix=BAD-LANES --implicit-check-not='see current operation'
// BAD-LANES: error: qnn-split-float-sums: lanes must be a power of two of at least 2, not 12

// Softmax's denominator over rows of 49: lanes sum 3 chunks of 16 (from
// -0.0, the body applied to each element), the 49th element is added to
// lane 0 by the body again, then the op's init plus the 16 lanes in order.
// CHECK-DAG: #[[$X:.*]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG: #[[$ROW:.*]] = affine_map<(d0, d1, d2) -> (d0)>
// CHECK-DAG: #[[$LANE:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG: #[[$ID:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[$ROW2:.*]] = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func @softmax_sum
// CHECK-SAME: (%[[X:.*]]: tensor<5x49xf32>, %[[M:.*]]: tensor<5xf32>)
// CHECK-DAG: %[[NEGZERO:.*]] = arith.constant -0.000000e+00 : f32
// CHECK: %[[INIT:.*]] = linalg.fill
// CHECK: %[[MAIN:.*]] = tensor.extract_slice %[[X]][0, 0] [5, 48] [1, 1]
// CHECK: %[[CHUNKS:.*]] = tensor.expand_shape %[[MAIN]] {{\[}}[0], [1, 2]] output_shape [5, 3, 16] : tensor<5x48xf32> into tensor<5x3x16xf32>
// CHECK: %[[ZEROS:.*]] = linalg.fill ins(%[[NEGZERO]] : f32) outs(%{{.*}} : tensor<5x16xf32>)
// CHECK: %[[LANES:.*]] = linalg.generic {indexing_maps = [#[[$X]], #[[$ROW]], #[[$LANE]]], iterator_types = ["parallel", "reduction", "parallel"]} ins(%[[CHUNKS]], %[[M]] : tensor<5x3x16xf32>, tensor<5xf32>) outs(%[[ZEROS]] : tensor<5x16xf32>)
// CHECK: arith.subf
// CHECK: math.exp
// CHECK: arith.addf
// CHECK: %[[TAIL:.*]] = tensor.extract_slice %[[X]][0, 48] [5, 1] [1, 1]
// CHECK: %[[LANE0:.*]] = tensor.extract_slice %[[LANES]][0, 0] [5, 1] [1, 1]
// CHECK: %[[TAILSUM:.*]] = linalg.generic {indexing_maps = [#[[$ID]], #[[$ROW2]], #[[$ID]]], iterator_types = ["parallel", "parallel"]} ins(%[[TAIL]], %[[M]] : tensor<5x1xf32>, tensor<5xf32>) outs(%[[LANE0]] : tensor<5x1xf32>)
// CHECK: math.exp
// CHECK: %[[ALL:.*]] = tensor.insert_slice %[[TAILSUM]] into %[[LANES]][0, 0] [5, 1] [1, 1]
// CHECK: %[[SUM:.*]] = linalg.generic {indexing_maps = [#[[$ID]], #[[$ROW2]]], iterator_types = ["parallel", "reduction"]} ins(%[[ALL]] : tensor<5x16xf32>) outs(%[[INIT]] : tensor<5xf32>)
// CHECK: ^bb0(%[[IN:.*]]: f32, %[[ACC:.*]]: f32):
// CHECK: arith.addf %[[IN]], %[[ACC]] : f32
// CHECK: return %[[SUM]]
func.func @softmax_sum(%x: tensor<5x49xf32>, %m: tensor<5xf32>) -> tensor<5xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<5xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<5xf32>) -> tensor<5xf32>
  %s = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>, affine_map<(d0, d1) -> (d0)>], iterator_types = ["parallel", "reduction"]} ins(%x, %m : tensor<5x49xf32>, tensor<5xf32>) outs(%init : tensor<5xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %d = arith.subf %a, %b : f32
    %ex = math.exp %d : f32
    %r = arith.addf %ex, %acc : f32
    linalg.yield %r : f32
  } -> tensor<5xf32>
  return %s : tensor<5xf32>
}

// -----

// Rows of 64 (4 whole chunks, no tail) of a rank-3 tensor, f16; the
// fastmath flags of the addition are kept.
// CHECK-LABEL: func @f16_rows
// CHECK: tensor.expand_shape %{{.*}} {{\[}}[0], [1], [2, 3]] output_shape [2, 3, 4, 16] : tensor<2x3x64xf16> into tensor<2x3x4x16xf16>
// CHECK: iterator_types = ["parallel", "parallel", "reduction", "parallel"]
// CHECK: arith.addf %{{.*}}, %{{.*}} fastmath<contract> : f16
// CHECK-NOT: tensor.insert_slice
// CHECK: iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: arith.addf %{{.*}}, %{{.*}} fastmath<contract> : f16
func.func @f16_rows(%x: tensor<2x3x64xf16>, %init: tensor<2x3xf16>) -> tensor<2x3xf16> {
  %s = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x : tensor<2x3x64xf16>) outs(%init : tensor<2x3xf16>) {
  ^bb0(%a: f16, %acc: f16):
    %r = arith.addf %acc, %a fastmath<contract> : f16
    linalg.yield %r : f16
  } -> tensor<2x3xf16>
  return %s : tensor<2x3xf16>
}

// -----

// Left as they are: rows shorter than three chunks (LayerNorm's over 32
// channels: the lanes would not pay), a maximum (exact in any order), an
// integer sum (exact), a body that reads a loop index, a reduction that is
// not innermost, and rows read across dimensions (a transposed input).
// CHECK-LABEL: func @left_alone
// CHECK-NOT: tensor.expand_shape
// CHECK-NOT: -0.000000e+00
// CHECK: return
func.func @left_alone(%x: tensor<4x32xf32>, %y: tensor<4x64xf32>, %i: tensor<4x64xi32>, %t: tensor<64x4xf32>,
                      %f: tensor<4xf32>, %fi: tensor<4xi32>, %col: tensor<64xf32>)
    -> (tensor<4xf32>, tensor<4xf32>, tensor<4xi32>, tensor<4xf32>, tensor<64xf32>, tensor<4xf32>) {
  %short = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<4x32xf32>) outs(%f : tensor<4xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %r = arith.addf %a, %acc : f32
    linalg.yield %r : f32
  } -> tensor<4xf32>
  %max = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>], iterator_types = ["parallel", "reduction"]} ins(%y : tensor<4x64xf32>) outs(%f : tensor<4xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %r = arith.maximumf %a, %acc : f32
    linalg.yield %r : f32
  } -> tensor<4xf32>
  %int = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>], iterator_types = ["parallel", "reduction"]} ins(%i : tensor<4x64xi32>) outs(%fi : tensor<4xi32>) {
  ^bb0(%a: i32, %acc: i32):
    %r = arith.addi %a, %acc : i32
    linalg.yield %r : i32
  } -> tensor<4xi32>
  %indexed = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>], iterator_types = ["parallel", "reduction"]} ins(%y : tensor<4x64xf32>) outs(%f : tensor<4xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %k = linalg.index 1 : index
    %ki = arith.index_cast %k : index to i32
    %kf = arith.sitofp %ki : i32 to f32
    %p = arith.mulf %a, %kf : f32
    %r = arith.addf %p, %acc : f32
    linalg.yield %r : f32
  } -> tensor<4xf32>
  %columns = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d1, d0)>, affine_map<(d0, d1) -> (d0)>], iterator_types = ["parallel", "reduction"]} ins(%y : tensor<4x64xf32>) outs(%col : tensor<64xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %r = arith.addf %a, %acc : f32
    linalg.yield %r : f32
  } -> tensor<64xf32>
  %transposed = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d1, d0)>, affine_map<(d0, d1) -> (d0)>], iterator_types = ["parallel", "reduction"]} ins(%t : tensor<64x4xf32>) outs(%f : tensor<4xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %r = arith.addf %a, %acc : f32
    linalg.yield %r : f32
  } -> tensor<4xf32>
  return %short, %max, %int, %indexed, %columns, %transposed : tensor<4xf32>, tensor<4xf32>, tensor<4xi32>, tensor<4xf32>, tensor<64xf32>, tensor<4xf32>
}
