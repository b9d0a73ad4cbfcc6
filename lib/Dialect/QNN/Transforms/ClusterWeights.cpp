//===- ClusterWeights.cpp - per-channel k-means codebook weights ----------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// qnn-cluster-weights: non-uniform weight quantization with a codebook per
// output channel (k-means weight sharing, Han et al., "Deep Compression",
// ICLR 2016, with one codebook per channel). The constant weights of each
// contraction become `dequantize(lookup(codes, table))`: K-bit codes and a
// table of 2^K int8 entries per channel at one scale per channel, so the
// integer contraction that fusion builds is the per-channel W8A8 one.
// Everything is deterministic: quantile initialization, a fixed number of
// Lloyd rounds in double precision, ties to the lower index.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Calibration/Calibration.h"
#include "quant-opt/Dialect/QNN/IR/QNNOps.h"
#include "quant-opt/Dialect/QNN/IR/QNNSemantics.h"
#include "quant-opt/Dialect/QNN/Transforms/Passes.h"
#include "quant-opt/Dialect/QNN/Transforms/Transforms.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Quant/IR/Quant.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/IR/BuiltinAttributes.h"

#include <algorithm>
#include <cmath>

namespace mlir::qnn {
#define GEN_PASS_DEF_QNNCLUSTERWEIGHTSPASS
#include "quant-opt/Dialect/QNN/Transforms/Passes.h.inc"
} // namespace mlir::qnn

using namespace mlir;
using namespace mlir::qnn;
using llvm::APFloat;
using llvm::APInt;

/// The index of the entry of `table` nearest to `value`; ties go to the
/// lower index. `table` is sorted ascending.
static int64_t nearest(ArrayRef<double> table, double value) {
  int64_t best = 0;
  for (int64_t j = 1; j < static_cast<int64_t>(table.size()); ++j)
    if (std::abs(value - table[j]) < std::abs(value - table[best]))
      best = j;
  return best;
}

/// 1-D k-means of `values` into `k` centroids, sorted ascending: the
/// centroids start at the (j + 1/2) / k quantiles of the sorted values; each
/// round assigns every value to its nearest centroid and moves each centroid
/// to the mean of its values (an empty cluster keeps its centroid), until no
/// assignment changes or after `iterations` rounds.
static SmallVector<double> kMeans(ArrayRef<double> values, int64_t k,
                                  unsigned iterations) {
  SmallVector<double> sorted(values);
  llvm::sort(sorted);
  int64_t n = sorted.size();
  SmallVector<double> centroids;
  for (int64_t j = 0; j < k; ++j)
    centroids.push_back(sorted[std::min(n - 1, (2 * j + 1) * n / (2 * k))]);
  // Sorted values and sorted centroids: each cluster is a contiguous run,
  // but the plain assignment is as cheap at these sizes and obviously right.
  SmallVector<int64_t> assignment(n, -1);
  for (unsigned round = 0; round < iterations; ++round) {
    bool changed = false;
    SmallVector<double> sums(k, 0.0);
    SmallVector<int64_t> counts(k, 0);
    for (int64_t i = 0; i < n; ++i) {
      int64_t j = nearest(centroids, sorted[i]);
      changed |= assignment[i] != j;
      assignment[i] = j;
      sums[j] += sorted[i];
      ++counts[j];
    }
    if (!changed)
      break;
    for (int64_t j = 0; j < k; ++j)
      if (counts[j])
        centroids[j] = sums[j] / static_cast<double>(counts[j]);
    llvm::sort(centroids);
  }
  return centroids;
}

