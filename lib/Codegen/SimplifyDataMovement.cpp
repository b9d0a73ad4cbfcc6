//===- SimplifyDataMovement.cpp - Transposes and pads without copies ------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Imported models transpose between NCHW and NHWC around every convolution
// and pad every convolution's input. Tiled as linalg ops, a transpose of
// unit dimensions becomes one memref.copy per element, and a pad a copy of
// the whole source into the padded buffer. Here the first becomes a pair of
// reshapes (views) and the second a fill plus an insert that bufferization
// (with eliminate-empty-tensors) turns into writing in place. An
// elementwise op that writes a unit dimension innermost (a quantization
// fused with the transpose of a one-channel NCHW input to NHWC) would be
// vectorized along that dimension, one element per vector: its unit
// dimensions are dropped.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Codegen/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::qnn {
#define GEN_PASS_DEF_QNNSIMPLIFYDATAMOVEMENTPASS
#include "quant-opt/Codegen/Passes.h.inc"
} // namespace mlir::qnn

using namespace mlir;

namespace {

/// A transpose whose permutation keeps the order of the dimensions of
/// extent > 1 moves no element: collapse to 1-D and expand to the result.
struct UnitDimTransposeToReshape : OpRewritePattern<linalg::TransposeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(linalg::TransposeOp op,
                                PatternRewriter &rewriter) const override {
    auto input = dyn_cast<RankedTensorType>(op.getInput().getType());
    auto result = dyn_cast<RankedTensorType>(op->getResult(0).getType());
    if (!input || !result || !input.hasStaticShape() || input.getRank() == 0)
      return failure();
    int64_t previous = -1;
    for (int64_t from : op.getPermutation()) {
      if (input.getDimSize(from) == 1)
        continue;
      if (from < previous)
        return rewriter.notifyMatchFailure(op, "moves a non-unit dimension");
      previous = from;
    }
    ReassociationIndices all;
    for (int64_t i = 0; i < input.getRank(); ++i)
      all.push_back(i);
    Value flat =
        tensor::CollapseShapeOp::create(rewriter, op.getLoc(), op.getInput(),
                                        ArrayRef<ReassociationIndices>{all});
    ReassociationIndices allResult;
    for (int64_t i = 0; i < result.getRank(); ++i)
      allResult.push_back(i);
    rewriter.replaceOpWithNewOp<tensor::ExpandShapeOp>(
        op, result, flat, ArrayRef<ReassociationIndices>{allResult});
    return success();
  }
};

