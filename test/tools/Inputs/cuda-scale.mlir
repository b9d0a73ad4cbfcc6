// max(x * 0.5 + 0.25, 0) on 1024 f32, written with gpu.launch and its own
// host-device copies: a program upstream's gpu-lower-to-nvvm-pipeline
// lowers (quant-run --device=cuda --upstream-gpu-pipeline).
func.func @main(%x: tensor<1024xf32>) -> tensor<1024xf32> {
  %h = bufferization.to_buffer %x : tensor<1024xf32> to memref<1024xf32>
  %c1 = arith.constant 1 : index
  %c256 = arith.constant 256 : index
  %c4 = arith.constant 4 : index
  %d = gpu.alloc () : memref<1024xf32>
  gpu.memcpy %d, %h : memref<1024xf32>, memref<1024xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c4, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %base = arith.muli %bx, %c256 : index
    %i = arith.addi %base, %tx : index
    %v = memref.load %d[%i] : memref<1024xf32>
    %a = arith.constant 0.5 : f32
    %b = arith.constant 0.25 : f32
    %zero = arith.constant 0.0 : f32
    %p = arith.mulf %v, %a : f32
    %q = arith.addf %p, %b : f32
    %o = arith.maximumf %q, %zero : f32
    memref.store %o, %d[%i] : memref<1024xf32>
    gpu.terminator
  }
  %out = memref.alloc () : memref<1024xf32>
  gpu.memcpy %out, %d : memref<1024xf32>, memref<1024xf32>
  gpu.dealloc %d : memref<1024xf32>
  %y = bufferization.to_tensor %out restrict : memref<1024xf32> to tensor<1024xf32>
  return %y : tensor<1024xf32>
}
