// RUN: quant-opt %s --split-input-file --qnn-fuse-elementwise-producers | FileCheck %s

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>

// A dequantize, a float function and a quantize, one use each: one op from
// int8 to int8, whose body is the three bodies in order.
// CHECK-LABEL: func @chain
// CHECK-SAME: (%[[X:.*]]: tensor<64x32xi8>)
// CHECK: %[[Y:.*]] = linalg.generic
// CHECK-SAME: ins(%[[X]] : tensor<64x32xi8>)
// CHECK: arith.sitofp
// CHECK: arith.mulf
// CHECK: math.tanh
// CHECK: arith.divf
// CHECK: math.roundeven
// CHECK: arith.fptosi
// CHECK: -> tensor<64x32xi8>
// CHECK-NOT: linalg.generic
// CHECK: return %[[Y]]
func.func @chain(%x: tensor<64x32xi8>) -> tensor<64x32xi8> {
  %s = arith.constant 0.05 : f32
  %e = tensor.empty() : tensor<64x32xf32>
  %d = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<64x32xi8>) outs(%e : tensor<64x32xf32>) {
  ^bb0(%in: i8, %out: f32):
    %i = arith.sitofp %in : i8 to f32
    %m = arith.mulf %i, %s : f32
    linalg.yield %m : f32
  } -> tensor<64x32xf32>
  %t = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%d : tensor<64x32xf32>) outs(%e : tensor<64x32xf32>) {
  ^bb0(%in: f32, %out: f32):
    %h = math.tanh %in : f32
    linalg.yield %h : f32
  } -> tensor<64x32xf32>
  %eq = tensor.empty() : tensor<64x32xi8>
  %q = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%t : tensor<64x32xf32>) outs(%eq : tensor<64x32xi8>) {
  ^bb0(%in: f32, %out: i8):
    %v = arith.divf %in, %s : f32
    %r = math.roundeven %v : f32
    %i = arith.fptosi %r : f32 to i8
    linalg.yield %i : i8
  } -> tensor<64x32xi8>
  return %q : tensor<64x32xi8>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>

// A cheap dequantize read by two elementwise ops is copied into both and
// disappears. A row reduction (LayerNorm's, softmax's) keeps reading the
// float tensor: fused into a reduction, the body ran slower than the
// pass over memory it saved.
// CHECK-LABEL: func @cheap_producer_two_uses
// CHECK-SAME: (%[[X:.*]]: tensor<64x32xi8>, %[[B:.*]]: tensor<64xf32>)
// CHECK: %[[A:.*]] = linalg.generic {{.*}} ins(%[[X]], %[[B]] : tensor<64x32xi8>, tensor<64xf32>)
// CHECK: arith.sitofp
// CHECK: arith.subf
// CHECK: %[[M:.*]] = linalg.generic {{.*}} ins(%[[X]] : tensor<64x32xi8>)
// CHECK: arith.sitofp
// CHECK: arith.mulf
// CHECK-NOT: linalg.generic
// CHECK: return %[[A]], %[[M]]
func.func @cheap_producer_two_uses(%x: tensor<64x32xi8>, %b: tensor<64xf32>) -> (tensor<64x32xf32>, tensor<64x32xf32>) {
  %s = arith.constant 0.05 : f32
  %e = tensor.empty() : tensor<64x32xf32>
  %d = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<64x32xi8>) outs(%e : tensor<64x32xf32>) {
  ^bb0(%in: i8, %out: f32):
    %i = arith.sitofp %in : i8 to f32
    %m = arith.mulf %i, %s : f32
    linalg.yield %m : f32
  } -> tensor<64x32xf32>
  %a = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel"]} ins(%d, %b : tensor<64x32xf32>, tensor<64xf32>) outs(%e : tensor<64x32xf32>) {
  ^bb0(%in: f32, %bias: f32, %out: f32):
    %v = arith.subf %in, %bias : f32
    linalg.yield %v : f32
  } -> tensor<64x32xf32>
  %m = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%d : tensor<64x32xf32>) outs(%e : tensor<64x32xf32>) {
  ^bb0(%in: f32, %out: f32):
    %v = arith.mulf %in, %in : f32
    linalg.yield %v : f32
  } -> tensor<64x32xf32>
  return %a, %m : tensor<64x32xf32>, tensor<64x32xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>

