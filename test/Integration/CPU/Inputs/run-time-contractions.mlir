// Integer contractions of two run-time operands, which qnn-cpu-pipeline
// sums on the f32 units (qnn-integer-contractions-in-f32), and a whole
// tensor's range, which it computes in lanes (qnn-whole-min-max-in-lanes).

#a = affine_map<(b, m, n, k) -> (b, m, k)>
#bt = affine_map<(b, m, n, k) -> (b, n, k)>
#row = affine_map<(b, m, n, k) -> (b, m)>
#none = affine_map<(b, m, n, k) -> ()>
#out = affine_map<(b, m, n, k) -> (b, m, n)>

// Q·Kᵀ of u8 operands with run-time zero points: per row of Q (b, m), one
// for K.
func.func @scores(%q: tensor<3x40x24xi8>, %k: tensor<3x33x24xi8>, %zq: tensor<3x40xi32>, %zk: tensor<i32>) -> tensor<3x40x33xi32> {
  %c0 = arith.constant 0 : i32
  %e = tensor.empty() : tensor<3x40x33xi32>
  %i = linalg.fill ins(%c0 : i32) outs(%e : tensor<3x40x33xi32>) -> tensor<3x40x33xi32>
  %r = linalg.generic {indexing_maps = [#a, #bt, #row, #none, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %k, %zq, %zk : tensor<3x40x24xi8>, tensor<3x33x24xi8>, tensor<3x40xi32>, tensor<i32>) outs(%i : tensor<3x40x33xi32>) {
  ^bb0(%x: i8, %y: i8, %zx: i32, %zy: i32, %acc: i32):
    %xe = arith.extui %x : i8 to i32
    %xs = arith.subi %xe, %zx : i32
    %ye = arith.extui %y : i8 to i32
    %ys = arith.subi %ye, %zy : i32
    %p = arith.muli %xs, %ys : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  } -> tensor<3x40x33xi32>
  return %r : tensor<3x40x33xi32>
}

// P·V as qnn-fuse-quantized-ops writes it for static types: constant zero
// points (3 and 128) subtracted from u8 operands, added to the operands
// before the conversion (49 · 252 · 128 < 2^24); and a constant offset too
// large to fold, which stays an offset of the sum.
func.func @static_zero_points(%p: tensor<3x40x49xi8>, %v: tensor<3x49x16xi8>) -> (tensor<3x40x16xi32>, tensor<3x40x16xi32>) {
  %c0 = arith.constant 0 : i32
  %zp = arith.constant 3 : i32
  %zv = arith.constant 128 : i32
  %big = arith.constant 1000000 : i32
  %e = tensor.empty() : tensor<3x40x16xi32>
  %i = linalg.fill ins(%c0 : i32) outs(%e : tensor<3x40x16xi32>) -> tensor<3x40x16xi32>
  %r = linalg.generic {indexing_maps = [affine_map<(b, m, n, k) -> (b, m, k)>, affine_map<(b, m, n, k) -> (b, k, n)>, affine_map<(b, m, n, k) -> (b, m, n)>], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%p, %v : tensor<3x40x49xi8>, tensor<3x49x16xi8>) outs(%i : tensor<3x40x16xi32>) {
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xe = arith.extui %x : i8 to i32
    %xs = arith.subi %xe, %zp : i32
    %ye = arith.extui %y : i8 to i32
    %ys = arith.subi %ye, %zv : i32
    %prod = arith.muli %xs, %ys : i32
    %s = arith.addi %acc, %prod : i32
    linalg.yield %s : i32
  } -> tensor<3x40x16xi32>
  %t = linalg.generic {indexing_maps = [affine_map<(b, m, n, k) -> (b, m, k)>, affine_map<(b, m, n, k) -> (b, k, n)>, affine_map<(b, m, n, k) -> (b, m, n)>], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%p, %v : tensor<3x40x49xi8>, tensor<3x49x16xi8>) outs(%i : tensor<3x40x16xi32>) {
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xe = arith.extui %x : i8 to i32
    %xs = arith.subi %xe, %big : i32
    %ye = arith.extsi %y : i8 to i32
    %prod = arith.muli %xs, %ye : i32
    %s = arith.addi %acc, %prod : i32
    linalg.yield %s : i32
  } -> tensor<3x40x16xi32>
  return %r, %t : tensor<3x40x16xi32>, tensor<3x40x16xi32>
}

#mk = affine_map<(m, n, k) -> (m, k)>
#kn = affine_map<(m, n, k) -> (k, n)>
#mn = affine_map<(m, n, k) -> (m, n)>

// The largest reductions summed in f32: 258 steps of u8 x u8 and 1024 of
// s8 x s8 (the inputs hold the extremes: sums up to 2^24), from an init
// that is not zero.
func.func @limits(%a: tensor<5x258xi8>, %b: tensor<258x7xi8>, %c: tensor<5x1024xi8>, %d: tensor<1024x7xi8>, %init: tensor<5x7xi32>) -> (tensor<5x7xi32>, tensor<5x7xi32>) {
  %r0 = linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : tensor<5x258xi8>, tensor<258x7xi8>) outs(%init : tensor<5x7xi32>) {
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xe = arith.extui %x : i8 to i32
    %ye = arith.extui %y : i8 to i32
    %p = arith.muli %xe, %ye : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  } -> tensor<5x7xi32>
  %r1 = linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%c, %d : tensor<5x1024xi8>, tensor<1024x7xi8>) outs(%init : tensor<5x7xi32>) {
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xe = arith.extsi %x : i8 to i32
    %ye = arith.extsi %y : i8 to i32
    %p = arith.muli %xe, %ye : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  } -> tensor<5x7xi32>
  return %r0, %r1 : tensor<5x7xi32>, tensor<5x7xi32>
}

