//===- QNNOps.cpp - qnn dialect operations --------------------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Verifiers and folders of the qnn operations. Folders compute with the
// scalar semantics of QNNSemantics.h, so a folded constant holds the same bits
// the lowered program would compute.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Dialect/QNN/IR/QNNOps.h"
#include "quant-opt/Dialect/QNN/IR/QNNSemantics.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace mlir::qnn;
using llvm::APFloat;
using llvm::APInt;

static quant::QuantizedType getQuantizedElementType(Type tensorType) {
  return cast<quant::QuantizedType>(
      cast<RankedTensorType>(tensorType).getElementType());
}

/// Checks that the quantized element type of `tensorType` (the op's `role`,
/// "input" or "result") is valid for the tensor's shape.
static LogicalResult verifyQuantizedTensor(Operation *op, Type tensorType,
                                           StringRef role) {
  auto type = cast<RankedTensorType>(tensorType);
  return verifyQuantizedTensorType(
      [&]() { return op->emitOpError() << role << " type: "; },
      getQuantizedElementType(type), type.getShape());
}

/// Checks that the float side of a cast is the quantized type's expressed
/// type.
static LogicalResult verifyExpressedType(Operation *op, Type floatTensorType,
                                         StringRef floatRole,
                                         Type quantizedTensorType) {
  Type floatType = cast<RankedTensorType>(floatTensorType).getElementType();
  quant::QuantizedType quantizedType =
      getQuantizedElementType(quantizedTensorType);
  if (floatType != quantizedType.getExpressedType())
    return op->emitOpError()
           << floatRole << " element type " << floatType
           << " does not match the expressed type "
           << quantizedType.getExpressedType() << " of " << quantizedType;
  return success();
}

/// Builds the attribute holding `storedValues` for a tensor of
/// `quantizedTensorType`.
static DenseElementsAttr
buildStoredValuesAttr(RankedTensorType quantizedTensorType,
                      ArrayRef<int64_t> storedValues) {
  quant::QuantizedType type = getQuantizedElementType(quantizedTensorType);
  unsigned width = type.getStorageTypeIntegralWidth();
  SmallVector<APInt> bits = llvm::map_to_vector(storedValues, [&](int64_t v) {
    return APInt(width, v, /*isSigned=*/type.isSigned());
  });
  return DenseElementsAttr::get(
      getStoredValuesType(quantizedTensorType, /*explicitSignedness=*/true),
      bits);
}

//===----------------------------------------------------------------------===//
// QuantizeOp
//===----------------------------------------------------------------------===//

LogicalResult QuantizeOp::verify() {
  if (failed(
          verifyExpressedType(*this, getInput().getType(), "input", getType())))
    return failure();
  return verifyQuantizedTensor(*this, getType(), "result");
}

OpFoldResult QuantizeOp::fold(FoldAdaptor adaptor) {
  RankedTensorType resultType = getType();
  quant::QuantizedType type = getQuantizedElementType(resultType);

  // quantize(dequantize(q)) gives back q when the round trip is exact.
  if (auto dequantize = getInput().getDefiningOp<DequantizeOp>())
    if (dequantize.getInput().getType() == resultType &&
        isExactRoundTrip(type, getRounding()))
      return dequantize.getInput();

  // Quantize a float constant (dense or dense_resource) at compile time.
  if (!adaptor.getInput() || !resultType.hasStaticShape())
    return {};
  QuantizationParameters parameters(type, resultType.getShape());
  RoundingMode rounding = getRounding();
  auto dense = dyn_cast<DenseFPElementsAttr>(adaptor.getInput());
  if (dense && dense.isSplat() && parameters.getScales().size() == 1) {
    int64_t stored =
        quantizeValue(dense.getSplatValue<APFloat>(), parameters.getScale(0),
                      parameters.getZeroPoint(0), type, rounding);
    return DenseElementsAttr::get(
        getStoredValuesType(resultType, /*explicitSignedness=*/true),
        APInt(type.getStorageTypeIntegralWidth(), stored, type.isSigned()));
  }
  std::optional<SmallVector<APFloat>> values =
      getFloatElements(adaptor.getInput());
  if (!values)
    return {};
  SmallVector<int64_t> storedValues;
  storedValues.reserve(resultType.getNumElements());
  for (auto [index, value] : llvm::enumerate(*values))
    storedValues.push_back(quantizeValue(value, parameters.getScale(index),
                                         parameters.getZeroPoint(index), type,
                                         rounding));
  return buildStoredValuesAttr(resultType, storedValues);
}

