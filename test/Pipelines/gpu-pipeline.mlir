// RUN: quant-opt %s --qnn-gpu-pipeline=lower-to-llvm=false | FileCheck %s --check-prefix=TC
// RUN: quant-opt %s "--qnn-gpu-pipeline=lower-to-llvm=false tensor-cores=false" | FileCheck %s --check-prefix=SIMT
// RUN: quant-opt %s "--qnn-gpu-pipeline=lower-to-llvm=false async-copies=false" | FileCheck %s --check-prefix=SYNC
// RUN: quant-opt %s "--qnn-gpu-pipeline=lower-to-llvm=false results-to-out-params=true" | FileCheck %s --check-prefix=OUTPARAM
// RUN: quant-opt %s --qnn-gpu-pipeline=format=isa | FileCheck %s --check-prefix=LLVM
// RUN: not quant-opt %s --qnn-gpu-pipeline=chip=sm_70 2>&1 | FileCheck %s --check-prefix=BAD-CHIP
// RUN: not quant-opt %s --qnn-gpu-pipeline=format=cubin 2>&1 | FileCheck %s --check-prefix=BAD-FORMAT
// RUN: not quant-opt %s --qnn-gpu-pipeline=tile-m=24 2>&1 | FileCheck %s --check-prefix=BAD-TILE
// RUN: not quant-opt %s --qnn-gpu-pipeline=threads=2000 2>&1 | FileCheck %s --check-prefix=BAD-THREADS
// RUN: not quant-opt %s --qnn-gpu-pipeline=tile-k=256 2>&1 | FileCheck %s --check-prefix=BAD-SHARED

