//===- SplitFloatSums.cpp - Float row sums in lanes, then in order --------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// A float sum over the innermost loop of a linalg.generic (softmax's
// denominator, LayerNorm's moments) is, as written, one chain of dependent
// additions per row. Float addition is not associative, so no pipeline may
// reorder it: vectorized along the row, every row ends in a horizontal
// reduction done one lane at a time (LLVM's ordered `vector.reduce.fadd`),
// which was a third of a small transformer's run time.
//
// This pass writes such a sum in another order, one that vectorizes, as
// linalg ops, so that every pipeline (the vectorized CPU code, the scalar
// reference and the GPU kernels) computes the same bits: lane j of `lanes`
// sums the row's elements j, j + lanes, j + 2 lanes, ... in order (a
// reduction whose innermost loop, the lane, is parallel: vectorized across
// lanes, each chunk of the row is one vector addition); then the initial
// value (the op's init) plus lane 0, plus lane 1, ... in order (a sum of
// `lanes` values per row, short and independent from row to row).
// docs/Semantics.md, "Float sums", states the order.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Codegen/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/Support/MathExtras.h"

namespace mlir::qnn {
#define GEN_PASS_DEF_QNNSPLITFLOATSUMSPASS
#include "quant-opt/Codegen/Passes.h.inc"
} // namespace mlir::qnn

using namespace mlir;

namespace {

/// `value[..., offset : offset + size]`, or `value` when that is all of it.
Value sliceLastDim(OpBuilder &b, Location loc, Value value, int64_t offset,
                   int64_t size) {
  auto type = cast<RankedTensorType>(value.getType());
  if (offset == 0 && size == type.getShape().back())
    return value;
  SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0));
  SmallVector<OpFoldResult> sizes =
      getAsIndexOpFoldResult(b.getContext(), type.getShape());
  SmallVector<OpFoldResult> strides(type.getRank(), b.getIndexAttr(1));
  offsets.back() = b.getIndexAttr(offset);
  sizes.back() = b.getIndexAttr(size);
  return tensor::ExtractSliceOp::create(b, loc, value, offsets, sizes, strides);
}

/// A tensor of `shape` filled with -0.0, the identity of float addition
/// (x + -0.0 is x for every x, +0.0 included).
Value negativeZeros(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                    FloatType type) {
  Value empty = tensor::EmptyOp::create(b, loc, shape, type);
  Value zero = arith::ConstantOp::create(
      b, loc,
      b.getFloatAttr(type, APFloat::getZero(type.getFloatSemantics(),
                                            /*Negative=*/true)));
  return linalg::FillOp::create(b, loc, zero, empty).getResult(0);
}

struct SplitFloatSum : public OpRewritePattern<linalg::GenericOp> {
  SplitFloatSum(MLIRContext *context, int64_t lanes)
      : OpRewritePattern(context), lanes(lanes) {}

  LogicalResult matchAndRewrite(linalg::GenericOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.hasPureTensorSemantics() || op.getNumDpsInits() != 1 ||
        op.getNumReductionLoops() != 1)
      return rewriter.notifyMatchFailure(op, "not one reduction on tensors");
    unsigned numLoops = op.getNumLoops();
    unsigned row = numLoops - 1;
    if (numLoops < 2 ||
        op.getIteratorTypesArray().back() != utils::IteratorType::reduction)
      return rewriter.notifyMatchFailure(op, "the reduction is not innermost");
    SmallVector<int64_t> ranges = op.getStaticLoopRanges();
    if (llvm::any_of(ranges, ShapedType::isDynamic))
      return rewriter.notifyMatchFailure(op, "dynamic loop ranges");
    int64_t extent = ranges.back();
    if (extent < 3 * lanes)
      return rewriter.notifyMatchFailure(op, "rows shorter than three chunks");

