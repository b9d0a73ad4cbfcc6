//===- WeightRounding.h - Weights rounded from calibration data -*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// What qnn-round-weights-gptq and qnn-correct-bias share: a contraction's
// constant weights seen as one row per output channel, the per-channel
// symmetric scales qnn-insert-qdq would give them, the statistics that
// belong to them, writing them back as an already-quantized weight
// (qnn.dequantize of a qnn.constant, which qnn-insert-qdq keeps), and the
// bias they add.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_OPT_LIB_DIALECT_QNN_TRANSFORMS_WEIGHTROUNDING_H
#define QUANT_OPT_LIB_DIALECT_QNN_TRANSFORMS_WEIGHTROUNDING_H

#include "quant-opt/Calibration/ContractionStatistics.h"

#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Operation.h"
#include "mlir/Support/LLVM.h"

#include <optional>

namespace mlir::qnn::rounding {

/// A contraction's constant f32 weights, as rows: one per output channel,
/// each over the reduction (the other axes, row-major; a depthwise
/// convolution's channel reduces over its own KH x KW window only).
struct WeightRows {
  Operation *op = nullptr;
  OpOperand *operand = nullptr;
  RankedTensorType type;
  int64_t channelAxis = 0;
  bool depthwise = false;
  /// Output channels and the length of each row.
  int64_t channels = 0, reduction = 0;
  /// The weights, in the tensor's layout.
  SmallVector<double> values;

  /// The position in `values` of row `f`, column `k`.
  int64_t index(int64_t f, int64_t k) const {
    int64_t stride = 1;
    for (int64_t d = channelAxis + 1; d < type.getRank(); ++d)
      stride *= type.getDimSize(d);
    return ((k / stride) * channels + f) * stride + k % stride;
  }
};

/// The weights of `op` if it is a matmul or a 2-D convolution (regular or
/// depthwise) with a constant f32 weight of static shape; nullopt
/// otherwise (other ops, or weights already quantized).
std::optional<WeightRows> getWeightRows(Operation *op);

/// The scales qnn-insert-qdq chooses for per-channel symmetric signed
/// `bits`-bit weights in `[-qmax, qmax]` (docs/Calibration.md).
SmallVector<double> getChannelScales(const WeightRows &weights, unsigned bits);

/// The per-channel type of those weights at `scales` (zero points 0); null,
/// with an error on the op, if the scales are not valid.
quant::UniformQuantizedPerAxisType getWeightType(const WeightRows &weights,
                                                 ArrayRef<double> scales,
                                                 unsigned bits);

/// Checks that `statistics` have the sizes `weights` need; reports on `op`.
LogicalResult checkStatistics(const WeightRows &weights,
                              const ContractionStatistics &statistics);

/// The mean of the input that multiplies row `f`, column `k`.
double getMean(const WeightRows &weights,
               const ContractionStatistics &statistics, int64_t f, int64_t k);

/// Replaces the weights by `qnn.dequantize` of a `qnn.constant` of type
/// `qtype` holding `stored` (in the tensor's layout); returns the values the
/// program now computes with (qnn.dequantize of each, docs/Semantics.md).
SmallVector<double> replaceWeights(WeightRows &weights,
                                   ArrayRef<int64_t> stored,
                                   quant::UniformQuantizedPerAxisType qtype);

/// The operand holding the 1-D constant bias added right after `op` (a
/// linalg.generic adding it along the channels), used there only; or null.
OpOperand *getBiasOperand(Operation *op);

/// Subtracts from the bias the expected output shift of the new weights,
/// sum_k (w_q - w)[f, k] * E[x_k] (Nagel et al. 2019, section 4.2).
void correctBias(OpOperand &bias, const WeightRows &weights,
                 ArrayRef<double> quantized,
                 const ContractionStatistics &statistics);

/// What a rounding pass works on: the contraction statistics and the
/// weights of every contraction under the root.
struct RoundingInputs {
  ContractionStatisticsMap statistics;
  SmallVector<WeightRows> contractions;
};

/// The prologue of qnn-round-weights-gptq and qnn-correct-bias: checks that
/// `bits` is within 2 to 8, runs `checkOptions` (the pass's other options;
/// it reports its own errors), reads the statistics file at `path` and
/// collects the contractions' weights (getWeightRows). Errors are reported
/// on `root`, prefixed with `passName`.
FailureOr<RoundingInputs>
prepareRounding(Operation *root, StringRef passName, unsigned bits,
                StringRef path,
                function_ref<LogicalResult()> checkOptions = nullptr);

} // namespace mlir::qnn::rounding

#endif // QUANT_OPT_LIB_DIALECT_QNN_TRANSFORMS_WEIGHTROUNDING_H
