// RUN: quant-opt %s --qnn-gpu-correctly-rounded-math | FileCheck %s

// Scalar f32/f64 math.sqrt becomes PTX sqrt.rn (llvm.nvvm.sqrt.rn.f/.d),
// math.rsqrt 1 / sqrt.rn, as the CPU computes them; libdevice's would be
// sqrt.approx / rsqrt.approx. Vectors and other types are left alone (the
// GPU kernels are scalar). qnn-gpu-pipeline runs this pass on the kernels;
// the executed check is test/tools/quant-run-cuda-emulator.test and the
// transformer model on the GPU emulator (python/tests/test_gpu_aot.py).

// CHECK-LABEL: func @sqrt_f32
// CHECK-SAME: (%[[X:.*]]: f32)
// CHECK: %[[R:.*]] = llvm.call_intrinsic "llvm.nvvm.sqrt.rn.f"(%[[X]]) : (f32) -> f32
// CHECK: return %[[R]]
func.func @sqrt_f32(%x: f32) -> f32 {
  %r = math.sqrt %x : f32
  return %r : f32
}

// CHECK-LABEL: func @sqrt_f64
// CHECK: llvm.call_intrinsic "llvm.nvvm.sqrt.rn.d"(%{{.*}}) : (f64) -> f64
func.func @sqrt_f64(%x: f64) -> f64 {
  %r = math.sqrt %x : f64
  return %r : f64
}

// CHECK-LABEL: func @rsqrt_f32
// CHECK-SAME: (%[[X:.*]]: f32)
// CHECK-DAG: %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-DAG: %[[ROOT:.*]] = llvm.call_intrinsic "llvm.nvvm.sqrt.rn.f"(%[[X]]) : (f32) -> f32
// CHECK: %[[R:.*]] = arith.divf %[[ONE]], %[[ROOT]] : f32
// CHECK: return %[[R]]
func.func @rsqrt_f32(%x: f32) -> f32 {
  %r = math.rsqrt %x : f32
  return %r : f32
}

// CHECK-LABEL: func @left_alone
// CHECK: math.sqrt %{{.*}} : vector<4xf32>
// CHECK: math.rsqrt %{{.*}} : f16
// CHECK-NOT: llvm.call_intrinsic
func.func @left_alone(%v: vector<4xf32>, %h: f16) -> (vector<4xf32>, f16) {
  %a = math.sqrt %v : vector<4xf32>
  %b = math.rsqrt %h : f16
  return %a, %b : vector<4xf32>, f16
}
