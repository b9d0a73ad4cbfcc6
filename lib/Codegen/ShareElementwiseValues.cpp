//===- ShareElementwiseValues.cpp - A costly element value computed once --===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// A softmax, as imported, is three ops over the same rows: the row max, the
// row sum of exp(x - max) and the normalization exp(x - max) / sum. The
// second and the third each compute exp(x - max) for every element, and the
// exponential is most of what they cost. Here a value that a reduction and
// an elementwise op over the same loops both compute from the same inputs
// (read through the same indexing maps), and that costs a division or a
// math function, is computed once by an elementwise op of its own, which
// both then read: one more tensor written and read, one exponential fewer
// per element. The operations that compute each element are the same, so
// the results do not change.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Codegen/Passes.h"

#include "mlir/Analysis/SliceAnalysis.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::qnn {
#define GEN_PASS_DEF_QNNSHAREELEMENTWISEVALUESPASS
#include "quant-opt/Codegen/Passes.h.inc"
} // namespace mlir::qnn

using namespace mlir;

namespace {

/// A division or a math function: worth a tensor of its own.
bool isCostly(Operation *op) {
  return isa<arith::DivFOp>(op) || isa<math::MathDialect>(op->getDialect());
}

/// Whether `value` of `op`'s body is computed from `op`'s inputs (and
/// values defined above the op) only, by ops free of memory effects: not
/// from an output's value, an index or anything with side effects.
bool isElementValueOfInputs(linalg::GenericOp op, Value value) {
  if (auto argument = dyn_cast<BlockArgument>(value))
    return argument.getOwner() == op.getBody() &&
           argument.getArgNumber() < op.getNumDpsInputs();
  Operation *def = value.getDefiningOp();
  if (def->getBlock() != op.getBody())
    return true;
  if (!isMemoryEffectFree(def) || def->getNumRegions() != 0 ||
      isa<linalg::IndexOp>(def))
    return false;
  return llvm::all_of(def->getOperands(), [&](Value operand) {
    return isElementValueOfInputs(op, operand);
  });
}

/// Whether `a` (in `opA`'s body) and `b` (in `opB`'s) are the same
/// computation: the same operations on the same input tensors, read
/// through the same indexing maps, or on the same values from above.
bool isSameElementValue(linalg::GenericOp opA, Value a, linalg::GenericOp opB,
                        Value b) {
  auto argA = dyn_cast<BlockArgument>(a), argB = dyn_cast<BlockArgument>(b);
  if (argA || argB) {
    if (!argA || !argB || argA.getOwner() != opA.getBody() ||
        argB.getOwner() != opB.getBody())
      return false;
    OpOperand *inA = opA.getDpsInputOperand(argA.getArgNumber());
    OpOperand *inB = opB.getDpsInputOperand(argB.getArgNumber());
    return inA->get() == inB->get() &&
           opA.getMatchingIndexingMap(inA) == opB.getMatchingIndexingMap(inB);
  }
  Operation *defA = a.getDefiningOp(), *defB = b.getDefiningOp();
  bool insideA = defA->getBlock() == opA.getBody();
  bool insideB = defB->getBlock() == opB.getBody();
  if (!insideA || !insideB)
    return !insideA && !insideB && a == b;
  return cast<OpResult>(a).getResultNumber() ==
             cast<OpResult>(b).getResultNumber() &&
         OperationEquivalence::isEquivalentTo(
             defA, defB,
             [&](Value operandA, Value operandB) {
               return success(isSameElementValue(opA, operandA, opB, operandB));
             },
             /*markEquivalent=*/nullptr,
             OperationEquivalence::Flags::IgnoreLocations);
}

/// Rooted at a row reduction (the softmax's sum): its first costly value
/// that an elementwise generic over the same loops, reading one of the
/// same tensors, computes too.
struct ShareCostlyElementValue : OpRewritePattern<linalg::GenericOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(linalg::GenericOp reduction,
                                PatternRewriter &rewriter) const override {
    if (!reduction.hasPureTensorSemantics() ||
        reduction.getNumReductionLoops() == 0 || reduction.hasDynamicShape())
      return failure();
    SmallVector<int64_t> ranges = reduction.getStaticLoopRanges();
    for (Operation &candidate : reduction.getBody()->without_terminator()) {
      if (!isCostly(&candidate) || candidate.getNumResults() != 1 ||
          candidate.use_empty() ||
          !isElementValueOfInputs(reduction, candidate.getResult(0)))
        continue;
      Value value = candidate.getResult(0);
      for (Value input : reduction.getDpsInputs()) {
        for (Operation *user : input.getUsers()) {
          auto elementwise = dyn_cast<linalg::GenericOp>(user);
          if (!elementwise || elementwise == reduction ||
              elementwise->getBlock() != reduction->getBlock() ||
              !elementwise.hasPureTensorSemantics() ||
              elementwise.getNumParallelLoops() != elementwise.getNumLoops() ||
              elementwise.getStaticLoopRanges() != ranges)
            continue;
          for (Operation &other : elementwise.getBody()->without_terminator())
            if (other.getNumResults() == 1 &&
                isSameElementValue(reduction, value, elementwise,
                                   other.getResult(0))) {
              share(rewriter, reduction, value, elementwise,
                    other.getResult(0));
              return success();
            }
        }
      }
    }
    return failure();
  }