    // The body: `yield addf(x, acc)`, the accumulator used by that alone,
    // and no loop index (the loops are renumbered below).
    Block &body = op.getRegion().front();
    if (!body.getOps<linalg::IndexOp>().empty())
      return rewriter.notifyMatchFailure(op, "the body reads loop indices");
    OpOperand *init = op.getDpsInitOperand(0);
    BlockArgument acc = op.getMatchingBlockArgument(init);
    auto elementType = dyn_cast<FloatType>(acc.getType());
    auto yield = cast<linalg::YieldOp>(body.getTerminator());
    auto add = yield.getValues()[0].getDefiningOp<arith::AddFOp>();
    if (!elementType || !add || !acc.hasOneUse() ||
        (add.getLhs() != acc && add.getRhs() != acc) ||
        add.getLhs() == add.getRhs())
      return rewriter.notifyMatchFailure(op, "not a float sum");

    // The result holds the parallel loops in order; an input that reads
    // the row reads it along its own innermost dimension.
    MLIRContext *context = op.getContext();
    AffineMap rowsMap =
        rewriter.getMultiDimIdentityMap(numLoops).dropResult(row);
    if (op.getMatchingIndexingMap(init) != rowsMap)
      return rewriter.notifyMatchFailure(op, "the result is not by rows");
    AffineExpr rowDim = getAffineDimExpr(row, context);
    for (OpOperand *input : op.getDpsInputOperands()) {
      AffineMap map = op.getMatchingIndexingMap(input);
      if (!map.isFunctionOfDim(row))
        continue;
      if (map.getResults().back() != rowDim ||
          llvm::any_of(map.getResults().drop_back(),
                       [&](AffineExpr e) { return e.isFunctionOfDim(row); }))
        return rewriter.notifyMatchFailure(op, "an input reads the row "
                                               "across dimensions");
    }

    Location loc = op.getLoc();
    int64_t chunks = extent / lanes;
    int64_t tail = extent % lanes;
    auto resultType = cast<RankedTensorType>(init->get().getType());
    SmallVector<int64_t> laneShape(resultType.getShape());
    laneShape.push_back(lanes);
    arith::FastMathFlagsAttr fastmath = add.getFastmathAttr();

    // Lanes: loops (rows..., chunk, lane), the chunk a reduction; each
    // input that reads the row reads its first chunks x lanes elements as
    // [..., chunks, lanes].
    SmallVector<Value> laneInputs;
    SmallVector<AffineMap> laneMaps;
    AffineExpr chunkDim = getAffineDimExpr(row, context);
    AffineExpr laneDim = getAffineDimExpr(row + 1, context);
    for (OpOperand *input : op.getDpsInputOperands()) {
      AffineMap map = op.getMatchingIndexingMap(input);
      SmallVector<AffineExpr> results(map.getResults());
      Value value = input->get();
      if (map.isFunctionOfDim(row)) {
        auto type = cast<RankedTensorType>(value.getType());
        int64_t rank = type.getRank();
        SmallVector<int64_t> shape(type.getShape().drop_back());
        shape.append({chunks, lanes});
        SmallVector<ReassociationIndices> reassociation;
        for (int64_t d = 0; d < rank - 1; ++d)
          reassociation.push_back({d});
        reassociation.push_back({rank - 1, rank});
        value = tensor::ExpandShapeOp::create(
            rewriter, loc, RankedTensorType::get(shape, type.getElementType()),
            sliceLastDim(rewriter, loc, value, 0, chunks * lanes),
            reassociation);
        results.back() = chunkDim;
        results.push_back(laneDim);
      }
      laneInputs.push_back(value);
      laneMaps.push_back(AffineMap::get(numLoops + 1, 0, results, context));
    }
    SmallVector<AffineExpr> laneResults(rowsMap.getResults());
    laneResults.push_back(laneDim);
    laneMaps.push_back(AffineMap::get(numLoops + 1, 0, laneResults, context));
    SmallVector<utils::IteratorType> laneIterators(
        row, utils::IteratorType::parallel);
    laneIterators.append(
        {utils::IteratorType::reduction, utils::IteratorType::parallel});
    Value laneInit = negativeZeros(rewriter, loc, laneShape, elementType);
    auto laneSums = linalg::GenericOp::create(rewriter, loc, laneInit.getType(),
                                              laneInputs, ValueRange{laneInit},
                                              laneMaps, laneIterators);
    rewriter.cloneRegionBefore(op.getRegion(), laneSums.getRegion(),
                               laneSums.getRegion().begin());
    Value lanesValue = laneSums.getResult(0);

