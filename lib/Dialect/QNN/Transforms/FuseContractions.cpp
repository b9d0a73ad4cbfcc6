//===- FuseContractions.cpp - contractions to integer ops -----------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// quantize(act(dequantize(x) ⊛ dequantize(w) + b)) becomes an integer
// contraction accumulating in i32 and a qnn.rescale, with every scale, zero
// point and bias folded into integer constants at compile time
// (docs/Semantics.md, "Fused integer contractions"); per-group weights keep
// one partial sum per group; weight-only quantized contractions read the
// stored weights and dequantize them in their body.
//
//===----------------------------------------------------------------------===//

#include "FusionMatchers.h"

#include "quant-opt/Dialect/QNN/IR/QNNOps.h"
#include "quant-opt/Dialect/QNN/IR/QNNSemantics.h"
#include "quant-opt/Dialect/QNN/Transforms/Transforms.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Quant/IR/Quant.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"

#include <cmath>

using namespace mlir;
using namespace mlir::qnn;
using namespace mlir::qnn::fusion;

namespace {

/// quantize(act(dequantize(x) ⊛ dequantize(w) + b)), matched.
struct ContractionChain {
  linalg::LinalgOp contraction;
  WeightOperand layout;
  Epilogue epilogue;
  /// The bias add and activation, erased after the rewrite.
  SmallVector<Operation *> fused;
  DequantizeOp dequantizedX;
  ConstantOp weights;
  quant::UniformQuantizedType xType, outType;
  Value init;
};

/// Walks back from `quantize` through an optional activation and bias add
/// to a contraction of a dequantized per-tensor activation and dequantized
/// constant weights, accumulating from zero.
static FailureOr<ContractionChain>
matchContractionChain(QuantizeOp quantize, PatternRewriter &rewriter) {
  ContractionChain chain;
  chain.outType = dyn_cast<quant::UniformQuantizedType>(
      quantize.getType().getElementType());
  if (!chain.outType)
    return rewriter.notifyMatchFailure(quantize, "output not per tensor");
  Value current = quantize.getInput();
  Operation *op = current.getDefiningOp();
  // One or two activations (ReLU6 as max then min). (matchActivations skips
  // operand-less producers such as tensor.empty.)
  if (op && getSingleUser(current) == quantize)
    if (std::optional<ActivationChain> activations =
            matchActivations(current)) {
      chain.epilogue.clamp = activations->clamp;
      llvm::append_range(chain.fused, activations->ops);
      current = activations->input;
      op = current.getDefiningOp();
    }
  auto findContraction = [&](Operation *candidate) {
    return candidate ? getWeightOperand(candidate) : std::nullopt;
  };
  if (op && !findContraction(op) && current.hasOneUse()) {
    // A bias add between the contraction and the rest.
    for (Value operand : op->getOperands()) {
      Operation *producer = operand.getDefiningOp();
      std::optional<WeightOperand> inner = findContraction(producer);
      if (!inner || !operand.hasOneUse())
        continue;
      // A clamp inside the bias add's body is allowed when no activation
      // follows it (clamp after clamp would need their composition).
      std::optional<Clamp> innerClamp;
      if (auto bias =
              matchBiasAdd(op, operand, inner->resultChannelAxis,
                           chain.epilogue.clamp ? nullptr : &innerClamp)) {
        chain.epilogue.bias = bias;
        if (innerClamp)
          chain.epilogue.clamp = innerClamp;
        chain.fused.push_back(op);
        current = operand;
        op = producer;
        break;
      }
    }
  }
  std::optional<WeightOperand> layout = findContraction(op);
  if (!layout || !current.hasOneUse())
    return rewriter.notifyMatchFailure(quantize, "no contraction to fuse");
  chain.layout = *layout;
  chain.contraction = cast<linalg::LinalgOp>(op);
  if (chain.contraction.getNumDpsInputs() != 2 || op->getNumResults() != 1)
    return failure();
  unsigned activationIndex = 1 - layout->operandIndex;
  chain.dequantizedX = chain.contraction.getDpsInputOperand(activationIndex)
                           ->get()
                           .getDefiningOp<DequantizeOp>();
  auto dequantizedW =
      chain.contraction.getDpsInputOperand(layout->operandIndex)
          ->get()
          .getDefiningOp<DequantizeOp>();
  if (!chain.dequantizedX || !dequantizedW)
    return rewriter.notifyMatchFailure(op, "operands are not dequantized");
  chain.weights = dequantizedW.getInput().getDefiningOp<ConstantOp>();
  chain.xType = dyn_cast<quant::UniformQuantizedType>(
      chain.dequantizedX.getInput().getType().getElementType());
  if (!chain.weights || !chain.xType)
    return rewriter.notifyMatchFailure(
        op, "needs per-tensor activations and constant weights");
  chain.init = chain.contraction.getDpsInitOperand(0)->get();
  auto fill = chain.init.getDefiningOp<linalg::FillOp>();
  if (!(fill && getScalarConstant(fill.getInputs()[0]) == 0.0) &&
      !isConstantSplat(chain.init, 0.0)) {
    // Or from a broadcast bias, read as the bias add it is (one bias).
    std::optional<SmallVector<double>> bias;
    if (!chain.epilogue.bias)
      bias = matchBiasInit(chain.init, layout->resultChannelAxis);
    if (!bias)
      return rewriter.notifyMatchFailure(
          op, "does not accumulate from zero or from a broadcast bias");
    chain.epilogue.bias = bias;
  }
  return chain;
}

/// Constant weights as the integer kernel reads them: w' = w - z_w per
/// element, and per "key" (a combination of the weight dimensions the
/// contraction does not reduce over: the output channel, and the batch of
/// batch_matmul) the sums of w' and |w'| over the others.
struct ShiftedWeights {
  SmallVector<int64_t> values; // w', row-major
  SmallVector<int64_t> shape;
  SmallVector<int64_t> keyShape;
  /// Each key dimension as a dimension of the contraction's output.
  SmallVector<AffineExpr> keyInOutput;
  SmallVector<int64_t> sum, absSum; // per key
  SmallVector<double> scales;       // per channel
  int64_t channels = 0, channelStride = 1;
  /// Whether w' must be held in i32 (a zero point or unsigned storage)
  /// rather than the signed storage type.
  Type element;

  int64_t channelOfKey(int64_t key) const {
    return (key / channelStride) % channels;
  }

  Value buildConstant(OpBuilder &b, Location loc) const {
    SmallVector<APInt> bits = llvm::map_to_vector(values, [&](int64_t v) {
      return APInt(element.getIntOrFloatBitWidth(), v, /*isSigned=*/true);
    });
    return arith::ConstantOp::create(
        b, loc,
        DenseElementsAttr::get(RankedTensorType::get(shape, element), bits));
  }

