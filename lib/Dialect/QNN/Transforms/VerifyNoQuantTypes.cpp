//===- VerifyNoQuantTypes.cpp - Contract check after lowering -------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Ends the integer lowering stage: fails, naming each offending operation, if
// a quantized type survived anywhere in the IR.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Dialect/QNN/Transforms/Passes.h"

#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/Interfaces/FunctionInterfaces.h"

namespace mlir::qnn {
#define GEN_PASS_DEF_QNNVERIFYNOQUANTTYPESPASS
#include "quant-opt/Dialect/QNN/Transforms/Passes.h.inc"
} // namespace mlir::qnn

using namespace mlir;

/// Returns the first quantized type nested in `type` (e.g. the element type
/// of a tensor, or an input of a function type), or null.
static Type findQuantizedType(Type type) {
  Type found;
  type.walk([&](Type nested) {
    if (!found && isa<quant::QuantizedType>(nested))
      found = nested;
  });
  return found;
}

namespace {
struct QNNVerifyNoQuantTypesPass
    : public qnn::impl::QNNVerifyNoQuantTypesPassBase<
          QNNVerifyNoQuantTypesPass> {
  void runOnOperation() override {
    bool clean = true;
    getOperation()->walk([&](Operation *op) {
      SmallVector<Type> types(op->getOperandTypes());
      llvm::append_range(types, op->getResultTypes());
      for (Region &region : op->getRegions())
        for (Block &block : region)
          llvm::append_range(types, block.getArgumentTypes());
      if (auto function = dyn_cast<FunctionOpInterface>(op))
        types.push_back(function.getFunctionType());
      for (Type type : types) {
        if (Type quantized = findQuantizedType(type)) {
          op->emitError() << "'" << op->getName()
                          << "' still has the quantized type " << quantized
                          << " after lowering to integers";
          clean = false;
          return;
        }
      }
    });
    if (!clean)
      signalPassFailure();
    markAllAnalysesPreserved();
  }
};
} // namespace