//===----------------------------------------------------------------------===//
// DequantizeOp
//===----------------------------------------------------------------------===//

LogicalResult DequantizeOp::verify() {
  if (failed(verifyExpressedType(*this, getType(), "result",
                                 getInput().getType())))
    return failure();
  return verifyQuantizedTensor(*this, getInput().getType(), "input");
}

//===----------------------------------------------------------------------===//
// RequantizeOp
//===----------------------------------------------------------------------===//

LogicalResult RequantizeOp::verify() {
  quant::QuantizedType inputType =
      getQuantizedElementType(getInput().getType());
  quant::QuantizedType resultType = getQuantizedElementType(getType());
  if (inputType.getExpressedType() != resultType.getExpressedType())
    return emitOpError() << "input expressed type "
                         << inputType.getExpressedType()
                         << " differs from result expressed type "
                         << resultType.getExpressedType();
  if (failed(verifyQuantizedTensor(*this, getInput().getType(), "input")))
    return failure();
  return verifyQuantizedTensor(*this, getType(), "result");
}

/// Whether requantizing T1 -> T2 -> T3 gives, for every stored value of T1,
/// what T1 -> T3 gives. Checked exhaustively with the op's own arithmetic,
/// so only for per-tensor types of at most 16 bits.
static bool isExactChain(quant::QuantizedType first,
                         quant::QuantizedType second,
                         quant::QuantizedType third, RoundingMode innerRounding,
                         RoundingMode outerRounding) {
  auto t1 = dyn_cast<quant::UniformQuantizedType>(first);
  auto t2 = dyn_cast<quant::UniformQuantizedType>(second);
  auto t3 = dyn_cast<quant::UniformQuantizedType>(third);
  if (!t1 || !t2 || !t3 || t1.getStorageTypeIntegralWidth() > 16)
    return false;
  for (int64_t q = t1.getStorageTypeMin(); q <= t1.getStorageTypeMax(); ++q) {
    APFloat x = dequantizeValue(q, t1.getScale(), t1.getZeroPoint(), t1);
    int64_t direct =
        quantizeValue(x, t3.getScale(), t3.getZeroPoint(), t3, outerRounding);
    int64_t middle =
        quantizeValue(x, t2.getScale(), t2.getZeroPoint(), t2, innerRounding);
    APFloat y = dequantizeValue(middle, t2.getScale(), t2.getZeroPoint(), t2);
    if (quantizeValue(y, t3.getScale(), t3.getZeroPoint(), t3, outerRounding) !=
        direct)
      return false;
  }
  return true;
}

OpFoldResult RequantizeOp::fold(FoldAdaptor adaptor) {
  RankedTensorType resultType = getType();
  quant::QuantizedType outType = getQuantizedElementType(resultType);
  quant::QuantizedType inType = getQuantizedElementType(getInput().getType());
  if (getInput().getType() == resultType &&
      isExactRoundTrip(outType, getRounding()))
    return getInput();

  // requantize(requantize(q)) is one requantize when no value tells them
  // apart.
  if (auto inner = getInput().getDefiningOp<RequantizeOp>()) {
    quant::QuantizedType first =
        getQuantizedElementType(inner.getInput().getType());
    if (isExactChain(first, inType, outType, inner.getRounding(),
                     getRounding())) {
      getInputMutable().assign(inner.getInput());
      return getResult();
    }
  }

  // Requantize a quantized constant at compile time.
  auto input = dyn_cast_if_present<DenseIntElementsAttr>(adaptor.getInput());
  if (!input || !resultType.hasStaticShape())
    return {};
  QuantizationParameters inParameters(inType, resultType.getShape());
  QuantizationParameters outParameters(outType, resultType.getShape());
  SmallVector<int64_t> storedValues;
  storedValues.reserve(resultType.getNumElements());
  for (auto [index, bits] : llvm::enumerate(input.getValues<APInt>())) {
    APFloat value = dequantizeValue(getStoredValue(bits, inType),
                                    inParameters.getScale(index),
                                    inParameters.getZeroPoint(index), inType);
    storedValues.push_back(quantizeValue(value, outParameters.getScale(index),
                                         outParameters.getZeroPoint(index),
                                         outType, getRounding()));
  }
  return buildStoredValuesAttr(resultType, storedValues);
}

//===----------------------------------------------------------------------===//
// RescaleOp
//===----------------------------------------------------------------------===//

