//===- ReferenceCPUPipeline.cpp - Scalar loops to LLVM --------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The simplest complete lowering of a quantized program for the CPU: every
// linalg op becomes scalar loops. Slow by design and easy to trust; the
// vectorized pipeline is checked against it.
//
//===----------------------------------------------------------------------===//

#include "PipelinePhases.h"

#include "quant-opt/Pipelines/Pipelines.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Pass/PassManager.h"

using namespace mlir;

void qnn::buildReferenceCPUPipeline(
    OpPassManager &pm, const ReferenceCPUPipelineOptions &options) {
  detail::addLowerQNNPhase(pm);
  detail::addBufferizePhase(pm, options.resultsToOutParams);
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
  if (options.lowerToLLVM)
    detail::addLowerToLLVMPhase(pm);
}
