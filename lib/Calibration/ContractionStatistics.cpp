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

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

#include <map>

using namespace mlir;
using namespace mlir::qnn;
namespace json = llvm::json;
using detail::checkKeys;

static constexpr llvm::StringLiteral kFormat =
    "quant-opt-contraction-statistics";

namespace mlir::qnn {
/// {"count", "mean", "second_moment"}.
bool fromJSON(const json::Value &value, ContractionStatistics &statistics,
              json::Path path) {
  json::ObjectMapper mapper(value, path);
  if (!mapper || !checkKeys(*value.getAsObject(),
                            {"count", "mean", "second_moment"}, path))
    return false;
  detail::Count count;
  std::vector<detail::FiniteNumber> mean, secondMoment;
  if (!mapper.map("count", count) || !mapper.map("mean", mean) ||
      !mapper.map("second_moment", secondMoment))
    return false;
  if (count.value == 0) {
    path.field("count").report("expected a positive count");
    return false;
  }
  statistics.count = count.value;
  for (const detail::FiniteNumber &number : mean)
    statistics.mean.push_back(number.value);
  for (const detail::FiniteNumber &number : secondMoment)
    statistics.secondMoment.push_back(number.value);
  return true;
}
} // namespace mlir::qnn

llvm::Expected<ContractionStatisticsMap>
qnn::parseContractionStatistics(StringRef text, StringRef fileName) {
  llvm::Expected<json::Value> value = detail::parseJSON(text, fileName);
  if (!value)
    return value.takeError();
  json::Path::Root root("");
  json::Path path(root);
  auto fail = [&]() -> llvm::Error {
    return llvm::createStringError(
        llvm::formatv("{0}: {1}", fileName, llvm::toString(root.getError())));
  };
  json::ObjectMapper mapper(*value, path);
  if (!mapper ||
      !checkKeys(*value->getAsObject(), {"format", "version", "layers"}, path))
    return fail();
  const json::Object &object = *value->getAsObject();
  if (object.getString("format") != kFormat) {
    path.field("format").report(
        "expected \"quant-opt-contraction-statistics\"");
    return fail();
  }
  if (object.getInteger("version") != 1) {
    path.field("version").report("expected version 1");
    return fail();
  }
  std::map<std::string, ContractionStatistics> layers;
  if (!mapper.map("layers", layers))
    return fail();
  ContractionStatisticsMap result;
  for (auto &[id, layer] : layers)
    result[id] = std::move(layer);
  return result;
}

llvm::Expected<ContractionStatisticsMap>
qnn::readContractionStatistics(StringRef path) {
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buffer)
    return llvm::createStringError(
        llvm::formatv("cannot read contraction statistics file '{0}': {1}",
                      path, buffer.getError().message()));
  return parseContractionStatistics((*buffer)->getBuffer(), path);
}
