//===- QNNToLinalg.cpp - Lower qnn to linalg on integers ------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Lowers the qnn casts to elementwise linalg.generic ops on the storage
// integers, statement by statement as docs/Semantics.md defines them, and
// converts quantized types to their storage everywhere they appear.
//
// Scales and zero points reach the loop body as scalar constants (per-tensor)
// or as constant tensors indexed along the axes where they vary (per-axis,
// sub-channel). A sub-channel axis of size S with blocks of B is first
// expanded into (S / B, B) so that the parameter index is a plain loop index
// and the generic stays a projected permutation that vectorizes.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Conversion/Passes.h"
#include "quant-opt/Dialect/QNN/IR/QNNOps.h"
#include "quant-opt/Dialect/QNN/IR/QNNSemantics.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Func/Transforms/FuncConversions.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/Transforms/Patterns.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir::qnn {
#define GEN_PASS_DEF_CONVERTQNNTOLINALGPASS
#include "quant-opt/Conversion/Passes.h.inc"
} // namespace mlir::qnn

using namespace mlir;
using namespace mlir::qnn;

//===----------------------------------------------------------------------===//
// Type conversion
//===----------------------------------------------------------------------===//

static IntegerType getSignlessStorageType(quant::QuantizedType type) {
  return IntegerType::get(type.getContext(),
                          type.getStorageTypeIntegralWidth());
}

QuantizedToStorageTypeConverter::QuantizedToStorageTypeConverter() {
  addConversion([](Type type) { return type; });
  addConversion([](quant::QuantizedType type) -> Type {
    return getSignlessStorageType(type);
  });
  addConversion([](TensorType type) -> Type {
    if (auto quantized = dyn_cast<quant::QuantizedType>(type.getElementType()))
      return type.clone(getSignlessStorageType(quantized));
    return type;
  });
}

//===----------------------------------------------------------------------===//
// Elementwise loops with per-element parameters
//===----------------------------------------------------------------------===//

/// An empty tensor of `source`'s shape (dynamic sizes included) with
/// `elementType`.
static Value buildEmptyLike(OpBuilder &b, Location loc, Value source,
                            Type elementType) {
  return tensor::EmptyOp::create(b, loc, tensor::getMixedSizes(b, loc, source),
                                 elementType);
}

/// The integer type the lowering computes with: wide enough that
/// `r + z` cannot overflow after `r` is clamped to +-`getFloatClampBound`.
static IntegerType getWorkingIntegerType(quant::QuantizedType type) {
  unsigned width = type.getStorageTypeIntegralWidth() <= 16 ? 32 : 64;
  return IntegerType::get(type.getContext(), width);
}

/// 2^30 for 32-bit working integers, 2^62 for 64-bit ones: a power of two, so
/// exact in every compute type, and far beyond |qmin - z|, |qmax - z|.
static double getFloatClampBound(IntegerType workingType) {
  return std::ldexp(1.0, workingType.getWidth() - 2);
}

/// Computes one element: (builder, loc, element, scale, zeroPoint) -> value.
using ElementBodyBuilder =
    function_ref<Value(OpBuilder &, Location, Value, Value, Value)>;

/// Emits a linalg.generic that maps every element of `input` through
/// `buildBody` into a tensor of `resultElementType`, passing each element
/// the scale (in the compute type) and zero point (in the working integer
/// type) that `type` assigns to it.
static Value buildElementwiseWithParameters(OpBuilder &b, Location loc,
                                            Value input,
                                            quant::QuantizedType type,
                                            Type resultElementType,
                                            ElementBodyBuilder buildBody) {
  auto inputType = cast<RankedTensorType>(input.getType());
  ArrayRef<int64_t> shape = inputType.getShape();
  FloatType computeType = getComputeType(type);
  IntegerType workingType = getWorkingIntegerType(type);
  QuantizationParameters parameters(type, shape);
  SmallVector<int64_t> blockSizes = getParameterBlockSizes(type, shape);

  // Split each axis blocked in several blocks of more than one element into
  // (blocks, block size); remember the loop of each axis the parameters vary
  // along.
  SmallVector<ReassociationIndices> reassociation;
  SmallVector<int64_t> expandedShape;
  SmallVector<int64_t> varyingLoops;
  SmallVector<int64_t> parameterShape;
  for (auto [size, blockSize] : llvm::zip(shape, blockSizes)) {
    int64_t loop = expandedShape.size();
    if (size == blockSize) {
      reassociation.push_back({loop});
      expandedShape.push_back(size);
      continue;
    }
    varyingLoops.push_back(loop);
    parameterShape.push_back(size / blockSize);
    if (blockSize == 1) {
      reassociation.push_back({loop});
      expandedShape.push_back(size);
      continue;
    }
    reassociation.push_back({loop, loop + 1});
    expandedShape.append({size / blockSize, blockSize});
  }
  bool expand = expandedShape.size() != shape.size();
  if (expand)
    input = tensor::ExpandShapeOp::create(
        b, loc, inputType.clone(expandedShape), input, reassociation);

  // Per-tensor parameters are scalars captured by the body; the others are
  // constant tensors indexed by the loops they vary along.
  auto toCompute = [&](double scale) {
    llvm::APFloat value(scale);
    bool losesInfo;
    value.convert(computeType.getFloatSemantics(),
                  llvm::APFloat::rmNearestTiesToEven, &losesInfo);
    return value;
  };
  auto toWorking = [&](int64_t zeroPoint) {
    return llvm::APInt(workingType.getWidth(), zeroPoint, /*isSigned=*/true);
  };
  SmallVector<Value> inputs = {input};
  Value scalarScale, scalarZeroPoint;
  if (varyingLoops.empty()) {
    scalarScale = arith::ConstantOp::create(
        b, loc,
        FloatAttr::get(computeType, toCompute(parameters.getScales()[0])));
    scalarZeroPoint = arith::ConstantOp::create(
        b, loc,
        IntegerAttr::get(workingType,
                         toWorking(parameters.getZeroPoints()[0])));
  } else {
    auto scaleType = RankedTensorType::get(parameterShape, computeType);
    auto zeroPointType = RankedTensorType::get(parameterShape, workingType);
    inputs.push_back(arith::ConstantOp::create(
        b, loc,
        DenseElementsAttr::get(
            scaleType,
            llvm::map_to_vector(parameters.getScales(), toCompute))));
    inputs.push_back(arith::ConstantOp::create(
        b, loc,
        DenseElementsAttr::get(
            zeroPointType,
            llvm::map_to_vector(parameters.getZeroPoints(), toWorking))));
  }

  // The destination has the (expanded) input's shape.
  Value init = buildEmptyLike(b, loc, input, resultElementType);

  unsigned numLoops = expandedShape.size();
  MLIRContext *ctx = b.getContext();
  AffineMap identity = b.getMultiDimIdentityMap(numLoops);
  SmallVector<AffineMap> maps = {identity};
  if (!varyingLoops.empty()) {
    SmallVector<AffineExpr> parameterIndices =
        llvm::map_to_vector(varyingLoops, [&](int64_t loop) {
          return getAffineDimExpr(loop, ctx);
        });
    AffineMap parameterMap =
        AffineMap::get(numLoops, /*symbolCount=*/0, parameterIndices, ctx);
    maps.append({parameterMap, parameterMap});
  }
  maps.push_back(identity);
  SmallVector<utils::IteratorType> iterators(numLoops,
                                             utils::IteratorType::parallel);

  Value result =
      linalg::GenericOp::create(
          b, loc, init.getType(), inputs, init, maps, iterators,
          [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
            Value scale = scalarScale ? scalarScale : args[1];
            Value zeroPoint = scalarZeroPoint ? scalarZeroPoint : args[2];
            linalg::YieldOp::create(
                nested, nestedLoc,
                buildBody(nested, nestedLoc, args[0], scale, zeroPoint));
          })
          .getResult(0);
  if (expand)
    result = tensor::CollapseShapeOp::create(
        b, loc, inputType.clone(resultElementType), result, reassociation);
  return result;
}

//===----------------------------------------------------------------------===//
// Scalar arithmetic (docs/Semantics.md)
//===----------------------------------------------------------------------===//

