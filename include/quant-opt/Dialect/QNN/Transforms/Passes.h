//===- Passes.h - qnn dialect passes ----------------------------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Declares the passes on the qnn dialect and their registration.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_OPT_DIALECT_QNN_TRANSFORMS_PASSES_H
#define QUANT_OPT_DIALECT_QNN_TRANSFORMS_PASSES_H

#include "mlir/Pass/Pass.h"

namespace mlir::qnn {

#define GEN_PASS_DECL
#include "quant-opt/Dialect/QNN/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "quant-opt/Dialect/QNN/Transforms/Passes.h.inc"

} // namespace mlir::qnn

#endif // QUANT_OPT_DIALECT_QNN_TRANSFORMS_PASSES_H
