//===- Calibration.cpp - Statistics, ranges, parameters -------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Implements docs/Calibration.md: the statistics file, the four range
// methods and the scale / zero-point formulas. All arithmetic is in double
// precision, in the order the document writes it, so that the NumPy
// reference (python/quant_opt/calibration.py) can match it exactly.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Calibration/Calibration.h"

#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MathExtras.h"

#include "JSONSupport.h"
#include "llvm/Support/MemoryBuffer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

using namespace mlir;
using namespace mlir::qnn;
using mlir::qnn::detail::checkKeys;
namespace json = llvm::json;

//===----------------------------------------------------------------------===//
// The statistics file
//===----------------------------------------------------------------------===//

static constexpr llvm::StringLiteral kStatisticsFormat =
    "quant-opt-calibration-statistics";

namespace {
/// A histogram's bins: a non-empty array of counts whose total is an int64
/// too (the range methods sum them).
struct BinCounts {
  SmallVector<int64_t> counts;
};

bool fromJSON(const json::Value &value, BinCounts &bins, json::Path path) {
  const json::Array *array = value.getAsArray();
  if (!array || array->empty()) {
    path.report("expected a non-empty array");
    return false;
  }
  int64_t total = 0;
  for (auto [index, bin] : llvm::enumerate(*array)) {
    detail::Count count;
    if (!detail::fromJSON(bin, count, path.index(index)))
      return false;
    if (llvm::AddOverflow(total, count.value, total)) {
      path.index(index).report("the bins' total exceeds a 64-bit count");
      return false;
    }
    bins.counts.push_back(count.value);
  }
  return true;
}
} // namespace

namespace mlir::qnn {

/// A histogram: {"min", "max", "bins"}, min < max.
static bool fromJSON(const json::Value &value, Histogram &histogram,
                     json::Path path) {
  json::ObjectMapper mapper(value, path);
  detail::FiniteNumber min, max;
  if (!mapper ||
      !checkKeys(*value.getAsObject(), {"min", "max", "bins"}, path) ||
      !mapper.map("min", min) || !mapper.map("max", max))
    return false;
  if (!(min.value < max.value)) {
    path.field("max").report("expected histogram max > histogram min");
    return false;
  }
  BinCounts bins;
  if (!mapper.map("bins", bins))
    return false;
  histogram.min = min.value;
  histogram.max = max.value;
  histogram.bins = std::move(bins.counts);
  return true;
}

/// One tensor: {"min", "max", "count", "histogram"?}, min <= max.
static bool fromJSON(const json::Value &value, TensorStatistics &statistics,
                     json::Path path) {
  json::ObjectMapper mapper(value, path);
  detail::FiniteNumber min, max;
  if (!mapper ||
      !checkKeys(*value.getAsObject(), {"min", "max", "count", "histogram"},
                 path) ||
      !mapper.map("min", min) || !mapper.map("max", max))
    return false;
  if (min.value > max.value) {
    path.field("max").report("expected max >= min");
    return false;
  }
  detail::Count count;
  detail::IfPresent<Histogram> histogram;
  if (!mapper.map("count", count) ||
      !mapper.mapOptional("histogram", histogram))
    return false;
  statistics.min = min.value;
  statistics.max = max.value;
  statistics.count = count.value;
  statistics.histogram = std::move(histogram.value);
  return true;
}

} // namespace mlir::qnn

/// The file: {"format", "version", "tensors"}.
static bool readStatistics(const json::Value &value,
                           CalibrationStatistics &statistics, json::Path path) {
  json::ObjectMapper mapper(value, path);
  if (!mapper ||
      !detail::checkHeader(*value.getAsObject(), kStatisticsFormat,
                           "expected \"quant-opt-calibration-statistics\"",
                           {"tensors"}, path))
    return false;
  std::map<std::string, TensorStatistics> tensors;
  if (!mapper.map("tensors", tensors))
    return false;
  for (auto &[id, tensor] : tensors)
    statistics[id] = std::move(tensor);
  return true;
}

llvm::Expected<CalibrationStatistics>
qnn::parseCalibrationStatistics(StringRef text, StringRef fileName) {
  return detail::parseFile<CalibrationStatistics>(text, fileName,
                                                  readStatistics);
}