    // The tail: its element j added last to lane j, by the op's own body
    // (all loops parallel now, the accumulator the lane's sum).
    if (tail > 0) {
      SmallVector<Value> tailInputs;
      for (OpOperand *input : op.getDpsInputOperands())
        tailInputs.push_back(
            op.getMatchingIndexingMap(input).isFunctionOfDim(row)
                ? sliceLastDim(rewriter, loc, input->get(), chunks * lanes,
                               tail)
                : input->get());
      SmallVector<AffineMap> tailMaps = op.getIndexingMapsArray();
      tailMaps.back() = rewriter.getMultiDimIdentityMap(numLoops);
      Value tailInit = sliceLastDim(rewriter, loc, lanesValue, 0, tail);
      auto tailSums = linalg::GenericOp::create(
          rewriter, loc, tailInit.getType(), tailInputs, ValueRange{tailInit},
          tailMaps,
          SmallVector<utils::IteratorType>(numLoops,
                                           utils::IteratorType::parallel));
      rewriter.cloneRegionBefore(op.getRegion(), tailSums.getRegion(),
                                 tailSums.getRegion().begin());
      lanesValue = tensor::InsertSliceOp::create(
          rewriter, loc, tailSums.getResult(0), lanesValue,
          SmallVector<OpFoldResult>(laneShape.size(), rewriter.getIndexAttr(0)),
          getAsIndexOpFoldResult(
              context, cast<RankedTensorType>(tailInit.getType()).getShape()),
          SmallVector<OpFoldResult>(laneShape.size(),
                                    rewriter.getIndexAttr(1)));
    }

    // The lanes' sums added in order to the initial value: a reduction over
    // `lanes` elements per row, the op's body reduced to its addition.
    SmallVector<AffineMap> totalMaps = {
        rewriter.getMultiDimIdentityMap(numLoops), rowsMap};
    SmallVector<utils::IteratorType> totalIterators(
        row, utils::IteratorType::parallel);
    totalIterators.push_back(utils::IteratorType::reduction);
    auto total = linalg::GenericOp::create(
        rewriter, loc, resultType, ValueRange{lanesValue},
        ValueRange{init->get()}, totalMaps, totalIterators,
        [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
          Value added = arith::AddFOp::create(nested, nestedLoc, args[0],
                                              args[1], fastmath);
          linalg::YieldOp::create(nested, nestedLoc, added);
        });
    rewriter.replaceOp(op, total.getResults());
    return success();
  }

  int64_t lanes;
};

struct SplitFloatSumsPass
    : public qnn::impl::QNNSplitFloatSumsPassBase<SplitFloatSumsPass> {
  using Base::Base;

  void runOnOperation() override {
    if (lanes < 2 || !llvm::isPowerOf2_64(lanes)) {
      emitError(getOperation()->getLoc())
          << "qnn-split-float-sums: lanes must be a power of two of at "
             "least 2, not "
          << static_cast<int64_t>(lanes);
      return signalPassFailure();
    }
    RewritePatternSet patterns(&getContext());
    qnn::populateSplitFloatSumPatterns(patterns, lanes);
    // Each op is rewritten once; the ops it becomes are not sums over
    // their innermost loop.
    GreedyRewriteConfig config;
    config.setStrictness(GreedyRewriteStrictness::ExistingOps);
    if (failed(
            applyPatternsGreedily(getOperation(), std::move(patterns), config)))
      return signalPassFailure();
  }
};
} // namespace

void qnn::populateSplitFloatSumPatterns(RewritePatternSet &patterns,
                                        int64_t lanes) {
  patterns.add<SplitFloatSum>(patterns.getContext(), lanes);
}
