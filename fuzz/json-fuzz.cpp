//===- json-fuzz.cpp - libFuzzer target: calibration JSON readers ---------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Input: the text of a JSON file. quant-opt reads three kinds of JSON a user
// hands it: calibration statistics (qnn-insert-qdq statistics=, written by
// `quant-run --calibrate`), the same format as ranges (`quant-run
// --ranges`), and per-layer recipes (recipe=). Both readers run on every
// input (parseCalibrationStatistics and parseRecipe, which readCalibration-
// Statistics and readRecipe call after reading the file), since one file
// may be mistaken for the other. What a reader accepts is then used the way
// the passes use it: every range method on every tensor (histogram
// arithmetic on values nobody checked by hand) and every recipe rule
// resolved, so that "accepted" means "safe to use".
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Calibration/Calibration.h"
#include "quant-opt/Calibration/Recipe.h"

#include "llvm/Support/Error.h"

#include <cstdint>

using namespace mlir;
using namespace mlir::qnn;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  StringRef json(reinterpret_cast<const char *>(data), size);

  llvm::Expected<CalibrationStatistics> statistics =
      parseCalibrationStatistics(json, "fuzz.json");
  if (statistics) {
    // The storage settings the passes use for activations and weights.
    const StorageSpec storages[] = {{8, false, false, false},
                                    {8, true, true, true},
                                    {4, true, true, false},
                                    {16, true, false, false}};
    for (const auto &entry : *statistics)
      for (RangeMethod method : {RangeMethod::MinMax, RangeMethod::Percentile,
                                 RangeMethod::MSE, RangeMethod::Entropy})
        for (const StorageSpec &storage : storages) {
          llvm::Expected<std::pair<double, double>> range =
              estimateRange(entry.second, method, storage, 99.9);
          if (!range) {
            llvm::consumeError(range.takeError());
            continue;
          }
          (void)chooseQuantizationParams(range->first, range->second, storage);
        }
  } else {
    llvm::consumeError(statistics.takeError());
  }

  llvm::Expected<Recipe> recipe = parseRecipe(json, "fuzz.json");
  if (recipe) {
    LayerConfig defaults;
    for (const Recipe::Rule &rule : recipe->layers)
      (void)recipe->resolve(rule.id.empty() ? "layer" : rule.id,
                            rule.opName.empty() ? "linalg.matmul" : rule.opName,
                            defaults);
  } else {
    llvm::consumeError(recipe.takeError());
  }

  // The option spellings the passes accept, on the raw bytes.
  (void)parseRangeMethod(json);
  (void)parseWeightGranularity(json);
  return 0;
}
