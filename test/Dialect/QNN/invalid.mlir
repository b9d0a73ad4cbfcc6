// RUN: quant-opt %s -split-input-file -verify-diagnostics

// Every verifier error of the qnn ops, one per split.

//===----------------------------------------------------------------------===//
// qnn.quantize
//===----------------------------------------------------------------------===//

func.func @quantize_expressed_type_mismatch(%x: tensor<4xf16>) {
  // expected-error @+1 {{'qnn.quantize' op input element type 'f16' does not match the expressed type 'f32' of '!quant.uniform<i8:f32, 5.000000e-01>'}}
  %q = qnn.quantize %x : tensor<4xf16> -> tensor<4x!quant.uniform<i8:f32, 0.5>>
  return
}

// -----

func.func @quantize_shape_mismatch(%x: tensor<4xf32>) {
  // expected-error @+1 {{'qnn.quantize' op requires the same shape for all operands and results}}
  %q = qnn.quantize %x : tensor<4xf32> -> tensor<5x!quant.uniform<i8:f32, 0.5>>
  return
}

// -----

func.func @quantize_integer_input(%x: tensor<4xi32>) {
  // expected-error @+1 {{'qnn.quantize' op operand #0 must be ranked tensor of 16-bit float or bfloat16 type or 32-bit float or 64-bit float values}}
  %q = qnn.quantize %x : tensor<4xi32> -> tensor<4x!quant.uniform<i8:f32, 0.5>>
  return
}

// -----

func.func @quantize_not_uniform(%x: tensor<4xf32>) {
  // expected-error @+1 {{'qnn.quantize' op result #0 must be ranked tensor of uniform quantized type values}}
  %q = qnn.quantize %x : tensor<4xf32> -> tensor<4x!quant.any<i8:f32>>
  return
}

// -----

func.func @quantize_unranked(%x: tensor<*xf32>) {
  // expected-error @+1 {{'qnn.quantize' op operand #0 must be ranked tensor}}
  %q = "qnn.quantize"(%x) : (tensor<*xf32>) -> tensor<*x!quant.uniform<i8:f32, 0.5>>
  return
}

// -----

func.func @quantize_zero_point_outside_storage_range(%x: tensor<4xf32>) {
  // expected-error @+1 {{'qnn.quantize' op result type: zero point 10 is outside the storage range [-5, 5] of '!quant.uniform<i8<-5:5>:f32, 5.000000e-01:10>'}}
  %q = qnn.quantize %x : tensor<4xf32> -> tensor<4x!quant.uniform<i8<-5:5>:f32, 0.5:10>>
  return
}

// -----

func.func @quantize_per_axis_zero_point_outside_storage_range(%x: tensor<2xf32>) {
  // expected-error @+1 {{'qnn.quantize' op result type: zero point 300 is outside the storage range [-128, 127]}}
  %q = qnn.quantize %x : tensor<2xf32> -> tensor<2x!quant.uniform<i8:f32:0, {0.5:1, 0.5:300}>>
  return
}

// -----

func.func @quantize_channel_axis_out_of_range(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{'qnn.quantize' op result type: channel axis 2 of '!quant.uniform<i8:f32:2, {1.000000e-01,2.000000e-01,3.000000e-01}>' is out of range for a tensor of rank 2}}
  %q = qnn.quantize %x : tensor<2x3xf32> -> tensor<2x3x!quant.uniform<i8:f32:2, {0.1, 0.2, 0.3}>>
  return
}

// -----

func.func @quantize_channel_axis_dynamic(%x: tensor<2x?xf32>) {
  // expected-error @+1 {{'qnn.quantize' op result type: channel axis 1 of '!quant.uniform<i8:f32:1, {1.000000e-01,2.000000e-01,3.000000e-01}>' must have a static size}}
  %q = qnn.quantize %x : tensor<2x?xf32> -> tensor<2x?x!quant.uniform<i8:f32:1, {0.1, 0.2, 0.3}>>
  return
}

