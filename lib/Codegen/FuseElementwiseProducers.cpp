//===- FuseElementwiseProducers.cpp - Elementwise chains as one op -------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// A quantized program keeps the layers it cannot compute in integers
// (softmax, LayerNorm, GELU) in float between a dequantize and a quantize,
// each its own linalg.generic: one pass over memory per op, with float
// tensors four times the size of the int8 ones in between. This pass fuses
// an elementwise producer into its consumer generic (upstream's
// linalg::fuseElementwiseOps), so that the chain is one loop nest that
// reads the int8 input and writes the int8 output.
//
// Only where nothing is computed twice: the consumer is elementwise and
// reads each of the producer's elements once (its indexing map of the
// operand is a permutation of all its loops: not a contraction, which reads
// an element once per output column, nor a broadcast), and the producer has
// no other use, or is cheap (a dequantize: a few integer and float
// operations, no division or transcendental) and every one of its uses can
// take it, so that it disappears. A contraction's requantization to 8 bits
// is not fused into an op of that one input: that op becomes a table lookup
// (qnn-elementwise-lookup-tables). Each element is computed by the same
// operations as before, so the results do not change (the reference
// pipeline, which does not run this pass, checks it).
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Codegen/Passes.h"

#include "ElementwiseCost.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::qnn {
#define GEN_PASS_DEF_QNNFUSEELEMENTWISEPRODUCERSPASS
#include "quant-opt/Codegen/Passes.h.inc"
} // namespace mlir::qnn

using namespace mlir;

