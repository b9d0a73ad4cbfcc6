//===- ConvolutionsToNHWC.cpp - Channel-first convolutions to NHWC
//---------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Models imported from PyTorch (torch-mlir) keep NCHW convolutions
// (linalg.conv_2d_nchw_fchw, depthwise_conv_2d_nchw_chw, or the fused
// integer linalg.generic with their maps). The CPU micro-kernels read
// activations along contiguous channels, so NCHW was left to the generic
// strategy: 9x slower for an int8 3x3 convolution of 64 channels at 56x56.
// Here such a convolution reads and writes NHWC through transposes: the
// same loops and body, the input and output maps permuted, the filter
// untouched (the micro-kernel packs it from any layout).
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Codegen/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::qnn {
#define GEN_PASS_DEF_QNNCONVOLUTIONSTONHWCPASS
#include "quant-opt/Codegen/Passes.h.inc"
} // namespace mlir::qnn

using namespace mlir;

namespace {

/// NCHW -> NHWC, and back.
constexpr int64_t kToNHWC[] = {0, 2, 3, 1};
constexpr int64_t kToNCHW[] = {0, 3, 1, 2};

/// `value` transposed by `permutation` (a linalg.transpose into a new
/// tensor).
static Value transpose(PatternRewriter &rewriter, Location loc, Value value,
                       ArrayRef<int64_t> permutation) {
  auto type = cast<RankedTensorType>(value.getType());
  SmallVector<int64_t> shape = llvm::map_to_vector(
      permutation, [&](int64_t from) { return type.getDimSize(from); });
  Value empty =
      tensor::EmptyOp::create(rewriter, loc, shape, type.getElementType());
  return linalg::TransposeOp::create(rewriter, loc, value, empty, permutation)
      .getResult()[0];
}

/// A 2-D convolution (regular or depthwise, any body, stride and dilation)
/// with a constant filter whose input is (n, c, h, w) and output (n, f,
/// oh, ow): the same op on NHWC input and output, between transposes.
struct ConvolutionToNHWC : OpInterfaceRewritePattern<linalg::LinalgOp> {
  using OpInterfaceRewritePattern::OpInterfaceRewritePattern;

  LogicalResult matchAndRewrite(linalg::LinalgOp op,
                                PatternRewriter &rewriter) const override {
    if (op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 ||
        op->getNumResults() != 1 || !op.hasPureTensorSemantics() ||
        op.hasDynamicShape() || op->getNumRegions() != 1)
      return failure();
    if (!matchPattern(op.getDpsInputs()[1], m_Constant()))
      return rewriter.notifyMatchFailure(op, "the filter is not a constant");
    FailureOr<linalg::ConvolutionDimensions> dims =
        linalg::inferConvolutionDims(op);
    if (failed(dims) || dims->batch.size() != 1 ||
        dims->outputImage.size() != 2 || dims->filterLoop.size() != 2)
      return failure();
    bool regular = dims->depth.empty() && dims->inputChannel.size() == 1 &&
                   dims->outputChannel.size() == 1;
    bool depthwise = dims->depth.size() == 1 && dims->inputChannel.empty() &&
                     dims->outputChannel.empty();
    if (!regular && !depthwise)
      return failure();
    unsigned c = depthwise ? dims->depth[0] : dims->inputChannel[0];
    unsigned f = depthwise ? c : dims->outputChannel[0];
    SmallVector<AffineMap> maps = op.getIndexingMapsArray();
    MLIRContext *context = op.getContext();
    auto d = [&](unsigned i) { return getAffineDimExpr(i, context); };
    AffineMap input = maps[0], output = maps[2];
    if (input.getNumResults() != 4 || input.getResult(0) != d(dims->batch[0]) ||
        input.getResult(1) != d(c) ||
        output !=
            AffineMap::get(output.getNumDims(), 0,
                           {d(dims->batch[0]), d(f), d(dims->outputImage[0]),
                            d(dims->outputImage[1])},
                           context))
      return rewriter.notifyMatchFailure(op, "not channel-first");

    auto permuted = [&](AffineMap map) {
      SmallVector<AffineExpr> results = llvm::map_to_vector(
          kToNHWC, [&](int64_t from) { return map.getResult(from); });
      return AffineMap::get(map.getNumDims(), 0, results, context);
    };
    Location loc = op.getLoc();
    Value nhwcInput = transpose(rewriter, loc, op.getDpsInputs()[0], kToNHWC);
    Value nhwcInit = transpose(rewriter, loc, op.getDpsInits()[0], kToNHWC);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, nhwcInit.getType(),
        ValueRange{nhwcInput, op.getDpsInputs()[1]}, ValueRange{nhwcInit},
        ArrayRef<AffineMap>{permuted(input), maps[1], permuted(output)},
        op.getIteratorTypesArray());
    rewriter.cloneRegionBefore(op->getRegion(0), generic.getRegion(),
                               generic.getRegion().end());
    rewriter.replaceOp(op,
                       transpose(rewriter, loc, generic.getResult(0), kToNCHW));
    return success();
  }
};

struct QNNConvolutionsToNHWCPass
    : public qnn::impl::QNNConvolutionsToNHWCPassBase<
          QNNConvolutionsToNHWCPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    qnn::populateConvolutionsToNHWCPatterns(patterns);
    // A transpose of a fill (a float convolution's zero init) is a fill;
    // transposes back and forth between two convolutions cancel.
    linalg::FillOp::getCanonicalizationPatterns(patterns, &getContext());
    linalg::TransposeOp::getCanonicalizationPatterns(patterns, &getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

void qnn::populateConvolutionsToNHWCPatterns(RewritePatternSet &patterns) {
  patterns.add<ConvolutionToNHWC>(patterns.getContext());
}