/// Step 2 of `quantize`: the quotient `v = RN(x / s)`, whether it is already
/// within +-bound (then steps 4-5 need no float clamp before the conversion
/// to integers), and the value that is NaN exactly where `x / s` is.
struct Quotient {
  Value value;
  bool bounded = false;
  Value nanSource;
};

/// `RN(x / s)` without a division (docs/Semantics.md, "Without a division"),
/// for `s` in [2^-60, 2^60], given `-s`, `r = RN(1/s)` and `limit =
/// RN(bound/2 * s)`: `x` clamped to +-`limit`, `q0 = RN(x * r)`, the
/// remainder `e = x - q0 * s` (exact, one FMA) and `RN(q0 + e * r)` (one
/// FMA) is the correctly rounded quotient (Markstein's theorem). Beyond the
/// clamp every stored value saturates whatever the quotient; it keeps `q0`
/// finite (an infinite one would make the remainder NaN) and the quotient
/// within +-`bound`. The clamp maps NaN to a bound, so NaN is tested on `x`
/// itself.
static Quotient buildCorrectedQuotient(OpBuilder &b, Location loc, Value x,
                                       Value negatedScale, Value reciprocal,
                                       Value lowerLimit, Value upperLimit) {
  // Compare and select, NaN giving the lower limit: one vmaxps/vminps each
  // on x86, where maxnumf/minnumf also test for NaN and blend.
  Value aboveLower =
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, x, lowerLimit);
  Value raised = arith::SelectOp::create(b, loc, aboveLower, x, lowerLimit);
  Value belowUpper = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT,
                                           raised, upperLimit);
  Value clamped =
      arith::SelectOp::create(b, loc, belowUpper, raised, upperLimit);
  Value estimate = arith::MulFOp::create(b, loc, clamped, reciprocal);
  Value remainder =
      math::FmaOp::create(b, loc, estimate, negatedScale, clamped);
  return {math::FmaOp::create(b, loc, remainder, reciprocal, estimate),
          /*bounded=*/true, x};
}

/// Whether stored values within [qmin, qmax] are all within +-`bound` / 4,
/// so that inputs clamped at `bound` / 2 times the scale saturate.
static bool isWithinQuarterBound(int64_t qminValue, int64_t qmaxValue,
                                 double bound) {
  return std::max(std::abs(qminValue), std::abs(qmaxValue)) <= bound / 4;
}

/// `x / s` rounded to nearest (ties to even) without a division where `s`
/// is a constant in [2^-60, 2^60] of f32 or f64 (docs/Semantics.md,
/// "Without a division"): a power of two is one multiplication, any other
/// scale `buildCorrectedQuotient` with its constants folded. A vector
/// division issues far less often than a multiply or an FMA, and quantizing
/// a float activation is otherwise one division per element. Returns a null
/// quotient where `s` is not such a constant.
static Quotient buildQuotientByConstantScale(OpBuilder &b, Location loc,
                                             Value x, Value scale,
                                             int64_t qminValue,
                                             int64_t qmaxValue, double bound) {
  FloatAttr scaleAttr;
  if (!matchPattern(scale, m_Constant(&scaleAttr)))
    return {};
  auto type = cast<FloatType>(scale.getType());
  if (!type.isF32() && !type.isF64())
    return {};
  if (!isWithinQuarterBound(qminValue, qmaxValue, bound))
    return {};
  APFloat s = scaleAttr.getValue();
  APFloat low(std::ldexp(1.0, -60)), high(std::ldexp(1.0, 60));
  bool losesInfo;
  low.convert(s.getSemantics(), APFloat::rmNearestTiesToEven, &losesInfo);
  high.convert(s.getSemantics(), APFloat::rmNearestTiesToEven, &losesInfo);
  if (s.isNaN() || s.compare(low) == APFloat::cmpLessThan ||
      s.compare(high) == APFloat::cmpGreaterThan)
    return {};
  auto constant = [&](const APFloat &value) {
    return arith::ConstantOp::create(b, loc, FloatAttr::get(type, value))
        .getResult();
  };
  // A power of two: x * (1/s) is x / s, both exact up to their one rounding.
  APFloat reciprocal(s.getSemantics());
  if (s.getExactInverse(&reciprocal)) {
    Value product = arith::MulFOp::create(b, loc, x, constant(reciprocal));
    return {product, /*bounded=*/false, product};
  }
  reciprocal = APFloat(s.getSemantics(), 1);
  reciprocal.divide(s, APFloat::rmNearestTiesToEven);
  APFloat limit =
      scalbn(s, std::ilogb(bound) - 1, APFloat::rmNearestTiesToEven);
  Value upperLimit = constant(limit), lowerLimit = constant(-limit);
  Value r = constant(reciprocal);
  return buildCorrectedQuotient(b, loc, x, constant(-s), r, lowerLimit,
                                upperLimit);
}

/// Steps 3-5 of `quantize` from the quotient: round, add the zero point and
/// saturate to stored values in [qmin, qmax] of `storageType`; NaN gives the
/// zero point.
static Value buildStoredFromQuotient(OpBuilder &b, Location loc,
                                     const Quotient &quotient, Value zeroPoint,
                                     int64_t qminValue, int64_t qmaxValue,
                                     Type storageType, RoundingMode rounding) {
  Value scaled = quotient.value;
  auto computeType = cast<FloatType>(scaled.getType());
  auto workingType = cast<IntegerType>(zeroPoint.getType());
  // 4. Round.
  Value rounded;
  switch (rounding) {
  case RoundingMode::HalfToEven:
    rounded = math::RoundEvenOp::create(b, loc, scaled);
    break;
  case RoundingMode::HalfAwayFromZero:
    rounded = math::RoundOp::create(b, loc, scaled);
    break;
  case RoundingMode::TowardZero:
    rounded = math::TruncOp::create(b, loc, scaled);
    break;
  }
  // 5. Add the zero point and saturate. The float clamp keeps fptosi defined
  // for infinities and huge values without changing the final clamp.
  Value clamped = rounded;
  if (!quotient.bounded) {
    double bound = getFloatClampBound(workingType);
    Value lowerBound =
        arith::ConstantOp::create(b, loc, FloatAttr::get(computeType, -bound));
    Value upperBound =
        arith::ConstantOp::create(b, loc, FloatAttr::get(computeType, bound));
    clamped = arith::MinimumFOp::create(
        b, loc, arith::MaximumFOp::create(b, loc, rounded, lowerBound),
        upperBound);
  }
  Value integer = arith::FPToSIOp::create(b, loc, workingType, clamped);
  Value shifted = arith::AddIOp::create(b, loc, integer, zeroPoint);
  Value qmin = arith::ConstantOp::create(
      b, loc, IntegerAttr::get(workingType, qminValue));
  Value qmax = arith::ConstantOp::create(
      b, loc, IntegerAttr::get(workingType, qmaxValue));
  Value saturated = arith::MinSIOp::create(
      b, loc, arith::MaxSIOp::create(b, loc, shifted, qmin), qmax);
  // 3. NaN gives the zero point.
  Value isNaN = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNO,
                                      quotient.nanSource, quotient.nanSource);
  Value stored = arith::SelectOp::create(b, loc, isNaN, zeroPoint, saturated);
  return arith::TruncIOp::create(b, loc, storageType, stored);
}

/// `quantize(x)`, steps 1-5 of docs/Semantics.md, on one element, to
/// stored values in [qmin, qmax] of `storageType`.
static Value buildQuantizeElement(OpBuilder &b, Location loc, Value x,
                                  Value scale, Value zeroPoint,
                                  int64_t qminValue, int64_t qmaxValue,
                                  Type storageType, RoundingMode rounding) {
  auto computeType = cast<FloatType>(scale.getType());
  double bound = getFloatClampBound(cast<IntegerType>(zeroPoint.getType()));
  // 1. Convert to the compute type (exact).
  if (x.getType() != computeType)
    x = arith::ExtFOp::create(b, loc, computeType, x);
  // 2. One IEEE division (the same quotient by an FMA correction where the
  // scale is a constant).
  Quotient quotient = buildQuotientByConstantScale(b, loc, x, scale, qminValue,
                                                   qmaxValue, bound);
  if (!quotient.value) {
    Value divided = arith::DivFOp::create(b, loc, x, scale);
    quotient = {divided, /*bounded=*/false, divided};
  }
  return buildStoredFromQuotient(b, loc, quotient, zeroPoint, qminValue,
                                 qmaxValue, storageType, rounding);
}