namespace {

/// Operations in a body that a fused copy may repeat: fewer than this, and
/// none of them a division or a math function.
constexpr int64_t kCheapBodyOps = 8;

bool isCheapToRecompute(linalg::GenericOp op) {
  Block &body = op.getRegion().front();
  return static_cast<int64_t>(body.getOperations().size()) <= kCheapBodyOps &&
         !qnn::hasExpensiveElementOps(body);
}

/// The consumer of `operand` reads each element of it exactly once.
bool readsEachElementOnce(OpOperand &operand) {
  auto consumer = dyn_cast<linalg::GenericOp>(operand.getOwner());
  if (!consumer || !consumer.hasPureTensorSemantics() ||
      !consumer.isDpsInput(&operand) ||
      consumer.getNumParallelLoops() != consumer.getNumLoops())
    return false;
  return consumer.getMatchingIndexingMap(&operand).isPermutation();
}

/// `op` is a contraction's epilogue (bias, requantization): it reads the
/// whole result of a reduction elementwise, as qnn-microkernel-cpu computes
/// it on the accumulator registers. Row statistics read by broadcast (a
/// softmax's sum, a LayerNorm's variance) do not make an epilogue.
bool isEpilogueOfReduction(linalg::GenericOp op) {
  return llvm::any_of(op.getDpsInputOperands(), [&](OpOperand *input) {
    auto producer = input->get().getDefiningOp<linalg::LinalgOp>();
    return producer && producer.getNumReductionLoops() != 0 &&
           op.getMatchingIndexingMap(input).isPermutation();
  });
}

/// The inputs of `op` that are not splat constants (which FoldSplatInput
/// makes scalars in the body, before or after this fusion).
int64_t countNonSplatInputs(linalg::GenericOp op) {
  return llvm::count_if(op.getDpsInputs(), [](Value input) {
    DenseElementsAttr splat;
    return !matchPattern(input, m_Constant(&splat)) || !splat.isSplat();
  });
}

bool shouldFuse(OpOperand *fusedOperand);

/// `op` will be fused into one of its users: it is not the end of its
/// chain.
bool isFusedFurther(linalg::GenericOp op) {
  return op->getNumResults() == 1 &&
         llvm::any_of(op->getResult(0).getUses(), [](OpOperand &use) {
           return linalg::areElementwiseOpsFusable(&use) && shouldFuse(&use);
         });
}

bool shouldFuse(OpOperand *fusedOperand) {
  if (!readsEachElementOnce(*fusedOperand))
    return false;
  auto producer = fusedOperand->get().getDefiningOp<linalg::GenericOp>();
  if (!producer || producer->getNumResults() != 1)
    return false;
  // A requantization to 8 bits read by an op of that one input that is
  // (or, once the ops after it are fused, will be) a quantized activation
  // stays on its own, so that the activation keeps its 8-bit input and
  // becomes a table lookup (a division or a math function per element).
  // Into anything else (a quantized add of two layers, a float epilogue's
  // ReLU, a dequantization that ends its chain, such as attention scores
  // read by a softmax's reductions) it is fused, and the contraction's
  // tile or micro-kernel takes the whole chain on its registers.
  Type resultType = getElementTypeOrSelf(producer->getResult(0).getType());
  auto consumer = cast<linalg::GenericOp>(fusedOperand->getOwner());
  if (resultType.isInteger(8) && countNonSplatInputs(consumer) == 1 &&
      isEpilogueOfReduction(producer) &&
      (qnn::hasExpensiveElementOps(consumer.getRegion().front()) ||
       isFusedFurther(consumer)))
    return false;
  Value result = producer->getResult(0);
  if (result.hasOneUse())
    return true;
  return isCheapToRecompute(producer) &&
         llvm::all_of(result.getUses(), [](OpOperand &use) {
           return readsEachElementOnce(use) &&
                  linalg::areElementwiseOpsFusable(&use);
         });
}

/// Upstream's FuseElementwiseOps pattern with the control above.
struct FuseElementwiseProducer : OpRewritePattern<linalg::GenericOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(linalg::GenericOp consumer,
                                PatternRewriter &rewriter) const override {
    for (OpOperand &operand : consumer->getOpOperands()) {
      if (!linalg::areElementwiseOpsFusable(&operand) || !shouldFuse(&operand))
        continue;
      // The fused op takes the producer's place, so the producer is first
      // moved (copied, where it has other uses) to just before the
      // consumer, where all the consumer's other operands are defined. A
      // copy has this one use, so the fused op does not also write the
      // producer's result (upstream would keep it as a result); the
      // original goes when its last use is fused.
      Operation *producer = operand.get().getDefiningOp();
      if (operand.get().hasOneUse()) {
        rewriter.moveOpBefore(producer, consumer);
      } else {
        rewriter.setInsertionPoint(consumer);
        producer = rewriter.clone(*producer);
        rewriter.modifyOpInPlace(consumer,
                                 [&] { operand.set(producer->getResult(0)); });
      }
      // Cannot fail: areElementwiseOpsFusable held, and moving or copying
      // the producer does not change that.
      FailureOr<linalg::ElementwiseOpFusionResult> fused =
          linalg::fuseElementwiseOps(rewriter, &operand);
      if (failed(fused))
        return failure();
      for (auto [original, replacement] : fused->replacements)
        rewriter.replaceUsesWithIf(original, replacement, [&](OpOperand &use) {
          return use.getOwner() != producer;
        });
      rewriter.eraseOp(consumer);
      if (producer->use_empty())
        rewriter.eraseOp(producer);
      return success();
    }
    return failure();
  }
};

