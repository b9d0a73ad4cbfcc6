//===- QNNToLinalg.h - Lower qnn to linalg on integers ----------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Patterns and type converter that lower the qnn ops and quantized types to
// linalg/arith on integer storage (docs/Semantics.md).
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_OPT_CONVERSION_QNNTOLINALG_QNNTOLINALG_H
#define QUANT_OPT_CONVERSION_QNNTOLINALG_QNNTOLINALG_H

#include "mlir/Transforms/DialectConversion.h"

namespace mlir::qnn {

/// Maps each quantized type to its storage: a tensor of quantized elements
/// to the same tensor of signless storage integers, a quantized scalar to
/// its signless storage integer. Every other type is kept.
class QuantizedToStorageTypeConverter : public TypeConverter {
public:
  QuantizedToStorageTypeConverter();
};

/// Collects the patterns lowering `qnn.quantize`, `qnn.dequantize`,
/// `qnn.requantize`, `qnn.constant` and `qnn.observe` to linalg, arith, math
/// and tensor ops on storage integers, and upstream `quant.scast` (a
/// reinterpretation of stored values) to nothing.
void populateQNNToLinalgConversionPatterns(const TypeConverter &typeConverter,
                                           RewritePatternSet &patterns);

} // namespace mlir::qnn

#endif // QUANT_OPT_CONVERSION_QNNTOLINALG_QNNTOLINALG_H