namespace {

struct QNNClusterWeightsPass
    : public qnn::impl::QNNClusterWeightsPassBase<QNNClusterWeightsPass> {
  using Base::Base;

  void runOnOperation() override {
    if (bits < 1 || bits > 8) {
      emitError(getOperation()->getLoc())
          << "qnn-cluster-weights: bits must be 1 to 8, got " << unsigned(bits);
      return signalPassFailure();
    }
    SmallVector<Operation *> contractions;
    getOperation()->walk([&](Operation *op) {
      if (getWeightOperand(op))
        contractions.push_back(op);
    });
    for (Operation *op : contractions)
      cluster(op);
  }

  void cluster(Operation *op) {
    WeightOperand layout = *getWeightOperand(op);
    OpOperand &operand = op->getOpOperand(layout.operandIndex);
    auto constant = operand.get().getDefiningOp<arith::ConstantOp>();
    std::optional<SmallVector<APFloat>> elements =
        constant ? getFloatElements(constant.getValue()) : std::nullopt;
    auto tensorType = dyn_cast<RankedTensorType>(operand.get().getType());
    if (!elements || !tensorType || !tensorType.hasStaticShape() ||
        !tensorType.getElementType().isF32() ||
        tensorType.getNumElements() == 0)
      return; // An activation, or weights this pass does not handle.
    SmallVector<double> values;
    for (APFloat value : *elements) {
      bool losesInfo;
      value.convert(APFloat::IEEEdouble(), APFloat::rmNearestTiesToEven,
                    &losesInfo);
      if (!value.isFinite()) {
        op->emitRemark() << "qnn-cluster-weights: non-finite weights are "
                            "left as they are";
        return;
      }
      values.push_back(value.convertToDouble());
    }

    MLIRContext *context = &getContext();
    int64_t axis = layout.channelAxis;
    int64_t channels = tensorType.getDimSize(axis);
    int64_t inner = 1;
    for (int64_t d = axis + 1; d < tensorType.getRank(); ++d)
      inner *= tensorType.getDimSize(d);
    auto channelOf = [&](int64_t i) { return (i / inner) % channels; };
    SmallVector<SmallVector<double>> perChannel(channels);
    for (auto [i, value] : llvm::enumerate(values))
      perChannel[channelOf(i)].push_back(value);

    // The entries: int8 symmetric narrow range, one scale per channel, as
    // the default uniform weights.
    StorageSpec storage{8, /*isSigned=*/true, /*symmetric=*/true,
                        /*narrowRange=*/true};
    int64_t entries = int64_t(1) << bits;
    Type f32 = Float32Type::get(context);
    auto storageType = IntegerType::get(context, 8);
    SmallVector<SmallVector<double>> centroids;
    SmallVector<double> scales;
    for (ArrayRef<double> channel : perChannel) {
      centroids.push_back(kMeans(channel, entries, iterations));
      auto [lo, hi] =
          std::minmax_element(centroids.back().begin(), centroids.back().end());
      scales.push_back(chooseQuantizationParams(*lo, *hi, storage).scale);
    }
    auto tableType = quant::UniformQuantizedPerAxisType::get(
        quant::QuantizationFlags::Signed, storageType, f32, scales,
        SmallVector<int64_t>(channels, 0), /*quantizedDimension=*/0,
        storage.getMin(), storage.getMax());

    // Each centroid's stored value, computed as qnn.quantize does, then the
    // entries' real values as qnn.dequantize gives them back.
    SmallVector<APInt> tableBits;
    SmallVector<SmallVector<double>> dequantized(channels);
    for (int64_t c = 0; c < channels; ++c) {
      for (double centroid : centroids[c]) {
        APFloat x(static_cast<float>(centroid));
        int64_t stored =
            quantizeValue(x, scales[c], 0, tableType, RoundingMode::HalfToEven);
        tableBits.push_back(APInt(8, stored, /*isSigned=*/true));
        dequantized[c].push_back(
            dequantizeValue(stored, scales[c], 0, tableType).convertToDouble());
      }
    }
    // The codes: the nearest entry as the contraction will see it.
    SmallVector<APInt> codes;
    for (auto [i, value] : llvm::enumerate(values))
      codes.push_back(
          APInt(bits, nearest(dequantized[channelOf(i)], value), false));

    OpBuilder builder(op);
    Location loc = constant.getLoc();
    auto codesType = tensorType.clone(IntegerType::get(context, bits));
    Value codesValue = arith::ConstantOp::create(
        builder, loc, DenseElementsAttr::get(codesType, codes));
    auto tableTensorType =
        RankedTensorType::get({channels, entries}, tableType);
    Value table = ConstantOp::create(
        builder, loc, tableTensorType,
        DenseElementsAttr::get(
            RankedTensorType::get({channels, entries}, storageType),
            tableBits));
    auto resultElementType = quant::UniformQuantizedPerAxisType::get(
        tableType.getFlags(), storageType, f32, scales,
        SmallVector<int64_t>(channels, 0), axis, storage.getMin(),
        storage.getMax());
    Value lookup =
        LookupOp::create(builder, loc, tensorType.clone(resultElementType),
                         codesValue, table, axis);
    Value weights = DequantizeOp::create(builder, loc, tensorType, lookup);
    operand.set(weights);
    if (constant->use_empty())
      constant->erase();
  }
};

} // namespace
