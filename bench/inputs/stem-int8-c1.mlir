// The first layer of the int8 fashion-mobilenet at batch 64, as
// qnn-fuse-quantized-ops writes it: the quantization of the one-channel
// NCHW input, its transpose to NHWC and padding, the 3x3 stride-2
// convolution to 16 channels with its bias and per-channel requantization;
// input build/bench-models/fashion-mobilenet-b64/x.npy (docs/Performance.md).
#map = affine_map<(d0, d1, d2, d3) -> (d3)>
#map1 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#map2 = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d1 * 2 + d4, d2 * 2 + d5, d6)>
#map3 = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d4, d5, d6, d3)>
#map4 = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d1, d2, d3)>
#map5 = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1 * 2 + d4, d2 * 2 + d5, d3)>
#map6 = affine_map<(d0, d1, d2, d3, d4, d5) -> (d4, d5, d3)>
#map7 = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2, d3)>
#map8 = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d1 + d4, d2 + d5, d6)>
#map9 = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1 + d4, d2 + d5, d3)>
#map10 = affine_map<(d0, d1, d2, d3, d4, d5) -> (d4, d5)>
#map11 = affine_map<(d0, d1) -> (d1)>
#map12 = affine_map<(d0, d1) -> (d0, d1)>
#map13 = affine_map<(d0, d1, d2) -> (d0, d2)>
func.func @main(%arg0: tensor<64x1x28x28xf32>) -> tensor<64x14x14x16xi8> {
    %cst_13 = arith.constant dense<[4052, 6342, -2373, 30289, 5198, 7969, 3221, 15812, 5427, 4300, -1837, 4021, 4112, 22313, 30387, 11773]> : tensor<16xi32>
    %cst_14 = arith.constant dense<"0x10BFD981F7180E7F003BF60714F093FE199BB4C52D7FF06412480CE6E1EC91D3D1F9F7EF1128DF0BFC811108FBCAD3A181DE04E70406FF1D24371781311081609F81D7E4FA49F102062B1DA1960FD173F3FA428FDC1A81BDCFADDBBE1881EF4C2DFF040DF9241530E8FC25F62E22DA7F1FE6390181010624CB554FED81E60F6705087FB49DF5E3DD819B81B0FBAE1CC1"> : tensor<3x3x1x16xi8>
    %c0_i8 = arith.constant 0 : i8
    %0 = qnn.quantize %arg0 : tensor<64x1x28x28xf32> -> tensor<64x1x28x28x!quant.uniform<u8:f32, 0.0039215686274509803>>
    %1 = quant.scast %0 : tensor<64x1x28x28x!quant.uniform<u8:f32, 0.0039215686274509803>> to tensor<64x1x28x28xi8>
    %2 = tensor.empty() : tensor<64x28x28x1xi8>
    %transposed = linalg.transpose ins(%1 : tensor<64x1x28x28xi8>) outs(%2 : tensor<64x28x28x1xi8>) permutation = [0, 2, 3, 1] 
    %padded = tensor.pad %transposed low[0, 1, 1, 0] high[0, 1, 1, 0] {
    ^bb0(%arg1: index, %arg2: index, %arg3: index, %arg4: index):
      tensor.yield %c0_i8 : i8
    } : tensor<64x28x28x1xi8> to tensor<64x30x30x1xi8>
    %3 = tensor.empty() : tensor<64x14x14x16xi32>
    %4 = linalg.generic {indexing_maps = [#map, #map1], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%cst_13 : tensor<16xi32>) outs(%3 : tensor<64x14x14x16xi32>) {
    ^bb0(%in: i32, %out: i32):
      linalg.yield %in : i32
    } -> tensor<64x14x14x16xi32>
    %5 = linalg.generic {indexing_maps = [#map2, #map3, #map4], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]} ins(%padded, %cst_14 : tensor<64x30x30x1xi8>, tensor<3x3x1x16xi8>) outs(%4 : tensor<64x14x14x16xi32>) {
    ^bb0(%in: i8, %in_19: i8, %out: i32):
      %51 = arith.extui %in : i8 to i32
      %52 = arith.extsi %in_19 : i8 to i32
      %53 = arith.muli %51, %52 : i32
      %54 = arith.addi %out, %53 : i32
      linalg.yield %54 : i32
    } -> tensor<64x14x14x16xi32>
    %6 = qnn.rescale %5 multipliers [1112564052, 1997002288, 1445759764, 1970653553, 1678014015, 1550761696, 1886754052, 1641149747, 2081815319, 1673960349, 1691665026, 1632076593, 1237932720, 1304699552, 1936400035, 1408825294] shifts [39, 41, 39, 40, 40, 41, 40, 41, 40, 39, 38, 41, 39, 39, 40, 41] axis 3 clamp [0, 255] : tensor<64x14x14x16xi32> -> tensor<64x14x14x16x!quant.uniform<u8:f32, 0.022599489548627068>>
    %7 = quant.scast %6 : tensor<64x14x14x16x!quant.uniform<u8:f32, 0.022599489548627068>> to tensor<64x14x14x16xi8>
  func.return %7 : tensor<64x14x14x16xi8>
}
