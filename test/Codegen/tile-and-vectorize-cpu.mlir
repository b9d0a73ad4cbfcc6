// RUN: quant-opt %s --qnn-tile-and-vectorize-cpu --canonicalize --cse --split-input-file --verify-diagnostics | FileCheck %s
// RUN: echo 'func.func @f() { return }' | not quant-opt --qnn-tile-and-vectorize-cpu=vector-width=0 2>&1 | FileCheck %s --check-prefix=BAD
// BAD: error: qnn-tile-and-vectorize-cpu: vector-width, rows and reduction-tile must be positive
// RUN: quant-opt %s --qnn-tile-and-vectorize-cpu=vector-register-bits=256 --canonicalize --cse --split-input-file --verify-diagnostics | FileCheck %s --check-prefix=AVX2
// RUN: echo 'func.func @f() { return }' | not quant-opt --qnn-tile-and-vectorize-cpu=vector-register-bits=128 2>&1 | FileCheck %s --check-prefix=BAD-BITS
// BAD-BITS: error: qnn-tile-and-vectorize-cpu: vector-register-bits must be 256 (AVX2) or 512 (AVX-512), not 128

// The fused integer matmul of qnn-fuse-quantized-ops (i8 x i8 into i32):
// 24x48x40 tiles as 8 rows x 16 lanes x 10 (the largest divisor of 40 not
// above 16), each tile one vector.contract on the extended operands.
// CHECK-LABEL: func @int8_matmul
// CHECK-DAG: %[[C8:.*]] = arith.constant 8 : index
// CHECK-DAG: %[[C10:.*]] = arith.constant 10 : index
// CHECK-DAG: %[[C16:.*]] = arith.constant 16 : index
// CHECK: scf.for %[[M:.*]] = %{{.*}} to %{{.*}} step %[[C8]]
// CHECK: scf.for %[[N:.*]] = %{{.*}} to %{{.*}} step %[[C16]]
// CHECK: scf.for %[[K:.*]] = %{{.*}} to %{{.*}} step %[[C10]]
// CHECK: %[[A:.*]] = vector.transfer_read %{{.*}}[%[[M]], %[[K]]]{{.*}} : tensor<24x40xi8>, vector<8x10xi8>
// CHECK: %[[B:.*]] = vector.transfer_read %{{.*}}[%[[K]], %[[N]]]{{.*}} : tensor<40x48xi8>, vector<10x16xi8>
// CHECK: %[[ACC:.*]] = vector.transfer_read %{{.*}}[%[[M]], %[[N]]]{{.*}} : tensor<24x48xi32>, vector<8x16xi32>
// CHECK: %[[AE:.*]] = arith.extsi %[[A]] : vector<8x10xi8> to vector<8x10xi32>
// CHECK: %[[BE:.*]] = arith.extsi %[[B]] : vector<10x16xi8> to vector<10x16xi32>
// CHECK: vector.contract {{.*}} %[[AE]], %[[BE]], %[[ACC]] : vector<8x10xi32>, vector<10x16xi32> into vector<8x16xi32>
// CHECK-NOT: linalg.generic
func.func @int8_matmul(%a: tensor<24x40xi8>, %b: tensor<40x48xi8>) -> tensor<24x48xi32> {
  %c0 = arith.constant 0 : i32
  %e = tensor.empty() : tensor<24x48xi32>
  %i = linalg.fill ins(%c0 : i32) outs(%e : tensor<24x48xi32>) -> tensor<24x48xi32>
  %r = linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (k, n)>, affine_map<(m, n, k) -> (m, n)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : tensor<24x40xi8>, tensor<40x48xi8>) outs(%i : tensor<24x48xi32>) {
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xe = arith.extsi %x : i8 to i32
    %ye = arith.extsi %y : i8 to i32
    %p = arith.muli %xe, %ye : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  } -> tensor<24x48xi32>
  return %r : tensor<24x48xi32>
}

// -----

