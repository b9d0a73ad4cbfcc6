//===- GPUCorrectlyRoundedMath.cpp - sqrt and rsqrt as on the CPU ---------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// libdevice's square roots are approximate by default (sqrt.approx.f32,
// rsqrt.approx.f32); the CPU's are correctly rounded. Rewritten here as
// LLVM's sqrt intrinsic (NVPTX: sqrt.rn) and an IEEE division (div.rn),
// the GPU's float work gives the CPU's bits. Found with the GPU emulator
// (lib/Runtime/GPUEmulator), which names every approximate instruction a
// kernel uses.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Codegen/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::qnn {
#define GEN_PASS_DEF_QNNGPUCORRECTLYROUNDEDMATHPASS
#include "quant-opt/Codegen/Passes.h.inc"
} // namespace mlir::qnn

using namespace mlir;

namespace {
/// `llvm.nvvm.sqrt.rn.f(x)` or `.d`: PTX sqrt.rn, correctly rounded. (LLVM's
/// own llvm.intr.sqrt would do as well, but convert-gpu-to-nvvm marks it
/// illegal.)
Value correctlyRoundedSqrt(PatternRewriter &rewriter, Location loc, Value x) {
  Type type = x.getType();
  StringRef intrinsic =
      type.isF32() ? "llvm.nvvm.sqrt.rn.f" : "llvm.nvvm.sqrt.rn.d";
  return LLVM::CallIntrinsicOp::create(rewriter, loc, type,
                                       rewriter.getStringAttr(intrinsic),
                                       ValueRange{x})
      .getResult(0);
}

/// Scalar f32 or f64: the kernels' math is scalar.
LogicalResult checkType(PatternRewriter &rewriter, Operation *op) {
  Type type = op->getResult(0).getType();
  if (type.isF32() || type.isF64())
    return success();
  return rewriter.notifyMatchFailure(op, "not a scalar f32 or f64");
}

struct SqrtToSqrtRN : OpRewritePattern<math::SqrtOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(math::SqrtOp op,
                                PatternRewriter &rewriter) const override {
    if (failed(checkType(rewriter, op)))
      return failure();
    rewriter.replaceOp(
        op, correctlyRoundedSqrt(rewriter, op.getLoc(), op.getOperand()));
    return success();
  }
};

/// rsqrt(x) = 1 / sqrt.rn(x), the division IEEE (NVPTX's div.rn).
struct RsqrtToDivideSqrtRN : OpRewritePattern<math::RsqrtOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(math::RsqrtOp op,
                                PatternRewriter &rewriter) const override {
    if (failed(checkType(rewriter, op)))
      return failure();
    Location loc = op.getLoc();
    Value root = correctlyRoundedSqrt(rewriter, loc, op.getOperand());
    Value one = arith::ConstantOp::create(
        rewriter, loc, rewriter.getFloatAttr(op.getType(), 1.0));
    rewriter.replaceOpWithNewOp<arith::DivFOp>(op, one, root);
    return success();
  }
};

struct QNNGPUCorrectlyRoundedMathPass
    : public qnn::impl::QNNGPUCorrectlyRoundedMathPassBase<
          QNNGPUCorrectlyRoundedMathPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    qnn::populateGPUCorrectlyRoundedMathPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace

void qnn::populateGPUCorrectlyRoundedMathPatterns(RewritePatternSet &patterns) {
  patterns.add<SqrtToSqrtRN, RsqrtToDivideSqrtRN>(patterns.getContext());
}
