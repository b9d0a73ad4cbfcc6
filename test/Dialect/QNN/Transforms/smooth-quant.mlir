// RUN: quant-opt %s "--qnn-smooth-quant=statistics=%S/Inputs/smooth-quant-stats.json alpha=0.5" --split-input-file 2>&1 | FileCheck %s
// RUN: not quant-opt %s "--qnn-smooth-quant=statistics=%S/Inputs/smooth-quant-no-max.json" --split-input-file 2>&1 | FileCheck %s --check-prefix=NOMAX
// RUN: not quant-opt %s "--qnn-smooth-quant=statistics=%S/Inputs/smooth-quant-stats.json alpha=1.5" 2>&1 | FileCheck %s --check-prefix=ALPHA
// RUN: not quant-opt %s --qnn-smooth-quant 2>&1 | FileCheck %s --check-prefix=NOSTATS

// SmoothQuant: channel j of a LayerNorm-style output (t * gamma + beta) is
// divided by s_j = max|x_j|^alpha / max|w_j|^(1 - alpha) and row j of its
// readers' weights multiplied by it. Worked by hand at alpha = 0.5:
// max|x| over the readers q and k = [max(16, 4), max(0.25, 9)] = [16, 9];
// max|w| over both weight matrices' rows: row 0 max(4, 1) = 4, row 1
// max(0.125, 0.25) = 0.25. s = [4 / 2, 3 / 0.5] = [2, 6]:
// gamma [2, 3] -> [1, 0.5], beta [1, -1] -> [0.5, -1/6 = -0.166666672 in f32],
// q's rows [1, 4], [0.0625, 0.125] -> [2, 8], [0.375, 0.75],
// k's rows [-1, 0.5], [0.25, 0.125] -> [-2, 1], [1.5, 0.75].

// CHECK: remark: qnn-smooth-quant: 2 channels migrated into 2 matmul(s); max|x| 1.600000e+01, factors from 2.000000e+00 to 6.000000e+00
// CHECK-LABEL: func @ln_qk
// CHECK-DAG: arith.constant dense<[1.000000e+00, 5.000000e-01]> : tensor<2xf32>
// CHECK-DAG: arith.constant dense<[5.000000e-01, -0.166666672]> : tensor<2xf32>
// CHECK-DAG: arith.constant dense<{{\[\[}}2.000000e+00, 8.000000e+00], [3.750000e-01, 7.500000e-01]]> : tensor<2x2xf32>
// CHECK-DAG: arith.constant dense<{{\[\[}}-2.000000e+00, 1.000000e+00], [1.500000e+00, 7.500000e-01]]> : tensor<2x2xf32>
func.func @ln_qk(%x: tensor<3x2xf32>) -> (tensor<3x2xf32>, tensor<3x2xf32>) {
  %gamma = arith.constant dense<[2.0, 3.0]> : tensor<2xf32>
  %beta = arith.constant dense<[1.0, -1.0]> : tensor<2xf32>
  %e = tensor.empty() : tensor<3x2xf32>
  %ln = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%x, %gamma, %beta : tensor<3x2xf32>, tensor<2xf32>, tensor<2xf32>) outs(%e : tensor<3x2xf32>) {
  ^bb0(%t: f32, %g: f32, %b: f32, %out: f32):
    %m = arith.mulf %t, %g : f32
    %r = arith.addf %m, %b : f32
    linalg.yield %r : f32
  } -> tensor<3x2xf32>
  %wq = arith.constant dense<[[1.0, 4.0], [0.0625, 0.125]]> : tensor<2x2xf32>
  %wk = arith.constant dense<[[-1.0, 0.5], [0.25, 0.125]]> : tensor<2x2xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<3x2xf32>) -> tensor<3x2xf32>
  %q = linalg.matmul ins(%ln, %wq : tensor<3x2xf32>, tensor<2x2xf32>) outs(%f : tensor<3x2xf32>) -> tensor<3x2xf32> loc("q")
  %k = linalg.matmul ins(%ln, %wk : tensor<3x2xf32>, tensor<2x2xf32>) outs(%f : tensor<3x2xf32>) -> tensor<3x2xf32> loc("k")
  return %q, %k : tensor<3x2xf32>, tensor<3x2xf32>
}

// -----

// Also read by something other than a matmul (a post-LN residual): left
// alone, no remark.
// CHECK-NOT: remark
// CHECK-LABEL: func @residual
// CHECK: arith.constant dense<[2.000000e+00, 3.000000e+00]> : tensor<2xf32>
func.func @residual(%x: tensor<3x2xf32>) -> (tensor<3x2xf32>, tensor<3x2xf32>) {
  %gamma = arith.constant dense<[2.0, 3.0]> : tensor<2xf32>
  %beta = arith.constant dense<[1.0, -1.0]> : tensor<2xf32>
  %e = tensor.empty() : tensor<3x2xf32>
  %ln = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%x, %gamma, %beta : tensor<3x2xf32>, tensor<2xf32>, tensor<2xf32>) outs(%e : tensor<3x2xf32>) {
  ^bb0(%t: f32, %g: f32, %b: f32, %out: f32):
    %m = arith.mulf %t, %g : f32
    %r = arith.addf %m, %b : f32
    linalg.yield %r : f32
  } -> tensor<3x2xf32>
  %wq = arith.constant dense<[[1.0, 4.0], [0.0625, 0.125]]> : tensor<2x2xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<3x2xf32>) -> tensor<3x2xf32>
  %q = linalg.matmul ins(%ln, %wq : tensor<3x2xf32>, tensor<2x2xf32>) outs(%f : tensor<3x2xf32>) -> tensor<3x2xf32> loc("other")
  return %q, %ln : tensor<3x2xf32>, tensor<3x2xf32>
}

// NOMAX: error: loc("{{[qk]}}"): qnn-smooth-quant: the statistics of layer '{{[qk]}}' have 0 max_abs values, not 2 (recompute them with this version's quant-eval)
// ALPHA: error: qnn-smooth-quant: alpha=1.50 is not within [0, 1]
// NOSTATS: error: qnn-smooth-quant needs statistics= (a contraction statistics file with max_abs)
