//===- ConvolutionsToNHWC.cpp - NCHW convolutions on NHWC kernels ---------===//
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
// Here such a convolution (and a pooling) reads and writes NHWC through
// transposes: the same loops and body, the input and output maps permuted,
// the filter untouched (the micro-kernel packs it from any layout). The
// transposes then fold into the elementwise ops around them, move above
// pads and cancel, so that a network runs NHWC between its first and last
// layout-sensitive ops.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Codegen/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/IndexingUtils.h"
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
  Value empty = tensor::EmptyOp::create(
      rewriter, loc, applyPermutation(type.getShape(), permutation),
      type.getElementType());
  return linalg::TransposeOp::create(rewriter, loc, value, empty, permutation)
      .getResult()[0];
}

/// A linalg.generic with `op`'s iterators and body on `inputs` and `init`,
/// read and written through `maps` (the init's last); its result.
static Value cloneWithOperands(PatternRewriter &rewriter, linalg::LinalgOp op,
                               ValueRange inputs, Value init,
                               ArrayRef<AffineMap> maps) {
  auto generic =
      linalg::GenericOp::create(rewriter, op.getLoc(), init.getType(), inputs,
                                init, maps, op.getIteratorTypesArray());
  rewriter.cloneRegionBefore(op->getRegion(0), generic.getRegion(),
                             generic.getRegion().end());
  return generic.getResult(0);
}

/// A 2-D convolution (regular or depthwise, any body, stride and dilation)
/// with a constant filter, or a pooling, whose input is (n, c, h, w) and
/// output (n, f, oh, ow): the same op on NHWC input and output, between
/// transposes.
struct ConvolutionToNHWC : OpInterfaceRewritePattern<linalg::LinalgOp> {
  using OpInterfaceRewritePattern::OpInterfaceRewritePattern;

  LogicalResult matchAndRewrite(linalg::LinalgOp op,
                                PatternRewriter &rewriter) const override {
    if (op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 ||
        op->getNumResults() != 1 || !op.hasPureTensorSemantics() ||
        op.hasDynamicShape() || op->getNumRegions() != 1)
      return failure();
    FailureOr<linalg::ConvolutionDimensions> dims =
        linalg::inferConvolutionDims(op);
    if (failed(dims) || dims->outputImage.size() != 2 ||
        dims->filterLoop.size() != 2)
      return failure();
    bool regular = dims->batch.size() == 1 && dims->depth.empty() &&
                   dims->inputChannel.size() == 1 &&
                   dims->outputChannel.size() == 1;
    bool depthwise = dims->batch.size() == 1 && dims->depth.size() == 1 &&
                     dims->inputChannel.empty() && dims->outputChannel.empty();
    // A pooling: the channels are a second batch loop (not in the window),
    // and the window operand only gives the window's shape.
    bool pooling =
        dims->batch.size() == 2 && dims->depth.empty() &&
        dims->inputChannel.empty() && dims->outputChannel.empty() &&
        op.getMatchingBlockArgument(op.getDpsInputOperand(1)).use_empty();
    if (!regular && !depthwise && !pooling)
      return failure();
    // A convolution takes the micro-kernels only with a constant filter.
    if (!pooling && !matchPattern(op.getDpsInputs()[1], m_Constant()))
      return rewriter.notifyMatchFailure(op, "the filter is not a constant");
    unsigned c = regular     ? dims->inputChannel[0]
                 : depthwise ? dims->depth[0]
                             : dims->batch[1];
    unsigned f = regular ? dims->outputChannel[0] : c;
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

    // The operand's dimensions reordered as NHWC.
    AffineMap toNHWC = AffineMap::getPermutationMap(kToNHWC, context);
    auto permuted = [&](AffineMap map) { return toNHWC.compose(map); };
    Location loc = op.getLoc();
    Value nhwcInput = transpose(rewriter, loc, op.getDpsInputs()[0], kToNHWC);
    Value nhwcInit = transpose(rewriter, loc, op.getDpsInits()[0], kToNHWC);
    Value nhwc = cloneWithOperands(
        rewriter, op, {nhwcInput, op.getDpsInputs()[1]}, nhwcInit,
        {permuted(input), maps[1], permuted(output)});
    rewriter.replaceOp(op, transpose(rewriter, loc, nhwc, kToNCHW));
    return success();
  }
};

/// Whether `permutation` converts between NCHW and NHWC: the transposes
/// these patterns move and fold (others are left as they are).
static bool isLayoutChange(ArrayRef<int64_t> permutation) {
  return permutation == ArrayRef<int64_t>(kToNHWC) ||
         permutation == ArrayRef<int64_t>(kToNCHW);
}

