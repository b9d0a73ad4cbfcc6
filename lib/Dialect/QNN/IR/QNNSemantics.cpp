//===- QNNSemantics.cpp - Scalar arithmetic of the qnn ops ----------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Implements docs/Semantics.md on single values for the constant folders.
// The arithmetic is done in C++ `float` or `double`, whose operations are
// IEEE round-to-nearest-even on every target we build for (no excess
// precision on x86-64 SSE), exactly as arith.divf / arith.mulf compute.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Dialect/QNN/IR/QNNSemantics.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectResourceBlobManager.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::qnn;
using llvm::APFloat;
using llvm::APInt;

FloatType qnn::getComputeType(quant::QuantizedType type) {
  MLIRContext *ctx = type.getContext();
  if (type.getExpressedType().isF64())
    return Float64Type::get(ctx);
  return Float32Type::get(ctx);
}

SmallVector<int64_t> qnn::getParameterBlockSizes(quant::QuantizedType type,
                                                 ArrayRef<int64_t> shape) {
  // By default one block spans a whole dimension (per-tensor parameters).
  SmallVector<int64_t> blockSizes(shape);
  if (auto perAxis = dyn_cast<quant::UniformQuantizedPerAxisType>(type)) {
    blockSizes[perAxis.getQuantizedDimension()] = 1;
  } else if (auto subChannel =
                 dyn_cast<quant::UniformQuantizedSubChannelType>(type)) {
    for (auto [axis, blockSize] : subChannel.getBlockSizeInfo())
      blockSizes[axis] = blockSize;
  }
  return blockSizes;
}

/// Appends the scales and zero points of `type` in the order of its scale
/// tensor (row-major for sub-channel types).
static void appendParameters(quant::QuantizedType type,
                             SmallVectorImpl<double> &scales,
                             SmallVectorImpl<int64_t> &zeroPoints);

LogicalResult
qnn::verifyQuantizedTensorType(function_ref<InFlightDiagnostic()> emitError,
                               quant::QuantizedType type,
                               ArrayRef<int64_t> shape) {
  // Upstream accepts any zero point; the semantics need z in [qmin, qmax]
  // (NaN quantizes to z, and the lowering's bounds assume it).
  SmallVector<double> scales;
  SmallVector<int64_t> zeroPoints;
  appendParameters(type, scales, zeroPoints);
  for (int64_t zeroPoint : zeroPoints)
    if (zeroPoint < type.getStorageTypeMin() ||
        zeroPoint > type.getStorageTypeMax())
      return emitError() << "zero point " << zeroPoint
                         << " is outside the storage range ["
                         << type.getStorageTypeMin() << ", "
                         << type.getStorageTypeMax() << "] of " << type;

  int64_t rank = shape.size();
  if (auto perAxis = dyn_cast<quant::UniformQuantizedPerAxisType>(type)) {
    int64_t axis = perAxis.getQuantizedDimension();
    int64_t numScales = perAxis.getScales().size();
    if (axis >= rank)
      return emitError() << "channel axis " << axis << " of " << type
                         << " is out of range for a tensor of rank " << rank;
    if (ShapedType::isDynamic(shape[axis]))
      return emitError() << "channel axis " << axis << " of " << type
                         << " must have a static size";
    if (shape[axis] != numScales)
      return emitError() << "channel axis " << axis << " has size "
                         << shape[axis] << " but " << type << " has "
                         << numScales << " scales";
    return success();
  }

  auto subChannel = dyn_cast<quant::UniformQuantizedSubChannelType>(type);
  if (!subChannel)
    return success();
  for (auto [axis, blockSize] : subChannel.getBlockSizeInfo()) {
    // Sub-channel types print as nested braces; the messages leave them out.
    if (axis >= rank)
      return emitError() << "block axis " << axis
                         << " is out of range for a tensor of rank " << rank;
    if (ShapedType::isDynamic(shape[axis]))
      return emitError() << "block axis " << axis << " must have a static size";
    if (shape[axis] % blockSize != 0)
      return emitError() << "block size " << blockSize
                         << " does not divide the size " << shape[axis]
                         << " of axis " << axis;
  }
  ArrayRef<int64_t> scaleShape = subChannel.getScales().getType().getShape();
  if (static_cast<int64_t>(scaleShape.size()) != rank)
    return emitError() << "scale tensor has rank " << scaleShape.size()
                       << " but the tensor has rank " << rank;
  SmallVector<int64_t> blockSizes = getParameterBlockSizes(type, shape);
  for (int64_t axis = 0; axis < rank; ++axis) {
    // A dynamic axis that is not blocked has one block, and so has an axis
    // one block spans (its size may be 0: no division by it).
    int64_t numBlocks =
        ShapedType::isDynamic(shape[axis]) || shape[axis] == blockSizes[axis]
            ? 1
            : shape[axis] / blockSizes[axis];
    if (scaleShape[axis] != numBlocks)
      return emitError() << "scale tensor has " << scaleShape[axis]
                         << " entries along axis " << axis
                         << " but the tensor has " << numBlocks
                         << " blocks there";
  }
  return success();
}

