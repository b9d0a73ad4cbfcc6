// qnn-microkernel-cpu: weights packed at compile time into the kernel's
// layout and the kernel each instruction set gets, checked on any machine
// (cpu= picks the target). The executed checks, bit for bit against NumPy,
// are test/Integration/CPU/microkernel-vs-reference.test.

// RUN: quant-opt %s --qnn-microkernel-cpu=cpu=znver4 --canonicalize --cse -split-input-file -verify-diagnostics -mlir-print-elementsattrs-with-hex-if-larger=1000 | FileCheck %s --check-prefix=VNNI
// RUN: quant-opt %s --qnn-microkernel-cpu=cpu=znver3 --canonicalize --cse -split-input-file -verify-diagnostics -mlir-print-elementsattrs-with-hex-if-larger=1000 | FileCheck %s --check-prefix=AVX2
// RUN: quant-opt %s --qnn-microkernel-cpu=cpu=x86-64-v4 --canonicalize --cse -split-input-file -verify-diagnostics -mlir-print-elementsattrs-with-hex-if-larger=1000 | FileCheck %s --check-prefix=AVX512

// Signed activations, weights w = [[1, 2], [3, 4]] (k x n).
// With VNNI, k padded with zeros to a whole group (a fill and an insert,
// which vectorize); then a panel of 16 channels in 4-element k-groups: channel 0 reads
// (w[0][0], w[1][0], 0, 0) = (1, 3, 0, 0), channel 1 (2, 4, 0, 0); the
// activations are shifted to u8 (xor -128) and -128 * sum_k w[k][n]
// (-512, -768) starts the accumulators.
// VNNI-LABEL: func.func @signed_matmul
// VNNI-DAG: arith.constant dense<[-512, -768, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]> : tensor<16xi32>
// VNNI-DAG: arith.constant dense<{{\[\[\[}}1, 3, 0, 0, 2, 4, 0, 0, 0, {{.*}}]]]> : tensor<1x1x64xi8>
// VNNI: %[[ZEROS:.*]] = linalg.fill ins(%{{.*}} : i8) outs(%{{.*}} : tensor<5x4xi8>)
// VNNI: tensor.insert_slice %{{.*}} into %[[ZEROS]][0, 0] [5, 2] [1, 1] : tensor<5x2xi8> into tensor<5x4xi8>
// VNNI: arith.xori %{{.*}}, %{{.*}} : i8
// VNNI-COUNT-5: call @llvm.x86.avx512.vpdpbusd.512({{.*}}) : (vector<16xi32>, vector<64xi8>, vector<64xi8>) -> vector<16xi32>
// VNNI-NOT: linalg.generic {{.*}}reduction
// VNNI: func.func private @llvm.x86.avx512.vpdpbusd.512(vector<16xi32>, vector<64xi8>, vector<64xi8>) -> vector<16xi32>
// With AVX2, pairs of k in i16, 8 channels per ymm: (1, 3), (2, 4); activations
// sign-extended to i16; no correction.
// AVX2-LABEL: func.func @signed_matmul
// AVX2: arith.constant dense<{{\[\[\[}}1, 3, 2, 4, 0, {{.*}}]]]> : tensor<1x1x16xi16>
// AVX2: arith.extsi %{{.*}} : i8 to i16
// AVX2-COUNT-5: call @llvm.x86.avx2.pmadd.wd({{.*}}) : (vector<16xi16>, vector<16xi16>) -> vector<8xi32>
// AVX2: func.func private @llvm.x86.avx2.pmadd.wd(vector<16xi16>, vector<16xi16>) -> vector<8xi32>
// AVX512-LABEL: func.func @signed_matmul
// AVX512: tensor<1x1x32xi16>
// AVX512: call @llvm.x86.avx512.pmaddw.d.512({{.*}}) : (vector<32xi16>, vector<32xi16>) -> vector<16xi32>
func.func @signed_matmul(%a: tensor<5x2xi8>) -> tensor<5x2xi32> {
  %w = arith.constant dense<[[1, 2], [3, 4]]> : tensor<2x2xi8>
  %zero = arith.constant 0 : i32
  %e = tensor.empty() : tensor<5x2xi32>
  %i = linalg.fill ins(%zero : i32) outs(%e : tensor<5x2xi32>) -> tensor<5x2xi32>
  %r = linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (k, n)>, affine_map<(m, n, k) -> (m, n)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %w : tensor<5x2xi8>, tensor<2x2xi8>) outs(%i : tensor<5x2xi32>) {
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xe = arith.extsi %x : i8 to i32
    %ye = arith.extsi %y : i8 to i32
    %p = arith.muli %xe, %ye : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  } -> tensor<5x2xi32>
  return %r : tensor<5x2xi32>
}

