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
// CHECK: %[[R:.*]] = arith.shrsi %{{.*}} : i64
// CHECK-NEXT: %[[R32:.*]] = arith.trunci %[[R]] : i64 to i32
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