// The i8 matmul of a fused layer and its requantization, 40x64 by 64x24:
// not a multiple of the 64x64 block tile.
//
// Host side: the arguments copied into device buffers, the accumulator and
// the result allocated on the device, the result copied into a new host
// buffer that is returned, every device buffer freed.
// TC-LABEL: func @int8_matmul_requantized
// TC-SAME: (%[[A:.*]]: memref<40x64xi8>, %[[B:.*]]: memref<64x24xi8>) -> memref<40x24xi8>
// TC: %[[DA:.*]] = gpu.alloc () : memref<40x64xi8>
// TC: gpu.memcpy %[[DA]], %[[A]]
// TC: %[[DB:.*]] = gpu.alloc () : memref<64x24xi8>
// TC: gpu.memcpy %[[DB]], %[[B]]
// The accumulator's zero fill is folded into the kernel, and with the
// epilogue fused the i32 sums are never stored: no accumulator buffer, no
// launch for the fill.
// TC-NOT: memref<40x24xi32>
// TC-NOT: gpu.launch
// TC: %[[DOUT:.*]] = gpu.alloc () : memref<40x24xi8>
// The contraction: one block of 2x2 warps (64x64 tile), A and B tiles in
// shared memory as two stages of rows of 32-bit words (4 consecutive k
// each, 8 per row). The first k step is loaded and stored in stage 0
// before the loop: A, contiguous along K, 16 bytes at a time (zero outside
// the operand); B (k, n), whose n is innermost, staged k-major
// ([stage][k/4][n]): 4 k x 4 n bytes loaded with four 4-byte loads along
// n, transposed (word j: the four k of column j), one 16-byte store. Then
// the second step is loaded into registers.
// TC: gpu.launch blocks({{.*}}) in ({{.*}} = %c1{{.*}} = %c1{{.*}} = %c1{{.*}}) threads({{.*}}) in ({{.*}} = %c128{{.*}}) workgroup(%[[AS:.*]] : memref<2x64x8xi32, #gpu.address_space<workgroup>>, %[[BS:.*]] : memref<2x8x64xi32, #gpu.address_space<workgroup>>)
// TC: arith.cmpi ult, %{{.*}}, %c40
// TC: vector.load %[[DA]][{{.*}}] {alignment = 16 : i64} : memref<40x64xi8>, vector<16xi8>
// TC: vector.bitcast %{{.*}} : vector<16xi8> to vector<4xi32>
// TC: arith.select %{{.*}}, %{{.*}}, %{{.*}} : vector<4xi32>
// TC-COUNT-4: vector.load %[[DB]][{{.*}}] {alignment = 4 : i64} : memref<64x24xi8>, vector<4xi8>
// TC: vector.shuffle %{{.*}}, %{{.*}} [0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15] : vector<8xi8>, vector<8xi8>
// TC: vector.store %{{.*}}, %[[AS]][%c0, {{.*}}] {alignment = 16 : i64} : memref<2x64x8xi32, #gpu.address_space<workgroup>>, vector<4xi32>
// TC: vector.store %{{.*}}, %[[BS]][%c0, {{.*}}] {alignment = 16 : i64} : memref<2x8x64xi32, #gpu.address_space<workgroup>>, vector<4xi32>
// TC: gpu.barrier
// TC: vector.load %[[DA]]
// Each k step (stage = step % 2) stores the chunks it carries into the
// other stage, loads the next step's, runs its MMAs on its own stage (a
// thread's fragment registers of a row are consecutive words, one vector
// load; B's k-major words one at a time, at columns swizzled by the
// thread) and ends at the one barrier.
// TC: scf.for {{.*}} iter_args
// TC-NOT: gpu.barrier
// TC: %[[STAGE:.*]] = arith.remui %{{.*}}, %c2
// TC: %[[OTHER:.*]] = arith.subi %c1, %[[STAGE]]
// TC: vector.store %{{.*}}, %[[AS]][%[[OTHER]], {{.*}}] {alignment = 16 : i64}
// TC: vector.store %{{.*}}, %[[BS]][%[[OTHER]], {{.*}}] {alignment = 16 : i64}
// TC-NOT: gpu.barrier
// TC: vector.load %[[DA]]
// TC: vector.load %[[DB]]
// TC: vector.load %[[AS]][%[[STAGE]], {{.*}}] {alignment = 8 : i64} : memref<2x64x8xi32, #gpu.address_space<workgroup>>, vector<2xi32>
// TC-NOT: arith.shli
// TC: memref.load %[[BS]][%[[STAGE]], {{.*}}] : memref<2x8x64xi32, #gpu.address_space<workgroup>>
// TC: nvvm.mma.sync A[{{.*}}] B[{{.*}}] C[{{.*}}] {intOverflowBehavior = #nvvm.mma_int_overflow<wrapped>, layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, multiplicandAPtxType = #nvvm.mma_type<s8>, multiplicandBPtxType = #nvvm.mma_type<s8>, shape = #nvvm.shape<m = 16, n = 8, k = 32>}
// TC-NOT: gpu.barrier
// TC: nvvm.mma.sync
// TC: gpu.barrier
// TC-NEXT: scf.yield
// The epilogue from the accumulators, inside the output only: the initial
// value (0) added, the fixed-point rescale (exact in f64: the accumulator
// is bounded by the contraction), the clamp, one i8 store.
// TC: scf.if
// TC-NEXT: arith.sitofp %{{.*}} : i32 to f64
// TC: arith.mulf %{{.*}}, %{{.*}} : f64
// TC: math.roundeven %{{.*}} : f64
// TC: arith.fptosi %{{.*}} : f64 to i32
// TC: arith.minsi %{{.*}}, %c127_i32
// TC: arith.trunci %{{.*}} : i32 to i8
// TC: memref.store %{{.*}}, %[[DOUT]]
// TC: } {qnn.tensor_core}
// TC-NOT: gpu.launch
// TC-NOT: memref<40x24xi32>
// TC: %[[HOST:.*]] = memref.alloc() : memref<40x24xi8>
// TC: gpu.memcpy %[[HOST]], %[[DOUT]]
// TC-DAG: gpu.dealloc %[[DOUT]]
// TC-DAG: gpu.dealloc %[[DA]]
// TC-DAG: gpu.dealloc %[[DB]]
// TC: return %[[HOST]]

