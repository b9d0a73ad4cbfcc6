// RUN: quant-opt %s --convert-qnn-to-linalg --split-input-file | FileCheck %s

// qnn.rescale per channel: multipliers and shifts stored as the i32 they
// are and sign-extended in the body (an i64 product of two sign-extended
// i32 is one vpmuldq); with every shift 32 or more the rounded value is
// below 2^30 + 1, so the zero point and the clamp run in i32, the bounds
// moved by the zero point (docs/Semantics.md, step 3, unchanged).
!c = !quant.uniform<i8:f32, 1.0:-3>
// CHECK-LABEL: func @shifts_from_32
// CHECK-DAG: %[[M:.*]] = arith.constant dense<[1073741824, 1500000000]> : tensor<2xi32>
// CHECK-DAG: %[[N:.*]] = arith.constant dense<[32, 40]> : tensor<2xi32>
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %[[M]], %[[N]] : tensor<4x2xi32>, tensor<2xi32>, tensor<2xi32>)
// CHECK-NEXT: ^bb0(%[[A:.*]]: i32, %[[MI:.*]]: i32, %[[NI:.*]]: i32, %{{.*}}: i8):
// CHECK-DAG: %[[M64:.*]] = arith.extsi %[[MI]] : i32 to i64
// CHECK-DAG: %[[A64:.*]] = arith.extsi %[[A]] : i32 to i64
// CHECK: arith.muli %[[A64]], %[[M64]] : i64
// CHECK: arith.andi
// CHECK: %[[HIGH:.*]] = arith.shrui %{{.*}}, %{{.*}} : i64
// CHECK-NEXT: %[[WORD:.*]] = arith.trunci %[[HIGH]] : i64 to i32
// CHECK: %[[REST:.*]] = arith.subi %[[NI]], %{{.*}} : i32
// CHECK-NEXT: %[[R32:.*]] = arith.shrsi %[[WORD]], %[[REST]] : i32
// CHECK-DAG: %[[HI:.*]] = arith.constant 130 : i32
// CHECK-DAG: %[[LO:.*]] = arith.constant -125 : i32
// CHECK: %[[MAX:.*]] = arith.maxsi %[[R32]], %[[LO]] : i32
// CHECK: %[[MIN:.*]] = arith.minsi %[[MAX]], %[[HI]] : i32
// CHECK: %[[Z:.*]] = arith.constant -3 : i32
// CHECK: %[[S:.*]] = arith.addi %[[MIN]], %[[Z]] : i32
// CHECK: arith.trunci %[[S]] : i32 to i8
func.func @shifts_from_32(%a: tensor<4x2xi32>) -> tensor<4x2x!c> {
  %q = qnn.rescale %a multipliers [1073741824, 1500000000] shifts [32, 40] axis 1 : tensor<4x2xi32> -> tensor<4x2x!c>
  return %q : tensor<4x2x!c>
}

// -----

// A shift of 31 (a multiplier of 1/2 or more) can give 2^31 - 1 before
// the zero point: it stays in i64.
!c = !quant.uniform<i8:f32, 1.0:-3>
// CHECK-LABEL: func @shift_31
// CHECK: arith.andi
// CHECK: arith.shrsi %{{.*}} : i64
// CHECK-NEXT: %[[Z:.*]] = arith.constant -3 : i64
// CHECK-NEXT: %[[S:.*]] = arith.addi %{{.*}}, %[[Z]] : i64
// CHECK: arith.maxsi %{{.*}} : i64
// CHECK: arith.minsi %{{.*}} : i64
// CHECK: arith.trunci %{{.*}} : i64 to i8
func.func @shift_31(%a: tensor<4x2xi32>) -> tensor<4x2x!c> {
  %q = qnn.rescale %a multipliers [1073741824, 1500000000] shifts [31, 40] axis 1 : tensor<4x2xi32> -> tensor<4x2x!c>
  return %q : tensor<4x2x!c>
}

// -----

// A 32-bit storage type keeps the i64 clamp.
!w = !quant.uniform<i32:f32, 1.0:5>
// CHECK-LABEL: func @wide_storage
// CHECK: arith.maxsi %{{.*}} : i64
// CHECK: arith.trunci %{{.*}} : i64 to i32
func.func @wide_storage(%a: tensor<4xi32>) -> tensor<4x!w> {
  %q = qnn.rescale %a multipliers [1073741824] shifts [40] : tensor<4xi32> -> tensor<4x!w>
  return %q : tensor<4x!w>
}

