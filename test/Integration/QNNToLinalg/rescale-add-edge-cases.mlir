// RUN: quant-opt %s --qnn-reference-cpu-pipeline \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:     -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | FileCheck %s

// Executed qnn.rescale and qnn.add; each expected value worked by hand.

!o = !quant.uniform<i8:f32, 1.0:-3>
!c = !quant.uniform<i8:f32, 1.0>
!a = !quant.uniform<u8:f32, 0.5:128>
!b = !quant.uniform<i8:f32, 0.25>
!y = !quant.uniform<u8:f32, 1.0:128>

func.func @half(%a: tensor<6xi32>) -> tensor<6x!o> {
  %q = qnn.rescale %a multipliers [1073741824] shifts [31] : tensor<6xi32> -> tensor<6x!o>
  return %q : tensor<6x!o>
}
func.func @half_away(%a: tensor<6xi32>) -> tensor<6x!o> {
  %q = qnn.rescale %a multipliers [1073741824] shifts [31] rounding<half_away_from_zero> : tensor<6xi32> -> tensor<6x!o>
  return %q : tensor<6x!o>
}
func.func @half_toward_zero(%a: tensor<6xi32>) -> tensor<6x!o> {
  %q = qnn.rescale %a multipliers [1073741824] shifts [31] rounding<toward_zero> : tensor<6xi32> -> tensor<6x!o>
  return %q : tensor<6x!o>
}
func.func @per_channel(%a: tensor<2x2xi32>) -> tensor<2x2x!c> {
  %q = qnn.rescale %a multipliers [1073741824, 1073741824] shifts [31, 32] axis 1 clamp [-1, 127] : tensor<2x2xi32> -> tensor<2x2x!c>
  return %q : tensor<2x2x!c>
}
func.func @extremes(%a: tensor<2xi32>) -> tensor<2x!c> {
  %q = qnn.rescale %a multipliers [2147483647] shifts [62] : tensor<2xi32> -> tensor<2x!c>
  return %q : tensor<2x!c>
}
// Shifts of 32 or more: the zero point and the clamp are done in i32.
func.func @quarter(%a: tensor<6xi32>) -> tensor<6x!o> {
  %q = qnn.rescale %a multipliers [1073741824] shifts [32] : tensor<6xi32> -> tensor<6x!o>
  return %q : tensor<6x!o>
}
func.func @per_channel_narrow(%a: tensor<2x2xi32>) -> tensor<2x2x!c> {
  %q = qnn.rescale %a multipliers [1073741824, 1073741824] shifts [32, 33] axis 1 clamp [-1, 127] : tensor<2x2xi32> -> tensor<2x2x!c>
  return %q : tensor<2x2x!c>
}
func.func @add(%a: tensor<4x!a>, %b: tensor<4x!b>) -> tensor<4x!y> {
  %y = qnn.add %a, %b multipliers [1073741824, 536870912] shift 31 clamp [128, 255] : tensor<4x!a>, tensor<4x!b> -> tensor<4x!y>
  return %y : tensor<4x!y>
}