// -----

// A quantized convolution as qnn-fuse-quantized-ops makes it (u8 input, s8
// HWCF filter, bias in the init): filter taps as loops around the k-groups,
// a tile of output columns; u8 activations need no shift and no correction.
// VNNI-LABEL: func.func @conv
// VNNI-NOT: arith.xori
// VNNI: scf.for
// VNNI: scf.for
// VNNI: scf.for
// VNNI: call @llvm.x86.avx512.vpdpbusd.512
// AVX2-LABEL: func.func @conv
// AVX2: arith.extui %{{.*}} : i8 to i16
// AVX2: call @llvm.x86.avx2.pmadd.wd
func.func @conv(%x: tensor<1x10x10x8xi8>, %bias: tensor<1x8x8x16xi32>) -> tensor<1x8x8x16xi32> {
  %k = arith.constant dense<3> : tensor<3x3x8x16xi8>
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d1 + d4, d2 + d5, d6)>, affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d4, d5, d6, d3)>, affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
      ins(%x, %k : tensor<1x10x10x8xi8>, tensor<3x3x8x16xi8>) outs(%bias : tensor<1x8x8x16xi32>) {
  ^bb0(%in: i8, %w: i8, %acc: i32):
    %ie = arith.extui %in : i8 to i32
    %we = arith.extsi %w : i8 to i32
    %p = arith.muli %ie, %we : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  } -> tensor<1x8x8x16xi32>
  return %r : tensor<1x8x8x16xi32>
}

// -----

// One input channel (a network's first convolution), 3x3 stride 2: the
// filter columns fold into the k-groups (kw, c), read from the input as one
// flat run per filter row; with VNNI one 4-byte group per filter row (3
// vpdpbusd per output instead of 9), packed weights [panel][kh][16 x 4];
// one zero appended past the input for the last window's fourth byte.
// With vpmaddwd, two pairs per filter row (6 instead of 9).
// VNNI-LABEL: func.func @conv_one_channel
// VNNI-DAG: arith.constant dense<{{.*}}> : tensor<1x3x64xi8>
// VNNI-DAG: %[[FLAT:.*]] = tensor.collapse_shape %{{.*}} {{\[\[}}0, 1, 2, 3]] : tensor<1x9x9x1xi8> into tensor<81xi8>
// VNNI-DAG: %[[ZEROS:.*]] = linalg.fill ins(%{{.*}} : i8) outs(%{{.*}} : tensor<82xi8>)
// VNNI: tensor.insert_slice %[[FLAT]] into %[[ZEROS]][0] [81] [1] : tensor<81xi8> into tensor<82xi8>
// VNNI: scf.for
// VNNI: vector.transfer_read %{{.*}}[%{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<82xi8>, vector<4xi8>
// VNNI: call @llvm.x86.avx512.vpdpbusd.512
// AVX2-LABEL: func.func @conv_one_channel
// AVX2-DAG: arith.constant dense<{{.*}}> : tensor<1x6x32xi16>
// AVX2: arith.extui %{{.*}} : i8 to i16
// AVX2: vector.transfer_read %{{.*}}[%{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<82xi16>, vector<2xi16>
// AVX2: call @llvm.x86.avx2.pmadd.wd
func.func @conv_one_channel(%x: tensor<1x9x9x1xi8>, %bias: tensor<1x4x4x16xi32>) -> tensor<1x4x4x16xi32> {
  %k = arith.constant dense<3> : tensor<3x3x1x16xi8>
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d1 * 2 + d4, d2 * 2 + d5, d6)>, affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d4, d5, d6, d3)>, affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
      ins(%x, %k : tensor<1x9x9x1xi8>, tensor<3x3x1x16xi8>) outs(%bias : tensor<1x4x4x16xi32>) {
  ^bb0(%in: i8, %w: i8, %acc: i32):
    %ie = arith.extui %in : i8 to i32
    %we = arith.extsi %w : i8 to i32
    %p = arith.muli %ie, %we : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  } -> tensor<1x4x4x16xi32>
  return %r : tensor<1x4x4x16xi32>
}

// -----

