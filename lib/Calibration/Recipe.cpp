//===- Recipe.cpp - Per-layer quantization recipes ------------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Reads the recipe JSON of docs/Quantization.md. Unknown keys and values out
// of range are errors that name the file and the JSON path, so a typo never
// silently falls back to a default.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Calibration/Recipe.h"

#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"

#include "JSONSupport.h"
#include "llvm/Support/MemoryBuffer.h"

using namespace mlir;
using namespace mlir::qnn;
using mlir::qnn::detail::checkKeys;
namespace json = llvm::json;

static constexpr llvm::StringLiteral kRecipeFormat = "quant-opt-recipe";

std::optional<WeightGranularity> qnn::parseWeightGranularity(StringRef name) {
  return llvm::StringSwitch<std::optional<WeightGranularity>>(name)
      .Case("per_tensor", WeightGranularity::PerTensor)
      .Case("per_channel", WeightGranularity::PerChannel)
      .Case("per_group", WeightGranularity::PerGroup)
      .Default(std::nullopt);
}

std::optional<DynamicGranularity> qnn::parseDynamicGranularity(StringRef name) {
  return llvm::StringSwitch<std::optional<DynamicGranularity>>(name)
      .Case("static", DynamicGranularity::Static)
      .Case("per_tensor", DynamicGranularity::PerTensor)
      .Case("per_row", DynamicGranularity::PerRow)
      .Default(std::nullopt);
}

void StorageOverrides::applyTo(StorageSpec &storage) const {
  if (bits)
    storage.bits = *bits;
  if (isSigned)
    storage.isSigned = *isSigned;
  if (symmetric)
    storage.symmetric = *symmetric;
  if (narrowRange)
    storage.narrowRange = *narrowRange;
}

void ActivationOverrides::applyTo(ActivationConfig &config) const {
  storage.applyTo(config.storage);
  if (method)
    config.method = *method;
  if (percentile)
    config.percentile = *percentile;
  if (dynamic)
    config.dynamic = *dynamic;
}

void WeightOverrides::applyTo(WeightConfig &config) const {
  storage.applyTo(config.storage);
  if (granularity)
    config.granularity = *granularity;
  if (groupSize)
    config.groupSize = *groupSize;
}

LayerConfig Recipe::resolve(StringRef layerId, StringRef opName,
                            const LayerConfig &defaults) const {
  LayerConfig config = defaults;
  activations.applyTo(config.activations);
  weights.applyTo(config.weights);
  auto apply = [&](const Rule &rule) {
    if (rule.skip)
      config.skip = *rule.skip;
    rule.activations.applyTo(config.activations);
    rule.weights.applyTo(config.weights);
  };
  for (const Rule &rule : layers)
    if (!rule.opName.empty() && rule.opName == opName)
      apply(rule);
  for (const Rule &rule : layers)
    if (!rule.id.empty() && rule.id == layerId)
      apply(rule);
  return config;
}

//===----------------------------------------------------------------------===//
// Parsing
//===----------------------------------------------------------------------===//

namespace {
// The values of a recipe, read with llvm::json::ObjectMapper; each
// fromJSON says what it expected in the words docs/Quantization.md uses.

/// true or false.
struct Flag {
  bool value = false;
};
bool fromJSON(const json::Value &value, Flag &out, json::Path path) {
  std::optional<bool> flag = value.getAsBoolean();
  if (!flag) {
    path.report("expected true or false");
    return false;
  }
  out.value = *flag;
  return true;
}

/// A storage width.
struct Bits {
  unsigned value = 0;
};
bool fromJSON(const json::Value &value, Bits &out, json::Path path) {
  std::optional<int64_t> bits = value.getAsInteger();
  if (!bits || *bits < 2 || *bits > 16) {
    path.report("expected an integer from 2 to 16");
    return false;
  }
  out.value = static_cast<unsigned>(*bits);
  return true;
}

/// A range method by name.
struct Method {
  RangeMethod value{};
};
bool fromJSON(const json::Value &value, Method &out, json::Path path) {
  std::optional<StringRef> name = value.getAsString();
  std::optional<RangeMethod> method =
      name ? parseRangeMethod(*name) : std::nullopt;
  if (!method) {
    path.report("expected \"minmax\", \"percentile\", \"mse\" or \"entropy\"");
    return false;
  }
  out.value = *method;
  return true;
}

/// The percentile method's percentile.
struct Percentile {
  double value = 0;
};
bool fromJSON(const json::Value &value, Percentile &out, json::Path path) {
  std::optional<double> percentile = value.getAsNumber();
  if (!percentile || !(*percentile >= 50) || *percentile > 100) {
    path.report("expected a number in [50, 100]");
    return false;
  }
  out.value = *percentile;
  return true;
}

/// A weight granularity by name.
struct Granularity {
  WeightGranularity value{};
};
bool fromJSON(const json::Value &value, Granularity &out, json::Path path) {
  std::optional<StringRef> name = value.getAsString();
  std::optional<WeightGranularity> granularity =
      name ? parseWeightGranularity(*name) : std::nullopt;
  if (!granularity) {
    path.report("expected \"per_tensor\", \"per_channel\" or \"per_group\"");
    return false;
  }
  out.value = *granularity;
  return true;
}

/// Static or dynamic activations, by name.
struct Dynamic {
  DynamicGranularity value{};
};
bool fromJSON(const json::Value &value, Dynamic &out, json::Path path) {
  std::optional<StringRef> name = value.getAsString();
  std::optional<DynamicGranularity> dynamic =
      name ? parseDynamicGranularity(*name) : std::nullopt;
  if (!dynamic) {
    path.report("expected \"static\", \"per_tensor\" or \"per_row\"");
    return false;
  }
  out.value = *dynamic;
  return true;
}

/// Per-group quantization's group size.
struct GroupSize {
  int64_t value = 0;
};
bool fromJSON(const json::Value &value, GroupSize &out, json::Path path) {
  std::optional<int64_t> size = value.getAsInteger();
  if (!size || *size < 1) {
    path.report("expected a positive integer");
    return false;
  }
  out.value = *size;
  return true;
}

/// A string (an id or an op name).
struct Name {
  std::string value;
};
bool fromJSON(const json::Value &value, Name &out, json::Path path) {
  std::optional<StringRef> name = value.getAsString();
  if (!name) {
    path.report("expected string");
    return false;
  }
  out.value = name->str();
  return true;
}

/// Maps optional `key` into `out`, which keeps its value (no override) when
/// the key is absent; a present key must hold a `Wrapped`.
template <typename Wrapped, typename T>
bool mapOverride(json::ObjectMapper &mapper, StringLiteral key,
                 std::optional<T> &out) {
  detail::IfPresent<Wrapped> read;
  if (!mapper.mapOptional(key, read))
    return false;
  if (read.value)
    out = read.value->value;
  return true;
}

/// The storage keys shared by activations and weights.
bool mapStorage(json::ObjectMapper &mapper, StorageOverrides &storage) {
  return mapOverride<Bits>(mapper, "bits", storage.bits) &&
         mapOverride<Flag>(mapper, "signed", storage.isSigned) &&
         mapOverride<Flag>(mapper, "symmetric", storage.symmetric) &&
         mapOverride<Flag>(mapper, "narrow_range", storage.narrowRange);
}
} // namespace

