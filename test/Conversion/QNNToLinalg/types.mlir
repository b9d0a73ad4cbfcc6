// RUN: quant-opt %s --convert-qnn-to-linalg --split-input-file | FileCheck %s

// Quantized types become their storage everywhere: signatures, calls,
// returns, structured control flow; qnn.constant, qnn.observe and
// quant.scast need no arithmetic.

// CHECK-LABEL: func private @callee(tensor<4xi8>) -> tensor<4xi16>
func.func private @callee(tensor<4x!quant.uniform<u8:f32, 0.5:128>>) -> tensor<4x!quant.uniform<i16:f32, 0.25>>

// CHECK-LABEL: func @caller
// CHECK-SAME: (%[[A:.*]]: tensor<4xi8>) -> tensor<4xi16>
// CHECK: %[[R:.*]] = call @callee(%[[A]]) : (tensor<4xi8>) -> tensor<4xi16>
// CHECK: return %[[R]] : tensor<4xi16>
func.func @caller(%a: tensor<4x!quant.uniform<u8:f32, 0.5:128>>) -> tensor<4x!quant.uniform<i16:f32, 0.25>> {
  %r = call @callee(%a) : (tensor<4x!quant.uniform<u8:f32, 0.5:128>>) -> tensor<4x!quant.uniform<i16:f32, 0.25>>
  return %r : tensor<4x!quant.uniform<i16:f32, 0.25>>
}

// -----

// CHECK-LABEL: func @control_flow
// CHECK-SAME: (%[[C:.*]]: i1, %[[A:.*]]: tensor<4xi8>, %[[B:.*]]: tensor<4xi8>) -> tensor<4xi8>
// CHECK: %[[R:.*]] = scf.if %[[C]] -> (tensor<4xi8>) {
// CHECK: scf.yield %[[A]] : tensor<4xi8>
// CHECK: } else {
// CHECK: scf.yield %[[B]] : tensor<4xi8>
// CHECK: return %[[R]]
func.func @control_flow(%c: i1, %a: tensor<4x!quant.uniform<i8:f32, 0.5>>, %b: tensor<4x!quant.uniform<i8:f32, 0.5>>) -> tensor<4x!quant.uniform<i8:f32, 0.5>> {
  %r = scf.if %c -> tensor<4x!quant.uniform<i8:f32, 0.5>> {
    scf.yield %a : tensor<4x!quant.uniform<i8:f32, 0.5>>
  } else {
    scf.yield %b : tensor<4x!quant.uniform<i8:f32, 0.5>>
  }
  return %r : tensor<4x!quant.uniform<i8:f32, 0.5>>
}

// -----

// CHECK-LABEL: func @loop
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%[[ACC:.*]] = %{{.*}}) -> (tensor<4xi8>)
// CHECK: scf.yield %[[ACC]] : tensor<4xi8>
func.func @loop(%a: tensor<4x!quant.uniform<i8:f32, 0.5>>, %n: index) -> tensor<4x!quant.uniform<i8:f32, 0.5>> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %r = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %a) -> tensor<4x!quant.uniform<i8:f32, 0.5>> {
    scf.yield %acc : tensor<4x!quant.uniform<i8:f32, 0.5>>
  }
  return %r : tensor<4x!quant.uniform<i8:f32, 0.5>>
}

// -----

// CHECK-LABEL: func @constants
// CHECK-DAG: %[[W:.*]] = arith.constant dense<{{\[\[}}1, -2], [127, 0]]> : tensor<2x2xi8>
// Unsigned stored values keep their bits in signless i8: 255 is -1.
// CHECK-DAG: %[[U:.*]] = arith.constant dense<[-1, 0, 7]> : tensor<3xi8>
// CHECK: return %[[W]], %[[U]] : tensor<2x2xi8>, tensor<3xi8>
func.func @constants() -> (tensor<2x2x!quant.uniform<i8:f32:0, {0.1, 0.2}>>, tensor<3x!quant.uniform<u8:f32, 1.0:128>>) {
  %w = qnn.constant dense<[[1, -2], [127, 0]]> : tensor<2x2xi8> -> tensor<2x2x!quant.uniform<i8:f32:0, {0.1, 0.2}>>
  %u = qnn.constant dense<[255, 0, 7]> : tensor<3xui8> -> tensor<3x!quant.uniform<u8:f32, 1.0:128>>
  return %w, %u : tensor<2x2x!quant.uniform<i8:f32:0, {0.1, 0.2}>>, tensor<3x!quant.uniform<u8:f32, 1.0:128>>
}

// -----

// CHECK-LABEL: func @observe_and_storage_casts
// CHECK-SAME: (%[[X:.*]]: tensor<4xf32>, %[[I:.*]]: tensor<4xi8>) -> (tensor<4xf32>, tensor<4xi8>)
// CHECK-NOT: qnn.observe
// CHECK-NOT: quant.scast
// CHECK: return %[[X]], %[[I]] : tensor<4xf32>, tensor<4xi8>
func.func @observe_and_storage_casts(%x: tensor<4xf32>, %i: tensor<4xi8>) -> (tensor<4xf32>, tensor<4xi8>) {
  %y = qnn.observe %x as "input" : tensor<4xf32>
  %q = quant.scast %i : tensor<4xi8> to tensor<4x!quant.uniform<i8:f32, 0.5>>
  %j = quant.scast %q : tensor<4x!quant.uniform<i8:f32, 0.5>> to tensor<4xi8>
  return %y, %j : tensor<4xf32>, tensor<4xi8>
}
