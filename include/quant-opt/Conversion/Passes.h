//===- Passes.h - Conversion passes -----------------------------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Declares every conversion pass of quant-opt and their registration.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_OPT_CONVERSION_PASSES_H
#define QUANT_OPT_CONVERSION_PASSES_H

#include "quant-opt/Conversion/QNNToLinalg/QNNToLinalg.h"

#include "mlir/Pass/Pass.h"

namespace mlir::qnn {

#define GEN_PASS_DECL
#include "quant-opt/Conversion/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "quant-opt/Conversion/Passes.h.inc"

} // namespace mlir::qnn

#endif // QUANT_OPT_CONVERSION_PASSES_H
