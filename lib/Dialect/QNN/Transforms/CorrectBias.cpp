//===- CorrectBias.cpp - Bias correction of quantized weights -------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// qnn-correct-bias: Nagel et al., "Data-Free Quantization Through Weight
// Equalization and Bias Correction" (ICCV 2019), section 4.2, with the
// input means measured on calibration data (Banner et al.'s empirical
// variant). Rounding the weights to W_q shifts a contraction's expected
// output by (W_q - W) E[x] per output channel; the weights are quantized
// here as qnn-insert-qdq would (per-channel symmetric, round half to even)
// and written as an already-quantized weight, and the shift is subtracted
// from the bias.
//
//===----------------------------------------------------------------------===//

#include "WeightRounding.h"

#include "quant-opt/Dialect/QNN/IR/QNNOps.h"
#include "quant-opt/Dialect/QNN/Transforms/Passes.h"
#include "quant-opt/Dialect/QNN/Transforms/Transforms.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"

#include <cmath>

namespace mlir::qnn {
#define GEN_PASS_DEF_QNNCORRECTBIASPASS
#include "quant-opt/Dialect/QNN/Transforms/Passes.h.inc"
} // namespace mlir::qnn

using namespace mlir;
using namespace mlir::qnn;
using namespace mlir::qnn::rounding;

namespace {

struct QNNCorrectBiasPass
    : public qnn::impl::QNNCorrectBiasPassBase<QNNCorrectBiasPass> {
  using Base::Base;

  void runOnOperation() override {
    Operation *root = getOperation();
    if (bits < 2 || bits > 8) {
      root->emitError() << "qnn-correct-bias: bits=" << bits.getValue()
                        << " is not within 2 to 8";
      return signalPassFailure();
    }
    FailureOr<ContractionStatisticsMap> statistics =
        loadStatistics(root, "qnn-correct-bias", statisticsFile);
    if (failed(statistics))
      return signalPassFailure();
    SmallVector<WeightRows> contractions;
    root->walk([&](Operation *op) {
      if (std::optional<WeightRows> weights = getWeightRows(op))
        contractions.push_back(std::move(*weights));
    });
    for (WeightRows &weights : contractions)
      if (failed(correct(weights, *statistics)))
        return signalPassFailure();
  }

  LogicalResult correct(WeightRows &weights,
                        const ContractionStatisticsMap &statistics) {
    OpOperand *bias = getBiasOperand(weights.op);
    if (!bias) {
      weights.op->emitRemark()
          << "qnn-correct-bias: no constant bias after '"
          << getLayerName(weights.op) << "'; left for the quantizer";
      return success();
    }
    std::string name = getLayerName(weights.op);
    auto it = statistics.find(name);
    if (it == statistics.end())
      return weights.op->emitError()
             << "qnn-correct-bias: no contraction statistics for '" << name
             << "' in " << statisticsFile;
    if (failed(checkStatistics(weights, it->second)))
      return failure();
    int64_t qmax = (int64_t(1) << (bits - 1)) - 1;
    SmallVector<double> scales = getChannelScales(weights, qmax);
    // qnn.quantize of an f32 weight: the division in f32 by the scale
    // rounded to f32, half to even, clamped (docs/Semantics.md).
    SmallVector<int64_t> stored(weights.values.size(), 0);
    for (int64_t f = 0; f < weights.channels; ++f) {
      float scale = static_cast<float>(scales[f]);
      for (int64_t k = 0; k < weights.reduction; ++k) {
        int64_t i = weights.index(f, k);
        float v = static_cast<float>(weights.values[i]) / scale;
        stored[i] = static_cast<int64_t>(
            std::clamp(std::nearbyint(static_cast<double>(v)),
                       -static_cast<double>(qmax), static_cast<double>(qmax)));
      }
    }
    FailureOr<SmallVector<double>> quantized =
        replaceWeights(weights, stored, scales, bits);
    if (failed(quantized))
      return failure();
    rounding::correctBias(*bias, weights, *quantized, it->second);
    return success();
  }
};

} // namespace
