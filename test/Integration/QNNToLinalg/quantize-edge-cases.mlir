// RUN: quant-opt %s --qnn-reference-cpu-pipeline \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:     -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | FileCheck %s

// Executed qnn.quantize on hand-picked edge cases. Every expected value is
// worked out by hand from docs/Semantics.md in the comment above its check;
// none was copied from the program's output.

!i8 = !quant.uniform<i8:f32, 0.5>
!i8s1 = !quant.uniform<i8:f32, 1.0>
!narrow = !quant.uniform<i8<-127:127>:f32, 1.0>
!u8 = !quant.uniform<u8:f32, 0.5:128>
!oddzp = !quant.uniform<i8:f32, 1.0:1>
!i16 = !quant.uniform<i16:f32, 0.00390625>
!i32 = !quant.uniform<i32:f64, 1.0>
!axis = !quant.uniform<i8:f32:1, {0.5, 0.25:10, 2.0:-5}>
!blocks = !quant.uniform<i4:f32:{0:1, 1:2}, {{1.0, 2.0}, {0.5:1, 4.0:-1}}>
!dynblocks = !quant.uniform<i8:f32:{1:2}, {{1.0, 0.5:3}}>

func.func @quantize_i8(%x: tensor<12xf32>) -> tensor<12x!i8> {
  %q = qnn.quantize %x : tensor<12xf32> -> tensor<12x!i8>
  return %q : tensor<12x!i8>
}
func.func @quantize_even(%x: tensor<6xf32>) -> tensor<6x!i8s1> {
  %q = qnn.quantize %x : tensor<6xf32> -> tensor<6x!i8s1>
  return %q : tensor<6x!i8s1>
}
func.func @quantize_away(%x: tensor<6xf32>) -> tensor<6x!i8s1> {
  %q = qnn.quantize %x rounding<half_away_from_zero> : tensor<6xf32> -> tensor<6x!i8s1>
  return %q : tensor<6x!i8s1>
}
func.func @quantize_toward_zero(%x: tensor<6xf32>) -> tensor<6x!i8s1> {
  %q = qnn.quantize %x rounding<toward_zero> : tensor<6xf32> -> tensor<6x!i8s1>
  return %q : tensor<6x!i8s1>
}
func.func @quantize_narrow(%x: tensor<4xf32>) -> tensor<4x!narrow> {
  %q = qnn.quantize %x : tensor<4xf32> -> tensor<4x!narrow>
  return %q : tensor<4x!narrow>
}
func.func @quantize_u8(%x: tensor<6xf32>) -> tensor<6x!u8> {
  %q = qnn.quantize %x : tensor<6xf32> -> tensor<6x!u8>
  return %q : tensor<6x!u8>
}
func.func @quantize_odd_zero_point(%x: tensor<2xf32>) -> tensor<2x!oddzp> {
  %q = qnn.quantize %x : tensor<2xf32> -> tensor<2x!oddzp>
  return %q : tensor<2x!oddzp>
}
func.func @quantize_i16(%x: tensor<4xf32>) -> tensor<4x!i16> {
  %q = qnn.quantize %x : tensor<4xf32> -> tensor<4x!i16>
  return %q : tensor<4x!i16>
}
func.func @quantize_i32(%x: tensor<5xf64>) -> tensor<5x!i32> {
  %q = qnn.quantize %x : tensor<5xf64> -> tensor<5x!i32>
  return %q : tensor<5x!i32>
}
func.func @quantize_per_axis(%x: tensor<2x3xf32>) -> tensor<2x3x!axis> {
  %q = qnn.quantize %x : tensor<2x3xf32> -> tensor<2x3x!axis>
  return %q : tensor<2x3x!axis>
}
func.func @quantize_sub_channel(%x: tensor<2x4xf32>) -> tensor<2x4x!blocks> {
  %q = qnn.quantize %x : tensor<2x4xf32> -> tensor<2x4x!blocks>
  return %q : tensor<2x4x!blocks>
}
func.func @quantize_dynamic_rows(%x: tensor<?x4xf32>) -> tensor<?x4x!dynblocks> {
  %q = qnn.quantize %x : tensor<?x4xf32> -> tensor<?x4x!dynblocks>
  return %q : tensor<?x4x!dynblocks>
}