static void appendParameters(quant::QuantizedType type,
                             SmallVectorImpl<double> &scales,
                             SmallVectorImpl<int64_t> &zeroPoints) {
  if (auto perTensor = dyn_cast<quant::UniformQuantizedType>(type)) {
    scales.push_back(perTensor.getScale());
    zeroPoints.push_back(perTensor.getZeroPoint());
    return;
  }
  if (auto perAxis = dyn_cast<quant::UniformQuantizedPerAxisType>(type)) {
    llvm::append_range(scales, perAxis.getScales());
    llvm::append_range(zeroPoints, perAxis.getZeroPoints());
    return;
  }
  auto subChannel = cast<quant::UniformQuantizedSubChannelType>(type);
  for (APFloat scale : subChannel.getScales().getValues<APFloat>()) {
    bool losesInfo;
    scale.convert(APFloat::IEEEdouble(), APFloat::rmNearestTiesToEven,
                  &losesInfo);
    scales.push_back(scale.convertToDouble());
  }
  // Upstream prints a sub-channel type's zero points as signed integers of
  // the storage width whatever its signedness (201 of a u8 type as -55, 12
  // of a u4 as -4), and parses that text back into wider integers (-4 as an
  // 8-bit 252 read unsigned). An unsigned storage's zero point is never
  // negative, so a negative one is the printed form of value + 2^bits.
  int64_t storageValues = int64_t(1) << type.getStorageTypeIntegralWidth();
  for (const APInt &zeroPoint : subChannel.getZeroPoints().getValues<APInt>()) {
    int64_t value = zeroPoint.getSExtValue();
    if (!type.isSigned() && value < 0)
      value += storageValues;
    zeroPoints.push_back(value);
  }
}

QuantizationParameters::QuantizationParameters(quant::QuantizedType type,
                                               ArrayRef<int64_t> shape)
    : shape(shape), blockSizes(getParameterBlockSizes(type, shape)) {
  // A block spanning a whole (possibly dynamic) dimension is one entry.
  for (auto [size, blockSize] : llvm::zip(shape, blockSizes))
    parameterShape.push_back(size == blockSize ? 1 : size / blockSize);
  appendParameters(type, scales, zeroPoints);
}

int64_t QuantizationParameters::getEntry(int64_t linearIndex) const {
  int64_t entry = 0;
  int64_t entryStride = 1;
  // A tensor with a zero-size dimension has no elements; any index of it
  // (a splat's) reads the first entry, with no division by zero.
  if (llvm::is_contained(shape, 0))
    return 0;
  for (int64_t axis = shape.size() - 1; axis >= 0; --axis) {
    int64_t index = linearIndex % shape[axis];
    linearIndex /= shape[axis];
    entry += (index / blockSizes[axis]) * entryStride;
    entryStride *= parameterShape[axis];
  }
  return entry;
}

/// Rounds an integral-or-not value according to `rounding`.
template <typename FloatT>
static FloatT roundValue(FloatT value, RoundingMode rounding) {
  switch (rounding) {
  case RoundingMode::HalfToEven:
    // The default floating-point environment rounds to nearest, ties to even.
    return std::nearbyint(value);
  case RoundingMode::HalfAwayFromZero:
    return std::round(value);
  case RoundingMode::TowardZero:
    return std::trunc(value);
  }
  llvm_unreachable("unknown rounding mode");
}

