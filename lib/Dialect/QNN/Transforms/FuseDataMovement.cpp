//===- FuseDataMovement.cpp - ops that move stored values -----------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// quantize(op(dequantize(q))), where `op` only moves, selects or compares
// values (reshapes, slices, pads, transposes, concatenation, max pooling),
// runs `op` on the stored values; op(dequantize(q)) of a per-tensor q
// becomes dequantize(op(q)) for the ops that only move values.
//
//===----------------------------------------------------------------------===//

#include "FusionMatchers.h"

#include "quant-opt/Dialect/QNN/IR/QNNOps.h"
#include "quant-opt/Dialect/QNN/IR/QNNSemantics.h"
#include "quant-opt/Dialect/QNN/Transforms/Transforms.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Quant/IR/Quant.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"

#include <cmath>

using namespace mlir;
using namespace mlir::qnn;
using namespace mlir::qnn::fusion;

namespace {

/// The float constant a tensor.pad pads with, if it pads with one.
std::optional<APFloat> getConstantPadValue(tensor::PadOp pad) {
  Value value = pad.getConstantPaddingValue();
  FloatAttr attr;
  if (!value || !matchPattern(value, m_Constant(&attr)))
    return std::nullopt;
  return attr.getValue();
}

/// `op`, a pad, a transpose or an op that does not look at element types
/// (reshapes, slices, concatenation), applied to the stored values `stored`
/// (its data operands, in order) with result type `resultType`; a pad pads
/// with `storedPad`.
Value moveStoredValues(PatternRewriter &rewriter, Operation *op,
                       ValueRange stored, RankedTensorType resultType,
                       int64_t storedPad) {
  Location loc = op->getLoc();
  if (auto pad = dyn_cast<tensor::PadOp>(op)) {
    Value padConstant = arith::ConstantOp::create(
        rewriter, loc,
        IntegerAttr::get(resultType.getElementType(), storedPad));
    return tensor::PadOp::create(rewriter, loc, resultType, stored[0],
                                 pad.getMixedLowPad(), pad.getMixedHighPad(),
                                 padConstant, pad.getNofold());
  }
  if (auto transpose = dyn_cast<linalg::TransposeOp>(op)) {
    Value init = tensor::EmptyOp::create(
        rewriter, loc,
        tensor::getMixedSizes(rewriter, loc, transpose.getInit()),
        resultType.getElementType());
    return linalg::TransposeOp::create(rewriter, loc, stored[0], init,
                                       transpose.getPermutation())
        .getResult()[0];
  }
  IRMapping mapping;
  for (auto [operand, value] : llvm::zip(op->getOperands(), stored))
    mapping.map(operand, value);
  Operation *clone = rewriter.clone(*op, mapping);
  clone->getResult(0).setType(resultType);
  return clone->getResult(0);
}

/// The float constant max pooling `pool` starts from (its init is a
/// linalg.fill of it, -inf or the lowest f32 as importers write it); not
/// NaN, which the float pooling would propagate.
static std::optional<APFloat> getMaxPoolInit(linalg::LinalgOp pool) {
  auto fill = pool.getDpsInits()[0].getDefiningOp<linalg::FillOp>();
  FloatAttr attr;
  if (!fill || !matchPattern(fill.value(), m_Constant(&attr)) ||
      attr.getValue().isNaN())
    return std::nullopt;
  return attr.getValue();
}

/// Max pooling `pool` (NHWC or NCHW) of the stored values `stored` of
/// `type`, from `storedInit` (its float init quantized: quantize is
/// monotonic, so it commutes with max) and comparing with the storage's
/// signedness. Upstream has a named unsigned max pooling in NHWC only; in
/// NCHW the unsigned one is a linalg.generic with the pooling's maps.
static Value buildStoredMaxPool(PatternRewriter &rewriter,
                                linalg::LinalgOp pool, Value stored,
                                RankedTensorType resultType,
                                quant::UniformQuantizedType type,
                                int64_t storedInit) {
  Location loc = pool.getLoc();
  Type element = resultType.getElementType();
  Value empty = tensor::EmptyOp::create(
      rewriter, loc,
      tensor::getMixedSizes(rewriter, loc, pool.getDpsInits()[0]), element);
  Value initValue = arith::ConstantOp::create(
      rewriter, loc, IntegerAttr::get(element, storedInit));
  Value init =
      linalg::FillOp::create(rewriter, loc, initValue, empty).getResult(0);
  SmallVector<Value> inputs = {stored, pool.getDpsInputs()[1]};
  SmallVector<NamedAttribute> attributes = {
      rewriter.getNamedAttr("strides", pool->getAttr("strides")),
      rewriter.getNamedAttr("dilations", pool->getAttr("dilations"))};
  bool nhwc = isa<linalg::PoolingNhwcMaxOp>(pool);
  if (nhwc && type.isSigned())
    return linalg::PoolingNhwcMaxOp::create(rewriter, loc, resultType, inputs,
                                            init, attributes)
        .getResult(0);
  if (nhwc)
    return linalg::PoolingNhwcMaxUnsignedOp::create(rewriter, loc, resultType,
                                                    inputs, init, attributes)
        .getResult(0);
  if (type.isSigned())
    return linalg::PoolingNchwMaxOp::create(rewriter, loc, resultType, inputs,
                                            init, attributes)
        .getResult(0);
  return linalg::GenericOp::create(
             rewriter, loc, resultType, inputs, init,
             pool.getIndexingMapsArray(), pool.getIteratorTypesArray(),
             [](OpBuilder &b, Location nestedLoc, ValueRange args) {
               Value max =
                   arith::MaxUIOp::create(b, nestedLoc, args[0], args[2]);
               linalg::YieldOp::create(b, nestedLoc, max);
             })
      .getResult(0);
}

/// quantize(op(dequantize(q))) with one type on both sides, where `op` only
/// moves or selects values, is op(q): the op runs on the stored values.
/// (qnn-insert-qdq gives such outputs their input's type.) An input of
/// another type (a concat of two scales, as ONNX Runtime's QDQ models have
/// them) is requantized to the output's type first: quantize is elementwise
/// and monotonic, so it commutes with moving, selecting and taking maxima.
/// Nothing is created before every operand has matched (a pattern that
/// fails must leave the IR as it was).
struct FuseDataMovement : public OpRewritePattern<QuantizeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(QuantizeOp quantize,
                                PatternRewriter &rewriter) const override {
    Operation *op = quantize.getInput().getDefiningOp();
    auto type = dyn_cast<quant::UniformQuantizedType>(
        quantize.getType().getElementType());
    if (!op || !type || !quantize.getInput().hasOneUse() ||
        !isExactRoundTrip(type, quantize.getRounding()))
      return failure();
    bool isConcat = isa<tensor::ConcatOp>(op);
    if (!isConcat &&
        !isa<tensor::CollapseShapeOp, tensor::ExpandShapeOp,
             tensor::ExtractSliceOp, tensor::PadOp, linalg::TransposeOp,
             linalg::PoolingNhwcMaxOp, linalg::PoolingNchwMaxOp>(op))
      return failure();
    unsigned numData = isConcat ? op->getNumOperands() : 1;
    Location loc = op->getLoc();
    SmallVector<DequantizeOp> dequantized;
    for (Value operand : op->getOperands().take_front(numData)) {
      auto dequantize = operand.getDefiningOp<DequantizeOp>();
      if (!dequantize ||
          cast<quant::QuantizedType>(
              getElementTypeOrSelf(dequantize.getInput().getType()))
                  .getExpressedType() != type.getExpressedType())
        return failure();
      dequantized.push_back(dequantize);
    }
    // The padding value or the pooling's init, quantized like everything
    // else.
    int64_t storedPad = 0, storedInit = 0;
    bool isMaxPool =
        isa<linalg::PoolingNhwcMaxOp, linalg::PoolingNchwMaxOp>(op);
    if (isMaxPool) {
      std::optional<APFloat> init = getMaxPoolInit(cast<linalg::LinalgOp>(op));
      if (!init)
        return failure();
      storedInit = quantizeValue(*init, type.getScale(), type.getZeroPoint(),
                                 type, quantize.getRounding());
    }
    if (auto pad = dyn_cast<tensor::PadOp>(op)) {
      std::optional<APFloat> padValue = getConstantPadValue(pad);
      if (!padValue)
        return failure();
      storedPad = quantizeValue(*padValue, type.getScale(), type.getZeroPoint(),
                                type, quantize.getRounding());
    }
    SmallVector<Value> stored;
    for (DequantizeOp dequantize : dequantized) {
      Value input = dequantize.getInput();
      auto inputType = cast<RankedTensorType>(input.getType());
      if (inputType.getElementType() != type)
        input = RequantizeOp::create(rewriter, loc, inputType.clone(type),
                                     input, quantize.getRounding());
      stored.push_back(quant::StorageCastOp::create(
          rewriter, loc, getStoredValuesType(inputType.clone(type)), input));
    }
    auto resultType = getStoredValuesType(quantize.getType());
    Value result;
    if (isMaxPool)
      result = buildStoredMaxPool(rewriter, cast<linalg::LinalgOp>(op),
                                  stored[0], resultType, type, storedInit);
    else
      result = moveStoredValues(rewriter, op, stored, resultType, storedPad);
    rewriter.replaceOpWithNewOp<quant::StorageCastOp>(
        quantize, quantize.getType(), result);
    rewriter.eraseOp(op);
    return success();
  }
};