// -----

func.func @quantize_channel_count_mismatch(%x: tensor<2x4xf32>) {
  // expected-error @+1 {{'qnn.quantize' op result type: channel axis 1 has size 4 but '!quant.uniform<i8:f32:1, {1.000000e-01,2.000000e-01,3.000000e-01}>' has 3 scales}}
  %q = qnn.quantize %x : tensor<2x4xf32> -> tensor<2x4x!quant.uniform<i8:f32:1, {0.1, 0.2, 0.3}>>
  return
}

// -----

func.func @quantize_block_axis_out_of_range(%x: tensor<4xf32>) {
  // expected-error @+1 {{'qnn.quantize' op result type: block axis 1 is out of range for a tensor of rank 1}}
  %q = qnn.quantize %x : tensor<4xf32> -> tensor<4x!quant.uniform<i8:f32:{1:2}, {{0.1, 0.2}}>>
  return
}

// -----

func.func @quantize_block_axis_dynamic(%x: tensor<2x?xf32>) {
  // expected-error @+1 {{'qnn.quantize' op result type: block axis 1 must have a static size}}
  %q = qnn.quantize %x : tensor<2x?xf32> -> tensor<2x?x!quant.uniform<i8:f32:{1:2}, {{0.1, 0.2}}>>
  return
}

// -----

func.func @quantize_block_size_does_not_divide(%x: tensor<1x5xf32>) {
  // expected-error @+1 {{'qnn.quantize' op result type: block size 2 does not divide the size 5 of axis 1}}
  %q = qnn.quantize %x : tensor<1x5xf32> -> tensor<1x5x!quant.uniform<i8:f32:{1:2}, {{0.1, 0.2}}>>
  return
}

// -----

func.func @quantize_scale_tensor_rank_mismatch(%x: tensor<1x4x2xf32>) {
  // expected-error @+1 {{'qnn.quantize' op result type: scale tensor has rank 2 but the tensor has rank 3}}
  %q = qnn.quantize %x : tensor<1x4x2xf32> -> tensor<1x4x2x!quant.uniform<i8:f32:{1:2}, {{0.1, 0.2}}>>
  return
}

// -----

func.func @quantize_scale_tensor_shape_mismatch(%x: tensor<2x4xf32>) {
  // Axis 0 is not listed, so it is a single block of 2 rows.
  // expected-error @+1 {{'qnn.quantize' op result type: scale tensor has 2 entries along axis 0 but the tensor has 1 blocks there}}
  %q = qnn.quantize %x : tensor<2x4xf32> -> tensor<2x4x!quant.uniform<i8:f32:{1:2}, {{0.1, 0.2}, {0.3, 0.4}}>>
  return
}

//===----------------------------------------------------------------------===//
// qnn.dequantize
//===----------------------------------------------------------------------===//

// -----

func.func @dequantize_expressed_type_mismatch(%q: tensor<4x!quant.uniform<i8:f32, 0.5>>) {
  // expected-error @+1 {{'qnn.dequantize' op result element type 'bf16' does not match the expressed type 'f32' of '!quant.uniform<i8:f32, 5.000000e-01>'}}
  %x = qnn.dequantize %q : tensor<4x!quant.uniform<i8:f32, 0.5>> -> tensor<4xbf16>
  return
}

// -----

func.func @dequantize_shape_mismatch(%q: tensor<4x!quant.uniform<i8:f32, 0.5>>) {
  // expected-error @+1 {{'qnn.dequantize' op requires the same shape for all operands and results}}
  %x = qnn.dequantize %q : tensor<4x!quant.uniform<i8:f32, 0.5>> -> tensor<2x2xf32>
  return
}

// -----

