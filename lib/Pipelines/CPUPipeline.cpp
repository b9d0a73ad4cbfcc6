//===- CPUPipeline.cpp - Vectorized CPU lowering --------------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The CPU pipelines for float and quantized programs alike: the float
// reference the accuracy harness compares against comes out of the same
// compiler as the integer program. The reference pipeline is this one with
// the scalar strategy: every linalg op becomes plain loops, slow by design
// and easy to trust. The code generation strategy is one
// pass on tensors, chosen by name, so that tuned strategies (data tiling,
// VNNI micro-kernels) plug in beside the generic one.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Codegen/CPUTarget.h"
#include "quant-opt/Codegen/Passes.h"
#include "quant-opt/Conversion/Passes.h"
#include "quant-opt/Dialect/QNN/Transforms/Passes.h"
#include "quant-opt/Pipelines/Pipelines.h"

#include "Phases.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Conversion/VectorToSCF/VectorToSCF.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/Vector/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/MC/MCSubtargetInfo.h"

using namespace mlir;

void qnn::addLowerQNNPhase(OpPassManager &pm) {
  // linalg.softmax and kin are not structured ops: as the ones they stand
  // for, the rest of the pipeline lowers them.
  pm.addPass(qnn::createQNNDecomposeAggregatedOpsPass());
  pm.addPass(qnn::createConvertQNNToLinalgPass());
  pm.addPass(qnn::createQNNVerifyNoQuantTypesPass());
  pm.addPass(createCanonicalizerPass());
  // Elementwise arith/math on whole tensors becomes linalg, which bufferizes.
  pm.addNestedPass<func::FuncOp>(createConvertElementwiseToLinalgPass());
  // A softmax's exponentials computed once, not in its sum and again in
  // its normalization.
  pm.addNestedPass<func::FuncOp>(qnn::createQNNShareElementwiseValuesPass());
  // Float row sums in an order that vectorizes, the same in every pipeline.
  pm.addPass(qnn::createQNNSplitFloatSumsPass());
}

void qnn::addBufferizePhase(OpPassManager &pm, bool resultsToOutParams,
                            bool hoistAllocationsOutOfLoops) {
  // Across function boundaries, so callers and callees agree on memref
  // signatures.
  bufferization::OneShotBufferizePassOptions bufferizeOptions;
  bufferizeOptions.bufferizeFunctionBoundaries = true;
  bufferizeOptions.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  // A loop that carries a tensor it recomputes (an scf.for whose body
  // yields a new tensor, not its iter_arg updated in place) yields a new
  // buffer each iteration; without this, bufferization refuses it ("Yield
  // operand #0 is not equivalent to the corresponding iter bbArg").
  bufferizeOptions.allowReturnAllocsFromLoops = true;
  // Padded tensors of one shape whose fills CSE merged: one buffer each.
  pm.addNestedPass<func::FuncOp>(
      qnn::createQNNDistinctInsertDestinationsPass());
  if (resultsToOutParams)
    pm.addNestedPass<func::FuncOp>(qnn::createQNNDistinctResultsPass());
  // A producer whose result is inserted into a larger tensor (a padded
  // input) writes into that tensor's buffer directly.
  pm.addPass(bufferization::createEmptyTensorEliminationPass());
  pm.addPass(bufferization::createEmptyTensorToAllocTensorPass());
  pm.addPass(bufferization::createOneShotBufferizePass(bufferizeOptions));
  if (resultsToOutParams) {
    // Loops that carry a buffer they write in place return it unchanged:
    // folded, the result is the allocation itself, which hoisting needs.
    pm.addPass(createCanonicalizerPass());
    bufferization::BufferResultsToOutParamsPassOptions outParams;
    outParams.modifyPublicFunctions = true;
    // A result allocated in the function is the caller's buffer: no copy
    // into it at the end.
    outParams.hoistStaticAllocs = true;
    pm.addPass(bufferization::createBufferResultsToOutParamsPass(outParams));
  }
  // A tile's scratch buffer (a contraction's accumulators, fused into its
  // epilogue's loop) is allocated once, not once per tile: a malloc and a
  // free per tile cost more than the tile's own work on attention's small
  // matmuls. (Not out of a loop that passes the buffer to the next
  // iteration: upstream checks the aliases.)
  if (hoistAllocationsOutOfLoops)
    pm.addNestedPass<func::FuncOp>(
        bufferization::createBufferLoopHoistingPass());
  bufferization::BufferDeallocationPipelineOptions deallocationOptions;
  bufferization::buildBufferDeallocationPipeline(pm, deallocationOptions);
  // A result that is an argument (or another result) is returned as a
  // bufferization.clone, which no LLVM conversion takes: an allocation and
  // a copy instead.
  pm.addPass(createConvertBufferizationToMemRefPass());
}