// SIMT-LABEL: func @int8_matmul_requantized
// SIMT-NOT: nvvm.mma.sync
// SIMT-NOT: workgroup(
// SIMT: gpu.launch
// SIMT: scf.for
// SIMT: arith.muli %{{.*}}, %{{.*}} : i32
// SIMT: gpu.launch
// SIMT: math.roundeven %{{.*}} : f64
// SIMT: return

// The out parameter: copied in (the kernels may read what they do not
// write) and back.
// OUTPARAM-LABEL: func @int8_matmul_requantized
// OUTPARAM-SAME: (%{{.*}}: memref<40x64xi8>, %{{.*}}: memref<64x24xi8>, %[[RES:.*]]: memref<40x24xi8>)
// OUTPARAM: %[[DRES:.*]] = gpu.alloc () : memref<40x24xi8>
// OUTPARAM: gpu.memcpy %[[DRES]], %[[RES]]
// OUTPARAM: nvvm.mma.sync
// OUTPARAM: gpu.memcpy %[[RES]], %[[DRES]]
// OUTPARAM: gpu.dealloc %[[DRES]]
// OUTPARAM: return

// The lowered module: the kernel serialized (PTX here; one kernel, the
// accumulator's fill being folded into it), host code that calls the
// runtime functions of gpu-to-llvm.
// LLVM-DAG: gpu.binary @int8_matmul_requantized_kernel  [#gpu.object<#nvvm.target<O = 3, chip = "sm_80", features = "+ptx80">
// LLVM-DAG: llvm.func @int8_matmul_requantized(
// LLVM-DAG: llvm.call @mgpuMemAlloc
// LLVM-DAG: llvm.call @mgpuMemcpy
// LLVM-DAG: llvm.call @mgpuMemFree
// LLVM-DAG: llvm.call @mgpuStreamSynchronize
// LLVM-DAG: gpu.launch_func <%{{.*}} : !llvm.ptr> @int8_matmul_requantized_kernel::@int8_matmul_requantized_kernel blocks in (%{{.*}}, %{{.*}}, %{{.*}}) threads in (%{{.*}}, %{{.*}}, %{{.*}})
// LLVM-NOT: gpu.module
// LLVM-NOT: gpu.alloc
// LLVM-NOT: func.func

// BAD-CHIP: for the --chip option: Cannot find option named 'sm_70'!
// BAD-FORMAT: for the --format option: Cannot find option named 'cubin'!
// BAD-TILE: error: qnn-gpu-tensor-core-contractions: tile-m must be a multiple of 16 * warps-m
// BAD-SHARED: error: qnn-gpu-tensor-core-contractions: the tiles need 81920 bytes of shared memory (two stages of tile-m + tile-n rows of 80 words), over the 49152 bytes a kernel may have statically
// BAD-THREADS: error: qnn-gpu-map-parallel-loops: threads must be in [1, 1024], got 2000
func.func @int8_matmul_requantized(%a: tensor<40x64xi8>, %b: tensor<64x24xi8>) -> tensor<40x24x!quant.uniform<i8:f32, 0.5>> {
  %c0 = arith.constant 0 : i32
  %e = tensor.empty() : tensor<40x24xi32>
  %i = linalg.fill ins(%c0 : i32) outs(%e : tensor<40x24xi32>) -> tensor<40x24xi32>
  %r = linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (k, n)>, affine_map<(m, n, k) -> (m, n)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : tensor<40x64xi8>, tensor<64x24xi8>) outs(%i : tensor<40x24xi32>) {
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xe = arith.extsi %x : i8 to i32
    %ye = arith.extsi %y : i8 to i32
    %p = arith.muli %xe, %ye : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  } -> tensor<40x24xi32>
  %y = qnn.rescale %r multipliers [1073741824] shifts [40] clamp [-128, 127] : tensor<40x24xi32> -> tensor<40x24x!quant.uniform<i8:f32, 0.5>>
  return %y : tensor<40x24x!quant.uniform<i8:f32, 0.5>>
}