func.func @dequantize_channel_count_mismatch(%q: tensor<3x!quant.uniform<i8:f32:0, {0.1, 0.2}>>) {
  // expected-error @+1 {{'qnn.dequantize' op input type: channel axis 0 has size 3 but '!quant.uniform<i8:f32:0, {1.000000e-01,2.000000e-01}>' has 2 scales}}
  %x = qnn.dequantize %q : tensor<3x!quant.uniform<i8:f32:0, {0.1, 0.2}>> -> tensor<3xf32>
  return
}

// -----

func.func @dequantize_float_input(%q: tensor<4xf32>) {
  // expected-error @+1 {{'qnn.dequantize' op operand #0 must be ranked tensor of uniform quantized type values}}
  %x = qnn.dequantize %q : tensor<4xf32> -> tensor<4xf32>
  return
}

//===----------------------------------------------------------------------===//
// qnn.requantize
//===----------------------------------------------------------------------===//

// -----

func.func @requantize_expressed_type_mismatch(%q: tensor<4x!quant.uniform<i8:f32, 0.5>>) {
  // expected-error @+1 {{'qnn.requantize' op input expressed type 'f32' differs from result expressed type 'f16'}}
  %r = qnn.requantize %q : tensor<4x!quant.uniform<i8:f32, 0.5>> -> tensor<4x!quant.uniform<i8:f16, 0.5>>
  return
}

// -----

func.func @requantize_shape_mismatch(%q: tensor<4x!quant.uniform<i8:f32, 0.5>>) {
  // expected-error @+1 {{'qnn.requantize' op requires the same shape for all operands and results}}
  %r = qnn.requantize %q : tensor<4x!quant.uniform<i8:f32, 0.5>> -> tensor<8x!quant.uniform<i8:f32, 0.25>>
  return
}

// -----

func.func @requantize_bad_input_type(%q: tensor<2x!quant.uniform<i8:f32:1, {0.1, 0.2}>>) {
  // expected-error @+1 {{'qnn.requantize' op input type: channel axis 1 of '!quant.uniform<i8:f32:1, {1.000000e-01,2.000000e-01}>' is out of range for a tensor of rank 1}}
  %r = qnn.requantize %q : tensor<2x!quant.uniform<i8:f32:1, {0.1, 0.2}>> -> tensor<2x!quant.uniform<i8:f32, 0.25>>
  return
}

// -----

func.func @requantize_bad_result_type(%q: tensor<2x!quant.uniform<i8:f32, 0.5>>) {
  // expected-error @+1 {{'qnn.requantize' op result type: channel axis 0 has size 2 but '!quant.uniform<i8:f32:0, {1.000000e-01,2.000000e-01,3.000000e-01}>' has 3 scales}}
  %r = qnn.requantize %q : tensor<2x!quant.uniform<i8:f32, 0.5>> -> tensor<2x!quant.uniform<i8:f32:0, {0.1, 0.2, 0.3}>>
  return
}

//===----------------------------------------------------------------------===//
// qnn.observe
//===----------------------------------------------------------------------===//

// -----

func.func @observe_empty_id(%x: tensor<4xf32>) {
  // expected-error @+1 {{'qnn.observe' op id must not be empty}}
  %y = qnn.observe %x as "" : tensor<4xf32>
  return
}

// -----

func.func @observe_quantized_input(%q: tensor<4x!quant.uniform<i8:f32, 0.5>>) {
  // expected-error @+1 {{'qnn.observe' op operand #0 must be ranked tensor of 16-bit float or bfloat16 type or 32-bit float or 64-bit float values}}
  %y = "qnn.observe"(%q) {id = "a"} : (tensor<4x!quant.uniform<i8:f32, 0.5>>) -> tensor<4x!quant.uniform<i8:f32, 0.5>>
  return
}

// -----

func.func @observe_type_change(%x: tensor<4xf32>) {
  // expected-error @+1 {{'qnn.observe' op requires the same type for all operands and results}}
  %y = "qnn.observe"(%x) {id = "a"} : (tensor<4xf32>) -> tensor<4xf16>
  return
}

