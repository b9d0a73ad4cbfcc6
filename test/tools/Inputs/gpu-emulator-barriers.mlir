// Programs with their own gpu.launch (lowered by upstream's
// gpu-lower-to-nvvm-pipeline) that exercise the GPU emulator's barriers
// and workgroup memory, and its alignment check:
// quant-run-cuda-emulator.test.

// Each block of 256 threads reverses its 256 elements through workgroup
// memory: every thread writes one element, the barrier, then every thread
// reads another thread's element. Without the barrier's wait, a thread
// would read an element not yet written.
func.func @reverse_blocks(%x: tensor<1024xf32>) -> tensor<1024xf32> {
  %h = bufferization.to_buffer %x : tensor<1024xf32> to memref<1024xf32>
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c255 = arith.constant 255 : index
  %c256 = arith.constant 256 : index
  %d = gpu.alloc () : memref<1024xf32>
  gpu.memcpy %d, %h : memref<1024xf32>, memref<1024xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c4, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1)
             workgroup(%tile : memref<256xf32, #gpu.address_space<workgroup>>) {
    %base = arith.muli %bx, %c256 : index
    %i = arith.addi %base, %tx : index
    %v = memref.load %d[%i] : memref<1024xf32>
    memref.store %v, %tile[%tx] : memref<256xf32, #gpu.address_space<workgroup>>
    gpu.barrier
    %j = arith.subi %c255, %tx : index
    %w = memref.load %tile[%j] : memref<256xf32, #gpu.address_space<workgroup>>
    memref.store %w, %d[%i] : memref<1024xf32>
    gpu.terminator
  }
  %out = memref.alloc () : memref<1024xf32>
  gpu.memcpy %out, %d : memref<1024xf32>, memref<1024xf32>
  gpu.dealloc %d : memref<1024xf32>
  %y = bufferization.to_tensor %out restrict : memref<1024xf32> to tensor<1024xf32>
  return %y : tensor<1024xf32>
}

// Only the first 16 threads of each block reach the barrier: on a GPU a
// hang or undefined behaviour; the emulator stops with an error naming the
// kernel.
func.func @divergent_barrier(%x: tensor<1024xf32>) -> tensor<1024xf32> {
  %h = bufferization.to_buffer %x : tensor<1024xf32> to memref<1024xf32>
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c16 = arith.constant 16 : index
  %c256 = arith.constant 256 : index
  %d = gpu.alloc () : memref<1024xf32>
  gpu.memcpy %d, %h : memref<1024xf32>, memref<1024xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c4, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %low = arith.cmpi ult, %tx, %c16 : index
    scf.if %low {
      gpu.barrier
    }
    gpu.terminator
  }
  %out = memref.alloc () : memref<1024xf32>
  gpu.memcpy %out, %d : memref<1024xf32>, memref<1024xf32>
  gpu.dealloc %d : memref<1024xf32>
  %y = bufferization.to_tensor %out restrict : memref<1024xf32> to tensor<1024xf32>
  return %y : tensor<1024xf32>
}

// A 16-byte vector load that claims 16-byte alignment at an element 4 bytes
// past it: a GPU stops with "misaligned address"; so does the emulator,
// naming the kernel.
func.func @misaligned_load(%x: tensor<1024xf32>) -> tensor<1024xf32> {
  %h = bufferization.to_buffer %x : tensor<1024xf32> to memref<1024xf32>
  %c1 = arith.constant 1 : index
  %d = gpu.alloc () : memref<1024xf32>
  gpu.memcpy %d, %h : memref<1024xf32>, memref<1024xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %v = vector.load %d[%c1] {alignment = 16 : i64} : memref<1024xf32>, vector<4xf32>
    vector.store %v, %d[%tx] : memref<1024xf32>, vector<4xf32>
    gpu.terminator
  }
  %out = memref.alloc () : memref<1024xf32>
  gpu.memcpy %out, %d : memref<1024xf32>, memref<1024xf32>
  gpu.dealloc %d : memref<1024xf32>
  %y = bufferization.to_tensor %out restrict : memref<1024xf32> to tensor<1024xf32>
  return %y : tensor<1024xf32>
}
