// The entropy method on activations far from 0 (all in [6, 13], 400 bins of
// a bell around 9.5): TensorRT's search alone scores a threshold just above
// the minimum best (P and Q both one spike: KL 0) and clipped every value
// onto one level (x: scale ~6/255, y: ~12/255). No candidate may clip more
// than half of the values, so the ranges keep the bulk: x's threshold is
// 13 (the largest), y's 26; the scales are T/255 (u8, zero point 0: the
// range extended to 0). python/quant_opt/calibration.py gives the same
// (test/Integration/calibration-vs-reference.test).
// RUN: quant-opt %s --qnn-insert-observers "--qnn-insert-qdq=statistics=%S/Inputs/stats-offset.json activation-method=entropy" | FileCheck %s

// CHECK-LABEL: func @offset
// CHECK: qnn.quantize %{{.*}} : tensor<4xf32> -> tensor<4x!quant.uniform<u8:f32, 0.05098{{[0-9]*}}>>
// CHECK: qnn.quantize %{{.*}} : tensor<4xf32> -> tensor<4x!quant.uniform<u8:f32, 0.10196{{[0-9]*}}>>
func.func @offset(%x: tensor<4xf32> loc("x")) -> tensor<4xf32> {
  %init = tensor.empty() : tensor<4xf32>
  %y = linalg.add ins(%x, %x : tensor<4xf32>, tensor<4xf32>) outs(%init : tensor<4xf32>) -> tensor<4xf32> loc("y")
  return %y : tensor<4xf32>
}

// Counts near the int64 limit (json-fuzz, 2026-12-02): bin 0 of the
// magnitude histogram repeats bin 1, so sums of counts reach twice an
// int64; they are unsigned (UBSan reported a signed overflow). The range
// found, as python/quant_opt/calibration.py finds it: [-1, 1.8] (scale
// 2.8/255, zero point 91).
// RUN: quant-opt %s --qnn-insert-observers "--qnn-insert-qdq=statistics=%S/Inputs/stats-huge-counts.json activation-method=entropy" | FileCheck %s --check-prefix=HUGE
// HUGE: qnn.quantize %{{.*}} : tensor<4xf32> -> tensor<4x!quant.uniform<u8:f32, 0.010980392{{[0-9]*}}:91>>
