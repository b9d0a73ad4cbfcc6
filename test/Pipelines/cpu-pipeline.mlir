// RUN: quant-opt %s "--qnn-cpu-pipeline=strategy=generic lower-to-llvm=false" | FileCheck %s --check-prefix=VECTORS
// RUN: quant-opt %s --qnn-cpu-pipeline=strategy=generic | FileCheck %s --check-prefix=LLVM
// RUN: quant-opt %s "--qnn-cpu-pipeline=strategy=scalar lower-to-llvm=false" | FileCheck %s --check-prefix=SCALAR
// RUN: not quant-opt %s --qnn-cpu-pipeline=strategy=fast 2>&1 | FileCheck %s --check-prefix=BAD

// The i8 matmul of a fused layer and its requantization: the contraction is
// tiled (8 rows, 16 lanes, 16 of k) into one vector.contract per tile, and
// the lowered code multiplies 16 lanes at a time: no scalar reduction loop.
// (strategy=generic: the micro-kernels would take the constant weights;
// qnn-integer-contractions-in-f32 takes only two run-time operands, as in
// @int8_scores below.)
// VECTORS-LABEL: func @int8_matmul_requantized
// VECTORS: scf.for {{.*}} step %c8
// VECTORS: scf.for {{.*}} step %c16
// VECTORS: scf.for {{.*}} step %c16
// VECTORS: vector.contract {{.*}} : vector<8x16xi32>, vector<16x16xi32> into vector<8x16xi32>
// The rescale epilogue, vectorized too (in f64: the accumulator is
// bounded by the contraction, so |a| * m < 2^53 and p / 2^n is exact).
// VECTORS: arith.mulf %{{.*}}, %{{.*}} : vector<1x16xf64>
// VECTORS: math.roundeven %{{.*}} : vector<1x16xf64>
// VECTORS-NOT: linalg.
// VECTORS-NOT: memref.load

// LLVM-LABEL: llvm.func @int8_matmul_requantized
// LLVM: llvm.mul %{{.*}}, %{{.*}} : vector<16xi32>
// LLVM-NOT: llvm.mul %{{.*}}, %{{.*}} : i32
// LLVM: llvm.fmul %{{.*}}, %{{.*}} : vector<16xf64>
// LLVM-NOT: llvm.mul %{{.*}}, %{{.*}} : i32

// Two run-time u8 operands, 64 steps: the products summed exactly on the
// f32 units (qnn-integer-contractions-in-f32), then converted to i32.
// VECTORS-LABEL: func @int8_scores
// VECTORS: vector.contract {{.*}} : vector<8x16xf32>, vector<16x16xf32> into vector<8x16xf32>
// VECTORS: arith.fptosi %{{.*}} : vector<1x16xf32> to vector<1x16xi32>

// Attention's scores scaled: the 1 x 7 x 49 tile of the batch matmul is
// fused into the scaling's loop, its f32 accumulators a scratch buffer
// allocated once before the loops (buffer-loop-hoisting), not a malloc and
// a free per tile.
// VECTORS-LABEL: func @scores_scaled
// VECTORS-NOT: scf.for
// VECTORS: memref.alloc() {{.*}} : memref<1x7x49xf32>
// VECTORS: scf.for
// VECTORS: vector.contract {{.*}} into vector<7x49xf32>
// VECTORS: arith.mulf
// VECTORS-NOT: memref.alloc
// VECTORS: return

// SCALAR-LABEL: func @int8_matmul_requantized
// SCALAR: memref.load
// SCALAR: arith.muli %{{.*}}, %{{.*}} : i32
// SCALAR-NOT: vector.

// BAD: for the --strategy option: Cannot find option named 'fast'!
func.func @int8_matmul_requantized(%a: tensor<32x64xi8>) -> tensor<32x48x!quant.uniform<i8:f32, 0.5>> {
  %b = arith.constant dense<3> : tensor<64x48xi8>
  %c0 = arith.constant 0 : i32
  %e = tensor.empty() : tensor<32x48xi32>
  %i = linalg.fill ins(%c0 : i32) outs(%e : tensor<32x48xi32>) -> tensor<32x48xi32>
  %r = linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (k, n)>, affine_map<(m, n, k) -> (m, n)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : tensor<32x64xi8>, tensor<64x48xi8>) outs(%i : tensor<32x48xi32>) {
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xe = arith.extsi %x : i8 to i32
    %ye = arith.extsi %y : i8 to i32
    %p = arith.muli %xe, %ye : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  } -> tensor<32x48xi32>
  %y = qnn.rescale %r multipliers [1073741824] shifts [40] clamp [-128, 127] : tensor<32x48xi32> -> tensor<32x48x!quant.uniform<i8:f32, 0.5>>
  return %y : tensor<32x48x!quant.uniform<i8:f32, 0.5>>
}

