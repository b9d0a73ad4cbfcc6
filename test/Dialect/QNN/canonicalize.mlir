// RUN: quant-opt %s --canonicalize --split-input-file | FileCheck %s

// What folds, and what must not. Folded constants were worked out by hand
// from docs/Semantics.md; each case shows its arithmetic.

!q8 = !quant.uniform<i8:f32, 0.5:-3>

// The simulated quantization error of a dequantize(quantize(x)) pair must
// survive (upstream quant.dcast(quant.qcast(x)) folds to x).
// CHECK-LABEL: func @dequantize_of_quantize_is_kept
// CHECK-SAME: %[[X:.*]]: tensor<4xf32>
// CHECK: %[[Q:.*]] = qnn.quantize %[[X]]
// CHECK: %[[D:.*]] = qnn.dequantize %[[Q]]
// CHECK: return %[[D]]
func.func @dequantize_of_quantize_is_kept(%x: tensor<4xf32>) -> tensor<4xf32> {
  %q = qnn.quantize %x : tensor<4xf32> -> tensor<4x!q8>
  %d = qnn.dequantize %q : tensor<4x!q8> -> tensor<4xf32>
  return %d : tensor<4xf32>
}

// CHECK-LABEL: func @quantize_of_dequantize_same_type
// CHECK-SAME: %[[Q:.*]]: tensor<4x!quant.uniform
// CHECK-NOT: qnn.
// CHECK: return %[[Q]]
func.func @quantize_of_dequantize_same_type(%q: tensor<4x!q8>) -> tensor<4x!q8> {
  %d = qnn.dequantize %q : tensor<4x!q8> -> tensor<4xf32>
  %r = qnn.quantize %d rounding<half_away_from_zero> : tensor<4xf32> -> tensor<4x!q8>
  return %r : tensor<4x!q8>
}

// Under toward_zero, fl(fl(d * s) / s) may land just below d: not folded.
// CHECK-LABEL: func @quantize_of_dequantize_toward_zero
// CHECK: qnn.dequantize
// CHECK: qnn.quantize
func.func @quantize_of_dequantize_toward_zero(%q: tensor<4x!q8>) -> tensor<4x!q8> {
  %d = qnn.dequantize %q : tensor<4x!q8> -> tensor<4xf32>
  %r = qnn.quantize %d rounding<toward_zero> : tensor<4xf32> -> tensor<4x!q8>
  return %r : tensor<4x!q8>
}

// f16 rounds (q - z) * s to 11 bits: not provably exact, not folded.
// CHECK-LABEL: func @quantize_of_dequantize_f16
// CHECK: qnn.dequantize
// CHECK: qnn.quantize
func.func @quantize_of_dequantize_f16(%q: tensor<4x!quant.uniform<i16:f16, 0.5>>) -> tensor<4x!quant.uniform<i16:f16, 0.5>> {
  %d = qnn.dequantize %q : tensor<4x!quant.uniform<i16:f16, 0.5>> -> tensor<4xf16>
  %r = qnn.quantize %d : tensor<4xf16> -> tensor<4x!quant.uniform<i16:f16, 0.5>>
  return %r : tensor<4x!quant.uniform<i16:f16, 0.5>>
}

// A subnormal scale loses precision in (q - z) * s: not folded.
// CHECK-LABEL: func @quantize_of_dequantize_subnormal_scale
// CHECK: qnn.dequantize
// CHECK: qnn.quantize
func.func @quantize_of_dequantize_subnormal_scale(%q: tensor<4x!quant.uniform<i8:f32, 1.0e-40>>) -> tensor<4x!quant.uniform<i8:f32, 1.0e-40>> {
  %d = qnn.dequantize %q : tensor<4x!quant.uniform<i8:f32, 1.0e-40>> -> tensor<4xf32>
  %r = qnn.quantize %d : tensor<4xf32> -> tensor<4x!quant.uniform<i8:f32, 1.0e-40>>
  return %r : tensor<4x!quant.uniform<i8:f32, 1.0e-40>>
}

// 32-bit storage: |q - z| up to 2^32 exceeds f32's 24 bits: not folded.
// CHECK-LABEL: func @quantize_of_dequantize_i32
// CHECK: qnn.dequantize
// CHECK: qnn.quantize
func.func @quantize_of_dequantize_i32(%q: tensor<4x!quant.uniform<i32:f32, 0.5>>) -> tensor<4x!quant.uniform<i32:f32, 0.5>> {
  %d = qnn.dequantize %q : tensor<4x!quant.uniform<i32:f32, 0.5>> -> tensor<4xf32>
  %r = qnn.quantize %d : tensor<4xf32> -> tensor<4x!quant.uniform<i32:f32, 0.5>>
  return %r : tensor<4x!quant.uniform<i32:f32, 0.5>>
}