// A named contraction (as a program or an importer writes it, here with the
// weights' layout (n, k)) goes on the tensor cores like the generic form.
// Both operands are contiguous along K, so the tiles are filled by
// cp.async, 16 bytes per copy (zero-filled outside the operands), as
// bytes: four stages of 64 + 64 rows of 32 bytes fit. Steps 0..2 are
// started before the loop, one commit group each; each step waits until
// at most 2 groups are pending, meets the block at the barrier, starts the
// step 3 ahead into the stage the last step used, and runs its MMAs on its
// own stage: one barrier per step, none at its end.
// TC-LABEL: func @named_matmul_transposed_b
// TC: gpu.launch {{.*}} workgroup(%[[AS:.*]] : memref<4x64x32xi8, #gpu.address_space<workgroup>>, %[[BS:.*]] : memref<4x64x32xi8, #gpu.address_space<workgroup>>)
// TC-NOT: linalg.matmul
// TC: nvgpu.device_async_copy %{{.*}}[{{.*}}], %[[AS]][%c0, {{.*}}], 16, %{{.*}} {bypassL1} : memref<64x128xi8> to memref<4x64x32xi8, #gpu.address_space<workgroup>>
// TC: nvgpu.device_async_copy %{{.*}}[{{.*}}], %[[BS]][%c0, {{.*}}], 16, %{{.*}} {bypassL1} : memref<32x128xi8> to memref<4x64x32xi8, #gpu.address_space<workgroup>>
// TC-NEXT: nvvm.cp.async.commit.group
// TC-COUNT-2: nvvm.cp.async.commit.group
// TC-NOT: gpu.barrier
// TC: scf.for
// TC: %[[STAGE:.*]] = arith.remui %{{.*}}, %c4
// TC-NEXT: nvvm.cp.async.wait.group 2
// TC-NEXT: gpu.barrier
// TC: nvgpu.device_async_copy
// TC: nvgpu.device_async_copy
// TC-NEXT: nvvm.cp.async.commit.group
// TC: vector.load %[[AS]][%[[STAGE]], {{.*}}] {alignment = 8 : i64} : memref<4x64x32xi8, #gpu.address_space<workgroup>>, vector<8xi8>
// TC-NEXT: vector.bitcast %{{.*}} : vector<8xi8> to vector<2xi32>
// TC: nvvm.mma.sync
// TC-NOT: gpu.barrier
// TC: scf.yield
// TC-NEXT: }
// TC-NEXT: nvvm.cp.async.wait.group 0
// TC: } {qnn.tensor_core}
// Without async copies: through registers, two stages of words.
// SYNC-LABEL: func @named_matmul_transposed_b
// SYNC: gpu.launch {{.*}} workgroup(%{{.*}} : memref<2x64x8xi32, #gpu.address_space<workgroup>>, %{{.*}} : memref<2x64x8xi32, #gpu.address_space<workgroup>>)
// SYNC-NOT: nvgpu.device_async_copy
// SYNC-NOT: nvvm.cp.async
// SYNC: vector.load %{{.*}} {alignment = 16 : i64} : memref<64x128xi8>, vector<16xi8>
// SYNC: vector.load %{{.*}} {alignment = 16 : i64} : memref<32x128xi8>, vector<16xi8>
// SYNC: nvvm.mma.sync
// SYNC: } {qnn.tensor_core}
func.func @named_matmul_transposed_b(%a: tensor<64x128xi8>, %bt: tensor<32x128xi8>) -> tensor<64x32xi32> {
  %c0 = arith.constant 0 : i32
  %e = tensor.empty() : tensor<64x32xi32>
  %i = linalg.fill ins(%c0 : i32) outs(%e : tensor<64x32xi32>) -> tensor<64x32xi32>
  %r = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%a, %bt : tensor<64x128xi8>, tensor<32x128xi8>) outs(%i : tensor<64x32xi32>) -> tensor<64x32xi32>
  return %r : tensor<64x32xi32>
}

