// A channel whose weights are almost zero (a BatchNorm with gamma ~ 0 folded
// into the conv, as in EfficientNet-Lite0) but whose bias is not: at its own
// range, s_w = 1e-9 / 127 and the fused bias 1.0 / (s_x s_w) ~ 8e12 would not
// fit in i32. qnn-insert-qdq widens that channel's range so that
// s_w >= |b| / (s_x 2^30) (docs/Calibration.md, "Weights and the bias").
// Input in [-1, 3]: s_x = 4/255, z_x = 64.
//
// RUN: quant-opt %s --qnn-insert-observers --qnn-insert-qdq=statistics=%S/Inputs/mlp-stats.json | FileCheck %s --check-prefix=QDQ
// RUN: quant-opt %s "--qnn-quantize-pipeline=statistics=%S/Inputs/mlp-stats.json lower-to-integers=false" | FileCheck %s --check-prefix=FUSED

// Channel 0: max |w| = 0.5, s = 0.5 / 127 = 0.0039370078...
// Channel 1: R = 1.0 / (s_x 2^30) * 254 / 2, s = R / 127 = 255 / (4 * 2^30)
// = 5.9371814131736755e-08 (instead of 7.9e-12).
// QDQ: qnn.constant {{.*}} -> tensor<2x2x!quant.uniform<i8<-127:127>:f32:1, {0.0039370078{{[0-9]*}},5.93718141{{[0-9]*}}E-8}>>

// Fused start values: channel 0 has no bias: -z_x * (127 + 64) = -12224
// (0.25 / s = 63.5 -> 64, ties to even); channel 1: 1.0 / (s_x s_w) = 2^30
// exactly, and its weights quantize to 0.
// FUSED: arith.constant dense<[-12224, 1073741824]> : tensor<2xi32>
func.func @mlp(%x: tensor<1x2xf32> loc("input")) -> tensor<1x2xf32> {
  %w = arith.constant dense<[[0.5, 1.0e-9], [0.25, -1.0e-9]]> : tensor<2x2xf32>
  %b = arith.constant dense<[0.0, 1.0]> : tensor<2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x2xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<1x2xf32>) -> tensor<1x2xf32>
  %y = linalg.matmul ins(%x, %w : tensor<1x2xf32>, tensor<2x2xf32>) outs(%i : tensor<1x2xf32>) -> tensor<1x2xf32> loc("fc")
  %yb = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
      ins(%y, %b : tensor<1x2xf32>, tensor<2xf32>) outs(%e : tensor<1x2xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %s = arith.addf %a, %c : f32
    linalg.yield %s : f32
  } -> tensor<1x2xf32> loc("fc")
  return %yb : tensor<1x2xf32>
}