  /// A tensor of `like`'s shape (i32) holding `perKey[key of the element]`.
  Value broadcastPerKey(OpBuilder &b, Location loc, Value perKey,
                        Value like) const {
    auto likeType = cast<RankedTensorType>(like.getType());
    Type elementType =
        cast<RankedTensorType>(perKey.getType()).getElementType();
    Value empty = tensor::EmptyOp::create(
        b, loc, tensor::getMixedSizes(b, loc, like), elementType);
    unsigned rank = likeType.getRank();
    AffineMap identity = b.getMultiDimIdentityMap(rank);
    AffineMap keyMap = AffineMap::get(rank, 0, keyInOutput, b.getContext());
    return linalg::GenericOp::create(
               b, loc, likeType.clone(elementType), ValueRange{perKey},
               ValueRange{empty}, ArrayRef<AffineMap>{keyMap, identity},
               SmallVector<utils::IteratorType>(rank,
                                                utils::IteratorType::parallel),
               [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
                 linalg::YieldOp::create(nested, nestedLoc, args[0]);
               })
        .getResult(0);
  }
};

/// The shifted weights of `weights` (per tensor, or per axis on the output
/// channel) read by `contraction` as `layout` says.
static FailureOr<ShiftedWeights> getShiftedWeights(linalg::LinalgOp contraction,
                                                   const WeightOperand &layout,
                                                   ConstantOp weights,
                                                   PatternRewriter &rewriter) {
  Operation *op = contraction;
  auto wTensorType = cast<RankedTensorType>(weights.getType());
  auto wType = cast<quant::QuantizedType>(wTensorType.getElementType());
  int64_t channelAxis = layout.channelAxis;
  ShiftedWeights result;
  result.channels = wTensorType.getDimSize(channelAxis);
  auto perAxis = dyn_cast<quant::UniformQuantizedPerAxisType>(wType);
  auto perTensor = dyn_cast<quant::UniformQuantizedType>(wType);
  if (!perTensor &&
      !(perAxis && perAxis.getQuantizedDimension() == channelAxis))
    return rewriter.notifyMatchFailure(
        op, "weights must be per tensor or per output channel");
  auto channelZeroPoint = [&](int64_t c) {
    return perAxis ? perAxis.getZeroPoints()[c] : perTensor.getZeroPoint();
  };
  for (int64_t c = 0; c < result.channels; ++c)
    result.scales.push_back(perAxis ? perAxis.getScales()[c]
                                    : perTensor.getScale());

  SmallVector<AffineMap> maps = contraction.getIndexingMapsArray();
  SmallVector<utils::IteratorType> iterators =
      contraction.getIteratorTypesArray();
  AffineMap weightMap = maps[layout.operandIndex];
  AffineMap outputMap = maps.back();
  ArrayRef<int64_t> wShape = wTensorType.getShape();
  result.shape.assign(wShape.begin(), wShape.end());
  SmallVector<int64_t> keyPositions;
  for (auto [position, expr] : llvm::enumerate(weightMap.getResults())) {
    auto dim = dyn_cast<AffineDimExpr>(expr);
    if (!dim)
      return rewriter.notifyMatchFailure(op, "weights are not read by dims");
    if (iterators[dim.getPosition()] != utils::IteratorType::parallel)
      continue;
    std::optional<unsigned> outputPosition = outputMap.getResultPosition(dim);
    if (!outputPosition)
      return rewriter.notifyMatchFailure(op, "unexpected weight layout");
    keyPositions.push_back(position);
    result.keyShape.push_back(wShape[position]);
    result.keyInOutput.push_back(
        getAffineDimExpr(*outputPosition, rewriter.getContext()));
  }
  int64_t numKeys = 1;
  for (int64_t size : result.keyShape)
    numKeys *= size;
  // The channel of a key, for the bias and the zero point.
  auto channelPosition = llvm::find(keyPositions, channelAxis);
  if (channelPosition == keyPositions.end())
    return rewriter.notifyMatchFailure(op, "unexpected channel layout");
  for (auto it = std::next(channelPosition); it != keyPositions.end(); ++it)
    result.channelStride *= wShape[*it];

  auto wValues = dyn_cast<DenseIntElementsAttr>(weights.getValue());
  if (!wValues)
    return rewriter.notifyMatchFailure(op, "weights are not dense");
  result.sum.assign(numKeys, 0);
  result.absSum.assign(numKeys, 0);
  bool anyZeroPoint = false;
  SmallVector<int64_t> index(wShape.size(), 0);
  for (const APInt &bits : wValues.getValues<APInt>()) {
    int64_t key = 0;
    for (int64_t position : keyPositions)
      key = key * wShape[position] + index[position];
    int64_t c = index[channelAxis];
    int64_t shifted = getStored(bits, wType) - channelZeroPoint(c);
    anyZeroPoint |= channelZeroPoint(c) != 0;
    result.values.push_back(shifted);
    result.sum[key] += shifted;
    result.absSum[key] += std::abs(shifted);
    // Row-major increment of the multi-index.
    for (int64_t axis = wShape.size() - 1; axis >= 0; --axis) {
      if (++index[axis] < wShape[axis])
        break;
      index[axis] = 0;
    }
  }
  // w' in the narrowest integer the body can sign-extend: the storage
  // type for signed storage without zero points, i32 otherwise.
  result.element =
      anyZeroPoint || !wType.isSigned()
          ? Type(rewriter.getI32Type())
          : rewriter.getIntegerType(wType.getStorageTypeIntegralWidth());
  return result;
}

/// The integer contraction with `contraction`'s indexing maps over stored
/// activations `xStored` (operand `activationIndex`) and the shifted weights
/// `wStored`: acc += ext(x) * ext(w'), from `accumulatorInit` (i32).
static Value buildIntegerContraction(OpBuilder &rewriter, Location loc,
                                     linalg::LinalgOp contraction,
                                     unsigned activationIndex, Value xStored,
                                     bool xSigned, Value wStored,
                                     Value accumulatorInit) {
  Type i32 = rewriter.getI32Type();
  SmallVector<Value> inputs(2);
  inputs[activationIndex] = xStored;
  inputs[1 - activationIndex] = wStored;
  return linalg::GenericOp::create(
             rewriter, loc, accumulatorInit.getType(), inputs, accumulatorInit,
             contraction.getIndexingMapsArray(),
             contraction.getIteratorTypesArray(),
             [&](OpBuilder &b, Location nestedLoc, ValueRange args) {
               Value x = args[activationIndex];
               Value w = args[1 - activationIndex];
               x = convertScalarToDtype(b, nestedLoc, x, i32,
                                        /*isUnsignedCast=*/!xSigned);
               if (w.getType() != i32)
                 w = arith::ExtSIOp::create(b, nestedLoc, i32, w);
               Value product = arith::MulIOp::create(b, nestedLoc, x, w);
               linalg::YieldOp::create(
                   b, nestedLoc,
                   arith::AddIOp::create(b, nestedLoc, args[2], product)
                       .getResult());
             })
      .getResult(0);
}

struct FuseQuantizedContraction : public OpRewritePattern<QuantizeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(QuantizeOp quantize,
                                PatternRewriter &rewriter) const override {
    FailureOr<ContractionChain> chain =
        matchContractionChain(quantize, rewriter);
    if (failed(chain))
      return failure();
    auto outType = chain->outType;
    Epilogue &epilogue = chain->epilogue;
    SmallVector<Operation *> &fused = chain->fused;
    std::optional<WeightOperand> layout = chain->layout;
    linalg::LinalgOp contraction = chain->contraction;
    Operation *op = contraction;
    unsigned activationIndex = 1 - layout->operandIndex;
    DequantizeOp dequantizedX = chain->dequantizedX;
    ConstantOp weights = chain->weights;
    auto xType = chain->xType;
    Value init = chain->init;

    FailureOr<ShiftedWeights> shifted =
        getShiftedWeights(contraction, *layout, weights, rewriter);
    if (failed(shifted))
      return failure();
    int64_t channels = shifted->channels;
    auto channelScale = [&](int64_t c) { return shifted->scales[c]; };
    const SmallVector<int64_t> &weightSum = shifted->sum;
    const SmallVector<int64_t> &weightAbsSum = shifted->absSum;
    int64_t numKeys = weightSum.size();

    // Per channel: the bias at s_x * s_w and the multiplier s_x * s_w / s_y.
    double sx = xType.getScale();
    int64_t zx = xType.getZeroPoint();
    int64_t xMaxAbs = std::max(std::abs(xType.getStorageTypeMin()),
                               std::abs(xType.getStorageTypeMax()));
    SmallVector<int64_t> quantizedBias(channels, 0);
    SmallVector<int32_t> multipliers(channels), shifts(channels);
    for (int64_t c = 0; c < channels; ++c) {
      double accumulatorScale = sx * channelScale(c);
      if (epilogue.bias) {
        double rounded = std::nearbyint((*epilogue.bias)[c] / accumulatorScale);
        if (!std::isfinite((*epilogue.bias)[c]))
          return op->emitError() << "bias of channel " << c
                                 << " is not finite: it has no integer form";
        if (std::fabs(rounded) >= 2147483648.0)
          return op->emitError()
                 << "bias " << (*epilogue.bias)[c] << " of channel " << c
                 << " does not fit in i32 at scale " << accumulatorScale;
        quantizedBias[c] = static_cast<int64_t>(rounded);
      }
      FailureOr<std::pair<int32_t, int32_t>> fixedPoint =
          quantizeMultiplier(accumulatorScale / outType.getScale());
      if (failed(fixedPoint))
        return op->emitError()
               << "the output rescale " << accumulatorScale << " / "
               << outType.getScale() << " has no fixed-point form";
      std::tie(multipliers[c], shifts[c]) = *fixedPoint;
    }
    // Per key: the accumulator's start, bias - z_x * sum(w'); the partial
    // sums then add ext(x) * w' terms, so this bounds them.
    SmallVector<int32_t> start(numKeys);
    for (int64_t key = 0; key < numKeys; ++key) {
      int64_t c = shifted->channelOfKey(key);
      int64_t folded = quantizedBias[c] - zx * weightSum[key];
      if (std::abs(folded) + xMaxAbs * weightAbsSum[key] >= (int64_t(1) << 31))
        return op->emitError()
               << "the i32 accumulator of channel " << c
               << " could overflow: |bias| + max|x| * sum|w - z_w| = "
               << std::abs(folded) << " + " << xMaxAbs << " * "
               << weightAbsSum[key] << " >= 2^31";
      start[key] = static_cast<int32_t>(folded);
    }

    // Activation bounds in the stored domain: quantize is monotonic, so
    // quantize(clamp(y, lo, hi)) = clamp(quantize(y), quantize(lo), ...).
    std::optional<SmallVector<int64_t>> clamp;
    if (epilogue.clamp)
      clamp = getStoredClamp(*epilogue.clamp, outType, quantize.getRounding());

    // The integer program.
    Location loc = quantize.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    rewriter.setInsertionPoint(quantize);
    Type i32 = rewriter.getI32Type();
    auto xTensorType = dequantizedX.getInput().getType();
    Value xStored = quant::StorageCastOp::create(
        rewriter, loc, getStoredValuesType(xTensorType),
        dequantizedX.getInput());
    Value wStored = shifted->buildConstant(rewriter, loc);
    Value startConstant = arith::ConstantOp::create(
        rewriter, loc,
        DenseElementsAttr::get(RankedTensorType::get(shifted->keyShape, i32),
                               ArrayRef(start)));
    Value accumulatorInit =
        shifted->broadcastPerKey(rewriter, loc, startConstant, init);
    Value accumulator = buildIntegerContraction(
        rewriter, loc, contraction, activationIndex, xStored, xType.isSigned(),
        wStored, accumulatorInit);

    bool perChannel =
        llvm::any_of(llvm::seq<int64_t>(1, channels), [&](int64_t c) {
          return multipliers[c] != multipliers[0] || shifts[c] != shifts[0];
        });
    auto rescale = RescaleOp::create(
        rewriter, loc, quantize.getType(), accumulator,
        rewriter.getDenseI32ArrayAttr(perChannel
                                          ? ArrayRef(multipliers)
                                          : ArrayRef(multipliers).take_front()),
        rewriter.getDenseI32ArrayAttr(
            perChannel ? ArrayRef(shifts) : ArrayRef(shifts).take_front()),
        perChannel ? rewriter.getI64IntegerAttr(layout->resultChannelAxis)
                   : IntegerAttr(),
        RoundingModeAttr::get(ctx, quantize.getRounding()),
        clamp ? rewriter.getDenseI64ArrayAttr(*clamp) : DenseI64ArrayAttr());
    rewriter.replaceOp(quantize, rescale.getResult());
    for (Operation *dead : fused)
      if (dead->use_empty())
        rewriter.eraseOp(dead);
    if (op->use_empty())
      rewriter.eraseOp(op);
    return success();
  }
};

