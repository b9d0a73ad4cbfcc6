// RUN: quant-opt %s --qnn-convolutions-to-nhwc --split-input-file | FileCheck %s
// RUN: quant-opt %s --qnn-cpu-pipeline=lower-to-llvm=false --split-input-file -o /dev/null 2>&1 | FileCheck %s --check-prefix=KERNELS --allow-empty

// qnn-cpu-pipeline runs the pass before the micro-kernels: no remark that
// the integer NCHW generic was left to the generic strategy for its layout.
// KERNELS-NOT: nor a 2-D NHWC convolution

// A float NCHW convolution with a constant filter: the input and the fill
// are transposed to NHWC (the fill by folding: a fill of the NHWC shape),
// the loops and body stay, the filter keeps its [F, C, KH, KW] layout, and
// the result is transposed back.
// CHECK-DAG: #[[$IN:.*]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d2 * 2 + d5, d3 * 2 + d6, d4)>
// CHECK-DAG: #[[$FILTER:.*]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d1, d4, d5, d6)>
// CHECK-DAG: #[[$OUT:.*]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d2, d3, d1)>
// CHECK-LABEL: func.func @float_nchw
// CHECK-SAME: (%[[X:.*]]: tensor<1x3x9x9xf32>)
// CHECK: %[[XT:.*]] = linalg.transpose ins(%[[X]] : tensor<1x3x9x9xf32>) outs(%{{.*}} : tensor<1x9x9x3xf32>) permutation = [0, 2, 3, 1]
// CHECK: %[[FILL:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<1x4x4x8xf32>)
// CHECK: %[[Y:.*]] = linalg.generic {indexing_maps = [#[[$IN]], #[[$FILTER]], #[[$OUT]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]} ins(%[[XT]], %{{.*}} : tensor<1x9x9x3xf32>, tensor<8x3x3x3xf32>) outs(%[[FILL]] : tensor<1x4x4x8xf32>)
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: %[[R:.*]] = linalg.transpose ins(%[[Y]] : tensor<1x4x4x8xf32>) outs(%{{.*}} : tensor<1x8x4x4xf32>) permutation = [0, 3, 1, 2]
// CHECK: return %[[R]]
func.func @float_nchw(%x: tensor<1x3x9x9xf32>) -> tensor<1x8x4x4xf32> {
  %w = arith.constant dense<0.5> : tensor<8x3x3x3xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x8x4x4xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  %y = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>}
      ins(%x, %w : tensor<1x3x9x9xf32>, tensor<8x3x3x3xf32>) outs(%i : tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  return %y : tensor<1x8x4x4xf32>
}

// -----

