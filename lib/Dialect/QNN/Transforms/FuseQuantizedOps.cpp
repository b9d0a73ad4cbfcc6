//===- FuseQuantizedOps.cpp - QDQ ops to integer ops ----------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// qnn-fuse-quantized-ops: dequantizes moved past data movement, then every
// fusion family (FuseContractions.cpp, FuseElementwise.cpp, FusePooling.cpp,
// FuseDataMovement.cpp, FoldRequantize.cpp) applied to a fixed point, as
// docs/Semantics.md defines the fused integer ops.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Dialect/QNN/IR/QNNOps.h"
#include "quant-opt/Dialect/QNN/Transforms/Passes.h"
#include "quant-opt/Dialect/QNN/Transforms/Transforms.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Quant/IR/Quant.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::qnn {
#define GEN_PASS_DEF_QNNFUSEQUANTIZEDOPSPASS
#include "quant-opt/Dialect/QNN/Transforms/Passes.h.inc"
} // namespace mlir::qnn

using namespace mlir;
using namespace mlir::qnn;

namespace {

struct QNNFuseQuantizedOpsPass
    : public qnn::impl::QNNFuseQuantizedOpsPassBase<QNNFuseQuantizedOpsPass> {
  void runOnOperation() override {
    // A pattern reports what cannot be fused safely (an accumulator that
    // could overflow, a bias out of range) as an error and leaves the IR as
    // it is; the pass then fails.
    bool hadError = false;
    ScopedDiagnosticHandler handler(&getContext(), [&](Diagnostic &diag) {
      hadError |= diag.getSeverity() == DiagnosticSeverity::Error;
      return failure(); // Let the next handler print it.
    });
    // Dequantizes move past data movement first: the greedy driver visits
    // later ops first and would otherwise fuse a contraction behind a
    // transpose or pad as weight-only before its input is a dequantize.
    // Codebook weights (qnn.lookup of constants) become the constants the
    // contraction patterns read.
    evaluateConstantLookups(getOperation());
    RewritePatternSet sinking(&getContext());
    populateSinkDequantizePatterns(sinking);
    RewritePatternSet patterns(&getContext());
    populateFuseQuantizedOpsPatterns(patterns);
    // Only the moves: folding now would change the ops the fusions match
    // (a scaling by 1.0 folded away is no longer an average pool's).
    GreedyRewriteConfig movesOnly;
    movesOnly.enableFolding(false).enableConstantCSE(false);
    movesOnly.setRegionSimplificationLevel(GreedySimplifyRegionLevel::Disabled);
    if (failed(applyPatternsGreedily(getOperation(), std::move(sinking),
                                     movesOnly)) ||
        failed(applyPatternsGreedily(getOperation(), std::move(patterns)))) {
      // Never fail without a word: a rewrite that does not settle is a bug
      // of ours, and the user needs to know which pass stopped.
      if (!hadError)
        emitError(getOperation()->getLoc())
            << "qnn-fuse-quantized-ops: the rewrites did not converge; "
               "please report this input";
      signalPassFailure();
      return;
    }
    if (hadError)
      return signalPassFailure();
    remarkUnfusedDynamicGroups();
  }

  /// A contraction of a dynamically quantized activation and per-group
  /// weights has no fused form yet (per-group sums would need per-group
  /// run-time scales in the epilogue): it stays a float contraction of the
  /// dequantized values. Say so, as for any layer left in float.
  void remarkUnfusedDynamicGroups() {
    getOperation()->walk([](linalg::LinalgOp op) {
      bool dynamicInput = false, groupWeights = false;
      for (Value input : op.getDpsInputs()) {
        dynamicInput |=
            isa_and_nonnull<DynamicDequantizeOp>(input.getDefiningOp());
        if (auto dequantize = input.getDefiningOp<DequantizeOp>())
          groupWeights |= isa<quant::UniformQuantizedSubChannelType>(
              dequantize.getInput().getType().getElementType());
      }
      if (dynamicInput && groupWeights)
        op->emitRemark()
            << "not fused: a dynamically quantized activation with per-group "
               "weights stays a float contraction of the dequantized values "
               "(per-channel or per-tensor weights fuse)";
    });
  }
};

} // namespace

void qnn::populateFuseQuantizedOpsPatterns(RewritePatternSet &patterns) {
  populateSinkDequantizePatterns(patterns);
  populateFuseContractionPatterns(patterns);
  populateFuseElementwisePatterns(patterns);
  populateFusePoolingPatterns(patterns);
  populateFuseDataMovementPatterns(patterns);
  populateFoldRequantizePatterns(patterns);
}