// Another type is a requantization, not an identity.
// CHECK-LABEL: func @quantize_of_dequantize_other_type
// CHECK: qnn.dequantize
// CHECK: qnn.quantize
func.func @quantize_of_dequantize_other_type(%q: tensor<4x!q8>) -> tensor<4x!quant.uniform<i8:f32, 0.25>> {
  %d = qnn.dequantize %q : tensor<4x!q8> -> tensor<4xf32>
  %r = qnn.quantize %d : tensor<4xf32> -> tensor<4x!quant.uniform<i8:f32, 0.25>>
  return %r : tensor<4x!quant.uniform<i8:f32, 0.25>>
}

// CHECK-LABEL: func @requantize_same_type
// CHECK-SAME: %[[Q:.*]]: tensor<3x!quant.uniform
// CHECK-NOT: qnn.requantize
// CHECK: return %[[Q]]
func.func @requantize_same_type(%q: tensor<3x!quant.uniform<u8:f32:0, {0.1:1, 0.2:2, 0.3:3}>>) -> tensor<3x!quant.uniform<u8:f32:0, {0.1:1, 0.2:2, 0.3:3}>> {
  %r = qnn.requantize %q : tensor<3x!quant.uniform<u8:f32:0, {0.1:1, 0.2:2, 0.3:3}>> -> tensor<3x!quant.uniform<u8:f32:0, {0.1:1, 0.2:2, 0.3:3}>>
  return %r : tensor<3x!quant.uniform<u8:f32:0, {0.1:1, 0.2:2, 0.3:3}>>
}

// CHECK-LABEL: func @requantize_same_type_toward_zero
// CHECK: qnn.requantize
func.func @requantize_same_type_toward_zero(%q: tensor<4x!q8>) -> tensor<4x!q8> {
  %r = qnn.requantize %q rounding<toward_zero> : tensor<4x!q8> -> tensor<4x!q8>
  return %r : tensor<4x!q8>
}

// -----

// s = 0.5, z = -3: 1.4 -> 2.8 -> 3 - 3 = 0; 1000 -> 2000 -> 127 (saturated);
// 2.5 -> 5 -> 5 - 3 = 2; -1.25 -> -2.5 -> -2 (tie to even) - 3 = -5.
// CHECK-LABEL: func @quantize_constant_per_tensor
// CHECK-NOT: arith.constant
// CHECK: %[[C:.*]] = qnn.constant dense<[0, 127, 2, -5]> : tensor<4xi8> -> tensor<4x!quant.uniform<i8:f32, 5.000000e-01:-3>>
// CHECK-NEXT: return %[[C]]
func.func @quantize_constant_per_tensor() -> tensor<4x!quant.uniform<i8:f32, 0.5:-3>> {
  %c = arith.constant dense<[1.4, 1000.0, 2.5, -1.25]> : tensor<4xf32>
  %q = qnn.quantize %c : tensor<4xf32> -> tensor<4x!quant.uniform<i8:f32, 0.5:-3>>
  return %q : tensor<4x!quant.uniform<i8:f32, 0.5:-3>>
}

// Row 0 (s = 0.5, z = 128): 1.25 -> 2.5 -> 2 + 128 = 130; -64.5 -> -129 + 128 = -1 -> 0.
// Row 1 (s = 0.25, z = 10): 0.125 -> 0.5 -> 0 + 10 = 10; 100 -> 400 + 10 -> 255.
// CHECK-LABEL: func @quantize_constant_per_axis_unsigned
// CHECK: qnn.constant dense<{{\[\[}}130, 0], [10, 255]]> : tensor<2x2xui8>
func.func @quantize_constant_per_axis_unsigned() -> tensor<2x2x!quant.uniform<u8:f32:0, {0.5:128, 0.25:10}>> {
  %c = arith.constant dense<[[1.25, -64.5], [0.125, 100.0]]> : tensor<2x2xf32>
  %q = qnn.quantize %c : tensor<2x2xf32> -> tensor<2x2x!quant.uniform<u8:f32:0, {0.5:128, 0.25:10}>>
  return %q : tensor<2x2x!quant.uniform<u8:f32:0, {0.5:128, 0.25:10}>>
}

