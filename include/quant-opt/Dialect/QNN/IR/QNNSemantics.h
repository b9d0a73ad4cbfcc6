//===- QNNSemantics.h - Scalar arithmetic of the qnn ops --------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The arithmetic of docs/Semantics.md on single values, and the mapping from
// tensor elements to their scale and zero point. The constant folders compute
// with these functions; the lowering emits IR that follows the same text, and
// both are tested bit for bit against the NumPy reference in python/.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_OPT_DIALECT_QNN_IR_QNNSEMANTICS_H
#define QUANT_OPT_DIALECT_QNN_IR_QNNSEMANTICS_H

#include "quant-opt/Dialect/QNN/IR/QNNDialect.h"
#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/APInt.h"
#include "llvm/ADT/SmallVector.h"

namespace mlir::qnn {

/// Returns the compute type `C` of a quantized type: f64 when its expressed
/// type is f64, f32 otherwise.
FloatType getComputeType(quant::QuantizedType type);

/// Returns, for every dimension of a tensor of `shape` with element type
/// `type`, how many consecutive indices share one scale and zero point: the
/// whole dimension for per-tensor types and for the non-channel axes of
/// per-axis types, 1 along the channel axis, the block size along the blocked
/// axes of sub-channel types. Expects `verifyQuantizedTensorType` to have
/// passed; dynamic dimensions are returned as ShapedType::kDynamic.
SmallVector<int64_t> getParameterBlockSizes(quant::QuantizedType type,
                                            ArrayRef<int64_t> shape);

/// Checks that a tensor of `shape` can carry the quantized element `type`:
/// every zero point lies in the storage range; the channel axis is in range,
/// static and as long as the list of scales; blocked axes are in range and
/// static, their block sizes divide them, and the scale tensor has one entry
/// per block.
LogicalResult
verifyQuantizedTensorType(function_ref<InFlightDiagnostic()> emitError,
                          quant::QuantizedType type, ArrayRef<int64_t> shape);

/// The scales and zero points of a quantized type, laid out as a tensor with
/// one entry per block (shape `shape[d] / blockSizes[d]`), and the lookup of
/// an element's entry. Works for all three uniform types.
class QuantizationParameters {
public:
  /// `shape` must be accepted by `verifyQuantizedTensorType`; only dimensions
  /// that form a single block may be dynamic, and `getScale`/`getZeroPoint`
  /// need a static shape.
  QuantizationParameters(quant::QuantizedType type, ArrayRef<int64_t> shape);

  /// The scale and zero point of the element at `linearIndex` (row-major) of
  /// a tensor of the shape given at construction.
  double getScale(int64_t linearIndex) const {
    return scales[getEntry(linearIndex)];
  }
  int64_t getZeroPoint(int64_t linearIndex) const {
    return zeroPoints[getEntry(linearIndex)];
  }

  ArrayRef<double> getScales() const { return scales; }
  ArrayRef<int64_t> getZeroPoints() const { return zeroPoints; }
  /// Shape of the scale and zero-point tensor: one entry per block.
  ArrayRef<int64_t> getParameterShape() const { return parameterShape; }

private:
  int64_t getEntry(int64_t linearIndex) const;

  SmallVector<int64_t> shape;
  SmallVector<int64_t> blockSizes;
  SmallVector<int64_t> parameterShape;
  SmallVector<double> scales;
  SmallVector<int64_t> zeroPoints;
};

/// Quantizes one value (of the type's expressed type) to a stored value:
/// `clamp(round(x / s) + z, qmin, qmax)` computed in the compute type, NaN
/// gives `z`, infinities saturate.
int64_t quantizeValue(const llvm::APFloat &x, double scale, int64_t zeroPoint,
                      quant::QuantizedType type, RoundingMode rounding);

/// Dequantizes one stored value: `(q - z) * s` computed in the compute type,
/// rounded to the expressed type.
llvm::APFloat dequantizeValue(int64_t stored, double scale, int64_t zeroPoint,
                              quant::QuantizedType type);

/// Returns the tensor type holding the stored values of a quantized tensor
/// type: same shape, integer elements of the storage width. The signedness is
/// explicit (`ui8`) for unsigned storage when `explicitSignedness` is set and
/// signless otherwise (the form arith and linalg compute with).
RankedTensorType getStoredValuesType(RankedTensorType quantizedTensorType,
                                     bool explicitSignedness = false);

/// The values of a float elements attribute, dense or `dense_resource`
/// (f32 and f64 blobs), in row-major order; nullopt for anything else or a
/// blob that is not loaded.
std::optional<SmallVector<llvm::APFloat>> getFloatElements(Attribute attr);

/// Interprets storage bits as a stored value (sign- or zero-extended
/// according to the type's signedness).
int64_t getStoredValue(const llvm::APInt &bits, quant::QuantizedType type);

/// The fixed-point form `(m, n)`, `M ≈ m · 2^-n`, of a real multiplier
/// `M > 0` ("Deriving (m, n)" in docs/Semantics.md); fails for `M >= 2^30`,
/// non-finite or non-positive `M`.
FailureOr<std::pair<int32_t, int32_t>> quantizeMultiplier(double multiplier);

/// The multipliers and common shift `(m_a, m_b, n)` of a qnn.add from
/// `s_a / s_y` and `s_b / s_y` (docs/Semantics.md, qnn.add): the shift of
/// the larger multiplier, both rounded at it.
FailureOr<std::tuple<int32_t, int32_t, int32_t>>
getAddParameters(double scaleA, double scaleB, double scaleY);

/// Whether `dequantize` followed by `quantize` with `rounding` gives back
/// every stored value of `type` (see "Folding" in docs/Semantics.md).
bool isExactRoundTrip(quant::QuantizedType type, RoundingMode rounding);

/// The full range [qmin, qmax] of `bits`-bit signed or unsigned storage.
std::pair<int64_t, int64_t> getStorageRange(unsigned bits, bool isUnsigned);

/// Run-time parameters (qnn.dynamic_quantize's scale and zero point) have
/// the data's rank with size 1 on the axes one parameter covers. Returns
/// the axes they keep (size other than 1) and fills `reassociation` with
/// the groups that collapse the unit axes away (empty for per-tensor
/// parameters, which collapse to rank 0).
SmallVector<int64_t> getDynamicParameterAxes(
    ArrayRef<int64_t> parameterShape,
    SmallVectorImpl<SmallVector<int64_t, 2>> &reassociation);

} // namespace mlir::qnn

#endif // QUANT_OPT_DIALECT_QNN_IR_QNNSEMANTICS_H