//===----------------------------------------------------------------------===//
// qnn.constant
//===----------------------------------------------------------------------===//

// -----

func.func @constant_dynamic_shape() {
  // expected-error @+1 {{'qnn.constant' op result type 'tensor<?x!quant.uniform<i8:f32, 5.000000e-01>>' must have a static shape}}
  %c = qnn.constant dense<[1, 2]> : tensor<2xi8> -> tensor<?x!quant.uniform<i8:f32, 0.5>>
  return
}

// -----

func.func @constant_shape_mismatch() {
  // expected-error @+1 {{'qnn.constant' op value type 'tensor<2xi8>' does not have the shape of the result type 'tensor<3x!quant.uniform<i8:f32, 5.000000e-01>>'}}
  %c = qnn.constant dense<[1, 2]> : tensor<2xi8> -> tensor<3x!quant.uniform<i8:f32, 0.5>>
  return
}

// -----

func.func @constant_width_mismatch() {
  // expected-error @+1 {{'qnn.constant' op value element type 'i16' does not hold the 8-bit signed storage of '!quant.uniform<i8:f32, 5.000000e-01>'}}
  %c = qnn.constant dense<[1, 2]> : tensor<2xi16> -> tensor<2x!quant.uniform<i8:f32, 0.5>>
  return
}

// -----

func.func @constant_float_value() {
  // expected-error @+1 {{'qnn.constant' op value element type 'f32' does not hold the 8-bit signed storage of '!quant.uniform<i8:f32, 5.000000e-01>'}}
  %c = qnn.constant dense<[1.0, 2.0]> : tensor<2xf32> -> tensor<2x!quant.uniform<i8:f32, 0.5>>
  return
}

// -----

func.func @constant_signedness_mismatch() {
  // expected-error @+1 {{'qnn.constant' op value element type 'si8' does not hold the 8-bit unsigned storage of '!quant.uniform<u8:f32, 5.000000e-01>'}}
  %c = qnn.constant dense<[1, 2]> : tensor<2xsi8> -> tensor<2x!quant.uniform<u8:f32, 0.5>>
  return
}

// -----

func.func @constant_outside_narrow_range() {
  // expected-error @+1 {{'qnn.constant' op stored value -128 at index 1 is outside the storage range [-127, 127] of '!quant.uniform<i8<-127:127>:f32, 5.000000e-01>'}}
  %c = qnn.constant dense<[1, -128]> : tensor<2xi8> -> tensor<2x!quant.uniform<i8<-127:127>:f32, 0.5>>
  return
}

// -----

func.func @constant_unsigned_outside_range() {
  // Signless bits 0xFF are the stored value 255 for u8<0:200>.
  // expected-error @+1 {{'qnn.constant' op stored value 255 at index 0 is outside the storage range [0, 200]}}
  %c = qnn.constant dense<[-1, 2]> : tensor<2xi8> -> tensor<2x!quant.uniform<u8<0:200>:f32, 0.5>>
  return
}

// -----

func.func @constant_channel_count_mismatch() {
  // expected-error @+1 {{'qnn.constant' op result type: channel axis 0 has size 2 but '!quant.uniform<i8:f32:0, {1.000000e-01,2.000000e-01,3.000000e-01}>' has 3 scales}}
  %c = qnn.constant dense<[1, 2]> : tensor<2xi8> -> tensor<2x!quant.uniform<i8:f32:0, {0.1, 0.2, 0.3}>>
  return
}

//===----------------------------------------------------------------------===//
// qnn.rescale
//===----------------------------------------------------------------------===//

// -----

func.func @rescale_per_axis_result(%acc: tensor<2xi32>) {
  // expected-error @+1 {{'qnn.rescale' op result must have a per-tensor quantized type, got '!quant.uniform<i8:f32:0, {1.000000e-01,2.000000e-01}>'}}
  %0 = qnn.rescale %acc multipliers [1] shifts [1] : tensor<2xi32> -> tensor<2x!quant.uniform<i8:f32:0, {0.1, 0.2}>>
  return
}

