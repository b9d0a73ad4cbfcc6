//===- ExposeActivations.cpp - Return every activation, for debugging -----===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Makes every activation (every value qnn-insert-observers marks, with the
// same ids) an extra result of its function, so that an accuracy harness can
// compare a float program and its quantized version layer by layer. The
// observers stay: quantizing the exposed module quantizes exactly the values
// the unexposed one does, and each extra result becomes the dequantized
// value the integer program computes. With `cut`, each activation's readers
// take it from a new argument instead, so that every layer can be fed the
// quantized program's inputs and its own error measured alone.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Dialect/QNN/IR/QNNOps.h"
#include "quant-opt/Dialect/QNN/Transforms/Passes.h"
#include "quant-opt/Dialect/QNN/Transforms/Transforms.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

namespace mlir::qnn {
#define GEN_PASS_DEF_QNNEXPOSEACTIVATIONSPASS
#include "quant-opt/Dialect/QNN/Transforms/Passes.h.inc"
} // namespace mlir::qnn

using namespace mlir;
using namespace mlir::qnn;

namespace {
struct QNNExposeActivationsPass
    : public qnn::impl::QNNExposeActivationsPassBase<QNNExposeActivationsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    insertObservers(module);
    for (auto function : module.getOps<func::FuncOp>()) {
      if (function.isExternal())
        continue;
      if (!function.getBody().hasOneBlock()) {
        function.emitError("qnn-expose-activations needs a function with one "
                           "block");
        return signalPassFailure();
      }
      if (failed(expose(function)))
        return signalPassFailure();
    }
  }

  LogicalResult expose(func::FuncOp function) {
    auto returnOp = cast<func::ReturnOp>(function.getBody().front().back());
    SmallVector<ObserveOp> observers(function.getOps<ObserveOp>());
    SmallVector<Attribute> ids;
    for (ObserveOp observe : observers) {
      Value value = observe.getResult();
      if (cut) {
        unsigned index = function.getNumArguments();
        if (failed(function.insertArgument(index, value.getType(), {},
                                           observe.getLoc())))
          return function.emitError("cannot add an argument for '")
                 << observe.getId() << "'";
        Value argument = function.getArgument(index);
        value.replaceUsesWithIf(argument, [&](OpOperand &use) {
          return use.getOwner() != returnOp;
        });
      }
      if (failed(function.insertResult(function.getNumResults(),
                                       value.getType(), {})))
        return function.emitError("cannot add a result for '")
               << observe.getId() << "'";
      returnOp.getOperandsMutable().append(value);
      ids.push_back(StringAttr::get(&getContext(), observe.getId()));
    }
    function->setAttr(kExposedAttrName, ArrayAttr::get(&getContext(), ids));
    return success();
  }

  static constexpr llvm::StringLiteral kExposedAttrName =
      "qnn.exposed_activations";
};
} // namespace
