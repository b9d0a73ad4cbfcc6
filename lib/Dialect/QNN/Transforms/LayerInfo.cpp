//===- LayerInfo.cpp - Layer names and quantizable ops --------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "FusionMatchers.h"

#include "quant-opt/Dialect/QNN/IR/QNNOps.h"
#include "quant-opt/Dialect/QNN/Transforms/Transforms.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/Interfaces/DestinationStyleOpInterface.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::qnn;

/// The first name a location carries, looking through fused and call-site
/// locations.
static std::optional<std::string> getLocationName(Location loc) {
  // An empty name (an unnamed ONNX node) names nothing: the location it
  // wraps may.
  if (auto named = dyn_cast<NameLoc>(loc)) {
    if (named.getName().empty())
      return getLocationName(named.getChildLoc());
    return named.getName().str();
  }
  if (auto fused = dyn_cast<FusedLoc>(loc)) {
    for (Location inner : fused.getLocations())
      if (std::optional<std::string> name = getLocationName(inner))
        return name;
  }
  if (auto callSite = dyn_cast<CallSiteLoc>(loc))
    return getLocationName(callSite.getCallee());
  return std::nullopt;
}

static std::optional<FileLineColLoc> getFileLineCol(Location loc) {
  if (auto fileLoc = dyn_cast<FileLineColLoc>(loc))
    return fileLoc;
  if (auto named = dyn_cast<NameLoc>(loc))
    return getFileLineCol(named.getChildLoc());
  if (auto fused = dyn_cast<FusedLoc>(loc)) {
    for (Location inner : fused.getLocations())
      if (std::optional<FileLineColLoc> fileLoc = getFileLineCol(inner))
        return fileLoc;
  }
  return std::nullopt;
}

std::string qnn::getLayerName(Operation *op) {
  if (std::optional<std::string> name = getLocationName(op->getLoc()))
    return *name;
  std::string opName = op->getName().getStringRef().str();
  if (std::optional<FileLineColLoc> fileLoc = getFileLineCol(op->getLoc()))
    return llvm::formatv("{0}@{1}:{2}", opName, fileLoc->getLine(),
                         fileLoc->getColumn())
        .str();
  return opName;
}

std::string qnn::getTensorName(Value value) {
  if (auto result = dyn_cast<OpResult>(value)) {
    std::string layer = getLayerName(result.getOwner());
    if (result.getResultNumber() == 0)
      return layer;
    return llvm::formatv("{0}#{1}", layer, result.getResultNumber()).str();
  }
  auto argument = cast<BlockArgument>(value);
  if (std::optional<std::string> name = getLocationName(argument.getLoc()))
    return *name;
  Operation *parent = argument.getOwner()->getParentOp();
  std::string function = "block";
  if (auto symbol = dyn_cast_if_present<FunctionOpInterface>(parent))
    function = symbol.getName().str();
  return llvm::formatv("{0}.arg{1}", function, argument.getArgNumber()).str();
}

bool qnn::isDequantizedConstant(Value value) {
  auto dequantize = value.getDefiningOp<DequantizeOp>();
  if (!dequantize)
    return false;
  Operation *input = dequantize.getInput().getDefiningOp();
  if (auto lookup = dyn_cast_if_present<LookupOp>(input))
    return llvm::all_of(lookup->getOperands(), [](Value operand) {
      Operation *producer = operand.getDefiningOp();
      return producer && producer->hasTrait<OpTrait::ConstantLike>();
    });
  return input && input->hasTrait<OpTrait::ConstantLike>();
}

bool qnn::isActivation(Value value) {
  auto type = dyn_cast<RankedTensorType>(value.getType());
  if (!type || !isa<FloatType>(type.getElementType()))
    return false;
  if (Operation *producer = value.getDefiningOp())
    if (producer->hasTrait<OpTrait::ConstantLike>() ||
        isDequantizedConstant(value) || producer->hasAttr(kInternalAttrName) ||
        isa<tensor::EmptyOp, linalg::FillOp, ObserveOp>(producer))
      return false;
  if (isFusedIntermediate(value))
    return false;
  return llvm::any_of(value.getUses(), [](OpOperand &use) {
    auto destinationStyle =
        dyn_cast<DestinationStyleOpInterface>(use.getOwner());
    return !destinationStyle || !destinationStyle.isDpsInit(&use);
  });
}

