// qnn-set-cpu-target, and qnn-cpu-pipeline's cpu= / cpu-features= options
// that run it: every defined llvm.func gets the CPU and features, so that
// `mlir-translate | llc` (with no -mcpu) generates code for that CPU on any
// machine: x86-64-v3 (AVX2, no AVX-512) uses ymm registers and no zmm.

// RUN: quant-opt %s --qnn-cpu-pipeline="cpu=x86-64-v3 cpu-features=-avx512f" | FileCheck %s
// Declarations are left alone; definitions (wrappers too) get both.
// CHECK: llvm.func @malloc(i64) -> !llvm.ptr{{$}}
// CHECK: llvm.func @mm(
// CHECK-SAME: target_cpu = "x86-64-v3", target_features = #llvm.target_features<["-avx512f"]>
// CHECK: llvm.func @_mlir_ciface_mm(
// CHECK-SAME: target_cpu = "x86-64-v3", target_features = #llvm.target_features<["-avx512f"]>
// CHECK: llvm.func @_mlir_ciface_printMemrefF32(!llvm.ptr) attributes {llvm.emit_c_interface, sym_visibility = "private"}{{$}}

// RUN: quant-opt %s --qnn-cpu-pipeline="cpu=x86-64-v3" | mlir-translate --mlir-to-llvmir \
// RUN: | llc -O2 | FileCheck %s --check-prefix=ASM --implicit-check-not=zmm
// ASM: ymm

// RUN: not quant-opt %s --qnn-cpu-pipeline="cpu=pentium9" 2>&1 | FileCheck %s --check-prefix=CPU
// CPU: error: qnn-microkernel-cpu: unknown CPU 'pentium9' (LLVM names: x86-64-v3, znver3, znver4, sapphirerapids, ...)
// CPU-NOT: not a recognized processor
// RUN: not quant-opt %s --convert-func-to-llvm --qnn-set-cpu-target="features=avx2" 2>&1 | FileCheck %s --check-prefix=FEATURE
// FEATURE: error: qnn-set-cpu-target: bad CPU feature 'avx2' (expected +NAME or -NAME with an LLVM feature name, e.g. -avx512f)
// FEATURE-NOT: see current operation

func.func @mm(%a: tensor<32x64xi8>, %b: tensor<64x32xi8>) -> tensor<32x32xi32> attributes { llvm.emit_c_interface } {
  %zero = arith.constant 0 : i32
  %e = tensor.empty() : tensor<32x32xi32>
  %i = linalg.fill ins(%zero : i32) outs(%e : tensor<32x32xi32>) -> tensor<32x32xi32>
  %r = linalg.matmul ins(%a, %b : tensor<32x64xi8>, tensor<64x32xi8>) outs(%i : tensor<32x32xi32>) -> tensor<32x32xi32>
  return %r : tensor<32x32xi32>
}
func.func private @printMemrefF32(tensor<*xf32>) attributes { llvm.emit_c_interface }