// Epilogue fusion: the requantization-shaped consumer of the matmul (here
// a truncation to i8) is tiled by the matmul's 8 x 16 tile, and the matmul
// tile runs inside it: the accumulators are consumed while hot. The fill
// that starts them is in the tile too (zeros written to the tile, not to
// the whole tensor first).
// CHECK-LABEL: func @matmul_epilogue
// CHECK: scf.for %[[M:.*]] = %{{.*}} to %{{.*}} step %c8
// CHECK-NEXT: scf.for %[[N:.*]] = %{{.*}} to %{{.*}} step %c16
// CHECK-NEXT: %[[TILE:.*]] = tensor.extract_slice %{{.*}}[%[[M]], %[[N]]] [8, 16] [1, 1] : tensor<24x48xi32> to tensor<8x16xi32>
// CHECK-NEXT: %[[ZEROS:.*]] = scf.for {{.*}} iter_args(%[[Z:.*]] = %[[TILE]])
// CHECK-NEXT: vector.transfer_write %[[ZERO:.*]], %[[Z]]
// CHECK: scf.for {{.*}} step %c10 iter_args(%{{.*}} = %[[ZEROS]])
// CHECK: vector.contract {{.*}} into vector<8x16xi32>
// CHECK: scf.yield
// CHECK: arith.trunci %{{.*}} : vector<1x16xi32> to vector<1x16xi8>
// CHECK: tensor.insert_slice %{{.*}}[%[[M]], %[[N]]] [8, 16] [1, 1] : tensor<8x16xi8> into tensor<24x48xi8>
func.func @matmul_epilogue(%a: tensor<24x40xi8>, %b: tensor<40x48xi8>) -> tensor<24x48xi8> {
  %c0 = arith.constant 0 : i32
  %e = tensor.empty() : tensor<24x48xi32>
  %i = linalg.fill ins(%c0 : i32) outs(%e : tensor<24x48xi32>) -> tensor<24x48xi32>
  %r = linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (k, n)>, affine_map<(m, n, k) -> (m, n)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : tensor<24x40xi8>, tensor<40x48xi8>) outs(%i : tensor<24x48xi32>) {
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xe = arith.extsi %x : i8 to i32
    %ye = arith.extsi %y : i8 to i32
    %p = arith.muli %xe, %ye : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  } -> tensor<24x48xi32>
  %e8 = tensor.empty() : tensor<24x48xi8>
  %t = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%r : tensor<24x48xi32>) outs(%e8 : tensor<24x48xi8>) {
  ^bb0(%v: i32, %o: i8):
    %q = arith.trunci %v : i32 to i8
    linalg.yield %q : i8
  } -> tensor<24x48xi8>
  return %t : tensor<24x48xi8>
}

// -----

// A float named matmul whose sizes are primes above the tile sizes: tiles of
// 1 row and 1 step of the reduction -- static and correct, if slow -- and
// all 19 columns (their accumulators fit the registers).
// A 5x3x7 one fits in a single tile: no loops at all.
// CHECK-LABEL: func @prime_float_matmul
// CHECK-COUNT-2: scf.for
// CHECK: vector.contract {{.*}} : vector<1x1xf32>, vector<1x19xf32> into vector<1x19xf32>
// CHECK-NOT: scf.for
// CHECK: vector.contract {{.*}} : vector<5x7xf32>, vector<7x3xf32> into vector<5x3xf32>
// CHECK-NOT: linalg.matmul
func.func @prime_float_matmul(%a: tensor<17x23xf32>, %b: tensor<23x19xf32>, %c: tensor<17x19xf32>, %d: tensor<5x7xf32>, %e: tensor<7x3xf32>, %f: tensor<5x3xf32>) -> (tensor<17x19xf32>, tensor<5x3xf32>) {
  %r = linalg.matmul ins(%a, %b : tensor<17x23xf32>, tensor<23x19xf32>) outs(%c : tensor<17x19xf32>) -> tensor<17x19xf32>
  %s = linalg.matmul ins(%d, %e : tensor<5x7xf32>, tensor<7x3xf32>) outs(%f : tensor<5x3xf32>) -> tensor<5x3xf32>
  return %r, %s : tensor<17x19xf32>, tensor<5x3xf32>
}

