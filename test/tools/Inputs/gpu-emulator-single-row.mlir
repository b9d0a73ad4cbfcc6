// Ops whose every parallel loop has one iteration (a batch of one row),
// for quant-run-cuda-emulator.test: canonicalization inlined such a
// single-iteration scf.parallel before the GPU mapping, and its body (the
// fill of one element, the row's reduction) stayed on the host, touching
// device buffers: qnn-gpu-pipeline failed on any model with a softmax over
// one row.
func.func @softmax_row(%x: tensor<1x10xf32>) -> tensor<1x10xf32> {
  %e = tensor.empty() : tensor<1x10xf32>
  %s = linalg.softmax dimension(1) ins(%x : tensor<1x10xf32>) outs(%e : tensor<1x10xf32>) -> tensor<1x10xf32>
  return %s : tensor<1x10xf32>
}

func.func @sum_row(%x: tensor<1x10xf32>) -> tensor<1xf32> {
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1xf32>
  %i = linalg.fill ins(%z : f32) outs(%e : tensor<1xf32>) -> tensor<1xf32>
  %r = linalg.reduce ins(%x : tensor<1x10xf32>) outs(%i : tensor<1xf32>) dimensions = [1]
    (%a: f32, %b: f32) {
      %s = arith.addf %a, %b : f32
      linalg.yield %s : f32
    }
  return %r : tensor<1xf32>
}