// A bias broadcast into the accumulator (as the quantizer writes it) is
// computed in the kernel from the output indices: the bias loaded where
// the sums are added, no broadcast kernel, and without an epilogue the
// sums plus bias stored once.
// TC-LABEL: func @int8_matmul_bias
// TC: %[[BIAS:.*]] = memref.get_global @{{.*}} : memref<32xi32>
// TC: %[[DBIAS:.*]] = gpu.alloc () : memref<32xi32>
// TC: gpu.memcpy %[[DBIAS]], %[[BIAS]]
// TC: %[[ACC:.*]] = gpu.alloc () : memref<64x32xi32>
// TC-NOT: gpu.launch
// TC: gpu.launch
// TC: nvvm.mma.sync
// TC: scf.if
// TC-NEXT: %[[B:.*]] = memref.load %[[DBIAS]][%{{.*}}] : memref<32xi32>
// TC-NEXT: %[[S:.*]] = arith.addi %[[B]], %{{.*}} : i32
// TC-NEXT: memref.store %[[S]], %[[ACC]]
// TC: } {qnn.tensor_core}
// TC-NOT: gpu.launch
// TC: return
func.func @int8_matmul_bias(%a: tensor<64x128xi8>, %b: tensor<128x32xi8>) -> tensor<64x32xi32> {
  %bias = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31]> : tensor<32xi32>
  %e = tensor.empty() : tensor<64x32xi32>
  %i = linalg.generic {indexing_maps = [affine_map<(m, n) -> (n)>, affine_map<(m, n) -> (m, n)>], iterator_types = ["parallel", "parallel"]}
      ins(%bias : tensor<32xi32>) outs(%e : tensor<64x32xi32>) {
  ^bb0(%x: i32, %out: i32):
    linalg.yield %x : i32
  } -> tensor<64x32xi32>
  %r = linalg.matmul ins(%a, %b : tensor<64x128xi8>, tensor<128x32xi8>) outs(%i : tensor<64x32xi32>) -> tensor<64x32xi32>
  return %r : tensor<64x32xi32>
}

// B (k, n) with N not a multiple of 4: a block of four n could straddle
// the end of N, so B is gathered byte by byte into its [n][k/4] tile.
// TC-LABEL: func @matmul_b_gathered
// TC: gpu.launch {{.*}} workgroup(%{{.*}} : memref<2x64x8xi32, #gpu.address_space<workgroup>>, %[[BTILE:.*]] : memref<2x64x8xi32, #gpu.address_space<workgroup>>)
// TC: memref.load %{{.*}} : memref<128x30xi8>
// TC: arith.shli %{{.*}}, %c8_i32
// TC: vector.store %{{.*}}, %[[BTILE]][%{{.*}}] {alignment = 4 : i64} : memref<2x64x8xi32, #gpu.address_space<workgroup>>, vector<1xi32>
// TC: vector.load %[[BTILE]]
// TC: nvvm.mma.sync
// TC: } {qnn.tensor_core}
func.func @matmul_b_gathered(%a: tensor<64x128xi8>, %b: tensor<128x30xi8>) -> tensor<64x30xi32> {
  %c0 = arith.constant 0 : i32
  %e = tensor.empty() : tensor<64x30xi32>
  %i = linalg.fill ins(%c0 : i32) outs(%e : tensor<64x30xi32>) -> tensor<64x30xi32>
  %r = linalg.matmul ins(%a, %b : tensor<64x128xi8>, tensor<128x30xi8>) outs(%i : tensor<64x30xi32>) -> tensor<64x30xi32>
  return %r : tensor<64x30xi32>
}