/// op(dequantize(q)), where `op` only moves values (a transpose, a reshape,
/// a slice, or a pad with 0.0, which is the zero point exactly) and q is
/// quantized per tensor, is dequantize(op(q)): moving the dequantize after
/// the op lets the contraction that reads it fuse, as in ONNX Runtime's QDQ
/// models, where DequantizeLinear feeds the importer's NCHW -> NHWC
/// transpose and the convolution's padding, and no QuantizeLinear follows
/// them. Exact: these ops copy values, and the op then moves fewer bytes.
/// Outputs read by a quantize are left to FuseDataMovement.
struct SinkDequantize : public RewritePattern {
  SinkDequantize(MLIRContext *context)
      : RewritePattern(MatchAnyOpTypeTag(), /*benefit=*/1, context) {}

  LogicalResult matchAndRewrite(Operation *op,
                                PatternRewriter &rewriter) const override {
    if (!isa<tensor::CollapseShapeOp, tensor::ExpandShapeOp,
             tensor::ExtractSliceOp, tensor::PadOp, linalg::TransposeOp>(op) ||
        op->getNumResults() != 1)
      return failure();
    auto dequantize = op->getOperand(0).getDefiningOp<DequantizeOp>();
    if (!dequantize)
      return failure();
    auto inputType = cast<RankedTensorType>(dequantize.getInput().getType());
    auto type =
        dyn_cast<quant::UniformQuantizedType>(inputType.getElementType());
    auto resultType = dyn_cast<RankedTensorType>(op->getResult(0).getType());
    if (!type || !resultType ||
        llvm::any_of(op->getResult(0).getUsers(),
                     [](Operation *user) { return isa<QuantizeOp>(user); }))
      return failure();
    if (auto pad = dyn_cast<tensor::PadOp>(op)) {
      std::optional<APFloat> padValue = getConstantPadValue(pad);
      if (!padValue || !padValue->isZero())
        return failure();
    }
    Location loc = op->getLoc();
    Value stored = quant::StorageCastOp::create(
        rewriter, loc, getStoredValuesType(inputType), dequantize.getInput());
    // A zero padding is the zero point.
    Value result = moveStoredValues(rewriter, op, stored,
                                    getStoredValuesType(resultType.clone(type)),
                                    type.getZeroPoint());
    Value quantized = quant::StorageCastOp::create(
        rewriter, loc, resultType.clone(type), result);
    rewriter.replaceOpWithNewOp<DequantizeOp>(op, resultType, quantized);
    return success();
  }
};

} // namespace

void qnn::populateFuseDataMovementPatterns(RewritePatternSet &patterns) {
  patterns.add<FuseDataMovement>(patterns.getContext());
}

void qnn::populateSinkDequantizePatterns(RewritePatternSet &patterns) {
  patterns.add<SinkDequantize>(patterns.getContext());
}