  /// An elementwise op that computes `value` (of `reduction`'s body) over
  /// the reduction's loops, read by both ops instead of their copies of it.
  static void share(PatternRewriter &rewriter, linalg::GenericOp reduction,
                    Value value, linalg::GenericOp elementwise, Value same) {
    Location loc = reduction.getLoc();
    // The value's ops, and the inputs they read: those are operands of
    // both ops (the same tensors, matched), so defined before the first
    // of the two, where the new op goes; the reduction's other inputs may
    // not be.
    SetVector<Operation *> slice;
    BackwardSliceOptions options(
        [&](Operation *op) { return op->getBlock() == reduction.getBody(); });
    options.inclusive = true;
    options.omitBlockArguments = true;
    (void)getBackwardSlice(value, &slice, options);
    SmallVector<unsigned> used;
    for (unsigned i = 0; i < reduction.getNumDpsInputs(); ++i)
      if (llvm::any_of(reduction.getBody()->getArgument(i).getUsers(),
                       [&](Operation *user) { return slice.contains(user); }))
        used.push_back(i);
    Operation *first = reduction->isBeforeInBlock(elementwise)
                           ? reduction.getOperation()
                           : elementwise.getOperation();
    rewriter.setInsertionPoint(first);
    SmallVector<int64_t> ranges = reduction.getStaticLoopRanges();
    unsigned loops = ranges.size();
    Value empty =
        tensor::EmptyOp::create(rewriter, loc, ranges, value.getType());
    SmallVector<Value> inputs;
    SmallVector<AffineMap> maps;
    for (unsigned i : used) {
      OpOperand *input = reduction.getDpsInputOperand(i);
      inputs.push_back(input->get());
      maps.push_back(reduction.getMatchingIndexingMap(input));
    }
    AffineMap identity = rewriter.getMultiDimIdentityMap(loops);
    maps.push_back(identity);
    auto shared = linalg::GenericOp::create(
        rewriter, loc, empty.getType(), inputs, empty, maps,
        SmallVector<utils::IteratorType>(loops, utils::IteratorType::parallel),
        [&](OpBuilder &b, Location nestedLoc, ValueRange args) {
          IRMapping mapping;
          for (auto [position, i] : llvm::enumerate(used))
            mapping.map(reduction.getBody()->getArgument(i), args[position]);
          // In the slice's order: each op after those it reads.
          for (Operation *op : slice)
            b.clone(*op, mapping);
          linalg::YieldOp::create(b, nestedLoc, mapping.lookup(value));
        });
    // The layer the reduction belongs to (the softmax) computes it.
    Value sharedValue = shared->getResult(0);
    readInstead(rewriter, reduction, value, sharedValue, identity);
    readInstead(rewriter, elementwise, same, sharedValue, identity);
  }

  /// `op` with `tensor` as one more input (read through `map`), whose
  /// element replaces `value` in the body.
  static void readInstead(PatternRewriter &rewriter, linalg::GenericOp op,
                          Value value, Value tensor, AffineMap map) {
    SmallVector<Value> inputs = op.getDpsInputs();
    inputs.push_back(tensor);
    SmallVector<AffineMap> maps = op.getIndexingMapsArray();
    maps.insert(maps.begin() + op.getNumDpsInputs(), map);
    rewriter.setInsertionPoint(op);
    auto replacement = linalg::GenericOp::create(
        rewriter, op.getLoc(), op.getResultTypes(), inputs, op.getDpsInits(),
        maps, op.getIteratorTypesArray());
    replacement->setDiscardableAttrs(op->getDiscardableAttrDictionary());
    rewriter.inlineRegionBefore(op.getRegion(), replacement.getRegion(),
                                replacement.getRegion().end());
    Block *body = replacement.getBody();
    BlockArgument element = body->insertArgument(
        op.getNumDpsInputs(), getElementTypeOrSelf(tensor.getType()),
        op.getLoc());
    rewriter.replaceAllUsesWith(value, element);
    // The ops that computed it, now unused (in reverse order: users
    // first), so that the pattern does not find the value again.
    SmallVector<Operation *> dead;
    for (Operation &bodyOp : body->without_terminator())
      dead.push_back(&bodyOp);
    for (Operation *bodyOp : llvm::reverse(dead))
      if (bodyOp->use_empty() && isMemoryEffectFree(bodyOp))
        rewriter.eraseOp(bodyOp);
    rewriter.replaceOp(op, replacement.getResults());
  }
};

struct ShareElementwiseValuesPass
    : public qnn::impl::QNNShareElementwiseValuesPassBase<
          ShareElementwiseValuesPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    qnn::populateShareElementwiseValuesPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace

void qnn::populateShareElementwiseValuesPatterns(RewritePatternSet &patterns) {
  patterns.add<ShareCostlyElementValue>(patterns.getContext());
  // The inputs only the shared value read (the softmax's max, in the
  // normalization) and the ops computing it in the bodies go.
  linalg::populateEraseUnusedOperandsAndResultsPatterns(patterns);
}