/// A splat constant read by an elementwise generic (the tensor-level
/// `arith.addf %x, %ones` that convert-elementwise-to-linalg turns into an
/// input) as a scalar constant in its body, so that the op reads one
/// tensor less and, with one 8-bit input left, can become a table lookup.
struct FoldSplatInput : OpRewritePattern<linalg::GenericOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(linalg::GenericOp op,
                                PatternRewriter &rewriter) const override {
    // With one input, the op is a broadcast of the constant (a bias the
    // micro-kernel starts its accumulators from): left as it is.
    if (!op.hasPureTensorSemantics() ||
        op.getNumParallelLoops() != op.getNumLoops() ||
        op.getNumDpsInputs() < 2)
      return failure();
    for (OpOperand *input : op.getDpsInputOperands()) {
      DenseElementsAttr splat;
      if (!matchPattern(input->get(), m_Constant(&splat)) || !splat.isSplat() ||
          !splat.getElementType().isIntOrIndexOrFloat())
        continue;
      SmallVector<Value> inputs;
      SmallVector<AffineMap> maps;
      for (OpOperand *other : op.getDpsInputOperands()) {
        if (other == input)
          continue;
        inputs.push_back(other->get());
        maps.push_back(op.getMatchingIndexingMap(other));
      }
      for (OpOperand &init : op.getDpsInitsMutable())
        maps.push_back(op.getMatchingIndexingMap(&init));
      auto folded = linalg::GenericOp::create(
          rewriter, op.getLoc(), op.getResultTypes(), inputs, op.getDpsInits(),
          maps, op.getIteratorTypesArray());
      folded->setDiscardableAttrs(op->getDiscardableAttrDictionary());
      unsigned position = input->getOperandNumber();
      rewriter.inlineRegionBefore(op.getRegion(), folded.getRegion(),
                                  folded.getRegion().end());
      Block &body = folded.getRegion().front();
      rewriter.setInsertionPointToStart(&body);
      Value scalar = arith::ConstantOp::create(
          rewriter, op.getLoc(), splat.getSplatValue<TypedAttr>());
      rewriter.replaceAllUsesWith(body.getArgument(position), scalar);
      body.eraseArgument(position);
      rewriter.replaceOp(op, folded.getResults());
      return success();
    }
    return failure();
  }
};

struct FuseElementwiseProducersPass
    : public qnn::impl::QNNFuseElementwiseProducersPassBase<
          FuseElementwiseProducersPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    qnn::populateFuseElementwiseProducerPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace

/// `operand` of an elementwise generic is a reshape (tensor.expand_shape)
/// of a linalg op's result that nothing else reads: attention's scores,
/// computed as a batch matmul over heads x queries, then scaled per head.
/// The consumer is collapsed to the producer's shape instead (upstream's
/// reshape folding by collapsing), so that it becomes the producer's
/// epilogue (fused here, or on a contraction's tile by
/// qnn-tile-and-vectorize-cpu) instead of a pass over memory of its own.
static bool shouldCollapseIntoProducer(OpOperand *operand) {
  auto consumer = dyn_cast<linalg::GenericOp>(operand->getOwner());
  auto expand = operand->get().getDefiningOp<tensor::ExpandShapeOp>();
  if (!consumer || !expand || !consumer.hasPureTensorSemantics() ||
      consumer.getNumParallelLoops() != consumer.getNumLoops() ||
      !consumer.isDpsInput(operand) || !expand->hasOneUse())
    return false;
  // An 8-bit result (a requantized layer output) read with another tensor
  // (a quantized residual add) stays as it is: the micro-kernel's epilogue
  // with the add fused took longer than the two ops apart (0.077 against
  // 0.067 ms per block of the int8 transformer at batch 64).
  auto producer = expand.getSrc().getDefiningOp<linalg::LinalgOp>();
  return producer && expand.getSrc().hasOneUse() &&
         (!getElementTypeOrSelf(expand.getSrc().getType()).isInteger(8) ||
          countNonSplatInputs(consumer) == 1);
}

void qnn::populateFuseElementwiseProducerPatterns(RewritePatternSet &patterns) {
  patterns.add<FuseElementwiseProducer, FoldSplatInput>(patterns.getContext());
  linalg::populateFoldReshapeOpsByCollapsingPatterns(
      patterns, shouldCollapseIntoProducer);
  // A producer fused twice into one consumer (a dequantize read by two of
  // the ops fused there) is one input read once.
  linalg::populateEraseUnusedOperandsAndResultsPatterns(patterns);
}
