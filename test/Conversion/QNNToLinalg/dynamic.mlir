// RUN: quant-opt %s --convert-qnn-to-linalg --split-input-file | FileCheck %s

// qnn.dynamic_quantize becomes three loops (docs/Semantics.md, "Dynamic
// quantization"): a reduction of each row's finite range (starting from 0,
// a non-finite element read as 0), the scale and zero point of each row in
// f32, and qnn.quantize's element arithmetic with them; the parameters are
// computed and read in collapsed form (the kept axes only).

// CHECK-LABEL: func @per_row_asymmetric
// CHECK: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[FILL:.*]] = linalg.fill ins(%[[ZERO]] : f32) outs(%{{.*}} : tensor<4xf32>)
// CHECK: %[[RANGE:.*]]:2 = linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "reduction"]
// CHECK-SAME: outs(%[[FILL]], %[[FILL]] : tensor<4xf32>, tensor<4xf32>)
// CHECK: math.absf
// CHECK: arith.cmpf olt
// CHECK: arith.minnumf %{{.*}}, %{{.*}} fastmath<nnan,nsz> : f32
// CHECK: arith.maxnumf %{{.*}}, %{{.*}} fastmath<nnan,nsz> : f32
// CHECK: %[[PARAMS:.*]]:7 = linalg.generic
// CHECK-SAME: ins(%[[RANGE]]#0, %[[RANGE]]#1 : tensor<4xf32>, tensor<4xf32>)
// CHECK: arith.cmpf oeq
// CHECK: arith.subf
// CHECK: arith.divf %{{.*}}, %{{.*}} : f32
// CHECK: %[[S:.*]] = arith.select
// CHECK: arith.divf
// CHECK: arith.subf
// CHECK: math.roundeven
// CHECK: %[[Z:.*]] = arith.fptosi %{{.*}} : f32 to i32
// Then what the quantization loop divides by instead (docs/Semantics.md,
// "Without a division, at run time"): p = 2^-100 above 2^60, 0 for +Inf,
// 2^100 below 2^-60, 2^127 for 0, otherwise 1; s' = s * p (1 for +Inf,
// 2^-60 for 0), its reciprocal (one division per row), 2^29 * s' and -s'.
// CHECK: %[[ZERO_S:.*]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[IS_ZERO:.*]] = arith.cmpf oeq, %[[S]], %[[ZERO_S]] : f32
// CHECK: %[[TINY:.*]] = arith.constant 8.67361737E-19 : f32
// CHECK: %[[IS_TINY:.*]] = arith.cmpf olt, %[[S]], %[[TINY]] : f32
// CHECK: %[[HUGE:.*]] = arith.constant 1.1529215E+18 : f32
// CHECK: %[[IS_HUGE:.*]] = arith.cmpf ogt, %[[S]], %[[HUGE]] : f32
// CHECK: %[[INF:.*]] = arith.constant 0x7F800000 : f32
// CHECK: %[[IS_INF:.*]] = arith.cmpf oeq, %[[S]], %[[INF]] : f32
// CHECK: %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK: %[[DOWN:.*]] = arith.constant 7.88860905E-31 : f32
// CHECK: %[[P0:.*]] = arith.select %[[IS_HUGE]], %[[DOWN]], %[[ONE]] : f32
// CHECK: %[[NONE:.*]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[P1:.*]] = arith.select %[[IS_INF]], %[[NONE]], %[[P0]] : f32
// CHECK: %[[UP:.*]] = arith.constant 1.2676506E+30 : f32
// CHECK: %[[P2:.*]] = arith.select %[[IS_TINY]], %[[UP]], %[[P1]] : f32
// CHECK: %[[MOST:.*]] = arith.constant 1.70141183E+38 : f32
// CHECK: %[[P:.*]] = arith.select %[[IS_ZERO]], %[[MOST]], %[[P2]] : f32
// CHECK: %[[SP0:.*]] = arith.mulf %[[S]], %[[P]] : f32
// CHECK: %[[SP1:.*]] = arith.select %[[IS_INF]], %[[ONE]], %[[SP0]] : f32
// CHECK: %[[LEAST:.*]] = arith.constant 8.67361737E-19 : f32
// CHECK: %[[SP:.*]] = arith.select %[[IS_ZERO]], %[[LEAST]], %[[SP1]] : f32
// CHECK: %[[RCP:.*]] = arith.divf %[[ONE]], %[[SP]] : f32
// CHECK: %[[TWO29:.*]] = arith.constant 0x4E000000 : f32
// CHECK: %[[LIMIT:.*]] = arith.mulf %[[SP]], %[[TWO29]] : f32
// CHECK: %[[NS:.*]] = arith.negf %[[SP]] : f32
// CHECK: %[[NLIMIT:.*]] = arith.negf %[[LIMIT]] : f32
// CHECK: linalg.yield %[[S]], %[[Z]], %[[P]], %[[NS]], %[[RCP]], %[[NLIMIT]], %[[LIMIT]]
// CHECK: %[[Q:.*]] = linalg.generic
// CHECK-SAME: ins(%{{.*}}, %[[PARAMS]]#1, %[[PARAMS]]#2, %[[PARAMS]]#3, %[[PARAMS]]#4, %[[PARAMS]]#5, %[[PARAMS]]#6 : tensor<4x8xf32>, tensor<4xi32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>)
// CHECK: ^bb0(%[[X:.*]]: f32, %[[ZV:.*]]: i32, %[[PV:.*]]: f32, %[[NSV:.*]]: f32, %[[RV:.*]]: f32, %[[NL:.*]]: f32, %[[LV:.*]]: f32, %{{.*}}: i8):
// CHECK-NOT: arith.divf
// CHECK: %[[XP:.*]] = arith.mulf %[[X]], %[[PV]] : f32
// CHECK: %[[GT:.*]] = arith.cmpf ogt, %[[XP]], %[[NL]] : f32
// CHECK: %[[C0:.*]] = arith.select %[[GT]], %[[XP]], %[[NL]] : f32
// CHECK: %[[LT:.*]] = arith.cmpf olt, %[[C0]], %[[LV]] : f32
// CHECK: %[[C1:.*]] = arith.select %[[LT]], %[[C0]], %[[LV]] : f32
// CHECK: %[[Q0:.*]] = arith.mulf %[[C1]], %[[RV]] : f32
// CHECK: %[[E:.*]] = math.fma %[[Q0]], %[[NSV]], %[[C1]] : f32
// CHECK: %[[V:.*]] = math.fma %[[E]], %[[RV]], %[[Q0]] : f32
// CHECK: %[[R:.*]] = math.roundeven %[[V]] : f32
// CHECK-NOT: arith.maximumf
// CHECK: %[[I:.*]] = arith.fptosi %[[R]] : f32 to i32
// CHECK: arith.addi %[[I]], %[[ZV]] : i32
// CHECK: %[[NAN:.*]] = arith.cmpf uno, %[[XP]], %[[XP]] : f32
// CHECK: arith.select %[[NAN]], %[[ZV]], %{{.*}} : i32
// CHECK-NOT: arith.divf
// CHECK: arith.trunci %{{.*}} : i32 to i8
// CHECK: tensor.expand_shape %[[PARAMS]]#0 {{\[\[}}0, 1]] output_shape [4, 1] : tensor<4xf32> into tensor<4x1xf32>
// CHECK: tensor.expand_shape %[[PARAMS]]#1 {{\[\[}}0, 1]] output_shape [4, 1] : tensor<4xi32> into tensor<4x1xi32>
func.func @per_row_asymmetric(%x: tensor<4x8xf32>) -> (tensor<4x8xi8>, tensor<4x1xf32>, tensor<4x1xi32>) {
  %q, %s, %z = qnn.dynamic_quantize %x : tensor<4x8xf32> -> tensor<4x8xi8>, tensor<4x1xf32>, tensor<4x1xi32>
  return %q, %s, %z : tensor<4x8xi8>, tensor<4x1xf32>, tensor<4x1xi32>
}

