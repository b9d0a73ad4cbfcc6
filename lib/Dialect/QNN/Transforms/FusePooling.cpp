//===- FusePooling.cpp - average pooling on stored values -----------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// quantize(sum_pool(dequantize(x)) / c) becomes an i32 window sum of the
// stored values and one qnn.rescale. (Max pooling only selects values: it
// is data movement, FuseDataMovement.cpp.)
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

/// quantize(sum_pool(dequantize(x)) / c): average pooling, as an i32 window
/// sum of x - z_x and one qnn.rescale by s_x / c / s_y.
struct FuseAveragePool : public OpRewritePattern<QuantizeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(QuantizeOp quantize,
                                PatternRewriter &rewriter) const override {
    auto outType = dyn_cast<quant::UniformQuantizedType>(
        quantize.getType().getElementType());
    Value current = quantize.getInput();
    Operation *scaling = current.getDefiningOp();
    if (!outType || !scaling || !current.hasOneUse())
      return failure();
    auto factors = matchScaling(scaling);
    if (!factors)
      return failure();
    Value sum = scaling->getOperand(0);
    // NHWC or NCHW: the window sum below takes the pooling's maps.
    auto pool = dyn_cast_or_null<linalg::LinalgOp>(sum.getDefiningOp());
    if (!isa_and_nonnull<linalg::PoolingNhwcSumOp, linalg::PoolingNchwSumOp>(
            pool) ||
        !sum.hasOneUse())
      return failure();
    auto xType = getDequantizedType(pool.getDpsInputs()[0]);
    auto window = dyn_cast<RankedTensorType>(pool.getDpsInputs()[1].getType());
    Value init = pool.getDpsInits()[0];
    auto fill = init.getDefiningOp<linalg::FillOp>();
    if (!xType || !window || !window.hasStaticShape() || !fill ||
        getScalarConstant(fill.getInputs()[0]) != 0.0)
      return failure();
    int64_t count = window.getNumElements();
    int64_t xMaxAbs =
        std::max(xType.getStorageTypeMax() - xType.getZeroPoint(),
                 xType.getZeroPoint() - xType.getStorageTypeMin());
    if (count * xMaxAbs >= (int64_t(1) << 31))
      return pool.emitError() << "the i32 window sum could overflow: " << count
                              << " * " << xMaxAbs << " >= 2^31";
    double multiplier =
        factors->first
            ? (xType.getScale() / *factors->first) / outType.getScale()
            : (xType.getScale() * *factors->second) / outType.getScale();
    FailureOr<std::pair<int32_t, int32_t>> fixedPoint =
        quantizeMultiplier(multiplier);
    if (failed(fixedPoint))
      return failure();

    Location loc = quantize.getLoc();
    rewriter.setInsertionPoint(quantize);
    Type i32 = rewriter.getI32Type();
    Value xQuantized =
        pool.getDpsInputs()[0].getDefiningOp<DequantizeOp>().getInput();
    Value xStored = quant::StorageCastOp::create(
        rewriter, loc,
        getStoredValuesType(cast<RankedTensorType>(xQuantized.getType())),
        xQuantized);
    // The sum of x - z_x starts at -count * z_x.
    Value empty = tensor::EmptyOp::create(
        rewriter, loc, tensor::getMixedSizes(rewriter, loc, init), i32);
    Value start = arith::ConstantOp::create(
        rewriter, loc, IntegerAttr::get(i32, -count * xType.getZeroPoint()));
    Value accumulatorInit =
        linalg::FillOp::create(rewriter, loc, start, empty).getResult(0);
    bool xSigned = xType.isSigned();
    Value accumulator =
        linalg::GenericOp::create(
            rewriter, loc, accumulatorInit.getType(),
            ValueRange{xStored, pool.getDpsInputs()[1]}, accumulatorInit,
            pool.getIndexingMapsArray(), pool.getIteratorTypesArray(),
            [&](OpBuilder &b, Location nestedLoc, ValueRange args) {
              Value x = convertScalarToDtype(b, nestedLoc, args[0], i32,
                                             /*isUnsignedCast=*/!xSigned);
              linalg::YieldOp::create(
                  b, nestedLoc,
                  arith::AddIOp::create(b, nestedLoc, args[2], x).getResult());
            })
            .getResult(0);
    auto rescale = RescaleOp::create(
        rewriter, loc, quantize.getType(), accumulator,
        rewriter.getDenseI32ArrayAttr({fixedPoint->first}),
        rewriter.getDenseI32ArrayAttr({fixedPoint->second}), IntegerAttr(),
        RoundingModeAttr::get(getContext(), quantize.getRounding()),
        DenseI64ArrayAttr());
    rewriter.replaceOp(quantize, rescale.getResult());
    rewriter.eraseOp(scaling);
    rewriter.eraseOp(pool);
    return success();
  }
};

} // namespace

void qnn::populateFusePoolingPatterns(RewritePatternSet &patterns) {
  patterns.add<FuseAveragePool>(patterns.getContext());
}