/// The width of the vector registers of the CPU code is generated for
/// (`cpu` and `features`, or the host): 512 with AVX-512, else 256. A name
/// LLVM does not know gets the default here; qnn-set-cpu-target reports it.
static int64_t getVectorRegisterBits(StringRef cpu, StringRef features) {
  llvm::Expected<std::unique_ptr<llvm::MCSubtargetInfo>> info =
      qnn::createTargetSubtargetInfo(cpu, features);
  if (!info) {
    llvm::consumeError(info.takeError());
    return 512;
  }
  return (*info)->checkFeatures("+avx512f") ? 512 : 256;
}

/// Loops, vector ops, memrefs, arith, math, func and cf to the LLVM
/// dialect; vector.contract becomes outer products (FMA rows).
static void addLowerToLLVMPhase(OpPassManager &pm) {
  // n-D vector transfers and reductions to 1-D ones first, while scf and
  // affine are still there to hold their loops.
  // A reduction over the contiguous innermost dimension (LayerNorm's and
  // softmax's over channels or keys) as one horizontal reduction per row:
  // the inner-parallel strategy would first transpose the reduced
  // dimension outermost, element by element.
  pm.addNestedPass<func::FuncOp>(vector::createLowerVectorMultiReductionPass(
      vector::VectorMultiReductionLowering::InnerReduction));
  pm.addNestedPass<func::FuncOp>(createConvertVectorToSCFPass(
      VectorTransferToSCFOptions().enableFullUnroll()));
  pm.addPass(createLowerAffinePass());
  // LLVM has no erf intrinsic.
  pm.addPass(qnn::createQNNApproximateMathPass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  // expand-strided-metadata computes offsets with affine.apply.
  pm.addPass(createLowerAffinePass());
  ConvertVectorToLLVMPassOptions vectorToLLVM;
  vectorToLLVM.vectorContractLowering =
      vector::VectorContractLowering::OuterProduct;
  // A 2-D transpose as one shuffle instead of an extract/insert per element.
  vectorToLLVM.vectorTransposeLowering =
      vector::VectorTransposeLowering::Shuffle1D;
  pm.addPass(createConvertVectorToLLVMPass(vectorToLLVM));
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createConvertOpenMPToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertIndexToLLVMPass());
  // Vectorization pads transfer reads with ub.poison.
  pm.addPass(createUBToLLVMConversionPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createCanonicalizerPass());
}

