// RUN: quant-opt %s | quant-opt | FileCheck %s
// RUN: quant-opt %s --mlir-print-op-generic | quant-opt | FileCheck %s
// RUN: quant-opt %s --emit-bytecode | quant-opt | FileCheck %s

// Round trip of every qnn op, in its custom form, its generic form and
// bytecode, over the three upstream quantized types.

// CHECK-LABEL: func @quantize_per_tensor
// CHECK-SAME: %[[X:.*]]: tensor<4xf32>
func.func @quantize_per_tensor(%x: tensor<4xf32>) -> tensor<4x!quant.uniform<i8:f32, 5.000000e-01:-3>> {
  // CHECK: qnn.quantize %[[X]] : tensor<4xf32> -> tensor<4x!quant.uniform<i8:f32, 5.000000e-01:-3>>
  %q = qnn.quantize %x : tensor<4xf32> -> tensor<4x!quant.uniform<i8:f32, 0.5:-3>>
  return %q : tensor<4x!quant.uniform<i8:f32, 0.5:-3>>
}

// The default rounding mode is not printed; the others are.
// CHECK-LABEL: func @quantize_rounding_modes
func.func @quantize_rounding_modes(%x: tensor<4xf32>) {
  // CHECK: qnn.quantize %{{.*}} : tensor<4xf32>
  %0 = qnn.quantize %x rounding<half_to_even> : tensor<4xf32> -> tensor<4x!quant.uniform<i8:f32, 0.5>>
  // CHECK: qnn.quantize %{{.*}} rounding<half_away_from_zero> : tensor<4xf32>
  %1 = qnn.quantize %x rounding<half_away_from_zero> : tensor<4xf32> -> tensor<4x!quant.uniform<i8:f32, 0.5>>
  // CHECK: qnn.quantize %{{.*}} rounding<toward_zero> : tensor<4xf32>
  %2 = qnn.quantize %x rounding<toward_zero> : tensor<4xf32> -> tensor<4x!quant.uniform<i8:f32, 0.5>>
  return
}

// CHECK-LABEL: func @quantize_per_axis_narrow_unsigned
func.func @quantize_per_axis_narrow_unsigned(%x: tensor<2x3xf16>) -> tensor<2x3x!quant.uniform<u8<1:255>:f16:1, {1.000000e-01:128,2.000000e-01:120,3.000000e-01:100}>> {
  // CHECK: qnn.quantize %{{.*}} : tensor<2x3xf16> -> tensor<2x3x!quant.uniform<u8<1:255>:f16:1, {1.000000e-01:128,2.000000e-01:120,3.000000e-01:100}>>
  %q = qnn.quantize %x : tensor<2x3xf16> -> tensor<2x3x!quant.uniform<u8<1:255>:f16:1, {0.1:128, 0.2:120, 0.3:100}>>
  return %q : tensor<2x3x!quant.uniform<u8<1:255>:f16:1, {0.1:128, 0.2:120, 0.3:100}>>
}

// CHECK-LABEL: func @quantize_sub_channel
func.func @quantize_sub_channel(%x: tensor<2x4xf32>) -> tensor<2x4x!quant.uniform<i4:f32:{0:1, 1:2}, {{0.1, 0.2}, {0.3, 0.4}}>> {
  // CHECK: qnn.quantize %{{.*}} : tensor<2x4xf32> -> tensor<2x4x!quant.uniform<i4:f32:{0:1, 1:2}, {{[{][{]}}1.000000e-01, 2.000000e-01}, {3.000000e-01, 4.000000e-01}}>>
  %q = qnn.quantize %x : tensor<2x4xf32> -> tensor<2x4x!quant.uniform<i4:f32:{0:1, 1:2}, {{0.1, 0.2}, {0.3, 0.4}}>>
  return %q : tensor<2x4x!quant.uniform<i4:f32:{0:1, 1:2}, {{0.1, 0.2}, {0.3, 0.4}}>>
}

// Dynamic dimensions are allowed away from the channel axis.
// CHECK-LABEL: func @dequantize_dynamic
func.func @dequantize_dynamic(%q: tensor<?x3x!quant.uniform<i8:f32:1, {0.1, 0.2, 0.3}>>) -> tensor<?x3xf32> {
  // CHECK: qnn.dequantize %{{.*}} : tensor<?x3x!quant.uniform<i8:f32:1, {1.000000e-01,2.000000e-01,3.000000e-01}>> -> tensor<?x3xf32>
  %x = qnn.dequantize %q : tensor<?x3x!quant.uniform<i8:f32:1, {0.1, 0.2, 0.3}>> -> tensor<?x3xf32>
  return %x : tensor<?x3xf32>
}

