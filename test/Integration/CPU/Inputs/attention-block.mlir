// A float attention-like block: scores = x·xᵀ (49 x 49, a contraction
// with FMAs), softmax over the 49 keys (a max, a sum of 49: split into
// lanes), a mean over 64 channels (a sum of 64) and an erf (a polynomial).
#rows = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
func.func @block(%x: tensor<49x64xf32>) -> (tensor<49x49xf32>, tensor<49xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<49x49xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<49x49xf32>) -> tensor<49x49xf32>
  %s = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %x : tensor<49x64xf32>, tensor<49x64xf32>) outs(%init : tensor<49x49xf32>) -> tensor<49x49xf32>
  %p = linalg.softmax dimension(1) ins(%s : tensor<49x49xf32>) outs(%e : tensor<49x49xf32>) -> tensor<49x49xf32>
  %m = tensor.empty() : tensor<49xf32>
  %mi = linalg.fill ins(%zero : f32) outs(%m : tensor<49xf32>) -> tensor<49xf32>
  %mean = linalg.generic {indexing_maps = [#rows, #row], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<49x64xf32>) outs(%mi : tensor<49xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %g = math.erf %a : f32
    %r = arith.addf %g, %acc : f32
    linalg.yield %r : f32
  } -> tensor<49xf32>
  return %p, %mean : tensor<49x49xf32>, tensor<49xf32>
}
