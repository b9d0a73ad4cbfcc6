// RUN: quant-opt %s --split-input-file --qnn-elementwise-lookup-tables --mlir-print-elementsattrs-with-hex-if-larger=-1 | FileCheck %s

#id = affine_map<(d0, d1) -> (d0, d1)>

// A quantized tanh (dequantize, tanh, quantize): the body computed once for
// each byte 0..255 into an i32 table, then each element looked up by its
// input as an unsigned index.
// CHECK-LABEL: func @tanh
// CHECK-SAME: (%[[X:.*]]: tensor<64x32xi8>)
// CHECK: %[[BYTES:.*]] = arith.constant dense<[0, 1, 2, {{.*}}, 127, -128, -127, {{.*}}, -2, -1]> : tensor<256xi8>
// CHECK: %[[TABLE:.*]] = linalg.generic {{.*}} ins(%[[BYTES]] : tensor<256xi8>) outs(%{{.*}} : tensor<256xi32>)
// CHECK-NEXT: ^bb0(%[[IN:.*]]: i8, %{{.*}}: i32):
// CHECK-NEXT: %[[F:.*]] = arith.sitofp %[[IN]] : i8 to f32
// CHECK-NEXT: %[[D:.*]] = arith.mulf %[[F]]
// CHECK-NEXT: %[[T:.*]] = math.tanh %[[D]]
// CHECK-NEXT: %[[V:.*]] = arith.divf %[[T]]
// CHECK-NEXT: %[[R:.*]] = math.roundeven %[[V]]
// CHECK-NEXT: %[[I:.*]] = arith.fptosi %[[R]] : f32 to i8
// CHECK-NEXT: %[[W:.*]] = arith.extui %[[I]] : i8 to i32
// CHECK-NEXT: linalg.yield %[[W]] : i32
// CHECK: %[[Y:.*]] = linalg.generic {{.*}} ins(%[[X]] : tensor<64x32xi8>) outs(%{{.*}} : tensor<64x32xi8>)
// CHECK-NEXT: ^bb0(%[[B:.*]]: i8, %{{.*}}: i8):
// CHECK-NEXT: %[[INDEX:.*]] = arith.index_castui %[[B]] : i8 to index
// CHECK-NEXT: %[[E:.*]] = tensor.extract %[[TABLE]][%[[INDEX]]] : tensor<256xi32>
// CHECK-NEXT: %[[O:.*]] = arith.trunci %[[E]] : i32 to i8
// CHECK-NEXT: linalg.yield %[[O]] : i8
// CHECK: return %[[Y]]
func.func @tanh(%x: tensor<64x32xi8>) -> tensor<64x32xi8> {
  %s = arith.constant 0.05 : f32
  %e = tensor.empty() : tensor<64x32xi8>
  %y = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<64x32xi8>) outs(%e : tensor<64x32xi8>) {
  ^bb0(%in: i8, %out: i8):
    %f = arith.sitofp %in : i8 to f32
    %d = arith.mulf %f, %s : f32
    %t = math.tanh %d : f32
    %v = arith.divf %t, %s : f32
    %r = math.roundeven %v : f32
    %i = arith.fptosi %r : f32 to i8
    linalg.yield %i : i8
  } -> tensor<64x32xi8>
  return %y : tensor<64x32xi8>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>

// A float output (a dequantized sigmoid, the model's result) keeps its
// type in the table.
// CHECK-LABEL: func @sigmoid_to_float
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<256xf32>)
// CHECK: math.exp
// CHECK: tensor.extract %{{.*}}[%{{.*}}] : tensor<256xf32>
// CHECK-NOT: arith.trunci
func.func @sigmoid_to_float(%x: tensor<64x32xi8>) -> tensor<64x32xf32> {
  %s = arith.constant 0.05 : f32
  %one = arith.constant 1.0 : f32
  %e = tensor.empty() : tensor<64x32xf32>
  %y = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<64x32xi8>) outs(%e : tensor<64x32xf32>) {
  ^bb0(%in: i8, %out: f32):
    %u = arith.extui %in : i8 to i32
    %f = arith.uitofp %u : i32 to f32
    %d = arith.mulf %f, %s : f32
    %n = arith.negf %d : f32
    %x1 = math.exp %n : f32
    %p = arith.addf %x1, %one : f32
    %q = arith.divf %one, %p : f32
    linalg.yield %q : f32
  } -> tensor<64x32xf32>
  return %y : tensor<64x32xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#t = affine_map<(d0, d1) -> (d1, d0)>
