//===- Pipelines.h - quant-opt pass pipelines -------------------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Pipeline builders, usable from C++ (`build…Pipeline(pm, options)`) and
// registered in quant-opt under the names below.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_OPT_PIPELINES_PIPELINES_H
#define QUANT_OPT_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

namespace mlir::qnn {

/// Options of `qnn-reference-cpu-pipeline`.
struct ReferenceCPUPipelineOptions
    : public PassPipelineOptions<ReferenceCPUPipelineOptions> {
  PassOptions::Option<bool> lowerToLLVM{
      *this, "lower-to-llvm",
      llvm::cl::desc("Lower the scalar loops to the LLVM dialect (off: stop "
                     "at bufferized scf loops, to inspect them)"),
      llvm::cl::init(true)};
};

/// Builds `qnn-reference-cpu-pipeline`: qnn and linalg on tensors to scalar
/// loops and the LLVM dialect, with no tiling or vectorization. Its result
/// runs under mlir-runner; it is the plain reference the optimized CPU
/// pipelines are checked against.
void buildReferenceCPUPipeline(OpPassManager &pm,
                               const ReferenceCPUPipelineOptions &options);

/// Registers every quant-opt pipeline with the global pass registry.
void registerQuantOptPipelines();

} // namespace mlir::qnn

#endif // QUANT_OPT_PIPELINES_PIPELINES_H