// -----

func.func @rescale_count_mismatch(%acc: tensor<2xi32>) {
  // expected-error @+1 {{'qnn.rescale' op has 2 multipliers and 1 shifts; expected the same number, at least one}}
  %0 = qnn.rescale %acc multipliers [1, 2] shifts [1] axis 0 : tensor<2xi32> -> tensor<2x!quant.uniform<i8:f32, 0.1>>
  return
}

// -----

func.func @rescale_axis_out_of_range(%acc: tensor<2xi32>) {
  // expected-error @+1 {{'qnn.rescale' op axis 1 is out of range for a tensor of rank 1}}
  %0 = qnn.rescale %acc multipliers [1, 2] shifts [1, 1] axis 1 : tensor<2xi32> -> tensor<2x!quant.uniform<i8:f32, 0.1>>
  return
}

// -----

func.func @rescale_axis_size_mismatch(%acc: tensor<3xi32>) {
  // expected-error @+1 {{'qnn.rescale' op axis 0 has size 3 but there are 2 multipliers}}
  %0 = qnn.rescale %acc multipliers [1, 2] shifts [1, 1] axis 0 : tensor<3xi32> -> tensor<3x!quant.uniform<i8:f32, 0.1>>
  return
}

// -----

func.func @rescale_several_without_axis(%acc: tensor<2xi32>) {
  // expected-error @+1 {{'qnn.rescale' op has 2 multipliers but no axis}}
  %0 = qnn.rescale %acc multipliers [1, 2] shifts [1, 1] : tensor<2xi32> -> tensor<2x!quant.uniform<i8:f32, 0.1>>
  return
}

// -----

func.func @rescale_negative_multiplier(%acc: tensor<2xi32>) {
  // expected-error @+1 {{'qnn.rescale' op multiplier -5 is negative; expected [0, 2^31)}}
  %0 = qnn.rescale %acc multipliers [-5] shifts [1] : tensor<2xi32> -> tensor<2x!quant.uniform<i8:f32, 0.1>>
  return
}

// -----

func.func @rescale_bad_shift(%acc: tensor<2xi32>) {
  // expected-error @+1 {{'qnn.rescale' op shift 63 is outside [1, 62]}}
  %0 = qnn.rescale %acc multipliers [1] shifts [63] : tensor<2xi32> -> tensor<2x!quant.uniform<i8:f32, 0.1>>
  return
}

// -----

func.func @rescale_inverted_clamp(%acc: tensor<2xi32>) {
  // expected-error @+1 {{'qnn.rescale' op clamp must be [lo, hi] with lo <= hi}}
  %0 = qnn.rescale %acc multipliers [1] shifts [1] clamp [5, 4] : tensor<2xi32> -> tensor<2x!quant.uniform<i8:f32, 0.1>>
  return
}

// -----

func.func @rescale_clamp_outside_storage(%acc: tensor<2xi32>) {
  // expected-error @+1 {{'qnn.rescale' op clamp [0, 300] is outside the storage range [-128, 127]}}
  %0 = qnn.rescale %acc multipliers [1] shifts [1] clamp [0, 300] : tensor<2xi32> -> tensor<2x!quant.uniform<i8:f32, 0.1>>
  return
}

// -----

func.func @rescale_i8_accumulator(%acc: tensor<2xi8>) {
  // expected-error @+1 {{'qnn.rescale' op operand #0 must be ranked tensor of 32-bit signless integer or 64-bit signless integer values}}
  %0 = qnn.rescale %acc multipliers [1] shifts [1] : tensor<2xi8> -> tensor<2x!quant.uniform<i8:f32, 0.1>>
  return
}

//===----------------------------------------------------------------------===//
// qnn.add
//===----------------------------------------------------------------------===//

// -----

