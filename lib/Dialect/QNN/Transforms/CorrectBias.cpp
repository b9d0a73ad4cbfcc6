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
#include "quant-opt/Dialect/QNN/IR/QNNSemantics.h"
#include "quant-opt/Dialect/QNN/Transforms/Passes.h"
#include "quant-opt/Dialect/QNN/Transforms/Transforms.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"

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
    FailureOr<RoundingInputs> inputs = prepareRounding(
        getOperation(), "qnn-correct-bias", bits, statisticsFile);
    if (failed(inputs))
      return signalPassFailure();
    for (WeightRows &weights : inputs->contractions)
      if (failed(correct(weights, inputs->statistics)))
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
    SmallVector<double> scales = getChannelScales(weights, bits);
    quant::UniformQuantizedPerAxisType qtype =
        getWeightType(weights, scales, bits);
    if (!qtype)
      return failure();
    // Rounded to nearest exactly as qnn-insert-qdq's qnn.quantize would.
    SmallVector<int64_t> stored(weights.values.size(), 0);
    for (int64_t f = 0; f < weights.channels; ++f)
      for (int64_t k = 0; k < weights.reduction; ++k) {
        int64_t i = weights.index(f, k);
        stored[i] =
            quantizeValue(APFloat(static_cast<float>(weights.values[i])),
                          scales[f], 0, qtype, RoundingMode::HalfToEven);
      }
    SmallVector<double> quantized = replaceWeights(weights, stored, qtype);
    rounding::correctBias(*bias, weights, quantized, it->second);
    return success();
  }
};

} // namespace