// -----

// Elementwise ops (here the requantization epilogue's shape: i32 to i8)
// tile only their innermost dimension, by vector-width lanes.
// CHECK-LABEL: func @elementwise
// CHECK: scf.for
// CHECK: scf.for {{.*}} step %c16
// CHECK: arith.trunci %{{.*}} : vector<1x16xi32> to vector<1x16xi8>
func.func @elementwise(%x: tensor<4x32xi32>) -> tensor<4x32xi8> {
  %e = tensor.empty() : tensor<4x32xi8>
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<4x32xi32>) outs(%e : tensor<4x32xi8>) {
  ^bb0(%v: i32, %o: i8):
    %t = arith.trunci %v : i32 to i8
    linalg.yield %t : i8
  } -> tensor<4x32xi8>
  return %r : tensor<4x32xi8>
}

// -----

// A unit-stride 2-D convolution: loops over output rows, filter rows and
// filter columns; those unit dims dropped, what is left is a contraction
// over the input channels (2 outputs x 4 channels, reducing 2), vectorized
// like a matmul tile whatever the signedness. A u8 one (extui) likewise.
// CHECK-LABEL: func @conv
// CHECK: scf.for {{.*}} to %c2 step %c1
// CHECK: scf.for {{.*}} to %c3 step %c1
// CHECK: scf.for {{.*}} to %c3 step %c1
// CHECK: vector.contract {{.*}} : vector<1x2x2xf32>, vector<2x4xf32> into vector<1x2x4xf32>
// CHECK: arith.extui %{{.*}} : vector<1x2x2xi8> to vector<1x2x2xi32>
// CHECK: vector.contract {{.*}} : vector<1x2x2xi32>, vector<2x4xi32> into vector<1x2x4xi32>
// CHECK-NOT: linalg.conv
// CHECK-NOT: linalg.generic
func.func @conv(%x: tensor<1x4x4x2xf32>, %w: tensor<3x3x2x4xf32>, %o: tensor<1x2x2x4xf32>, %xu: tensor<1x4x4x2xi8>, %wu: tensor<3x3x2x4xi8>, %ou: tensor<1x2x2x4xi32>) -> (tensor<1x2x2x4xf32>, tensor<1x2x2x4xi32>) {
  %c = linalg.conv_2d_nhwc_hwcf ins(%x, %w : tensor<1x4x4x2xf32>, tensor<3x3x2x4xf32>) outs(%o : tensor<1x2x2x4xf32>) -> tensor<1x2x2x4xf32>
  %u = linalg.generic {indexing_maps = [affine_map<(n, h, w, f, kh, kw, c) -> (n, h + kh, w + kw, c)>, affine_map<(n, h, w, f, kh, kw, c) -> (kh, kw, c, f)>, affine_map<(n, h, w, f, kh, kw, c) -> (n, h, w, f)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
      ins(%xu, %wu : tensor<1x4x4x2xi8>, tensor<3x3x2x4xi8>) outs(%ou : tensor<1x2x2x4xi32>) {
  ^bb0(%a: i8, %b: i8, %acc: i32):
    %ae = arith.extui %a : i8 to i32
    %be = arith.extsi %b : i8 to i32
    %p = arith.muli %ae, %be : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  } -> tensor<1x2x2x4xi32>
  return %c, %u : tensor<1x2x2x4xf32>, tensor<1x2x2x4xi32>
}

// -----

// A strided convolution: the same loops, and the window's stride becomes a
// strided tensor.extract_slice, after which the tile is the same channel
// contraction. A strided u8 one (extui) likewise.
// CHECK-LABEL: func @strided_conv
// CHECK: scf.for {{.*}} to %c2 step %c1
// CHECK: scf.for {{.*}} to %c3 step %c1
// CHECK: scf.for {{.*}} to %c3 step %c1
// CHECK: tensor.extract_slice %{{.*}}[0, 0, 0] [1, 2, 2] [1, 2, 1] : tensor<1x3x2xf32> to tensor<1x2x2xf32>
// CHECK: vector.contract {{.*}} : vector<1x2x2xf32>, vector<2x4xf32> into vector<1x2x4xf32>
// CHECK: tensor.extract_slice %{{.*}}[0, 0, 0] [1, 2, 2] [1, 2, 1] : tensor<1x3x2xi8> to tensor<1x2x2xi8>
// CHECK: arith.extui %{{.*}} : vector<1x2x2xi8> to vector<1x2x2xi32>
// CHECK: vector.contract {{.*}} : vector<1x2x2xi32>, vector<2x4xi32> into vector<1x2x4xi32>
// CHECK-NOT: linalg.conv
// CHECK-NOT: linalg.generic
func.func @strided_conv(%x: tensor<1x5x5x2xf32>, %w: tensor<3x3x2x4xf32>, %o: tensor<1x2x2x4xf32>, %xu: tensor<1x5x5x2xi8>, %wu: tensor<3x3x2x4xi8>, %ou: tensor<1x2x2x4xi32>) -> (tensor<1x2x2x4xf32>, tensor<1x2x2x4xi32>) {
  %c = linalg.conv_2d_nhwc_hwcf {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>} ins(%x, %w : tensor<1x5x5x2xf32>, tensor<3x3x2x4xf32>) outs(%o : tensor<1x2x2x4xf32>) -> tensor<1x2x2x4xf32>
  %u = linalg.generic {indexing_maps = [affine_map<(n, h, w, f, kh, kw, c) -> (n, 2 * h + kh, 2 * w + kw, c)>, affine_map<(n, h, w, f, kh, kw, c) -> (kh, kw, c, f)>, affine_map<(n, h, w, f, kh, kw, c) -> (n, h, w, f)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
      ins(%xu, %wu : tensor<1x5x5x2xi8>, tensor<3x3x2x4xi8>) outs(%ou : tensor<1x2x2x4xi32>) {
  ^bb0(%a: i8, %b: i8, %acc: i32):
    %ae = arith.extui %a : i8 to i32
    %be = arith.extsi %b : i8 to i32
    %p = arith.muli %ae, %be : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  } -> tensor<1x2x2x4xi32>
  return %c, %u : tensor<1x2x2x4xf32>, tensor<1x2x2x4xi32>
}

// -----

// What the strategy cannot vectorize stays, with a remark naming why.
// CHECK-LABEL: func @left_alone
// CHECK: linalg.generic
// CHECK: linalg.add
func.func @left_alone(%q: tensor<8xi4>, %d: tensor<?xf32>) -> (tensor<8xi8>, tensor<?xf32>) {
  %e = tensor.empty() : tensor<8xi8>
  // expected-remark @below {{not vectorized: it accesses sub-byte elements, stored one per byte in memory but bit-packed in vectors}}
  %s = linalg.generic {indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>], iterator_types = ["parallel"]}
      ins(%q : tensor<8xi4>) outs(%e : tensor<8xi8>) {
  ^bb0(%v: i4, %out: i8):
    %t = arith.extsi %v : i4 to i8
    linalg.yield %t : i8
  } -> tensor<8xi8>
  // expected-remark @below {{not vectorized: its shapes are dynamic}}
  %a = linalg.add ins(%d, %d : tensor<?xf32>, tensor<?xf32>) outs(%d : tensor<?xf32>) -> tensor<?xf32>
  return %s, %a : tensor<8xi8>, tensor<?xf32>
}

// -----

// 9-bit storage (weight-bits=9) is held in two bytes, not sub-byte.
// CHECK-LABEL: func @nine_bits
// CHECK: linalg.generic
func.func @nine_bits(%q: tensor<8xi9>) -> tensor<8xi16> {
  %e = tensor.empty() : tensor<8xi16>
  // expected-remark @below {{not vectorized: it accesses elements whose width is not a whole number of bytes, stored in whole bytes in memory but bit-packed in vectors}}
  %s = linalg.generic {indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>], iterator_types = ["parallel"]}
      ins(%q : tensor<8xi9>) outs(%e : tensor<8xi16>) {
  ^bb0(%v: i9, %out: i16):
    %t = arith.extsi %v : i9 to i16
    linalg.yield %t : i16
  } -> tensor<8xi16>
  return %s : tensor<8xi16>
}

// -----

// A dot product (a contraction into a rank-0 result) stays scalar: the
// vector contraction it would become needs a 0-D vector accumulator, which
// vector.contract's verifier rejects (the module used to fail to compile).
// CHECK-LABEL: func @dot
// CHECK: linalg.dot
// CHECK-NOT: vector.contract
func.func @dot(%a: tensor<40xi8>, %b: tensor<40xi8>) -> tensor<i32> {
  %zero = arith.constant 0 : i32
  %e = tensor.empty() : tensor<i32>
  %i = linalg.fill ins(%zero : i32) outs(%e : tensor<i32>) -> tensor<i32>
  // expected-remark @below {{not vectorized: it is a contraction into a rank-0 result (a dot product), which the vector contraction cannot express}}
  %r = linalg.dot ins(%a, %b : tensor<40xi8>, tensor<40xi8>) outs(%i : tensor<i32>) -> tensor<i32>
  return %r : tensor<i32>
}

// -----

// An elementwise op over 49 columns (tokens), whose largest divisor up to
// 16 is 7, with a per-row operand: 16-lane tiles over the first 48
// columns, and the last column peeled into its own static one-lane tile,
// instead of 7-lane tiles.
// CHECK-LABEL: func.func @peeled
// CHECK: scf.for %{{.*}} = %c0 to %c48 step %c16
// CHECK: math.exp %{{.*}} : vector<1x16xf32>
// CHECK: math.exp %{{.*}} : vector<1x1xf32>
// CHECK-NOT: vector<1x7xf32>
func.func @peeled(%x: tensor<4x49xf32>, %m: tensor<4xf32>) -> tensor<4x49xf32> {
  %e = tensor.empty() : tensor<4x49xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%x, %m : tensor<4x49xf32>, tensor<4xf32>) outs(%e : tensor<4x49xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %d = arith.subf %a, %b : f32
    %s = math.exp %d : f32
    linalg.yield %s : f32
  } -> tensor<4x49xf32>
  return %r : tensor<4x49xf32>
}

// -----

// The same op reading every operand whole, in memory order, or not at all
// (a rank-0 parameter): one flat loop of 16-lane tiles over all 4 x 49
// elements and one peeled 4-lane tile (196 = 12 x 16 + 4), instead of a
// one-lane tile per row.
// CHECK-LABEL: func.func @flat_peeled
// CHECK: %[[FLAT:.*]] = tensor.collapse_shape %{{.*}} {{\[\[}}0, 1]] : tensor<4x49xf32> into tensor<196xf32>
// CHECK: scf.for %{{.*}} = %c0 to %c192 step %c16
// CHECK: vector.transfer_read %[[FLAT]]
// CHECK: math.exp %{{.*}} : vector<16xf32>
// CHECK: math.exp %{{.*}} : vector<4xf32>
// CHECK-NOT: vector<1xf32>
// CHECK: tensor.expand_shape %{{.*}} {{\[\[}}0, 1]] output_shape [4, 49] : tensor<196xf32> into tensor<4x49xf32>
func.func @flat_peeled(%x: tensor<4x49xf32>, %m: tensor<f32>) -> tensor<4x49xf32> {
  %e = tensor.empty() : tensor<4x49xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> ()>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%x, %m : tensor<4x49xf32>, tensor<f32>) outs(%e : tensor<4x49xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %d = arith.subf %a, %b : f32
    %s = math.exp %d : f32
    linalg.yield %s : f32
  } -> tensor<4x49xf32>
  return %r : tensor<4x49xf32>
}

