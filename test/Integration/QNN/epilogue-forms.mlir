// The bias and activation epilogue of a contraction in the three forms IR
// comes in: named ops (linalg.add, then a generic clamp), one linalg.generic
// doing bias + ReLU6 (as torch-mlir writes it), and ReLU6 as two named ops
// (linalg.max, then linalg.min). Each fuses into one integer contraction and
// one qnn.rescale with the clamp [0, 6 / s] = [0, 200] in the stored domain
// (s = 7.65 / 255 = 0.03), with no float op left, and the three fused
// programs give the same integers.
//
// RUN: quant-opt %s --qnn-insert-observers --qnn-insert-qdq=statistics=%S/Inputs/epilogue-stats.json --qnn-fuse-quantized-ops --canonicalize > %t.fused.mlir
// RUN: FileCheck %s < %t.fused.mlir
// RUN: quant-opt %t.fused.mlir --qnn-reference-cpu-pipeline \
// RUN: | mlir-runner -e main -entry-point-result=void -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | grep -v Unranked > %t.out
// RUN: sed -n 1,2p %t.out > %t.separate && sed -n 3,4p %t.out > %t.combined && sed -n 5,6p %t.out > %t.named
// RUN: diff %t.separate %t.combined
// RUN: diff %t.separate %t.named
// RUN: FileCheck %s --check-prefix=VALUES < %t.out

// CHECK-LABEL: func @separate
// CHECK-NOT: linalg.add
// CHECK: qnn.rescale {{.*}} clamp [0, 200]
// CHECK-NOT: arith.maximumf
// CHECK-LABEL: func @combined
// CHECK-NOT: arith.addf
// CHECK: qnn.rescale {{.*}} clamp [0, 200]
// CHECK-NOT: arith.maximumf
// CHECK-LABEL: func @named_relu6
// CHECK-NOT: linalg.max
// CHECK: qnn.rescale {{.*}} clamp [0, 200]
// CHECK-NOT: linalg.min
// CHECK-LABEL: func @main

// By hand: x is quantized at s_x = 4/255, z = 128, so 2.0 saturates at
// stored 255 = 1.99216 and -2.0 is stored 0 = -2.00784. Row 0, channel 0:
// 1.99216 * (0.5 + 0.3 + 1.2 + 0.0) + 0.1 = 4.0843 = 136.1 steps of 0.03
// -> 136 -> 4.08; channel 2: 1.99216 * -0.42 + 0.3 < 0 -> 0 (ReLU). Row 1,
// channel 2: -2.00784 * 0.25 + 1.99216 * -0.7 - 2.00784 * -0.6
// + 1.99216 * 0.63 + 0.3 = 0.8633 = 28.8 steps -> 29 -> 0.87.
// VALUES: [4.08, 0, 0],
// VALUES-NEXT: [0, 0, 0.87]]