func.func @main() {
  // m = 2^30, n = 31 multiplies by 1/2; z = -3.
  // 3 -> 1.5 -> 2, 5 -> 2.5 -> 2, -3 -> -2, -5 -> -2, 7 -> 3.5 -> 4,
  // 1000 -> 500 -> saturates; then -3: -1, -1, -5, -5, 1, 127.
  // CHECK: [-1,  -1,  -5,  -5,  1,  127]
  // Away from zero: 2, 3, -2, -3, 4, 500 -> -1, 0, -5, -6, 1, 127.
  // CHECK: [-1,  0,  -5,  -6,  1,  127]
  // Toward zero: 1, 2, -1, -2, 3, 500 -> -2, -1, -4, -5, 0, 127.
  // CHECK: [-2,  -1,  -4,  -5,  0,  127]
  %a = arith.constant dense<[3, 5, -3, -5, 7, 1000]> : tensor<6xi32>
  %r0 = call @half(%a) : (tensor<6xi32>) -> tensor<6x!o>
  %s0 = quant.scast %r0 : tensor<6x!o> to tensor<6xi8>
  %d0 = tensor.cast %s0 : tensor<6xi8> to tensor<?xi8>
  call @print_i8(%d0) : (tensor<?xi8>) -> ()
  %r1 = call @half_away(%a) : (tensor<6xi32>) -> tensor<6x!o>
  %s1 = quant.scast %r1 : tensor<6x!o> to tensor<6xi8>
  %d1 = tensor.cast %s1 : tensor<6xi8> to tensor<?xi8>
  call @print_i8(%d1) : (tensor<?xi8>) -> ()
  %r2 = call @half_toward_zero(%a) : (tensor<6xi32>) -> tensor<6x!o>
  %s2 = quant.scast %r2 : tensor<6x!o> to tensor<6xi8>
  %d2 = tensor.cast %s2 : tensor<6xi8> to tensor<?xi8>
  call @print_i8(%d2) : (tensor<?xi8>) -> ()

  // Column 0 times 1/2, column 1 times 1/4, clamped to [-1, 127]:
  // 4 -> 2, -6 -> -3 -> -1; 4 -> 1, 6 -> 1.5 -> 2.
  // CHECK: [2,  1,  -1,  2]
  %c = arith.constant dense<[[4, 4], [-6, 6]]> : tensor<2x2xi32>
  %r3 = call @per_channel(%c) : (tensor<2x2xi32>) -> tensor<2x2x!c>
  %s3 = quant.scast %r3 : tensor<2x2x!c> to tensor<2x2xi8>
  %f3 = tensor.collapse_shape %s3 [[0, 1]] : tensor<2x2xi8> into tensor<4xi8>
  %d3 = tensor.cast %f3 : tensor<4xi8> to tensor<?xi8>
  call @print_i8(%d3) : (tensor<?xi8>) -> ()

  // m = 2^30, n = 32 multiplies by 1/4; z = -3: 2 -> 0.5 -> 0, 6 -> 1.5
  // -> 2, -2 -> 0, -6 -> -2, 2^31 - 1 -> 536870912 (saturates),
  // -2^31 -> -536870912 (saturates); then -3: -3, -1, -3, -5, 127, -128.
  // CHECK: [-3,  -1,  -3,  -5,  127,  -128]
  %q4 = arith.constant dense<[2, 6, -2, -6, 2147483647, -2147483648]> : tensor<6xi32>
  %rq = call @quarter(%q4) : (tensor<6xi32>) -> tensor<6x!o>
  %sq = quant.scast %rq : tensor<6x!o> to tensor<6xi8>
  %dq = tensor.cast %sq : tensor<6xi8> to tensor<?xi8>
  call @print_i8(%dq) : (tensor<?xi8>) -> ()

  // Column 0 times 1/4, column 1 times 1/8, clamped to [-1, 127]:
  // 4 -> 1, -6 -> -1.5 -> -2 -> -1; 4 -> 0.5 -> 0, 6 -> 0.75 -> 1.
  // CHECK: [1,  0,  -1,  1]
  %rn = call @per_channel_narrow(%c) : (tensor<2x2xi32>) -> tensor<2x2x!c>
  %sn = quant.scast %rn : tensor<2x2x!c> to tensor<2x2xi8>
  %fn = tensor.collapse_shape %sn [[0, 1]] : tensor<2x2xi8> into tensor<4xi8>
  %dn = tensor.cast %fn : tensor<4xi8> to tensor<?xi8>
  call @print_i8(%dn) : (tensor<?xi8>) -> ()

  // The largest products: (2^31 - 1)^2 / 2^62 = 1 - 2^-30 - ... -> 1, and
  // -2^31 (2^31 - 1) / 2^62 = -1 + 2^-31 -> -1 (exact in i64, a float
  // would not tell them from 1 and -1 anyway, but would overflow first).
  // CHECK: [1,  -1]
  %e = arith.constant dense<[2147483647, -2147483648]> : tensor<2xi32>
  %r4 = call @extremes(%e) : (tensor<2xi32>) -> tensor<2x!c>
  %s4 = quant.scast %r4 : tensor<2x!c> to tensor<2xi8>
  %d4 = tensor.cast %s4 : tensor<2xi8> to tensor<?xi8>
  call @print_i8(%d4) : (tensor<?xi8>) -> ()

  // (a - 128) / 2 + b / 4, + 128, clamped to [128, 255] (a ReLU):
  // 130, 2: 1 + 0.5 = 1.5 -> 2 -> 130; 128, -4: -1 -> 127 -> 128;
  // 100, 8: -14 + 2 = -12 -> 116 -> 128; 255, 127: 63.5 + 31.75 = 95.25 -> 95 -> 223.
  // CHECK: [130,  128,  128,  223]
  %av = arith.constant dense<[-126, -128, 100, -1]> : tensor<4xi8>
  %bv = arith.constant dense<[2, -4, 8, 127]> : tensor<4xi8>
  %aq = quant.scast %av : tensor<4xi8> to tensor<4x!a>
  %bq = quant.scast %bv : tensor<4xi8> to tensor<4x!b>
  %r5 = call @add(%aq, %bq) : (tensor<4x!a>, tensor<4x!b>) -> tensor<4x!y>
  %s5 = quant.scast %r5 : tensor<4x!y> to tensor<4xi8>
  %d5 = tensor.cast %s5 : tensor<4xi8> to tensor<?xi8>
  call @print_u8(%d5) : (tensor<?xi8>) -> ()
  return
}

func.func @print_i8(%t: tensor<?xi8>) {
  %w = arith.extsi %t : tensor<?xi8> to tensor<?xi32>
  %u = tensor.cast %w : tensor<?xi32> to tensor<*xi32>
  call @printMemrefI32(%u) : (tensor<*xi32>) -> ()
  return
}
func.func @print_u8(%t: tensor<?xi8>) {
  %w = arith.extui %t : tensor<?xi8> to tensor<?xi32>
  %u = tensor.cast %w : tensor<?xi32> to tensor<*xi32>
  call @printMemrefI32(%u) : (tensor<*xi32>) -> ()
  return
}
func.func private @printMemrefI32(tensor<*xi32>) attributes { llvm.emit_c_interface }