static Value buildQuantizeElement(OpBuilder &b, Location loc, Value x,
                                  Value scale, Value zeroPoint,
                                  quant::QuantizedType type,
                                  RoundingMode rounding) {
  return buildQuantizeElement(
      b, loc, x, scale, zeroPoint, type.getStorageTypeMin(),
      type.getStorageTypeMax(), getSignlessStorageType(type), rounding);
}

/// `dequantize(q)`, steps 1-3 of docs/Semantics.md, on one element.
static Value buildDequantizeElement(OpBuilder &b, Location loc, Value stored,
                                    Value scale, Value zeroPoint,
                                    quant::QuantizedType type) {
  auto computeType = cast<FloatType>(scale.getType());
  Type workingType = zeroPoint.getType();
  Value widened = convertScalarToDtype(b, loc, stored, workingType,
                                       /*isUnsignedCast=*/!type.isSigned());
  // 1. d = q - z, exact in the working type.
  Value difference = arith::SubIOp::create(b, loc, widened, zeroPoint);
  // 2. One conversion and one IEEE multiplication in the compute type.
  Value product = arith::MulFOp::create(
      b, loc, arith::SIToFPOp::create(b, loc, computeType, difference), scale);
  // 3. Round to the expressed type.
  Type expressedType = type.getExpressedType();
  if (expressedType == computeType)
    return product;
  return arith::TruncFOp::create(b, loc, expressedType, product);
}

static Value buildQuantize(OpBuilder &b, Location loc, Value input,
                           quant::QuantizedType type, RoundingMode rounding) {
  return buildElementwiseWithParameters(
      b, loc, input, type, getSignlessStorageType(type),
      [&](OpBuilder &nested, Location nestedLoc, Value x, Value scale,
          Value zeroPoint) {
        return buildQuantizeElement(nested, nestedLoc, x, scale, zeroPoint,
                                    type, rounding);
      });
}

static Value buildDequantize(OpBuilder &b, Location loc, Value stored,
                             quant::QuantizedType type) {
  return buildElementwiseWithParameters(
      b, loc, stored, type, type.getExpressedType(),
      [&](OpBuilder &nested, Location nestedLoc, Value q, Value scale,
          Value zeroPoint) {
        return buildDequantizeElement(nested, nestedLoc, q, scale, zeroPoint,
                                      type);
      });
}

static quant::QuantizedType getQuantizedElementType(Value value) {
  return cast<quant::QuantizedType>(
      cast<RankedTensorType>(value.getType()).getElementType());
}

//===----------------------------------------------------------------------===//
// Patterns
//===----------------------------------------------------------------------===//

namespace {

struct QuantizeOpLowering : public OpConversionPattern<QuantizeOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(QuantizeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(
        op, buildQuantize(rewriter, op.getLoc(), adaptor.getInput(),
                          getQuantizedElementType(op), op.getRounding()));
    return success();
  }
};

struct DequantizeOpLowering : public OpConversionPattern<DequantizeOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(DequantizeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(
        op, buildDequantize(rewriter, op.getLoc(), adaptor.getInput(),
                            getQuantizedElementType(op.getInput())));
    return success();
  }
};

/// requantize = quantize(dequantize(q)), literally: two elementwise loops
/// (the input and result may be blocked differently); fusion merges them.
struct RequantizeOpLowering : public OpConversionPattern<RequantizeOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(RequantizeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Value expressed = buildDequantize(rewriter, op.getLoc(), adaptor.getInput(),
                                      getQuantizedElementType(op.getInput()));
    rewriter.replaceOp(op, buildQuantize(rewriter, op.getLoc(), expressed,
                                         getQuantizedElementType(op),
                                         op.getRounding()));
    return success();
  }
};

struct ConstantOpLowering : public OpConversionPattern<ConstantOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(ConstantOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto storageType =
        cast<RankedTensorType>(getTypeConverter()->convertType(op.getType()));
    auto value = cast<TypedAttr>(op.getValue());
    if (value.getType() != storageType) {
      // `ui8` values become the same bits in signless `i8`.
      auto dense = dyn_cast<DenseElementsAttr>(op.getValue());
      if (!dense)
        return rewriter.notifyMatchFailure(
            op, "cannot reinterpret non-dense stored values as signless");
      value = dense.bitcast(storageType.getElementType());
    }
    rewriter.replaceOpWithNewOp<arith::ConstantOp>(op, storageType, value);
    return success();
  }
};

/// `round_R(p / 2^n)` of docs/Semantics.md (qnn.rescale, step 2) on i64,
/// exact: p is below 2^62 in magnitude, so no step overflows.
static Value buildRoundingShift(OpBuilder &b, Location loc, Value p, Value n,
                                RoundingMode rounding) {
  Type i64 = p.getType();
  auto constant = [&](int64_t value) -> Value {
    return arith::ConstantOp::create(b, loc, IntegerAttr::get(i64, value));
  };
  Value one = constant(1);
  // 2^(n-1), half of the divisor (n >= 1).
  Value half =
      arith::ShLIOp::create(b, loc, one, arith::SubIOp::create(b, loc, n, one));
  if (rounding == RoundingMode::HalfToEven) {
    // floor((p + half - 1 + (floor(p / 2^n) & 1)) / 2^n): a remainder above
    // half rounds up, below rounds down, exactly half goes to the even one.
    Value floor = arith::ShRSIOp::create(b, loc, p, n);
    Value odd = arith::AndIOp::create(b, loc, floor, one);
    Value biased = arith::AddIOp::create(
        b, loc,
        arith::AddIOp::create(b, loc, p,
                              arith::SubIOp::create(b, loc, half, one)),
        odd);
    return arith::ShRSIOp::create(b, loc, biased, n);
  }
  // Both other modes round |p| / 2^n and put the sign back.
  Value negative =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, p, constant(0));
  Value magnitude = arith::SelectOp::create(
      b, loc, negative, arith::SubIOp::create(b, loc, constant(0), p), p);
  if (rounding == RoundingMode::HalfAwayFromZero)
    magnitude = arith::AddIOp::create(b, loc, magnitude, half);
  Value shifted = arith::ShRSIOp::create(b, loc, magnitude, n);
  return arith::SelectOp::create(
      b, loc, negative, arith::SubIOp::create(b, loc, constant(0), shifted),
      shifted);
}

/// buildRoundingShift's half-to-even `round(p / 2^n)` for n >= 32, as the
/// i32 it fits in: the biased sum's high word (bits 32..63, its floor
/// division by 2^32) shifted right by n - 32 in i32 (`shift32`, n as i32).
/// The same value; on x86 the final shift and the narrowing are one
/// `vpsravd` on whole vectors of words and a shuffle of high words instead
/// of a 64-bit arithmetic shift per lane (which AVX2 lacks: three
/// instructions) and a narrowing of its results.
static Value buildHalfToEvenShiftFrom32(OpBuilder &b, Location loc, Value p,
                                        Value n, Value shift32) {
  Type i64 = p.getType();
  Type i32 = b.getI32Type();
  Value one = arith::ConstantOp::create(b, loc, IntegerAttr::get(i64, 1));
  Value nMinusOne = arith::SubIOp::create(b, loc, n, one);
  Value half = arith::ShLIOp::create(b, loc, one, nMinusOne);
  // Bit n of p: floor(p / 2^n) & 1, the parity a tie rounds to.
  Value shifted = arith::ShRUIOp::create(b, loc, p, n);
  Value odd = arith::AndIOp::create(b, loc, shifted, one);
  Value halfMinusOne = arith::SubIOp::create(b, loc, half, one);
  Value sum = arith::AddIOp::create(b, loc, p, halfMinusOne);
  Value biased = arith::AddIOp::create(b, loc, sum, odd);
  Value thirtyTwo =
      arith::ConstantOp::create(b, loc, IntegerAttr::get(i64, 32));
  Value high = arith::ShRUIOp::create(b, loc, biased, thirtyTwo);
  Value word = arith::TruncIOp::create(b, loc, i32, high);
  Value thirtyTwo32 =
      arith::ConstantOp::create(b, loc, IntegerAttr::get(i32, 32));
  Value rest = arith::SubIOp::create(b, loc, shift32, thirtyTwo32);
  return arith::ShRSIOp::create(b, loc, word, rest);
}

