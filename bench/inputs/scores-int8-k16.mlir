// Attention's scores Q·Kᵀ of the int8 fashion-transformer at batch 64 (64
// images x 2 heads, 49 tokens, 16 channels, u8 with zero points 128 and 136), as
// qnn-fuse-quantized-ops and convert-qnn-to-linalg write them: the integer
// contraction, its requantization and the dequantization the softmax reads;
// for timing against scores-f32-k16.mlir (docs/Performance.md).
#map9 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#map10 = affine_map<(d0, d1, d2, d3) -> (d0, d3, d2)>
#map11 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#map6 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
func.func @main(%a: tensor<128x49x16xi8>, %b: tensor<128x16x49xi8>) -> tensor<128x49x49xf32> {
  %c0_i32 = arith.constant 0 : i32
  %c128_i32 = arith.constant 128 : i32
  %c136_i32 = arith.constant 136 : i32
  %c129_i32 = arith.constant 129 : i32
  %c1105222401_i64 = arith.constant 1105222401 : i64
  %c39_i64 = arith.constant 39 : i64
  %c1_i64 = arith.constant 1 : i64
  %c274877906943_i64 = arith.constant 274877906943 : i64
  %cm129 = arith.constant -129 : i32
  %c126 = arith.constant 126 : i32
  %cst = arith.constant 0.125 : f32
  %44 = tensor.empty() : tensor<128x49x49xi32>
  %45 = linalg.fill ins(%c0_i32 : i32) outs(%44 : tensor<128x49x49xi32>) -> tensor<128x49x49xi32>
  %46 = linalg.generic {indexing_maps = [#map9, #map10, #map11], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%a, %b : tensor<128x49x16xi8>, tensor<128x16x49xi8>) outs(%45 : tensor<128x49x49xi32>) {
    ^bb0(%in: i8, %in_143: i8, %out: i32):
      %213 = arith.extui %in : i8 to i32
      %214 = arith.subi %213, %c128_i32 : i32
      %215 = arith.extui %in_143 : i8 to i32
      %216 = arith.subi %215, %c136_i32 : i32
      %217 = arith.muli %214, %216 : i32
      %218 = arith.addi %out, %217 : i32
      linalg.yield %218 : i32
  } -> tensor<128x49x49xi32>
  %47 = tensor.empty() : tensor<128x49x49xi8>
  %48 = linalg.generic {indexing_maps = [#map6, #map6], iterator_types = ["parallel", "parallel", "parallel"]} ins(%46 : tensor<128x49x49xi32>) outs(%47 : tensor<128x49x49xi8>) {
    ^bb0(%in: i32, %out: i8):
      %213 = arith.extsi %in : i32 to i64
      %214 = arith.muli %213, %c1105222401_i64 : i64
      %215 = arith.shrsi %214, %c39_i64 : i64
      %216 = arith.andi %215, %c1_i64 : i64
      %217 = arith.addi %214, %c274877906943_i64 : i64
      %218 = arith.addi %217, %216 : i64
      %219 = arith.shrsi %218, %c39_i64 : i64
      %220 = arith.trunci %219 : i64 to i32
      %221 = arith.maxsi %220, %cm129 : i32
      %222 = arith.minsi %221, %c126 : i32
      %223 = arith.addi %222, %c129_i32 : i32
      %224 = arith.trunci %223 : i32 to i8
      linalg.yield %224 : i8
  } -> tensor<128x49x49xi8>
  %49 = tensor.empty() : tensor<128x49x49xf32>
  %50 = linalg.generic {indexing_maps = [#map6, #map6], iterator_types = ["parallel", "parallel", "parallel"]} ins(%48 : tensor<128x49x49xi8>) outs(%49 : tensor<128x49x49xf32>) {
    ^bb0(%in: i8, %out: f32):
      %213 = arith.extui %in : i8 to i32
      %214 = arith.subi %213, %c129_i32 : i32
      %215 = arith.sitofp %214 : i32 to f32
      %216 = arith.mulf %215, %cst : f32
      linalg.yield %216 : f32
  } -> tensor<128x49x49xf32>
  return %50 : tensor<128x49x49xf32>
}