// CHECK-LABEL: func @reduction_keeps_its_producer
// CHECK: %[[D:.*]] = linalg.generic {{.*}} ins(%{{.*}} : tensor<64x32xi8>)
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]} ins(%[[D]] : tensor<64x32xf32>)
func.func @reduction_keeps_its_producer(%x: tensor<64x32xi8>) -> tensor<64xf32> {
  %s = arith.constant 0.05 : f32
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<64x32xf32>
  %d = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<64x32xi8>) outs(%e : tensor<64x32xf32>) {
  ^bb0(%in: i8, %out: f32):
    %i = arith.sitofp %in : i8 to f32
    %m = arith.mulf %i, %s : f32
    linalg.yield %m : f32
  } -> tensor<64x32xf32>
  %er = tensor.empty() : tensor<64xf32>
  %f = linalg.fill ins(%zero : f32) outs(%er : tensor<64xf32>) -> tensor<64xf32>
  %r = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%d : tensor<64x32xf32>) outs(%f : tensor<64xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %v = arith.addf %in, %acc : f32
    linalg.yield %v : f32
  } -> tensor<64xf32>
  return %r : tensor<64xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#col = affine_map<(d0, d1) -> (d1)>
#a = affine_map<(d0, d1, d2) -> (d0, d2)>
#b = affine_map<(d0, d1, d2) -> (d2, d1)>
#c = affine_map<(d0, d1, d2) -> (d0, d1)>

// Not fused where an element would be computed more than once: into a
// contraction (each of A's elements is read once per output column), into
// a broadcast of it, or, costly (a division), into a second use.
// CHECK-LABEL: func @recomputation
// CHECK-COUNT-5: linalg.generic
// CHECK-NOT: linalg.generic
func.func @recomputation(%x: tensor<64x32xi8>, %w: tensor<32x16xf32>, %v: tensor<32xi8>) -> (tensor<64x16xf32>, tensor<64x32xf32>, tensor<64x32xf32>) {
  %s = arith.constant 0.05 : f32
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<64x32xf32>
  %d = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<64x32xi8>) outs(%e : tensor<64x32xf32>) {
  ^bb0(%in: i8, %out: f32):
    %i = arith.sitofp %in : i8 to f32
    %m = arith.divf %i, %s : f32
    linalg.yield %m : f32
  } -> tensor<64x32xf32>
  %ec = tensor.empty() : tensor<64x16xf32>
  %f = linalg.fill ins(%zero : f32) outs(%ec : tensor<64x16xf32>) -> tensor<64x16xf32>
  %c = linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%d, %w : tensor<64x32xf32>, tensor<32x16xf32>) outs(%f : tensor<64x16xf32>) {
  ^bb0(%in: f32, %in2: f32, %acc: f32):
    %p = arith.mulf %in, %in2 : f32
    %r = arith.addf %p, %acc : f32
    linalg.yield %r : f32
  } -> tensor<64x16xf32>
  %u = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%d : tensor<64x32xf32>) outs(%e : tensor<64x32xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.mulf %in, %in : f32
    linalg.yield %r : f32
  } -> tensor<64x32xf32>
  %ev = tensor.empty() : tensor<32xf32>
  %dv = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%v : tensor<32xi8>) outs(%ev : tensor<32xf32>) {
  ^bb0(%in: i8, %out: f32):
    %i = arith.sitofp %in : i8 to f32
    linalg.yield %i : f32
  } -> tensor<32xf32>
  %bc = linalg.generic {indexing_maps = [#col, #id], iterator_types = ["parallel", "parallel"]} ins(%dv : tensor<32xf32>) outs(%e : tensor<64x32xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.addf %in, %in : f32
    linalg.yield %r : f32
  } -> tensor<64x32xf32>
  return %c, %u, %bc : tensor<64x16xf32>, tensor<64x32xf32>, tensor<64x32xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>

// Tensor-level arithmetic with a splat constant (convert-elementwise-to-
// linalg's form): the constant becomes a scalar in the body, and the
// dequantize fused twice into the product is one input (its two copies
// in the body are one after CSE).
// CHECK-LABEL: func @splat_and_twice
// CHECK-SAME: (%[[X:.*]]: tensor<64x32xi8>)
// CHECK: %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}], iterator_types = ["parallel", "parallel"]} ins(%[[X]] : tensor<64x32xi8>)
// CHECK: %[[D:.*]] = arith.mulf
// CHECK: %[[A:.*]] = arith.addf %[[D]], %[[ONE]] : f32
// CHECK: arith.mulf %{{.*}}, %[[A]] : f32
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @splat_and_twice(%x: tensor<64x32xi8>) -> tensor<64x32xf32> {
  %s = arith.constant 0.05 : f32
  %ones = arith.constant dense<1.0> : tensor<64x32xf32>
  %e = tensor.empty() : tensor<64x32xf32>
  %d = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<64x32xi8>) outs(%e : tensor<64x32xf32>) {
  ^bb0(%in: i8, %out: f32):
    %i = arith.sitofp %in : i8 to f32
    %m = arith.mulf %i, %s : f32
    linalg.yield %m : f32
  } -> tensor<64x32xf32>
  %a = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%d, %ones : tensor<64x32xf32>, tensor<64x32xf32>) outs(%e : tensor<64x32xf32>) {
  ^bb0(%in: f32, %one: f32, %out: f32):
    %v = arith.addf %in, %one : f32
    linalg.yield %v : f32
  } -> tensor<64x32xf32>
  %p = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%d, %a : tensor<64x32xf32>, tensor<64x32xf32>) outs(%e : tensor<64x32xf32>) {
  ^bb0(%in: f32, %in2: f32, %out: f32):
    %v = arith.mulf %in, %in2 : f32
    linalg.yield %v : f32
  } -> tensor<64x32xf32>
  return %p : tensor<64x32xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#col = affine_map<(d0, d1) -> (d1)>
