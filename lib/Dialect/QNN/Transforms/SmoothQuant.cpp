//===- SmoothQuant.cpp - Migrate activation outliers into weights ---------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// SmoothQuant (Xiao et al., ICML 2023) on the float model: a few channels of
// a transformer's LayerNorm output are far larger than the rest, so one
// per-tensor activation scale leaves the others a few levels. For each
// LayerNorm (any elementwise op ending in `t * gamma + beta` with constant
// per-channel gamma and beta) whose output only matmuls with constant
// weights read, channel j is divided by
//
//   s_j = max|x_j|^alpha / max_k max|w_jk|^(1 - alpha)
//
// (folded into gamma and beta) and row j of every reader's weights is
// multiplied by it: the float product is the same up to rounding, and the
// activation's range is evened out into the weights, which are quantized per
// output channel. max|x_j| comes from the contraction statistics file
// (docs/Quantization.md, "SmoothQuant").
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Calibration/ContractionStatistics.h"
#include "quant-opt/Dialect/QNN/IR/QNNSemantics.h"
#include "quant-opt/Dialect/QNN/Transforms/Passes.h"
#include "quant-opt/Dialect/QNN/Transforms/Transforms.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Matchers.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>

namespace mlir::qnn {
#define GEN_PASS_DEF_QNNSMOOTHQUANTPASS
#include "quant-opt/Dialect/QNN/Transforms/Passes.h.inc"
} // namespace mlir::qnn

using namespace mlir;
using namespace mlir::qnn;