/// A closed interval of integers, for bounding an accumulator.
struct Interval {
  int64_t lo, hi;
  int64_t magnitude() const { return std::max(std::abs(lo), std::abs(hi)); }
};

/// The values `value` can take, if a dense integer constant's.
static std::optional<Interval> getConstantInterval(Value value) {
  DenseIntElementsAttr dense;
  if (!matchPattern(value, m_Constant(&dense)) || dense.empty())
    return std::nullopt;
  Interval range{std::numeric_limits<int64_t>::max(),
                 std::numeric_limits<int64_t>::min()};
  for (const APInt &element : dense) {
    int64_t v = element.getSExtValue();
    range.lo = std::min(range.lo, v);
    range.hi = std::max(range.hi, v);
  }
  return range;
}

/// Bounds of the values an integer contraction's body adds per reduction
/// step, by interval arithmetic over its ops from the inputs' ranges (a
/// constant's values; else all of the element type, extended as the body
/// extends it); nullopt for anything else than constants, extensions,
/// additions, subtractions and multiplications of up to 32 bits.
static std::optional<Interval> getBodyInterval(linalg::GenericOp op,
                                               Value value) {
  if (auto arg = dyn_cast<BlockArgument>(value)) {
    if (arg.getOwner() != op.getBody() ||
        arg.getArgNumber() >= op.getNumDpsInputs())
      return std::nullopt;
    if (std::optional<Interval> constant =
            getConstantInterval(op.getDpsInputs()[arg.getArgNumber()]))
      return constant;
    auto type = dyn_cast<IntegerType>(arg.getType());
    if (!type || type.getWidth() > 32)
      return std::nullopt;
    int64_t width = type.getWidth();
    return Interval{-(int64_t(1) << (width - 1)),
                    (int64_t(1) << (width - 1)) - 1};
  }
  auto type = dyn_cast<IntegerType>(value.getType());
  if (!type || type.getWidth() > 32)
    return std::nullopt;
  // A constant, in the body or above it (a zero point).
  APInt constant;
  if (matchPattern(value, m_ConstantInt(&constant)))
    return Interval{constant.getSExtValue(), constant.getSExtValue()};
  Operation *def = value.getDefiningOp();
  if (!def || def->getBlock() != op.getBody())
    return std::nullopt;
  if (auto ext = dyn_cast<arith::ExtSIOp>(def))
    return getBodyInterval(op, ext.getIn());
  if (auto ext = dyn_cast<arith::ExtUIOp>(def)) {
    std::optional<Interval> in = getBodyInterval(op, ext.getIn());
    if (!in)
      return std::nullopt;
    if (in->lo >= 0)
      return in;
    int64_t width = ext.getIn().getType().getIntOrFloatBitWidth();
    return Interval{0, (int64_t(1) << width) - 1};
  }
  if (!isa<arith::AddIOp, arith::SubIOp, arith::MulIOp>(def))
    return std::nullopt;
  std::optional<Interval> a = getBodyInterval(op, def->getOperand(0));
  std::optional<Interval> b = getBodyInterval(op, def->getOperand(1));
  if (!a || !b)
    return std::nullopt;
  // Operands of up to 32 bits: no bound below overflows int64.
  if (isa<arith::AddIOp>(def))
    return Interval{a->lo + b->lo, a->hi + b->hi};
  if (isa<arith::SubIOp>(def))
    return Interval{a->lo - b->hi, a->hi - b->lo};
  int64_t products[] = {a->lo * b->lo, a->lo * b->hi, a->hi * b->lo,
                        a->hi * b->hi};
  return Interval{*llvm::min_element(products), *llvm::max_element(products)};
}

/// A bound on |acc| for an accumulator computed by an integer contraction
/// (`out + f(inputs)` summed over its reduction loops, from an init that is
/// a constant, a fill of one or the broadcast of one): the init's
/// magnitude plus the reduction's length times the step's; nullopt where
/// it cannot tell.
static std::optional<int64_t> getAccumulatorBound(Value acc) {
  auto op = acc.getDefiningOp<linalg::GenericOp>();
  if (!op || op.getNumDpsInits() != 1 || op.getNumReductionLoops() == 0 ||
      op.hasDynamicShape())
    return std::nullopt;
  auto yield = cast<linalg::YieldOp>(op.getBody()->getTerminator());
  auto add = yield.getValues()[0].getDefiningOp<arith::AddIOp>();
  BlockArgument out = op.getBody()->getArguments().back();
  if (!add || (add.getLhs() != out && add.getRhs() != out) ||
      llvm::count(add->getOperands(), out) != 1)
    return std::nullopt;
  Value step = add.getLhs() == out ? add.getRhs() : add.getLhs();
  std::optional<Interval> perStep = getBodyInterval(op, step);
  if (!perStep)
    return std::nullopt;
  int64_t steps = 1;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  for (auto [range, iterator] : llvm::zip(ranges, op.getIteratorTypesArray()))
    if (iterator == utils::IteratorType::reduction)
      steps *= range;
  // The init: a constant, a fill of one, or a generic that broadcasts one.
  Value init = op.getDpsInits()[0];
  std::optional<Interval> start;
  if (auto fill = init.getDefiningOp<linalg::FillOp>()) {
    APInt value;
    if (matchPattern(fill.getInputs()[0], m_ConstantInt(&value)))
      start = Interval{value.getSExtValue(), value.getSExtValue()};
  } else if (auto broadcast = init.getDefiningOp<linalg::GenericOp>()) {
    Block *body = broadcast.getBody();
    if (broadcast.getNumDpsInputs() == 1 &&
        broadcast.getNumReductionLoops() == 0 &&
        cast<linalg::YieldOp>(body->getTerminator()).getValues()[0] ==
            body->getArgument(0))
      start = getConstantInterval(broadcast.getDpsInputs()[0]);
  } else {
    start = getConstantInterval(init);
  }
  if (!start || steps > (int64_t(1) << 20) ||
      perStep->magnitude() > (int64_t(1) << 32) ||
      start->magnitude() > (int64_t(1) << 32))
    return std::nullopt;
  return start->magnitude() + steps * perStep->magnitude();
}

/// The storage range of `type`, narrowed by a `clamp` attribute if any.
static std::pair<int64_t, int64_t>
getClampedRange(quant::QuantizedType type,
                std::optional<ArrayRef<int64_t>> clamp) {
  int64_t lo = type.getStorageTypeMin(), hi = type.getStorageTypeMax();
  if (clamp) {
    lo = std::max(lo, (*clamp)[0]);
    hi = std::min(hi, (*clamp)[1]);
  }
  return {lo, hi};
}

/// Step 3 of qnn.rescale and qnn.add: the zero point, the saturation to
/// [lo, hi] and the truncation to the storage type, on i64.
static Value buildStoredValue(OpBuilder &b, Location loc, Value rounded,
                              int64_t zeroPoint,
                              std::pair<int64_t, int64_t> range,
                              IntegerType storageType) {
  Type i64 = rounded.getType();
  auto constant = [&](int64_t value) -> Value {
    return arith::ConstantOp::create(b, loc, IntegerAttr::get(i64, value));
  };
  Value shifted = arith::AddIOp::create(b, loc, rounded, constant(zeroPoint));
  Value saturated = arith::MinSIOp::create(
      b, loc, arith::MaxSIOp::create(b, loc, shifted, constant(range.first)),
      constant(range.second));
  return arith::TruncIOp::create(b, loc, storageType, saturated);
}

