// RUN: quant-opt %s -split-input-file -verify-diagnostics

// Every verifier error of qnn.lookup, one per split.

func.func @codes_too_wide(%c: tensor<4xi9>, %t: tensor<4x512xf32>) {
  // expected-error @+1 {{'qnn.lookup' op codes must be 1- to 8-bit integers, got 'i9'}}
  %y = qnn.lookup %c, %t axis 0 : tensor<4xi9>, tensor<4x512xf32> -> tensor<4xf32>
  return
}

// -----

func.func @table_size(%c: tensor<4xi2>, %t: tensor<4x3xf32>) {
  // expected-error @+1 {{'qnn.lookup' op codebook must be a static [channels, 4] table for 2-bit codes, got 'tensor<4x3xf32>'}}
  %y = qnn.lookup %c, %t axis 0 : tensor<4xi2>, tensor<4x3xf32> -> tensor<4xf32>
  return
}

// -----

func.func @table_rank(%c: tensor<4xi1>, %t: tensor<2xf32>) {
  // expected-error @+1 {{'qnn.lookup' op codebook must be a static [channels, 2] table for 1-bit codes, got 'tensor<2xf32>'}}
  %y = qnn.lookup %c, %t axis 0 : tensor<4xi1>, tensor<2xf32> -> tensor<4xf32>
  return
}

// -----

func.func @table_dynamic(%c: tensor<4xi1>, %t: tensor<?x2xf32>) {
  // expected-error @+1 {{'qnn.lookup' op codebook must be a static [channels, 2] table for 1-bit codes, got 'tensor<?x2xf32>'}}
  %y = qnn.lookup %c, %t axis 0 : tensor<4xi1>, tensor<?x2xf32> -> tensor<4xf32>
  return
}

// -----

func.func @axis_out_of_range(%c: tensor<4xi1>, %t: tensor<4x2xf32>) {
  // expected-error @+1 {{'qnn.lookup' op axis 1 is out of range for codes of rank 1}}
  %y = qnn.lookup %c, %t axis 1 : tensor<4xi1>, tensor<4x2xf32> -> tensor<4xf32>
  return
}

// -----

func.func @channel_count(%c: tensor<4x3xi1>, %t: tensor<4x2xf32>) {
  // expected-error @+1 {{'qnn.lookup' op codes axis 1 has size 3 but the codebook has 4 channels}}
  %y = qnn.lookup %c, %t axis 1 : tensor<4x3xi1>, tensor<4x2xf32> -> tensor<4x3xf32>
  return
}

// -----

func.func @channel_dynamic(%c: tensor<?xi1>, %t: tensor<4x2xf32>) {
  // expected-error @+1 {{'qnn.lookup' op codes axis 0 has size ? but the codebook has 4 channels}}
  %y = qnn.lookup %c, %t axis 0 : tensor<?xi1>, tensor<4x2xf32> -> tensor<?xf32>
  return
}

// -----

func.func @result_shape(%c: tensor<4xi1>, %t: tensor<4x2xf32>) {
  // expected-error @+1 {{'qnn.lookup' op result type 'tensor<2x2xf32>' does not have the shape of the codes 'tensor<4xi1>'}}
  %y = qnn.lookup %c, %t axis 0 : tensor<4xi1>, tensor<4x2xf32> -> tensor<2x2xf32>
  return
}

// -----

func.func @float_result_type(%c: tensor<4xi1>, %t: tensor<4x2xf32>) {
  // expected-error @+1 {{'qnn.lookup' op result element type 'f16' must be 'f32' for a codebook of 'f32' on axis 0}}
  %y = qnn.lookup %c, %t axis 0 : tensor<4xi1>, tensor<4x2xf32> -> tensor<4xf16>
  return
}

// -----