// -----

// 16 x 49 elements are 49 whole vectors: one flat loop, nothing peeled.
// CHECK-LABEL: func.func @flat_whole
// CHECK: scf.for %{{.*}} = %c0 to %c784 step %c16
// CHECK: math.exp %{{.*}} : vector<16xf32>
// CHECK-NOT: math.exp
func.func @flat_whole(%x: tensor<16x49xf32>) -> tensor<16x49xf32> {
  %e = tensor.empty() : tensor<16x49xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<16x49xf32>) outs(%e : tensor<16x49xf32>) {
  ^bb0(%a: f32, %o: f32):
    %s = math.exp %a : f32
    linalg.yield %s : f32
  } -> tensor<16x49xf32>
  return %r : tensor<16x49xf32>
}

// -----

// An operand sliced from a larger tensor (a strided view once bufferized,
// whose collapse would be a copy) keeps the per-row tiles.
// CHECK-LABEL: func.func @sliced_not_flat
// CHECK-NOT: tensor.collapse_shape
// CHECK: math.exp %{{.*}} : vector<1x1xf32>
func.func @sliced_not_flat(%big: tensor<4x64xf32>) -> tensor<4x49xf32> {
  %x = tensor.extract_slice %big[0, 0] [4, 49] [1, 1] : tensor<4x64xf32> to tensor<4x49xf32>
  %e = tensor.empty() : tensor<4x49xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<4x49xf32>) outs(%e : tensor<4x49xf32>) {
  ^bb0(%a: f32, %o: f32):
    %s = math.exp %a : f32
    linalg.yield %s : f32
  } -> tensor<4x49xf32>
  return %r : tensor<4x49xf32>
}

