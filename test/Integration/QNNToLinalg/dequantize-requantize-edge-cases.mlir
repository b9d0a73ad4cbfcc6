// RUN: quant-opt %s --qnn-reference-cpu-pipeline \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:     -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | FileCheck %s

// Executed qnn.dequantize and qnn.requantize on hand-picked cases; every
// expected value is worked out by hand in the comment above its check.

!i8 = !quant.uniform<i8:f32, 0.5:-3>
!u8 = !quant.uniform<u8:f32, 0.25:128>
!rows = !quant.uniform<i8:f32:0, {0.25, 0.125:-4}>
!f16 = !quant.uniform<u8:f16, 0.1>
!bf16 = !quant.uniform<u8:bf16, 0.1>
!s1 = !quant.uniform<i8:f32, 1.0>
!s2 = !quant.uniform<i8:f32, 2.0>
!in = !quant.uniform<i8:f32, 0.5>

func.func @dequantize_i8(%q: tensor<4x!i8>) -> tensor<4xf32> {
  %x = qnn.dequantize %q : tensor<4x!i8> -> tensor<4xf32>
  return %x : tensor<4xf32>
}
func.func @dequantize_u8(%q: tensor<4x!u8>) -> tensor<4xf32> {
  %x = qnn.dequantize %q : tensor<4x!u8> -> tensor<4xf32>
  return %x : tensor<4xf32>
}
func.func @dequantize_rows(%q: tensor<2x2x!rows>) -> tensor<2x2xf32> {
  %x = qnn.dequantize %q : tensor<2x2x!rows> -> tensor<2x2xf32>
  return %x : tensor<2x2xf32>
}
func.func @dequantize_f16(%q: tensor<2x!f16>) -> tensor<2xf16> {
  %x = qnn.dequantize %q : tensor<2x!f16> -> tensor<2xf16>
  return %x : tensor<2xf16>
}
func.func @dequantize_bf16(%q: tensor<2x!bf16>) -> tensor<2xbf16> {
  %x = qnn.dequantize %q : tensor<2x!bf16> -> tensor<2xbf16>
  return %x : tensor<2xbf16>
}
func.func @requantize_to_u8(%q: tensor<4x!in>) -> tensor<4x!u8> {
  %r = qnn.requantize %q : tensor<4x!in> -> tensor<4x!u8>
  return %r : tensor<4x!u8>
}
func.func @requantize_even(%q: tensor<4x!s1>) -> tensor<4x!s2> {
  %r = qnn.requantize %q : tensor<4x!s1> -> tensor<4x!s2>
  return %r : tensor<4x!s2>
}
func.func @requantize_toward_zero(%q: tensor<4x!s1>) -> tensor<4x!s2> {
  %r = qnn.requantize %q rounding<toward_zero> : tensor<4x!s1> -> tensor<4x!s2>
  return %r : tensor<4x!s2>
}