/// The same chain with per-group weights (groups of g along the reduction
/// axis, one scale per group and output channel): the contraction keeps one
/// i32 partial sum per group, a reduction adds them in i64 with a multiplier
/// per group at the channel's shift, and a qnn.rescale rounds once
/// (docs/Semantics.md, "Per-group weights").
struct FuseGroupedContraction : public OpRewritePattern<QuantizeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(QuantizeOp quantize,
                                PatternRewriter &rewriter) const override {
    FailureOr<ContractionChain> chain =
        matchContractionChain(quantize, rewriter);
    if (failed(chain))
      return failure();
    auto wTensorType = cast<RankedTensorType>(chain->weights.getType());
    auto wType = dyn_cast<quant::UniformQuantizedSubChannelType>(
        wTensorType.getElementType());
    const WeightOperand &layout = chain->layout;
    if (!wType || !layout.reductionAxis)
      return failure();
    ArrayRef<int64_t> wShape = wTensorType.getShape();
    int64_t rank = wShape.size();
    int64_t reductionAxis = *layout.reductionAxis;
    int64_t channelAxis = layout.channelAxis;
    SmallVector<int64_t> blocks = getParameterBlockSizes(wType, wShape);
    for (int64_t axis = 0; axis < rank; ++axis) {
      bool ok = axis == reductionAxis ? blocks[axis] <= wShape[axis]
                : axis == channelAxis ? true
                                      : blocks[axis] == wShape[axis];
      if (!ok)
        return rewriter.notifyMatchFailure(quantize, "unsupported groups");
    }
    int64_t groupSize = blocks[reductionAxis];
    int64_t numGroups = wShape[reductionAxis] / groupSize;
    int64_t channels = wShape[channelAxis];
    QuantizationParameters parameters(wType, wShape);

    linalg::LinalgOp contraction = chain->contraction;
    Operation *op = contraction;
    MLIRContext *ctx = getContext();
    SmallVector<AffineMap> maps = contraction.getIndexingMapsArray();
    SmallVector<utils::IteratorType> iterators =
        contraction.getIteratorTypesArray();
    AffineMap weightMap = maps[layout.operandIndex];
    AffineMap outputMap = maps.back();
    auto reductionDim =
        dyn_cast<AffineDimExpr>(weightMap.getResult(reductionAxis));
    if (!reductionDim)
      return failure();
    unsigned reductionLoop = reductionDim.getPosition();

    // Keys: the weight dimensions the contraction does not reduce over.
    SmallVector<int64_t> keyPositions, keyShape;
    SmallVector<AffineExpr> keyInOutput;
    for (auto [position, expr] : llvm::enumerate(weightMap.getResults())) {
      auto dim = dyn_cast<AffineDimExpr>(expr);
      if (!dim)
        return failure();
      if (iterators[dim.getPosition()] != utils::IteratorType::parallel)
        continue;
      std::optional<unsigned> outputPosition = outputMap.getResultPosition(dim);
      if (!outputPosition)
        return failure();
      keyPositions.push_back(position);
      keyShape.push_back(wShape[position]);
      keyInOutput.push_back(getAffineDimExpr(*outputPosition, ctx));
    }
    int64_t numKeys = 1;
    for (int64_t size : keyShape)
      numKeys *= size;

    // w' = w - z_w, and per (key, group) the sums of w' and |w'|; the scale
    // of each (group, channel).
    auto wValues = dyn_cast<DenseIntElementsAttr>(chain->weights.getValue());
    if (!wValues)
      return failure();
    SmallVector<int64_t> shiftedWeights;
    SmallVector<int64_t> sums(numKeys * numGroups, 0),
        absSums(numKeys * numGroups, 0);
    SmallVector<double> groupScale(numGroups * channels, 0);
    SmallVector<int64_t> keyChannel(numKeys, 0);
    bool anyZeroPoint = false;
    SmallVector<int64_t> index(rank, 0);
    for (auto [linear, bits] : llvm::enumerate(wValues.getValues<APInt>())) {
      int64_t key = 0;
      for (int64_t position : keyPositions)
        key = key * wShape[position] + index[position];
      int64_t group = index[reductionAxis] / groupSize;
      int64_t c = index[channelAxis];
      int64_t zeroPoint = parameters.getZeroPoint(linear);
      int64_t shifted = getStored(bits, wType) - zeroPoint;
      anyZeroPoint |= zeroPoint != 0;
      shiftedWeights.push_back(shifted);
      sums[key * numGroups + group] += shifted;
      absSums[key * numGroups + group] += std::abs(shifted);
      groupScale[group * channels + c] = parameters.getScale(linear);
      keyChannel[key] = c;
      for (int64_t axis = rank - 1; axis >= 0; --axis) {
        if (++index[axis] < wShape[axis])
          break;
        index[axis] = 0;
      }
    }

    // Per channel: the shift of its largest group multiplier, each group's
    // multiplier at that shift, and the bias at 2^n / s_y.
    double sx = chain->xType.getScale();
    double sy = chain->outType.getScale();
    int64_t zx = chain->xType.getZeroPoint();
    int64_t xMaxAbs = std::max(std::abs(chain->xType.getStorageTypeMin()),
                               std::abs(chain->xType.getStorageTypeMax()));
    SmallVector<int64_t> multipliers(numGroups * channels), biases(channels, 0);
    SmallVector<int32_t> shifts(channels);
    for (int64_t c = 0; c < channels; ++c) {
      double largest = 0;
      for (int64_t g = 0; g < numGroups; ++g)
        largest = std::max(largest, (sx * groupScale[g * channels + c]) / sy);
      FailureOr<std::pair<int32_t, int32_t>> fixedPoint =
          quantizeMultiplier(largest);
      if (failed(fixedPoint))
        return op->emitError() << "the output rescale of channel " << c
                               << " has no fixed-point form";
      shifts[c] = fixedPoint->second;
      for (int64_t g = 0; g < numGroups; ++g)
        multipliers[g * channels + c] = static_cast<int64_t>(std::nearbyint(
            std::ldexp((sx * groupScale[g * channels + c]) / sy, shifts[c])));
      if (chain->epilogue.bias) {
        double bias = std::nearbyint(
            std::ldexp((*chain->epilogue.bias)[c] / sy, shifts[c]));
        if (std::fabs(bias) >= std::ldexp(1.0, 61))
          return op->emitError()
                 << "bias of channel " << c << " does not fit the i64 sum";
        biases[c] = static_cast<int64_t>(bias);
      }
    }
    // Starts of the i32 partial sums, and the bounds of both sums.
    SmallVector<int32_t> starts(numKeys * numGroups);
    for (int64_t key = 0; key < numKeys; ++key) {
      int64_t c = keyChannel[key];
      // Stay below 2^62 in i64; as doubles the bound cannot overflow.
      double bound = std::fabs(static_cast<double>(biases[c]));
      for (int64_t g = 0; g < numGroups; ++g) {
        int64_t folded = -zx * sums[key * numGroups + g];
        int64_t partial =
            std::abs(folded) + xMaxAbs * absSums[key * numGroups + g];
        if (partial >= (int64_t(1) << 31))
          return op->emitError() << "the i32 partial sum of group " << g
                                 << " of channel " << c << " could overflow";
        bound += static_cast<double>(partial) *
                 static_cast<double>(multipliers[g * channels + c]);
        starts[key * numGroups + g] = static_cast<int32_t>(folded);
      }
      if (bound >= std::ldexp(1.0, 62))
        return op->emitError() << "the i64 sum over groups of channel " << c
                               << " could overflow";
    }

    // The integer program.
    Location loc = quantize.getLoc();
    rewriter.setInsertionPoint(quantize);
    Type i32 = rewriter.getI32Type(), i64 = rewriter.getI64Type();
    auto xTensorType = chain->dequantizedX.getInput().getType();
    Value xStored = quant::StorageCastOp::create(
        rewriter, loc, getStoredValuesType(xTensorType),
        chain->dequantizedX.getInput());
    Type wElement =
        anyZeroPoint || !wType.isSigned()
            ? i32
            : rewriter.getIntegerType(wType.getStorageTypeIntegralWidth());
    SmallVector<APInt> wBits =
        llvm::map_to_vector(shiftedWeights, [&](int64_t v) {
          return APInt(wElement.getIntOrFloatBitWidth(), v, /*isSigned=*/true);
        });
    Value wStored = arith::ConstantOp::create(
        rewriter, loc,
        DenseElementsAttr::get(RankedTensorType::get(wShape, wElement), wBits));

    auto resultType = cast<RankedTensorType>(op->getResult(0).getType());
    unsigned resultRank = resultType.getRank();
    SmallVector<OpFoldResult> sizes =
        tensor::getMixedSizes(rewriter, loc, chain->init);
    SmallVector<OpFoldResult> groupSizes(sizes);
    groupSizes.push_back(rewriter.getIndexAttr(numGroups));
    Value partialEmpty =
        tensor::EmptyOp::create(rewriter, loc, groupSizes, i32);
    SmallVector<int64_t> startShape(keyShape);
    startShape.push_back(numGroups);
    Value startConstant = arith::ConstantOp::create(
        rewriter, loc,
        DenseElementsAttr::get(RankedTensorType::get(startShape, i32),
                               ArrayRef(starts)));
    SmallVector<AffineExpr> startIndices(keyInOutput);
    for (AffineExpr &expr : startIndices)
      expr = getAffineDimExpr(cast<AffineDimExpr>(expr).getPosition(), ctx);
    startIndices.push_back(getAffineDimExpr(resultRank, ctx));
    AffineMap partialIdentity = rewriter.getMultiDimIdentityMap(resultRank + 1);
    auto parallel = [](unsigned n) {
      return SmallVector<utils::IteratorType>(n, utils::IteratorType::parallel);
    };
    Value partialInit =
        linalg::GenericOp::create(
            rewriter, loc, partialEmpty.getType(), ValueRange{startConstant},
            ValueRange{partialEmpty},
            ArrayRef<AffineMap>{
                AffineMap::get(resultRank + 1, 0, startIndices, ctx),
                partialIdentity},
            parallel(resultRank + 1),
            [&](OpBuilder &b, Location nestedLoc, ValueRange args) {
              linalg::YieldOp::create(b, nestedLoc, args[0]);
            })
            .getResult(0);

    // The contraction with the reduction loop split into (group, within):
    // both operands get their reduction dimension expanded into (G, g), so
    // that every loop stays a plain dimension, and the group loop becomes
    // parallel and indexes the partial sums.
    unsigned numLoops = contraction.getNumLoops();
    AffineExpr groupDim = getAffineDimExpr(reductionLoop, ctx);
    AffineExpr withinDim = getAffineDimExpr(numLoops, ctx);
    unsigned activationIndex = 1 - layout.operandIndex;
    SmallVector<Value> inputs(2);
    SmallVector<AffineMap> newMaps;
    for (unsigned operandIndex = 0; operandIndex < 2; ++operandIndex) {
      AffineMap map = maps[operandIndex];
      std::optional<unsigned> position = map.getResultPosition(groupDim);
      if (!position)
        return rewriter.notifyMatchFailure(
            op, "reduction read through an expression");
      Value operand = operandIndex == activationIndex ? xStored : wStored;
      auto type = cast<RankedTensorType>(operand.getType());
      if (type.isDynamicDim(*position))
        return rewriter.notifyMatchFailure(op, "dynamic reduction size");
      SmallVector<int64_t> expandedShape;
      SmallVector<ReassociationIndices> reassociation;
      SmallVector<AffineExpr> results;
      for (auto [dim, size] : llvm::enumerate(type.getShape())) {
        int64_t first = expandedShape.size();
        if (dim == *position) {
          expandedShape.append({numGroups, groupSize});
          reassociation.push_back({first, first + 1});
          results.append({groupDim, withinDim});
        } else {
          expandedShape.push_back(size);
          reassociation.push_back({first});
          results.push_back(map.getResult(dim));
        }
      }
      auto expandedType = type.clone(expandedShape);
      if (operandIndex == layout.operandIndex) {
        // Constant weights: the same elements, in the same order.
        auto attr = cast<DenseElementsAttr>(
            wStored.getDefiningOp<arith::ConstantOp>().getValue());
        inputs[operandIndex] = arith::ConstantOp::create(
            rewriter, loc, attr.reshape(expandedType));
      } else {
        inputs[operandIndex] = tensor::ExpandShapeOp::create(
            rewriter, loc, expandedType, operand, reassociation);
      }
      newMaps.push_back(AffineMap::get(numLoops + 1, 0, results, ctx));
    }
    SmallVector<AffineExpr> outputResults(outputMap.getResults());
    outputResults.push_back(groupDim);
    newMaps.push_back(AffineMap::get(numLoops + 1, 0, outputResults, ctx));
    SmallVector<utils::IteratorType> newIterators(iterators);
    newIterators[reductionLoop] = utils::IteratorType::parallel;
    newIterators.push_back(utils::IteratorType::reduction);
    bool xSigned = chain->xType.isSigned();
    Value partials =
        linalg::GenericOp::create(
            rewriter, loc, partialInit.getType(), inputs, partialInit, newMaps,
            newIterators,
            [&](OpBuilder &b, Location nestedLoc, ValueRange args) {
              Value x = args[activationIndex];
              Value w = args[layout.operandIndex];
              x = convertScalarToDtype(b, nestedLoc, x, i32,
                                       /*isUnsignedCast=*/!xSigned);
              if (w.getType() != i32)
                w = arith::ExtSIOp::create(b, nestedLoc, i32, w);
              linalg::YieldOp::create(
                  b, nestedLoc,
                  arith::AddIOp::create(
                      b, nestedLoc, args[2],
                      arith::MulIOp::create(b, nestedLoc, x, w))
                      .getResult());
            })
            .getResult(0);

    // p = bias + sum over groups of partial * m, exact in i64.
    AffineMap channelOfResult = AffineMap::get(
        resultRank, 0, getAffineDimExpr(layout.resultChannelAxis, ctx));
    Value biasConstant = arith::ConstantOp::create(
        rewriter, loc,
        DenseElementsAttr::get(RankedTensorType::get({channels}, i64),
                               ArrayRef(biases)));
    Value sumEmpty = tensor::EmptyOp::create(rewriter, loc, sizes, i64);
    Value sumInit =
        linalg::GenericOp::create(
            rewriter, loc, sumEmpty.getType(), ValueRange{biasConstant},
            ValueRange{sumEmpty},
            ArrayRef<AffineMap>{channelOfResult,
                                rewriter.getMultiDimIdentityMap(resultRank)},
            parallel(resultRank),
            [&](OpBuilder &b, Location nestedLoc, ValueRange args) {
              linalg::YieldOp::create(b, nestedLoc, args[0]);
            })
            .getResult(0);
    Value multiplierConstant = arith::ConstantOp::create(
        rewriter, loc,
        DenseElementsAttr::get(
            RankedTensorType::get({numGroups, channels}, i64),
            ArrayRef(multipliers)));
    SmallVector<AffineExpr> resultDims;
    for (unsigned dim = 0; dim < resultRank; ++dim)
      resultDims.push_back(getAffineDimExpr(dim, ctx));
    SmallVector<utils::IteratorType> sumIterators = parallel(resultRank);
    sumIterators.push_back(utils::IteratorType::reduction);
    Value sum =
        linalg::GenericOp::create(
            rewriter, loc, sumInit.getType(),
            ValueRange{partials, multiplierConstant}, sumInit,
            ArrayRef<AffineMap>{
                partialIdentity,
                AffineMap::get(
                    resultRank + 1, 0,
                    {getAffineDimExpr(resultRank, ctx),
                     getAffineDimExpr(layout.resultChannelAxis, ctx)},
                    ctx),
                AffineMap::get(resultRank + 1, 0, resultDims, ctx)},
            sumIterators,
            [&](OpBuilder &b, Location nestedLoc, ValueRange args) {
              Value partial =
                  arith::ExtSIOp::create(b, nestedLoc, i64, args[0]);
              linalg::YieldOp::create(
                  b, nestedLoc,
                  arith::AddIOp::create(
                      b, nestedLoc, args[2],
                      arith::MulIOp::create(b, nestedLoc, partial, args[1]))
                      .getResult());
            })
            .getResult(0);

    bool perChannel = llvm::any_of(
        shifts, [&](int32_t shift) { return shift != shifts.front(); });
    std::optional<SmallVector<int64_t>> clamp;
    if (chain->epilogue.clamp)
      clamp = getStoredClamp(*chain->epilogue.clamp, chain->outType,
                             quantize.getRounding());
    SmallVector<int32_t> ones(perChannel ? channels : 1, 1);
    auto rescale = RescaleOp::create(
        rewriter, loc, quantize.getType(), sum,
        rewriter.getDenseI32ArrayAttr(ones),
        rewriter.getDenseI32ArrayAttr(
            perChannel ? ArrayRef(shifts) : ArrayRef(shifts).take_front()),
        perChannel ? rewriter.getI64IntegerAttr(layout.resultChannelAxis)
                   : IntegerAttr(),
        RoundingModeAttr::get(ctx, quantize.getRounding()),
        clamp ? rewriter.getDenseI64ArrayAttr(*clamp) : DenseI64ArrayAttr());
    rewriter.replaceOp(quantize, rescale.getResult());
    for (Operation *dead : chain->fused)
      if (dead->use_empty())
        rewriter.eraseOp(dead);
    if (op->use_empty())
      rewriter.eraseOp(op);
    return success();
  }
};