#row = affine_map<(d0, d1) -> (d0)>

// Left as they are: a body without a division or a math function (a
// requantization is cheaper to compute than to gather), fewer than 1024
// elements, a second input, a transposing map, a body that reads the
// element's position or the output's old value, a 16-bit input.
// CHECK-LABEL: func @left_alone
// CHECK-NOT: tensor.extract
// CHECK-NOT: tensor<256x
// CHECK: return
func.func @left_alone(%x: tensor<64x32xi8>, %small: tensor<16x32xi8>, %b: tensor<64xf32>, %x16: tensor<64x32xi16>) -> (tensor<64x32xi8>, tensor<16x32xf32>, tensor<64x32xf32>, tensor<32x64xf32>, tensor<64x32xf32>, tensor<64x32xf32>, tensor<64x32xf32>) {
  %s = arith.constant 0.05 : f32
  %e8 = tensor.empty() : tensor<64x32xi8>
  %e = tensor.empty() : tensor<64x32xf32>
  %cheap = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<64x32xi8>) outs(%e8 : tensor<64x32xi8>) {
  ^bb0(%in: i8, %out: i8):
    %w = arith.extsi %in : i8 to i32
    %m = arith.muli %w, %w : i32
    %t = arith.trunci %m : i32 to i8
    linalg.yield %t : i8
  } -> tensor<64x32xi8>
  %es = tensor.empty() : tensor<16x32xf32>
  %few = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%small : tensor<16x32xi8>) outs(%es : tensor<16x32xf32>) {
  ^bb0(%in: i8, %out: f32):
    %f = arith.sitofp %in : i8 to f32
    %t = math.tanh %f : f32
    linalg.yield %t : f32
  } -> tensor<16x32xf32>
  %two = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %b : tensor<64x32xi8>, tensor<64xf32>) outs(%e : tensor<64x32xf32>) {
  ^bb0(%in: i8, %bias: f32, %out: f32):
    %f = arith.sitofp %in : i8 to f32
    %t = math.tanh %f : f32
    %a = arith.addf %t, %bias : f32
    linalg.yield %a : f32
  } -> tensor<64x32xf32>
  %et = tensor.empty() : tensor<32x64xf32>
  %transposed = linalg.generic {indexing_maps = [#t, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<64x32xi8>) outs(%et : tensor<32x64xf32>) {
  ^bb0(%in: i8, %out: f32):
    %f = arith.sitofp %in : i8 to f32
    %t = math.tanh %f : f32
    linalg.yield %t : f32
  } -> tensor<32x64xf32>
  %position = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<64x32xi8>) outs(%e : tensor<64x32xf32>) {
  ^bb0(%in: i8, %out: f32):
    %i = linalg.index 1 : index
    %c = arith.index_cast %i : index to i32
    %f = arith.sitofp %c : i32 to f32
    %t = math.tanh %f : f32
    linalg.yield %t : f32
  } -> tensor<64x32xf32>
  %old = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<64x32xi8>) outs(%e : tensor<64x32xf32>) {
  ^bb0(%in: i8, %out: f32):
    %f = arith.sitofp %in : i8 to f32
    %t = math.tanh %f : f32
    %a = arith.addf %t, %out : f32
    linalg.yield %a : f32
  } -> tensor<64x32xf32>
  %wide = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x16 : tensor<64x32xi16>) outs(%e : tensor<64x32xf32>) {
  ^bb0(%in: i16, %out: f32):
    %f = arith.sitofp %in : i16 to f32
    %t = math.tanh %f : f32
    linalg.yield %t : f32
  } -> tensor<64x32xf32>
  return %cheap, %few, %two, %transposed, %position, %old, %wide : tensor<64x32xi8>, tensor<16x32xf32>, tensor<64x32xf32>, tensor<32x64xf32>, tensor<64x32xf32>, tensor<64x32xf32>, tensor<64x32xf32>
}
