// A linalg.softmax written directly (not through the ONNX importer, which
// writes generics): decomposed by qnn-decompose-aggregated-ops at the
// start of the CPU and GPU pipelines.
func.func @main(%x: tensor<6x50xf32>) -> tensor<6x50xf32> {
  %e = tensor.empty() : tensor<6x50xf32>
  %r = linalg.softmax dimension(1) ins(%x : tensor<6x50xf32>) outs(%e : tensor<6x50xf32>) -> tensor<6x50xf32>
  return %r : tensor<6x50xf32>
}