/// Checks a clamp attribute against the storage range of `type`.
static LogicalResult verifyClamp(Operation *op,
                                 std::optional<ArrayRef<int64_t>> clamp,
                                 quant::QuantizedType type) {
  if (!clamp)
    return success();
  if (clamp->size() != 2 || (*clamp)[0] > (*clamp)[1])
    return op->emitOpError() << "clamp must be [lo, hi] with lo <= hi";
  if ((*clamp)[0] < type.getStorageTypeMin() ||
      (*clamp)[1] > type.getStorageTypeMax())
    return op->emitOpError()
           << "clamp [" << (*clamp)[0] << ", " << (*clamp)[1]
           << "] is outside the storage range [" << type.getStorageTypeMin()
           << ", " << type.getStorageTypeMax() << "]";
  return success();
}

LogicalResult RescaleOp::verify() {
  auto resultType =
      dyn_cast<quant::UniformQuantizedType>(getQuantizedElementType(getType()));
  if (!resultType)
    return emitOpError() << "result must have a per-tensor quantized type, got "
                         << getType().getElementType();
  ArrayRef<int32_t> multipliers = getMultipliers();
  ArrayRef<int32_t> shifts = getShifts();
  if (multipliers.empty() || multipliers.size() != shifts.size())
    return emitOpError() << "has " << multipliers.size() << " multipliers and "
                         << shifts.size()
                         << " shifts; expected the same "
                            "number, at least one";
  RankedTensorType inputType = getInput().getType();
  if (std::optional<int64_t> axis = getAxis()) {
    if (*axis < 0 || *axis >= inputType.getRank())
      return emitOpError() << "axis " << *axis
                           << " is out of range for a tensor of rank "
                           << inputType.getRank();
    int64_t size = inputType.getDimSize(*axis);
    if (ShapedType::isDynamic(size) ||
        size != static_cast<int64_t>(multipliers.size()))
      return emitOpError() << "axis " << *axis << " has size "
                           << (ShapedType::isDynamic(size)
                                   ? std::string("?")
                                   : std::to_string(size))
                           << " but there are " << multipliers.size()
                           << " multipliers";
  } else if (multipliers.size() != 1) {
    return emitOpError() << "has " << multipliers.size()
                         << " multipliers but no axis";
  }
  for (int32_t multiplier : multipliers)
    if (multiplier < 0)
      return emitOpError() << "multiplier " << multiplier
                           << " is negative; expected [0, 2^31)";
  for (int32_t shift : shifts)
    if (shift < 1 || shift > 62)
      return emitOpError() << "shift " << shift << " is outside [1, 62]";
  if (failed(verifyClamp(*this, getClamp(), resultType)))
    return failure();
  return verifyQuantizedTensor(*this, getType(), "result");
}

//===----------------------------------------------------------------------===//
// AddOp
//===----------------------------------------------------------------------===//

LogicalResult AddOp::verify() {
  for (auto [role, value] :
       {std::make_pair("lhs", getLhs()), std::make_pair("rhs", getRhs()),
        std::make_pair("result", getResult())}) {
    auto type = getQuantizedElementType(value.getType());
    if (!isa<quant::UniformQuantizedType>(type))
      return emitOpError() << role << " must have a per-tensor quantized type";
    if (type.getStorageTypeIntegralWidth() > 16)
      return emitOpError() << role << " storage is wider than 16 bits";
  }
  if (getMultipliers().size() != 2)
    return emitOpError() << "expected two multipliers, got "
                         << getMultipliers().size();
  for (int32_t multiplier : getMultipliers())
    if (multiplier < 0)
      return emitOpError() << "multiplier " << multiplier
                           << " is negative; expected [0, 2^31)";
  if (getShift() < 1 || getShift() > 62)
    return emitOpError() << "shift " << getShift() << " is outside [1, 62]";
  return verifyClamp(*this, getClamp(), getQuantizedElementType(getType()));
}

//===----------------------------------------------------------------------===//
// DynamicQuantizeOp / DynamicDequantizeOp
//===----------------------------------------------------------------------===//