/// A float activation times dequantized constant weights (weight-only
/// quantization): the stored weights are read by the contraction and
/// dequantized in its body, as qnn.dequantize would, one element at a time.
struct FuseWeightOnlyContraction
    : public OpInterfaceRewritePattern<linalg::LinalgOp> {
  using OpInterfaceRewritePattern::OpInterfaceRewritePattern;

  LogicalResult matchAndRewrite(linalg::LinalgOp op,
                                PatternRewriter &rewriter) const override {
    std::optional<WeightOperand> layout = getWeightOperand(op);
    if (!layout || op.getNumDpsInputs() != 2 || op->getNumResults() != 1)
      return failure();
    unsigned activationIndex = 1 - layout->operandIndex;
    auto dequantize = op.getDpsInputOperand(layout->operandIndex)
                          ->get()
                          .getDefiningOp<DequantizeOp>();
    Operation *activation =
        op.getDpsInputOperand(activationIndex)->get().getDefiningOp();
    // Integer activations: the integer patterns' job.
    if (!dequantize ||
        isa_and_nonnull<DequantizeOp, DynamicDequantizeOp>(activation))
      return failure();
    auto weights = dequantize.getInput().getDefiningOp<ConstantOp>();
    auto resultType = cast<RankedTensorType>(op->getResult(0).getType());
    if (!weights || !resultType.getElementType().isF32())
      return failure();
    auto weightType = weights.getType();
    auto type = cast<quant::QuantizedType>(weightType.getElementType());
    if (!type.getExpressedType().isF32())
      return failure();

    // Scales and zero points per block of the weights, read through the
    // weight map with each blocked dimension divided by its block size.
    MLIRContext *ctx = getContext();
    Location loc = op.getLoc();
    ArrayRef<int64_t> shape = weightType.getShape();
    QuantizationParameters parameters(type, shape);
    SmallVector<int64_t> blockSizes = getParameterBlockSizes(type, shape);
    SmallVector<AffineMap> maps = op.getIndexingMapsArray();
    AffineMap weightMap = maps[layout->operandIndex];
    SmallVector<AffineExpr> parameterIndices;
    for (auto [position, expr] : llvm::enumerate(weightMap.getResults())) {
      if (blockSizes[position] == shape[position])
        parameterIndices.push_back(getAffineConstantExpr(0, ctx));
      else if (blockSizes[position] == 1)
        parameterIndices.push_back(expr);
      else
        parameterIndices.push_back(expr.floorDiv(blockSizes[position]));
    }
    AffineMap parameterMap =
        AffineMap::get(weightMap.getNumDims(), 0, parameterIndices, ctx);
    Type f32 = rewriter.getF32Type(), i32 = rewriter.getI32Type();
    auto parameterShape = parameters.getParameterShape();
    SmallVector<APFloat> scales =
        llvm::map_to_vector(parameters.getScales(), [](double scale) {
          return APFloat(static_cast<float>(scale));
        });
    SmallVector<APInt> zeroPoints =
        llvm::map_to_vector(parameters.getZeroPoints(), [](int64_t zeroPoint) {
          return APInt(32, zeroPoint, true);
        });
    Value scaleConstant = arith::ConstantOp::create(
        rewriter, loc,
        DenseElementsAttr::get(RankedTensorType::get(parameterShape, f32),
                               scales));
    Value zeroPointConstant = arith::ConstantOp::create(
        rewriter, loc,
        DenseElementsAttr::get(RankedTensorType::get(parameterShape, i32),
                               zeroPoints));
    // The stored values as a plain integer constant (signless bits).
    auto values = dyn_cast<DenseIntElementsAttr>(weights.getValue());
    if (!values)
      return failure();
    auto storedType = getStoredValuesType(weightType);
    Value stored = arith::ConstantOp::create(
        rewriter, loc, values.bitcast(storedType.getElementType()));

    SmallVector<Value> inputs = {op.getDpsInputOperand(0)->get(),
                                 op.getDpsInputOperand(1)->get(), scaleConstant,
                                 zeroPointConstant};
    inputs[layout->operandIndex] = stored;
    SmallVector<AffineMap> newMaps = {maps[0], maps[1], parameterMap,
                                      parameterMap, maps[2]};
    bool isSigned = type.isSigned();
    auto generic = linalg::GenericOp::create(
        rewriter, loc, resultType, inputs, op.getDpsInitOperand(0)->get(),
        newMaps, op.getIteratorTypesArray(),
        [&](OpBuilder &b, Location nestedLoc, ValueRange args) {
          // qnn.dequantize of one weight: (q - z) converted, times s.
          Value q = args[layout->operandIndex];
          Value wide =
              isSigned
                  ? arith::ExtSIOp::create(b, nestedLoc, i32, q).getResult()
                  : arith::ExtUIOp::create(b, nestedLoc, i32, q).getResult();
          Value weight = arith::MulFOp::create(
              b, nestedLoc,
              arith::SIToFPOp::create(
                  b, nestedLoc, f32,
                  arith::SubIOp::create(b, nestedLoc, wide, args[3])),
              args[2]);
          Value product = arith::MulFOp::create(b, nestedLoc,
                                                args[activationIndex], weight);
          linalg::YieldOp::create(
              b, nestedLoc,
              arith::AddFOp::create(b, nestedLoc, args[4], product)
                  .getResult());
        });
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};

} // namespace