// Blocks of 2 columns. Row 0: s = 1 then s = 2, z = 0:
//   1 -> 1; 2.5 -> 2 (even); 5 / 2 = 2.5 -> 2; -3 / 2 = -1.5 -> -2.
// Row 1: s = 0.5, z = 1 then s = 4, z = -1:
//   1 / 0.5 = 2 -> 3; -0.75 / 0.5 = -1.5 -> -2 + 1 = -1; 6 / 4 = 1.5 -> 2 - 1 = 1;
//   -10 / 4 = -2.5 -> -2 - 1 = -3.
// CHECK-LABEL: func @quantize_constant_sub_channel
// CHECK: qnn.constant dense<{{\[\[}}1, 2, 2, -2], [3, -1, 1, -3]]> : tensor<2x4xi4>
func.func @quantize_constant_sub_channel() -> tensor<2x4x!quant.uniform<i4:f32:{0:1, 1:2}, {{1.0, 2.0}, {0.5:1, 4.0:-1}}>> {
  %c = arith.constant dense<[[1.0, 2.5, 5.0, -3.0], [1.0, -0.75, 6.0, -10.0]]> : tensor<2x4xf32>
  %q = qnn.quantize %c : tensor<2x4xf32> -> tensor<2x4x!quant.uniform<i4:f32:{0:1, 1:2}, {{1.0, 2.0}, {0.5:1, 4.0:-1}}>>
  return %q : tensor<2x4x!quant.uniform<i4:f32:{0:1, 1:2}, {{1.0, 2.0}, {0.5:1, 4.0:-1}}>>
}

// -2.25 / 0.5 = -4.5 -> -5 away from zero (ties to even and toward zero
// would both give -4).
// CHECK-LABEL: func @quantize_constant_splat
// CHECK: qnn.constant dense<-5> : tensor<3xi8>
func.func @quantize_constant_splat() -> tensor<3x!quant.uniform<i8:f32, 0.5>> {
  %c = arith.constant dense<-2.25> : tensor<3xf32>
  %q = qnn.quantize %c rounding<half_away_from_zero> : tensor<3xf32> -> tensor<3x!quant.uniform<i8:f32, 0.5>>
  return %q : tensor<3x!quant.uniform<i8:f32, 0.5>>
}

// NaN -> z = 5; +Inf -> 127; -Inf -> -128.
// CHECK-LABEL: func @quantize_constant_nan_inf
// CHECK: qnn.constant dense<[5, 127, -128]> : tensor<3xi8>
func.func @quantize_constant_nan_inf() -> tensor<3x!quant.uniform<i8:f32, 1.0:5>> {
  %c = arith.constant dense<[0x7FC00000, 0x7F800000, 0xFF800000]> : tensor<3xf32>
  %q = qnn.quantize %c : tensor<3xf32> -> tensor<3x!quant.uniform<i8:f32, 1.0:5>>
  return %q : tensor<3x!quant.uniform<i8:f32, 1.0:5>>
}

// Stored -128, 0, 3, 127 at s = 0.5 are -64, 0, 1.5, 63.5; at s = 0.25,
// z = 128 they are -256 + 128 -> 0, 128, 6 + 128 = 134, 254 + 128 -> 255.
// CHECK-LABEL: func @requantize_constant
// CHECK: qnn.constant dense<[0, 128, 134, 255]> : tensor<4xui8>
func.func @requantize_constant() -> tensor<4x!quant.uniform<u8:f32, 0.25:128>> {
  %c = qnn.constant dense<[-128, 0, 3, 127]> : tensor<4xi8> -> tensor<4x!quant.uniform<i8:f32, 0.5>>
  %r = qnn.requantize %c : tensor<4x!quant.uniform<i8:f32, 0.5>> -> tensor<4x!quant.uniform<u8:f32, 0.25:128>>
  return %r : tensor<4x!quant.uniform<u8:f32, 0.25:128>>
}

// Dequantized weights stay quantized constants: later passes fuse them into
// integer kernels.
// CHECK-LABEL: func @dequantize_constant_is_kept
// CHECK: %[[C:.*]] = qnn.constant
// CHECK: qnn.dequantize %[[C]]
func.func @dequantize_constant_is_kept() -> tensor<2xf32> {
  %c = qnn.constant dense<[1, 2]> : tensor<2xi8> -> tensor<2x!quant.uniform<i8:f32, 0.5>>
  %d = qnn.dequantize %c : tensor<2x!quant.uniform<i8:f32, 0.5>> -> tensor<2xf32>
  return %d : tensor<2xf32>
}

