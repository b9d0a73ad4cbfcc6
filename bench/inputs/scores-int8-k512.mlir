// P·V of a 128-token attention head batch quantized to u8 with zero points
// (3 and 130), 512 keys: the integer contraction qnn-fuse-quantized-ops
// writes, for timing qnn-integer-contractions-in-f32's chunks against
// scores-f32-k512.mlir (docs/Performance.md).
#a = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#b = affine_map<(d0, d1, d2, d3) -> (d0, d3, d2)>
#z = affine_map<(d0, d1, d2, d3) -> ()>
#o = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
func.func @main(%x: tensor<64x128x512xi8>, %y: tensor<64x512x64xi8>) -> tensor<64x128x64xi32> {
  %za = arith.constant dense<3> : tensor<i32>
  %zb = arith.constant dense<130> : tensor<i32>
  %c0 = arith.constant 0 : i32
  %e = tensor.empty() : tensor<64x128x64xi32>
  %f = linalg.fill ins(%c0 : i32) outs(%e : tensor<64x128x64xi32>) -> tensor<64x128x64xi32>
  %r = linalg.generic {indexing_maps = [#a, #b, #z, #z, #o], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %y, %za, %zb : tensor<64x128x512xi8>, tensor<64x512x64xi8>, tensor<i32>, tensor<i32>) outs(%f : tensor<64x128x64xi32>) {
  ^bb0(%in: i8, %in_125: i8, %in_126: i32, %in_127: i32, %out: i32):
    %413 = arith.extui %in : i8 to i32
    %414 = arith.subi %413, %in_126 : i32
    %415 = arith.extui %in_125 : i8 to i32
    %416 = arith.subi %415, %in_127 : i32
    %417 = arith.muli %414, %416 : i32
    %418 = arith.addi %out, %417 : i32
    linalg.yield %418 : i32
  } -> tensor<64x128x64xi32>
  return %r : tensor<64x128x64xi32>
}
