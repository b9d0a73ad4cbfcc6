// The float counterpart of scores-int8-k16.mlir: the batch matmul and the
// scaling of the scores (docs/Performance.md).
#map9 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#map10 = affine_map<(d0, d1, d2, d3) -> (d0, d3, d2)>
#map11 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#map6 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
func.func @main(%a: tensor<128x49x16xf32>, %b: tensor<128x16x49xf32>) -> tensor<128x49x49xf32> {
  %z = arith.constant 0.0 : f32
  %cst = arith.constant 0.125 : f32
  %44 = tensor.empty() : tensor<128x49x49xf32>
  %45 = linalg.fill ins(%z : f32) outs(%44 : tensor<128x49x49xf32>) -> tensor<128x49x49xf32>
  %46 = linalg.batch_matmul ins(%a, %b : tensor<128x49x16xf32>, tensor<128x16x49xf32>) outs(%45 : tensor<128x49x49xf32>) -> tensor<128x49x49xf32>
  %49 = tensor.empty() : tensor<128x49x49xf32>
  %50 = linalg.generic {indexing_maps = [#map6, #map6], iterator_types = ["parallel", "parallel", "parallel"]} ins(%46 : tensor<128x49x49xf32>) outs(%49 : tensor<128x49x49xf32>) {
    ^bb0(%in: f32, %out: f32):
      %216 = arith.mulf %in, %cst : f32
      linalg.yield %216 : f32
  } -> tensor<128x49x49xf32>
  return %50 : tensor<128x49x49xf32>
}
