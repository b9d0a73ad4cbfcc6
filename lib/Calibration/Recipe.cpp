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

static bool readBool(const json::Object &object, StringRef key,
                     std::optional<bool> &out, json::Path path) {
  if (const json::Value *value = object.get(key)) {
    out = value->getAsBoolean();
    if (!out) {
      path.field(key).report("expected true or false");
      return false;
    }
  }
  return true;
}

static bool readStorage(const json::Object &object, StorageOverrides &storage,
                        json::Path path) {
  if (const json::Value *value = object.get("bits")) {
    std::optional<int64_t> bits = value->getAsInteger();
    if (!bits || *bits < 2 || *bits > 16) {
      path.field("bits").report("expected an integer from 2 to 16");
      return false;
    }
    storage.bits = static_cast<unsigned>(*bits);
  }
  return readBool(object, "signed", storage.isSigned, path) &&
         readBool(object, "symmetric", storage.symmetric, path) &&
         readBool(object, "narrow_range", storage.narrowRange, path);
}

static bool readActivations(const json::Value &value,
                            ActivationOverrides &overrides, json::Path path) {
  const json::Object *object = value.getAsObject();
  if (!object) {
    path.report("expected object");
    return false;
  }
  if (!checkKeys(*object,
                 {"bits", "signed", "symmetric", "narrow_range", "method",
                  "percentile"},
                 path) ||
      !readStorage(*object, overrides.storage, path))
    return false;
  if (const json::Value *method = object->get("method")) {
    std::optional<StringRef> name = method->getAsString();
    overrides.method = name ? parseRangeMethod(*name) : std::nullopt;
    if (!overrides.method) {
      path.field("method").report(
          "expected \"minmax\", \"percentile\", \"mse\" or \"entropy\"");
      return false;
    }
  }
  if (const json::Value *percentile = object->get("percentile")) {
    overrides.percentile = percentile->getAsNumber();
    if (!overrides.percentile || !(*overrides.percentile >= 50) ||
        *overrides.percentile > 100) {
      path.field("percentile").report("expected a number in [50, 100]");
      return false;
    }
  }
  return true;
}

static bool readWeights(const json::Value &value, WeightOverrides &overrides,
                        json::Path path) {
  const json::Object *object = value.getAsObject();
  if (!object) {
    path.report("expected object");
    return false;
  }
  if (!checkKeys(*object,
                 {"bits", "signed", "symmetric", "narrow_range", "granularity",
                  "group_size"},
                 path) ||
      !readStorage(*object, overrides.storage, path))
    return false;
  if (const json::Value *granularity = object->get("granularity")) {
    std::optional<StringRef> name = granularity->getAsString();
    overrides.granularity = name ? parseWeightGranularity(*name) : std::nullopt;
    if (!overrides.granularity) {
      path.field("granularity")
          .report("expected \"per_tensor\", \"per_channel\" or \"per_group\"");
      return false;
    }
  }
  if (const json::Value *groupSize = object->get("group_size")) {
    overrides.groupSize = groupSize->getAsInteger();
    if (!overrides.groupSize || *overrides.groupSize < 1) {
      path.field("group_size").report("expected a positive integer");
      return false;
    }
  }
  return true;
}

static bool readRule(const json::Value &value, Recipe::Rule &rule,
                     json::Path path) {
  const json::Object *object = value.getAsObject();
  if (!object) {
    path.report("expected object");
    return false;
  }
  if (!checkKeys(*object, {"id", "op", "skip", "activations", "weights"}, path))
    return false;
  std::optional<StringRef> id = object->getString("id");
  std::optional<StringRef> op = object->getString("op");
  if (object->get("id") && !id) {
    path.field("id").report("expected string");
    return false;
  }
  if (object->get("op") && !op) {
    path.field("op").report("expected string");
    return false;
  }
  if (id.has_value() == op.has_value()) {
    path.report("expected exactly one of \"id\" and \"op\"");
    return false;
  }
  rule.id = id.value_or("").str();
  rule.opName = op.value_or("").str();
  if (!readBool(*object, "skip", rule.skip, path))
    return false;
  if (const json::Value *activations = object->get("activations"))
    if (!readActivations(*activations, rule.activations,
                         path.field("activations")))
      return false;
  if (const json::Value *weights = object->get("weights"))
    if (!readWeights(*weights, rule.weights, path.field("weights")))
      return false;
  return true;
}

static bool readRecipeValue(const json::Value &value, Recipe &recipe,
                            json::Path path) {
  const json::Object *object = value.getAsObject();
  if (!object) {
    path.report("expected object");
    return false;
  }
  if (!checkKeys(*object,
                 {"format", "version", "activations", "weights", "layers"},
                 path))
    return false;
  if (object->getString("format") != kRecipeFormat) {
    path.field("format").report("expected \"quant-opt-recipe\"");
    return false;
  }
  if (object->getInteger("version") != 1) {
    path.field("version").report("expected version 1");
    return false;
  }
  if (const json::Value *activations = object->get("activations"))
    if (!readActivations(*activations, recipe.activations,
                         path.field("activations")))
      return false;
  if (const json::Value *weights = object->get("weights"))
    if (!readWeights(*weights, recipe.weights, path.field("weights")))
      return false;
  if (const json::Value *layers = object->get("layers")) {
    const json::Array *array = layers->getAsArray();
    if (!array) {
      path.field("layers").report("expected array");
      return false;
    }
    for (auto [index, rule] : llvm::enumerate(*array)) {
      Recipe::Rule &parsed = recipe.layers.emplace_back();
      parsed.where = llvm::formatv("layers[{0}]", index).str();
      if (!readRule(rule, parsed, path.field("layers").index(index)))
        return false;
    }
  }
  return true;
}

llvm::Expected<Recipe> qnn::parseRecipe(StringRef text, StringRef fileName) {
  llvm::Expected<json::Value> value = detail::parseJSON(text, fileName);
  if (!value)
    return value.takeError();
  Recipe recipe;
  recipe.fileName = fileName.str();
  json::Path::Root root("");
  if (!readRecipeValue(*value, recipe, root))
    return llvm::createStringError(
        llvm::formatv("{0}: {1}", fileName, llvm::toString(root.getError())));
  return recipe;
}

llvm::Expected<Recipe> qnn::readRecipe(StringRef path) {
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buffer)
    return llvm::createStringError(
        llvm::formatv("cannot read recipe file '{0}': {1}", path,
                      buffer.getError().message()));
  return parseRecipe((*buffer)->getBuffer(), path);
}
