//===- GPUPipeline.cpp - NVIDIA GPU lowering ------------------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// qnn-gpu-pipeline: the same input as qnn-cpu-pipeline (float programs, or
// the fused integer programs of qnn-quantize-pipeline) to NVIDIA GPU
// kernels, serialized into gpu.binary ops, and host code in the LLVM
// dialect.
//
// Contract of the lowered functions (docs/GPU.md, "Calling convention"):
//  - every public function keeps the signature and the calling convention
//    the CPU pipeline gives it (memref descriptors; `llvm.emit_c_interface`
//    gives the same `_mlir_ciface_` wrapper; `results-to-out-params=true`
//    turns results into caller-allocated out parameters the same way);
//  - every memref it takes or returns is in HOST memory: the function
//    allocates device buffers itself (gpu.alloc), copies its inputs host to
//    device and its results (and written out parameters) device to host
//    (gpu.memcpy), and frees the device buffers before it returns. A
//    returned buffer is a host allocation the caller owns, as on the CPU;
//  - constant weights are host globals in the layout the kernels read,
//    copied to a device buffer at each call;
//  - the host code calls the runtime functions of upstream `gpu-to-llvm`
//    (after mlir-translate: mgpuModuleLoad (fatbin, cubin) or
//    mgpuModuleLoadJIT (PTX), mgpuModuleGetFunction, mgpuLaunchKernel,
//    mgpuStreamCreate/Synchronize/Destroy, mgpuMemAlloc, mgpuMemcpy,
//    mgpuMemFree, mgpuModuleUnload); a call's launches and copies go on one
//    stream in program order (gpu-async-region), synchronized before the
//    function returns, so its results are in host memory when it does.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Codegen/Passes.h"
#include "quant-opt/Pipelines/Pipelines.h"

#include "Phases.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/LLVMIR/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"

using namespace mlir;

/// The CUDA toolkit gpu-module-to-binary links libdevice from (and runs
/// ptxas/fatbinary from): the option, else what upstream looks for (the
/// environment), else /usr/local/cuda when it has libdevice. Empty: none,
/// and kernels that call math functions keep unresolved __nv_* calls.
static std::string cudaToolkit(const qnn::GPUPipelineOptions &options) {
  if (!options.cudaPath.empty())
    return options.cudaPath;
  for (const char *variable : {"CUDA_ROOT", "CUDA_HOME", "CUDA_PATH"})
    if (std::optional<std::string> value = llvm::sys::Process::GetEnv(variable);
        value && !value->empty())
      return *value;
  SmallString<128> libdevice("/usr/local/cuda");
  llvm::sys::path::append(libdevice, "nvvm", "libdevice", "libdevice.10.bc");
  if (llvm::sys::fs::is_regular_file(libdevice))
    return "/usr/local/cuda";
  return "";
}

static StringRef chipName(qnn::GPUChip chip) {
  switch (chip) {
  case qnn::GPUChip::SM80:
    return "sm_80";
  case qnn::GPUChip::SM90:
    return "sm_90";
  }
  llvm_unreachable("unknown chip");
}

static StringRef formatName(qnn::GPUBinaryFormat format) {
  switch (format) {
  case qnn::GPUBinaryFormat::ISA:
    return "isa";
  case qnn::GPUBinaryFormat::Bin:
    return "bin";
  case qnn::GPUBinaryFormat::Fatbin:
    return "fatbin";
  case qnn::GPUBinaryFormat::LLVM:
    return "llvm";
  }
  llvm_unreachable("unknown format");
}