/// buildStoredValue for a rounded value known to fit in i32 with room for
/// the zero point: clamped to [lo - z, hi - z] in i32, then z added (the
/// same as adding z and clamping to [lo, hi]).
static Value buildStoredValueFromI32(OpBuilder &b, Location loc, Value rounded,
                                     int64_t zeroPoint,
                                     std::pair<int64_t, int64_t> range,
                                     IntegerType storageType) {
  Type i32 = b.getI32Type();
  auto constant = [&](int64_t value) -> Value {
    return arith::ConstantOp::create(b, loc, IntegerAttr::get(i32, value));
  };
  // One op per statement: the IR comes out in the same order whichever
  // order the C++ compiler evaluates arguments in.
  Value narrow = rounded.getType() == i32
                     ? rounded
                     : arith::TruncIOp::create(b, loc, i32, rounded);
  Value lo = constant(range.first - zeroPoint);
  Value hi = constant(range.second - zeroPoint);
  Value atLeastLo = arith::MaxSIOp::create(b, loc, narrow, lo);
  Value saturated = arith::MinSIOp::create(b, loc, atLeastLo, hi);
  Value zero = constant(zeroPoint);
  Value stored = arith::AddIOp::create(b, loc, saturated, zero);
  return arith::TruncIOp::create(b, loc, storageType, stored);
}

/// qnn.rescale: one elementwise loop over the accumulator, the multipliers
/// and shifts read along `axis` when there are several.
struct RescaleOpLowering : public OpConversionPattern<RescaleOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(RescaleOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto resultType = cast<quant::UniformQuantizedType>(
        getQuantizedElementType(op.getResult()));
    auto inputType = op.getInput().getType();
    Type i64 = rewriter.getI64Type();
    std::pair<int64_t, int64_t> range =
        getClampedRange(resultType, op.getClamp());
    auto constant = [&](OpBuilder &b, int64_t value) -> Value {
      return arith::ConstantOp::create(b, loc, IntegerAttr::get(i64, value));
    };

    unsigned rank = inputType.getRank();
    AffineMap identity = rewriter.getMultiDimIdentityMap(rank);

    IntegerType storageType = getSignlessStorageType(resultType);
    Value init = buildEmptyLike(rewriter, loc, adaptor.getInput(), storageType);
    SmallVector<utils::IteratorType> iterators(rank,
                                               utils::IteratorType::parallel);
    RoundingMode rounding = op.getRounding();
    int64_t zeroPoint = resultType.getZeroPoint();
    // An i32 accumulator times m < 2^31 is below 2^62 in magnitude: shifted
    // right by 32 or more and rounded, it is below 2^30 + 1, so the zero
    // point and the clamp of a storage type of up to 16 bits can be done in
    // i32 (vpmaxsd, where AVX2 has no 64-bit min/max), with the same result.
    bool roundedFitsI32 =
        inputType.getElementType().getIntOrFloatBitWidth() <= 32 &&
        storageType.getWidth() <= 16 &&
        llvm::all_of(op.getShifts(), [](int32_t n) { return n >= 32; });
    // Where |a| * m stays below 2^53 (an accumulator bounded by its
    // contraction: attention's, a dense layer's), p = a * m and p / 2^n are
    // exact in f64, and so is round-half-to-even of that: the rescale is
    // roundeven(f64(a) * (m / 2^n)), one multiplication by a constant per
    // lane instead of 64-bit integer arithmetic (which x86 vectors do in
    // half as many lanes, with no 64-bit arithmetic shift on AVX2).
    bool exactInF64 = false;
    if (roundedFitsI32 && rounding == RoundingMode::HalfToEven &&
        inputType.getElementType().isInteger(32)) {
      if (std::optional<int64_t> bound = getAccumulatorBound(op.getInput())) {
        int32_t largest =
            *llvm::max_element(op.getMultipliers(), [](int32_t x, int32_t y) {
              return std::abs(int64_t(x)) < std::abs(int64_t(y));
            });
        exactInF64 =
            static_cast<double>(*bound) * std::abs(int64_t(largest)) < 0x1p53;
      }
    }
    if (exactInF64) {
      // The multipliers and shifts as one f64 factor each, m * 2^-n: both
      // exact (m < 2^31, n <= 63).
      SmallVector<double> factors;
      for (auto [m, n] : llvm::zip(op.getMultipliers(), op.getShifts()))
        factors.push_back(std::ldexp(static_cast<double>(m), -n));
      SmallVector<Value> f64Inputs = {adaptor.getInput()};
      SmallVector<AffineMap> f64Maps = {identity};
      Value scalarFactor;
      if (std::optional<int64_t> axis = op.getAxis()) {
        auto factorType = RankedTensorType::get(
            {static_cast<int64_t>(factors.size())}, rewriter.getF64Type());
        f64Inputs.push_back(arith::ConstantOp::create(
            rewriter, loc,
            DenseElementsAttr::get(factorType, ArrayRef<double>(factors))));
        f64Maps.push_back(AffineMap::get(
            rank, 0, getAffineDimExpr(*axis, rewriter.getContext())));
      } else {
        scalarFactor = arith::ConstantOp::create(
            rewriter, loc, rewriter.getF64FloatAttr(factors[0]));
      }
      f64Maps.push_back(identity);
      auto generic = linalg::GenericOp::create(
          rewriter, loc, init.getType(), f64Inputs, init, f64Maps, iterators,
          [&](OpBuilder &b, Location nestedLoc, ValueRange args) {
            Value factor = scalarFactor ? scalarFactor : args[1];
            Value wide =
                arith::SIToFPOp::create(b, nestedLoc, b.getF64Type(), args[0]);
            Value scaled = arith::MulFOp::create(b, nestedLoc, wide, factor);
            Value rounded = math::RoundEvenOp::create(b, nestedLoc, scaled);
            Value word =
                arith::FPToSIOp::create(b, nestedLoc, b.getI32Type(), rounded);
            linalg::YieldOp::create(b, nestedLoc,
                                    buildStoredValueFromI32(b, nestedLoc, word,
                                                            zeroPoint, range,
                                                            storageType));
          });
      rewriter.replaceOp(op, generic.getResult(0));
      return success();
    }

    SmallVector<Value> inputs = {adaptor.getInput()};
    SmallVector<AffineMap> maps = {identity};
    Value scalarMultiplier, scalarShift;
    if (std::optional<int64_t> axis = op.getAxis()) {
      // Stored as the i32 they are and sign-extended in the body: an i64
      // product of two sign-extended i32 is one vpmuldq on x86, where an
      // i64 x i64 one is three multiplications.
      auto parameterType = RankedTensorType::get(
          {static_cast<int64_t>(op.getMultipliers().size())},
          rewriter.getI32Type());
      inputs.push_back(arith::ConstantOp::create(
          rewriter, loc,
          DenseElementsAttr::get(parameterType, op.getMultipliers())));
      inputs.push_back(arith::ConstantOp::create(
          rewriter, loc,
          DenseElementsAttr::get(parameterType, op.getShifts())));
      AffineMap channel = AffineMap::get(
          rank, 0, getAffineDimExpr(*axis, rewriter.getContext()));
      maps.append({channel, channel});
    } else {
      scalarMultiplier = constant(rewriter, op.getMultipliers()[0]);
      scalarShift = constant(rewriter, op.getShifts()[0]);
    }
    maps.push_back(identity);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, init.getType(), inputs, init, maps, iterators,
        [&](OpBuilder &b, Location nestedLoc, ValueRange args) {
          Value multiplier =
              scalarMultiplier
                  ? scalarMultiplier
                  : arith::ExtSIOp::create(b, nestedLoc, i64, args[1]);
          Value shift =
              scalarShift ? scalarShift
                          : arith::ExtSIOp::create(b, nestedLoc, i64, args[2]);
          // 1. p = a * m, exact in i64.
          Value accumulator = args[0];
          if (accumulator.getType() != i64)
            accumulator =
                arith::ExtSIOp::create(b, nestedLoc, i64, accumulator);
          Value product =
              arith::MulIOp::create(b, nestedLoc, accumulator, multiplier);
          // 2. One rounding of p / 2^n.
          Value rounded;
          if (roundedFitsI32 && rounding == RoundingMode::HalfToEven) {
            Value shift32 =
                scalarShift
                    ? arith::ConstantOp::create(
                          b, nestedLoc, b.getI32IntegerAttr(op.getShifts()[0]))
                          .getResult()
                    : args[2];
            rounded = buildHalfToEvenShiftFrom32(b, nestedLoc, product, shift,
                                                 shift32);
          } else {
            rounded =
                buildRoundingShift(b, nestedLoc, product, shift, rounding);
          }
          // 3. Zero point, then the (clamped) storage range.
          linalg::YieldOp::create(
              b, nestedLoc,
              roundedFitsI32
                  ? buildStoredValueFromI32(b, nestedLoc, rounded, zeroPoint,
                                            range, storageType)
                  : buildStoredValue(b, nestedLoc, rounded, zeroPoint, range,
                                     storageType));
        });
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};