// -----

// Symmetric: one reduction (max |x|), s = m / 127, z = 0; per tensor the
// parameters are rank 0.
// CHECK-LABEL: func @per_tensor_symmetric
// CHECK: %[[M:.*]] = linalg.generic
// CHECK-SAME: iterator_types = ["reduction", "reduction"]
// CHECK-SAME: outs(%{{.*}} : tensor<f32>)
// CHECK-NOT: arith.minnumf
// CHECK: arith.maxnumf %{{.*}}, %{{.*}} fastmath<nnan,nsz> : f32
// CHECK: %[[C127:.*]] = arith.constant 1.270000e+02 : f32
// CHECK: arith.divf %{{.*}}, %[[C127]] : f32
// CHECK: tensor.expand_shape %{{.*}} [] output_shape [1, 1] : tensor<f32> into tensor<1x1xf32>
func.func @per_tensor_symmetric(%x: tensor<4x8xf32>) -> (tensor<4x8xi8>, tensor<1x1xf32>) {
  %q, %s, %z = qnn.dynamic_quantize %x symmetric : tensor<4x8xf32> -> tensor<4x8xi8>, tensor<1x1xf32>, tensor<1x1xi32>
  return %q, %s : tensor<4x8xi8>, tensor<1x1xf32>
}

// -----

// dynamic_dequantize: f32(q - z) * s, q zero-extended when unsigned.
// CHECK-LABEL: func @dequantize_unsigned
// CHECK-SAME: (%[[Q:.*]]: tensor<4x8xi8>, %[[S:.*]]: tensor<4x1xf32>, %[[Z:.*]]: tensor<4x1xi32>)
// CHECK: %[[CS:.*]] = tensor.collapse_shape %[[S]] {{\[\[}}0, 1]] : tensor<4x1xf32> into tensor<4xf32>
// CHECK: %[[CZ:.*]] = tensor.collapse_shape %[[Z]] {{\[\[}}0, 1]] : tensor<4x1xi32> into tensor<4xi32>
// CHECK: linalg.generic
// CHECK-SAME: ins(%[[Q]], %[[CS]], %[[CZ]] : tensor<4x8xi8>, tensor<4xf32>, tensor<4xi32>)
// CHECK: ^bb0(%[[V:.*]]: i8, %[[SV:.*]]: f32, %[[ZV:.*]]: i32, %{{.*}}: f32):
// CHECK: %[[E:.*]] = arith.extui %[[V]] : i8 to i32
// CHECK: %[[D:.*]] = arith.subi %[[E]], %[[ZV]] : i32
// CHECK: %[[F:.*]] = arith.sitofp %[[D]] : i32 to f32
// CHECK: %[[P:.*]] = arith.mulf %[[F]], %[[SV]] : f32
// CHECK: linalg.yield %[[P]] : f32
func.func @dequantize_unsigned(%q: tensor<4x8xi8>, %s: tensor<4x1xf32>, %z: tensor<4x1xi32>) -> tensor<4x8xf32> {
  %d = qnn.dynamic_dequantize %q, %s, %z unsigned : tensor<4x8xi8>, tensor<4x1xf32>, tensor<4x1xi32> -> tensor<4x8xf32>
  return %d : tensor<4x8xf32>
}
