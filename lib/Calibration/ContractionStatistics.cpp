//===- ContractionStatistics.cpp - Input moments of contractions ---------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Reads the contraction statistics file (docs/Quantization.md, "Data-driven
// repair"); python/quant_opt/weight_rounding.py writes it.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Calibration/ContractionStatistics.h"

#include "JSONSupport.h"

#include "llvm/Support/JSON.h"

#include <map>

using namespace mlir;
using namespace mlir::qnn;
namespace json = llvm::json;
using detail::checkKeys;

static constexpr llvm::StringLiteral kFormat =
    "quant-opt-contraction-statistics";

namespace mlir::qnn {
/// {"count", "mean", "second_moment", "max_abs"?}.
bool fromJSON(const json::Value &value, ContractionStatistics &statistics,
              json::Path path) {
  json::ObjectMapper mapper(value, path);
  if (!mapper ||
      !checkKeys(*value.getAsObject(),
                 {"count", "mean", "second_moment", "max_abs"}, path))
    return false;
  detail::Count count;
  std::vector<detail::FiniteNumber> mean, secondMoment, maxAbs;
  if (!mapper.map("count", count) || !mapper.map("mean", mean) ||
      !mapper.map("second_moment", secondMoment) ||
      !mapper.mapOptional("max_abs", maxAbs))
    return false;
  for (auto [index, number] : llvm::enumerate(maxAbs))
    if (number.value < 0) {
      path.field("max_abs").index(index).report(
          "expected a non-negative number");
      return false;
    }
  if (count.value == 0) {
    path.field("count").report("expected a positive count");
    return false;
  }
  statistics.count = count.value;
  for (const detail::FiniteNumber &number : mean)
    statistics.mean.push_back(number.value);
  for (const detail::FiniteNumber &number : secondMoment)
    statistics.secondMoment.push_back(number.value);
  for (const detail::FiniteNumber &number : maxAbs)
    statistics.maxAbs.push_back(number.value);
  return true;
}
} // namespace mlir::qnn

/// The file: {"format", "version", "layers"}.
static bool readContractionStatisticsValue(const json::Value &value,
                                           ContractionStatisticsMap &statistics,
                                           json::Path path) {
  json::ObjectMapper mapper(value, path);
  // The other statistics file, given where this one is expected (both are
  // "statistics=" options): say which is which.
  if (const json::Object *object = value.getAsObject())
    if (std::optional<StringRef> format = object->getString("format");
        format && *format == "quant-opt-calibration-statistics") {
      path.field("format").report(
          "this is a calibration statistics file (quant-run --calibrate); "
          "this pass reads contraction statistics "
          "(\"quant-opt-contraction-statistics\", docs/Quantization.md: "
          "quant-eval computes them for --float-passes)");
      return false;
    }
  if (!mapper ||
      !detail::checkHeader(*value.getAsObject(), kFormat,
                           "expected \"quant-opt-contraction-statistics\"",
                           {"layers"}, path))
    return false;
  std::map<std::string, ContractionStatistics> layers;
  if (!mapper.map("layers", layers))
    return false;
  for (auto &[id, layer] : layers)
    statistics[id] = std::move(layer);
  return true;
}

llvm::Expected<ContractionStatisticsMap>
qnn::parseContractionStatistics(StringRef text, StringRef fileName) {
  return detail::parseFile<ContractionStatisticsMap>(
      text, fileName, readContractionStatisticsValue);
}

llvm::Expected<ContractionStatisticsMap>
qnn::readContractionStatistics(StringRef path) {
  llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      detail::readFile(path, "contraction statistics");
  if (!buffer)
    return buffer.takeError();
  return parseContractionStatistics((*buffer)->getBuffer(), path);
}