/// qnn.add: one elementwise loop, exact in i64 (docs/Semantics.md).
struct AddOpLowering : public OpConversionPattern<AddOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(AddOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto lhsType =
        cast<quant::UniformQuantizedType>(getQuantizedElementType(op.getLhs()));
    auto rhsType =
        cast<quant::UniformQuantizedType>(getQuantizedElementType(op.getRhs()));
    auto resultType = cast<quant::UniformQuantizedType>(
        getQuantizedElementType(op.getResult()));
    std::pair<int64_t, int64_t> range =
        getClampedRange(resultType, op.getClamp());
    auto tensorType = cast<RankedTensorType>(op.getType());
    IntegerType storageType = getSignlessStorageType(resultType);
    Value init = buildEmptyLike(rewriter, loc, adaptor.getLhs(), storageType);
    unsigned rank = tensorType.getRank();
    AffineMap identity = rewriter.getMultiDimIdentityMap(rank);
    Type i64 = rewriter.getI64Type();
    ArrayRef<int32_t> multipliers = op.getMultipliers();
    int64_t shift = op.getShift();
    RoundingMode rounding = op.getRounding();
    auto generic = linalg::GenericOp::create(
        rewriter, loc, init.getType(),
        ValueRange{adaptor.getLhs(), adaptor.getRhs()}, init,
        SmallVector<AffineMap>(3, identity),
        SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
        [&](OpBuilder &b, Location nestedLoc, ValueRange args) {
          auto constant = [&](int64_t value) -> Value {
            return arith::ConstantOp::create(b, nestedLoc,
                                             IntegerAttr::get(i64, value));
          };
          // (q - z) * m for one operand, exact in i64.
          auto term = [&](Value stored, quant::UniformQuantizedType type,
                          int64_t multiplier) -> Value {
            Value wide =
                convertScalarToDtype(b, nestedLoc, stored, i64,
                                     /*isUnsignedCast=*/!type.isSigned());
            Value centered = arith::SubIOp::create(
                b, nestedLoc, wide, constant(type.getZeroPoint()));
            return arith::MulIOp::create(b, nestedLoc, centered,
                                         constant(multiplier));
          };
          Value sum = arith::AddIOp::create(
              b, nestedLoc, term(args[0], lhsType, multipliers[0]),
              term(args[1], rhsType, multipliers[1]));
          Value rounded =
              buildRoundingShift(b, nestedLoc, sum, constant(shift), rounding);
          linalg::YieldOp::create(b, nestedLoc,
                                  buildStoredValue(b, nestedLoc, rounded,
                                                   resultType.getZeroPoint(),
                                                   range, storageType));
        });
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Dynamic quantization (docs/Semantics.md, "Dynamic quantization")
//===----------------------------------------------------------------------===//

/// Run-time parameters of shape `parameterType` (the data's rank, size 1 on
/// reduced axes) are computed and read in their collapsed form, which
/// keeps only the kept axes: every loop then indexes them with a projected
/// permutation, which tiles and vectorizes.
struct DynamicParameterLayout {
  SmallVector<bool> kept;
  SmallVector<ReassociationIndices> reassociation;
  RankedTensorType collapsedType;

  DynamicParameterLayout(RankedTensorType dataType,
                         RankedTensorType parameterType) {
    SmallVector<int64_t> keptAxes =
        getDynamicParameterAxes(parameterType.getShape(), reassociation);
    kept.assign(parameterType.getRank(), false);
    SmallVector<int64_t> collapsedShape;
    for (int64_t axis : keptAxes) {
      kept[axis] = true;
      collapsedShape.push_back(parameterType.getDimSize(axis));
    }
    collapsedType =
        RankedTensorType::get(collapsedShape, parameterType.getElementType());
  }

  /// The map from the data's loops to the collapsed parameters.
  AffineMap getMap(MLIRContext *ctx) const {
    SmallVector<AffineExpr> results;
    for (auto [axis, isKept] : llvm::enumerate(kept))
      if (isKept)
        results.push_back(getAffineDimExpr(axis, ctx));
    return AffineMap::get(kept.size(), 0, results, ctx);
  }

  Value collapse(OpBuilder &b, Location loc, Value parameters) const {
    auto type = cast<RankedTensorType>(parameters.getType());
    return tensor::CollapseShapeOp::create(
        b, loc,
        RankedTensorType::get(collapsedType.getShape(), type.getElementType()),
        parameters, reassociation);
  }

  Value expand(OpBuilder &b, Location loc, Value collapsed,
               RankedTensorType type) const {
    return tensor::ExpandShapeOp::create(b, loc, type, collapsed,
                                         reassociation);
  }

  /// An empty collapsed tensor of `elementType`; dynamic sizes from `data`.
  Value buildEmpty(OpBuilder &b, Location loc, Value data,
                   Type elementType) const {
    SmallVector<OpFoldResult> sizes;
    for (auto [axis, isKept] : llvm::enumerate(kept))
      if (isKept)
        sizes.push_back(tensor::getMixedSize(b, loc, data, axis));
    return tensor::EmptyOp::create(b, loc, sizes, elementType);
  }
};

/// An f32 constant (`value` rounded to f32).
static Value f32Constant(OpBuilder &b, Location loc, double value) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
}

/// Step 2 of qnn.dynamic_quantize (docs/Semantics.md) from the group's range
/// (`{max |x|}` when symmetric, `{lo, hi}` otherwise): the scale `s` and the
/// zero point `z`, in f32 and i32.
static std::pair<Value, Value>
buildDynamicParameters(OpBuilder &b, Location loc, ValueRange range,
                       bool symmetric, int64_t qminValue, int64_t qmaxValue) {
  auto f32Constant = [&](double value) { return ::f32Constant(b, loc, value); };
  Value one = f32Constant(1.0);
  if (symmetric) {
    // s = m / qmax, or 1 when m = 0; z = 0.
    Value m = range[0];
    Value isEmpty = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, m,
                                          f32Constant(0.0));
    Value s = arith::DivFOp::create(b, loc, m, f32Constant(double(qmaxValue)));
    s = arith::SelectOp::create(b, loc, isEmpty, one, s);
    Value z = arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(0));
    return {s, z};
  }
  // s = (hi - lo) / (qmax - qmin), or 1 when hi = lo;
  // z = round_half_even(clamp(qmin - lo / s, qmin, qmax)).
  Value lo = range[0], hi = range[1];
  Value isEmpty =
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, hi, lo);
  Value width = arith::SubFOp::create(b, loc, hi, lo);
  Value s = arith::DivFOp::create(b, loc, width,
                                  f32Constant(double(qmaxValue - qminValue)));
  s = arith::SelectOp::create(b, loc, isEmpty, one, s);
  Value qmin = f32Constant(double(qminValue));
  Value qmax = f32Constant(double(qmaxValue));
  Value shifted =
      arith::SubFOp::create(b, loc, qmin, arith::DivFOp::create(b, loc, lo, s));
  Value clamped = arith::MinimumFOp::create(
      b, loc, arith::MaximumFOp::create(b, loc, shifted, qmin), qmax);
  Value z = arith::FPToSIOp::create(b, loc, b.getI32Type(),
                                    math::RoundEvenOp::create(b, loc, clamped));
  return {s, z};
}

/// What `buildCorrectedQuotient` needs to compute `RN(x / s)` for a run-time
/// f32 scale `s` as `RN((x * p) / (s * p))`: the pre-scale `p`, `-(s * p)`,
/// `RN(1 / (s * p))` and -+`RN(bound/2 * s * p)`.
struct DivisionFreeScale {
  Value preScale, negatedScale, reciprocal, lowerLimit, upperLimit;
};

