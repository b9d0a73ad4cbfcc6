//===- DistinctInsertDestinations.cpp - One buffer per padded tensor ------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// qnn-simplify-data-movement gives each padded tensor its own tensor with
// a zero border to insert the source into; CSE later merges the borders of
// two padded tensors of one shape (two depthwise convolutions' inputs)
// into one. Bufferization then cannot write the second insert (nor the
// producer of its source) in place: it copies the whole buffer and copies
// the source into it element by element. Here every insert after the
// first gets its own copy of the destination's computation again.
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
/// included) and reading only constants, empty tensors and values that can
/// be computed again (a padded tensor's border: fills inserted into an
/// empty tensor).
static bool isRecomputable(Operation *op) {
  if (!isMemoryEffectFree(op) || op->getNumResults() != 1)
    return false;
  return llvm::all_of(op->getOperands(), [](Value operand) {
    Operation *def = operand.getDefiningOp();
    return def && (matchPattern(def, m_Constant()) ||
                   isa<tensor::EmptyOp>(def) || isRecomputable(def));
  });
}

/// A copy of `value`'s computation at the rewriter's insertion point, with
/// empty tensors of its own (two producers writing into one would be the
/// same conflict); constants are shared. `copies` maps each value of the
/// computation already copied (a value read twice, as a border's slab is
/// extracted from and inserted into one tensor, is copied once).
static Value cloneComputation(RewriterBase &rewriter, Value value,
                              IRMapping &copies) {
  if (Value copy = copies.lookupOrNull(value))
    return copy;
  Operation *def = value.getDefiningOp();
  if (matchPattern(def, m_Constant()))
    return value;
  for (Value operand : def->getOperands())
    cloneComputation(rewriter, operand, copies);
  Operation *copy = rewriter.clone(*def, copies);
  copies.map(def->getResults(), copy->getResults());
  return copy->getResult(0);
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
        IRMapping copies;
        Value copy = cloneComputation(rewriter, destination, copies);
        rewriter.modifyOpInPlace(insert,
                                 [&] { insert.getDestMutable().assign(copy); });
      }
    }
  }
};

} // namespace
