// qnn-parallelize-cpu: the loop qnn-microkernel-cpu marks (here the weight
// panels: 128 channels are two panels of 64) becomes an scf.parallel after
// bufferization, and qnn-cpu-pipeline threads=2 makes it an OpenMP loop on
// two threads; threads=1 (the default) leaves no OpenMP at all. The
// executed check (the same integers on two threads) is
// test/Integration/CPU/microkernel-vs-reference.test.

// RUN: quant-opt %s --qnn-parallelize-cpu | FileCheck %s --check-prefix=PASS
// PASS-LABEL: func.func @marked
// PASS: scf.parallel (%[[I:.*]]) = (%c0) to (%c2) step (%c1) {
// PASS-NEXT: memref.store %{{.*}}, %{{.*}}[%[[I]]]
// PASS-NOT: scf.for
// PASS-LABEL: func.func @unmarked
// PASS: scf.for
func.func @marked(%m: memref<2xf32>, %v: f32) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  scf.for %i = %c0 to %c2 step %c1 {
    memref.store %v, %m[%i] : memref<2xf32>
  } {qnn.parallel}
  return
}
func.func @unmarked(%m: memref<2xf32>, %v: f32) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  scf.for %i = %c0 to %c2 step %c1 {
    memref.store %v, %m[%i] : memref<2xf32>
  }
  return
}

// RUN: quant-opt %S/microkernel-asm.mlir --qnn-cpu-pipeline="cpu=znver4 threads=2 lower-to-llvm=false" | FileCheck %s --check-prefix=OMP
// OMP: omp.parallel num_threads(%{{.*}} : i32) {
// OMP: omp.wsloop
// OMP: call @llvm.x86.avx512.vpdpbusd.512
// RUN: quant-opt %S/microkernel-asm.mlir --qnn-cpu-pipeline="cpu=znver4 threads=2" | mlir-translate --mlir-to-llvmir | FileCheck %s --check-prefix=KMPC
// KMPC: call void {{.*}}@__kmpc_fork_call
// RUN: quant-opt %S/microkernel-asm.mlir --qnn-cpu-pipeline="cpu=znver4" | FileCheck %s --check-prefix=ONE --implicit-check-not=omp. --implicit-check-not=kmpc
// ONE: llvm.func @matmul