/// One division per group instead of one per element (docs/Semantics.md,
/// "Without a division"). The correction needs a scale in [2^-60, 2^60]; a
/// dynamic scale is neither NaN nor negative, and outside that range it is
/// brought inside by a power of two `p` (2^100 below, 2^-100 above), which
/// changes neither the quotient nor, where `x * p` is exact, the dividend:
/// the group's finite `x` lie within 2^16 `s`, so `x * 2^100` is exact,
/// and `x * 2^-100` is inexact only below 2^-26, where `|x / s| < 2^-86`
/// rounds to 0 either way. `s = 0` (a range narrower than 255 * 2^-150)
/// takes `p = 2^127` and `s * p = 2^-60` instead: every nonzero `x` then
/// saturates, as `x / 0 = +-Inf` does, and 0 gives the zero point, as
/// `0 / 0 = NaN` does. `s = +Inf` (a range wider than f32) takes `p = 0`
/// and `s * p = 1`: every finite `x` gives 0, as `x / Inf` does, and an
/// infinite one NaN, as `Inf / Inf` does.
static DivisionFreeScale buildDivisionFreeScale(OpBuilder &b, Location loc,
                                                Value s, double bound) {
  auto f32Constant = [&](double value) { return ::f32Constant(b, loc, value); };
  auto compare = [&](arith::CmpFPredicate predicate, double value) {
    return arith::CmpFOp::create(b, loc, predicate, s, f32Constant(value));
  };
  auto select = [&](Value condition, Value ifTrue, Value ifFalse) -> Value {
    return arith::SelectOp::create(b, loc, condition, ifTrue, ifFalse);
  };
  Value isZero = compare(arith::CmpFPredicate::OEQ, 0.0);
  Value isTiny = compare(arith::CmpFPredicate::OLT, std::ldexp(1.0, -60));
  Value isHuge = compare(arith::CmpFPredicate::OGT, std::ldexp(1.0, 60));
  Value isInfinite = compare(arith::CmpFPredicate::OEQ,
                             std::numeric_limits<double>::infinity());
  // One op per statement: the IR's order does not depend on the compiler's
  // order of evaluating arguments.
  Value one = f32Constant(1.0);
  Value preScale = select(isHuge, f32Constant(std::ldexp(1.0, -100)), one);
  preScale = select(isInfinite, f32Constant(0.0), preScale);
  preScale = select(isTiny, f32Constant(std::ldexp(1.0, 100)), preScale);
  preScale = select(isZero, f32Constant(std::ldexp(1.0, 127)), preScale);
  Value scaled = arith::MulFOp::create(b, loc, s, preScale);
  scaled = select(isInfinite, one, scaled);
  scaled = select(isZero, f32Constant(std::ldexp(1.0, -60)), scaled);
  Value reciprocal = arith::DivFOp::create(b, loc, one, scaled);
  Value limit = arith::MulFOp::create(
      b, loc, scaled, f32Constant(std::ldexp(1.0, std::ilogb(bound) - 1)));
  Value negatedScale = arith::NegFOp::create(b, loc, scaled);
  Value negatedLimit = arith::NegFOp::create(b, loc, limit);
  return {preScale, negatedScale, reciprocal, negatedLimit, limit};
}

/// qnn.dynamic_quantize: a reduction for the range of each group, an
/// elementwise loop over the groups for (s, z), and the quantization loop.
struct DynamicQuantizeOpLowering
    : public OpConversionPattern<DynamicQuantizeOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(DynamicQuantizeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Value input = adaptor.getInput();
    auto inputType = cast<RankedTensorType>(input.getType());
    int64_t rank = inputType.getRank();
    DynamicParameterLayout layout(inputType, op.getScale().getType());
    AffineMap identity = rewriter.getMultiDimIdentityMap(rank);
    AffineMap parameterMap = layout.getMap(ctx);
    Type f32 = rewriter.getF32Type(), i32 = rewriter.getI32Type();
    bool symmetric = op.getSymmetric();
    // Plain variables, not structured bindings: the lambdas below capture
    // them (a C++20 extension for bindings).
    int64_t qminValue, qmaxValue;
    std::tie(qminValue, qmaxValue) = op.getStorageRange();

    // 1. lo = min(0, finite x) and hi = max(0, finite x) per group (only
    // max |x| when symmetric): starting from 0 and reading a non-finite
    // element as 0 ignores it.
    Value zero = f32Constant(rewriter, loc, 0.0);
    Value emptyRange = layout.buildEmpty(rewriter, loc, input, f32);
    Value zeros =
        linalg::FillOp::create(rewriter, loc, zero, emptyRange).getResult(0);
    SmallVector<utils::IteratorType> reductionIterators;
    for (bool isKept : layout.kept)
      reductionIterators.push_back(isKept ? utils::IteratorType::parallel
                                          : utils::IteratorType::reduction);
    unsigned numRanges = symmetric ? 1 : 2;
    SmallVector<Value> rangeInits(numRanges, zeros);
    SmallVector<Type> rangeTypes(numRanges, zeros.getType());
    SmallVector<AffineMap> rangeMaps = {identity};
    rangeMaps.append(numRanges, parameterMap);
    auto ranges = linalg::GenericOp::create(
        rewriter, loc, rangeTypes, ValueRange{input}, rangeInits, rangeMaps,
        reductionIterators,
        [&](OpBuilder &b, Location nestedLoc, ValueRange args) {
          Value x = args[0];
          // Neither operand of the min / max below is NaN (the values start
          // at 0, non-finite elements read as 0), and the sign of a zero
          // bound changes neither s nor z (step 2): min(num) / max(num)
          // with these flags are one vminps / vmaxps per vector, where
          // minimumf / maximumf (NaN and -0 < +0 handled) took five
          // instructions each.
          auto fastMath = arith::FastMathFlagsAttr::get(
              b.getContext(),
              arith::FastMathFlags::nnan | arith::FastMathFlags::nsz);
          Value magnitude = math::AbsFOp::create(b, nestedLoc, x);
          Value isFinite = arith::CmpFOp::create(
              b, nestedLoc, arith::CmpFPredicate::OLT, magnitude,
              f32Constant(b, loc, std::numeric_limits<double>::infinity()));
          Value finiteZero = f32Constant(b, loc, 0.0);
          if (symmetric) {
            Value v = arith::SelectOp::create(b, nestedLoc, isFinite, magnitude,
                                              finiteZero);
            linalg::YieldOp::create(b, nestedLoc,
                                    ValueRange{arith::MaxNumFOp::create(
                                        b, nestedLoc, args[1], v, fastMath)});
            return;
          }
          Value v =
              arith::SelectOp::create(b, nestedLoc, isFinite, x, finiteZero);
          linalg::YieldOp::create(
              b, nestedLoc,
              ValueRange{
                  arith::MinNumFOp::create(b, nestedLoc, args[1], v, fastMath),
                  arith::MaxNumFOp::create(b, nestedLoc, args[2], v,
                                           fastMath)});
        });

    // 2. (s, z) per group, in f32, and what step 3 divides by instead of s.
    unsigned collapsedRank = layout.collapsedType.getRank();
    AffineMap groupIdentity = rewriter.getMultiDimIdentityMap(collapsedRank);
    SmallVector<AffineMap> parameterMaps(numRanges + 7, groupIdentity);
    Value emptyScale = layout.buildEmpty(rewriter, loc, input, f32);
    Value emptyZeroPoint = layout.buildEmpty(rewriter, loc, input, i32);
    double bound = getFloatClampBound(rewriter.getI32Type());
    assert(isWithinQuarterBound(qminValue, qmaxValue, bound) &&
           "dynamic storage has at most 16 bits");
    SmallVector<Value> parameterInits = {emptyScale, emptyZeroPoint};
    parameterInits.append(5, emptyScale);
    auto parameters = linalg::GenericOp::create(
        rewriter, loc, ValueRange(parameterInits).getTypes(),
        ranges.getResults(), parameterInits, parameterMaps,
        SmallVector<utils::IteratorType>(collapsedRank,
                                         utils::IteratorType::parallel),
        [&](OpBuilder &b, Location nestedLoc, ValueRange args) {
          auto [s, z] =
              buildDynamicParameters(b, nestedLoc, args.take_front(numRanges),
                                     symmetric, qminValue, qmaxValue);
          DivisionFreeScale divisor =
              buildDivisionFreeScale(b, nestedLoc, s, bound);
          linalg::YieldOp::create(
              b, nestedLoc,
              ValueRange{s, z, divisor.preScale, divisor.negatedScale,
                         divisor.reciprocal, divisor.lowerLimit,
                         divisor.upperLimit});
        });
    Value scale = parameters.getResult(0);
    Value zeroPoint = parameters.getResult(1);

    // 3. q = quantize(x) with the group's (s, z): the quotient x / s as
    // x * p / (s * p), without a division (docs/Semantics.md, "Without a
    // division").
    Type storageType = op.getResult().getType().getElementType();
    Value emptyStored = buildEmptyLike(rewriter, loc, input, storageType);
    SmallVector<Value> quantizeInputs = {input, zeroPoint};
    quantizeInputs.append(parameters.getResults().begin() + 2,
                          parameters.getResults().end());
    SmallVector<AffineMap> quantizeMaps = {identity};
    quantizeMaps.append(6, parameterMap);
    quantizeMaps.push_back(identity);
    auto quantized = linalg::GenericOp::create(
        rewriter, loc, emptyStored.getType(), quantizeInputs,
        ValueRange{emptyStored}, quantizeMaps,
        SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
        [&](OpBuilder &b, Location nestedLoc, ValueRange args) {
          Value x = args[0], z = args[1], preScale = args[2];
          Value negatedScale = args[3], reciprocal = args[4];
          Value lowerLimit = args[5], upperLimit = args[6];
          Value scaled = arith::MulFOp::create(b, nestedLoc, x, preScale);
          Quotient quotient =
              buildCorrectedQuotient(b, nestedLoc, scaled, negatedScale,
                                     reciprocal, lowerLimit, upperLimit);
          linalg::YieldOp::create(
              b, nestedLoc,
              buildStoredFromQuotient(b, nestedLoc, quotient, z, qminValue,
                                      qmaxValue, storageType,
                                      RoundingMode::HalfToEven));
        });
    rewriter.replaceOp(
        op,
        {quantized.getResult(0),
         layout.expand(rewriter, loc, scale, op.getScale().getType()),
         layout.expand(rewriter, loc, zeroPoint, op.getZeroPoint().getType())});
    return success();
  }
};