#a = affine_map<(d0, d1, d2) -> (d0, d2)>
#b = affine_map<(d0, d1, d2) -> (d2, d1)>
#c = affine_map<(d0, d1, d2) -> (d0, d1)>

// A contraction's epilogue (its requantization, read from the reduction)
// stays on its own for qnn-microkernel-cpu, and its 8-bit result stays
// for a table lookup of the activation after it; a broadcast of a splat
// bias (its only input) stays a broadcast, which the kernel starts its
// accumulators from.
// CHECK-LABEL: func @epilogue
// CHECK: %[[BIAS:.*]] = linalg.generic {{.*}} ins(%{{.*}} : tensor<32xi32>)
// CHECK: %[[ACC:.*]] = linalg.generic {{.*}} outs(%[[BIAS]] : tensor<64x32xi32>)
// CHECK: %[[Q:.*]] = linalg.generic {{.*}} ins(%[[ACC]] : tensor<64x32xi32>) outs(%{{.*}} : tensor<64x32xi8>)
// CHECK: linalg.generic {{.*}} ins(%[[Q]] : tensor<64x32xi8>)
// CHECK: math.tanh
func.func @epilogue(%x: tensor<64x16xi8>, %w: tensor<16x32xi8>) -> tensor<64x32xf32> {
  %bias = arith.constant dense<7> : tensor<32xi32>
  %s = arith.constant 0.05 : f32
  %ei = tensor.empty() : tensor<64x32xi32>
  %init = linalg.generic {indexing_maps = [#col, #id], iterator_types = ["parallel", "parallel"]} ins(%bias : tensor<32xi32>) outs(%ei : tensor<64x32xi32>) {
  ^bb0(%in: i32, %out: i32):
    linalg.yield %in : i32
  } -> tensor<64x32xi32>
  %acc = linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : tensor<64x16xi8>, tensor<16x32xi8>) outs(%init : tensor<64x32xi32>) {
  ^bb0(%in: i8, %in2: i8, %out: i32):
    %u = arith.extsi %in : i8 to i32
    %v = arith.extsi %in2 : i8 to i32
    %p = arith.muli %u, %v : i32
    %r = arith.addi %out, %p : i32
    linalg.yield %r : i32
  } -> tensor<64x32xi32>
  %e8 = tensor.empty() : tensor<64x32xi8>
  %q = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%acc : tensor<64x32xi32>) outs(%e8 : tensor<64x32xi8>) {
  ^bb0(%in: i32, %out: i8):
    %t = arith.trunci %in : i32 to i8
    linalg.yield %t : i8
  } -> tensor<64x32xi8>
  %e = tensor.empty() : tensor<64x32xf32>
  %y = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%q : tensor<64x32xi8>) outs(%e : tensor<64x32xf32>) {
  ^bb0(%in: i8, %out: f32):
    %f = arith.sitofp %in : i8 to f32
    %m = arith.mulf %f, %s : f32
    %t = math.tanh %m : f32
    linalg.yield %t : f32
  } -> tensor<64x32xf32>
  return %y : tensor<64x32xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#a = affine_map<(d0, d1, d2) -> (d0, d2)>