bool qnn::isQuantizableOp(Operation *op) {
  // A scaling by a positive constant runs on stored values (a rescale);
  // other scalings stay float.
  if (fusion::matchScaling(op))
    return fusion::getPositiveScalingFactor(op).has_value();
  return isa<linalg::MatmulOp, linalg::BatchMatmulOp, linalg::Conv2DNhwcHwcfOp,
             linalg::Conv2DNhwcFhwcOp, linalg::Conv2DNchwFchwOp,
             linalg::DepthwiseConv2DNhwcHwcOp, linalg::DepthwiseConv2DNchwChwOp,
             linalg::PoolingNhwcMaxOp, linalg::PoolingNchwMaxOp,
             linalg::PoolingNhwcSumOp, linalg::PoolingNchwSumOp, linalg::AddOp,
             linalg::MulOp, linalg::MaxOp, linalg::TransposeOp,
             tensor::CollapseShapeOp, tensor::ExpandShapeOp,
             tensor::ExtractSliceOp, tensor::PadOp, tensor::ConcatOp>(op);
}

/// B's layout read from the indexing maps: MLIR 22's linalg.matmul and
/// linalg.batch_matmul take `indexing_maps`, so B may be [N, K] (torch-mlir's
/// and TOSA's transposed weights) or broadcast over the batch, not only the
/// default [(batch,) K, N]. nullopt unless there is one N and one K loop.
static std::optional<WeightOperand>
getMatmulWeightOperand(linalg::LinalgOp op) {
  FailureOr<linalg::ContractionDimensions> dims =
      linalg::inferContractionDims(op);
  if (failed(dims) || dims->n.size() != 1 || dims->k.size() != 1)
    return std::nullopt;
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  AffineExpr n = getAffineDimExpr(dims->n[0], op.getContext());
  AffineExpr k = getAffineDimExpr(dims->k[0], op.getContext());
  std::optional<unsigned> channel = maps[1].getResultPosition(n);
  std::optional<unsigned> reduction = maps[1].getResultPosition(k);
  std::optional<unsigned> resultChannel = maps[2].getResultPosition(n);
  if (!channel || !reduction || !resultChannel)
    return std::nullopt;
  return WeightOperand{1, *channel, *reduction, *resultChannel};
}

std::optional<WeightOperand> qnn::getWeightOperand(Operation *op) {
  return llvm::TypeSwitch<Operation *, std::optional<WeightOperand>>(op)
      // B is [K, N] by default; C is [M, N].
      .Case<linalg::MatmulOp, linalg::BatchMatmulOp>(
          [](auto matmul) { return getMatmulWeightOperand(matmul); })
      // The filter is [KH, KW, C, F]; the result [N, H, W, F].
      .Case([](linalg::Conv2DNhwcHwcfOp) { return WeightOperand{1, 3, 2, 3}; })
      // The filter is [F, KH, KW, C] (TOSA's layout); the result
      // [N, H, W, F].
      .Case([](linalg::Conv2DNhwcFhwcOp) { return WeightOperand{1, 0, 3, 3}; })
      // The filter is [F, C, KH, KW]; the result [N, F, H, W].
      .Case([](linalg::Conv2DNchwFchwOp) { return WeightOperand{1, 0, 1, 1}; })
      // The filter is [KH, KW, C]: one input channel per output channel; the
      // result is [N, H, W, C].
      .Case([](linalg::DepthwiseConv2DNhwcHwcOp) {
        return WeightOperand{1, 2, std::nullopt, 3};
      })
      // The filter is [C, KH, KW]; the result [N, C, H, W].
      .Case([](linalg::DepthwiseConv2DNchwChwOp) {
        return WeightOperand{1, 0, std::nullopt, 1};
      })
      .Default([](Operation *) { return std::nullopt; });
}
