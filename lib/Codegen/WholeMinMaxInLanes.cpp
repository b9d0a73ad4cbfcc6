//===- WholeMinMaxInLanes.cpp - A tensor's min and max in vector lanes ----===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// A dynamically quantized activation's range (qnn.dynamic_quantize, per
// tensor) is a min and a max over the whole tensor: a linalg.generic whose
// loops are all reductions into rank-0 outputs. The generic strategy
// vectorizes it along the innermost loop and reduces each vector to a
// scalar through memory, one horizontal reduction per vector: 1.6 ns per
// element, more than the quantization that follows.
//
// Min and max (float or integer) are associative, commutative and
// idempotent, so any order and any repetition of the initial value gives
// the same result, bit for bit. This pass computes such a reduction in two
// steps: lanes, each the min (or max) of its share of the elements from the
// op's initial value (a reduction whose innermost loop is parallel: one
// vector min per vector of input); then the lanes into the op's initial
// value. The lanes are whole vectors (the inputs reshaped to rows of 64, 32
// or 16 elements) where the inputs are read in memory order, else the
// innermost loop (a tile of 7 lanes for rows of 49 is what made the
// reshape worth it).
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Codegen/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::qnn {
#define GEN_PASS_DEF_QNNWHOLEMINMAXINLANESPASS
#include "quant-opt/Codegen/Passes.h.inc"
} // namespace mlir::qnn

using namespace mlir;

