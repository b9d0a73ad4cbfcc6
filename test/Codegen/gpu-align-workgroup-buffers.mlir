// RUN: quant-opt %s --qnn-gpu-align-workgroup-buffers | FileCheck %s
// RUN: quant-opt %s "--qnn-gpu-align-workgroup-buffers=alignment=32" | FileCheck %s --check-prefix=ALIGN32
// RUN: quant-opt %s --qnn-gpu-align-workgroup-buffers --convert-gpu-to-nvvm | FileCheck %s --check-prefix=NVVM
// RUN: not quant-opt %s "--qnn-gpu-align-workgroup-buffers=alignment=12" 2>&1 | FileCheck %s --check-prefix=BAD

// Every workgroup attribution gets llvm.align (16 by default), which the
// lowering to NVVM gives its shared-memory global; a larger one already
// there is kept. Private attributions are left alone.

gpu.module @kernels {
  // CHECK-LABEL: gpu.func @tiles
  // CHECK-SAME: workgroup(%{{.*}} : memref<64x8xi32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}, %{{.*}} : memref<32xi8, #gpu.address_space<workgroup>> {llvm.align = 64 : i64})
  // CHECK-SAME: private(%{{.*}} : memref<4xi32, #gpu.address_space<private>>)
  // ALIGN32-LABEL: gpu.func @tiles
  // ALIGN32-SAME: {llvm.align = 32 : i64}
  // ALIGN32-SAME: {llvm.align = 64 : i64}
  // NVVM: llvm.mlir.global internal @__wg_tiles_0() {addr_space = 3 : i32, alignment = 16 : i64}
  // NVVM: llvm.mlir.global internal @__wg_tiles_1() {addr_space = 3 : i32, alignment = 64 : i64}
  gpu.func @tiles(%out: memref<64x8xi32>)
      workgroup(%a : memref<64x8xi32, #gpu.address_space<workgroup>>,
                %b : memref<32xi8, #gpu.address_space<workgroup>> {llvm.align = 64 : i64})
      private(%p : memref<4xi32, #gpu.address_space<private>>) kernel {
    %c0 = arith.constant 0 : index
    %v = vector.load %a[%c0, %c0] : memref<64x8xi32, #gpu.address_space<workgroup>>, vector<4xi32>
    vector.store %v, %out[%c0, %c0] : memref<64x8xi32>, vector<4xi32>
    gpu.return
  }
}

// BAD: error: qnn-gpu-align-workgroup-buffers: alignment must be a power of 2, not 12