// Past the exact bound, in chunks: 600 steps of u8 x u8 (chunks of 200)
// and 1100 of s8 x s8 (chunks of 550), extremes whose whole sums (up to
// 600 · 255 · 255) an f32 could not hold exactly.
func.func @chunks(%a: tensor<5x600xi8>, %b: tensor<600x7xi8>, %c: tensor<5x1100xi8>, %d: tensor<1100x7xi8>, %init: tensor<5x7xi32>) -> (tensor<5x7xi32>, tensor<5x7xi32>) {
  %r0 = linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : tensor<5x600xi8>, tensor<600x7xi8>) outs(%init : tensor<5x7xi32>) {
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xe = arith.extui %x : i8 to i32
    %ye = arith.extui %y : i8 to i32
    %p = arith.muli %xe, %ye : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  } -> tensor<5x7xi32>
  %r1 = linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%c, %d : tensor<5x1100xi8>, tensor<1100x7xi8>) outs(%init : tensor<5x7xi32>) {
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xe = arith.extsi %x : i8 to i32
    %ye = arith.extsi %y : i8 to i32
    %p = arith.muli %xe, %ye : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  } -> tensor<5x7xi32>
  return %r0, %r1 : tensor<5x7xi32>, tensor<5x7xi32>
}

// A named batch matmul of s8 operands.
func.func @named(%a: tensor<2x9x70xi8>, %b: tensor<2x70x20xi8>) -> tensor<2x9x20xi32> {
  %c0 = arith.constant 0 : i32
  %e = tensor.empty() : tensor<2x9x20xi32>
  %i = linalg.fill ins(%c0 : i32) outs(%e : tensor<2x9x20xi32>) -> tensor<2x9x20xi32>
  %r = linalg.batch_matmul ins(%a, %b : tensor<2x9x70xi8>, tensor<2x70x20xi8>) outs(%i : tensor<2x9x20xi32>) -> tensor<2x9x20xi32>
  return %r : tensor<2x9x20xi32>
}

#in = affine_map<(d0, d1) -> (d0, d1)>
#scalar = affine_map<(d0, d1) -> ()>

// A tensor's finite range as qnn.dynamic_quantize computes it (from 0;
// 2257 elements: lanes along the innermost dimension), and another's min
// and max (from 0; 3136 elements: 49 rows of 64 lanes).
func.func @range(%x: tensor<61x37xf32>, %y: tensor<64x49xf32>) -> (tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>) {
  %zero = arith.constant 0.0 : f32
  %inf = arith.constant 0x7F800000 : f32
  %e = tensor.empty() : tensor<f32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<f32>) -> tensor<f32>
  %r:2 = linalg.generic {indexing_maps = [#in, #scalar, #scalar], iterator_types = ["reduction", "reduction"]}
      ins(%x : tensor<61x37xf32>) outs(%init, %init : tensor<f32>, tensor<f32>) {
  ^bb0(%v: f32, %lo: f32, %hi: f32):
    %a = math.absf %v : f32
    %finite = arith.cmpf olt, %a, %inf : f32
    %s = arith.select %finite, %v, %zero : f32
    %min = arith.minimumf %lo, %s : f32
    %max = arith.maximumf %hi, %s : f32
    linalg.yield %min, %max : f32, f32
  } -> (tensor<f32>, tensor<f32>)
  %t:2 = linalg.generic {indexing_maps = [#in, #scalar, #scalar], iterator_types = ["reduction", "reduction"]}
      ins(%y : tensor<64x49xf32>) outs(%init, %init : tensor<f32>, tensor<f32>) {
  ^bb0(%v: f32, %lo: f32, %hi: f32):
    %min = arith.minimumf %v, %lo : f32
    %max = arith.maximumf %v, %hi : f32
    linalg.yield %min, %max : f32, f32
  } -> (tensor<f32>, tensor<f32>)
  return %r#0, %r#1, %t#0, %t#1 : tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>
}