namespace {

/// Fewer lanes than this are not worth a second op.
constexpr int64_t kMinLanes = 8;

/// Whole reductions of at least this many elements may be read as a flat
/// array (the lanes op then has at least 16 rows).
constexpr int64_t kMinFlatElements = 1024;

/// The number of lanes when every input is read in memory order (identity
/// maps, static shapes, no linalg.index): the elements are then one flat
/// array, split into rows of 64, 32 or 16 lanes (whole vectors) whatever
/// the innermost dimension's size.
std::optional<int64_t> getFlatLanes(linalg::GenericOp op) {
  int64_t elements = 1;
  for (int64_t range : op.getStaticLoopRanges()) {
    if (ShapedType::isDynamic(range))
      return std::nullopt;
    elements *= range;
  }
  if (elements < kMinFlatElements ||
      !llvm::all_of(
          op.getDpsInputOperands(),
          [&](OpOperand *input) {
            return op.getMatchingIndexingMap(input).isIdentity();
          }) ||
      !op.getRegion().front().getOps<linalg::IndexOp>().empty())
    return std::nullopt;
  for (int64_t lanes : {64, 32, 16})
    if (elements % lanes == 0)
      return lanes;
  return std::nullopt;
}

/// Whether `op` combines two values into their min or max.
bool isMinOrMax(Operation *op) {
  return isa<arith::MinimumFOp, arith::MaximumFOp, arith::MinNumFOp,
             arith::MaxNumFOp, arith::MinSIOp, arith::MaxSIOp, arith::MinUIOp,
             arith::MaxUIOp>(op);
}

struct WholeMinMaxInLanes : OpRewritePattern<linalg::GenericOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(linalg::GenericOp op,
                                PatternRewriter &rewriter) const override {
    unsigned loops = op.getNumLoops();
    if (!op.hasPureTensorSemantics() || loops == 0 ||
        op.getNumReductionLoops() != loops || op.getNumDpsInputs() == 0)
      return failure();
    std::optional<int64_t> flatLanes = getFlatLanes(op);
    // Else the innermost loop of the first input becomes the lanes.
    AffineMap firstMap = op.getMatchingIndexingMap(op.getDpsInputOperand(0));
    AffineDimExpr laneExpr(nullptr);
    if (firstMap.getNumResults() != 0)
      laneExpr = dyn_cast<AffineDimExpr>(firstMap.getResults().back());
    if (!flatLanes && (loops < 2 || !laneExpr))
      return failure();
    unsigned laneLoop = flatLanes ? 1 : laneExpr.getPosition();
    int64_t lanes = flatLanes ? *flatLanes : op.getStaticLoopRanges()[laneLoop];
    if (ShapedType::isDynamic(lanes) || lanes < kMinLanes)
      return failure();

    // Each output: rank 0, yielded as minmax(out, value of the inputs).
    Block &body = op.getRegion().front();
    auto yield = cast<linalg::YieldOp>(body.getTerminator());
    SmallVector<Operation *> combiners;
    for (OpOperand &init : op.getDpsInitsMutable()) {
      if (op.getMatchingIndexingMap(&init).getNumResults() != 0)
        return failure();
      BlockArgument out = op.getMatchingBlockArgument(&init);
      Operation *combiner =
          yield.getOperand(init.getOperandNumber() - op.getNumDpsInputs())
              .getDefiningOp();
      if (!combiner || combiner->getBlock() != &body || !isMinOrMax(combiner) ||
          !out.hasOneUse() || out.getUses().begin()->getOwner() != combiner)
        return failure();
      combiners.push_back(combiner);
    }

    Location loc = op.getLoc();
    MLIRContext *context = getContext();
    // Step 1: lane j over the outer loops, from the op's initial values.
    SmallVector<Value> laneInits;
    AffineMap toLane = AffineMap::get(1, 0, {}, context);
    AffineMap lane = rewriter.getMultiDimIdentityMap(1);
    for (Value init : op.getDpsInits()) {
      auto type = cast<RankedTensorType>(init.getType());
      Value empty = tensor::EmptyOp::create(rewriter, loc, {lanes},
                                            type.getElementType());
      laneInits.push_back(
          linalg::GenericOp::create(
              rewriter, loc, empty.getType(), init, empty,
              ArrayRef<AffineMap>{toLane, lane},
              ArrayRef<utils::IteratorType>{utils::IteratorType::parallel},
              [](OpBuilder &b, Location nestedLoc, ValueRange args) {
                linalg::YieldOp::create(b, nestedLoc, args[0]);
              })
              .getResult(0));
    }
    SmallVector<Value> inputs = op.getDpsInputs();
    SmallVector<AffineMap> maps = op.getIndexingMapsArray();
    SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
    if (flatLanes) {
      // Each input as (elements / lanes) x lanes, in memory order.
      for (Value &input : inputs) {
        auto type = cast<RankedTensorType>(input.getType());
        SmallVector<ReassociationIndices> all(1);
        for (int64_t dim = 0; dim < type.getRank(); ++dim)
          all.front().push_back(dim);
        Value flat = tensor::CollapseShapeOp::create(rewriter, loc, input, all);
        int64_t elements = type.getNumElements();
        input = tensor::ExpandShapeOp::create(
            rewriter, loc,
            RankedTensorType::get({elements / lanes, lanes},
                                  type.getElementType()),
            flat, SmallVector<ReassociationIndices>{{0, 1}});
      }
      maps.assign(inputs.size(), rewriter.getMultiDimIdentityMap(2));
      maps.append(op.getNumDpsInits(),
                  AffineMap::get(2, 0, rewriter.getAffineDimExpr(1), context));
      iterators = {utils::IteratorType::reduction,
                   utils::IteratorType::parallel};
    } else {
      AffineMap laneOfLoops = AffineMap::get(
          loops, 0, rewriter.getAffineDimExpr(laneLoop), context);
      for (unsigned i = op.getNumDpsInputs(); i < maps.size(); ++i)
        maps[i] = laneOfLoops;
      iterators[laneLoop] = utils::IteratorType::parallel;
    }
    auto partial = linalg::GenericOp::create(
        rewriter, loc, ValueRange(laneInits).getTypes(), inputs, laneInits,
        maps, iterators);
    rewriter.inlineRegionBefore(op.getRegion(), partial.getRegion(),
                                partial.getRegion().begin());

    // Step 2: the lanes into the op's initial values.
    SmallVector<AffineMap> laneMaps(combiners.size(), lane);
    laneMaps.append(combiners.size(), toLane);
    auto whole = linalg::GenericOp::create(
        rewriter, loc, op.getResultTypes(), partial.getResults(),
        op.getDpsInits(), laneMaps,
        ArrayRef<utils::IteratorType>{utils::IteratorType::reduction},
        [&](OpBuilder &b, Location nestedLoc, ValueRange args) {
          SmallVector<Value> results;
          for (auto [index, combiner] : llvm::enumerate(combiners)) {
            OperationState state(nestedLoc, combiner->getName());
            state.addOperands({args[combiners.size() + index], args[index]});
            state.addTypes(combiner->getResultTypes());
            state.addAttributes(combiner->getAttrs());
            results.push_back(b.create(state)->getResult(0));
          }
          linalg::YieldOp::create(b, nestedLoc, results);
        });
    rewriter.replaceOp(op, whole.getResults());
    return success();
  }
};

struct WholeMinMaxInLanesPass
    : public qnn::impl::QNNWholeMinMaxInLanesPassBase<WholeMinMaxInLanesPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    qnn::populateWholeMinMaxInLanesPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace

void qnn::populateWholeMinMaxInLanesPatterns(RewritePatternSet &patterns) {
  patterns.add<WholeMinMaxInLanes>(patterns.getContext());
}
