//===- Recipe.h - Per-layer quantization recipes ----------------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// A recipe says how to quantize each layer: bit widths, signedness,
// symmetry, weight granularity, the activation range method, or "keep this
// layer in float". It is read from JSON (docs/Quantization.md) and resolved
// per layer over the defaults.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_OPT_CALIBRATION_RECIPE_H
#define QUANT_OPT_CALIBRATION_RECIPE_H

#include "quant-opt/Calibration/Calibration.h"

namespace mlir::qnn {

enum class WeightGranularity { PerTensor, PerChannel, PerGroup };

std::optional<WeightGranularity> parseWeightGranularity(StringRef name);

/// Whether an activation's scale is fixed at compile time from calibration
/// (static) or computed at run time from its values (docs/Semantics.md,
/// "Dynamic quantization"), one per tensor or one per row.
enum class DynamicGranularity { Static, PerTensor, PerRow };

std::optional<DynamicGranularity> parseDynamicGranularity(StringRef name);

/// How a layer's output activation is quantized.
struct ActivationConfig {
  StorageSpec storage{/*bits=*/8, /*isSigned=*/false, /*symmetric=*/false,
                      /*narrowRange=*/false};
  RangeMethod method = RangeMethod::MinMax;
  double percentile = 99.99;
  /// Static, or dynamic: the layer's contraction quantizes its activation
  /// input at run time, and the layer's output stays float.
  DynamicGranularity dynamic = DynamicGranularity::Static;
};

/// How a layer's weights are quantized.
struct WeightConfig {
  StorageSpec storage{/*bits=*/8, /*isSigned=*/true, /*symmetric=*/true,
                      /*narrowRange=*/true};
  WeightGranularity granularity = WeightGranularity::PerChannel;
  int64_t groupSize = 32;
};

/// Everything decided for one layer.
struct LayerConfig {
  bool skip = false;
  ActivationConfig activations;
  WeightConfig weights;
};

/// The fields a recipe entry sets; unset fields keep the value below them.
struct StorageOverrides {
  std::optional<unsigned> bits;
  std::optional<bool> isSigned, symmetric, narrowRange;
  void applyTo(StorageSpec &storage) const;
};
struct ActivationOverrides {
  StorageOverrides storage;
  std::optional<RangeMethod> method;
  std::optional<double> percentile;
  std::optional<DynamicGranularity> dynamic;
  void applyTo(ActivationConfig &config) const;
};
struct WeightOverrides {
  StorageOverrides storage;
  std::optional<WeightGranularity> granularity;
  std::optional<int64_t> groupSize;
  void applyTo(WeightConfig &config) const;
};

/// A parsed recipe file.
struct Recipe {
  /// One entry of "layers": matches a layer by id or by op name.
  struct Rule {
    std::string id;     // empty when matching by op
    std::string opName; // empty when matching by id
    std::optional<bool> skip;
    ActivationOverrides activations;
    WeightOverrides weights;
    /// "layers[3]", for messages.
    std::string where;
  };

  std::string fileName;
  ActivationOverrides activations;
  WeightOverrides weights;
  SmallVector<Rule> layers;

  /// The configuration of the layer `layerId` (an op named `opName`): the
  /// defaults, then the recipe's top-level settings, then the rules matching
  /// the op name, then those matching the id, each in file order.
  LayerConfig resolve(StringRef layerId, StringRef opName,
                      const LayerConfig &defaults) const;
};

/// Reads a recipe; errors name the file and the JSON path.
llvm::Expected<Recipe> readRecipe(StringRef path);
llvm::Expected<Recipe> parseRecipe(StringRef json, StringRef fileName);

} // namespace mlir::qnn

#endif // QUANT_OPT_CALIBRATION_RECIPE_H
