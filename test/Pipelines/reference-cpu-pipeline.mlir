// RUN: quant-opt %s --qnn-reference-cpu-pipeline | FileCheck %s
// RUN: quant-opt %s --qnn-reference-cpu-pipeline=lower-to-llvm=false | FileCheck %s --check-prefix=LOOPS

// The pipeline takes qnn on tensors all the way to the LLVM dialect; with
// lower-to-llvm=false it stops at bufferized scalar loops.

// CHECK-LABEL: llvm.func @quantize
// CHECK: llvm.intr.roundeven
// CHECK: llvm.fptosi
// CHECK-NOT: qnn.
// CHECK-NOT: linalg.
// CHECK-NOT: tensor.
// CHECK-NOT: memref.

// LOOPS-LABEL: func.func @quantize
// LOOPS-SAME: (%{{.*}}: memref<4xf32>) -> memref<4xi8>
// LOOPS: scf.for
// LOOPS: memref.load
// LOOPS: math.roundeven
// LOOPS: memref.store
// LOOPS-NOT: linalg.
func.func @quantize(%x: tensor<4xf32>) -> tensor<4x!quant.uniform<i8:f32, 0.5:-3>> {
  %q = qnn.quantize %x : tensor<4xf32> -> tensor<4x!quant.uniform<i8:f32, 0.5:-3>>
  return %q : tensor<4x!quant.uniform<i8:f32, 0.5:-3>>
}
