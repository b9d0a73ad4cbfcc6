//===- WeightRounding.cpp - Weights rounded from calibration data --------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The helpers qnn-round-weights-gptq and qnn-correct-bias share
// (WeightRounding.h).
//
//===----------------------------------------------------------------------===//

#include "WeightRounding.h"

#include "FusionMatchers.h"

#include "quant-opt/Calibration/Calibration.h"
#include "quant-opt/Dialect/QNN/IR/QNNOps.h"
#include "quant-opt/Dialect/QNN/IR/QNNSemantics.h"
#include "quant-opt/Dialect/QNN/Transforms/Transforms.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Matchers.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::qnn;
using namespace mlir::qnn::rounding;

std::optional<WeightRows> rounding::getWeightRows(Operation *op) {
  if (!isa<linalg::MatmulOp, linalg::Conv2DNhwcHwcfOp, linalg::Conv2DNchwFchwOp,
           linalg::DepthwiseConv2DNhwcHwcOp>(op))
    return std::nullopt;
  // The statistics are A's rows [M, K] of the default matmul
  // (quant_opt.weight_rounding.patches): a transposed A would read them
  // along the wrong axis.
  if (auto matmul = dyn_cast<linalg::MatmulOp>(op);
      matmul && matmul.hasUserDefinedMaps())
    return std::nullopt;
  std::optional<WeightOperand> layout = getWeightOperand(op);
  if (!layout)
    return std::nullopt;
  OpOperand &operand = op->getOpOperand(layout->operandIndex);
  auto type = dyn_cast<RankedTensorType>(operand.get().getType());
  Attribute attr;
  if (!type || !type.hasStaticShape() || !type.getElementType().isF32() ||
      !matchPattern(operand.get(), m_Constant(&attr)))
    return std::nullopt;
  std::optional<SmallVector<double>> values = fusion::toDoubles(attr);
  if (!values || values->empty())
    return std::nullopt;
  WeightRows weights;
  weights.op = op;
  weights.operand = &operand;
  weights.type = type;
  weights.channelAxis = layout->channelAxis;
  weights.depthwise = isa<linalg::DepthwiseConv2DNhwcHwcOp>(op);
  weights.channels = type.getDimSize(layout->channelAxis);
  weights.reduction = type.getNumElements() / weights.channels;
  weights.values = std::move(*values);
  return weights;
}

/// Per-channel symmetric signed storage of `bits` bits, narrow range:
/// `[-qmax, qmax]`, zero point 0.
static StorageSpec getWeightStorage(unsigned bits) {
  StorageSpec storage;
  storage.bits = bits;
  storage.isSigned = true;
  storage.symmetric = true;
  storage.narrowRange = true;
  return storage;
}

SmallVector<double> rounding::getChannelScales(const WeightRows &weights,
                                               unsigned bits) {
  StorageSpec storage = getWeightStorage(bits);
  SmallVector<double> scales;
  for (int64_t f = 0; f < weights.channels; ++f) {
    double lo = 0.0, hi = 0.0;
    for (int64_t k = 0; k < weights.reduction; ++k) {
      double w = weights.values[weights.index(f, k)];
      lo = std::min(lo, w);
      hi = std::max(hi, w);
    }
    scales.push_back(chooseQuantizationParams(lo, hi, storage).scale);
  }
  return scales;
}

quant::UniformQuantizedPerAxisType
rounding::getWeightType(const WeightRows &weights, ArrayRef<double> scales,
                        unsigned bits) {
  StorageSpec storage = getWeightStorage(bits);
  SmallVector<int64_t> zeroPoints(scales.size(), 0);
  return quant::UniformQuantizedPerAxisType::getChecked(
      [&] { return weights.op->emitError(); }, quant::QuantizationFlags::Signed,
      IntegerType::get(weights.op->getContext(), bits),
      weights.type.getElementType(), scales, zeroPoints, weights.channelAxis,
      storage.getMin(), storage.getMax());
}

LogicalResult rounding::checkStatistics(const WeightRows &weights,
                                        const ContractionStatistics &stats) {
  int64_t k = weights.reduction;
  int64_t blocks = weights.depthwise ? weights.channels : 1;
  size_t mean = static_cast<size_t>(k * blocks);
  size_t second = static_cast<size_t>(k * k * blocks);
  if (stats.mean.size() != mean || stats.secondMoment.size() != second)
    return weights.op->emitError()
           << "contraction statistics of '" << getLayerName(weights.op)
           << "' have " << stats.mean.size() << " means and "
           << stats.secondMoment.size() << " second moments; its weights need "
           << mean << " and " << second;
  return success();
}

double rounding::getMean(const WeightRows &weights,
                         const ContractionStatistics &statistics, int64_t f,
                         int64_t k) {
  return weights.depthwise ? statistics.mean[weights.index(f, k)]
                           : statistics.mean[k];
}

