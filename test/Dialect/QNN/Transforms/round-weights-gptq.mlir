// RUN: quant-opt %s --qnn-round-weights-gptq=statistics=%S/Inputs/gptq-stats.json | FileCheck %s
// RUN: quant-opt %s "--qnn-round-weights-gptq=statistics=%S/Inputs/gptq-stats.json correct-bias=true" | FileCheck %s --check-prefix=BIAS
// RUN: quant-opt %s --qnn-correct-bias="statistics=%S/Inputs/gptq-stats.json bits=4" | FileCheck %s --check-prefix=RTN
// RUN: quant-opt %s --qnn-round-weights-gptq=statistics=%S/Inputs/gptq-stats.json --qnn-insert-observers \
// RUN:   --qnn-insert-qdq=statistics=%S/Inputs/gptq-act-stats.json | FileCheck %s --check-prefix=QDQ
// RUN: not quant-opt %s --qnn-round-weights-gptq=bits=9 2>&1 | FileCheck %s --check-prefix=BAD-BITS
// RUN: not quant-opt %s --qnn-round-weights-gptq=damp=0 2>&1 | FileCheck %s --check-prefix=BAD-DAMP
// RUN: not quant-opt %s --qnn-round-weights-gptq 2>&1 | FileCheck %s --check-prefix=NO-FILE
// RUN: not quant-opt %s --qnn-round-weights-gptq=statistics=%S/Inputs/gptq-stats-other-layer.json 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: not quant-opt %s --qnn-round-weights-gptq=statistics=%S/Inputs/gptq-stats-wrong-size.json 2>&1 | FileCheck %s --check-prefix=SIZE
// RUN: not quant-opt %s --qnn-round-weights-gptq=statistics=%S/Inputs/gptq-stats-unknown-key.json 2>&1 | FileCheck %s --check-prefix=KEY
// RUN: not quant-opt %s --qnn-round-weights-gptq=statistics=%S/Inputs/mlp-stats.json 2>&1 | FileCheck %s --check-prefix=CALIBRATION --implicit-check-not='see current operation'
// RUN: not quant-opt %s --qnn-correct-bias=statistics=%S/Inputs/gptq-stats-other-layer.json 2>&1 | FileCheck %s --check-prefix=MISSING-BC
// RUN: not quant-opt %s --qnn-correct-bias=bits=1 2>&1 | FileCheck %s --check-prefix=BAD-BITS-BC

// One output channel, weights (0.35, 0.45, 1.0): per-channel scale 1/7 at
// 4 bits. Nearest rounding gives (2, 3, 7) (2.45, 3.15, 7). The first two
// inputs are equal on the calibration data (H = [[1, 1, 0], [1, 1, 0],
// [0, 0, 1]]; damped by 0.01): GPTQ carries the first column's error
// 0.35 - 2/7 to the second with factor -U01/U00 = 1/1.01, so the second
// weight becomes 0.45 + 0.0636 = 0.5136, 3.60 scales, stored 4: the sum
// 6/7 of the first two stays closer to 0.8 than nearest rounding's 5/7.
// CHECK-LABEL: func @fc
// CHECK-DAG: arith.constant dense<5.000000e-01> : tensor<1xf32>
// CHECK: %[[Q:.*]] = qnn.constant dense<{{\[\[}}2], [4], [7]]> : tensor<3x1xi4> -> tensor<3x1x!quant.uniform<i4<-7:7>:f32:1, {0.14285714285714285}>>
// CHECK: %[[W:.*]] = qnn.dequantize %[[Q]]
// CHECK: linalg.matmul ins(%{{.*}}, %[[W]] :

// Bias correction with the input means (1, 2, 0.5): the bias 0.5 minus
// (2/7 - 0.35) * 1 + (4/7 - 0.45) * 2 = 0.178571 (GPTQ's weights), minus
// (2/7 - 0.35) * 1 + (3/7 - 0.45) * 2 = -0.107143 (nearest rounding's).
// BIAS-DAG: qnn.constant dense<{{\[\[}}2], [4], [7]]>
// BIAS-DAG: arith.constant dense<0.32142{{[0-9]*}}> : tensor<1xf32>
// RTN-DAG: qnn.constant dense<{{\[\[}}2], [3], [7]]>
// RTN-DAG: arith.constant dense<0.60714{{[0-9]*}}> : tensor<1xf32>

// The weights stay as GPTQ stored them through qnn-insert-qdq (8-bit
// weights by default: not requantized).
// QDQ: qnn.constant dense<{{\[\[}}2], [4], [7]]> : tensor<3x1xi4>
// QDQ-NOT: i8:f32:1

// BAD-BITS: qnn-round-weights-gptq: bits=9 is not within 2 to 8
// BAD-DAMP: qnn-round-weights-gptq: damp=0.000000e+00 is not within (0, 1)
// NO-FILE: qnn-round-weights-gptq: statistics=<file> is required
// MISSING: error: loc("fc"): qnn-round-weights-gptq: no contraction statistics for 'fc' in {{.*}}gptq-stats-other-layer.json
// SIZE: error: loc("fc"): contraction statistics of 'fc' have 2 means and 4 second moments; its weights need 3 and 9
// KEY: gptq-stats-unknown-key.json: {{.*}}unknown key
// CALIBRATION: error: qnn-round-weights-gptq: {{.*}}mlp-stats.json: this is a calibration statistics file (quant-run --calibrate); this pass reads contraction statistics ("quant-opt-contraction-statistics", docs/Quantization.md: quant-eval computes them for --float-passes) at (root).format
// MISSING-BC: error: loc("fc"): qnn-correct-bias: no contraction statistics for 'fc'
// BAD-BITS-BC: qnn-correct-bias: bits=1 is not within 2 to 8
func.func @fc(%x: tensor<4x3xf32>) -> tensor<4x1xf32> {
  %zero = arith.constant 0.0 : f32
  %w = arith.constant dense<[[0.35], [0.45], [1.0]]> : tensor<3x1xf32>
  %b = arith.constant dense<0.5> : tensor<1xf32>
  %e = tensor.empty() : tensor<4x1xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<4x1xf32>) -> tensor<4x1xf32>
  %y = linalg.matmul ins(%x, %w : tensor<4x3xf32>, tensor<3x1xf32>) outs(%f : tensor<4x1xf32>) -> tensor<4x1xf32> loc("fc")
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>,
      affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
      ins(%y, %b : tensor<4x1xf32>, tensor<1xf32>) outs(%e : tensor<4x1xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %s = arith.addf %a, %c : f32
    linalg.yield %s : f32
  } -> tensor<4x1xf32> loc("fc.bias")
  return %r : tensor<4x1xf32>
}