#b = affine_map<(d0, d1, d2) -> (d2, d1)>
#c = affine_map<(d0, d1, d2) -> (d0, d1)>

// A requantization read by an op of two inputs (a quantized residual add)
// is fused into it: no table could take that op.
// CHECK-LABEL: func @epilogue_into_add
// CHECK: %[[ACC:.*]] = linalg.generic {{.*}}"reduction"
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %[[ACC]] : tensor<64x32xi8>, tensor<64x32xi32>)
// CHECK: arith.trunci
// CHECK: arith.addi
// CHECK-NOT: linalg.generic
func.func @epilogue_into_add(%x: tensor<64x16xi8>, %w: tensor<16x32xi8>, %r: tensor<64x32xi8>, %init: tensor<64x32xi32>) -> tensor<64x32xi8> {
  %acc = linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : tensor<64x16xi8>, tensor<16x32xi8>) outs(%init : tensor<64x32xi32>) {
  ^bb0(%in: i8, %in2: i8, %out: i32):
    %u = arith.extsi %in : i8 to i32
    %v = arith.extsi %in2 : i8 to i32
    %p = arith.muli %u, %v : i32
    %s = arith.addi %out, %p : i32
    linalg.yield %s : i32
  } -> tensor<64x32xi32>
  %e8 = tensor.empty() : tensor<64x32xi8>
  %q = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%acc : tensor<64x32xi32>) outs(%e8 : tensor<64x32xi8>) {
  ^bb0(%in: i32, %out: i8):
    %t = arith.trunci %in : i32 to i8
    linalg.yield %t : i8
  } -> tensor<64x32xi8>
  %y = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%r, %q : tensor<64x32xi8>, tensor<64x32xi8>) outs(%e8 : tensor<64x32xi8>) {
  ^bb0(%in: i8, %in2: i8, %out: i8):
    %s = arith.addi %in, %in2 : i8
    linalg.yield %s : i8
  } -> tensor<64x32xi8>
  return %y : tensor<64x32xi8>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#a = affine_map<(d0, d1, d2) -> (d0, d2)>
#b = affine_map<(d0, d1, d2) -> (d2, d1)>
#c = affine_map<(d0, d1, d2) -> (d0, d1)>

// A requantization read by a dequantization that ends its chain (attention
// scores, read next by a softmax's reductions, which take no producer) is
// fused into it: no table would take a dequantization (cheaper to compute
// than to gather), and the contraction's tile then writes the f32 scores.
// CHECK-LABEL: func @epilogue_into_dequantize
// CHECK: %[[ACC:.*]] = linalg.generic {{.*}}"reduction"
// CHECK: %[[F:.*]] = linalg.generic {{.*}} ins(%[[ACC]] : tensor<64x32xi32>) outs(%{{.*}} : tensor<64x32xf32>)
// CHECK: arith.trunci
// CHECK: arith.sitofp
// CHECK: linalg.generic {{.*}} ins(%[[F]] : tensor<64x32xf32>) outs(%{{.*}} : tensor<64xf32>)
func.func @epilogue_into_dequantize(%x: tensor<64x16xi8>, %w: tensor<16x32xi8>, %init: tensor<64x32xi32>, %m: tensor<64xf32>) -> (tensor<64x32xf32>, tensor<64xf32>) {
  %s = arith.constant 0.05 : f32
  %acc = linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : tensor<64x16xi8>, tensor<16x32xi8>) outs(%init : tensor<64x32xi32>) {
  ^bb0(%in: i8, %in2: i8, %out: i32):
    %u = arith.extsi %in : i8 to i32
    %v = arith.extsi %in2 : i8 to i32
    %p = arith.muli %u, %v : i32
    %r = arith.addi %out, %p : i32
    linalg.yield %r : i32
  } -> tensor<64x32xi32>
  %e8 = tensor.empty() : tensor<64x32xi8>
  %q = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%acc : tensor<64x32xi32>) outs(%e8 : tensor<64x32xi8>) {
  ^bb0(%in: i32, %out: i8):
    %t = arith.trunci %in : i32 to i8
    linalg.yield %t : i8
  } -> tensor<64x32xi8>
  %e = tensor.empty() : tensor<64x32xf32>
  %y = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%q : tensor<64x32xi8>) outs(%e : tensor<64x32xf32>) {
  ^bb0(%in: i8, %out: f32):
    %f = arith.sitofp %in : i8 to f32
    %d = arith.mulf %f, %s : f32
    linalg.yield %d : f32
  } -> tensor<64x32xf32>
  %max = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%y : tensor<64x32xf32>) outs(%m : tensor<64xf32>) {
  ^bb0(%in: f32, %out: f32):
    %v = arith.maximumf %in, %out : f32
    linalg.yield %v : f32
  } -> tensor<64xf32>
  return %y, %max : tensor<64x32xf32>, tensor<64xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#a = affine_map<(d0, d1, d2) -> (d0, d2)>
