// RUN: quant-opt %s -split-input-file -verify-diagnostics

// Every verifier error of qnn.dynamic_quantize and qnn.dynamic_dequantize.

func.func @symmetric_unsigned(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'qnn.dynamic_quantize' op symmetric dynamic quantization needs signed storage}}
  %q, %s, %z = qnn.dynamic_quantize %x unsigned symmetric : tensor<4x8xf32> -> tensor<4x8xi8>, tensor<4x1xf32>, tensor<4x1xi32>
  return
}

// -----

func.func @shape_mismatch(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'qnn.dynamic_quantize' op result 'tensor<4x7xi8>' must have the shape of the input 'tensor<4x8xf32>'}}
  %q, %s, %z = qnn.dynamic_quantize %x : tensor<4x8xf32> -> tensor<4x7xi8>, tensor<4x1xf32>, tensor<4x1xi32>
  return
}

// -----

func.func @too_wide(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'qnn.dynamic_quantize' op stored values must be 2- to 16-bit integers, got 'i32'}}
  %q, %s, %z = qnn.dynamic_quantize %x : tensor<4x8xf32> -> tensor<4x8xi32>, tensor<4x1xf32>, tensor<4x1xi32>
  return
}

// -----

func.func @rank(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'qnn.dynamic_quantize' op scale 'tensor<4xf32>' must have the rank of 'tensor<4x8xf32>' (size 1 on the axes one parameter covers)}}
  %q, %s, %z = qnn.dynamic_quantize %x : tensor<4x8xf32> -> tensor<4x8xi8>, tensor<4xf32>, tensor<4xi32>
  return
}

// -----

func.func @axis_size(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'qnn.dynamic_quantize' op scale axis 1 has size 2: it must be 1 (reduced) or the size of axis 1 of 'tensor<4x8xf32>'}}
  %q, %s, %z = qnn.dynamic_quantize %x : tensor<4x8xf32> -> tensor<4x8xi8>, tensor<4x2xf32>, tensor<4x2xi32>
  return
}

// -----

func.func @parameter_shapes(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'qnn.dynamic_quantize' op scale 'tensor<4x1xf32>' and zero point 'tensor<1x1xi32>' must have the same shape}}
  %q, %s, %z = qnn.dynamic_quantize %x : tensor<4x8xf32> -> tensor<4x8xi8>, tensor<4x1xf32>, tensor<1x1xi32>
  return
}

// -----

func.func @f16_input(%x: tensor<4x8xf16>) {
  // expected-error @+1 {{'qnn.dynamic_quantize' op operand #0 must be ranked tensor of 32-bit float values}}
  %q, %s, %z = qnn.dynamic_quantize %x : tensor<4x8xf16> -> tensor<4x8xi8>, tensor<4x1xf32>, tensor<4x1xi32>
  return
}

// -----

func.func @dequantize_rank(%q: tensor<4x8xi8>, %s: tensor<1xf32>, %z: tensor<1xi32>) {
  // expected-error @+1 {{'qnn.dynamic_dequantize' op scale 'tensor<1xf32>' must have the rank of 'tensor<4x8xi8>'}}
  %d = qnn.dynamic_dequantize %q, %s, %z : tensor<4x8xi8>, tensor<1xf32>, tensor<1xi32> -> tensor<4x8xf32>
  return
}

// -----

func.func @dequantize_shape(%q: tensor<4x8xi8>, %s: tensor<4x1xf32>, %z: tensor<4x1xi32>) {
  // expected-error @+1 {{'qnn.dynamic_dequantize' op result 'tensor<8x4xf32>' must have the shape of the input 'tensor<4x8xi8>'}}
  %d = qnn.dynamic_dequantize %q, %s, %z : tensor<4x8xi8>, tensor<4x1xf32>, tensor<4x1xi32> -> tensor<8x4xf32>
  return
}