// CHECK-LABEL: func @requantize
func.func @requantize(%q: tensor<4x!quant.uniform<i8:f32, 0.5>>) -> tensor<4x!quant.uniform<u8:f32, 2.500000e-01:128>> {
  // CHECK: qnn.requantize %{{.*}} rounding<toward_zero> : tensor<4x!quant.uniform<i8:f32, 5.000000e-01>> -> tensor<4x!quant.uniform<u8:f32, 2.500000e-01:128>>
  %r = qnn.requantize %q rounding<toward_zero> : tensor<4x!quant.uniform<i8:f32, 0.5>> -> tensor<4x!quant.uniform<u8:f32, 0.25:128>>
  return %r : tensor<4x!quant.uniform<u8:f32, 0.25:128>>
}

// CHECK-LABEL: func @observe
func.func @observe(%x: tensor<1x8xbf16>) -> tensor<1x8xbf16> {
  // CHECK: qnn.observe %{{.*}} as "layer1/relu" : tensor<1x8xbf16>
  %y = qnn.observe %x as "layer1/relu" : tensor<1x8xbf16>
  return %y : tensor<1x8xbf16>
}

// CHECK-LABEL: func @constant
func.func @constant() -> (tensor<2x2x!quant.uniform<i8:f32:0, {1.000000e-01,2.000000e-01}>>, tensor<2x!quant.uniform<u8:f32, 1.000000e+00:128>>) {
  // CHECK: qnn.constant dense<{{\[\[}}1, -2], [127, 0]]> : tensor<2x2xi8> -> tensor<2x2x!quant.uniform<i8:f32:0, {1.000000e-01,2.000000e-01}>>
  %w = qnn.constant dense<[[1, -2], [127, 0]]> : tensor<2x2xi8> -> tensor<2x2x!quant.uniform<i8:f32:0, {0.1, 0.2}>>
  // CHECK: qnn.constant dense<[255, 0]> : tensor<2xui8> -> tensor<2x!quant.uniform<u8:f32, 1.000000e+00:128>>
  %u = qnn.constant dense<[255, 0]> : tensor<2xui8> -> tensor<2x!quant.uniform<u8:f32, 1.0:128>>
  return %w, %u : tensor<2x2x!quant.uniform<i8:f32:0, {0.1, 0.2}>>, tensor<2x!quant.uniform<u8:f32, 1.0:128>>
}

// CHECK-LABEL: func @rescale
func.func @rescale(%acc: tensor<4x2xi32>) -> (tensor<4x2x!quant.uniform<i8:f32, 5.000000e-02:-3>>, tensor<4x2x!quant.uniform<u8:f32, 1.000000e+00:5>>) {
  // CHECK: qnn.rescale %{{.*}} multipliers [1518500250, 1073741824] shifts [38, 37] axis 1 clamp [-3, 127] : tensor<4x2xi32> -> tensor<4x2x!quant.uniform<i8:f32, 5.000000e-02:-3>>
  %0 = qnn.rescale %acc multipliers [1518500250, 1073741824] shifts [38, 37] axis 1 clamp [-3, 127] : tensor<4x2xi32> -> tensor<4x2x!quant.uniform<i8:f32, 0.05:-3>>
  // CHECK: qnn.rescale %{{.*}} multipliers [1073741824] shifts [31] rounding<toward_zero> : tensor<4x2xi32>
  %1 = qnn.rescale %acc multipliers [1073741824] shifts [31] rounding<toward_zero> : tensor<4x2xi32> -> tensor<4x2x!quant.uniform<u8:f32, 1.0:5>>
  return %0, %1 : tensor<4x2x!quant.uniform<i8:f32, 0.05:-3>>, tensor<4x2x!quant.uniform<u8:f32, 1.0:5>>
}

// CHECK-LABEL: func @add
func.func @add(%a: tensor<4x!quant.uniform<u8:f32, 0.5:128>>, %b: tensor<4x!quant.uniform<i8:f32, 0.25>>) -> tensor<4x!quant.uniform<u8:f32, 1.0:128>> {
  // CHECK: qnn.add %{{.*}}, %{{.*}} multipliers [1073741824, 536870912] shift 31 clamp [128, 255] : tensor<4x!quant.uniform<u8:f32, 5.000000e-01:128>>, tensor<4x!quant.uniform<i8:f32, 2.500000e-01>> -> tensor<4x!quant.uniform<u8:f32, 1.000000e+00:128>>
  %y = qnn.add %a, %b multipliers [1073741824, 536870912] shift 31 clamp [128, 255] : tensor<4x!quant.uniform<u8:f32, 0.5:128>>, tensor<4x!quant.uniform<i8:f32, 0.25>> -> tensor<4x!quant.uniform<u8:f32, 1.0:128>>
  return %y : tensor<4x!quant.uniform<u8:f32, 1.0:128>>
}
