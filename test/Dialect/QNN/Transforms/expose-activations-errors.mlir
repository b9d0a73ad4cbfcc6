// RUN: quant-opt %s --qnn-expose-activations -verify-diagnostics

// A function with several blocks has no single return to extend.
// expected-error @+1 {{qnn-expose-activations needs a function with one block}}
func.func @branches(%x: tensor<2xf32>, %c: i1) -> tensor<2xf32> {
  cf.cond_br %c, ^a, ^b
^a:
  return %x : tensor<2xf32>
^b:
  return %x : tensor<2xf32>
}
