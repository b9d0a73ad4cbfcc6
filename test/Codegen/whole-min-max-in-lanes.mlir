// RUN: quant-opt %s --qnn-whole-min-max-in-lanes --split-input-file | FileCheck %s

#in = affine_map<(d0, d1) -> (d0, d1)>
#scalar = affine_map<(d0, d1) -> ()>

// A dynamically quantized tensor's range (finite values only, as
// qnn.dynamic_quantize computes it), 3200 elements read in order: 50 rows
// of 64 lanes, each lane from the op's initial value, then the lanes into
// it.
// CHECK-DAG: #[[$TOLANE:map[0-9]*]] = affine_map<(d0) -> ()>
// CHECK-DAG: #[[$LANE:map[0-9]*]] = affine_map<(d0) -> (d0)>
// CHECK-DAG: #[[$IN:map[0-9]*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[$INNER:map[0-9]*]] = affine_map<(d0, d1) -> (d1)>
// CHECK-LABEL: func @range
// CHECK-SAME: (%[[X:.*]]: tensor<100x32xf32>)
// CHECK: %[[INIT:.*]] = linalg.fill
// CHECK: %[[LO0:.*]] = linalg.generic {indexing_maps = [#[[$TOLANE]], #[[$LANE]]], iterator_types = ["parallel"]} ins(%[[INIT]] : tensor<f32>) outs(%{{.*}} : tensor<64xf32>)
// CHECK: %[[HI0:.*]] = linalg.generic {indexing_maps = [#[[$TOLANE]], #[[$LANE]]], iterator_types = ["parallel"]} ins(%[[INIT]] : tensor<f32>) outs(%{{.*}} : tensor<64xf32>)
// CHECK: %[[FLAT:.*]] = tensor.collapse_shape %[[X]] {{\[}}[0, 1]] : tensor<100x32xf32> into tensor<3200xf32>
// CHECK: %[[ROWS:.*]] = tensor.expand_shape %[[FLAT]] {{\[}}[0, 1]] output_shape [50, 64] : tensor<3200xf32> into tensor<50x64xf32>
// CHECK: %[[LANES:.*]]:2 = linalg.generic {indexing_maps = [#[[$IN]], #[[$INNER]], #[[$INNER]]], iterator_types = ["reduction", "parallel"]} ins(%[[ROWS]] : tensor<50x64xf32>) outs(%[[LO0]], %[[HI0]] : tensor<64xf32>, tensor<64xf32>)
// CHECK: math.absf
// CHECK: arith.minimumf
// CHECK: arith.maximumf
// CHECK: %[[R:.*]]:2 = linalg.generic {indexing_maps = [#[[$LANE]], #[[$LANE]], #[[$TOLANE]], #[[$TOLANE]]], iterator_types = ["reduction"]} ins(%[[LANES]]#0, %[[LANES]]#1 : tensor<64xf32>, tensor<64xf32>) outs(%[[INIT]], %[[INIT]] : tensor<f32>, tensor<f32>)
// CHECK-NEXT: ^bb0(%[[LO:.*]]: f32, %[[HI:.*]]: f32, %[[OUTLO:.*]]: f32, %[[OUTHI:.*]]: f32):
// CHECK-NEXT: %[[MIN:.*]] = arith.minimumf %[[OUTLO]], %[[LO]] : f32
// CHECK-NEXT: %[[MAX:.*]] = arith.maximumf %[[OUTHI]], %[[HI]] : f32
// CHECK-NEXT: linalg.yield %[[MIN]], %[[MAX]]
// CHECK: return %[[R]]#0, %[[R]]#1
func.func @range(%x: tensor<100x32xf32>) -> (tensor<f32>, tensor<f32>) {
  %zero = arith.constant 0.0 : f32
  %inf = arith.constant 0x7F800000 : f32
  %e = tensor.empty() : tensor<f32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<f32>) -> tensor<f32>
  %r:2 = linalg.generic {indexing_maps = [#in, #scalar, #scalar], iterator_types = ["reduction", "reduction"]}
      ins(%x : tensor<100x32xf32>) outs(%init, %init : tensor<f32>, tensor<f32>) {
  ^bb0(%v: f32, %lo: f32, %hi: f32):
    %a = math.absf %v : f32
    %finite = arith.cmpf olt, %a, %inf : f32
    %s = arith.select %finite, %v, %zero : f32
    %min = arith.minimumf %lo, %s : f32
    %max = arith.maximumf %hi, %s : f32
    linalg.yield %min, %max : f32, f32
  } -> (tensor<f32>, tensor<f32>)
  return %r#0, %r#1 : tensor<f32>, tensor<f32>
}

// -----

#in = affine_map<(d0, d1, d2) -> (d0, d2, d1)>
#scalar = affine_map<(d0, d1, d2) -> ()>

// Integers, the value first; read out of order (or fewer than 1024
// elements, or a number of them that 16 does not divide): the lanes are the
// first input's innermost dimension (loop d1 here).
// CHECK-LABEL: func @integer_max
// CHECK: linalg.generic {{.*}} iterator_types = ["reduction", "parallel", "reduction"]
// CHECK: arith.maxsi %{{.*}}, %{{.*}} : i32
// CHECK: linalg.generic {{.*}} iterator_types = ["reduction"]
// CHECK: arith.maxsi
func.func @integer_max(%x: tensor<4x5x16xi32>, %init: tensor<i32>) -> tensor<i32> {
  %r = linalg.generic {indexing_maps = [#in, #scalar], iterator_types = ["reduction", "reduction", "reduction"]}
      ins(%x : tensor<4x5x16xi32>) outs(%init : tensor<i32>) {
  ^bb0(%v: i32, %m: i32):
    %max = arith.maxsi %v, %m : i32
    linalg.yield %max : i32
  } -> tensor<i32>
  return %r : tensor<i32>
}

// -----

#in = affine_map<(d0, d1) -> (d0, d1)>
#scalar = affine_map<(d0, d1) -> ()>
#row = affine_map<(d0, d1) -> (d0)>

// Left as they are: a float sum (not associative), fewer than 1024
// elements with an innermost dimension of fewer than 8, an output not
// reduced to a scalar, an old value used twice.
// CHECK-LABEL: func @not_min_max
// CHECK-COUNT-4: linalg.generic
// CHECK-NOT: linalg.generic
func.func @not_min_max(%x: tensor<100x32xf32>, %y: tensor<100x4xf32>, %s: tensor<f32>, %r: tensor<100xf32>)
    -> (tensor<f32>, tensor<f32>, tensor<100xf32>, tensor<f32>) {
  %0 = linalg.generic {indexing_maps = [#in, #scalar], iterator_types = ["reduction", "reduction"]}
      ins(%x : tensor<100x32xf32>) outs(%s : tensor<f32>) {
  ^bb0(%v: f32, %acc: f32):
    %sum = arith.addf %acc, %v : f32
    linalg.yield %sum : f32
  } -> tensor<f32>
  %1 = linalg.generic {indexing_maps = [#in, #scalar], iterator_types = ["reduction", "reduction"]}
      ins(%y : tensor<100x4xf32>) outs(%s : tensor<f32>) {
  ^bb0(%v: f32, %acc: f32):
    %max = arith.maximumf %acc, %v : f32
    linalg.yield %max : f32
  } -> tensor<f32>
  %2 = linalg.generic {indexing_maps = [#in, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<100x32xf32>) outs(%r : tensor<100xf32>) {
  ^bb0(%v: f32, %acc: f32):
    %max = arith.maximumf %acc, %v : f32
    linalg.yield %max : f32
  } -> tensor<100xf32>
  %3 = linalg.generic {indexing_maps = [#in, #scalar], iterator_types = ["reduction", "reduction"]}
      ins(%x : tensor<100x32xf32>) outs(%s : tensor<f32>) {
  ^bb0(%v: f32, %acc: f32):
    %d = arith.subf %v, %acc : f32
    %max = arith.maximumf %acc, %d : f32
    linalg.yield %max : f32
  } -> tensor<f32>
  return %0, %1, %2, %3 : tensor<f32>, tensor<f32>, tensor<100xf32>, tensor<f32>
}

// -----

#in = affine_map<(d0) -> (d0)>
#scalar = affine_map<(d0) -> ()>

// One dimension of 4096 elements: 64 rows of 64 lanes; the op on the 64
// lanes is not split again.
// CHECK-LABEL: func @one_dimension
// CHECK: tensor.expand_shape {{.*}} output_shape [64, 64] : tensor<4096xi8> into tensor<64x64xi8>
// CHECK: linalg.generic {{.*}} iterator_types = ["reduction", "parallel"]
// CHECK: arith.minui
// CHECK: linalg.generic {{.*}} iterator_types = ["reduction"]
// CHECK: arith.minui
// CHECK-NOT: linalg.generic
func.func @one_dimension(%x: tensor<4096xi8>, %init: tensor<i8>) -> tensor<i8> {
  %r = linalg.generic {indexing_maps = [#in, #scalar], iterator_types = ["reduction"]}
      ins(%x : tensor<4096xi8>) outs(%init : tensor<i8>) {
  ^bb0(%v: i8, %m: i8):
    %min = arith.minui %m, %v : i8
    linalg.yield %min : i8
  } -> tensor<i8>
  return %r : tensor<i8>
}