SmallVector<double>
rounding::replaceWeights(WeightRows &weights, ArrayRef<int64_t> stored,
                         quant::UniformQuantizedPerAxisType qtype) {
  unsigned bits = qtype.getStorageTypeIntegralWidth();
  SmallVector<APInt> bitsValues = llvm::map_to_vector(
      stored, [&](int64_t v) { return APInt(bits, v, /*isSigned=*/true); });
  auto storedType =
      RankedTensorType::get(weights.type.getShape(), qtype.getStorageType());
  OpBuilder builder(weights.op);
  Location loc = weights.operand->get().getLoc();
  Value constant =
      ConstantOp::create(builder, loc, weights.type.clone(qtype),
                         DenseElementsAttr::get(storedType, bitsValues));
  Value dequantized =
      DequantizeOp::create(builder, loc, weights.type, constant);
  Operation *old = weights.operand->get().getDefiningOp();
  weights.operand->set(dequantized);
  if (old && old->use_empty())
    old->erase();
  SmallVector<double> values(weights.values.size());
  for (int64_t f = 0; f < weights.channels; ++f)
    for (int64_t k = 0; k < weights.reduction; ++k) {
      int64_t i = weights.index(f, k);
      values[i] = dequantizeValue(stored[i], qtype.getScales()[f], 0, qtype)
                      .convertToDouble();
    }
  return values;
}

OpOperand *rounding::getBiasOperand(Operation *op) {
  std::optional<WeightOperand> layout = getWeightOperand(op);
  if (!layout || op->getNumResults() != 1)
    return nullptr;
  auto generic = dyn_cast_or_null<linalg::GenericOp>(
      fusion::getSingleUser(op->getResult(0)));
  if (!generic || generic.getNumDpsInputs() != 2 ||
      generic.getInputs()[0] != op->getResult(0) ||
      !fusion::matchBiasAdd(generic, op->getResult(0),
                            layout->resultChannelAxis))
    return nullptr;
  OpOperand &bias = generic->getOpOperand(1);
  auto type = dyn_cast<RankedTensorType>(bias.get().getType());
  if (!type || type.getRank() != 1 || !type.getElementType().isF32() ||
      !bias.get().hasOneUse() || !matchPattern(bias.get(), m_Constant()))
    return nullptr;
  return &bias;
}

void rounding::correctBias(OpOperand &bias, const WeightRows &weights,
                           ArrayRef<double> quantized,
                           const ContractionStatistics &statistics) {
  Attribute attr;
  matchPattern(bias.get(), m_Constant(&attr));
  SmallVector<double> values = *fusion::toDoubles(attr);
  SmallVector<float> corrected;
  for (int64_t f = 0; f < weights.channels; ++f) {
    double shift = 0.0;
    for (int64_t k = 0; k < weights.reduction; ++k) {
      int64_t i = weights.index(f, k);
      shift += (quantized[i] - weights.values[i]) *
               getMean(weights, statistics, f, k);
    }
    corrected.push_back(static_cast<float>(values[f] - shift));
  }
  auto type = cast<RankedTensorType>(bias.get().getType());
  OpBuilder builder(bias.getOwner());
  Value constant = arith::ConstantOp::create(
      builder, bias.get().getLoc(),
      DenseElementsAttr::get(type, ArrayRef<float>(corrected)));
  Operation *old = bias.get().getDefiningOp();
  bias.set(constant);
  if (old && old->use_empty())
    old->erase();
}

/// Reads the statistics file of a pass, reporting failures on `root`.
static FailureOr<ContractionStatisticsMap>
loadStatistics(Operation *root, StringRef passName, StringRef path) {
  if (path.empty()) {
    emitError(root->getLoc())
        << passName
        << ": statistics=<file> is required (the contraction "
           "statistics, docs/Quantization.md)";
    return failure();
  }
  llvm::Expected<ContractionStatisticsMap> statistics =
      readContractionStatistics(path);
  if (!statistics) {
    emitError(root->getLoc())
        << passName << ": " << llvm::toString(statistics.takeError());
    return failure();
  }
  return std::move(*statistics);
}

FailureOr<RoundingInputs>
rounding::prepareRounding(Operation *root, StringRef passName, unsigned bits,
                          StringRef path,
                          function_ref<LogicalResult()> checkOptions) {
  if (bits < 2 || bits > 8) {
    emitError(root->getLoc())
        << passName << ": bits=" << bits << " is not within 2 to 8";
    return failure();
  }
  if (checkOptions && failed(checkOptions()))
    return failure();
  FailureOr<ContractionStatisticsMap> statistics =
      loadStatistics(root, passName, path);
  if (failed(statistics))
    return failure();
  RoundingInputs inputs;
  inputs.statistics = std::move(*statistics);
  root->walk([&](Operation *op) {
    if (std::optional<WeightRows> weights = getWeightRows(op))
      inputs.contractions.push_back(std::move(*weights));
  });
  return inputs;
}
