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

/// tensor.pad (static, constant value) -> linalg.fill of the padded shape,
/// created at the top of the function so that it dominates the source's
/// producer, and tensor.insert_slice of the source into it.
struct PadToFillAndInsert : OpRewritePattern<tensor::PadOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(tensor::PadOp op,
                                PatternRewriter &rewriter) const override {
    RankedTensorType type = op.getResultType();
    if (!type.hasStaticShape() || !op.getSourceType().hasStaticShape() ||
        op.getNofold())
      return failure();
    Value padding = op.getConstantPaddingValue();
    Attribute value;
    if (!padding || !matchPattern(padding, m_Constant(&value)))
      return rewriter.notifyMatchFailure(op, "padding is not a constant");
    SmallVector<int64_t> low(op.getStaticLow());
    if (ShapedType::isDynamicShape(low))
      return failure();
    auto function = op->getParentOfType<func::FuncOp>();
    if (!function)
      return failure();
    Value filled;
    {
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPointToStart(&function.getBody().front());
      Value constant = arith::ConstantOp::create(rewriter, op.getLoc(),
                                                 cast<TypedAttr>(value));
      // A padded tensor whose innermost dimension is a unit one (one
      // channel) is filled as the flat tensor it is: the vectorizers would
      // write it one element at a time.
      bool flat = type.getShape().back() == 1 && type.getNumElements() > 1;
      SmallVector<int64_t> filledShape(type.getShape());
      if (flat)
        filledShape = {type.getNumElements()};
      Value empty = tensor::EmptyOp::create(rewriter, op.getLoc(), filledShape,
                                            type.getElementType());
      filled = linalg::FillOp::create(rewriter, op.getLoc(), constant, empty)
                   .getResult(0);
      if (flat) {
        ReassociationIndices all;
        for (int64_t i = 0; i < type.getRank(); ++i)
          all.push_back(i);
        filled =
            tensor::ExpandShapeOp::create(rewriter, op.getLoc(), type, filled,
                                          ArrayRef<ReassociationIndices>{all});
      }
    }
    SmallVector<int64_t> sizes(op.getSourceType().getShape());
    SmallVector<int64_t> strides(type.getRank(), 1);
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