// -----

// An accumulator its contraction bounds: 4 steps of u8 x s8 (weights within
// [-3, 5]) from a bias within [-7, 9], so |a| <= 9 + 4 * 255 * 5 = 5109 and
// |a| * m < 2^53: p = a * m and p / 2^n are exact in f64, and so is their
// round-half-to-even, computed as roundeven(f64(a) * m / 2^n) with the
// factor m / 2^n as one f64 constant per channel (2^30 / 2^33 = 0.125,
// 2^30 / 2^36 = 0.015625).
!c = !quant.uniform<i8:f32, 1.0:-3>
// CHECK-LABEL: func @bounded_accumulator
// CHECK: %[[F:.*]] = arith.constant dense<[1.250000e-01, 1.562500e-02]> : tensor<2xf64>
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %[[F]] : tensor<3x2xi32>, tensor<2xf64>)
// CHECK-NEXT: ^bb0(%[[A:.*]]: i32, %[[FI:.*]]: f64, %{{.*}}: i8):
// CHECK-NEXT: %[[W:.*]] = arith.sitofp %[[A]] : i32 to f64
// CHECK-NEXT: %[[P:.*]] = arith.mulf %[[W]], %[[FI]] : f64
// CHECK-NEXT: %[[R:.*]] = math.roundeven %[[P]] : f64
// CHECK-NEXT: %[[I:.*]] = arith.fptosi %[[R]] : f64 to i32
// CHECK: arith.maxsi %[[I]]
func.func @bounded_accumulator(%x: tensor<3x4xi8>) -> tensor<3x2x!c> {
  %w = arith.constant dense<[[1, -3], [5, 0], [2, 2], [-1, 4]]> : tensor<4x2xi8>
  %b = arith.constant dense<[-7, 9]> : tensor<2xi32>
  %e = tensor.empty() : tensor<3x2xi32>
  %i = linalg.generic {indexing_maps = [affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%b : tensor<2xi32>) outs(%e : tensor<3x2xi32>) {
  ^bb0(%in: i32, %o: i32):
    linalg.yield %in : i32
  } -> tensor<3x2xi32>
  %a = linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, k)>, affine_map<(i, j, k) -> (k, j)>, affine_map<(i, j, k) -> (i, j)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : tensor<3x4xi8>, tensor<4x2xi8>) outs(%i : tensor<3x2xi32>) {
  ^bb0(%p: i8, %q: i8, %s: i32):
    %pe = arith.extui %p : i8 to i32
    %qe = arith.extsi %q : i8 to i32
    %m = arith.muli %pe, %qe : i32
    %t = arith.addi %s, %m : i32
    linalg.yield %t : i32
  } -> tensor<3x2xi32>
  %r = qnn.rescale %a multipliers [1073741824, 1073741824] shifts [33, 36] axis 1 : tensor<3x2xi32> -> tensor<3x2x!c>
  return %r : tensor<3x2x!c>
}

// -----

// The same contraction with weights up to 127 over 2^18 steps: |a| * m
// could reach 2^53, so the rescale stays in 64-bit integers.
!c = !quant.uniform<i8:f32, 1.0:-3>
// CHECK-LABEL: func @unbounded_accumulator
// CHECK-NOT: f64
// CHECK: arith.muli %{{.*}}, %{{.*}} : i64
// CHECK-NOT: f64
func.func @unbounded_accumulator(%x: tensor<1x262144xi8>, %w: tensor<262144x1xi8>) -> tensor<1x1x!c> {
  %zero = arith.constant 0 : i32
  %e = tensor.empty() : tensor<1x1xi32>
  %i = linalg.fill ins(%zero : i32) outs(%e : tensor<1x1xi32>) -> tensor<1x1xi32>
  %a = linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, k)>, affine_map<(i, j, k) -> (k, j)>, affine_map<(i, j, k) -> (i, j)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : tensor<1x262144xi8>, tensor<262144x1xi8>) outs(%i : tensor<1x1xi32>) {
  ^bb0(%p: i8, %q: i8, %s: i32):
    %pe = arith.extui %p : i8 to i32
    %qe = arith.extsi %q : i8 to i32
    %m = arith.muli %pe, %qe : i32
    %t = arith.addi %s, %m : i32
    linalg.yield %t : i32
  } -> tensor<1x1xi32>
  %r = qnn.rescale %a multipliers [1073741824] shifts [40] : tensor<1x1xi32> -> tensor<1x1x!c>
  return %r : tensor<1x1x!c>
}