#b = affine_map<(d0, d1, d2) -> (d2, d1)>
#c = affine_map<(d0, d1, d2) -> (d0, d1)>

// A dequantization that is itself fused into an activation (tanh) is not
// the end of its chain: the requantization stays on its own, and the
// dequantization and the activation become one op of the 8-bit result (a
// table, in qnn-elementwise-lookup-tables).
// CHECK-LABEL: func @epilogue_before_activation
// CHECK: %[[ACC:.*]] = linalg.generic {{.*}}"reduction"
// CHECK: %[[Q:.*]] = linalg.generic {{.*}} ins(%[[ACC]] : tensor<64x32xi32>) outs(%{{.*}} : tensor<64x32xi8>)
// CHECK: linalg.generic {{.*}} ins(%[[Q]] : tensor<64x32xi8>) outs(%{{.*}} : tensor<64x32xf32>)
// CHECK: arith.sitofp
// CHECK: math.tanh
// CHECK-NOT: linalg.generic
func.func @epilogue_before_activation(%x: tensor<64x16xi8>, %w: tensor<16x32xi8>, %init: tensor<64x32xi32>) -> tensor<64x32xf32> {
  %s = arith.constant 0.05 : f32
  %acc = linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : tensor<64x16xi8>, tensor<16x32xi8>) outs(%init : tensor<64x32xi32>) {
  ^bb0(%in: i8, %in2: i8, %out: i32):
    %u = arith.extsi %in : i8 to i32
    %v = arith.extsi %in2 : i8 to i32
    %p = arith.muli %u, %v : i32
    %r = arith.addi %out, %p : i32
    linalg.yield %r : i32
  } -> tensor<64x32xi32>
  %e8 = tensor.empty() : tensor<64x32xi8>
  %q = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%acc : tensor<64x32xi32>) outs(%e8 : tensor<64x32xi8>) {
  ^bb0(%in: i32, %out: i8):
    %t = arith.trunci %in : i32 to i8
    linalg.yield %t : i8
  } -> tensor<64x32xi8>
  %e = tensor.empty() : tensor<64x32xf32>
  %d = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%q : tensor<64x32xi8>) outs(%e : tensor<64x32xf32>) {
  ^bb0(%in: i8, %out: f32):
    %f = arith.sitofp %in : i8 to f32
    %m = arith.mulf %f, %s : f32
    linalg.yield %m : f32
  } -> tensor<64x32xf32>
  %y = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%d : tensor<64x32xf32>) outs(%e : tensor<64x32xf32>) {
  ^bb0(%in: f32, %out: f32):
    %t = math.tanh %in : f32
    linalg.yield %t : f32
  } -> tensor<64x32xf32>
  return %y : tensor<64x32xf32>
}

// -----

// Attention's scores: a batch matmul over heads x queries, reshaped to
// (batch, heads, queries, keys) and scaled. The scaling is collapsed to
// the matmul's shape, reading its result directly (qnn-tile-and-vectorize-cpu
// then fuses it on the matmul's tile), and its result is reshaped instead.
// CHECK-LABEL: func.func @scaled_scores
// CHECK: %[[MM:.*]] = linalg.batch_matmul
// CHECK: %[[SCALED:.*]] = linalg.generic
// CHECK-SAME: ins(%[[MM]] : tensor<4x7x7xf32>)
// CHECK: arith.mulf
// CHECK: tensor.expand_shape %[[SCALED]] {{\[\[}}0, 1], [2], [3]] output_shape [2, 2, 7, 7] : tensor<4x7x7xf32> into tensor<2x2x7x7xf32>
func.func @scaled_scores(%q: tensor<4x7x8xf32>, %k: tensor<4x8x7xf32>) -> tensor<2x2x7x7xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x7x7xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<4x7x7xf32>) -> tensor<4x7x7xf32>
  %mm = linalg.batch_matmul ins(%q, %k : tensor<4x7x8xf32>, tensor<4x8x7xf32>) outs(%f : tensor<4x7x7xf32>) -> tensor<4x7x7xf32>
  %x = tensor.expand_shape %mm [[0, 1], [2], [3]] output_shape [2, 2, 7, 7] : tensor<4x7x7xf32> into tensor<2x2x7x7xf32>
  %e2 = tensor.empty() : tensor<2x2x7x7xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(a, b, c, d) -> (a, b, c, d)>, affine_map<(a, b, c, d) -> (a, b, c, d)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%x : tensor<2x2x7x7xf32>) outs(%e2 : tensor<2x2x7x7xf32>) {
  ^bb0(%a: f32, %o: f32):
    %c = arith.constant 0.25 : f32
    %m = arith.mulf %a, %c : f32
    linalg.yield %m : f32
  } -> tensor<2x2x7x7xf32>
  return %r : tensor<2x2x7x7xf32>
}

