//===- DistinctInsertDestinations.cpp - One buffer per padded tensor ------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// qnn-simplify-data-movement gives each padded tensor its own zero-filled
// tensor to insert the source into; CSE later merges the fills of two
// padded tensors of one shape (two depthwise convolutions' inputs) into
// one. Bufferization then cannot write the second insert (nor the producer
// of its source) in place: it copies the whole filled buffer and copies the
// source into it element by element. Here every insert after the first
// gets its own copy of the destination's producer again.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Codegen/Passes.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::qnn {
#define GEN_PASS_DEF_QNNDISTINCTINSERTDESTINATIONSPASS
#include "quant-opt/Codegen/Passes.h.inc"
} // namespace mlir::qnn

using namespace mlir;

namespace {

/// Whether `op` can be computed again: free of memory effects (its regions
/// included) and reading only constants and empty tensors.
static bool isRecomputable(Operation *op) {
  if (!isMemoryEffectFree(op) || op->getNumResults() != 1)
    return false;
  return llvm::all_of(op->getOperands(), [](Value operand) {
    Operation *def = operand.getDefiningOp();
    return def &&
           (matchPattern(def, m_Constant()) || isa<tensor::EmptyOp>(def));
  });
}

struct DistinctInsertDestinationsPass
    : public qnn::impl::QNNDistinctInsertDestinationsPassBase<
          DistinctInsertDestinationsPass> {
  void runOnOperation() override {
    IRRewriter rewriter(&getContext());
    // The inserts into each destination, in program order.
    llvm::MapVector<Value, SmallVector<tensor::InsertSliceOp>> inserts;
    getOperation().walk(
        [&](tensor::InsertSliceOp op) { inserts[op.getDest()].push_back(op); });
    for (auto &[destination, users] : inserts) {
      Operation *producer = destination.getDefiningOp();
      if (users.size() < 2 || !producer || !isRecomputable(producer))
        continue;
      for (tensor::InsertSliceOp insert : llvm::drop_begin(users)) {
        rewriter.setInsertionPointAfter(producer);
        IRMapping mapping;
        // An empty tensor it writes into gets a copy too: two producers
        // writing into one would be the same conflict.
        for (Value operand : producer->getOperands())
          if (auto empty = operand.getDefiningOp<tensor::EmptyOp>())
            mapping.map(operand, rewriter.clone(*empty)->getResult(0));
        Operation *copy = rewriter.clone(*producer, mapping);
        rewriter.modifyOpInPlace(insert, [&] {
          insert.getDestMutable().assign(copy->getResult(0));
        });
      }
    }
  }
};

} // namespace