// -----

// A result inserted into a larger tensor (a padded buffer, which
// empty-tensor elimination lets the op write in place) keeps the per-row
// tiles too.
// CHECK-LABEL: func.func @inserted_not_flat
// CHECK-NOT: tensor.collapse_shape
// CHECK: math.exp %{{.*}} : vector<1x1xf32>
func.func @inserted_not_flat(%x: tensor<4x49xf32>, %big: tensor<4x64xf32>) -> tensor<4x64xf32> {
  %e = tensor.empty() : tensor<4x49xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<4x49xf32>) outs(%e : tensor<4x49xf32>) {
  ^bb0(%a: f32, %o: f32):
    %s = math.exp %a : f32
    linalg.yield %s : f32
  } -> tensor<4x49xf32>
  %i = tensor.insert_slice %r into %big[0, 0] [4, 49] [1, 1] : tensor<4x49xf32> into tensor<4x64xf32>
  return %i : tensor<4x64xf32>
}

// -----

// A value broadcast along the reduced innermost dimension (LayerNorm's
// variance: the mean subtracted from every channel, squared, summed): the
// vectorizer reads it as a broadcast with new leading dimensions and a
// transpose, which would lower element by element; it becomes one
// broadcast of the value with a unit inner dimension.
// CHECK-LABEL: func.func @inner_broadcast
// CHECK-NOT: vector.transpose
// CHECK: %[[M:.*]] = vector.transfer_read {{.*}} : tensor<8x7xf32>, vector<8x7xf32>
// CHECK-NOT: vector.transpose
// CHECK: %[[C:.*]] = vector.shape_cast %[[M]] : vector<8x7xf32> to vector<8x7x1xf32>
// CHECK: vector.broadcast %[[C]] : vector<8x7x1xf32> to vector<8x7x16xf32>
// CHECK-NOT: vector.transpose
func.func @inner_broadcast(%x: tensor<8x7x16xf32>, %mean: tensor<8x7xf32>) -> tensor<8x7xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x7xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<8x7xf32>) -> tensor<8x7xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %mean : tensor<8x7x16xf32>, tensor<8x7xf32>) outs(%i : tensor<8x7xf32>) {
  ^bb0(%a: f32, %m: f32, %acc: f32):
    %d = arith.subf %a, %m : f32
    %sq = arith.mulf %d, %d : f32
    %s = arith.addf %acc, %sq : f32
    linalg.yield %s : f32
  } -> tensor<8x7xf32>
  return %r : tensor<8x7xf32>
}

