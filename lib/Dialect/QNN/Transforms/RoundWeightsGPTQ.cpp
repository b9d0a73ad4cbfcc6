//===- RoundWeightsGPTQ.cpp - GPTQ rounding of low-bit weights ------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// qnn-round-weights-gptq: Frantar et al., "GPTQ: Accurate Post-Training
// Quantization for Generative Pre-trained Transformers" (ICLR 2023),
// Algorithm 1 with one block. Each contraction's weights are quantized one
// reduction column at a time at the per-channel scales qnn-insert-qdq would
// choose; each column's rounding error is spread over the columns not yet
// quantized so that the layer's output on the calibration inputs (their
// second moment H = E[x x^T]) moves as little as possible. The integers are
// written as an already-quantized weight, which the later quantization
// keeps.
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
#define GEN_PASS_DEF_QNNROUNDWEIGHTSGPTQPASS
#include "quant-opt/Dialect/QNN/Transforms/Passes.h.inc"
} // namespace mlir::qnn

using namespace mlir;
using namespace mlir::qnn;
using namespace mlir::qnn::rounding;

namespace {

/// The lower Cholesky factor of the symmetric `a` (n x n, row-major), in
/// place; false if `a` is not positive definite.
bool cholesky(MutableArrayRef<double> a, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    double d = a[j * n + j];
    for (int64_t k = 0; k < j; ++k)
      d -= a[j * n + k] * a[j * n + k];
    if (!(d > 0.0))
      return false;
    d = std::sqrt(d);
    a[j * n + j] = d;
    for (int64_t i = j + 1; i < n; ++i) {
      double s = a[i * n + j];
      for (int64_t k = 0; k < j; ++k)
        s -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = s / d;
    }
    for (int64_t i = 0; i < j; ++i)
      a[i * n + j] = 0.0;
  }
  return true;
}

/// The upper factor U of H^-1 = U^T U, H = `h` damped; false if H is not
/// positive definite.
bool inverseFactor(SmallVector<double> &h, int64_t n) {
  if (!cholesky(h, n))
    return false;
  // L^-1 by forward substitution, then H^-1 = L^-T L^-1.
  SmallVector<double> inv(n * n, 0.0);
  for (int64_t j = 0; j < n; ++j) {
    inv[j * n + j] = 1.0 / h[j * n + j];
    for (int64_t i = j + 1; i < n; ++i) {
      double s = 0.0;
      for (int64_t k = j; k < i; ++k)
        s -= h[i * n + k] * inv[k * n + j];
      inv[i * n + j] = s / h[i * n + i];
    }
  }
  SmallVector<double> hinv(n * n, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j <= i; ++j) {
      double s = 0.0;
      for (int64_t k = i; k < n; ++k)
        s += inv[k * n + i] * inv[k * n + j];
      hinv[i * n + j] = hinv[j * n + i] = s;
    }
  if (!cholesky(hinv, n))
    return false;
  // U = L2^T.
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      h[i * n + j] = j >= i ? hinv[j * n + i] : 0.0;
  return true;
}

struct QNNRoundWeightsGPTQPass
    : public qnn::impl::QNNRoundWeightsGPTQPassBase<QNNRoundWeightsGPTQPass> {
  using Base::Base;

  void runOnOperation() override {
    Operation *root = getOperation();
    FailureOr<RoundingInputs> inputs =
        prepareRounding(root, "qnn-round-weights-gptq", bits, statisticsFile,
                        [&]() -> LogicalResult {
                          if (damp > 0.0 && damp < 1.0)
                            return success();
                          return emitError(root->getLoc())
                                 << "qnn-round-weights-gptq: damp="
                                 << damp.getValue() << " is not within (0, 1)";
                        });
    if (failed(inputs))
      return signalPassFailure();
    for (WeightRows &weights : inputs->contractions)
      if (failed(round(weights, inputs->statistics)))
        return signalPassFailure();
  }

  LogicalResult round(WeightRows &weights,
                      const ContractionStatisticsMap &statistics) {
    std::string name = getLayerName(weights.op);
    auto it = statistics.find(name);
    if (it == statistics.end())
      return weights.op->emitError()
             << "qnn-round-weights-gptq: no contraction statistics for '"
             << name << "' in " << statisticsFile;
    const ContractionStatistics &stats = it->second;
    if (failed(checkStatistics(weights, stats)))
      return failure();
    SmallVector<double> scales = getChannelScales(weights, bits);
    quant::UniformQuantizedPerAxisType qtype =
        getWeightType(weights, scales, bits);
    if (!qtype)
      return failure();
    auto qmax = static_cast<double>(qtype.getStorageTypeMax());
    SmallVector<int64_t> stored(weights.values.size(), 0);
    int64_t k = weights.reduction;
    // Rows sharing one H: all of them, or one per depthwise channel.
    int64_t groups = weights.depthwise ? weights.channels : 1;
    int64_t rowsPerGroup = weights.depthwise ? 1 : weights.channels;
    for (int64_t g = 0; g < groups; ++g) {
      SmallVector<double> h(stats.secondMoment.begin() + g * k * k,
                            stats.secondMoment.begin() + (g + 1) * k * k);
      // Rows [F, K] of this group, as GPTQ updates them.
      SmallVector<double> w(rowsPerGroup * k);
      for (int64_t r = 0; r < rowsPerGroup; ++r)
        for (int64_t c = 0; c < k; ++c)
          w[r * k + c] = weights.values[weights.index(g * rowsPerGroup + r, c)];
      // An input that is always zero carries no information: its weight
      // does not matter, H gets 1 on its diagonal to stay invertible.
      double trace = 0.0;
      for (int64_t c = 0; c < k; ++c) {
        if (h[c * k + c] == 0.0) {
          h[c * k + c] = 1.0;
          for (int64_t r = 0; r < rowsPerGroup; ++r)
            w[r * k + c] = 0.0;
        }
        trace += h[c * k + c];
      }
      double lambda = damp * trace / static_cast<double>(k);
      for (int64_t c = 0; c < k; ++c)
        h[c * k + c] += lambda;
      if (!inverseFactor(h, k))
        return weights.op->emitError()
               << "qnn-round-weights-gptq: the second moment of '" << name
               << "' is not positive definite after damping";
      for (int64_t c = 0; c < k; ++c) {
        for (int64_t r = 0; r < rowsPerGroup; ++r) {
          int64_t f = g * rowsPerGroup + r;
          double value = w[r * k + c];
          double q = std::clamp(std::nearbyint(value / scales[f]), -qmax, qmax);
          stored[weights.index(f, c)] = static_cast<int64_t>(q);
          double error = (value - q * scales[f]) / h[c * k + c];
          for (int64_t j = c + 1; j < k; ++j)
            w[r * k + j] -= error * h[c * k + j];
        }
      }
    }
    SmallVector<double> quantized = replaceWeights(weights, stored, qtype);
    if (correctBias)
      if (OpOperand *bias = getBiasOperand(weights.op))
        rounding::correctBias(*bias, weights, quantized, stats);
    return success();
  }
};

} // namespace
