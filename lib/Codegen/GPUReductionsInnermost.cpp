//===- GPUReductionsInnermost.cpp - Parallel loops outermost for the GPU -===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// qnn-gpu-pipeline's SIMT strategy maps the outermost parallel loops of a
// linalg op to threads and runs the reductions inside each thread; a
// parallel loop nested in a reduction would stay on the host. This pass
// interchanges such generics' loops: parallel loops first, in their order,
// then the reductions, in theirs. Each output element is computed by the
// same operations in the same order, so nothing changes but the loop nest.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Codegen/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::qnn {
#define GEN_PASS_DEF_QNNGPUREDUCTIONSINNERMOSTPASS
#include "quant-opt/Codegen/Passes.h.inc"
} // namespace mlir::qnn

using namespace mlir;

namespace {
struct GPUReductionsInnermostPass
    : public qnn::impl::QNNGPUReductionsInnermostPassBase<
          GPUReductionsInnermostPass> {
  void runOnOperation() override {
    SmallVector<linalg::GenericOp> generics;
    getOperation().walk([&](linalg::GenericOp op) { generics.push_back(op); });
    IRRewriter rewriter(&getContext());
    for (linalg::GenericOp op : generics) {
      SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
      SmallVector<unsigned> order;
      for (unsigned loop = 0, e = iterators.size(); loop < e; ++loop)
        if (iterators[loop] == utils::IteratorType::parallel)
          order.push_back(loop);
      for (unsigned loop = 0, e = iterators.size(); loop < e; ++loop)
        if (iterators[loop] != utils::IteratorType::parallel)
          order.push_back(loop);
      if (llvm::is_sorted(order))
        continue;
      rewriter.setInsertionPoint(op);
      if (failed(linalg::interchangeGenericOp(rewriter, op, order))) {
        op.emitError("qnn-gpu-reductions-innermost: cannot interchange the "
                     "loops of this op");
        return signalPassFailure();
      }
    }
  }
};
} // namespace
