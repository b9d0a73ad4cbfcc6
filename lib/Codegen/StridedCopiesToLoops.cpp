//===- StridedCopiesToLoops.cpp - memref.copy of strided buffers ----------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// memref.copy between non-contiguous buffers lowers to a runtime call that
// copies one innermost run at a time; a linalg.copy becomes compiled loops
// (on the GPU, a kernel: there every copy is rewritten). A small one (a
// tile's row moved by a transpose: 16 floats) is vectorized instead: as
// loops of loads and stores that may alias, LLVM kept it scalar, one
// element at a time.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Codegen/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::qnn {
#define GEN_PASS_DEF_QNNSTRIDEDCOPIESTOLOOPSPASS
#include "quant-opt/Codegen/Passes.h.inc"
} // namespace mlir::qnn

using namespace mlir;

namespace {
struct StridedCopiesToLoopsPass
    : public qnn::impl::QNNStridedCopiesToLoopsPassBase<
          StridedCopiesToLoopsPass> {
  using Base::Base;

  void runOnOperation() override {
    IRRewriter rewriter(&getContext());
    getOperation().walk([&](memref::CopyOp copy) {
      auto source = dyn_cast<MemRefType>(copy.getSource().getType());
      auto target = dyn_cast<MemRefType>(copy.getTarget().getType());
      if (!source || !target ||
          (!all && source.getLayout().isIdentity() &&
           target.getLayout().isIdentity()))
        return;
      rewriter.setInsertionPoint(copy);
      auto loops = rewriter.replaceOpWithNewOp<linalg::CopyOp>(
          copy, copy.getSource(), copy.getTarget());
      if (vectorElements == 0 || !source.hasStaticShape() ||
          !target.hasStaticShape() ||
          source.getNumElements() > int64_t(vectorElements))
        return;
      // One vector read and one write (the copy's buffers do not overlap).
      if (succeeded(linalg::vectorize(rewriter, loops)))
        rewriter.eraseOp(loops);
    });
  }
};
} // namespace
