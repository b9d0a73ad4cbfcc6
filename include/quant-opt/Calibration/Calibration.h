//===- Calibration.h - Statistics, ranges, parameters -----------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The calibration statistics file, the range methods and the choice of scale
// and zero point, as docs/Calibration.md defines them.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_OPT_CALIBRATION_CALIBRATION_H
#define QUANT_OPT_CALIBRATION_CALIBRATION_H

#include "mlir/Support/LLVM.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>

namespace mlir::qnn {

/// Equal-width bins over [min, max].
struct Histogram {
  double min = 0;
  double max = 0;
  SmallVector<int64_t> bins;
};

/// What calibration recorded for one observed tensor.
struct TensorStatistics {
  double min = 0;
  double max = 0;
  int64_t count = 0;
  std::optional<Histogram> histogram;
};

/// The contents of a statistics file, by observer id.
using CalibrationStatistics = llvm::StringMap<TensorStatistics>;

/// Reads a statistics file; errors name the file and the JSON path.
llvm::Expected<CalibrationStatistics> readCalibrationStatistics(StringRef path);

/// Parses statistics from `json`; `fileName` only labels the errors.
llvm::Expected<CalibrationStatistics>
parseCalibrationStatistics(StringRef json, StringRef fileName);

/// How an activation range is estimated from statistics.
enum class RangeMethod { MinMax, Percentile, MSE, Entropy };

/// Parses "minmax", "percentile", "mse" or "entropy".
std::optional<RangeMethod> parseRangeMethod(StringRef name);
StringRef stringifyRangeMethod(RangeMethod method);

/// The integer storage and mapping of a quantized type to choose.
struct StorageSpec {
  unsigned bits = 8;
  bool isSigned = true;
  bool symmetric = false;
  bool narrowRange = false;

  int64_t getMin() const;
  int64_t getMax() const;
};

/// A scale and zero point.
struct QuantizationParams {
  double scale = 1;
  int64_t zeroPoint = 0;
};

/// Scale and zero point for values in [lo, hi] (widened to contain zero).
QuantizationParams chooseQuantizationParams(double lo, double hi,
                                            const StorageSpec &storage);

/// Estimates the range of a tensor with `method`. Fails, with a message, when
/// the method needs a histogram and there is none.
llvm::Expected<std::pair<double, double>>
estimateRange(const TensorStatistics &statistics, RangeMethod method,
              const StorageSpec &storage, double percentile);

} // namespace mlir::qnn

#endif // QUANT_OPT_CALIBRATION_CALIBRATION_H
