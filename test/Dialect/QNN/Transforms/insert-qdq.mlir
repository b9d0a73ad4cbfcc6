// One RUN line per option variant. Statistics: input in [-1, 3] and fc in
// [-2, 2] (Inputs/mlp-stats.json). Every expected value below was worked out
// by hand from docs/Calibration.md and docs/Semantics.md.
//
// RUN: quant-opt %s --qnn-insert-observers --qnn-insert-qdq=statistics=%S/Inputs/mlp-stats.json | FileCheck %s --check-prefixes=CHECK,A8,PC
// RUN: quant-opt %s --qnn-insert-observers "--qnn-insert-qdq=statistics=%S/Inputs/mlp-stats.json weight-granularity=per_tensor" | FileCheck %s --check-prefixes=CHECK,A8,PT
// RUN: quant-opt %s --qnn-insert-observers "--qnn-insert-qdq=statistics=%S/Inputs/mlp-stats.json weight-granularity=per_group weight-group-size=2" | FileCheck %s --check-prefixes=CHECK,A8,PG
// A group at least as long as the reduction dimension (4) is per channel, said so:
// RUN: quant-opt %s --qnn-insert-observers "--qnn-insert-qdq=statistics=%S/Inputs/mlp-stats.json weight-granularity=per_group weight-group-size=8" | FileCheck %s --check-prefixes=CHECK,A8,PC
// RUN: quant-opt %s --qnn-insert-observers "--qnn-insert-qdq=statistics=%S/Inputs/mlp-stats.json weight-granularity=per_group weight-group-size=4" 2>&1 >/dev/null | FileCheck %s --check-prefix=PG-WHOLE
// PG-WHOLE: remark: loc("fc"): the reduction dimension of the weights of 'linalg.matmul' (size 4) is not longer than a group (4): quantized per channel
// RUN: quant-opt %s --qnn-insert-observers "--qnn-insert-qdq=statistics=%S/Inputs/mlp-stats.json weight-bits=4" | FileCheck %s --check-prefixes=CHECK,A8,W4
// RUN: quant-opt %s --qnn-insert-observers "--qnn-insert-qdq=statistics=%S/Inputs/mlp-stats.json weight-symmetric=false" | FileCheck %s --check-prefixes=CHECK,A8,WASYM
// RUN: quant-opt %s --qnn-insert-observers "--qnn-insert-qdq=statistics=%S/Inputs/mlp-stats.json activation-signed=true activation-symmetric=true" | FileCheck %s --check-prefixes=CHECK,ASYM8,PC
// RUN: quant-opt %s --qnn-insert-observers "--qnn-insert-qdq=statistics=%S/Inputs/mlp-stats.json activation-bits=16 activation-signed=true activation-symmetric=true" | FileCheck %s --check-prefixes=CHECK,A16,PC
// RUN: quant-opt %s --qnn-insert-observers "--qnn-insert-qdq=statistics=%S/Inputs/mlp-stats.json activation-method=percentile activation-percentile=90" | FileCheck %s --check-prefixes=CHECK,PCT,PC

// CHECK-LABEL: func @mlp
// CHECK-SAME: (%[[X:.*]]: tensor<1x4xf32>)

// u8 asymmetric, [-1, 3]: s = 4/255 = 0.0156862745..., z = round(1 / s) = round(63.75) = 64.
// A8: %[[XQ:.*]] = qnn.quantize %[[X]] : tensor<1x4xf32> -> tensor<1x4x!quant.uniform<u8:f32, 0.01568627450980{{[0-9]*}}:64>>
// i8 symmetric: s = 3/127 = 0.0236220472..., z = 0.
// ASYM8: %[[XQ:.*]] = qnn.quantize %[[X]] : tensor<1x4xf32> -> tensor<1x4x!quant.uniform<i8:f32, 0.02362204724409{{[0-9]*}}>>
// i16 symmetric: s = 3/32767 = 9.15555284...e-5.
// A16: %[[XQ:.*]] = qnn.quantize %[[X]] : tensor<1x4xf32> -> tensor<1x4x!quant.uniform<i16:f32, 9.155552842{{[0-9]*}}E-5>>
// Percentile 90 over bins [10, 20, 30, 40] of width 1 from -1:
// Q(0.1) = -1 + 10/10 = 0, Q(0.9) = -1 + 3 + 30/40 = 2.75; s = 2.75/255, z = 0.
// PCT: %[[XQ:.*]] = qnn.quantize %[[X]] : tensor<1x4xf32> -> tensor<1x4x!quant.uniform<u8:f32, 0.01078431372549{{[0-9]*}}>>
// CHECK: %[[XD:.*]] = qnn.dequantize %[[XQ]]