/// qnn.dynamic_dequantize: one elementwise loop, f32(q - z) * s.
struct DynamicDequantizeOpLowering
    : public OpConversionPattern<DynamicDequantizeOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(DynamicDequantizeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value input = adaptor.getInput();
    auto inputType = cast<RankedTensorType>(input.getType());
    int64_t rank = inputType.getRank();
    DynamicParameterLayout layout(inputType, op.getScale().getType());
    AffineMap identity = rewriter.getMultiDimIdentityMap(rank);
    AffineMap parameterMap = layout.getMap(rewriter.getContext());
    Value scale = layout.collapse(rewriter, loc, adaptor.getScale());
    Value zeroPoint = layout.collapse(rewriter, loc, adaptor.getZeroPoint());
    Value empty = buildEmptyLike(rewriter, loc, input, rewriter.getF32Type());
    bool isUnsigned = op.getIsUnsigned();
    auto generic = linalg::GenericOp::create(
        rewriter, loc, empty.getType(), ValueRange{input, scale, zeroPoint},
        ValueRange{empty},
        ArrayRef<AffineMap>{identity, parameterMap, parameterMap, identity},
        SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
        [&](OpBuilder &b, Location nestedLoc, ValueRange args) {
          Value widened = convertScalarToDtype(b, nestedLoc, args[0],
                                               b.getI32Type(), isUnsigned);
          Value difference =
              arith::SubIOp::create(b, nestedLoc, widened, args[2]);
          Value product = arith::MulFOp::create(
              b, nestedLoc,
              arith::SIToFPOp::create(b, nestedLoc, b.getF32Type(), difference),
              args[1]);
          linalg::YieldOp::create(b, nestedLoc, product);
        });
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};

/// Outside of calibration runs, an observer is the identity.
struct ObserveOpLowering : public OpConversionPattern<ObserveOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(ObserveOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, adaptor.getInput());
    return success();
  }
};

/// Upstream `quant.scast` reinterprets stored values as quantized values or
/// back; on storage types both sides are the same value.
struct StorageCastOpLowering
    : public OpConversionPattern<quant::StorageCastOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(quant::StorageCastOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Type resultType = getTypeConverter()->convertType(op.getType());
    if (adaptor.getInput().getType() != resultType)
      return rewriter.notifyMatchFailure(op, "storage types differ");
    rewriter.replaceOp(op, adaptor.getInput());
    return success();
  }
};

/// `result[i] = codebook[i_axis, zext(codes[i])]` (docs/Semantics.md,
/// qnn.lookup): one parallel loop over the codes, each element a
/// `tensor.extract` from the table (stored values or floats).
struct LookupOpLowering : public OpConversionPattern<LookupOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(LookupOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto resultType =
        cast<RankedTensorType>(getTypeConverter()->convertType(op.getType()));
    Value codes = adaptor.getCodes();
    Value table = adaptor.getCodebook();
    int64_t axis = op.getAxis();
    Value init =
        buildEmptyLike(rewriter, loc, codes, resultType.getElementType());
    AffineMap identity = rewriter.getMultiDimIdentityMap(resultType.getRank());
    SmallVector<utils::IteratorType> iterators(resultType.getRank(),
                                               utils::IteratorType::parallel);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, init.getType(), ValueRange{codes}, ValueRange{init},
        ArrayRef<AffineMap>{identity, identity}, iterators,
        [&](OpBuilder &b, Location nestedLoc, ValueRange args) {
          // Codes are unsigned: zero-extend to an index.
          Value column = arith::IndexCastUIOp::create(
              b, nestedLoc, b.getIndexType(), args[0]);
          Value row = linalg::IndexOp::create(b, nestedLoc, axis);
          Value entry = tensor::ExtractOp::create(b, nestedLoc, table,
                                                  ValueRange{row, column});
          linalg::YieldOp::create(b, nestedLoc, entry);
        });
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};

} // namespace

void qnn::populateQNNToLinalgConversionPatterns(
    const TypeConverter &typeConverter, RewritePatternSet &patterns) {
  patterns.add<QuantizeOpLowering, DequantizeOpLowering, RequantizeOpLowering,
               RescaleOpLowering, AddOpLowering, ConstantOpLowering,
               ObserveOpLowering, StorageCastOpLowering, LookupOpLowering,
               DynamicQuantizeOpLowering, DynamicDequantizeOpLowering>(
      typeConverter, patterns.getContext());
}

//===----------------------------------------------------------------------===//
// Pass
//===----------------------------------------------------------------------===//

namespace {
struct ConvertQNNToLinalgPass
    : public qnn::impl::ConvertQNNToLinalgPassBase<ConvertQNNToLinalgPass> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    QuantizedToStorageTypeConverter typeConverter;
    RewritePatternSet patterns(ctx);
    ConversionTarget target(*ctx);

    populateQNNToLinalgConversionPatterns(typeConverter, patterns);
    populateFunctionOpInterfaceTypeConversionPattern<func::FuncOp>(
        patterns, typeConverter);
    populateCallOpTypeConversionPattern(patterns, typeConverter);
    populateReturnOpTypeConversionPattern(patterns, typeConverter);
    scf::populateSCFStructuralTypeConversionsAndLegality(typeConverter,
                                                         patterns, target);

    target.addIllegalDialect<QNNDialect>();
    target.addIllegalOp<quant::StorageCastOp>();
    // Any other op is legal once no quantized type is left on it.
    target.markUnknownOpDynamicallyLegal([&](Operation *op) {
      if (auto function = dyn_cast<FunctionOpInterface>(op))
        if (auto type = dyn_cast<FunctionType>(function.getFunctionType()))
          if (!typeConverter.isSignatureLegal(type))
            return false;
      return typeConverter.isLegal(op) &&
             llvm::all_of(op->getRegions(), [&](Region &region) {
               return typeConverter.isLegal(&region);
             });
    });

    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