// -----

// A reduction over several dimensions (a whole tensor's range, as
// qnn.dynamic_quantize per tensor computes it): the reduction dimensions
// share one tile of reduction-tile (16) elements, innermost first (8, then
// 16 / 8 = 2), instead of one vector of the whole tensor.
// CHECK-LABEL: func @whole_tensor_reduction
// CHECK-COUNT-3: scf.for
// CHECK: vector.transfer_read {{.*}} : tensor<4x16x16x8xf32>, vector<1x1x2x8xf32>
// CHECK-NOT: vector<4x16x16x8xf32>
func.func @whole_tensor_reduction(%x: tensor<4x16x16x8xf32>, %init: tensor<f32>) -> tensor<f32> {
  %r = linalg.generic {indexing_maps = [affine_map<(a, b, c, d) -> (a, b, c, d)>, affine_map<(a, b, c, d) -> ()>],
                       iterator_types = ["reduction", "reduction", "reduction", "reduction"]}
      ins(%x : tensor<4x16x16x8xf32>) outs(%init : tensor<f32>) {
  ^bb0(%in: f32, %acc: f32):
    %m = arith.maximumf %acc, %in : f32
    linalg.yield %m : f32
  } -> tensor<f32>
  return %r : tensor<f32>
}

// -----

// A batch matmul's tiles have a one-element batch: its contraction is
// 2-D (the unit dimension extracted away), as the outer-product lowering
// needs; a 3-D i8 x i8 -> i32 contraction stayed unlowered.
// CHECK-LABEL: func.func @int8_batch_matmul
// CHECK: %[[A:.*]] = vector.transfer_read {{.*}} : tensor<2x36x72xi8>, vector<1x6x12xi8>
// CHECK: %[[B:.*]] = vector.transfer_read {{.*}} : tensor<2x72x100xi8>, vector<1x12x10xi8>
// CHECK: %[[ACC:.*]] = vector.transfer_read {{.*}} : tensor<2x36x100xi32>, vector<1x6x10xi32>
// CHECK: %[[A2:.*]] = vector.extract %[[A]][0] : vector<6x12xi8> from vector<1x6x12xi8>
// CHECK: %[[B2:.*]] = vector.extract %[[B]][0] : vector<12x10xi8> from vector<1x12x10xi8>
// CHECK: %[[ACC2:.*]] = vector.extract %[[ACC]][0] : vector<6x10xi32> from vector<1x6x10xi32>
// CHECK: vector.contract {{.*}} %[[A2]], %[[B2]], %[[ACC2]] : vector<6x12xi8>, vector<12x10xi8> into vector<6x10xi32>
func.func @int8_batch_matmul(%a: tensor<2x36x72xi8>, %b: tensor<2x72x100xi8>) -> tensor<2x36x100xi32> {
  %zero = arith.constant 0 : i32
  %e = tensor.empty() : tensor<2x36x100xi32>
  %i = linalg.fill ins(%zero : i32) outs(%e : tensor<2x36x100xi32>) -> tensor<2x36x100xi32>
  %r = linalg.batch_matmul ins(%a, %b : tensor<2x36x72xi8>, tensor<2x72x100xi8>) outs(%i : tensor<2x36x100xi32>) -> tensor<2x36x100xi32>
  return %r : tensor<2x36x100xi32>
}