// -----

// The same reshape read by a second op too: the producer's result is kept
// as it is (collapsing would not remove a pass over memory).
// CHECK-LABEL: func.func @reshape_read_twice
// CHECK: %[[X:.*]] = tensor.expand_shape
// CHECK: linalg.generic
// CHECK-SAME: ins(%[[X]] : tensor<2x2x7x7xf32>)
func.func @reshape_read_twice(%q: tensor<4x7x8xf32>, %k: tensor<4x8x7xf32>) -> (tensor<2x2x7x7xf32>, tensor<2x2x7x7xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x7x7xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<4x7x7xf32>) -> tensor<4x7x7xf32>
  %mm = linalg.batch_matmul ins(%q, %k : tensor<4x7x8xf32>, tensor<4x8x7xf32>) outs(%f : tensor<4x7x7xf32>) -> tensor<4x7x7xf32>
  %x = tensor.expand_shape %mm [[0, 1], [2], [3]] output_shape [2, 2, 7, 7] : tensor<4x7x7xf32> into tensor<2x2x7x7xf32>
  %e2 = tensor.empty() : tensor<2x2x7x7xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(a, b, c, d) -> (a, b, c, d)>, affine_map<(a, b, c, d) -> (a, b, c, d)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%x : tensor<2x2x7x7xf32>) outs(%e2 : tensor<2x2x7x7xf32>) {
  ^bb0(%a: f32, %o: f32):
    %c = arith.constant 0.25 : f32
    %m = arith.mulf %a, %c : f32
    linalg.yield %m : f32
  } -> tensor<2x2x7x7xf32>
  return %r, %x : tensor<2x2x7x7xf32>, tensor<2x2x7x7xf32>
}

// -----

// An 8-bit result (a requantized layer output) read with another tensor (a
// quantized residual add) is not collapsed into: the add stays an op of
// its own.
// CHECK-LABEL: func.func @requantized_residual_add
// CHECK: %[[Q:.*]] = linalg.generic
// CHECK: %[[X:.*]] = tensor.expand_shape %[[Q]]
// CHECK: linalg.generic
// CHECK-SAME: ins(%[[X]], %{{.*}} : tensor<2x4x8xi8>, tensor<2x4x8xi8>)
func.func @requantized_residual_add(%acc: tensor<8x8xi32>, %res: tensor<2x4x8xi8>) -> tensor<2x4x8xi8> {
  %e = tensor.empty() : tensor<8x8xi8>
  %q = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%acc : tensor<8x8xi32>) outs(%e : tensor<8x8xi8>) {
  ^bb0(%a: i32, %o: i8):
    %t = arith.trunci %a : i32 to i8
    linalg.yield %t : i8
  } -> tensor<8x8xi8>
  %x = tensor.expand_shape %q [[0, 1], [2]] output_shape [2, 4, 8] : tensor<8x8xi8> into tensor<2x4x8xi8>
  %e2 = tensor.empty() : tensor<2x4x8xi8>
  %r = linalg.generic {indexing_maps = [affine_map<(a, b, c) -> (a, b, c)>, affine_map<(a, b, c) -> (a, b, c)>, affine_map<(a, b, c) -> (a, b, c)>], iterator_types = ["parallel", "parallel", "parallel"]} ins(%x, %res : tensor<2x4x8xi8>, tensor<2x4x8xi8>) outs(%e2 : tensor<2x4x8xi8>) {
  ^bb0(%a: i8, %b: i8, %o: i8):
    %s = arith.addi %a, %b : i8
    linalg.yield %s : i8
  } -> tensor<2x4x8xi8>
  return %r : tensor<2x4x8xi8>
}