func.func @add_per_axis_operand(%a: tensor<2x!quant.uniform<i8:f32:0, {0.1, 0.2}>>, %b: tensor<2x!quant.uniform<i8:f32, 0.1>>) {
  // expected-error @+1 {{'qnn.add' op lhs must have a per-tensor quantized type}}
  %0 = qnn.add %a, %b multipliers [1, 1] shift 1 : tensor<2x!quant.uniform<i8:f32:0, {0.1, 0.2}>>, tensor<2x!quant.uniform<i8:f32, 0.1>> -> tensor<2x!quant.uniform<i8:f32, 0.1>>
  return
}

// -----

func.func @add_wide_storage(%a: tensor<2x!quant.uniform<i32:f32, 0.1>>, %b: tensor<2x!quant.uniform<i8:f32, 0.1>>) {
  // expected-error @+1 {{'qnn.add' op lhs storage is wider than 16 bits}}
  %0 = qnn.add %a, %b multipliers [1, 1] shift 1 : tensor<2x!quant.uniform<i32:f32, 0.1>>, tensor<2x!quant.uniform<i8:f32, 0.1>> -> tensor<2x!quant.uniform<i8:f32, 0.1>>
  return
}

// -----

func.func @add_one_multiplier(%a: tensor<2x!quant.uniform<i8:f32, 0.1>>) {
  // expected-error @+1 {{'qnn.add' op expected two multipliers, got 1}}
  %0 = qnn.add %a, %a multipliers [1] shift 1 : tensor<2x!quant.uniform<i8:f32, 0.1>>, tensor<2x!quant.uniform<i8:f32, 0.1>> -> tensor<2x!quant.uniform<i8:f32, 0.1>>
  return
}

// -----

func.func @add_negative_multiplier(%a: tensor<2x!quant.uniform<i8:f32, 0.1>>) {
  // expected-error @+1 {{'qnn.add' op multiplier -1 is negative; expected [0, 2^31)}}
  %0 = qnn.add %a, %a multipliers [1, -1] shift 1 : tensor<2x!quant.uniform<i8:f32, 0.1>>, tensor<2x!quant.uniform<i8:f32, 0.1>> -> tensor<2x!quant.uniform<i8:f32, 0.1>>
  return
}

// -----

func.func @add_bad_shift(%a: tensor<2x!quant.uniform<i8:f32, 0.1>>) {
  // expected-error @+1 {{'qnn.add' op shift 0 is outside [1, 62]}}
  %0 = qnn.add %a, %a multipliers [1, 1] shift 0 : tensor<2x!quant.uniform<i8:f32, 0.1>>, tensor<2x!quant.uniform<i8:f32, 0.1>> -> tensor<2x!quant.uniform<i8:f32, 0.1>>
  return
}

// -----

func.func @add_clamp_outside_storage(%a: tensor<2x!quant.uniform<i8:f32, 0.1>>) {
  // expected-error @+1 {{'qnn.add' op clamp [-200, 0] is outside the storage range [-128, 127]}}
  %0 = qnn.add %a, %a multipliers [1, 1] shift 1 clamp [-200, 0] : tensor<2x!quant.uniform<i8:f32, 0.1>>, tensor<2x!quant.uniform<i8:f32, 0.1>> -> tensor<2x!quant.uniform<i8:f32, 0.1>>
  return
}

// -----

func.func @add_shape_mismatch(%a: tensor<2x!quant.uniform<i8:f32, 0.1>>, %b: tensor<3x!quant.uniform<i8:f32, 0.1>>) {
  // expected-error @+1 {{'qnn.add' op requires the same shape for all operands and results}}
  %0 = qnn.add %a, %b multipliers [1, 1] shift 1 : tensor<2x!quant.uniform<i8:f32, 0.1>>, tensor<3x!quant.uniform<i8:f32, 0.1>> -> tensor<2x!quant.uniform<i8:f32, 0.1>>
  return
}