/// Dynamic parameters: `scale` and `zeroPoint` have `data`'s rank and
/// shape, except that an axis may have size 1 (reduced: one parameter for
/// all its indices); `data` holds 2- to 16-bit stored values.
static LogicalResult verifyDynamicParameters(Operation *op,
                                             RankedTensorType data,
                                             RankedTensorType stored,
                                             RankedTensorType scale,
                                             RankedTensorType zeroPoint) {
  unsigned bits = stored.getElementType().getIntOrFloatBitWidth();
  if (bits < 2 || bits > 16)
    return op->emitOpError()
           << "stored values must be 2- to 16-bit integers, got "
           << stored.getElementType();
  if (scale.getShape() != zeroPoint.getShape())
    return op->emitOpError() << "scale " << scale << " and zero point "
                             << zeroPoint << " must have the same shape";
  if (scale.getRank() != data.getRank())
    return op->emitOpError()
           << "scale " << scale << " must have the rank of " << data
           << " (size 1 on the axes one parameter covers)";
  for (int64_t axis = 0; axis < data.getRank(); ++axis) {
    int64_t size = scale.getDimSize(axis);
    if (size != 1 && size != data.getDimSize(axis))
      return op->emitOpError()
             << "scale axis " << axis << " has size "
             << (ShapedType::isDynamic(size) ? std::string("?")
                                             : std::to_string(size))
             << ": it must be 1 (reduced) or the size of axis " << axis
             << " of " << data;
  }
  return success();
}

std::pair<int64_t, int64_t> DynamicQuantizeOp::getStorageRange() {
  return qnn::getStorageRange(
      getResult().getType().getElementType().getIntOrFloatBitWidth(),
      getIsUnsigned());
}

LogicalResult DynamicQuantizeOp::verify() {
  RankedTensorType input = getInput().getType();
  RankedTensorType result = getResult().getType();
  if (result.getShape() != input.getShape())
    return emitOpError() << "result " << result
                         << " must have the shape of the input " << input;
  if (getSymmetric() && getIsUnsigned())
    return emitOpError()
           << "symmetric dynamic quantization needs signed storage";
  return verifyDynamicParameters(*this, input, result, getScale().getType(),
                                 getZeroPoint().getType());
}

LogicalResult DynamicDequantizeOp::verify() {
  RankedTensorType input = getInput().getType();
  RankedTensorType result = getResult().getType();
  if (result.getShape() != input.getShape())
    return emitOpError() << "result " << result
                         << " must have the shape of the input " << input;
  return verifyDynamicParameters(*this, input, input, getScale().getType(),
                                 getZeroPoint().getType());
}

//===----------------------------------------------------------------------===//
// ObserveOp
//===----------------------------------------------------------------------===//

LogicalResult ObserveOp::verify() {
  if (getId().empty())
    return emitOpError() << "id must not be empty";
  return success();
}

//===----------------------------------------------------------------------===//
// ConstantOp
//===----------------------------------------------------------------------===//

LogicalResult ConstantOp::verify() {
  RankedTensorType resultType = getType();
  quant::QuantizedType type = getQuantizedElementType(resultType);
  if (!resultType.hasStaticShape())
    return emitOpError() << "result type " << resultType
                         << " must have a static shape";
  auto valueType = cast<ShapedType>(getValue().getType());
  if (valueType.getShape() != resultType.getShape())
    return emitOpError() << "value type " << valueType
                         << " does not have the shape of the result type "
                         << resultType;

  unsigned width = type.getStorageTypeIntegralWidth();
  auto elementType = dyn_cast<IntegerType>(valueType.getElementType());
  bool signednessMatches =
      elementType &&
      (elementType.isSignless() || elementType.isSigned() == type.isSigned());
  if (!elementType || elementType.getWidth() != width || !signednessMatches)
    return emitOpError() << "value element type " << valueType.getElementType()
                         << " does not hold the " << width << "-bit "
                         << (type.isSigned() ? "signed" : "unsigned")
                         << " storage of " << type;

  if (auto values = getValue().tryGetValues<APInt>()) {
    for (auto [index, bits] : llvm::enumerate(*values)) {
      int64_t stored = getStoredValue(bits, type);
      if (stored < type.getStorageTypeMin() ||
          stored > type.getStorageTypeMax())
        return emitOpError()
               << "stored value " << stored << " at index " << index
               << " is outside the storage range [" << type.getStorageTypeMin()
               << ", " << type.getStorageTypeMax() << "] of " << type;
    }
  }
  return verifyQuantizedTensor(*this, resultType, "result");
}

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValue(); }

//===----------------------------------------------------------------------===//
// LookupOp
//===----------------------------------------------------------------------===//