/// tensor.pad (static, constant value) -> the padded tensor's border
/// filled, created at the top of the function so that it dominates the
/// source's producer, and tensor.insert_slice of the source into it. The
/// border is one fill per padded side of each dimension (a slab, spanning
/// the source's extent in the dimensions before it, the whole extent in
/// those after it: no element written twice): the source overwrites the
/// rest, and a fill of the whole tensor wrote it twice (MobileNet's 7x7
/// depthwise inputs padded to 9x9: 49 of 81 pixels).
struct PadToFillAndInsert : OpRewritePattern<tensor::PadOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(tensor::PadOp op,
                                PatternRewriter &rewriter) const override {
    RankedTensorType type = op.getResultType();
    RankedTensorType sourceType = op.getSourceType();
    if (!type.hasStaticShape() || !sourceType.hasStaticShape() ||
        op.getNofold())
      return failure();
    Value padding = op.getConstantPaddingValue();
    Attribute value;
    if (!padding || !matchPattern(padding, m_Constant(&value)))
      return rewriter.notifyMatchFailure(op, "padding is not a constant");
    SmallVector<int64_t> low(op.getStaticLow()), high(op.getStaticHigh());
    if (ShapedType::isDynamicShape(low) || ShapedType::isDynamicShape(high))
      return failure();
    auto function = op->getParentOfType<func::FuncOp>();
    if (!function)
      return failure();
    Location loc = op.getLoc();
    int64_t rank = type.getRank();
    SmallVector<int64_t> strides(rank, 1);
    Value filled;
    {
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPointToStart(&function.getBody().front());
      Value constant =
          arith::ConstantOp::create(rewriter, loc, cast<TypedAttr>(value));
      auto fill = [&](ArrayRef<int64_t> shape) {
        Value empty = tensor::EmptyOp::create(rewriter, loc, shape,
                                              type.getElementType());
        return linalg::FillOp::create(rewriter, loc, constant, empty)
            .getResult(0);
      };
      if (type.getShape().back() == 1 && type.getNumElements() > 1) {
        // A padded tensor whose innermost dimension is a unit one (one
        // channel) is filled whole, as the flat tensor it is: the
        // vectorizers would write it, or a slab of it, one element at a
        // time.
        ReassociationIndices all;
        for (int64_t i = 0; i < rank; ++i)
          all.push_back(i);
        filled = tensor::ExpandShapeOp::create(
            rewriter, loc, type, fill({type.getNumElements()}),
            ArrayRef<ReassociationIndices>{all});
      } else {
        filled = tensor::EmptyOp::create(rewriter, loc, type.getShape(),
                                         type.getElementType());
        SmallVector<int64_t> slabShape(type.getShape());
        SmallVector<int64_t> offsets(rank, 0);
        for (int64_t dim = 0; dim < rank; ++dim) {
          int64_t inner = sourceType.getDimSize(dim);
          for (auto [offset, extent] :
               {std::pair{int64_t(0), low[dim]},
                std::pair{low[dim] + inner, high[dim]}}) {
            if (extent == 0)
              continue;
            slabShape[dim] = extent;
            offsets[dim] = offset;
            // Filled in its place (extract, fill, insert the same slice):
            // fills of separate tensors of one shape would be merged by
            // CSE, then copied into place.
            MLIRContext *context = rewriter.getContext();
            Value slab = tensor::ExtractSliceOp::create(
                rewriter, loc, filled, getAsIndexOpFoldResult(context, offsets),
                getAsIndexOpFoldResult(context, slabShape),
                getAsIndexOpFoldResult(context, strides));
            Value filledSlab =
                linalg::FillOp::create(rewriter, loc, constant, slab)
                    .getResult(0);
            filled = tensor::InsertSliceOp::create(
                rewriter, loc, filledSlab, filled, ValueRange{}, ValueRange{},
                ValueRange{}, offsets, slabShape, strides);
          }
          // The dimensions after this one: within the source's extent of
          // it.
          slabShape[dim] = inner;
          offsets[dim] = low[dim];
        }
      }
    }
    SmallVector<int64_t> sizes(sourceType.getShape());
    rewriter.replaceOpWithNewOp<tensor::InsertSliceOp>(
        op, op.getSource(), filled, ValueRange{}, ValueRange{}, ValueRange{},
        low, sizes, strides);
    return success();
  }
};

/// An elementwise linalg.generic (every loop parallel, every map a
/// projected permutation) whose output's innermost dimension has extent 1
/// and more than one element in all: the same op on its dimensions of
/// extent > 1, between reshapes. The vectorizers take the output's
/// innermost dimension as the vector's; here it would be one element wide.
/// Not an op that reads a contraction's result (the micro-kernels fuse
/// such an epilogue only in the contraction's own layout).
struct DropUnitDimsOfElementwiseOp : OpRewritePattern<linalg::GenericOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(linalg::GenericOp op,
                                PatternRewriter &rewriter) const override {
    if (op.getNumDpsInits() != 1 || !op.hasPureTensorSemantics() ||
        op.getNumLoops() != op.getNumParallelLoops() ||
        !llvm::all_of(op.getIndexingMapsArray(), [](AffineMap map) {
          return map.isProjectedPermutation();
        }))
      return failure();
    auto type = dyn_cast<RankedTensorType>(op.getResult(0).getType());
    if (!type || type.getRank() < 2 || !type.hasStaticShape() ||
        type.getShape().back() != 1 || type.getNumElements() == 1 ||
        !op.getMatchingIndexingMap(op.getDpsInitOperand(0)).isIdentity())
      return failure();
    for (Value input : op.getDpsInputs()) {
      auto producer = input.getDefiningOp<linalg::LinalgOp>();
      if (producer && producer.getNumReductionLoops() > 0)
        return rewriter.notifyMatchFailure(op, "a contraction's epilogue");
    }
    linalg::ControlDropUnitDims options;
    FailureOr<linalg::DropUnitDimsResult> dropped =
        linalg::dropUnitDims(rewriter, op, options);
    if (failed(dropped))
      return failure();
    rewriter.replaceOp(op, dropped->replacements);
    return success();
  }
};

struct SimplifyDataMovementPass
    : public qnn::impl::QNNSimplifyDataMovementPassBase<
          SimplifyDataMovementPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    qnn::populateSimplifyDataMovementPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace

void qnn::populateSimplifyDataMovementPatterns(RewritePatternSet &patterns) {
  patterns.add<UnitDimTransposeToReshape, PadToFillAndInsert,
               DropUnitDimsOfElementwiseOp>(patterns.getContext());
}