template <typename FloatT>
static int64_t quantizeInComputeType(FloatT x, FloatT scale, int64_t zeroPoint,
                                     int64_t qmin, int64_t qmax,
                                     RoundingMode rounding) {
  FloatT scaled = x / scale;
  if (std::isnan(scaled))
    return zeroPoint;
  // The clamp compares in double, which holds both the integral `rounded`
  // and the bounds (|bound| < 2^34) exactly, and covers infinities.
  double rounded = roundValue(scaled, rounding);
  if (rounded >= static_cast<double>(qmax - zeroPoint))
    return qmax;
  if (rounded <= static_cast<double>(qmin - zeroPoint))
    return qmin;
  return static_cast<int64_t>(rounded) + zeroPoint;
}

/// Converts `value` to the semantics of `type`, rounding to nearest even.
static APFloat convertTo(APFloat value, FloatType type) {
  bool losesInfo;
  value.convert(type.getFloatSemantics(), APFloat::rmNearestTiesToEven,
                &losesInfo);
  return value;
}

int64_t qnn::quantizeValue(const APFloat &x, double scale, int64_t zeroPoint,
                           quant::QuantizedType type, RoundingMode rounding) {
  int64_t qmin = type.getStorageTypeMin();
  int64_t qmax = type.getStorageTypeMax();
  FloatType computeType = getComputeType(type);
  // Converting the input to the compute type is exact (f16/bf16/f32 -> f32).
  APFloat input = convertTo(x, computeType);
  if (computeType.isF64())
    return quantizeInComputeType<double>(input.convertToDouble(), scale,
                                         zeroPoint, qmin, qmax, rounding);
  return quantizeInComputeType<float>(input.convertToFloat(),
                                      static_cast<float>(scale), zeroPoint,
                                      qmin, qmax, rounding);
}

APFloat qnn::dequantizeValue(int64_t stored, double scale, int64_t zeroPoint,
                             quant::QuantizedType type) {
  auto expressedType = cast<FloatType>(type.getExpressedType());
  int64_t difference = stored - zeroPoint;
  if (getComputeType(type).isF64())
    return APFloat(static_cast<double>(difference) * scale);
  float product = static_cast<float>(difference) * static_cast<float>(scale);
  return convertTo(APFloat(product), expressedType);
}

RankedTensorType qnn::getStoredValuesType(RankedTensorType quantizedTensorType,
                                          bool explicitSignedness) {
  auto type = cast<quant::QuantizedType>(quantizedTensorType.getElementType());
  auto signedness = explicitSignedness && !type.isSigned()
                        ? IntegerType::Unsigned
                        : IntegerType::Signless;
  return quantizedTensorType.clone(IntegerType::get(
      type.getContext(), type.getStorageTypeIntegralWidth(), signedness));
}

std::optional<SmallVector<APFloat>> qnn::getFloatElements(Attribute attr) {
  if (auto dense = dyn_cast<DenseFPElementsAttr>(attr))
    return llvm::to_vector(dense.getValues<APFloat>());
  if (auto blob = dyn_cast<DenseF32ResourceElementsAttr>(attr)) {
    std::optional<ArrayRef<float>> values = blob.tryGetAsArrayRef();
    if (!values)
      return std::nullopt;
    return llvm::map_to_vector(*values, [](float v) { return APFloat(v); });
  }
  if (auto blob = dyn_cast<DenseF64ResourceElementsAttr>(attr)) {
    std::optional<ArrayRef<double>> values = blob.tryGetAsArrayRef();
    if (!values)
      return std::nullopt;
    return llvm::map_to_vector(*values, [](double v) { return APFloat(v); });
  }
  return std::nullopt;
}

int64_t qnn::getStoredValue(const APInt &bits, quant::QuantizedType type) {
  return type.isSigned() ? bits.getSExtValue()
                         : static_cast<int64_t>(bits.getZExtValue());
}

