//===- DistinctResults.cpp - One tensor per returned result ---------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// A function that returns one tensor twice (a layer's output that is also
// the model's, with qnn-expose-activations) would return one buffer twice;
// buffer-results-to-out-params cannot write one allocation into two out
// parameters when it hoists allocations. A copy gives the second its own.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Codegen/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace mlir::qnn {
#define GEN_PASS_DEF_QNNDISTINCTRESULTSPASS
#include "quant-opt/Codegen/Passes.h.inc"
} // namespace mlir::qnn

using namespace mlir;

namespace {
struct DistinctResultsPass
    : public qnn::impl::QNNDistinctResultsPassBase<DistinctResultsPass> {
  void runOnOperation() override {
    getOperation().walk([&](func::ReturnOp ret) {
      llvm::SmallPtrSet<Value, 8> seen;
      OpBuilder builder(ret);
      for (OpOperand &operand : ret->getOpOperands()) {
        Value value = operand.get();
        auto type = dyn_cast<RankedTensorType>(value.getType());
        if (!type || seen.insert(value).second)
          continue;
        // An explicit copy: a linalg.copy into an empty tensor would be
        // undone by eliminate-empty-tensors (it writes the source's buffer
        // in place).
        operand.set(bufferization::AllocTensorOp::create(
            builder, ret.getLoc(), type, ValueRange{}, value));
      }
    });
  }
};
} // namespace