// The fused integer form (a linalg.generic, u8 x s8 -> i32) with a bias
// broadcast along the channels as its init: the broadcast writes NHWC
// itself (the transpose of its result folds into it: the bias is read along
// the last axis), and the body is kept.
// CHECK-DAG: #[[$BIAS:.*]] = affine_map<(d0, d1, d2, d3) -> (d3)>
// CHECK-LABEL: func.func @integer_nchw
// CHECK: %[[XT:.*]] = linalg.transpose ins(%{{.*}} : tensor<2x4x6x6xi8>) outs(%{{.*}} : tensor<2x6x6x4xi8>) permutation = [0, 2, 3, 1]
// CHECK: %[[BT:.*]] = linalg.generic {indexing_maps = [#[[$BIAS]], #{{.*}}]{{.*}} ins(%{{.*}} : tensor<5xi32>) outs(%{{.*}} : tensor<2x4x4x5xi32>)
// CHECK-NOT: linalg.transpose
// CHECK: %[[Y:.*]] = linalg.generic {{.*}} ins(%[[XT]], %{{.*}} : tensor<2x6x6x4xi8>, tensor<5x4x3x3xi8>) outs(%[[BT]] : tensor<2x4x4x5xi32>)
// CHECK: arith.extui
// CHECK: arith.extsi
// CHECK: arith.muli
// CHECK: linalg.transpose ins(%[[Y]] : tensor<2x4x4x5xi32>) outs(%{{.*}} : tensor<2x5x4x4xi32>) permutation = [0, 3, 1, 2]
#bias = affine_map<(n, f, h, w) -> (f)>
#id = affine_map<(n, f, h, w) -> (n, f, h, w)>
func.func @integer_nchw(%x: tensor<2x4x6x6xi8>) -> tensor<2x5x4x4xi32> {
  %w = arith.constant dense<3> : tensor<5x4x3x3xi8>
  %b = arith.constant dense<[1, 2, 3, 4, 5]> : tensor<5xi32>
  %e = tensor.empty() : tensor<2x5x4x4xi32>
  %init = linalg.generic {indexing_maps = [#bias, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%b : tensor<5xi32>) outs(%e : tensor<2x5x4x4xi32>) {
  ^bb0(%in: i32, %out: i32):
    linalg.yield %in : i32
  } -> tensor<2x5x4x4xi32>
  %y = linalg.generic {indexing_maps = [affine_map<(n, f, h, w, c, kh, kw) -> (n, c, h + kh, w + kw)>,
                                        affine_map<(n, f, h, w, c, kh, kw) -> (f, c, kh, kw)>,
                                        affine_map<(n, f, h, w, c, kh, kw) -> (n, f, h, w)>],
                       iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
      ins(%x, %w : tensor<2x4x6x6xi8>, tensor<5x4x3x3xi8>) outs(%init : tensor<2x5x4x4xi32>) {
  ^bb0(%a: i8, %f: i8, %acc: i32):
    %a32 = arith.extui %a : i8 to i32
    %f32 = arith.extsi %f : i8 to i32
    %m = arith.muli %a32, %f32 : i32
    %s = arith.addi %acc, %m : i32
    linalg.yield %s : i32
  } -> tensor<2x5x4x4xi32>
  return %y : tensor<2x5x4x4xi32>
}

// -----

// Depthwise NCHW: the channel is both the input's and the output's axis 1.
// CHECK-LABEL: func.func @depthwise_nchw
// CHECK: linalg.transpose ins(%{{.*}} : tensor<1x8x7x7xf32>) outs(%{{.*}} : tensor<1x7x7x8xf32>) permutation = [0, 2, 3, 1]
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<1x7x7x8xf32>, tensor<8x3x3xf32>) outs(%{{.*}} : tensor<1x5x5x8xf32>)
// CHECK: linalg.transpose ins(%{{.*}} : tensor<1x5x5x8xf32>) outs(%{{.*}} : tensor<1x8x5x5xf32>) permutation = [0, 3, 1, 2]
func.func @depthwise_nchw(%x: tensor<1x8x7x7xf32>) -> tensor<1x8x5x5xf32> {
  %w = arith.constant dense<0.25> : tensor<8x3x3xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x8x5x5xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<1x8x5x5xf32>) -> tensor<1x8x5x5xf32>
  %y = linalg.depthwise_conv_2d_nchw_chw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
      ins(%x, %w : tensor<1x8x7x7xf32>, tensor<8x3x3xf32>) outs(%i : tensor<1x8x5x5xf32>) -> tensor<1x8x5x5xf32>
  return %y : tensor<1x8x5x5xf32>
}

// -----

