// RUN: quant-opt %s --qnn-verify-no-quant-types --split-input-file --verify-diagnostics | FileCheck %s

// Integer-only IR passes unchanged.
// CHECK-LABEL: func @clean
// CHECK: return
func.func @clean(%x: tensor<4xi8>) -> tensor<4xi8> {
  return %x : tensor<4xi8>
}

// -----

// expected-error @+1 {{'func.func' still has the quantized type '!quant.uniform<i8:f32, 5.000000e-01>' after lowering to integers}}
func.func private @declaration(tensor<4x!quant.uniform<i8:f32, 0.5>>)

// -----

func.func @result(%x: tensor<4xi8>) {
  // expected-error @+1 {{'quant.scast' still has the quantized type '!quant.uniform<u8:f32, 2.500000e-01:3>' after lowering to integers}}
  %q = quant.scast %x : tensor<4xi8> to tensor<4x!quant.uniform<u8:f32, 0.25:3>>
  return
}

// -----

// Every offending op is reported: the producer, the branch that passes the
// value, and the function whose block takes it as an argument.
// expected-error @+1 {{'func.func' still has the quantized type}}
func.func @block_argument(%i: tensor<4xi8>) {
  // expected-error @+1 {{'quant.scast' still has the quantized type}}
  %q = quant.scast %i : tensor<4xi8> to tensor<4x!quant.uniform<i8:f32, 0.5>>
  // expected-error @+1 {{'cf.br' still has the quantized type}}
  cf.br ^bb1(%q : tensor<4x!quant.uniform<i8:f32, 0.5>>)
^bb1(%a: tensor<4x!quant.uniform<i8:f32, 0.5>>):
  return
}