func.func @main() {
  // s = 0.5: 1.4 -> 2.8 -> 3; +-1000 saturate; 1.25 -> 2.5 -> 2 and
  // 1.75 -> 3.5 -> 4 (ties to even), same negated; NaN -> z = 0;
  // +-Inf saturate; +-0 -> 0.
  // CHECK: [3,  127,  -128,  2,  4,  -2,  -4,  0,  127,  -128,  0,  0]
  %a = arith.constant dense<[1.4, 1000.0, -1000.0, 1.25, 1.75, -1.25, -1.75, 0x7FC00000, 0x7F800000, 0xFF800000, 0.0, -0.0]> : tensor<12xf32>
  %qa = call @quantize_i8(%a) : (tensor<12xf32>) -> tensor<12x!i8>
  %sa = quant.scast %qa : tensor<12x!i8> to tensor<12xi8>
  %dsa = tensor.cast %sa : tensor<12xi8> to tensor<?xi8>
  call @print_i8(%dsa) : (tensor<?xi8>) -> ()

  // Ties at s = 1: 2.5 -> 2, 3.5 -> 4, -2.5 -> -2, -3.5 -> -4, +-0.5 -> 0.
  // CHECK: [2,  4,  -2,  -4,  0,  0]
  %b = arith.constant dense<[2.5, 3.5, -2.5, -3.5, 0.5, -0.5]> : tensor<6xf32>
  %qb = call @quantize_even(%b) : (tensor<6xf32>) -> tensor<6x!i8s1>
  %sb = quant.scast %qb : tensor<6x!i8s1> to tensor<6xi8>
  %dsb = tensor.cast %sb : tensor<6xi8> to tensor<?xi8>
  call @print_i8(%dsb) : (tensor<?xi8>) -> ()

  // The same ties away from zero: 3, 4, -3, -4, 1, -1.
  // CHECK: [3,  4,  -3,  -4,  1,  -1]
  %qc = call @quantize_away(%b) : (tensor<6xf32>) -> tensor<6x!i8s1>
  %sc = quant.scast %qc : tensor<6x!i8s1> to tensor<6xi8>
  %dsc = tensor.cast %sc : tensor<6xi8> to tensor<?xi8>
  call @print_i8(%dsc) : (tensor<?xi8>) -> ()

  // Toward zero: 2.7 -> 2, -2.7 -> -2, +-0.9 -> 0, 2.5 -> 2, 3.5 -> 3.
  // CHECK: [2,  -2,  0,  0,  2,  3]
  %d = arith.constant dense<[2.7, -2.7, 0.9, -0.9, 2.5, 3.5]> : tensor<6xf32>
  %qd = call @quantize_toward_zero(%d) : (tensor<6xf32>) -> tensor<6x!i8s1>
  %sd = quant.scast %qd : tensor<6x!i8s1> to tensor<6xi8>
  %dsd = tensor.cast %sd : tensor<6xi8> to tensor<?xi8>
  call @print_i8(%dsd) : (tensor<?xi8>) -> ()

  // Narrow range [-127, 127]: -1000 and -127.4 -> -127 (never -128);
  // 127.6 -> 128 -> 127; 1000 -> 127.
  // CHECK: [-127,  -127,  127,  127]
  %e = arith.constant dense<[-1000.0, -127.4, 127.6, 1000.0]> : tensor<4xf32>
  %qe = call @quantize_narrow(%e) : (tensor<4xf32>) -> tensor<4x!narrow>
  %se = quant.scast %qe : tensor<4x!narrow> to tensor<4xi8>
  %dse = tensor.cast %se : tensor<4xi8> to tensor<?xi8>
  call @print_i8(%dse) : (tensor<?xi8>) -> ()

  // u8, s = 0.5, z = 128: 0 -> 128; -64 -> -128 + 128 = 0;
  // -64.25 -> -128.5 -> -128 (even) + 128 = 0; 63.5 -> 127 + 128 = 255;
  // 64 -> 128 + 128 = 256 -> 255; NaN -> 128.
  // CHECK: [128,  0,  0,  255,  255,  128]
  %f = arith.constant dense<[0.0, -64.0, -64.25, 63.5, 64.0, 0x7FC00000]> : tensor<6xf32>
  %qf = call @quantize_u8(%f) : (tensor<6xf32>) -> tensor<6x!u8>
  %sf = quant.scast %qf : tensor<6x!u8> to tensor<6xi8>
  %dsf = tensor.cast %sf : tensor<6xi8> to tensor<?xi8>
  call @print_u8(%dsf) : (tensor<?xi8>) -> ()

  // z = 1 is added after rounding: 2.5 -> 2 + 1 = 3 (not round(3.5) = 4);
  // 3.5 -> 4 + 1 = 5.
  // CHECK: [3,  5]
  %g = arith.constant dense<[2.5, 3.5]> : tensor<2xf32>
  %qg = call @quantize_odd_zero_point(%g) : (tensor<2xf32>) -> tensor<2x!oddzp>
  %sg = quant.scast %qg : tensor<2x!oddzp> to tensor<2xi8>
  %dsg = tensor.cast %sg : tensor<2xi8> to tensor<?xi8>
  call @print_i8(%dsg) : (tensor<?xi8>) -> ()

  // i16, s = 2^-8: 100.25 -> 25664; 200 -> 51200 -> 32767;
  // -200 -> -32768; -128.001953125 -> -32768.5 -> -32768 (even).
  // CHECK: [25664,  32767,  -32768,  -32768]
  %h = arith.constant dense<[100.25, 200.0, -200.0, -128.001953125]> : tensor<4xf32>
  %qh = call @quantize_i16(%h) : (tensor<4xf32>) -> tensor<4x!i16>
  %sh = quant.scast %qh : tensor<4x!i16> to tensor<4xi16>
  %wh = arith.extsi %sh : tensor<4xi16> to tensor<4xi32>
  %uh = tensor.cast %wh : tensor<4xi32> to tensor<*xi32>
  call @printMemrefI32(%uh) : (tensor<*xi32>) -> ()

  // i32 from f64, s = 1: +-3e9 saturate to 2^31 - 1 and -2^31;
  // 2147483647 stays; 0.5 -> 0; 1.5 -> 2.
  // CHECK: [2147483647,  -2147483648,  2147483647,  0,  2]
  %i = arith.constant dense<[3.0e9, -3.0e9, 2147483647.0, 0.5, 1.5]> : tensor<5xf64>
  %qi = call @quantize_i32(%i) : (tensor<5xf64>) -> tensor<5x!i32>
  %si = quant.scast %qi : tensor<5x!i32> to tensor<5xi32>
  %ui = tensor.cast %si : tensor<5xi32> to tensor<*xi32>
  call @printMemrefI32(%ui) : (tensor<*xi32>) -> ()

  // Columns (s, z) = (0.5, 0), (0.25, 10), (2, -5):
  // row 0: 1 -> 2; 1 -> 4 + 10 = 14; 1 -> 0.5 -> 0 - 5 = -5;
  // row 1: -3 -> -6; 0.375 -> 1.5 -> 2 + 10 = 12; 5 -> 2.5 -> 2 - 5 = -3.
  // CHECK: [2,   14,   -5]
  // CHECK-NEXT: [-6,   12,   -3]
  %j = arith.constant dense<[[1.0, 1.0, 1.0], [-3.0, 0.375, 5.0]]> : tensor<2x3xf32>
  %qj = call @quantize_per_axis(%j) : (tensor<2x3xf32>) -> tensor<2x3x!axis>
  %sj = quant.scast %qj : tensor<2x3x!axis> to tensor<2x3xi8>
  %wj = arith.extsi %sj : tensor<2x3xi8> to tensor<2x3xi32>
  %uj = tensor.cast %wj : tensor<2x3xi32> to tensor<*xi32>
  call @printMemrefI32(%uj) : (tensor<*xi32>) -> ()

  // Blocks of two columns; row 0 uses s = 1 then s = 2 (z = 0), row 1
  // uses (0.5, 1) then (4, -1), i4 range [-8, 7]:
  // row 0: 1 -> 1; 2.5 -> 2; 5 / 2 = 2.5 -> 2; -3 / 2 = -1.5 -> -2;
  // row 1: 1 / 0.5 = 2 + 1 = 3; -1.5 -> -2 + 1 = -1; 1.5 -> 2 - 1 = 1;
  //        -10 / 4 = -2.5 -> -2 - 1 = -3.
  // CHECK: [1,   2,   2,   -2]
  // CHECK-NEXT: [3,   -1,   1,   -3]
  %k = arith.constant dense<[[1.0, 2.5, 5.0, -3.0], [1.0, -0.75, 6.0, -10.0]]> : tensor<2x4xf32>
  %qk = call @quantize_sub_channel(%k) : (tensor<2x4xf32>) -> tensor<2x4x!blocks>
  %sk = quant.scast %qk : tensor<2x4x!blocks> to tensor<2x4xi4>
  %wk = arith.extsi %sk : tensor<2x4xi4> to tensor<2x4xi32>
  %uk = tensor.cast %wk : tensor<2x4xi32> to tensor<*xi32>
  call @printMemrefI32(%uk) : (tensor<*xi32>) -> ()

  // A dynamic number of rows, blocks of two columns: (1, 0) then (0.5, 3).
  // Row 0: 1.5 -> 2; 2.5 -> 2; 1.25 / 0.5 = 2.5 -> 2 + 3 = 5; -1 -> -2 + 3 = 1.
  // Row 1: -0.5 -> 0; 3 -> 3; 0.75 -> 1.5 -> 2 + 3 = 5; 100 -> 203 -> 127.
  // Row 2: 7; 8; 9 -> 18 + 3 = 21; 10 -> 20 + 3 = 23.
  // CHECK: [2,   2,   5,   1]
  // CHECK-NEXT: [0,   3,   5,   127]
  // CHECK-NEXT: [7,   8,   21,   23]
  %l = arith.constant dense<[[1.5, 2.5, 1.25, -1.0], [-0.5, 3.0, 0.75, 100.0], [7.0, 8.0, 9.0, 10.0]]> : tensor<3x4xf32>
  %dl = tensor.cast %l : tensor<3x4xf32> to tensor<?x4xf32>
  %ql = call @quantize_dynamic_rows(%dl) : (tensor<?x4xf32>) -> tensor<?x4x!dynblocks>
  %sl = quant.scast %ql : tensor<?x4x!dynblocks> to tensor<?x4xi8>
  %wl = arith.extsi %sl : tensor<?x4xi8> to tensor<?x4xi32>
  %ul = tensor.cast %wl : tensor<?x4xi32> to tensor<*xi32>
  call @printMemrefI32(%ul) : (tensor<*xi32>) -> ()
  return
}

func.func @print_i8(%t: tensor<?xi8>) {
  %w = arith.extsi %t : tensor<?xi8> to tensor<?xi32>
  %u = tensor.cast %w : tensor<?xi32> to tensor<*xi32>
  call @printMemrefI32(%u) : (tensor<*xi32>) -> ()
  return
}
func.func @print_u8(%t: tensor<?xi8>) {
  %w = arith.extui %t : tensor<?xi8> to tensor<?xi32>
  %u = tensor.cast %w : tensor<?xi32> to tensor<*xi32>
  call @printMemrefI32(%u) : (tensor<*xi32>) -> ()
  return
}
func.func private @printMemrefI32(tensor<*xi32>) attributes { llvm.emit_c_interface }