llvm::Expected<CalibrationStatistics>
qnn::readCalibrationStatistics(StringRef path) {
  llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      detail::readFile(path, "statistics");
  if (!buffer)
    return buffer.takeError();
  return parseCalibrationStatistics((*buffer)->getBuffer(), path);
}

//===----------------------------------------------------------------------===//
// Scale and zero point
//===----------------------------------------------------------------------===//

int64_t StorageSpec::getMin() const {
  int64_t min = isSigned ? -(int64_t(1) << (bits - 1)) : 0;
  return narrowRange ? min + 1 : min;
}

int64_t StorageSpec::getMax() const {
  return isSigned ? (int64_t(1) << (bits - 1)) - 1 : (int64_t(1) << bits) - 1;
}

QuantizationParams qnn::chooseQuantizationParams(double lo, double hi,
                                                 const StorageSpec &storage) {
  lo = std::min(lo, 0.0);
  hi = std::max(hi, 0.0);
  int64_t qmin = storage.getMin();
  int64_t qmax = storage.getMax();
  QuantizationParams params;
  if (storage.symmetric) {
    // floor((qmin + qmax + 1) / 2) for possibly negative sums.
    int64_t sum = qmin + qmax + 1;
    params.zeroPoint = sum >= 0 ? sum / 2 : -((-sum + 1) / 2);
    double threshold = std::max(std::fabs(lo), std::fabs(hi));
    params.scale = threshold / static_cast<double>(qmax - params.zeroPoint);
  } else {
    params.scale = (hi - lo) / static_cast<double>(qmax - qmin);
    if (params.scale != 0) {
      double shifted =
          static_cast<double>(qmin) - std::nearbyint(lo / params.scale);
      params.zeroPoint = static_cast<int64_t>(std::clamp(
          shifted, static_cast<double>(qmin), static_cast<double>(qmax)));
    } else {
      params.zeroPoint = qmin;
    }
  }
  if (params.scale == 0)
    params.scale = 1;
  return params;
}

//===----------------------------------------------------------------------===//
// Range methods
//===----------------------------------------------------------------------===//

std::optional<RangeMethod> qnn::parseRangeMethod(StringRef name) {
  return llvm::StringSwitch<std::optional<RangeMethod>>(name)
      .Case("minmax", RangeMethod::MinMax)
      .Case("percentile", RangeMethod::Percentile)
      .Case("mse", RangeMethod::MSE)
      .Case("entropy", RangeMethod::Entropy)
      .Default(std::nullopt);
}

StringRef qnn::stringifyRangeMethod(RangeMethod method) {
  switch (method) {
  case RangeMethod::MinMax:
    return "minmax";
  case RangeMethod::Percentile:
    return "percentile";
  case RangeMethod::MSE:
    return "mse";
  case RangeMethod::Entropy:
    return "entropy";
  }
  llvm_unreachable("unknown range method");
}

namespace {
/// A histogram with its bin width and centers spelled out.
struct Bins {
  explicit Bins(const Histogram &histogram)
      : lo(histogram.min), counts(histogram.bins),
        width((histogram.max - histogram.min) /
              static_cast<double>(histogram.bins.size())) {}

  double center(size_t i) const {
    return lo + (static_cast<double>(i) + 0.5) * width;
  }
  size_t size() const { return counts.size(); }

  double lo;
  ArrayRef<int64_t> counts;
  double width;
};
} // namespace

/// Q(u) of docs/Calibration.md: the inverse of the histogram's cumulative
/// distribution, linear inside each bin.
static double inverseCdf(const Bins &bins, double u) {
  double total = 0;
  for (int64_t count : bins.counts)
    total += static_cast<double>(count);
  double target = u * total;
  double before = 0;
  for (size_t i = 0; i < bins.size(); ++i) {
    double count = static_cast<double>(bins.counts[i]);
    if (count > 0 && before + count >= target)
      return bins.lo +
             (static_cast<double>(i) + (target - before) / count) * bins.width;
    before += count;
  }
  return bins.lo + static_cast<double>(bins.size()) * bins.width;
}