/// Whether `op` is an elementwise or broadcasting linalg.generic: parallel
/// loops, one result written whole through the identity map, inputs read
/// through projected permutations.
static bool isElementwise(linalg::GenericOp op) {
  return op.getNumDpsInits() == 1 && op->getNumResults() == 1 &&
         op.getNumParallelLoops() == op.getNumLoops() &&
         op.hasPureTensorSemantics() &&
         op.getMatchingIndexingMap(op.getDpsInitOperand(0)).isIdentity() &&
         op.getMatchingBlockArgument(op.getDpsInitOperand(0)).use_empty() &&
         llvm::all_of(op.getDpsInputOperands(), [&](OpOperand *input) {
           return op.getMatchingIndexingMap(input).isProjectedPermutation();
         });
}

/// Whether elementwise `op` reads the result of a contraction (an op with
/// reductions) through the identity map: the consumer qnn-microkernel-cpu
/// fuses into the contraction's kernel, which it does only while every map
/// of `op` reads the accumulator's layout. Moving a transpose into it would
/// undo that (a requantization before a flatten to NCHW).
static bool isContractionEpilogue(linalg::GenericOp op) {
  return llvm::any_of(op.getDpsInputOperands(), [&](OpOperand *input) {
    auto producer = input->get().getDefiningOp<linalg::LinalgOp>();
    return producer && producer.getNumReductionLoops() > 0 &&
           op.getMatchingIndexingMap(input).isIdentity();
  });
}

/// Whether `value` is the result of a contraction (a linalg op with
/// reductions).
static bool isContractionResult(Value value) {
  auto producer = value.getDefiningOp<linalg::LinalgOp>();
  return producer && producer.getNumReductionLoops() > 0;
}

/// elementwise(transpose(acc), ...) where acc is a contraction's result
/// (an NHWC convolution's accumulators transposed back to NCHW) ->
/// transpose(elementwise'(acc, ...)): the generic runs in acc's layout,
/// reading it through the identity map, so that the micro-kernel fuses it
/// (a requantization), and the transpose moves its narrower result (i8
/// instead of i32) on towards the next convolution's, where they cancel.
/// Only where the result is not wider than acc.
struct SinkTransposeThroughEpilogue : OpRewritePattern<linalg::GenericOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(linalg::GenericOp op,
                                PatternRewriter &rewriter) const override {
    if (!isElementwise(op))
      return failure();
    OpOperand *transposed = nullptr;
    linalg::TransposeOp producer;
    for (OpOperand *input : op.getDpsInputOperands()) {
      auto candidate = input->get().getDefiningOp<linalg::TransposeOp>();
      if (candidate && isLayoutChange(candidate.getPermutation()) &&
          isContractionResult(candidate.getInput()) &&
          op.getMatchingIndexingMap(input).isIdentity()) {
        transposed = input;
        producer = candidate;
        break;
      }
    }
    if (!transposed)
      return failure();
    auto resultType = cast<RankedTensorType>(op->getResult(0).getType());
    auto accType = cast<RankedTensorType>(producer.getInput().getType());
    if (!accType.hasStaticShape() ||
        resultType.getElementTypeBitWidth() > accType.getElementTypeBitWidth())
      return failure();
    // Loop i of the result's layout is loop permutation[i] of acc's.
    ArrayRef<int64_t> permutation = producer.getPermutation();
    MLIRContext *context = op.getContext();
    AffineMap loops = AffineMap::getPermutationMap(permutation, context);
    unsigned rank = permutation.size();
    SmallVector<Value> inputs;
    SmallVector<AffineMap> maps;
    for (OpOperand *input : op.getDpsInputOperands()) {
      if (input == transposed) {
        inputs.push_back(producer.getInput());
        maps.push_back(AffineMap::getMultiDimIdentityMap(rank, context));
        continue;
      }
      inputs.push_back(input->get());
      maps.push_back(op.getMatchingIndexingMap(input).compose(loops));
    }
    maps.push_back(AffineMap::getMultiDimIdentityMap(rank, context));
    Location loc = op.getLoc();
    Value init = tensor::EmptyOp::create(rewriter, loc, accType.getShape(),
                                         resultType.getElementType());
    Value result = cloneWithOperands(rewriter, op, inputs, init, maps);
    rewriter.replaceOp(op, transpose(rewriter, loc, result, permutation));
    return success();
  }
};