// Weights [[0.6, -1.2], [0.3, 0.5], [-0.7, 2.54], [1.27, 0.1]], i8<-127:127>.
// Per channel, symmetric: column 0 has |w| <= 1.27, s = 0.01; column 1 has
// |w| <= 2.54, s = 0.02 (as f32 weights divided by 127):
// 0.6 -> 60, 0.3 -> 30, -0.7 -> -70, 1.27 -> 127; -1.2 -> -60, 0.5 -> 25, 2.54 -> 127, 0.1 -> 5.
// PC: %[[W:.*]] = qnn.constant dense<{{\[\[}}60, -60], [30, 25], [-70, 127], [127, 5]]> : tensor<4x2xi8> -> tensor<4x2x!quant.uniform<i8<-127:127>:f32:1, {0.0099999998{{[0-9]*}},0.019999999{{[0-9]*}}}>>
// Per tensor: s = 2.54/127 = 0.02 for all: 0.6 -> 30, 0.3 -> 15, -0.7 -> -35, -1.2 -> -60;
// 1.27 / 0.02 = 63.5 within an f32 ulp, so 63 or 64 (not worked out to the bit).
// PT: %[[W:.*]] = qnn.constant dense<{{\[\[}}30, -60], [15, 25], [-35, 127], [{{6[34]}}, 5]]> : tensor<4x2xi8> -> tensor<4x2x!quant.uniform<i8<-127:127>:f32, 0.019999999{{[0-9]*}}>>
// Groups of 2 rows per column: rows 0-1 of column 0 have |w| <= 0.6 (s = 0.6/127 = 0.0047244),
// of column 1 |w| <= 1.2 (s = 0.0094488): 0.6 -> 127, -1.2 -> -127, 0.5 -> 52.9 -> 53,
// 0.3 -> 63.5 within an f32 ulp, so 63 or 64.
// PG: %[[W:.*]] = qnn.constant dense<{{\[\[}}127, -127], [{{6[34]}}, 53], [-70, 127], [127, 5]]> : tensor<4x2xi8> -> tensor<4x2x!quant.uniform<i8<-127:127>:f32:{0:2, 1:1}, {{[{][{]}}0.00472440{{[0-9]*}}, 0.00944881{{[0-9]*}}}, {0.0099999{{[0-9]*}}, 2.000000e-02}}>>
// 4 bits, [-7, 7]: s = 1.27/7 and 2.54/7: 0.6 -> 3.31 -> 3, 0.3 -> 1.65 -> 2, -0.7 -> -3.86 -> -4,
// -1.2 -> -3.31 -> -3, 0.5 -> 1.38 -> 1, 0.1 -> 0.28 -> 0.
// W4: %[[W:.*]] = qnn.constant dense<{{\[\[}}3, -3], [2, 1], [-4, 7], [7, 0]]> : tensor<4x2xi4> -> tensor<4x2x!quant.uniform<i4<-7:7>:f32:1, {0.1814285{{[0-9]*}},0.3628571{{[0-9]*}}}>>
// Asymmetric per channel: column 0 is [-0.7, 1.27], s = 1.97/254 = 0.0077559,
// z = -127 - round(-0.7 / s) = -127 + 90 = -37; column 1 is [-1.2, 2.54],
// s = 3.74/254 = 0.0147244, z = -127 - round(-81.497) = -46.
// WASYM: %[[W:.*]] = qnn.constant dense<{{.*}}> : tensor<4x2xi8> -> tensor<4x2x!quant.uniform<i8<-127:127>:f32:1, {0.00775590{{[0-9]*}}:-37,0.01472440{{[0-9]*}}:-46}>>
// CHECK: %[[WD:.*]] = qnn.dequantize %[[W]]
// CHECK: %[[Y:.*]] = linalg.matmul ins(%[[XD]], %[[WD]] : tensor<1x4xf32>, tensor<4x2xf32>)

// fc in [-2, 2]: u8 s = 4/255, z = round(2 / s) = round(127.5) = 128 (ties to even).
// A8: %[[YQ:.*]] = qnn.quantize %[[Y]] : tensor<1x2xf32> -> tensor<1x2x!quant.uniform<u8:f32, 0.01568627450980{{[0-9]*}}:128>>
// ASYM8: %[[YQ:.*]] = qnn.quantize %[[Y]] : tensor<1x2xf32> -> tensor<1x2x!quant.uniform<i8:f32, 0.01574803149606{{[0-9]*}}>>
// A16: %[[YQ:.*]] = qnn.quantize %[[Y]] : tensor<1x2xf32> -> tensor<1x2x!quant.uniform<i16:f32, 6.10370189{{[0-9]*}}E-5>>
// Bins [10, 40, 30, 20] of width 1 from -2: Q(0.1) = -2 + 10/10 = -1,
// Q(0.9) = -2 + 3 + 10/20 = 1.5; s = 2.5/255 = 0.0098039, z = round(1 / s) = 102.
// PCT: %[[YQ:.*]] = qnn.quantize %[[Y]] : tensor<1x2xf32> -> tensor<1x2x!quant.uniform<u8:f32, 0.00980392156862{{[0-9]*}}:102>>
// CHECK: %[[YD:.*]] = qnn.dequantize %[[YQ]]
// CHECK: return %[[YD]]
func.func @mlp(%x: tensor<1x4xf32> loc("input")) -> tensor<1x2xf32> {
  %w = arith.constant dense<[[0.6, -1.2], [0.3, 0.5], [-0.7, 2.54], [1.27, 0.1]]> : tensor<4x2xf32>
  %zero = arith.constant 0.0 : f32
  %init = tensor.empty() : tensor<1x2xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<1x2xf32>) -> tensor<1x2xf32>
  %y = linalg.matmul ins(%x, %w : tensor<1x4xf32>, tensor<4x2xf32>) outs(%acc : tensor<1x2xf32>) -> tensor<1x2xf32> loc("fc")
  return %y : tensor<1x2xf32>
}