/// quantize then dequantize `x` with half-to-even rounding, in double.
static double roundTrip(double x, QuantizationParams params, int64_t qmin,
                        int64_t qmax) {
  double q =
      std::nearbyint(x / params.scale) + static_cast<double>(params.zeroPoint);
  q = std::clamp(q, static_cast<double>(qmin), static_cast<double>(qmax));
  return (q - static_cast<double>(params.zeroPoint)) * params.scale;
}

static constexpr int kNumCandidates = 128;

/// The k-th candidate range of the mse and entropy methods.
static std::pair<double, double>
candidateRange(const TensorStatistics &statistics, bool symmetric, int k) {
  double fraction = static_cast<double>(k) / kNumCandidates;
  if (symmetric) {
    double threshold =
        std::max(std::fabs(statistics.min), std::fabs(statistics.max));
    return {-threshold * fraction, threshold * fraction};
  }
  return {statistics.min * fraction, statistics.max * fraction};
}

static double squaredError(const Bins &bins, QuantizationParams params,
                           int64_t qmin, int64_t qmax) {
  double error = 0;
  for (size_t i = 0; i < bins.size(); ++i) {
    double center = bins.center(i);
    double difference = center - roundTrip(center, params, qmin, qmax);
    error += static_cast<double>(bins.counts[i]) * (difference * difference);
  }
  return error;
}

/// The levels of TensorRT's int8 calibrator (docs/Calibration.md,
/// "entropy").
static constexpr int64_t kEntropyLevels = 128;

/// The histogram of |x| the entropy method works on: `width`-wide bins
/// from 0, each original bin counted in the bin of its center's magnitude;
/// the zero bin then takes the next bin's count (the spike of zeros a ReLU
/// makes would otherwise dominate P). The width is the histogram's, or
/// max(|min|, |max|) / (its bin count) if larger, so that a histogram far
/// from 0 does not make billions of magnitude bins.
static SmallVector<int64_t> magnitudeHistogram(const Bins &bins,
                                               double &width) {
  double magnitude = std::max(
      std::fabs(bins.lo),
      std::fabs(bins.lo + static_cast<double>(bins.size()) * bins.width));
  width = std::max(bins.width, magnitude / static_cast<double>(bins.size()));
  auto magnitudeBin = [&](size_t i) {
    return static_cast<size_t>(std::floor(std::fabs(bins.center(i)) / width));
  };
  size_t size = 1 + std::max(magnitudeBin(0), magnitudeBin(bins.size() - 1));
  SmallVector<int64_t> magnitudes(size, 0);
  for (size_t i = 0; i < bins.size(); ++i)
    magnitudes[magnitudeBin(i)] += bins.counts[i];
  if (magnitudes.size() > 1)
    magnitudes[0] = magnitudes[1];
  return magnitudes;
}

/// KL(P || Q) of the candidate threshold at bin edge `i` of `n`.
static double thresholdDivergence(ArrayRef<int64_t> n, size_t i) {
  // Sums of counts in uint64_t: the counts are non-negative and total at
  // most an int64 (the reader checks), but bin 0 repeats bin 1, so their
  // sums reach up to twice that.
  // P: the first i bins, the outliers added to the last of them.
  SmallVector<uint64_t> p(n.begin(), n.begin() + i);
  for (size_t j = i; j < n.size(); ++j)
    p.back() += n[j];
  // Q: bin j is in level floor(j * 128 / i); each level's total of the
  // original counts is spread over its bins with a count.
  auto level = [&](size_t j) {
    return static_cast<size_t>(static_cast<int64_t>(j) * kEntropyLevels /
                               static_cast<int64_t>(i));
  };
  SmallVector<uint64_t> totals(kEntropyLevels, 0);
  SmallVector<int64_t> nonEmpty(kEntropyLevels, 0);
  for (size_t j = 0; j < i; ++j) {
    totals[level(j)] += n[j];
    nonEmpty[level(j)] += n[j] > 0 ? 1 : 0;
  }
  SmallVector<double> q(i, 0.0);
  for (size_t j = 0; j < i; ++j)
    if (n[j] > 0)
      q[j] = static_cast<double>(totals[level(j)]) /
             static_cast<double>(nonEmpty[level(j)]);
  double pTotal = 0, qTotal = 0;
  for (size_t j = 0; j < i; ++j) {
    pTotal += static_cast<double>(p[j]);
    qTotal += q[j];
  }
  if (pTotal == 0)
    return 0.0; // (the sum over p_j > 0 is empty)
  const double infinity = std::numeric_limits<double>::infinity();
  if (qTotal == 0)
    return infinity;
  double divergence = 0;
  for (size_t j = 0; j < i; ++j) {
    if (p[j] == 0)
      continue;
    if (q[j] == 0)
      return infinity; // clipped mass where Q has none
    double pj = static_cast<double>(p[j]) / pTotal;
    double qj = q[j] / qTotal;
    divergence += pj * std::log(pj / qj);
  }
  return divergence;
}

