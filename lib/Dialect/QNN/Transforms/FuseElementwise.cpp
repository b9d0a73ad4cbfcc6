//===- FuseElementwise.cpp - adds, products and scalings of activations ---===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// quantize(act(dequantize(a) + dequantize(b))) and the same with a product:
// residual adds and products of two quantized activations, and scalings of
// one by a constant, computed on their stored values with the rescales
// docs/Semantics.md defines.
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

/// quantize(act(op(dequantize(a), dequantize(b)))) for an elementwise `op`
/// of two per-tensor quantized activations of the result's shape, matched.
struct BinaryChain {
  Operation *op;
  /// The activations between `op` and the quantize (none, one, or two as
  /// in ReLU6 as max then min), outermost first, and their bounds.
  SmallVector<Operation *, 2> activationOps;
  std::optional<std::pair<double, double>> activation;
  /// The dequantized operands and their types.
  DequantizeOp lhs, rhs;
  quant::UniformQuantizedType lhsType, rhsType, outType;
};

/// Replaces the quantize at the end of `chain` with `fused` and erases the
/// float ops it replaces.
static void replaceBinaryChain(PatternRewriter &rewriter, QuantizeOp quantize,
                               const BinaryChain &chain, Value fused) {
  rewriter.replaceOp(quantize, fused);
  for (Operation *activation : chain.activationOps)
    rewriter.eraseOp(activation);
  rewriter.eraseOp(chain.op);
}

static std::optional<BinaryChain>
matchBinaryChain(QuantizeOp quantize, function_ref<bool(Operation *)> isOp) {
  BinaryChain chain;
  chain.outType = dyn_cast<quant::UniformQuantizedType>(
      quantize.getType().getElementType());
  Value current = quantize.getInput();
  Operation *op = current.getDefiningOp();
  if (!chain.outType || !op || !current.hasOneUse())
    return std::nullopt;
  if (!isOp(op)) {
    std::optional<ActivationChain> activations = matchActivations(current);
    if (!activations)
      return std::nullopt;
    chain.activation = activations->clamp;
    chain.activationOps = activations->ops;
    current = activations->input;
    op = current.getDefiningOp();
    if (!op || !current.hasOneUse() || !isOp(op))
      return std::nullopt;
  }
  chain.op = op;
  Value lhs = op->getOperand(0), rhs = op->getOperand(1);
  chain.lhs = lhs.getDefiningOp<DequantizeOp>();
  chain.rhs = rhs.getDefiningOp<DequantizeOp>();
  chain.lhsType = getDequantizedType(lhs);
  chain.rhsType = getDequantizedType(rhs);
  if (!chain.lhsType || !chain.rhsType || lhs.getType() != rhs.getType() ||
      lhs.getType() != current.getType())
    return std::nullopt;
  return chain;
}

/// ext(stored) - z as i32: a stored value of `type` centered on its zero
/// point, in a linalg body.
static Value buildCentered(OpBuilder &builder, Location loc, Value stored,
                           quant::UniformQuantizedType type) {
  Type i32 = builder.getI32Type();
  Value wide = convertScalarToDtype(builder, loc, stored, i32,
                                    /*isUnsignedCast=*/!type.isSigned());
  Value zeroPoint = arith::ConstantOp::create(
      builder, loc, IntegerAttr::get(i32, type.getZeroPoint()));
  return arith::SubIOp::create(builder, loc, wide, zeroPoint);
}

/// quantize(act(dequantize(a) + dequantize(b))): a residual add, in
/// integers (qnn.add).
struct FuseQuantizedAdd : public OpRewritePattern<QuantizeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(QuantizeOp quantize,
                                PatternRewriter &rewriter) const override {
    std::optional<BinaryChain> chain =
        matchBinaryChain(quantize, isElementwiseAdd);
    if (!chain)
      return failure();
    auto lhsType = chain->lhsType, rhsType = chain->rhsType,
         outType = chain->outType;
    for (auto type : {lhsType, rhsType, outType})
      if (type.getStorageTypeIntegralWidth() > 16)
        return failure();
    FailureOr<std::tuple<int32_t, int32_t, int32_t>> parameters =
        getAddParameters(lhsType.getScale(), rhsType.getScale(),
                         outType.getScale());
    if (failed(parameters))
      return failure();
    auto [multiplierA, multiplierB, shift] = *parameters;
    DenseI64ArrayAttr clamp;
    if (chain->activation)
      clamp = rewriter.getDenseI64ArrayAttr(
          getStoredClamp(*chain->activation, outType, quantize.getRounding()));
    rewriter.setInsertionPoint(quantize);
    auto add = AddOp::create(
        rewriter, quantize.getLoc(), quantize.getType(), chain->lhs.getInput(),
        chain->rhs.getInput(),
        rewriter.getDenseI32ArrayAttr({multiplierA, multiplierB}),
        rewriter.getI32IntegerAttr(shift),
        RoundingModeAttr::get(getContext(), quantize.getRounding()), clamp);
    replaceBinaryChain(rewriter, quantize, *chain, add.getResult());
    return success();
  }
};