// Two NCHW convolutions in a row: the transposes back to NCHW and again to
// NHWC between them cancel.
// CHECK-LABEL: func.func @chain
// CHECK-COUNT-2: linalg.transpose
// CHECK-NOT: linalg.transpose
// CHECK: return
func.func @chain(%x: tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xf32> {
  %w = arith.constant dense<0.5> : tensor<4x4x1x1xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x4x8x8xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xf32>
  %y = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
      ins(%x, %w : tensor<1x4x8x8xf32>, tensor<4x4x1x1xf32>) outs(%i : tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xf32>
  %z = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
      ins(%y, %w : tensor<1x4x8x8xf32>, tensor<4x4x1x1xf32>) outs(%i : tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xf32>
  return %z : tensor<1x4x8x8xf32>
}

// -----

// A quantized NCHW block as qnn-quantize-pipeline lowers it: the input's
// quantization, its zero padding, the convolution, the requantization
// (i32 -> i8, per-channel parameters along axis 1), a max pooling and a
// flatten. Every transpose folds into an elementwise producer or consumer,
// moves above the pad, or cancels, except the one before the flatten (which
// needs NCHW order): the quantization reads the NCHW input and writes NHWC,
// the pad, convolution, requantization and pooling are NHWC.
// CHECK-DAG: #[[$READ_NCHW:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d3, d1, d2)>
// CHECK-DAG: #[[$ID:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-DAG: #[[$LAST:.*]] = affine_map<(d0, d1, d2, d3) -> (d3)>
// CHECK-LABEL: func.func @block
// CHECK: %[[Q:.*]] = linalg.generic {indexing_maps = [#[[$READ_NCHW]], #[[$ID]]]{{.*}} ins(%{{.*}} : tensor<1x3x8x8xf32>) outs(%{{.*}} : tensor<1x8x8x3xi8>)
// CHECK: %[[P:.*]] = tensor.pad %[[Q]] low[0, 1, 1, 0] high[0, 1, 1, 0]
// CHECK: tensor<1x8x8x3xi8> to tensor<1x10x10x3xi8>
// CHECK: %[[C:.*]] = linalg.generic {{.*}} ins(%[[P]], %{{.*}} : tensor<1x10x10x3xi8>, tensor<4x3x3x3xi8>) outs(%{{.*}} : tensor<1x8x8x4xi32>)
// CHECK: %[[R:.*]] = linalg.generic {indexing_maps = [#[[$ID]], #[[$LAST]], #[[$ID]]]{{.*}} ins(%[[C]], %{{.*}} : tensor<1x8x8x4xi32>, tensor<4xi32>) outs(%{{.*}} : tensor<1x8x8x4xi8>)
// CHECK: %[[M:.*]] = linalg.generic {{.*}} ins(%[[R]], %{{.*}} : tensor<1x8x8x4xi8>, tensor<2x2xf32>) outs(%{{.*}} : tensor<1x4x4x4xi8>)
// CHECK: %[[T:.*]] = linalg.transpose ins(%[[M]] : tensor<1x4x4x4xi8>) outs(%{{.*}} : tensor<1x4x4x4xi8>) permutation = [0, 3, 1, 2]
// CHECK: tensor.collapse_shape %[[T]]
// CHECK-NOT: linalg.transpose
#id4 = affine_map<(n, c, h, w) -> (n, c, h, w)>
#channel = affine_map<(n, c, h, w) -> (c)>
func.func @block(%x: tensor<1x3x8x8xf32>) -> tensor<1x64xi8> {
  %e8 = tensor.empty() : tensor<1x3x8x8xi8>
  %q = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x : tensor<1x3x8x8xf32>) outs(%e8 : tensor<1x3x8x8xi8>) {
  ^bb0(%in: f32, %out: i8):
    %v = arith.fptosi %in : f32 to i8
    linalg.yield %v : i8
  } -> tensor<1x3x8x8xi8>
  %c0 = arith.constant 0 : i8
  %p = tensor.pad %q low[0, 0, 1, 1] high[0, 0, 1, 1] {
  ^bb0(%a: index, %b: index, %c: index, %d: index):
    tensor.yield %c0 : i8
  } : tensor<1x3x8x8xi8> to tensor<1x3x10x10xi8>
  %w = arith.constant dense<1> : tensor<4x3x3x3xi8>
  %z = arith.constant 0 : i32
  %e32 = tensor.empty() : tensor<1x4x8x8xi32>
  %init = linalg.fill ins(%z : i32) outs(%e32 : tensor<1x4x8x8xi32>) -> tensor<1x4x8x8xi32>
  %conv = linalg.generic {indexing_maps = [affine_map<(n, f, h, w, c, kh, kw) -> (n, c, h + kh, w + kw)>,
                                           affine_map<(n, f, h, w, c, kh, kw) -> (f, c, kh, kw)>,
                                           affine_map<(n, f, h, w, c, kh, kw) -> (n, f, h, w)>],
                          iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
      ins(%p, %w : tensor<1x3x10x10xi8>, tensor<4x3x3x3xi8>) outs(%init : tensor<1x4x8x8xi32>) {
  ^bb0(%a: i8, %f: i8, %acc: i32):
    %a32 = arith.extsi %a : i8 to i32
    %f32 = arith.extsi %f : i8 to i32
    %m = arith.muli %a32, %f32 : i32
    %s = arith.addi %acc, %m : i32
    linalg.yield %s : i32
  } -> tensor<1x4x8x8xi32>
  %shifts = arith.constant dense<[1, 2, 3, 4]> : tensor<4xi32>
  %e8b = tensor.empty() : tensor<1x4x8x8xi8>
  %r = linalg.generic {indexing_maps = [#id4, #channel, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%conv, %shifts : tensor<1x4x8x8xi32>, tensor<4xi32>) outs(%e8b : tensor<1x4x8x8xi8>) {
  ^bb0(%acc: i32, %n: i32, %out: i8):
    %sh = arith.shrsi %acc, %n : i32
    %t = arith.trunci %sh : i32 to i8
    linalg.yield %t : i8
  } -> tensor<1x4x8x8xi8>
  %lowest = arith.constant -128 : i8
  %ep = tensor.empty() : tensor<1x4x4x4xi8>
  %pf = linalg.fill ins(%lowest : i8) outs(%ep : tensor<1x4x4x4xi8>) -> tensor<1x4x4x4xi8>
  %win = tensor.empty() : tensor<2x2xf32>
  %pool = linalg.pooling_nchw_max {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>}
      ins(%r, %win : tensor<1x4x8x8xi8>, tensor<2x2xf32>) outs(%pf : tensor<1x4x4x4xi8>) -> tensor<1x4x4x4xi8>
  %flat = tensor.collapse_shape %pool [[0], [1, 2, 3]] : tensor<1x4x4x4xi8> into tensor<1x64xi8>
  return %flat : tensor<1x64xi8>
}

// -----

// An NCHW convolution's requantization (i32 -> i8) before the function
// returns NCHW: it runs NHWC on the accumulators through the identity map
// (the micro-kernel's epilogue), and the transpose back moves after it, on
// i8 instead of i32.
// CHECK-LABEL: func.func @requantized_output
// CHECK: %[[C:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<1x4x4x8xi32>)
// CHECK: %[[R:.*]] = linalg.generic {indexing_maps = [#[[$ID3:.*]], #{{.*}}, #[[$ID3]]]{{.*}} ins(%[[C]], %{{.*}} : tensor<1x4x4x8xi32>, tensor<8xi32>) outs(%{{.*}} : tensor<1x4x4x8xi8>)
// CHECK: %[[T:.*]] = linalg.transpose ins(%[[R]] : tensor<1x4x4x8xi8>) {{.*}} permutation = [0, 3, 1, 2]
// CHECK: return %[[T]]
#id4r = affine_map<(n, c, h, w) -> (n, c, h, w)>
#channelr = affine_map<(n, c, h, w) -> (c)>
func.func @requantized_output(%x: tensor<1x3x6x6xi8>, %i: tensor<1x8x4x4xi32>) -> tensor<1x8x4x4xi8> {
  %w = arith.constant dense<1> : tensor<8x3x3x3xi8>
  %c = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
      ins(%x, %w : tensor<1x3x6x6xi8>, tensor<8x3x3x3xi8>) outs(%i : tensor<1x8x4x4xi32>) -> tensor<1x8x4x4xi32>
  %shifts = arith.constant dense<[1, 2, 3, 4, 5, 6, 7, 8]> : tensor<8xi32>
  %e = tensor.empty() : tensor<1x8x4x4xi8>
  %r = linalg.generic {indexing_maps = [#id4r, #channelr, #id4r], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%c, %shifts : tensor<1x8x4x4xi32>, tensor<8xi32>) outs(%e : tensor<1x8x4x4xi8>) {
  ^bb0(%acc: i32, %n: i32, %out: i8):
    %sh = arith.shrsi %acc, %n : i32
    %t = arith.trunci %sh : i32 to i8
    linalg.yield %t : i8
  } -> tensor<1x8x4x4xi8>
  return %r : tensor<1x8x4x4xi8>
}

// -----

// An NHWC convolution's requantization (its epilogue, which the micro-kernel
// fuses while it reads the accumulators through the identity map) before a
// transpose to NCHW and a flatten, as the ONNX importer writes them: the
// transpose does not fold into the requantization.
// CHECK-LABEL: func.func @epilogue_before_flatten
// CHECK: %[[C:.*]] = linalg.conv_2d_nhwc_hwcf
// CHECK: %[[R:.*]] = linalg.generic {indexing_maps = [#[[$ID2:.*]], #[[$ID2]]]{{.*}} ins(%[[C]] : tensor<1x4x4x8xi32>)
// CHECK-NOT: linalg.generic
// CHECK: linalg.transpose ins(%[[R]] : tensor<1x4x4x8xi8>) {{.*}} permutation = [0, 3, 1, 2]
#id = affine_map<(n, h, w, c) -> (n, h, w, c)>
func.func @epilogue_before_flatten(%x: tensor<1x6x6x3xi8>, %i: tensor<1x4x4x8xi32>) -> tensor<1x128xi8> {
  %w = arith.constant dense<1> : tensor<3x3x3x8xi8>
  %c = linalg.conv_2d_nhwc_hwcf {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
      ins(%x, %w : tensor<1x6x6x3xi8>, tensor<3x3x3x8xi8>) outs(%i : tensor<1x4x4x8xi32>) -> tensor<1x4x4x8xi32>
  %e = tensor.empty() : tensor<1x4x4x8xi8>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%c : tensor<1x4x4x8xi32>) outs(%e : tensor<1x4x4x8xi8>) {
  ^bb0(%a: i32, %o: i8):
    %t = arith.trunci %a : i32 to i8
    linalg.yield %t : i8
  } -> tensor<1x4x4x8xi8>
  %et = tensor.empty() : tensor<1x8x4x4xi8>
  %t = linalg.transpose ins(%r : tensor<1x4x4x8xi8>) outs(%et : tensor<1x8x4x4xi8>) permutation = [0, 3, 1, 2]
  %flat = tensor.collapse_shape %t [[0], [1, 2, 3]] : tensor<1x8x4x4xi8> into tensor<1x128xi8>
  return %flat : tensor<1x128xi8>
}

// -----

// Left alone: a filter that is not a constant (the micro-kernels need one
// to pack), and a convolution that is NHWC already.
// CHECK-LABEL: func.func @not_constant
// CHECK-NOT: linalg.transpose
// CHECK: linalg.conv_2d_nchw_fchw
func.func @not_constant(%x: tensor<1x3x9x9xf32>, %w: tensor<8x3x3x3xf32>, %i: tensor<1x8x7x7xf32>) -> tensor<1x8x7x7xf32> {
  %y = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
      ins(%x, %w : tensor<1x3x9x9xf32>, tensor<8x3x3x3xf32>) outs(%i : tensor<1x8x7x7xf32>) -> tensor<1x8x7x7xf32>
  return %y : tensor<1x8x7x7xf32>
}

// -----

// CHECK-LABEL: func.func @nhwc
// CHECK-NOT: linalg.transpose
// CHECK: linalg.conv_2d_nhwc_hwcf
func.func @nhwc(%x: tensor<1x9x9x3xf32>, %i: tensor<1x7x7x8xf32>) -> tensor<1x7x7x8xf32> {
  %w = arith.constant dense<0.5> : tensor<3x3x3x8xf32>
  %y = linalg.conv_2d_nhwc_hwcf {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
      ins(%x, %w : tensor<1x9x9x3xf32>, tensor<3x3x3x8xf32>) outs(%i : tensor<1x7x7x8xf32>) -> tensor<1x7x7x8xf32>
  return %y : tensor<1x7x7x8xf32>
}
