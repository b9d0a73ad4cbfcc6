//===- Phases.h - Pipeline phases shared by the CPU and GPU -----*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The target-independent phases of the code generation pipelines, so the CPU
// and the GPU pipeline take the same input the same way.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_OPT_LIB_PIPELINES_PHASES_H
#define QUANT_OPT_LIB_PIPELINES_PHASES_H

#include "mlir/Pass/PassManager.h"

namespace mlir::qnn {

/// qnn ops and quantized types to integer linalg/arith on tensors, checked
/// by qnn-verify-no-quant-types; elementwise arith/math on tensors to linalg.
void addLowerQNNPhase(OpPassManager &pm);

/// One-shot bufferization across function boundaries (identity layouts),
/// optionally results to out parameters and allocations hoisted out of
/// loops, then buffer deallocation.
void addBufferizePhase(OpPassManager &pm, bool resultsToOutParams,
                       bool hoistAllocationsOutOfLoops);

} // namespace mlir::qnn

#endif // QUANT_OPT_LIB_PIPELINES_PHASES_H