/// The entropy method's range: TensorRT's threshold search over the
/// magnitude histogram (no threshold that clips more than half of the
/// values), then [-T, T] (symmetric) or [min, max] clipped to it
/// (asymmetric).
static std::pair<double, double>
entropyRange(const TensorStatistics &statistics, const Bins &bins,
             bool symmetric) {
  double width;
  SmallVector<int64_t> magnitudes = magnitudeHistogram(bins, width);
  // No candidate clips more than half of the values: data far from 0 (all
  // in [6.1, 13.1], say) would otherwise score a threshold just above its
  // minimum best (KL 0: P and Q both one spike) and clip everything onto
  // one level.
  // (uint64_t: bin 0 repeats bin 1, so the total can exceed an int64.)
  uint64_t total = 0;
  for (int64_t count : magnitudes)
    total += count;
  size_t median = magnitudes.size();
  uint64_t below = 0;
  for (size_t i = 0; i < magnitudes.size(); ++i) {
    below += magnitudes[i];
    if (below >= total - below) { // (2 * below could overflow)
      median = i + 1;
      break;
    }
  }
  size_t first =
      std::max(std::min<size_t>(kEntropyLevels, magnitudes.size()), median);
  size_t best = magnitudes.size();
  double bestDivergence = thresholdDivergence(magnitudes, best);
  // From the largest threshold down, so that ties keep the larger one.
  for (size_t i = magnitudes.size() - 1; i >= first; --i) {
    double divergence = thresholdDivergence(magnitudes, i);
    if (divergence < bestDivergence) {
      bestDivergence = divergence;
      best = i;
    }
  }
  double threshold = static_cast<double>(best) * width;
  if (symmetric)
    return {-threshold, threshold};
  return {std::max(statistics.min, -threshold),
          std::min(statistics.max, threshold)};
}

llvm::Expected<std::pair<double, double>>
qnn::estimateRange(const TensorStatistics &statistics, RangeMethod method,
                   const StorageSpec &storage, double percentile) {
  if (method == RangeMethod::MinMax)
    return std::make_pair(statistics.min, statistics.max);
  if (!statistics.histogram)
    return llvm::createStringError(llvm::formatv(
        "the '{0}' method needs a histogram", stringifyRangeMethod(method)));
  Bins bins(*statistics.histogram);

  if (method == RangeMethod::Percentile) {
    if (!(percentile >= 50 && percentile <= 100))
      return llvm::createStringError(
          llvm::formatv("percentile {0} is not in [50, 100]", percentile));
    if (llvm::all_of(bins.counts, [](int64_t count) { return count == 0; }))
      return llvm::createStringError("the histogram is empty");
    double lo = inverseCdf(bins, 1.0 - percentile / 100.0);
    double hi = inverseCdf(bins, percentile / 100.0);
    return std::make_pair(std::clamp(lo, statistics.min, statistics.max),
                          std::clamp(hi, statistics.min, statistics.max));
  }

  if (method == RangeMethod::Entropy)
    return entropyRange(statistics, bins, storage.symmetric);

  int64_t qmin = storage.getMin();
  int64_t qmax = storage.getMax();
  std::optional<std::pair<double, double>> best;
  double bestCost = 0;
  // From the largest candidate down, so that ties keep the larger range.
  for (int k = kNumCandidates; k >= 1; --k) {
    auto [lo, hi] = candidateRange(statistics, storage.symmetric, k);
    QuantizationParams params = chooseQuantizationParams(lo, hi, storage);
    double cost = squaredError(bins, params, qmin, qmax);
    if (!best || cost < bestCost) {
      bestCost = cost;
      best = {lo, hi};
    }
  }
  return *best;
}