/// An elementwise generic reading transpose(x), x not a contraction's
/// result (that is SinkTransposeThroughEpilogue's): it reads x through the
/// composed map instead (a requantization after an NHWC convolution then
/// reads the convolution's output in its own layout).
struct FoldTransposeIntoConsumer : OpRewritePattern<linalg::GenericOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(linalg::GenericOp op,
                                PatternRewriter &rewriter) const override {
    if (!isElementwise(op))
      return failure();
    for (OpOperand *input : op.getDpsInputOperands()) {
      auto transpose = input->get().getDefiningOp<linalg::TransposeOp>();
      if (!transpose || !isLayoutChange(transpose.getPermutation()) ||
          isContractionResult(transpose.getInput()))
        continue;
      // Dimension i of the transposed value is dimension permutation[i] of
      // its input: the input's dimension j is read where the transposed
      // value's inverse[j] was.
      AffineMap folded =
          AffineMap::getPermutationMap(
              invertPermutationVector(transpose.getPermutation()),
              op.getContext())
              .compose(op.getMatchingIndexingMap(input));
      if (!folded.isIdentity() && isContractionEpilogue(op))
        continue;
      SmallVector<AffineMap> maps = op.getIndexingMapsArray();
      maps[input->getOperandNumber()] = folded;
      rewriter.modifyOpInPlace(op, [&] {
        input->set(transpose.getInput());
        op.setIndexingMapsAttr(rewriter.getAffineMapArrayAttr(maps));
      });
      return success();
    }
    return failure();
  }
};

/// transpose(generic(...)) where the generic is elementwise or a broadcast
/// (a bias that starts a convolution's accumulators) and the transpose its
/// only reader: one generic that writes the transposed layout.
struct FoldTransposeIntoProducer : OpRewritePattern<linalg::TransposeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(linalg::TransposeOp op,
                                PatternRewriter &rewriter) const override {
    auto producer = op.getInput().getDefiningOp<linalg::GenericOp>();
    if (!producer || !op.getInput().hasOneUse() ||
        !isLayoutChange(op.getPermutation()) || !isElementwise(producer) ||
        isContractionEpilogue(producer) ||
        !cast<RankedTensorType>(op.getResult()[0].getType()).hasStaticShape())
      return failure();
    // Loop k of the producer is loop i of the result, where
    // permutation[i] = k.
    ArrayRef<int64_t> permutation = op.getPermutation();
    MLIRContext *context = op.getContext();
    AffineMap loops = AffineMap::getPermutationMap(
        invertPermutationVector(permutation), context);
    SmallVector<AffineMap> maps = llvm::map_to_vector(
        producer.getDpsInputOperands(), [&](OpOperand *input) {
          return producer.getMatchingIndexingMap(input).compose(loops);
        });
    maps.push_back(
        AffineMap::getMultiDimIdentityMap(permutation.size(), context));
    auto resultType = cast<RankedTensorType>(op.getResult()[0].getType());
    Value init =
        tensor::EmptyOp::create(rewriter, op.getLoc(), resultType.getShape(),
                                resultType.getElementType());
    rewriter.replaceOp(op,
                       cloneWithOperands(rewriter, producer,
                                         producer.getDpsInputs(), init, maps));
    return success();
  }
};

/// transpose(pad(y)) with a constant value -> pad'(transpose(y)), the
/// padding permuted: the transpose moves up to y's producer, into which it
/// can fold (the quantization of a model's NCHW input, a requantization).
struct BubbleTransposeThroughPad : OpRewritePattern<linalg::TransposeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(linalg::TransposeOp op,
                                PatternRewriter &rewriter) const override {
    auto pad = op.getInput().getDefiningOp<tensor::PadOp>();
    if (!pad || !op.getInput().hasOneUse() ||
        !isLayoutChange(op.getPermutation()) ||
        !pad.getConstantPaddingValue() || !pad.getSourceType().hasStaticShape())
      return failure();
    // Dimension i of the result is dimension permutation[i] of the pad's.
    ArrayRef<int64_t> permutation = op.getPermutation();
    SmallVector<OpFoldResult> low =
        applyPermutation(pad.getMixedLowPad(), permutation);
    SmallVector<OpFoldResult> high =
        applyPermutation(pad.getMixedHighPad(), permutation);
    Location loc = op.getLoc();
    Value source = transpose(rewriter, loc, pad.getSource(), permutation);
    rewriter.replaceOpWithNewOp<tensor::PadOp>(
        op, op.getResult()[0].getType(), source, low, high,
        pad.getConstantPaddingValue(), pad.getNofold());
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
  patterns.add<ConvolutionToNHWC, SinkTransposeThroughEpilogue,
               FoldTransposeIntoConsumer, FoldTransposeIntoProducer,
               BubbleTransposeThroughPad>(patterns.getContext());
}