/// An input of a dynamic contraction's epilogue and how the output's loops
/// read it.
struct EpilogueInput {
  Value value;
  AffineMap map;
};

/// The float epilogue of a dynamically quantized contraction
/// (docs/Semantics.md), one elementwise loop over the output:
/// y = c + f32(acc - z · Σw') · (s1 · s2), the correction z · Σw' only when
/// `correction` (z, Σw') is given.
static Value buildDynamicEpilogue(
    OpBuilder &b, Location loc, Value accumulator, Value init,
    EpilogueInput scale1, EpilogueInput scale2,
    std::optional<std::pair<EpilogueInput, EpilogueInput>> correction =
        std::nullopt) {
  auto initType = cast<RankedTensorType>(init.getType());
  unsigned rank = initType.getRank();
  AffineMap identity = b.getMultiDimIdentityMap(rank);
  SmallVector<Value> inputs = {accumulator, scale1.value, scale2.value, init};
  SmallVector<AffineMap> maps = {identity, scale1.map, scale2.map, identity};
  if (correction) {
    inputs.append({correction->first.value, correction->second.value});
    maps.append({correction->first.map, correction->second.map});
  }
  maps.push_back(identity);
  Type f32 = b.getF32Type();
  Value empty =
      tensor::EmptyOp::create(b, loc, tensor::getMixedSizes(b, loc, init), f32);
  return linalg::GenericOp::create(
             b, loc, initType, inputs, ValueRange{empty}, maps,
             SmallVector<utils::IteratorType>(rank,
                                              utils::IteratorType::parallel),
             [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
               Value exact = args[0];
               if (correction)
                 exact = arith::SubIOp::create(
                     nested, nestedLoc, exact,
                     arith::MulIOp::create(nested, nestedLoc, args[4],
                                           args[5]));
               Value multiplier =
                   arith::MulFOp::create(nested, nestedLoc, args[1], args[2]);
               Value product = arith::MulFOp::create(
                   nested, nestedLoc,
                   arith::SIToFPOp::create(nested, nestedLoc, f32, exact),
                   multiplier);
               linalg::YieldOp::create(
                   nested, nestedLoc,
                   arith::AddFOp::create(nested, nestedLoc, args[3], product)
                       .getResult());
             })
      .getResult(0);
}