/// quantize(act(dequantize(a) * dequantize(b))): the product of the centered
/// stored values in i32, then one qnn.rescale by s_a * s_b / s_y.
struct FuseQuantizedMul : public OpRewritePattern<QuantizeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(QuantizeOp quantize,
                                PatternRewriter &rewriter) const override {
    std::optional<BinaryChain> chain =
        matchBinaryChain(quantize, isElementwiseMul);
    // The product of two centered 8-bit values fits i32.
    if (!chain || chain->lhsType.getStorageTypeIntegralWidth() > 8 ||
        chain->rhsType.getStorageTypeIntegralWidth() > 8)
      return failure();
    auto lhsType = chain->lhsType, rhsType = chain->rhsType,
         outType = chain->outType;
    FailureOr<std::pair<int32_t, int32_t>> fixedPoint = quantizeMultiplier(
        (lhsType.getScale() * rhsType.getScale()) / outType.getScale());
    if (failed(fixedPoint))
      return failure();

    Location loc = quantize.getLoc();
    rewriter.setInsertionPoint(quantize);
    Type i32 = rewriter.getI32Type();
    auto tensorType = cast<RankedTensorType>(chain->lhs.getType());
    auto storedOf = [&](DequantizeOp dequantize) -> Value {
      Value quantized = dequantize.getInput();
      return quant::StorageCastOp::create(
          rewriter, loc,
          getStoredValuesType(cast<RankedTensorType>(quantized.getType())),
          quantized);
    };
    Value a = storedOf(chain->lhs), b = storedOf(chain->rhs);
    Value empty = tensor::EmptyOp::create(
        rewriter, loc, tensor::getMixedSizes(rewriter, loc, chain->lhs), i32);
    unsigned rank = tensorType.getRank();
    Value product =
        linalg::GenericOp::create(
            rewriter, loc, empty.getType(), ValueRange{a, b}, empty,
            SmallVector<AffineMap>(3, rewriter.getMultiDimIdentityMap(rank)),
            SmallVector<utils::IteratorType>(rank,
                                             utils::IteratorType::parallel),
            [&](OpBuilder &builder, Location nestedLoc, ValueRange args) {
              linalg::YieldOp::create(
                  builder, nestedLoc,
                  arith::MulIOp::create(
                      builder, nestedLoc,
                      buildCentered(builder, nestedLoc, args[0], lhsType),
                      buildCentered(builder, nestedLoc, args[1], rhsType))
                      .getResult());
            })
            .getResult(0);
    DenseI64ArrayAttr clamp;
    if (chain->activation)
      clamp = rewriter.getDenseI64ArrayAttr(
          getStoredClamp(*chain->activation, outType, quantize.getRounding()));
    auto rescale = RescaleOp::create(
        rewriter, loc, quantize.getType(), product,
        rewriter.getDenseI32ArrayAttr({fixedPoint->first}),
        rewriter.getDenseI32ArrayAttr({fixedPoint->second}), IntegerAttr(),
        RoundingModeAttr::get(getContext(), quantize.getRounding()), clamp);
    replaceBinaryChain(rewriter, quantize, *chain, rescale.getResult());
    return success();
  }
};