// Identical quantized constants are uniqued.
// CHECK-LABEL: func @constants_are_uniqued
// CHECK: %[[C:.*]] = qnn.constant
// CHECK-NOT: qnn.constant
// CHECK: return %[[C]], %[[C]]
func.func @constants_are_uniqued() -> (tensor<2x!quant.uniform<i8:f32, 0.5>>, tensor<2x!quant.uniform<i8:f32, 0.5>>) {
  %a = qnn.constant dense<[1, 2]> : tensor<2xi8> -> tensor<2x!quant.uniform<i8:f32, 0.5>>
  %b = qnn.constant dense<[1, 2]> : tensor<2xi8> -> tensor<2x!quant.uniform<i8:f32, 0.5>>
  return %a, %b : tensor<2x!quant.uniform<i8:f32, 0.5>>, tensor<2x!quant.uniform<i8:f32, 0.5>>
}

// An observer records statistics: it stays even when its result is unused.
// CHECK-LABEL: func @unused_observe_is_kept
// CHECK: qnn.observe %{{.*}} as "x"
func.func @unused_observe_is_kept(%x: tensor<4xf32>) {
  %y = qnn.observe %x as "x" : tensor<4xf32>
  return
}

// -----

// i8 at s = 0.5 into i16 at s = 0.25 loses nothing, so going on to u8 at
// s = 1 is the same as going there directly: one requantize.
// CHECK-LABEL: func @exact_requantize_chain
// CHECK-SAME: %[[Q:.*]]: tensor<4x!quant.uniform<i8:f32, 5.000000e-01>>
// CHECK: %[[R:.*]] = qnn.requantize %[[Q]] : tensor<4x!quant.uniform<i8:f32, 5.000000e-01>> -> tensor<4x!quant.uniform<u8:f32, 1.000000e+00:128>>
// CHECK-NEXT: return %[[R]]
func.func @exact_requantize_chain(%q: tensor<4x!quant.uniform<i8:f32, 0.5>>) -> tensor<4x!quant.uniform<u8:f32, 1.0:128>> {
  %a = qnn.requantize %q : tensor<4x!quant.uniform<i8:f32, 0.5>> -> tensor<4x!quant.uniform<i16:f32, 0.25>>
  %b = qnn.requantize %a : tensor<4x!quant.uniform<i16:f32, 0.25>> -> tensor<4x!quant.uniform<u8:f32, 1.0:128>>
  return %b : tensor<4x!quant.uniform<u8:f32, 1.0:128>>
}

// i8 at s = 0.5 into i8 at s = 1 drops the halves (1 -> 0.5 -> 0 under ties
// to even, where going directly to s = 0.5 keeps 1): both stay.
// CHECK-LABEL: func @lossy_requantize_chain
// CHECK: qnn.requantize
// CHECK: qnn.requantize
func.func @lossy_requantize_chain(%q: tensor<4x!quant.uniform<i8:f32, 0.5>>) -> tensor<4x!quant.uniform<u8:f32, 0.5:128>> {
  %a = qnn.requantize %q : tensor<4x!quant.uniform<i8:f32, 0.5>> -> tensor<4x!quant.uniform<i8:f32, 1.0>>
  %b = qnn.requantize %a : tensor<4x!quant.uniform<i8:f32, 1.0>> -> tensor<4x!quant.uniform<u8:f32, 0.5:128>>
  return %b : tensor<4x!quant.uniform<u8:f32, 0.5:128>>
}

// -----

// dense_resource weights quantize at compile time too: 1.0 -> 2, -2.0 -> -4,
// 0.5 -> 1, 0.75 -> 1.5 -> 2 (ties to even) at s = 0.5.
// CHECK-LABEL: func @quantize_resource_constant
// CHECK: qnn.constant dense<[2, -4, 1, 2]> : tensor<4xi8>
func.func @quantize_resource_constant() -> tensor<4x!quant.uniform<i8:f32, 0.5>> {
  %c = arith.constant dense_resource<weights> : tensor<4xf32>
  %q = qnn.quantize %c : tensor<4xf32> -> tensor<4x!quant.uniform<i8:f32, 0.5>>
  return %q : tensor<4x!quant.uniform<i8:f32, 0.5>>
}
{-#
  dialect_resources: {
    builtin: {
      weights: "0x040000000000803F000000C00000003F0000403F"
    }
  }
#-}
