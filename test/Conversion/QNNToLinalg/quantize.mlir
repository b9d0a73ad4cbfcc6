// RUN: quant-opt %s --convert-qnn-to-linalg --split-input-file | FileCheck %s

// qnn.quantize becomes one elementwise linalg.generic that follows
// docs/Semantics.md step by step.

// CHECK-DAG: #[[$ID:.*]] = affine_map<(d0) -> (d0)>
// CHECK-LABEL: func @per_tensor
// CHECK-SAME: (%[[X:.*]]: tensor<4xf32>) -> tensor<4xi8>
// CHECK-DAG: %[[Z:.*]] = arith.constant -3 : i32
// CHECK: %[[INIT:.*]] = tensor.empty() : tensor<4xi8>
// CHECK: %[[R:.*]] = linalg.generic {indexing_maps = [#[[$ID]], #[[$ID]]], iterator_types = ["parallel"]}
// CHECK-SAME: ins(%[[X]] : tensor<4xf32>) outs(%[[INIT]] : tensor<4xi8>)
// CHECK: ^bb0(%[[IN:.*]]: f32, %{{.*}}: i8):
// The scale is a power of two: x / 0.5 is exactly x * 2.0 (one rounding each).
// CHECK: %[[TWO:.*]] = arith.constant 2.000000e+00 : f32
// CHECK: %[[V:.*]] = arith.mulf %[[IN]], %[[TWO]] : f32
// CHECK: %[[RND:.*]] = math.roundeven %[[V]] : f32
// CHECK-DAG: %[[LO:.*]] = arith.constant -1.07374182E+9 : f32
// CHECK-DAG: %[[HI:.*]] = arith.constant 1.07374182E+9 : f32
// CHECK: %[[MAX:.*]] = arith.maximumf %[[RND]], %[[LO]] : f32
// CHECK: %[[MIN:.*]] = arith.minimumf %[[MAX]], %[[HI]] : f32
// CHECK: %[[I:.*]] = arith.fptosi %[[MIN]] : f32 to i32
// CHECK: %[[SUM:.*]] = arith.addi %[[I]], %[[Z]] : i32
// CHECK-DAG: %[[QMIN:.*]] = arith.constant -128 : i32
// CHECK-DAG: %[[QMAX:.*]] = arith.constant 127 : i32
// CHECK: %[[SAT0:.*]] = arith.maxsi %[[SUM]], %[[QMIN]] : i32
// CHECK: %[[SAT:.*]] = arith.minsi %[[SAT0]], %[[QMAX]] : i32
// CHECK: %[[NAN:.*]] = arith.cmpf uno, %[[V]], %[[V]] : f32
// CHECK: %[[SEL:.*]] = arith.select %[[NAN]], %[[Z]], %[[SAT]] : i32
// CHECK: %[[Q:.*]] = arith.trunci %[[SEL]] : i32 to i8
// CHECK: linalg.yield %[[Q]] : i8
// CHECK: return %[[R]] : tensor<4xi8>
func.func @per_tensor(%x: tensor<4xf32>) -> tensor<4x!quant.uniform<i8:f32, 0.5:-3>> {
  %q = qnn.quantize %x : tensor<4xf32> -> tensor<4x!quant.uniform<i8:f32, 0.5:-3>>
  return %q : tensor<4x!quant.uniform<i8:f32, 0.5:-3>>
}

// -----

// Any other constant scale in [2^-60, 2^60]: the correctly rounded quotient
// without a division, q0 = x * RN(1/s) corrected by one FMA (Markstein), x
// first clamped to +-RN(2^29 * s) = +-0x4C4CCCCD (compare and select), so no
// float clamp of the rounded value, and NaN tested on x (docs/Semantics.md,
// "Without a division").
// CHECK-LABEL: func @per_tensor_without_division
// CHECK: ^bb0(%[[IN:.*]]: f32, %{{.*}}: i8):
// CHECK-NOT: arith.divf
// CHECK-DAG: %[[HI:.*]] = arith.constant 0x4C4CCCCD : f32
// CHECK-DAG: %[[LO:.*]] = arith.constant 0xCC4CCCCD : f32
// CHECK-DAG: %[[RCP:.*]] = arith.constant 1.000000e+01 : f32
// CHECK-DAG: %[[NS:.*]] = arith.constant -1.000000e-01 : f32
// CHECK: %[[GT:.*]] = arith.cmpf ogt, %[[IN]], %[[LO]] : f32
// CHECK: %[[X0:.*]] = arith.select %[[GT]], %[[IN]], %[[LO]] : f32
// CHECK: %[[LT:.*]] = arith.cmpf olt, %[[X0]], %[[HI]] : f32
// CHECK: %[[X1:.*]] = arith.select %[[LT]], %[[X0]], %[[HI]] : f32
// CHECK: %[[Q0:.*]] = arith.mulf %[[X1]], %[[RCP]] : f32
// CHECK: %[[E:.*]] = math.fma %[[Q0]], %[[NS]], %[[X1]] : f32
// CHECK: %[[V:.*]] = math.fma %[[E]], %[[RCP]], %[[Q0]] : f32
// CHECK: %[[R:.*]] = math.roundeven %[[V]] : f32
// CHECK-NOT: arith.maximumf
// CHECK: arith.fptosi %[[R]] : f32 to i32
// CHECK: arith.cmpf uno, %[[IN]], %[[IN]] : f32
func.func @per_tensor_without_division(%x: tensor<4xf32>) -> tensor<4x!quant.uniform<i8:f32, 0.1>> {
  %q = qnn.quantize %x : tensor<4xf32> -> tensor<4x!quant.uniform<i8:f32, 0.1>>
  return %q : tensor<4x!quant.uniform<i8:f32, 0.1>>
}

