//===- QNNOps.h - qnn dialect operations ------------------------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Declares the operations of the `qnn` dialect.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_OPT_DIALECT_QNN_IR_QNNOPS_H
#define QUANT_OPT_DIALECT_QNN_IR_QNNOPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "quant-opt/Dialect/QNN/IR/QNNDialect.h"

namespace mlir::qnn {

/// The calibration statistics that `qnn.observe` writes when it runs. Giving
/// the effect its own resource keeps observers from being erased as dead code
/// without making them look like writes to memory.
struct CalibrationStatisticsResource
    : public SideEffects::Resource::Base<CalibrationStatisticsResource> {
  StringRef getName() final { return "qnn.calibration_statistics"; }
};

} // namespace mlir::qnn

#define GET_OP_CLASSES
#include "quant-opt/Dialect/QNN/IR/QNNOps.h.inc"

#endif // QUANT_OPT_DIALECT_QNN_IR_QNNOPS_H