// -----

// A row reduction (softmax's max over 49 keys) whose row has no divisor
// near the vector width reads whole rows, one row per tile (was 2 x 7 rows
// of 7 lanes, each reduced horizontally).
// CHECK-LABEL: func @row_max_49
// CHECK: vector.transfer_write %{{.*}} : vector<1x1xf32>, tensor<2x49xf32>
// CHECK: scf.for %[[B:.*]] = %{{.*}} to %{{.*}} step %{{.*}}
// CHECK-NEXT: scf.for %[[R:.*]] = %{{.*}} to %{{.*}} step %{{.*}}
// CHECK-NEXT: %[[X:.*]] = vector.transfer_read %{{.*}}[%[[B]], %[[R]], %{{.*}}]{{.*}} : tensor<2x49x49xf32>, vector<1x1x49xf32>
// CHECK: vector.multi_reduction <maximumf>, %[[X]], %{{.*}} [2] : vector<1x1x49xf32> to vector<1x1xf32>
// AVX2-LABEL: func @row_max_49
// AVX2: vector.multi_reduction <maximumf>, %{{.*}}, %{{.*}} [2] : vector<1x1x49xf32> to vector<1x1xf32>
func.func @row_max_49(%x: tensor<2x49x49xf32>) -> tensor<2x49xf32> {
  %init = arith.constant -3.40282347E+38 : f32
  %e = tensor.empty() : tensor<2x49xf32>
  %f = linalg.fill ins(%init : f32) outs(%e : tensor<2x49xf32>) -> tensor<2x49xf32>
  %m = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x : tensor<2x49x49xf32>) outs(%f : tensor<2x49xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.maximumf %in, %out : f32
    linalg.yield %r : f32
  } -> tensor<2x49xf32>
  return %m : tensor<2x49xf32>
}