func.func @main() {
  // (q + 3) * 0.5: -128 -> -62.5; 127 -> 65; -3 -> 0; 0 -> 1.5.
  // CHECK: [-62.5,  65,  0,  1.5]
  %a = arith.constant dense<[-128, 127, -3, 0]> : tensor<4xi8>
  %qa = quant.scast %a : tensor<4xi8> to tensor<4x!i8>
  %xa = call @dequantize_i8(%qa) : (tensor<4x!i8>) -> tensor<4xf32>
  %dxa = tensor.cast %xa : tensor<4xf32> to tensor<?xf32>
  call @print_f32(%dxa) : (tensor<?xf32>) -> ()

  // Stored bits 0, 0xFF, 0x80, 0x81 are u8 0, 255, 128, 129 (zero-extended):
  // (q - 128) * 0.25 = -32, 31.75, 0, 0.25.
  // CHECK: [-32,  31.75,  0,  0.25]
  %b = arith.constant dense<[0, -1, -128, -127]> : tensor<4xi8>
  %qb = quant.scast %b : tensor<4xi8> to tensor<4x!u8>
  %xb = call @dequantize_u8(%qb) : (tensor<4x!u8>) -> tensor<4xf32>
  %dxb = tensor.cast %xb : tensor<4xf32> to tensor<?xf32>
  call @print_f32(%dxb) : (tensor<?xf32>) -> ()

  // Row 0: 4 * 0.25 = 1, -4 * 0.25 = -1; row 1 (z = -4): 8 * 0.125 = 1, 0.
  // CHECK: [1,   -1]
  // CHECK-NEXT: [1,   0]
  %c = arith.constant dense<[[4, -4], [4, -4]]> : tensor<2x2xi8>
  %qc = quant.scast %c : tensor<2x2xi8> to tensor<2x2x!rows>
  %xc = call @dequantize_rows(%qc) : (tensor<2x2x!rows>) -> tensor<2x2xf32>
  %uc = tensor.cast %xc : tensor<2x2xf32> to tensor<*xf32>
  call @printMemrefF32(%uc) : (tensor<*xf32>) -> ()

  // f16: 1 * f32(0.1) = 0.100000001490116 rounds to the f16 1638 / 16384
  // = 0.0999755859375 (10 fraction bits: 0.6 * 1024 = 614.4 -> 614);
  // 10 * f32(0.1) = 1.0000000149 rounds to 1.0 in f32 already.
  // CHECK: [0.0999756,  1]
  %d = arith.constant dense<[1, 10]> : tensor<2xi8>
  %qd = quant.scast %d : tensor<2xi8> to tensor<2x!f16>
  %xd = call @dequantize_f16(%qd) : (tensor<2x!f16>) -> tensor<2xf16>
  %fd = arith.extf %xd : tensor<2xf16> to tensor<2xf32>
  %dfd = tensor.cast %fd : tensor<2xf32> to tensor<?xf32>
  call @print_f32(%dfd) : (tensor<?xf32>) -> ()

  // bf16: f32(0.1) = 0x3DCCCCCD; the low half 0xCCCD is above half, so it
  // rounds up to 0x3DCD = 0.10009765625; 10 * f32(0.1) = 1.0 exactly.
  // CHECK: [0.100098,  1]
  %e = arith.constant dense<[1, 10]> : tensor<2xi8>
  %qe = quant.scast %e : tensor<2xi8> to tensor<2x!bf16>
  %xe = call @dequantize_bf16(%qe) : (tensor<2x!bf16>) -> tensor<2xbf16>
  %fe = arith.extf %xe : tensor<2xbf16> to tensor<2xf32>
  %dfe = tensor.cast %fe : tensor<2xf32> to tensor<?xf32>
  call @print_f32(%dfe) : (tensor<?xf32>) -> ()

  // s = 0.5 -> (s = 0.25, z = 128): -128 -> -64 -> -256 + 128 -> 0;
  // 0 -> 128; 3 -> 1.5 -> 6 + 128 = 134; 127 -> 63.5 -> 254 + 128 -> 255.
  // CHECK: [0,  128,  134,  255]
  %f = arith.constant dense<[-128, 0, 3, 127]> : tensor<4xi8>
  %qf = quant.scast %f : tensor<4xi8> to tensor<4x!in>
  %rf = call @requantize_to_u8(%qf) : (tensor<4x!in>) -> tensor<4x!u8>
  %sf = quant.scast %rf : tensor<4x!u8> to tensor<4xi8>
  %dsf = tensor.cast %sf : tensor<4xi8> to tensor<?xi8>
  call @print_u8(%dsf) : (tensor<?xi8>) -> ()

  // s = 1 -> s = 2: 3 -> 1.5 -> 2; -3 -> -2; 5 -> 2.5 -> 2; -128 -> -64.
  // CHECK: [2,  -2,  2,  -64]
  %g = arith.constant dense<[3, -3, 5, -128]> : tensor<4xi8>
  %qg = quant.scast %g : tensor<4xi8> to tensor<4x!s1>
  %rg = call @requantize_even(%qg) : (tensor<4x!s1>) -> tensor<4x!s2>
  %sg = quant.scast %rg : tensor<4x!s2> to tensor<4xi8>
  %dsg = tensor.cast %sg : tensor<4xi8> to tensor<?xi8>
  call @print_i8(%dsg) : (tensor<?xi8>) -> ()

  // Toward zero: 1.5 -> 1; -1.5 -> -1; 2.5 -> 2; -64 -> -64.
  // CHECK: [1,  -1,  2,  -64]
  %rh = call @requantize_toward_zero(%qg) : (tensor<4x!s1>) -> tensor<4x!s2>
  %sh = quant.scast %rh : tensor<4x!s2> to tensor<4xi8>
  %dsh = tensor.cast %sh : tensor<4xi8> to tensor<?xi8>
  call @print_i8(%dsh) : (tensor<?xi8>) -> ()
  return
}

func.func @print_f32(%t: tensor<?xf32>) {
  %u = tensor.cast %t : tensor<?xf32> to tensor<*xf32>
  call @printMemrefF32(%u) : (tensor<*xf32>) -> ()
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
func.func private @printMemrefF32(tensor<*xf32>) attributes { llvm.emit_c_interface }