/// A contraction of a dynamically quantized activation and constant
/// quantized weights, dynamic_dequantize(q, s_x, z_x) ⊛ dequantize(w), becomes
/// an integer contraction of the stored values and a float epilogue
/// c + f32(acc - z_x · Σw') · (s_x · s_w) (docs/Semantics.md, "Dynamically
/// quantized contractions"); the result stays float.
struct FuseDynamicContraction
    : public OpInterfaceRewritePattern<linalg::LinalgOp> {
  using OpInterfaceRewritePattern::OpInterfaceRewritePattern;

  LogicalResult matchAndRewrite(linalg::LinalgOp contraction,
                                PatternRewriter &rewriter) const override {
    Operation *op = contraction;
    std::optional<WeightOperand> layout = getWeightOperand(op);
    if (!layout || contraction.getNumDpsInputs() != 2 ||
        op->getNumResults() != 1)
      return failure();
    unsigned activationIndex = 1 - layout->operandIndex;
    auto dequantizedX = contraction.getDpsInputOperand(activationIndex)
                            ->get()
                            .getDefiningOp<DynamicDequantizeOp>();
    auto dequantizedW = contraction.getDpsInputOperand(layout->operandIndex)
                            ->get()
                            .getDefiningOp<DequantizeOp>();
    if (!dequantizedX || !dequantizedW)
      return rewriter.notifyMatchFailure(op, "not a dynamic contraction");
    auto weights = dequantizedW.getInput().getDefiningOp<ConstantOp>();
    if (!weights)
      return rewriter.notifyMatchFailure(op, "weights are not constant");
    FailureOr<ShiftedWeights> shifted =
        getShiftedWeights(contraction, *layout, weights, rewriter);
    if (failed(shifted))
      return failure();

    // Where each run-time parameter is read: the output dimension of each
    // axis the parameters keep (the rows of a matmul).
    MLIRContext *ctx = getContext();
    RankedTensorType scaleType = dequantizedX.getScale().getType();
    SmallVector<SmallVector<int64_t, 2>> reassociation;
    SmallVector<int64_t> keptAxes =
        getDynamicParameterAxes(scaleType.getShape(), reassociation);
    SmallVector<AffineMap> maps = contraction.getIndexingMapsArray();
    AffineMap xMap = maps[activationIndex], outputMap = maps.back();
    SmallVector<AffineExpr> parameterInOutput;
    SmallVector<int64_t> collapsedShape;
    for (int64_t axis : keptAxes) {
      auto dim = dyn_cast<AffineDimExpr>(xMap.getResult(axis));
      std::optional<unsigned> position =
          dim ? outputMap.getResultPosition(dim) : std::nullopt;
      if (!position)
        return rewriter.notifyMatchFailure(
            op, "a run-time parameter varies along a reduced axis");
      parameterInOutput.push_back(getAffineDimExpr(*position, ctx));
      collapsedShape.push_back(scaleType.getDimSize(axis));
    }

    // acc - z_x · Σw' must stay in i32: |Σ x·w'| <= max|x| · Σ|w'| and
    // |z_x · Σw'| <= max|z| · |Σw'|, both over the storage range.
    auto [qmin, qmax] = getStorageRange(dequantizedX.getInput()
                                            .getType()
                                            .getElementType()
                                            .getIntOrFloatBitWidth(),
                                        dequantizedX.getIsUnsigned());
    int64_t xMaxAbs = std::max(std::abs(qmin), std::abs(qmax));
    for (auto [key, sum] : llvm::enumerate(shifted->sum))
      if (xMaxAbs * (shifted->absSum[key] + std::abs(sum)) >=
          (int64_t(1) << 31))
        return op->emitError()
               << "the i32 accumulator of channel "
               << shifted->channelOfKey(key)
               << " could overflow: max|x| * (sum|w - z_w| + |sum(w - z_w)|) "
                  "= "
               << xMaxAbs << " * " << (shifted->absSum[key] + std::abs(sum))
               << " >= 2^31";

    // The integer contraction, from zero.
    Location loc = op->getLoc();
    rewriter.setInsertionPoint(op);
    Type i32 = rewriter.getI32Type(), f32 = rewriter.getF32Type();
    Value init = contraction.getDpsInitOperand(0)->get();
    auto initType = cast<RankedTensorType>(init.getType());
    if (initType.getElementType() != f32)
      return rewriter.notifyMatchFailure(op, "result is not f32");
    Value zero =
        arith::ConstantOp::create(rewriter, loc, rewriter.getI32IntegerAttr(0));
    Value emptyAccumulator = tensor::EmptyOp::create(
        rewriter, loc, tensor::getMixedSizes(rewriter, loc, init), i32);
    Value zeros = linalg::FillOp::create(rewriter, loc, zero, emptyAccumulator)
                      .getResult(0);
    Value accumulator = buildIntegerContraction(
        rewriter, loc, contraction, activationIndex, dequantizedX.getInput(),
        !dequantizedX.getIsUnsigned(), shifted->buildConstant(rewriter, loc),
        zeros);

    // The epilogue: y = c + f32(acc - z_x · Σw') · (s_x · f32(s_w)).
    int64_t numKeys = shifted->sum.size();
    SmallVector<int32_t> sums;
    SmallVector<float> scales;
    for (int64_t key = 0; key < numKeys; ++key) {
      sums.push_back(static_cast<int32_t>(shifted->sum[key]));
      scales.push_back(
          static_cast<float>(shifted->scales[shifted->channelOfKey(key)]));
    }
    auto keyType = [&](Type element) {
      return RankedTensorType::get(shifted->keyShape, element);
    };
    Value sumConstant = arith::ConstantOp::create(
        rewriter, loc, DenseElementsAttr::get(keyType(i32), ArrayRef(sums)));
    Value scaleConstant = arith::ConstantOp::create(
        rewriter, loc, DenseElementsAttr::get(keyType(f32), ArrayRef(scales)));
    auto collapse = [&](Value parameters, Type element) -> Value {
      return tensor::CollapseShapeOp::create(
          rewriter, loc, RankedTensorType::get(collapsedShape, element),
          parameters, reassociation);
    };
    Value xScale = collapse(dequantizedX.getScale(), f32);
    Value xZeroPoint = collapse(dequantizedX.getZeroPoint(), i32);
    unsigned rank = initType.getRank();
    AffineMap parameterMap = AffineMap::get(rank, 0, parameterInOutput, ctx);
    AffineMap keyMap = AffineMap::get(rank, 0, shifted->keyInOutput, ctx);
    Value epilogue = buildDynamicEpilogue(
        rewriter, loc, accumulator, init, {xScale, parameterMap},
        {scaleConstant, keyMap},
        std::make_pair(EpilogueInput{xZeroPoint, parameterMap},
                       EpilogueInput{sumConstant, keyMap}));
    rewriter.replaceOp(op, epilogue);
    return success();
  }
};