// -----

// Attention's scores Q x K^T over 49 keys: no divisor of 49 near 16 lanes,
// so with AVX-512 (the default, 32 zmm registers) a tile is 7 rows x all
// 49 keys (7 x 4 accumulator registers); with AVX2's 16 ymm registers
// (7 x 7 would be needed) it takes one row of 49 keys (7 ymm) per tile,
// not 7 x 7 tiles whose rows would be vectors of 7 lanes.
// CHECK-LABEL: func @scores_49
// CHECK: vector.contract {{.*}} : vector<7x16xf32>, vector<16x49xf32> into vector<7x49xf32>
// AVX2-LABEL: func @scores_49
// AVX2: vector.contract {{.*}} : vector<1x16xf32>, vector<16x49xf32> into vector<1x49xf32>
func.func @scores_49(%q: tensor<4x49x16xf32>, %k: tensor<4x16x49xf32>) -> tensor<4x49x49xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x49x49xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<4x49x49xf32>) -> tensor<4x49x49xf32>
  %s = linalg.batch_matmul ins(%q, %k : tensor<4x49x16xf32>, tensor<4x16x49xf32>) outs(%f : tensor<4x49x49xf32>) -> tensor<4x49x49xf32>
  return %s : tensor<4x49x49xf32>
}

// -----

// A 2x2 max pool (NHWC): its channels, innermost in the output, are the
// lanes (16 of them), not tiles of one channel with strided scalar reads.
// CHECK-LABEL: func.func @max_pool_channels_in_lanes
// CHECK: arith.maximumf %{{.*}}, %{{.*}} : vector<1x1x16xf32>
// CHECK-NOT: vector<1x1x1xf32>
// AVX2-LABEL: func.func @max_pool_channels_in_lanes
// AVX2: arith.maximumf %{{.*}}, %{{.*}} : vector<1x1x16xf32>
func.func @max_pool_channels_in_lanes(%x: tensor<2x8x8x16xf32>) -> tensor<2x4x4x16xf32> {
  %lowest = arith.constant -3.40282347E+38 : f32
  %e = tensor.empty() : tensor<2x4x4x16xf32>
  %f = linalg.fill ins(%lowest : f32) outs(%e : tensor<2x4x4x16xf32>) -> tensor<2x4x4x16xf32>
  %w = tensor.empty() : tensor<2x2xf32>
  %r = linalg.pooling_nhwc_max {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>} ins(%x, %w : tensor<2x8x8x16xf32>, tensor<2x2xf32>) outs(%f : tensor<2x4x4x16xf32>) -> tensor<2x4x4x16xf32>
  return %r : tensor<2x4x4x16xf32>
}