#id = affine_map<(d0, d1) -> (d0, d1)>
#ch = affine_map<(d0, d1) -> (d1)>
func.func @separate(%x: tensor<2x4xf32> loc("x")) -> tensor<2x3xf32> {
  %w = arith.constant dense<[[0.5, -1.0, 0.25], [0.3, 0.8, -0.7], [1.2, 0.05, -0.6], [0.0, -2.54, 0.63]]> : tensor<4x3xf32>
  %b = arith.constant dense<[[0.1, -0.2, 0.3], [0.1, -0.2, 0.3]]> : tensor<2x3xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x3xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<2x3xf32>) -> tensor<2x3xf32>
  %m = linalg.matmul ins(%x, %w : tensor<2x4xf32>, tensor<4x3xf32>) outs(%i : tensor<2x3xf32>) -> tensor<2x3xf32> loc("fc")
  %a = linalg.add ins(%m, %b : tensor<2x3xf32>, tensor<2x3xf32>) outs(%e : tensor<2x3xf32>) -> tensor<2x3xf32> loc("bias")
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%a : tensor<2x3xf32>) outs(%e : tensor<2x3xf32>) {
  ^bb0(%v: f32, %o: f32):
    %c0 = arith.constant 0.0 : f32
    %c6 = arith.constant 6.0 : f32
    %lo = arith.maximumf %v, %c0 : f32
    %hi = arith.minimumf %lo, %c6 : f32
    linalg.yield %hi : f32
  } -> tensor<2x3xf32> loc("relu6")
  return %r : tensor<2x3xf32>
}
func.func @combined(%x: tensor<2x4xf32> loc("x")) -> tensor<2x3xf32> {
  %w = arith.constant dense<[[0.5, -1.0, 0.25], [0.3, 0.8, -0.7], [1.2, 0.05, -0.6], [0.0, -2.54, 0.63]]> : tensor<4x3xf32>
  %b = arith.constant dense<[0.1, -0.2, 0.3]> : tensor<3xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x3xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<2x3xf32>) -> tensor<2x3xf32>
  %m = linalg.matmul ins(%x, %w : tensor<2x4xf32>, tensor<4x3xf32>) outs(%i : tensor<2x3xf32>) -> tensor<2x3xf32> loc("fc")
  %r = linalg.generic {indexing_maps = [#id, #ch, #id], iterator_types = ["parallel", "parallel"]} ins(%m, %b : tensor<2x3xf32>, tensor<3xf32>) outs(%e : tensor<2x3xf32>) {
  ^bb0(%v: f32, %bias: f32, %o: f32):
    %c0 = arith.constant 0.0 : f32
    %c6 = arith.constant 6.0 : f32
    %s = arith.addf %v, %bias : f32
    %lo = arith.maximumf %s, %c0 : f32
    %hi = arith.minimumf %lo, %c6 : f32
    linalg.yield %hi : f32
  } -> tensor<2x3xf32> loc("relu6")
  return %r : tensor<2x3xf32>
}
func.func @named_relu6(%x: tensor<2x4xf32> loc("x")) -> tensor<2x3xf32> {
  %w = arith.constant dense<[[0.5, -1.0, 0.25], [0.3, 0.8, -0.7], [1.2, 0.05, -0.6], [0.0, -2.54, 0.63]]> : tensor<4x3xf32>
  %b = arith.constant dense<[[0.1, -0.2, 0.3], [0.1, -0.2, 0.3]]> : tensor<2x3xf32>
  %zeros = arith.constant dense<0.0> : tensor<2x3xf32>
  %sixes = arith.constant dense<6.0> : tensor<2x3xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x3xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<2x3xf32>) -> tensor<2x3xf32>
  %m = linalg.matmul ins(%x, %w : tensor<2x4xf32>, tensor<4x3xf32>) outs(%i : tensor<2x3xf32>) -> tensor<2x3xf32> loc("fc")
  %a = linalg.add ins(%m, %b : tensor<2x3xf32>, tensor<2x3xf32>) outs(%e : tensor<2x3xf32>) -> tensor<2x3xf32> loc("bias")
  %lo = linalg.max ins(%a, %zeros : tensor<2x3xf32>, tensor<2x3xf32>) outs(%e : tensor<2x3xf32>) -> tensor<2x3xf32> loc("relu")
  %hi = linalg.min ins(%lo, %sixes : tensor<2x3xf32>, tensor<2x3xf32>) outs(%e : tensor<2x3xf32>) -> tensor<2x3xf32> loc("relu6")
  return %hi : tensor<2x3xf32>
}
func.func @main() {
  %x = arith.constant dense<[[2.0, 2.0, 2.0, 2.0], [-2.0, 2.0, -2.0, 2.0]]> : tensor<2x4xf32>
  %a = call @separate(%x) : (tensor<2x4xf32>) -> tensor<2x3xf32> loc("out_a")
  %b = call @combined(%x) : (tensor<2x4xf32>) -> tensor<2x3xf32> loc("out_b")
  %c = call @named_relu6(%x) : (tensor<2x4xf32>) -> tensor<2x3xf32> loc("out_c")
  %ua = tensor.cast %a : tensor<2x3xf32> to tensor<*xf32>
  %ub = tensor.cast %b : tensor<2x3xf32> to tensor<*xf32>
  %uc = tensor.cast %c : tensor<2x3xf32> to tensor<*xf32>
  call @printMemrefF32(%ua) : (tensor<*xf32>) -> ()
  call @printMemrefF32(%ub) : (tensor<*xf32>) -> ()
  call @printMemrefF32(%uc) : (tensor<*xf32>) -> ()
  return
}
func.func private @printMemrefF32(tensor<*xf32>) attributes { llvm.emit_c_interface }
