// The inner loop each instruction set gets from qnn-cpu-pipeline (through
// qnn-microkernel-cpu), as LLVM compiles it, checked on any machine: llc
// reads the CPU qnn-set-cpu-target put on the function.
//
// AVX-512 VNNI (znver4): per k-group of 4, 4 weight vectors are loaded and
// each of the 6 rows broadcasts its 4 activation bytes once for 4
// vpdpbusd: 24 zmm accumulators stay in registers.
// RUN: quant-opt %s --qnn-cpu-pipeline=cpu=znver4 | mlir-translate --mlir-to-llvmir \
// RUN: | llc -O3 | FileCheck %s --check-prefix=VNNI
// VNNI-LABEL: matmul:
// VNNI: vpbroadcastd {{.*}}, %zmm[[A:[0-9]+]]
// VNNI-COUNT-4: vpdpbusd %zmm{{[0-9]+}}, %zmm[[A]], %zmm{{[0-9]+}}
// The depthwise kernel (signed activations): 16 channels of an input
// column sign-extended to i32 lanes straight from memory, multiplied as
// i16 pairs with vpdpwssd (LLVM splits some into vpmaddwd + vpaddd to
// shorten an accumulator's chain).
// VNNI-LABEL: depthwise:
// VNNI: vpmovsxbd {{.*}}, %zmm[[X:[0-9]+]]
// VNNI: vpdpwssd %zmm{{[0-9]+}}, %zmm[[X]], %zmm{{[0-9]+}}
//
// AVX2 (znver3, no VNNI): activations and weights in i16, vpmaddwd ymm and
// vpaddd (exact pair sums in i32), no zmm and no saturating vpmaddubsw.
// RUN: quant-opt %s --qnn-cpu-pipeline=cpu=znver3 | mlir-translate --mlir-to-llvmir \
// RUN: | llc -O3 | FileCheck %s --check-prefix=AVX2 --implicit-check-not=zmm --implicit-check-not=vpmaddubsw --implicit-check-not=vpdpbusd
// AVX2-LABEL: matmul:
// AVX2: vpbroadcastd {{.*}}, %ymm[[A:[0-9]+]]
// AVX2: vpmaddwd %ymm{{[0-9]+}}, %ymm[[A]], %ymm{{[0-9]+}}
// AVX2: vpaddd %ymm
// AVX2-LABEL: depthwise:
// AVX2: vpmovsxbd {{.*}}, %ymm[[X:[0-9]+]]
// AVX2: vpmaddwd %ymm{{[0-9]+}}, %ymm[[X]], %ymm{{[0-9]+}}

func.func @matmul(%a: tensor<64x256xi8>) -> tensor<64x128xi32> {
  %w = arith.constant dense<7> : tensor<256x128xi8>
  %zero = arith.constant 0 : i32
  %e = tensor.empty() : tensor<64x128xi32>
  %i = linalg.fill ins(%zero : i32) outs(%e : tensor<64x128xi32>) -> tensor<64x128xi32>
  %r = linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (k, n)>, affine_map<(m, n, k) -> (m, n)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %w : tensor<64x256xi8>, tensor<256x128xi8>) outs(%i : tensor<64x128xi32>) {
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xe = arith.extui %x : i8 to i32
    %ye = arith.extsi %y : i8 to i32
    %p = arith.muli %xe, %ye : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  } -> tensor<64x128xi32>
  return %r : tensor<64x128xi32>
}

func.func @depthwise(%x: tensor<1x18x18x32xi8>) -> tensor<1x16x16x32xi32> {
  %k = arith.constant dense<3> : tensor<3x3x32xi8>
  %zero = arith.constant 0 : i32
  %e = tensor.empty() : tensor<1x16x16x32xi32>
  %i = linalg.fill ins(%zero : i32) outs(%e : tensor<1x16x16x32xi32>) -> tensor<1x16x16x32xi32>
  %r = linalg.depthwise_conv_2d_nhwc_hwc {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
      ins(%x, %k : tensor<1x18x18x32xi8>, tensor<3x3x32xi8>) outs(%i : tensor<1x16x16x32xi32>) -> tensor<1x16x16x32xi32>
  return %r : tensor<1x16x16x32xi32>
}