func.func @int8_scores(%a: tensor<32x64xi8>, %b: tensor<64x48xi8>) -> tensor<32x48xi32> {
  %c0 = arith.constant 0 : i32
  %e = tensor.empty() : tensor<32x48xi32>
  %i = linalg.fill ins(%c0 : i32) outs(%e : tensor<32x48xi32>) -> tensor<32x48xi32>
  %r = linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (k, n)>, affine_map<(m, n, k) -> (m, n)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : tensor<32x64xi8>, tensor<64x48xi8>) outs(%i : tensor<32x48xi32>) {
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xe = arith.extui %x : i8 to i32
    %ye = arith.extui %y : i8 to i32
    %p = arith.muli %xe, %ye : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  } -> tensor<32x48xi32>
  return %r : tensor<32x48xi32>
}

func.func @scores_scaled(%q: tensor<4x49x16xf32>, %k: tensor<4x16x49xf32>) -> tensor<4x49x49xf32> {
  %zero = arith.constant 0.0 : f32
  %scale = arith.constant 0.25 : f32
  %e = tensor.empty() : tensor<4x49x49xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<4x49x49xf32>) -> tensor<4x49x49xf32>
  %s = linalg.batch_matmul ins(%q, %k : tensor<4x49x16xf32>, tensor<4x16x49xf32>) outs(%f : tensor<4x49x49xf32>) -> tensor<4x49x49xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(b, i, j) -> (b, i, j)>, affine_map<(b, i, j) -> (b, i, j)>], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%s : tensor<4x49x49xf32>) outs(%e : tensor<4x49x49xf32>) {
  ^bb0(%x: f32, %o: f32):
    %m = arith.mulf %x, %scale : f32
    linalg.yield %m : f32
  } -> tensor<4x49x49xf32>
  return %y : tensor<4x49x49xf32>
}


// Two padded tensors of one shape: each producer writes into its own padded
// buffer (CSE merges their zero fills; qnn-distinct-insert-destinations
// gives the second its own again): no copy of a buffer, no element loop.
// VECTORS-LABEL: func @two_pads
// VECTORS-COUNT-2: memref.alloc() {alignment = 64 : i64} : memref<2x6x6x16xf32>
// VECTORS-NOT: memref.copy
// VECTORS-NOT: memref.load
// VECTORS: return
func.func @two_pads(%a: tensor<2x4x4x16xf32>, %b: tensor<2x4x4x16xf32>) -> (tensor<2x6x6x16xf32>, tensor<2x6x6x16xf32>) {
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x4x4x16xf32>
  %x = linalg.generic {indexing_maps = [affine_map<(a, b, c, d) -> (a, b, c, d)>, affine_map<(a, b, c, d) -> (a, b, c, d)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%a : tensor<2x4x4x16xf32>) outs(%e : tensor<2x4x4x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %n = arith.addf %in, %in : f32
    linalg.yield %n : f32
  } -> tensor<2x4x4x16xf32>
  %p = tensor.pad %x low[0, 1, 1, 0] high[0, 1, 1, 0] {
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %z : f32
  } : tensor<2x4x4x16xf32> to tensor<2x6x6x16xf32>
  %e2 = tensor.empty() : tensor<2x4x4x16xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(a, b, c, d) -> (a, b, c, d)>, affine_map<(a, b, c, d) -> (a, b, c, d)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%b : tensor<2x4x4x16xf32>) outs(%e2 : tensor<2x4x4x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %n = arith.mulf %in, %in : f32
    linalg.yield %n : f32
  } -> tensor<2x4x4x16xf32>
  %q = tensor.pad %y low[0, 1, 1, 0] high[0, 1, 1, 0] {
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %z : f32
  } : tensor<2x4x4x16xf32> to tensor<2x6x6x16xf32>
  return %p, %q : tensor<2x6x6x16xf32>, tensor<2x6x6x16xf32>
}
