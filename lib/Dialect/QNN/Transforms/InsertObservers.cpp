//===- InsertObservers.cpp - Mark activations for calibration -------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Puts a qnn.observe after every activation, named from locations, so that
// a calibration run records the range of each and qnn-insert-qdq can find it
// again by the same id.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Dialect/QNN/IR/QNNOps.h"
#include "quant-opt/Dialect/QNN/Transforms/Passes.h"
#include "quant-opt/Dialect/QNN/Transforms/Transforms.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FormatVariadic.h"

namespace mlir::qnn {
#define GEN_PASS_DEF_QNNINSERTOBSERVERSPASS
#include "quant-opt/Dialect/QNN/Transforms/Passes.h.inc"
} // namespace mlir::qnn

using namespace mlir;
using namespace mlir::qnn;

/// A value whose only use is an observer was instrumented before.
static bool isObserved(Value value) {
  return value.hasOneUse() && isa<ObserveOp>(*value.getUsers().begin());
}

static std::string uniqueId(std::string name, llvm::StringSet<> &taken) {
  std::string id = name;
  for (unsigned suffix = 1; taken.contains(id); ++suffix)
    id = llvm::formatv("{0}_{1}", name, suffix).str();
  taken.insert(id);
  return id;
}

void qnn::insertObservers(ModuleOp module) {
  // Ids already in the module (from an earlier run) stay taken.
  llvm::StringSet<> taken;
  module.walk([&](ObserveOp observe) { taken.insert(observe.getId()); });

  SmallVector<Value> activations;
  module.walk([&](FunctionOpInterface function) {
    if (function.isExternal())
      return;
    // Each argument's observer goes to the start of the body: visit them
    // last to first so that the observers read in argument order.
    for (BlockArgument argument : llvm::reverse(function.getArguments()))
      activations.push_back(argument);
    function.walk([&](Operation *op) {
      if (op != function.getOperation())
        llvm::append_range(activations, op->getResults());
    });
  });

  OpBuilder builder(module.getContext());
  for (Value value : activations) {
    if (!isActivation(value) || isObserved(value))
      continue;
    if (auto argument = dyn_cast<BlockArgument>(value))
      builder.setInsertionPointToStart(argument.getOwner());
    else
      builder.setInsertionPointAfterValue(value);
    auto observe = ObserveOp::create(builder, value.getLoc(), value,
                                     uniqueId(getTensorName(value), taken));
    value.replaceAllUsesExcept(observe.getResult(), observe);
  }
}

namespace {
struct QNNInsertObserversPass
    : public qnn::impl::QNNInsertObserversPassBase<QNNInsertObserversPass> {
  void runOnOperation() override { insertObservers(getOperation()); }
};
} // namespace
