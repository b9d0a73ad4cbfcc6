//===- ParallelizeCPU.cpp - Marked kernel loops to scf.parallel -----------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The micro-kernel strategy knows which of its loops writes disjoint parts
// of the output and marks it; after bufferization (where its tensor
// iter_args are gone) that loop becomes an scf.parallel, for
// convert-scf-to-openmp.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Codegen/Passes.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::qnn {
#define GEN_PASS_DEF_QNNPARALLELIZECPUPASS
#include "quant-opt/Codegen/Passes.h.inc"
} // namespace mlir::qnn

using namespace mlir;

namespace {
struct ParallelizeCPUPass
    : public qnn::impl::QNNParallelizeCPUPassBase<ParallelizeCPUPass> {
  void runOnOperation() override {
    SmallVector<scf::ForOp> marked;
    getOperation().walk([&](scf::ForOp loop) {
      if (loop->hasAttr("qnn.parallel") && loop.getNumResults() == 0)
        marked.push_back(loop);
    });
    IRRewriter rewriter(&getContext());
    for (scf::ForOp loop : marked) {
      rewriter.setInsertionPoint(loop);
      auto parallel = scf::ParallelOp::create(
          rewriter, loop.getLoc(), ValueRange{loop.getLowerBound()},
          ValueRange{loop.getUpperBound()}, ValueRange{loop.getStep()});
      Block *body = parallel.getBody();
      // The for loop's body (less its yield) moves before the parallel
      // loop's terminator, its induction variable replaced.
      rewriter.eraseOp(loop.getBody()->getTerminator());
      rewriter.inlineBlockBefore(loop.getBody(), body->getTerminator(),
                                 body->getArguments());
      rewriter.eraseOp(loop);
    }
  }
};
} // namespace
