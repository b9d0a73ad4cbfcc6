//===- CPUPipeline.cpp - Vectorized CPU lowering --------------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The CPU pipeline for float and quantized programs alike: the float
// reference the accuracy harness compares against comes out of the same
// compiler as the integer program. The code generation strategy is one
// pass on tensors, chosen by name, so that tuned strategies (data tiling,
// VNNI micro-kernels) plug in beside the generic one.
//
//===----------------------------------------------------------------------===//

#include "PipelinePhases.h"

#include "quant-opt/Codegen/Passes.h"
#include "quant-opt/Pipelines/Pipelines.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void qnn::buildCPUPipeline(OpPassManager &pm,
                           const CPUPipelineOptions &options) {
  detail::addLowerQNNPhase(pm);

  // Code generation on tensors: tiles and vectors.
  if (options.strategy == CPUStrategy::Generic) {
    QNNTileAndVectorizeCPUPassOptions tiling;
    tiling.vectorWidth = options.vectorWidth;
    tiling.rows = options.rows;
    tiling.reductionTile = options.reductionTile;
    pm.addNestedPass<func::FuncOp>(createQNNTileAndVectorizeCPUPass(tiling));
    pm.addPass(createCanonicalizerPass());
    pm.addPass(createCSEPass());
  }

  detail::addBufferizePhase(pm, options.resultsToOutParams);
  // What the strategy left (convolutions, pooling, dynamic shapes) as loops.
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
  if (options.lowerToLLVM)
    detail::addLowerToLLVMPhase(pm);
}