// Outside [2^-60, 2^60] the division stays.
// CHECK-LABEL: func @scale_below_range
// CHECK: arith.divf
// CHECK-NOT: math.fma
// CHECK-LABEL: func @scale_above_range
// CHECK: arith.divf
// CHECK-NOT: math.fma
func.func @scale_below_range(%x: tensor<4xf32>) -> tensor<4x!quant.uniform<i8:f32, 1.0e-20>> {
  %q = qnn.quantize %x : tensor<4xf32> -> tensor<4x!quant.uniform<i8:f32, 1.0e-20>>
  return %q : tensor<4x!quant.uniform<i8:f32, 1.0e-20>>
}
func.func @scale_above_range(%x: tensor<4xf32>) -> tensor<4x!quant.uniform<i8:f32, 3.0e+18>> {
  %q = qnn.quantize %x : tensor<4xf32> -> tensor<4x!quant.uniform<i8:f32, 3.0e+18>>
  return %q : tensor<4x!quant.uniform<i8:f32, 3.0e+18>>
}

// -----

// CHECK-LABEL: func @rounding_half_away_from_zero
// CHECK: math.round %
func.func @rounding_half_away_from_zero(%x: tensor<4xf32>) -> tensor<4x!quant.uniform<i8:f32, 0.5>> {
  %q = qnn.quantize %x rounding<half_away_from_zero> : tensor<4xf32> -> tensor<4x!quant.uniform<i8:f32, 0.5>>
  return %q : tensor<4x!quant.uniform<i8:f32, 0.5>>
}

// CHECK-LABEL: func @rounding_toward_zero
// CHECK: math.trunc %
func.func @rounding_toward_zero(%x: tensor<4xf32>) -> tensor<4x!quant.uniform<i8:f32, 0.5>> {
  %q = qnn.quantize %x rounding<toward_zero> : tensor<4xf32> -> tensor<4x!quant.uniform<i8:f32, 0.5>>
  return %q : tensor<4x!quant.uniform<i8:f32, 0.5>>
}

// -----