namespace mlir::qnn {

static bool fromJSON(const json::Value &value, ActivationOverrides &overrides,
                     json::Path path) {
  json::ObjectMapper mapper(value, path);
  return mapper &&
         checkKeys(*value.getAsObject(),
                   {"bits", "signed", "symmetric", "narrow_range", "method",
                    "percentile", "dynamic"},
                   path) &&
         mapStorage(mapper, overrides.storage) &&
         mapOverride<Method>(mapper, "method", overrides.method) &&
         mapOverride<Percentile>(mapper, "percentile", overrides.percentile) &&
         mapOverride<Dynamic>(mapper, "dynamic", overrides.dynamic);
}

static bool fromJSON(const json::Value &value, WeightOverrides &overrides,
                     json::Path path) {
  json::ObjectMapper mapper(value, path);
  return mapper &&
         checkKeys(*value.getAsObject(),
                   {"bits", "signed", "symmetric", "narrow_range",
                    "granularity", "group_size"},
                   path) &&
         mapStorage(mapper, overrides.storage) &&
         mapOverride<Granularity>(mapper, "granularity",
                                  overrides.granularity) &&
         mapOverride<GroupSize>(mapper, "group_size", overrides.groupSize);
}

static bool fromJSON(const json::Value &value, Recipe::Rule &rule,
                     json::Path path) {
  json::ObjectMapper mapper(value, path);
  if (!mapper ||
      !checkKeys(*value.getAsObject(),
                 {"id", "op", "skip", "activations", "weights"}, path))
    return false;
  detail::IfPresent<Name> id, op;
  if (!mapper.mapOptional("id", id) || !mapper.mapOptional("op", op))
    return false;
  if (id.value.has_value() == op.value.has_value()) {
    path.report("expected exactly one of \"id\" and \"op\"");
    return false;
  }
  rule.id = id.value ? id.value->value : "";
  rule.opName = op.value ? op.value->value : "";
  return mapOverride<Flag>(mapper, "skip", rule.skip) &&
         mapper.mapOptional("activations", rule.activations) &&
         mapper.mapOptional("weights", rule.weights);
}

} // namespace mlir::qnn

/// The file: {"format", "version", "activations"?, "weights"?, "layers"?}.
static bool readRecipeValue(const json::Value &value, Recipe &recipe,
                            json::Path path) {
  json::ObjectMapper mapper(value, path);
  if (!mapper ||
      !detail::checkHeader(*value.getAsObject(), kRecipeFormat,
                           "expected \"quant-opt-recipe\"",
                           {"activations", "weights", "layers"}, path))
    return false;
  std::vector<Recipe::Rule> layers;
  if (!mapper.mapOptional("activations", recipe.activations) ||
      !mapper.mapOptional("weights", recipe.weights) ||
      !mapper.mapOptional("layers", layers))
    return false;
  for (auto [index, rule] : llvm::enumerate(layers)) {
    rule.where = llvm::formatv("layers[{0}]", index).str();
    recipe.layers.push_back(std::move(rule));
  }
  return true;
}

llvm::Expected<Recipe> qnn::parseRecipe(StringRef text, StringRef fileName) {
  llvm::Expected<Recipe> recipe =
      detail::parseFile<Recipe>(text, fileName, readRecipeValue);
  if (recipe)
    recipe->fileName = fileName.str();
  return recipe;
}

llvm::Expected<Recipe> qnn::readRecipe(StringRef path) {
  llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      detail::readFile(path, "recipe");
  if (!buffer)
    return buffer.takeError();
  return parseRecipe((*buffer)->getBuffer(), path);
}
