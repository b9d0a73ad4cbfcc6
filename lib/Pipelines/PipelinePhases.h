//===- PipelinePhases.h - Phases shared by the CPU pipelines ----*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The reference and the vectorized CPU pipelines differ only in how linalg
// ops become code; the phases around that are written once, here.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_OPT_LIB_PIPELINES_PIPELINEPHASES_H
#define QUANT_OPT_LIB_PIPELINES_PIPELINEPHASES_H

#include "mlir/Pass/PassManager.h"

namespace mlir::qnn::detail {

/// qnn ops and quantized types to integer linalg/arith on tensors, checked
/// by qnn-verify-no-quant-types; elementwise arith/math on tensors to linalg.
void addLowerQNNPhase(OpPassManager &pm);

/// One-shot bufferization across function boundaries (identity layouts),
/// optionally results to out parameters, then buffer deallocation.
void addBufferizePhase(OpPassManager &pm, bool resultsToOutParams);

/// Scalar loops, vector ops, memrefs, arith, math, func and cf to the LLVM
/// dialect; vector.contract becomes outer products (FMA rows).
void addLowerToLLVMPhase(OpPassManager &pm);

} // namespace mlir::qnn::detail

#endif // QUANT_OPT_LIB_PIPELINES_PIPELINEPHASES_H