func.func @per_axis_result_axis(%c: tensor<4x2xi1>, %t: tensor<2x2x!quant.uniform<i8:f32:0, {0.1, 0.2}>>) {
  // expected-error @+1 {{'qnn.lookup' op result element type '!quant.uniform<i8:f32:0, {1.000000e-01,2.000000e-01}>' must be '!quant.uniform<i8:f32:1, {1.000000e-01,2.000000e-01}>' for a codebook of '!quant.uniform<i8:f32:0, {1.000000e-01,2.000000e-01}>' on axis 1}}
  %y = qnn.lookup %c, %t axis 1 : tensor<4x2xi1>, tensor<2x2x!quant.uniform<i8:f32:0, {0.1, 0.2}>>
      -> tensor<4x2x!quant.uniform<i8:f32:0, {0.1, 0.2}>>
  return
}

// -----

func.func @per_axis_result_scales(%c: tensor<2xi1>, %t: tensor<2x2x!quant.uniform<i8:f32:0, {0.1, 0.2}>>) {
  // expected-error @+1 {{'qnn.lookup' op result element type '!quant.uniform<i8:f32:0, {1.000000e-01,3.000000e-01}>' must be '!quant.uniform<i8:f32:0, {1.000000e-01,2.000000e-01}>'}}
  %y = qnn.lookup %c, %t axis 0 : tensor<2xi1>, tensor<2x2x!quant.uniform<i8:f32:0, {0.1, 0.2}>>
      -> tensor<2x!quant.uniform<i8:f32:0, {0.1, 0.3}>>
  return
}

// -----

func.func @per_axis_table_axis(%c: tensor<2xi1>, %t: tensor<2x2x!quant.uniform<i8:f32:1, {0.1, 0.2}>>) {
  // expected-error @+1 {{'qnn.lookup' op codebook's per-axis type must be on axis 0 (one scale per channel), got axis 1}}
  %y = qnn.lookup %c, %t axis 0 : tensor<2xi1>, tensor<2x2x!quant.uniform<i8:f32:1, {0.1, 0.2}>>
      -> tensor<2x!quant.uniform<i8:f32:0, {0.1, 0.2}>>
  return
}

// -----

func.func @per_axis_table_scales(%c: tensor<2xi1>, %t: tensor<2x2x!quant.uniform<i8:f32:0, {0.1, 0.2, 0.3}>>) {
  // expected-error @+1 {{'qnn.lookup' op codebook type: }}
  %y = qnn.lookup %c, %t axis 0 : tensor<2xi1>, tensor<2x2x!quant.uniform<i8:f32:0, {0.1, 0.2, 0.3}>>
      -> tensor<2x!quant.uniform<i8:f32:0, {0.1, 0.2, 0.3}>>
  return
}

// -----

func.func @per_tensor_result(%c: tensor<2xi1>, %t: tensor<2x2x!quant.uniform<i8:f32, 0.5>>) {
  // expected-error @+1 {{'qnn.lookup' op result element type '!quant.uniform<i8:f32, 2.500000e-01>' must be '!quant.uniform<i8:f32, 5.000000e-01>'}}
  %y = qnn.lookup %c, %t axis 0 : tensor<2xi1>, tensor<2x2x!quant.uniform<i8:f32, 0.5>>
      -> tensor<2x!quant.uniform<i8:f32, 0.25>>
  return
}

// -----

func.func @sub_channel_table(%c: tensor<2xi1>, %t: tensor<2x2x!quant.uniform<i8:f32:{0:1}, {{0.1}, {0.2}}>>) {
  // expected-error @+1 {{'qnn.lookup' op codebook must hold floats or a per-tensor or per-axis quantized type}}
  %y = qnn.lookup %c, %t axis 0 : tensor<2xi1>, tensor<2x2x!quant.uniform<i8:f32:{0:1}, {{0.1}, {0.2}}>>
      -> tensor<2xf32>
  return
}

// -----

func.func @codes_not_integer(%c: tensor<2xf32>, %t: tensor<2x2xf32>) {
  // expected-error @+1 {{'qnn.lookup' op operand #0 must be ranked tensor of signless integer values}}
  %y = qnn.lookup %c, %t axis 0 : tensor<2xf32>, tensor<2x2xf32> -> tensor<2xf32>
  return
}
