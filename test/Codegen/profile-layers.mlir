// RUN: quant-opt %s --qnn-profile-layers | FileCheck %s

// Each run of consecutive working ops of one layer (loops, copies) gets one
// enter/exit pair with the layer's id; constants, allocations and views
// between them do not split a run; the names are the module's
// qnn.profile_layers, by id.
// CHECK: module attributes {qnn.profile_layers = ["conv", "relu", "{{.*}}profile-layers.mlir:{{[0-9]+}}"]}
// CHECK-LABEL: func.func @layers
// CHECK: %[[C0:.*]] = arith.constant 0 : i32
// CHECK-NEXT: call @qnn_profile_enter(%[[C0]]) : (i32) -> ()
// CHECK-NEXT: scf.for
// CHECK: memref.alloc
// CHECK: scf.for
// CHECK: }
// CHECK-NEXT: call @qnn_profile_exit(%[[C0]]) : (i32) -> ()
// CHECK: %[[C1:.*]] = arith.constant 1 : i32
// CHECK-NEXT: call @qnn_profile_enter(%[[C1]])
// CHECK-NEXT: scf.for
// CHECK: call @qnn_profile_exit(%[[C1]])
// CHECK: %[[C2:.*]] = arith.constant 2 : i32
// CHECK-NEXT: call @qnn_profile_enter(%[[C2]])
// CHECK-NEXT: memref.copy
// CHECK-NEXT: call @qnn_profile_exit(%[[C2]])
// CHECK-NEXT: return
// CHECK: func.func private @qnn_profile_enter(i32)
// CHECK: func.func private @qnn_profile_exit(i32)
func.func @layers(%a: memref<8xf32>, %b: memref<8xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %zero = arith.constant 0.0 : f32
  scf.for %i = %c0 to %c8 step %c1 {
    memref.store %zero, %a[%i] : memref<8xf32>
  } loc("conv")
  %t = memref.alloc() : memref<8xf32>
  scf.for %i = %c0 to %c8 step %c1 {
    %v = memref.load %a[%i] : memref<8xf32>
    memref.store %v, %t[%i] : memref<8xf32>
  } loc("conv")
  scf.for %i = %c0 to %c8 step %c1 {
    %v = memref.load %t[%i] : memref<8xf32>
    %r = arith.maximumf %v, %zero : f32
    memref.store %r, %b[%i] : memref<8xf32>
  } loc("relu")
  memref.copy %b, %a : memref<8xf32> to memref<8xf32>
  return
}
