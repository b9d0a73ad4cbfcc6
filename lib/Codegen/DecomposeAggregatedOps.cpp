//===- DecomposeAggregatedOps.cpp - linalg.softmax and kin to generics ----===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// `linalg.softmax` (and the Winograd transforms) are not structured linalg
// ops: no tiling strategy, bufferization-to-loops or vectorizer here takes
// them, and a module holding one used to fail at the translation to LLVM
// IR. They implement upstream's AggregatedOpInterface, whose
// decomposeOperation writes them as the structured ops they stand for
// (softmax: a max reduction, a subtraction and exponential, a sum, a
// division); this pass applies it, before anything else of the pipelines
// looks at the ops.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Codegen/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::qnn {
#define GEN_PASS_DEF_QNNDECOMPOSEAGGREGATEDOPSPASS
#include "quant-opt/Codegen/Passes.h.inc"
} // namespace mlir::qnn

using namespace mlir;

namespace {
struct DecomposeAggregatedOpsPass
    : public qnn::impl::QNNDecomposeAggregatedOpsPassBase<
          DecomposeAggregatedOpsPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<linalg::AggregatedOpInterface> aggregated;
    getOperation()->walk(
        [&](linalg::AggregatedOpInterface op) { aggregated.push_back(op); });
    IRRewriter rewriter(&getContext());
    for (linalg::AggregatedOpInterface op : aggregated) {
      rewriter.setInsertionPoint(op);
      FailureOr<SmallVector<Value>> results = op.decomposeOperation(rewriter);
      if (failed(results)) {
        op->emitError("qnn-decompose-aggregated-ops: cannot decompose this "
                      "op into structured linalg ops");
        return signalPassFailure();
      }
      rewriter.replaceOp(op, *results);
    }
  }
};
} // namespace