namespace {

/// The values of an f32 constant (dense or dense_resource) and its type.
struct FloatConstant {
  RankedTensorType type;
  SmallVector<double> values;
};

static std::optional<FloatConstant> getFloatConstant(Value value) {
  auto constant = value.getDefiningOp<arith::ConstantOp>();
  auto type = constant ? dyn_cast<RankedTensorType>(constant.getType())
                       : RankedTensorType();
  if (!type || !type.getElementType().isF32() || !type.hasStaticShape())
    return std::nullopt;
  std::optional<SmallVector<APFloat>> elements =
      getFloatElements(constant.getValue());
  if (!elements)
    return std::nullopt;
  FloatConstant result{type, {}};
  for (const APFloat &element : *elements)
    result.values.push_back(element.convertToDouble());
  return result;
}

/// A LayerNorm's (or any such op's) final affine step: the generic's result
/// is `t * gamma + beta` with gamma and beta constants along its last axis.
struct Affine {
  linalg::GenericOp op;
  OpOperand *gamma, *beta;
  FloatConstant gammaValues, betaValues;
};

/// Whether `operand` of `op` is an f32 constant read along the last loop
/// dimension only (one value per channel of the result's last axis).
static std::optional<FloatConstant> getChannelConstant(linalg::GenericOp op,
                                                       OpOperand *operand) {
  AffineMap map = op.getMatchingIndexingMap(operand);
  unsigned last = op.getNumLoops() - 1;
  if (map.getNumResults() != 1 ||
      map.getResult(0) != getAffineDimExpr(last, op.getContext()))
    return std::nullopt;
  return getFloatConstant(operand->get());
}

static std::optional<Affine> matchAffine(Operation *producer) {
  auto op = dyn_cast_or_null<linalg::GenericOp>(producer);
  if (!op || op.getNumDpsInits() != 1 || op.getNumReductionLoops() != 0 ||
      !op.getMatchingIndexingMap(op.getDpsInitOperand(0)).isIdentity())
    return std::nullopt;
  auto yield = cast<linalg::YieldOp>(op.getBody()->getTerminator());
  auto add = yield.getOperand(0).getDefiningOp<arith::AddFOp>();
  if (!add)
    return std::nullopt;
  auto blockOperand = [&](Value value) -> OpOperand * {
    auto argument = dyn_cast<BlockArgument>(value);
    if (!argument || argument.getOwner() != op.getBody() ||
        argument.getArgNumber() >= op.getNumDpsInputs())
      return nullptr;
    return op.getDpsInputOperand(argument.getArgNumber());
  };
  for (unsigned side = 0; side < 2; ++side) {
    auto mul = add->getOperand(side).getDefiningOp<arith::MulFOp>();
    OpOperand *beta = blockOperand(add->getOperand(1 - side));
    if (!mul || !beta)
      continue;
    for (unsigned factor = 0; factor < 2; ++factor) {
      OpOperand *gamma = blockOperand(mul->getOperand(factor));
      if (!gamma)
        continue;
      std::optional<FloatConstant> gammaValues = getChannelConstant(op, gamma);
      std::optional<FloatConstant> betaValues = getChannelConstant(op, beta);
      // Gamma must enter the body only through this product, beta only
      // through this sum.
      auto onlyUse = [&](OpOperand *operand, Operation *user) {
        Value argument = op.getBody()->getArgument(operand->getOperandNumber());
        return argument.hasOneUse() && *argument.getUsers().begin() == user;
      };
      if (gammaValues && betaValues && gamma != beta && onlyUse(gamma, mul) &&
          onlyUse(beta, add))
        return Affine{op, gamma, beta, *gammaValues, *betaValues};
    }
  }
  return std::nullopt;
}

/// Whether `reshape` keeps the last axis as it is (its last reassociation
/// group is that axis alone), so channel j stays channel j.
static bool keepsLastAxis(Operation *reshape) {
  SmallVector<ReassociationIndices> groups;
  if (auto collapse = dyn_cast<tensor::CollapseShapeOp>(reshape))
    groups = collapse.getReassociationIndices();
  else if (auto expand = dyn_cast<tensor::ExpandShapeOp>(reshape))
    groups = expand.getReassociationIndices();
  else
    return false;
  return !groups.empty() && groups.back().size() == 1;
}

/// The readers of `value` through reshapes that keep the last axis, if they
/// are all linalg.matmul ops of the default maps ([M, K] x [K, N]) reading
/// it as their left operand with constant f32 weights; empty otherwise.
static SmallVector<linalg::MatmulOp> getMatmulReaders(Value value) {
  SmallVector<linalg::MatmulOp> readers;
  SmallVector<Value> worklist = {value};
  while (!worklist.empty()) {
    Value current = worklist.pop_back_val();
    for (OpOperand &use : current.getUses()) {
      Operation *user = use.getOwner();
      if (keepsLastAxis(user)) {
        worklist.push_back(user->getResult(0));
        continue;
      }
      auto matmul = dyn_cast<linalg::MatmulOp>(user);
      if (!matmul || matmul.hasUserDefinedMaps() ||
          use.getOperandNumber() != 0 ||
          !getFloatConstant(matmul.getInputs()[1]))
        return {};
      readers.push_back(matmul);
    }
  }
  return readers;
}

struct QNNSmoothQuantPass
    : public qnn::impl::QNNSmoothQuantPassBase<QNNSmoothQuantPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (!(alpha >= 0.0 && alpha <= 1.0)) {
      emitError(module.getLoc()) << "qnn-smooth-quant: alpha="
                                 << llvm::formatv("{0}", alpha.getValue()).str()
                                 << " is not within [0, 1]";
      return signalPassFailure();
    }
    if (statisticsFile.empty()) {
      emitError(module.getLoc()) << "qnn-smooth-quant needs statistics= (a "
                                    "contraction statistics file with max_abs)";
      return signalPassFailure();
    }
    llvm::Expected<ContractionStatisticsMap> statistics =
        readContractionStatistics(statisticsFile);
    if (!statistics) {
      emitError(module.getLoc()) << llvm::toString(statistics.takeError());
      return signalPassFailure();
    }
    SmallVector<Affine> affines;
    module.walk([&](linalg::GenericOp op) {
      if (std::optional<Affine> affine = matchAffine(op))
        affines.push_back(*affine);
    });
    for (Affine &affine : affines)
      if (failed(smooth(affine, *statistics)))
        return signalPassFailure();
  }

  LogicalResult smooth(Affine &affine,
                       const ContractionStatisticsMap &statistics) {
    SmallVector<linalg::MatmulOp> readers =
        getMatmulReaders(affine.op.getResult(0));
    if (readers.empty())
      return success(); // Not a matmul input: nothing to migrate into.
    int64_t channels = affine.gammaValues.values.size();
    SmallVector<double> activationMax(channels, 0.0), weightMax(channels, 0.0);
    for (linalg::MatmulOp matmul : readers) {
      std::string name = getLayerName(matmul);
      auto found = statistics.find(name);
      if (found == statistics.end())
        return matmul.emitError()
               << "qnn-smooth-quant: no statistics for layer '" << name
               << "' in '" << statisticsFile << "'";
      const ContractionStatistics &entry = found->second;
      if (static_cast<int64_t>(entry.maxAbs.size()) != channels)
        return matmul.emitError()
               << "qnn-smooth-quant: the statistics of layer '" << name
               << "' have " << entry.maxAbs.size() << " max_abs values, not "
               << channels
               << " (recompute them with this version's quant-eval)";
      FloatConstant weights = *getFloatConstant(matmul.getInputs()[1]);
      ArrayRef<int64_t> shape = weights.type.getShape();
      if (shape[0] != channels)
        return success(); // Not one weight row per channel: leave it.
      for (int64_t j = 0; j < channels; ++j)
        activationMax[j] = std::max(activationMax[j], entry.maxAbs[j]);
      for (auto [index, w] : llvm::enumerate(weights.values)) {
        int64_t j = static_cast<int64_t>(index) / shape[1];
        weightMax[j] = std::max(weightMax[j], std::fabs(w));
      }
    }
    // s_j = max|x_j|^alpha / max|w_j|^(1 - alpha), 1 where either is 0.
    SmallVector<double> factors(channels, 1.0);
    for (int64_t j = 0; j < channels; ++j)
      if (activationMax[j] > 0 && weightMax[j] > 0)
        factors[j] = std::clamp(std::pow(activationMax[j], alpha) /
                                    std::pow(weightMax[j], 1.0 - alpha),
                                1e-5, 1e5);

    OpBuilder builder(affine.op);
    // Channel j is the row of index / inner: the only axis of gamma and
    // beta (inner 1), the first of [K, N] weights (inner N).
    auto scaled = [&](const FloatConstant &constant, bool divide) {
      SmallVector<float> result;
      int64_t inner = constant.values.size() / channels;
      for (auto [index, x] : llvm::enumerate(constant.values)) {
        double s = factors[(static_cast<int64_t>(index) / inner) % channels];
        result.push_back(static_cast<float>(divide ? x / s : x * s));
      }
      return DenseElementsAttr::get(constant.type, ArrayRef(result));
    };
    auto replace = [&](OpOperand *operand, Attribute value) {
      builder.setInsertionPoint(operand->getOwner());
      operand->set(arith::ConstantOp::create(builder, operand->get().getLoc(),
                                             cast<TypedAttr>(value)));
    };
    replace(affine.gamma, scaled(affine.gammaValues, /*divide=*/true));
    replace(affine.beta, scaled(affine.betaValues, /*divide=*/true));
    for (linalg::MatmulOp matmul : readers)
      replace(&matmul->getOpOperand(1),
              scaled(*getFloatConstant(matmul.getInputs()[1]),
                     /*divide=*/false));
    double largest = *llvm::max_element(activationMax);
    double smallest = *llvm::min_element(factors);
    double biggest = *llvm::max_element(factors);
    affine.op.emitRemark() << "qnn-smooth-quant: " << channels
                           << " channels migrated into " << readers.size()
                           << " matmul(s); max|x| " << largest
                           << ", factors from " << smallest << " to "
                           << biggest;
    return success();
  }
};

} // namespace