/// A matmul of two dynamically quantized activations (attention's Q·Kᵀ
/// and P·V), dynamic_dequantize(a) ⊛ dynamic_dequantize(b), becomes an
/// integer contraction of (a - z_a)·(b - z_b), the zero points read at run
/// time, and the float epilogue c + f32(acc) · (s_a · s_b)
/// (docs/Semantics.md, "Dynamically quantized contractions").
struct FuseDynamicActivationContraction
    : public OpInterfaceRewritePattern<linalg::LinalgOp> {
  using OpInterfaceRewritePattern::OpInterfaceRewritePattern;

  /// An operand's run-time parameters: collapsed to the axes they keep,
  /// with the map from the contraction's loops to them.
  struct Parameters {
    Value scale, zeroPoint;
    AffineMap inLoops;
  };

  LogicalResult matchAndRewrite(linalg::LinalgOp contraction,
                                PatternRewriter &rewriter) const override {
    Operation *op = contraction;
    if (!isa<linalg::MatmulOp, linalg::BatchMatmulOp>(op))
      return failure();
    auto lhs = contraction.getDpsInputOperand(0)
                   ->get()
                   .getDefiningOp<DynamicDequantizeOp>();
    auto rhs = contraction.getDpsInputOperand(1)
                   ->get()
                   .getDefiningOp<DynamicDequantizeOp>();
    if (!lhs || !rhs)
      return rewriter.notifyMatchFailure(op, "not two dynamic operands");
    Value init = contraction.getDpsInitOperand(0)->get();
    auto initType = cast<RankedTensorType>(init.getType());
    Type i32 = rewriter.getI32Type(), f32 = rewriter.getF32Type();
    if (initType.getElementType() != f32)
      return rewriter.notifyMatchFailure(op, "result is not f32");

    // |acc| <= K · max|a - z_a| · max|b - z_b| must stay below 2^31.
    auto lhsType = cast<RankedTensorType>(lhs.getInput().getType());
    int64_t reduction = lhsType.getShape().back();
    if (ShapedType::isDynamic(reduction))
      return rewriter.notifyMatchFailure(op, "dynamic reduction size");
    auto span = [](DynamicDequantizeOp operand) {
      unsigned bits =
          operand.getInput().getType().getElementType().getIntOrFloatBitWidth();
      return (int64_t(1) << bits) - 1; // max |q - z| over the storage range
    };
    if (reduction * span(lhs) * span(rhs) >= (int64_t(1) << 31))
      return op->emitError()
             << "the i32 accumulator could overflow: " << reduction << " * "
             << span(lhs) << " * " << span(rhs) << " >= 2^31";

    MLIRContext *ctx = getContext();
    Location loc = op->getLoc();
    rewriter.setInsertionPoint(op);
    SmallVector<AffineMap> maps = contraction.getIndexingMapsArray();
    auto getParameters = [&](DynamicDequantizeOp operand,
                             AffineMap map) -> Parameters {
      RankedTensorType scaleType = operand.getScale().getType();
      SmallVector<SmallVector<int64_t, 2>> reassociation;
      SmallVector<int64_t> kept =
          getDynamicParameterAxes(scaleType.getShape(), reassociation);
      SmallVector<AffineExpr> results;
      SmallVector<int64_t> shape;
      for (int64_t axis : kept) {
        results.push_back(map.getResult(axis));
        shape.push_back(scaleType.getDimSize(axis));
      }
      auto collapse = [&](Value value, Type element) -> Value {
        return tensor::CollapseShapeOp::create(
            rewriter, loc, RankedTensorType::get(shape, element), value,
            reassociation);
      };
      return {collapse(operand.getScale(), f32),
              collapse(operand.getZeroPoint(), i32),
              AffineMap::get(map.getNumDims(), 0, results, ctx)};
    };
    Parameters a = getParameters(lhs, maps[0]), b = getParameters(rhs, maps[1]);
    // Each parameter must vary along loops of the output only (it is
    // applied after the sum).
    AffineMap outputMap = maps.back();
    auto inOutput = [&](AffineMap inLoops) -> FailureOr<AffineMap> {
      SmallVector<AffineExpr> results;
      for (AffineExpr expr : inLoops.getResults()) {
        auto dim = dyn_cast<AffineDimExpr>(expr);
        std::optional<unsigned> position =
            dim ? outputMap.getResultPosition(dim) : std::nullopt;
        if (!position)
          return failure();
        results.push_back(getAffineDimExpr(*position, ctx));
      }
      return AffineMap::get(outputMap.getNumResults(), 0, results, ctx);
    };
    FailureOr<AffineMap> aInOutput = inOutput(a.inLoops);
    FailureOr<AffineMap> bInOutput = inOutput(b.inLoops);
    if (failed(aInOutput) || failed(bInOutput))
      return rewriter.notifyMatchFailure(
          op, "a run-time parameter varies along the reduced axis");

    // acc = Σ (a - z_a)·(b - z_b), exact in i32, from zero.
    Value zero =
        arith::ConstantOp::create(rewriter, loc, rewriter.getI32IntegerAttr(0));
    Value emptyAccumulator = tensor::EmptyOp::create(
        rewriter, loc, tensor::getMixedSizes(rewriter, loc, init), i32);
    Value zeros = linalg::FillOp::create(rewriter, loc, zero, emptyAccumulator)
                      .getResult(0);
    bool lhsUnsigned = lhs.getIsUnsigned(), rhsUnsigned = rhs.getIsUnsigned();
    Value accumulator =
        linalg::GenericOp::create(
            rewriter, loc, zeros.getType(),
            ValueRange{lhs.getInput(), rhs.getInput(), a.zeroPoint,
                       b.zeroPoint},
            zeros,
            ArrayRef<AffineMap>{maps[0], maps[1], a.inLoops, b.inLoops,
                                maps.back()},
            contraction.getIteratorTypesArray(),
            [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
              Value x = arith::SubIOp::create(
                  nested, nestedLoc,
                  convertScalarToDtype(nested, nestedLoc, args[0], i32,
                                       lhsUnsigned),
                  args[2]);
              Value y = arith::SubIOp::create(
                  nested, nestedLoc,
                  convertScalarToDtype(nested, nestedLoc, args[1], i32,
                                       rhsUnsigned),
                  args[3]);
              Value product = arith::MulIOp::create(nested, nestedLoc, x, y);
              linalg::YieldOp::create(
                  nested, nestedLoc,
                  arith::AddIOp::create(nested, nestedLoc, args[4], product)
                      .getResult());
            })
            .getResult(0);

    // y = c + f32(acc) · (s_a · s_b).
    Value epilogue =
        buildDynamicEpilogue(rewriter, loc, accumulator, init,
                             {a.scale, *aInOutput}, {b.scale, *bInOutput});
    rewriter.replaceOp(op, epilogue);
    return success();
  }
};