void qnn::buildCPUPipeline(OpPassManager &pm,
                           const CPUPipelineOptions &options) {
  qnn::addLowerQNNPhase(pm);

  // Code generation on tensors: tiles and vectors.
  if (options.strategy == CPUStrategy::Microkernel) {
    // Before the transposes it adds are simplified: NCHW convolutions in
    // the layout the micro-kernels read.
    pm.addNestedPass<func::FuncOp>(createQNNConvolutionsToNHWCPass());
  }
  if (options.strategy != CPUStrategy::Scalar) {
    pm.addNestedPass<func::FuncOp>(createQNNSimplifyDataMovementPass());
    // Dequantize -> float ops -> quantize chains as one loop nest.
    pm.addNestedPass<func::FuncOp>(createQNNFuseElementwiseProducersPass());
    // Such a chain from one 8-bit input: a lookup in a table of 256 outputs.
    pm.addNestedPass<func::FuncOp>(createQNNElementwiseLookupTablesPass());
  }
  if (options.strategy == CPUStrategy::Microkernel) {
    QNNMicrokernelCPUPassOptions kernels;
    kernels.cpu = options.cpu;
    kernels.features = options.cpuFeatures;
    pm.addPass(createQNNMicrokernelCPUPass(kernels));
  }
  if (options.strategy != CPUStrategy::Scalar) {
    // Integer matmuls of two run-time operands (attention; the micro-kernels
    // take constant weights only), summed exactly on the f32 units; before
    // the fusion, which joins their last step to the epilogue.
    pm.addNestedPass<func::FuncOp>(createQNNIntegerContractionsInF32Pass());
    // A tensor's range (dynamic quantization) in vector lanes.
    pm.addNestedPass<func::FuncOp>(createQNNWholeMinMaxInLanesPass());
    QNNTileAndVectorizeCPUPassOptions tiling;
    tiling.vectorWidth = options.vectorWidth;
    tiling.rows = options.rows;
    tiling.reductionTile = options.reductionTile;
    tiling.vectorRegisterBits =
        getVectorRegisterBits(options.cpu, options.cpuFeatures);
    pm.addNestedPass<func::FuncOp>(createQNNTileAndVectorizeCPUPass(tiling));
    pm.addPass(createCanonicalizerPass());
    pm.addPass(createCSEPass());
  }

  // The micro-kernels' marked loops become parallel after bufferization:
  // a buffer hoisted out of one would be shared by its threads.
  bool parallelLoops =
      options.strategy == CPUStrategy::Microkernel && options.threads > 1;
  qnn::addBufferizePhase(pm, options.resultsToOutParams,
                         /*hoistAllocationsOutOfLoops=*/!parallelLoops);
  // The reference pipeline too: a strided copy left to memref.copy calls
  // the MLIR runner library's memrefCopy, which a program run in process
  // (Python) or compiled ahead of time does not link. Small ones are
  // vectorized, except by the scalar strategy.
  QNNStridedCopiesToLoopsPassOptions copies;
  if (options.strategy != CPUStrategy::Scalar)
    copies.vectorElements = 64;
  pm.addNestedPass<func::FuncOp>(createQNNStridedCopiesToLoopsPass(copies));
  if (options.strategy == CPUStrategy::Microkernel && options.threads > 1) {
    pm.addNestedPass<func::FuncOp>(createQNNParallelizeCPUPass());
    ConvertSCFToOpenMPPassOptions openMP;
    openMP.numThreads = options.threads;
    pm.addPass(createConvertSCFToOpenMPPass(openMP));
    // Inlines the memref.alloca_scope the conversion wraps each body in
    // (the kernels allocate nothing), which must not hold the several
    // blocks the loops inside become.
    pm.addPass(createCanonicalizerPass());
  }
  // What the strategy left (convolutions, pooling, dynamic shapes) as loops.
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
  if (options.profile)
    pm.addPass(createQNNProfileLayersPass());
  if (!options.lowerToLLVM)
    return;
  addLowerToLLVMPhase(pm);
  if (!options.cpu.empty() || !options.cpuFeatures.empty()) {
    QNNSetCPUTargetPassOptions target;
    target.cpu = options.cpu;
    target.features = options.cpuFeatures;
    pm.addPass(createQNNSetCPUTargetPass(target));
  }
}

void qnn::buildReferenceCPUPipeline(
    OpPassManager &pm, const ReferenceCPUPipelineOptions &options) {
  CPUPipelineOptions scalar;
  scalar.strategy = CPUStrategy::Scalar;
  scalar.resultsToOutParams = options.resultsToOutParams;
  scalar.lowerToLLVM = options.lowerToLLVM;
  buildCPUPipeline(pm, scalar);
}