LogicalResult LookupOp::verify() {
  RankedTensorType codesType = getCodes().getType();
  RankedTensorType codebookType = getCodebook().getType();
  RankedTensorType resultType = getType();
  unsigned bits = codesType.getElementType().getIntOrFloatBitWidth();
  if (bits < 1 || bits > 8)
    return emitOpError() << "codes must be 1- to 8-bit integers, got "
                         << codesType.getElementType();
  int64_t entries = int64_t(1) << bits;
  if (codebookType.getRank() != 2 || !codebookType.hasStaticShape() ||
      codebookType.getDimSize(1) != entries)
    return emitOpError() << "codebook must be a static [channels, " << entries
                         << "] table for " << bits << "-bit codes, got "
                         << codebookType;
  int64_t axis = getAxis();
  if (axis < 0 || axis >= codesType.getRank())
    return emitOpError() << "axis " << axis
                         << " is out of range for codes of rank "
                         << codesType.getRank();
  int64_t channels = codebookType.getDimSize(0);
  if (codesType.getDimSize(axis) != channels)
    return emitOpError() << "codes axis " << axis << " has size "
                         << (codesType.isDynamicDim(axis)
                                 ? std::string("?")
                                 : std::to_string(codesType.getDimSize(axis)))
                         << " but the codebook has " << channels << " channels";
  if (resultType.getShape() != codesType.getShape())
    return emitOpError() << "result type " << resultType
                         << " does not have the shape of the codes "
                         << codesType;

  Type entryType = codebookType.getElementType();
  Type expected = entryType;
  if (isa<quant::UniformQuantizedSubChannelType>(entryType))
    return emitOpError() << "codebook must hold floats or a per-tensor or "
                            "per-axis quantized type, got "
                         << entryType;
  if (isa<quant::QuantizedType>(entryType) &&
      failed(verifyQuantizedTensor(*this, codebookType, "codebook")))
    return failure();
  if (auto perAxis = dyn_cast<quant::UniformQuantizedPerAxisType>(entryType)) {
    if (perAxis.getQuantizedDimension() != 0)
      return emitOpError() << "codebook's per-axis type must be on axis 0 "
                              "(one scale per channel), got axis "
                           << perAxis.getQuantizedDimension();
    expected = quant::UniformQuantizedPerAxisType::get(
        perAxis.getFlags(), perAxis.getStorageType(),
        perAxis.getExpressedType(), perAxis.getScales(),
        perAxis.getZeroPoints(), axis, perAxis.getStorageTypeMin(),
        perAxis.getStorageTypeMax());
  }
  if (resultType.getElementType() != expected)
    return emitOpError() << "result element type "
                         << resultType.getElementType() << " must be "
                         << expected << " for a codebook of " << entryType
                         << " on axis " << axis;
  return success();
}

DenseElementsAttr LookupOp::evaluate(Attribute codes, Attribute codebook) {
  auto codeValues = dyn_cast_if_present<DenseIntElementsAttr>(codes);
  auto table = dyn_cast_if_present<DenseElementsAttr>(codebook);
  RankedTensorType resultType = getType();
  if (!codeValues || !table || !resultType.hasStaticShape())
    return {};
  ArrayRef<int64_t> shape = resultType.getShape();
  int64_t axis = getAxis();
  int64_t inner = 1;
  for (int64_t d = axis + 1; d < resultType.getRank(); ++d)
    inner *= shape[d];
  int64_t channels = shape[axis];
  int64_t entries = table.getType().getDimSize(1);
  // The entry of element `i`: its channel's row, the column its code (read
  // as unsigned) names.
  SmallVector<int64_t> entryIndex;
  entryIndex.reserve(resultType.getNumElements());
  for (auto [i, code] : llvm::enumerate(codeValues.getValues<APInt>()))
    entryIndex.push_back(((int64_t(i) / inner) % channels) * entries +
                         int64_t(code.getZExtValue()));
  if (auto quantized =
          dyn_cast<quant::QuantizedType>(resultType.getElementType())) {
    if (!isa<IntegerType>(table.getElementType()))
      return {};
    SmallVector<APInt> tableBits = llvm::to_vector(table.getValues<APInt>());
    SmallVector<APInt> bits = llvm::map_to_vector(
        entryIndex, [&](int64_t entry) { return tableBits[entry]; });
    return DenseElementsAttr::get(
        getStoredValuesType(resultType, /*explicitSignedness=*/true), bits);
  }
  if (!isa<FloatType>(table.getElementType()))
    return {};
  SmallVector<APFloat> tableValues =
      llvm::to_vector(table.getValues<APFloat>());
  SmallVector<APFloat> values = llvm::map_to_vector(
      entryIndex, [&](int64_t entry) { return tableValues[entry]; });
  return DenseElementsAttr::get(resultType, values);
}

#define GET_OP_CLASSES
#include "quant-opt/Dialect/QNN/IR/QNNOps.cpp.inc"