bool qnn::isExactRoundTrip(quant::QuantizedType type, RoundingMode rounding) {
  if (rounding == RoundingMode::TowardZero)
    return false;
  if (type.getStorageTypeIntegralWidth() > 16)
    return false;
  Type expressedType = type.getExpressedType();
  if (!expressedType.isF32() && !expressedType.isF64())
    return false;
  // Verified types have z in [qmin, qmax], so |q - z| < 2^16; require that |q -
  // z| * s stays normal and finite, so the product and the quotient each lose
  // at most half an ulp.
  const llvm::fltSemantics &semantics =
      cast<FloatType>(expressedType).getFloatSemantics();
  double smallestNormal =
      APFloat::getSmallestNormalized(semantics).convertToDouble();
  double largest = APFloat::getLargest(semantics).convertToDouble();
  auto isSafe = [&](double scale) {
    // Judge the scale the arithmetic will use, rounded to the expressed type.
    double rounded = convertTo(APFloat(scale), cast<FloatType>(expressedType))
                         .convertToDouble();
    return rounded >= smallestNormal && std::ldexp(rounded, 17) <= largest;
  };
  SmallVector<double> scales;
  SmallVector<int64_t> zeroPoints;
  appendParameters(type, scales, zeroPoints);
  return llvm::all_of(scales, isSafe);
}

FailureOr<std::pair<int32_t, int32_t>>
qnn::quantizeMultiplier(double multiplier) {
  if (!(multiplier > 0) || !std::isfinite(multiplier))
    return failure();
  int exponent;
  double fraction = std::frexp(multiplier, &exponent);
  int64_t m = static_cast<int64_t>(std::nearbyint(std::ldexp(fraction, 31)));
  if (m == (int64_t(1) << 31)) {
    m = int64_t(1) << 30;
    ++exponent;
  }
  int64_t n = 31 - exponent;
  if (n > 62) {
    n = 62;
    m = static_cast<int64_t>(std::nearbyint(std::ldexp(multiplier, 62)));
  }
  if (n < 1)
    return failure();
  return std::make_pair(static_cast<int32_t>(m), static_cast<int32_t>(n));
}

FailureOr<std::tuple<int32_t, int32_t, int32_t>>
qnn::getAddParameters(double scaleA, double scaleB, double scaleY) {
  double multiplierA = scaleA / scaleY;
  double multiplierB = scaleB / scaleY;
  FailureOr<std::pair<int32_t, int32_t>> larger =
      quantizeMultiplier(std::max(multiplierA, multiplierB));
  if (failed(larger))
    return failure();
  int32_t shift = larger->second;
  auto atShift = [&](double multiplier) {
    return static_cast<int64_t>(std::nearbyint(std::ldexp(multiplier, shift)));
  };
  int64_t a = atShift(multiplierA), b = atShift(multiplierB);
  if (a >= (int64_t(1) << 31) || b >= (int64_t(1) << 31))
    return failure();
  return std::make_tuple(static_cast<int32_t>(a), static_cast<int32_t>(b),
                         shift);
}

SmallVector<int64_t> mlir::qnn::getDynamicParameterAxes(
    ArrayRef<int64_t> parameterShape,
    SmallVectorImpl<SmallVector<int64_t, 2>> &reassociation) {
  reassociation.clear();
  SmallVector<int64_t> kept;
  SmallVector<int64_t, 2> pending;
  for (auto [axis, size] : llvm::enumerate(parameterShape)) {
    pending.push_back(axis);
    // A kept axis takes the unit axes before it into its group.
    if (size != 1) {
      kept.push_back(axis);
      reassociation.push_back(pending);
      pending.clear();
    }
  }
  // Trailing unit axes join the last group.
  if (!pending.empty() && !reassociation.empty())
    llvm::append_range(reassociation.back(), pending);
  return kept;
}

std::pair<int64_t, int64_t> mlir::qnn::getStorageRange(unsigned bits,
                                                       bool isUnsigned) {
  if (isUnsigned)
    return {0, (int64_t(1) << bits) - 1};
  return {-(int64_t(1) << (bits - 1)), (int64_t(1) << (bits - 1)) - 1};
}