/// A matmul or batch matmul of two statically quantized activations
/// (attention's Q·Kᵀ and P·V with calibrated ranges), quantize(dequantize(a)
/// ⊛ dequantize(b)) with per-tensor types, becomes an integer contraction of
/// (a - z_a)·(b - z_b) and a qnn.rescale by s_a · s_b / s_y
/// (docs/Semantics.md, "Fused integer contractions"). Left float (no
/// match) where the i32 accumulator could overflow (16-bit activations) or
/// the multiplier has no fixed-point form.
struct FuseStaticActivationContraction : public OpRewritePattern<QuantizeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(QuantizeOp quantize,
                                PatternRewriter &rewriter) const override {
    auto outType = dyn_cast<quant::UniformQuantizedType>(
        quantize.getType().getElementType());
    Value result = quantize.getInput();
    auto op = result.getDefiningOp<linalg::LinalgOp>();
    if (!outType || !op || !isa<linalg::MatmulOp, linalg::BatchMatmulOp>(op) ||
        !result.hasOneUse() || op->getNumResults() != 1)
      return failure();
    auto lhs = op.getDpsInputOperand(0)->get().getDefiningOp<DequantizeOp>();
    auto rhs = op.getDpsInputOperand(1)->get().getDefiningOp<DequantizeOp>();
    if (!lhs || !rhs)
      return rewriter.notifyMatchFailure(op, "operands are not dequantized");
    // Constant weights are FuseQuantizedContraction's.
    if (lhs.getInput().getDefiningOp<ConstantOp>() ||
        rhs.getInput().getDefiningOp<ConstantOp>())
      return failure();
    auto aType = dyn_cast<quant::UniformQuantizedType>(
        lhs.getInput().getType().getElementType());
    auto bType = dyn_cast<quant::UniformQuantizedType>(
        rhs.getInput().getType().getElementType());
    if (!aType || !bType)
      return rewriter.notifyMatchFailure(op, "operands are not per tensor");
    Value init = op.getDpsInitOperand(0)->get();
    auto fill = init.getDefiningOp<linalg::FillOp>();
    if (!(fill && getScalarConstant(fill.getInputs()[0]) == 0.0) &&
        !isConstantSplat(init, 0.0))
      return rewriter.notifyMatchFailure(op, "does not accumulate from zero");

    // |acc| <= K · max|a - z_a| · max|b - z_b| must stay below 2^31.
    int64_t reduction = 1;
    SmallVector<int64_t> ranges = op.getStaticLoopRanges();
    for (auto [range, iterator] :
         llvm::zip(ranges, op.getIteratorTypesArray())) {
      if (iterator != utils::IteratorType::reduction)
        continue;
      if (ShapedType::isDynamic(range))
        return rewriter.notifyMatchFailure(op, "dynamic reduction size");
      reduction *= range;
    }
    auto span = [](quant::UniformQuantizedType type) {
      return std::max(std::abs(type.getStorageTypeMax() - type.getZeroPoint()),
                      std::abs(type.getStorageTypeMin() - type.getZeroPoint()));
    };
    if (reduction > ((int64_t(1) << 31) - 1) / (span(aType) * span(bType)))
      return rewriter.notifyMatchFailure(op,
                                         "the i32 accumulator could overflow");
    FailureOr<std::pair<int32_t, int32_t>> fixedPoint = quantizeMultiplier(
        aType.getScale() * bType.getScale() / outType.getScale());
    if (failed(fixedPoint))
      return rewriter.notifyMatchFailure(op, "no fixed-point multiplier");

    Location loc = quantize.getLoc();
    rewriter.setInsertionPoint(quantize);
    Type i32 = rewriter.getI32Type();
    auto stored = [&](DequantizeOp dequantize) -> Value {
      return quant::StorageCastOp::create(
          rewriter, loc, getStoredValuesType(dequantize.getInput().getType()),
          dequantize.getInput());
    };
    Value aStored = stored(lhs);
    Value bStored = stored(rhs);
    // The zero points, defined above the contraction (none where zero).
    auto zeroPoint = [&](quant::UniformQuantizedType type) -> Value {
      if (type.getZeroPoint() == 0)
        return Value();
      return arith::ConstantOp::create(
          rewriter, loc, rewriter.getI32IntegerAttr(type.getZeroPoint()));
    };
    Value zA = zeroPoint(aType);
    Value zB = zeroPoint(bType);
    Value zero =
        arith::ConstantOp::create(rewriter, loc, rewriter.getI32IntegerAttr(0));
    Value empty = tensor::EmptyOp::create(
        rewriter, loc, tensor::getMixedSizes(rewriter, loc, init), i32);
    Value zeros =
        linalg::FillOp::create(rewriter, loc, zero, empty).getResult(0);
    bool aUnsigned = !aType.isSigned(), bUnsigned = !bType.isSigned();
    Value accumulator =
        linalg::GenericOp::create(
            rewriter, loc, zeros.getType(), ValueRange{aStored, bStored}, zeros,
            op.getIndexingMapsArray(), op.getIteratorTypesArray(),
            [&](OpBuilder &b, Location nestedLoc, ValueRange args) {
              auto centered = [&](Value value, bool isUnsigned,
                                  Value zeroPoint) -> Value {
                Value wide =
                    convertScalarToDtype(b, nestedLoc, value, i32, isUnsigned);
                return zeroPoint ? arith::SubIOp::create(b, nestedLoc, wide,
                                                         zeroPoint)
                                       .getResult()
                                 : wide;
              };
              Value x = centered(args[0], aUnsigned, zA);
              Value y = centered(args[1], bUnsigned, zB);
              Value product = arith::MulIOp::create(b, nestedLoc, x, y);
              linalg::YieldOp::create(
                  b, nestedLoc,
                  arith::AddIOp::create(b, nestedLoc, args[2], product)
                      .getResult());
            })
            .getResult(0);
    auto rescale = RescaleOp::create(
        rewriter, loc, quantize.getType(), accumulator,
        rewriter.getDenseI32ArrayAttr({fixedPoint->first}),
        rewriter.getDenseI32ArrayAttr({fixedPoint->second}), IntegerAttr(),
        RoundingModeAttr::get(getContext(), quantize.getRounding()),
        DenseI64ArrayAttr());
    rewriter.replaceOp(quantize, rescale.getResult());
    rewriter.eraseOp(op);
    return success();
  }
};

void qnn::populateFuseContractionPatterns(RewritePatternSet &patterns) {
  patterns
      .add<FuseQuantizedContraction, FuseGroupedContraction,
           FuseWeightOnlyContraction, FuseDynamicContraction,
           FuseDynamicActivationContraction, FuseStaticActivationContraction>(
          patterns.getContext());
}