/// quantize(act(dequantize(a) * f)) or quantize(act(dequantize(a) / c)) by
/// a scalar constant (attention's 1/sqrt(d)): one qnn.rescale of the
/// centered stored values by s_a * f / s_y, instead of three passes in
/// float.
struct FuseQuantizedScaling : public OpRewritePattern<QuantizeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(QuantizeOp quantize,
                                PatternRewriter &rewriter) const override {
    auto outType = dyn_cast<quant::UniformQuantizedType>(
        quantize.getType().getElementType());
    Value current = quantize.getInput();
    if (!outType || !current.getDefiningOp() || !current.hasOneUse())
      return failure();
    SmallVector<Operation *, 2> activationOps;
    std::optional<std::pair<double, double>> activation;
    if (!matchScaling(current.getDefiningOp())) {
      std::optional<ActivationChain> activations = matchActivations(current);
      if (!activations)
        return failure();
      activation = activations->clamp;
      activationOps = activations->ops;
      current = activations->input;
      if (!current.getDefiningOp() || !current.hasOneUse())
        return failure();
    }
    Operation *scaling = current.getDefiningOp();
    // A negative factor would reverse the order of the stored values (and
    // the clamp): left in float, as are zero and non-finite ones.
    std::optional<double> factor = getPositiveScalingFactor(scaling);
    if (!factor)
      return failure();
    auto dequantize = scaling->getOperand(0).getDefiningOp<DequantizeOp>();
    quant::UniformQuantizedType inType =
        getDequantizedType(scaling->getOperand(0));
    if (!dequantize || !inType || inType.getStorageTypeIntegralWidth() > 16)
      return failure();
    double multiplier = inType.getScale() * *factor / outType.getScale();
    if (!std::isfinite(multiplier))
      return failure();
    FailureOr<std::pair<int32_t, int32_t>> fixedPoint =
        quantizeMultiplier(multiplier);
    if (failed(fixedPoint))
      return failure();

    Location loc = quantize.getLoc();
    rewriter.setInsertionPoint(quantize);
    Type i32 = rewriter.getI32Type();
    Value quantized = dequantize.getInput();
    Value stored = quant::StorageCastOp::create(
        rewriter, loc,
        getStoredValuesType(cast<RankedTensorType>(quantized.getType())),
        quantized);
    // A factor the output scale absorbs exactly (M = 1, the same zero
    // point and storage, no clamp): the rescale is the identity on stored
    // values, and the result is the input read at the output's type.
    if (*fixedPoint == std::make_pair(int32_t(1) << 30, int32_t(30)) &&
        !activation && inType.getZeroPoint() == outType.getZeroPoint() &&
        inType.getStorageType() == outType.getStorageType() &&
        inType.getStorageTypeMin() >= outType.getStorageTypeMin() &&
        inType.getStorageTypeMax() <= outType.getStorageTypeMax() &&
        inType.isSigned() == outType.isSigned()) {
      rewriter.replaceOpWithNewOp<quant::StorageCastOp>(
          quantize, quantize.getType(), stored);
      rewriter.eraseOp(scaling);
      return success();
    }
    unsigned rank = cast<RankedTensorType>(quantized.getType()).getRank();
    Value empty = tensor::EmptyOp::create(
        rewriter, loc, tensor::getMixedSizes(rewriter, loc, quantized), i32);
    Value centered =
        linalg::GenericOp::create(
            rewriter, loc, empty.getType(), ValueRange{stored}, empty,
            SmallVector<AffineMap>(2, rewriter.getMultiDimIdentityMap(rank)),
            SmallVector<utils::IteratorType>(rank,
                                             utils::IteratorType::parallel),
            [&](OpBuilder &builder, Location nestedLoc, ValueRange args) {
              linalg::YieldOp::create(
                  builder, nestedLoc,
                  buildCentered(builder, nestedLoc, args[0], inType));
            })
            .getResult(0);
    DenseI64ArrayAttr clamp;
    if (activation)
      clamp = rewriter.getDenseI64ArrayAttr(
          getStoredClamp(*activation, outType, quantize.getRounding()));
    auto rescale = RescaleOp::create(
        rewriter, loc, quantize.getType(), centered,
        rewriter.getDenseI32ArrayAttr({fixedPoint->first}),
        rewriter.getDenseI32ArrayAttr({fixedPoint->second}), IntegerAttr(),
        RoundingModeAttr::get(getContext(), quantize.getRounding()), clamp);
    rewriter.replaceOp(quantize, rescale.getResult());
    for (Operation *op : activationOps)
      rewriter.eraseOp(op);
    rewriter.eraseOp(scaling);
    return success();
  }
};

} // namespace

void qnn::populateFuseElementwisePatterns(RewritePatternSet &patterns) {
  patterns.add<FuseQuantizedAdd, FuseQuantizedMul, FuseQuantizedScaling>(
      patterns.getContext());
}