// A depthwise convolution (u8 input, s8 HWC filter with w[kh][kw][c] = 10 *
// (3 * kh + kw) + c): each lane its own channel. The weights are packed per
// tap as i16 pairs (w, 0): tap 0 gives (0, 0, 1, 0, 2, 0), tap 1 (10, 0,
// 11, 0, ...); the activations are read as a vector of channels and
// widened to i32 lanes, whose high i16 half meets the weight's 0. VNNI
// (vpdpwssd) adds in the same instruction; AVX2 and AVX-512 without VNNI
// add the vpmaddwd products.
// VNNI-LABEL: func.func @depthwise
// VNNI: arith.constant dense<{{\[\[\[}}0, 0, 1, 0, 2, 0, 0, 0, {{.*}}], [10, 0, 11, 0, 12, 0, 0, {{.*}}> : tensor<1x9x32xi16>
// VNNI-NOT: arith.xori
// VNNI: vector.transfer_read {{.*}} : tensor<1x10x10x3xi8>, vector<16xi8>
// VNNI: arith.extui %{{.*}} : vector<16xi8> to vector<16xi32>
// VNNI: vector.bitcast %{{.*}} : vector<16xi32> to vector<32xi16>
// VNNI: call @llvm.x86.avx512.vpdpwssd.512({{.*}}) : (vector<16xi32>, vector<32xi16>, vector<32xi16>) -> vector<16xi32>
// VNNI-NOT: linalg.generic
// AVX2-LABEL: func.func @depthwise
// AVX2: tensor<1x9x16xi16>
// AVX2: arith.extui %{{.*}} : vector<8xi8> to vector<8xi32>
// AVX2: call @llvm.x86.avx2.pmadd.wd
// AVX512-LABEL: func.func @depthwise
// AVX512: call @llvm.x86.avx512.pmaddw.d.512
func.func @depthwise(%x: tensor<1x10x10x3xi8>) -> tensor<1x8x8x3xi32> {
  %k = arith.constant dense<[[[0, 1, 2], [10, 11, 12], [20, 21, 22]], [[30, 31, 32], [40, 41, 42], [50, 51, 52]], [[60, 61, 62], [70, 71, 72], [80, 81, 82]]]> : tensor<3x3x3xi8>
  %zero = arith.constant 0 : i32
  %e = tensor.empty() : tensor<1x8x8x3xi32>
  %i = linalg.fill ins(%zero : i32) outs(%e : tensor<1x8x8x3xi32>) -> tensor<1x8x8x3xi32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1 + d4, d2 + d5, d3)>, affine_map<(d0, d1, d2, d3, d4, d5) -> (d4, d5, d3)>, affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction"]}
      ins(%x, %k : tensor<1x10x10x3xi8>, tensor<3x3x3xi8>) outs(%i : tensor<1x8x8x3xi32>) {
  ^bb0(%in: i8, %w: i8, %acc: i32):
    %ie = arith.extui %in : i8 to i32
    %we = arith.extsi %w : i8 to i32
    %p = arith.muli %ie, %we : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  } -> tensor<1x8x8x3xi32>
  return %r : tensor<1x8x8x3xi32>
}

// -----

// f32: one FMA per lane with a broadcast activation, 16 lanes with AVX-512,
// 8 with AVX2.
// VNNI-LABEL: func.func @float_matmul
// VNNI: vector.fma {{.*}} : vector<16xf32>
// AVX2-LABEL: func.func @float_matmul
// AVX2: vector.fma {{.*}} : vector<8xf32>
func.func @float_matmul(%a: tensor<6x8xf32>) -> tensor<6x16xf32> {
  %w = arith.constant dense<0.5> : tensor<8x16xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<6x16xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<6x16xf32>) -> tensor<6x16xf32>
  %r = linalg.matmul ins(%a, %w : tensor<6x8xf32>, tensor<8x16xf32>) outs(%i : tensor<6x16xf32>) -> tensor<6x16xf32>
  return %r : tensor<6x16xf32>
}

// -----

// What the kernels do not cover is left to the generic strategy, and said.
// VNNI-LABEL: func.func @left_alone
// VNNI: linalg.matmul
// AVX2-LABEL: func.func @left_alone
func.func @left_alone(%a: tensor<4x8xf32>, %b: tensor<8x16xf32>) -> tensor<4x16xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x16xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<4x16xf32>) -> tensor<4x16xf32>
  // expected-remark @below {{qnn-microkernel-cpu: left to the generic strategy: its weights (second operand) are not a dense constant}}
  %r = linalg.matmul ins(%a, %b : tensor<4x8xf32>, tensor<8x16xf32>) outs(%i : tensor<4x16xf32>) -> tensor<4x16xf32>
  return %r : tensor<4x16xf32>
}
