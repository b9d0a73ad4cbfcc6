// RUN: quant-opt %s --qnn-approximate-math | FileCheck %s

// Scalar and vector math.erf and math.exp become arithmetic (upstream's
// polynomial approximations); nothing else changes. quant-opt's CPU pipelines run this
// pass before lowering to LLVM, which has no erf intrinsic; the executed
// check is python/tests/test_onnx_import.py (Erf and GELU against
// onnxruntime).

// CHECK-LABEL: func @erf
// CHECK-NOT: math.erf
// CHECK: math.fma
// CHECK: math.tanh
// CHECK: return
func.func @erf(%x: f32, %v: vector<16xf32>) -> (f32, vector<16xf32>, f32) {
  %a = math.erf %x : f32
  %b = math.erf %v : vector<16xf32>
  %t = math.tanh %x : f32
  return %a, %b, %t : f32, vector<16xf32>, f32
}

// CHECK-LABEL: func @exp
// CHECK-NOT: math.exp
// CHECK: math.fma
// CHECK: math.log
// CHECK: return
func.func @exp(%x: f32, %v: vector<16xf32>) -> (f32, vector<16xf32>, f32) {
  %a = math.exp %x : f32
  %b = math.exp %v : vector<16xf32>
  %l = math.log %x : f32
  return %a, %b, %l : f32, vector<16xf32>, f32
}