// Per-axis parameters are constant tensors read along the channel axis; a
// dynamic batch dimension sizes the destination; f16 input is extended to
// the f32 compute type; u8 is stored in signless i8 with bounds [1, 255].
// CHECK-DAG: #[[$ID:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[$CH:.*]] = affine_map<(d0, d1) -> (d1)>
// CHECK-LABEL: func @per_axis_dynamic_unsigned_f16
// CHECK-SAME: (%[[X:.*]]: tensor<?x3xf16>) -> tensor<?x3xi8>
// CHECK-DAG: %[[S:.*]] = arith.constant dense<[1.000000e-01, 2.000000e-01, 3.000000e-01]> : tensor<3xf32>
// CHECK-DAG: %[[Z:.*]] = arith.constant dense<[128, 120, 100]> : tensor<3xi32>
// CHECK-DAG: %[[C0:.*]] = arith.constant 0 : index
// CHECK: %[[DIM:.*]] = tensor.dim %[[X]], %[[C0]] : tensor<?x3xf16>
// CHECK: %[[INIT:.*]] = tensor.empty(%[[DIM]]) : tensor<?x3xi8>
// CHECK: linalg.generic {indexing_maps = [#[[$ID]], #[[$CH]], #[[$CH]], #[[$ID]]]
// CHECK-SAME: ins(%[[X]], %[[S]], %[[Z]] : tensor<?x3xf16>, tensor<3xf32>, tensor<3xi32>)
// CHECK: ^bb0(%[[IN:.*]]: f16, %[[SC:.*]]: f32, %[[ZP:.*]]: i32, %{{.*}}: i8):
// CHECK: %[[EXT:.*]] = arith.extf %[[IN]] : f16 to f32
// CHECK: arith.divf %[[EXT]], %[[SC]] : f32
// CHECK: arith.addi %{{.*}}, %[[ZP]] : i32
// CHECK-DAG: arith.constant 1 : i32
// CHECK-DAG: arith.constant 255 : i32
// CHECK: arith.select %{{.*}}, %[[ZP]], %{{.*}} : i32
// CHECK: arith.trunci %{{.*}} : i32 to i8
func.func @per_axis_dynamic_unsigned_f16(%x: tensor<?x3xf16>) -> tensor<?x3x!quant.uniform<u8<1:255>:f16:1, {0.1:128, 0.2:120, 0.3:100}>> {
  %q = qnn.quantize %x : tensor<?x3xf16> -> tensor<?x3x!quant.uniform<u8<1:255>:f16:1, {0.1:128, 0.2:120, 0.3:100}>>
  return %q : tensor<?x3x!quant.uniform<u8<1:255>:f16:1, {0.1:128, 0.2:120, 0.3:100}>>
}

// -----

// Blocks of 2 along axis 1 become an axis of their own, so the parameters
// are read with a plain projection.
// CHECK-DAG: #[[$ID:.*]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG: #[[$BLK:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func @sub_channel
// CHECK-SAME: (%[[X:.*]]: tensor<2x4xf32>) -> tensor<2x4xi4>
// CHECK: %[[E:.*]] = tensor.expand_shape %[[X]] {{\[\[}}0], [1, 2]] output_shape [2, 2, 2] : tensor<2x4xf32> into tensor<2x2x2xf32>
// CHECK-DAG: arith.constant dense<{{\[\[}}1.000000e+00, 2.000000e+00], [5.000000e-01, 4.000000e+00]]> : tensor<2x2xf32>
// CHECK-DAG: arith.constant dense<{{\[\[}}0, 0], [1, -1]]> : tensor<2x2xi32>
// CHECK: %[[G:.*]] = linalg.generic {indexing_maps = [#[[$ID]], #[[$BLK]], #[[$BLK]], #[[$ID]]], iterator_types = ["parallel", "parallel", "parallel"]}
// CHECK-SAME: ins(%[[E]],
// CHECK-DAG: arith.constant -8 : i32
// CHECK-DAG: arith.constant 7 : i32
// CHECK: arith.trunci %{{.*}} : i32 to i4
// CHECK: %[[C:.*]] = tensor.collapse_shape %[[G]] {{\[\[}}0], [1, 2]] : tensor<2x2x2xi4> into tensor<2x4xi4>
// CHECK: return %[[C]]
func.func @sub_channel(%x: tensor<2x4xf32>) -> tensor<2x4x!quant.uniform<i4:f32:{0:1, 1:2}, {{1.0, 2.0}, {0.5:1, 4.0:-1}}>> {
  %q = qnn.quantize %x : tensor<2x4xf32> -> tensor<2x4x!quant.uniform<i4:f32:{0:1, 1:2}, {{1.0, 2.0}, {0.5:1, 4.0:-1}}>>
  return %q : tensor<2x4x!quant.uniform<i4:f32:{0:1, 1:2}, {{1.0, 2.0}, {0.5:1, 4.0:-1}}>>
}

// -----

// Wider than 16 bits: 64-bit working integers and a +-2^62 float clamp, so
// r + z cannot overflow.
// CHECK-LABEL: func @storage_i32
// CHECK-DAG: arith.constant 7 : i64
// CHECK-DAG: arith.constant -4.6116860184273879E+18 : f64
// CHECK-DAG: arith.constant 4.6116860184273879E+18 : f64
// CHECK: arith.fptosi %{{.*}} : f64 to i64
// CHECK-DAG: arith.constant -2147483648 : i64
// CHECK-DAG: arith.constant 2147483647 : i64
// CHECK: arith.trunci %{{.*}} : i64 to i32
func.func @storage_i32(%x: tensor<4xf64>) -> tensor<4x!quant.uniform<i32:f64, 0.5:7>> {
  %q = qnn.quantize %x : tensor<4xf64> -> tensor<4x!quant.uniform<i32:f64, 0.5:7>>
  return %q : tensor<4x!quant.uniform<i32:f64, 0.5:7>>
}
