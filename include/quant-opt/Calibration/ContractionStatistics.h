//===- ContractionStatistics.h - Input moments of contractions --*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The contraction statistics file: for each contraction (by layer id), the
// mean and the second moment of the rows its weights multiply (im2col
// patches of a convolution's input, rows of a matmul's), which GPTQ rounding
// and bias correction read (docs/Quantization.md, "Data-driven repair").
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_OPT_CALIBRATION_CONTRACTIONSTATISTICS_H
#define QUANT_OPT_CALIBRATION_CONTRACTIONSTATISTICS_H

#include "mlir/Support/LLVM.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"

#include <cstdint>

namespace mlir::qnn {

/// One contraction's input statistics, in the layout of its weights without
/// the output-channel axis (row-major).
struct ContractionStatistics {
  /// The number of rows averaged.
  int64_t count = 0;
  /// The mean row: K values.
  SmallVector<double> mean;
  /// The mean outer product of the rows: K x K values, row-major (for a
  /// depthwise convolution, C blocks of KH*KW x KH*KW).
  SmallVector<double> secondMoment;
  /// The largest |value| of each of the K columns of the rows (optional in
  /// the file: empty when absent; SmoothQuant's activation maxima).
  SmallVector<double> maxAbs;
};

/// By layer id.
using ContractionStatisticsMap = llvm::StringMap<ContractionStatistics>;

/// Reads a "quant-opt-contraction-statistics" file; errors name the file
/// and the JSON path.
llvm::Expected<ContractionStatisticsMap>
readContractionStatistics(StringRef path);

llvm::Expected<ContractionStatisticsMap>
parseContractionStatistics(StringRef json, StringRef fileName);

} // namespace mlir::qnn

#endif // QUANT_OPT_CALIBRATION_CONTRACTIONSTATISTICS_H