/// Bufferized linalg ops to gpu.launch: parallel loops tiled into blocks of
/// threads, one thread per output element; then the host calling
/// convention (device buffers and host-device copies).
static void addSIMTPhase(OpPassManager &pm,
                         const qnn::GPUPipelineOptions &options) {
  // The host cannot copy device buffers with memcpy: every copy becomes a
  // kernel like any other linalg op.
  qnn::QNNStridedCopiesToLoopsPassOptions copies;
  copies.all = true;
  pm.addNestedPass<func::FuncOp>(
      qnn::createQNNStridedCopiesToLoopsPass(copies));
  // Parallel dimensions as scf.parallel, reductions as scf.for inside.
  // Canonicalized before (dead buffers go), not between: it would inline a
  // single-iteration scf.parallel (a reduction to one element, a fill of
  // one element), whose body would then stay on the host, touching device
  // buffers.
  pm.addPass(createCanonicalizerPass());
  // A parallel loop inside a reduction (a row's lane sums) would not be
  // mapped: parallel loops outermost first.
  pm.addNestedPass<func::FuncOp>(qnn::createQNNGPUReductionsInnermostPass());
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToParallelLoopsPass());
  qnn::QNNGPUMapParallelLoopsPassOptions mapping;
  mapping.threads = options.threads;
  pm.addNestedPass<func::FuncOp>(
      qnn::createQNNGPUMapParallelLoopsPass(mapping));
  pm.addNestedPass<func::FuncOp>(createConvertParallelLoopToGpuPass());
  pm.addPass(qnn::createQNNGPUHostDeviceBuffersPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

/// Kernels outlined into gpu.module, lowered to NVVM and serialized for the
/// chip; host code to the LLVM dialect with gpu-to-llvm's runtime calls.
static void addLowerToNVVMPhase(OpPassManager &pm,
                                const qnn::GPUPipelineOptions &options) {
  // The canonicalizations hoist the kernels' constants out of the launch
  // regions (gpu.launch is not isolated from above), and outlining passes
  // what a region uses from above as kernel parameters: sunk back first,
  // the tile sizes, strides and extents are constants of the kernel, so a
  // division by one is a shift or a multiplication, not a runtime div.u64.
  pm.addPass(createGpuLaunchSinkIndexComputationsPass());
  pm.addPass(createGpuKernelOutliningPass());
  // The tensor-core kernels' 16-byte accesses to their shared tiles.
  pm.addNestedPass<gpu::GPUModuleOp>(
      qnn::createQNNGPUAlignWorkgroupBuffersPass());
  // gpu-to-llvm lowers only the async forms of gpu.alloc/memcpy/dealloc:
  // every GPU op of a function goes on one stream, in program order, and a
  // gpu.wait before the return synchronizes it.
  pm.addNestedPass<func::FuncOp>(createGpuAsyncRegionPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  // erf as the CPU pipeline computes it, so float programs agree.
  pm.addPass(qnn::createQNNApproximateMathPass());
  // sqrt and rsqrt correctly rounded, as on the CPU (libdevice's are
  // approximate).
  pm.addNestedPass<gpu::GPUModuleOp>(
      qnn::createQNNGPUCorrectlyRoundedMathPass());
  // PTX ISA 8.0 (CUDA 12.0) covers sm_90 and mma.sync with s8 operands.
  GpuNVVMAttachTargetOptions target;
  target.chip = chipName(options.chip).str();
  target.features = "+ptx80";
  target.optLevel = 3;
  pm.addPass(createGpuNVVMAttachTarget(target));
  // The kernels: nvgpu (tensor cores) first, then gpu/arith/math/memref/cf.
  pm.addNestedPass<gpu::GPUModuleOp>(createConvertNVGPUToNVVMPass());
  pm.addNestedPass<gpu::GPUModuleOp>(createStripDebugInfoPass());
  ConvertGpuOpsToNVVMOpsOptions toNVVM;
  toNVVM.allowPatternRollback = false;
  pm.addNestedPass<gpu::GPUModuleOp>(createConvertGpuOpsToNVVMOps(toNVVM));
  pm.addNestedPass<gpu::GPUModuleOp>(createConvertNVVMToLLVMPass());
  pm.addNestedPass<gpu::GPUModuleOp>(createCanonicalizerPass());
  pm.addNestedPass<gpu::GPUModuleOp>(createCSEPass());
  pm.addNestedPass<gpu::GPUModuleOp>(createReconcileUnrealizedCastsPass());
  // The host.
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createUBToLLVMConversionPass());
  // gpu.alloc/memcpy/dealloc and gpu.launch_func to the runtime's calls.
  pm.addPass(createGpuToLLVMConversionPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  // The kernels to PTX (and with ptxas/fatbinary to cubin or fatbin).
  GpuModuleToBinaryPassOptions binary;
  binary.compilationTarget = formatName(options.format).str();
  binary.toolkitPath = cudaToolkit(options);
  pm.addPass(createGpuModuleToBinaryPass(binary));
}

void qnn::buildGPUPipeline(OpPassManager &pm,
                           const GPUPipelineOptions &options) {
  qnn::addLowerQNNPhase(pm);
  // Loops become kernels' threads: an allocation stays in its loop.
  qnn::addBufferizePhase(pm, options.resultsToOutParams,
                         /*hoistAllocationsOutOfLoops=*/false);
  if (options.tensorCores) {
    qnn::QNNGPUTensorCoreContractionsPassOptions tensorCores;
    tensorCores.tileM = options.tileM;
    tensorCores.tileN = options.tileN;
    tensorCores.tileK = options.tileK;
    tensorCores.warpsM = options.warpsM;
    tensorCores.warpsN = options.warpsN;
    tensorCores.asyncCopies = options.asyncCopies;
    // Constant weights in the kernel's [n][k] order, read 16 bytes at a time.
    pm.addPass(qnn::createQNNPackContractionWeightsPass());
    pm.addNestedPass<func::FuncOp>(
        qnn::createQNNGPUTensorCoreContractionsPass(tensorCores));
  }
  addSIMTPhase(pm, options);
  if (!options.lowerToLLVM)
    return;
  addLowerToNVVMPhase(pm, options);
}
