//===- FuseQuantizedOps.cpp - QDQ contractions to integer ops -------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Rewrites quantize(act(dequantize(x) ⊛ dequantize(w) + b)) into an integer
// contraction accumulating in i32 and a qnn.rescale, with every scale, zero
// point and bias folded into integer constants at compile time, as
// "Fused integer contractions" in docs/Semantics.md defines.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Dialect/QNN/IR/QNNOps.h"
#include "quant-opt/Dialect/QNN/IR/QNNSemantics.h"
#include "quant-opt/Dialect/QNN/Transforms/Passes.h"
#include "quant-opt/Dialect/QNN/Transforms/Transforms.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Quant/IR/Quant.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cmath>

namespace mlir::qnn {
#define GEN_PASS_DEF_QNNFUSEQUANTIZEDOPSPASS
#include "quant-opt/Dialect/QNN/Transforms/Passes.h.inc"
} // namespace mlir::qnn

using namespace mlir;
using namespace mlir::qnn;

namespace {

/// The float ops between the contraction and the final quantize.
struct Epilogue {
  /// Bias per output channel (float values), if any.
  std::optional<SmallVector<double>> bias;
  /// Float clamp bounds of the activation, if any.
  std::optional<std::pair<double, double>> clamp;
};

/// Whether `value` is a float constant equal to `expected` everywhere.
static bool isConstantSplat(Value value, double expected) {
  DenseFPElementsAttr attr;
  if (!matchPattern(value, m_Constant(&attr)) || !attr.isSplat())
    return false;
  return attr.getSplatValue<APFloat>().convertToDouble() == expected;
}

/// A float scalar constant defined above `body`'s op, or nullopt.
static std::optional<double> getScalarConstant(Value value) {
  FloatAttr attr;
  if (!matchPattern(value, m_Constant(&attr)))
    return std::nullopt;
  return attr.getValueAsDouble();
}

/// The value of a splat float constant, or nullopt.
static std::optional<double> getSplatConstant(Value value) {
  DenseFPElementsAttr attr;
  if (!matchPattern(value, m_Constant(&attr)) || !attr.isSplat())
    return std::nullopt;
  return attr.getSplatValue<APFloat>().convertToDouble();
}

/// `op` if it is a one-input, all-parallel linalg.generic with identity
/// maps (an elementwise function of one tensor), else null.
static linalg::GenericOp asUnaryElementwise(Operation *op) {
  auto generic = dyn_cast<linalg::GenericOp>(op);
  if (!generic || generic.getNumDpsInputs() != 1 ||
      generic.getNumLoops() != generic.getNumParallelLoops() ||
      !llvm::all_of(generic.getIndexingMapsArray(),
                    [](AffineMap map) { return map.isIdentity(); }))
    return nullptr;
  return generic;
}

/// Bounds (lo, hi) of a clamp; infinite where there is none.
using Clamp = std::pair<double, double>;

/// Walks back from `value`, inside a linalg body, through max/min with
/// scalar constants; returns the value it stops at and the bounds it
/// collected.
static std::pair<Value, Clamp> peelClamp(Value value) {
  const double inf = std::numeric_limits<double>::infinity();
  Clamp clamp = {-inf, inf};
  while (Operation *def = value.getDefiningOp()) {
    if (!isa<arith::MaximumFOp, arith::MaxNumFOp, arith::MinimumFOp,
             arith::MinNumFOp>(def))
      break;
    std::optional<double> bound = getScalarConstant(def->getOperand(1));
    Value next = def->getOperand(0);
    if (!bound) {
      bound = getScalarConstant(def->getOperand(0));
      next = def->getOperand(1);
    }
    if (!bound)
      break;
    if (isa<arith::MaximumFOp, arith::MaxNumFOp>(def))
      clamp.first = std::max(clamp.first, *bound);
    else
      clamp.second = std::min(clamp.second, *bound);
    value = next;
  }
  return {value, clamp};
}

static bool isClamp(const Clamp &clamp) {
  return !std::isinf(clamp.first) || !std::isinf(clamp.second);
}

/// Matches an elementwise ReLU or clamp on `input`: `linalg.max(x, c)` or
/// `linalg.min(x, c)` with a splat constant (ReLU6 as two named ops is two
/// of them), or a one-input `linalg.generic` whose body is max(x, lo) and/or
/// min(x, hi) with constant bounds. Returns the float bounds.
static std::optional<Clamp> matchActivation(Operation *op, Value input) {
  const double inf = std::numeric_limits<double>::infinity();
  if (isa<linalg::MaxOp, linalg::MinOp>(op)) {
    auto named = cast<linalg::LinalgOp>(op);
    Value lhs = named.getDpsInputs()[0], rhs = named.getDpsInputs()[1];
    std::optional<double> bound = getSplatConstant(lhs == input ? rhs : lhs);
    if (!bound || (lhs != input && rhs != input))
      return std::nullopt;
    return isa<linalg::MaxOp>(op) ? Clamp{*bound, inf} : Clamp{-inf, *bound};
  }
  linalg::GenericOp generic = asUnaryElementwise(op);
  if (!generic)
    return std::nullopt;
  Block &body = generic.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  auto [reached, clamp] = peelClamp(yield.getValues()[0]);
  if (reached != body.getArgument(0) || !isClamp(clamp))
    return std::nullopt;
  return clamp;
}

/// Matches one or two activations in a row ending at `value` (ReLU6 as
/// linalg.min(linalg.max(x, 0), 6)), each the single user of its input;
/// returns the ops, outermost first, their input, and the combined bounds.
struct ActivationChain {
  SmallVector<Operation *, 2> ops;
  Value input;
  Clamp clamp;
};
static std::optional<ActivationChain> matchActivations(Value value) {
  ActivationChain chain;
  chain.clamp = {-std::numeric_limits<double>::infinity(),
                 std::numeric_limits<double>::infinity()};
  Value current = value;
  for (int depth = 0; depth < 2; ++depth) {
    Operation *op = current.getDefiningOp();
    if (!op || op->getNumOperands() == 0 || op->getNumResults() != 1)
      break;
    // The data input: the operand that is not a constant.
    Value input;
    for (Value operand : op->getOperands().take_front(
             isa<linalg::LinalgOp>(op)
                 ? cast<linalg::LinalgOp>(op).getNumDpsInputs()
                 : op->getNumOperands()))
      if (!matchPattern(operand, m_Constant()))
        input = operand;
    if (!input)
      break;
    std::optional<Clamp> clamp = matchActivation(op, input);
    if (!clamp || (depth > 0 && !current.hasOneUse()))
      break;
    chain.ops.push_back(op);
    chain.clamp = {std::max(chain.clamp.first, clamp->first),
                   std::min(chain.clamp.second, clamp->second)};
    current = input;
  }
  if (chain.ops.empty())
    return std::nullopt;
  chain.input = current;
  return chain;
}

/// The elements of a dense or dense_resource (as importers write large
/// constants) float constant, as doubles.
static std::optional<SmallVector<double>> toDoubles(Attribute attr) {
  std::optional<SmallVector<APFloat>> values = getFloatElements(attr);
  if (!values)
    return std::nullopt;
  return llvm::map_to_vector(*values, [](APFloat value) {
    bool losesInfo;
    value.convert(APFloat::IEEEdouble(), APFloat::rmNearestTiesToEven,
                  &losesInfo);
    return value.convertToDouble();
  });
}

/// Matches a bias the contraction starts from: its init is a
/// `linalg.generic` broadcasting a 1-D constant along `channelAxis` (how
/// tosa-to-linalg writes a convolution's bias).
static std::optional<SmallVector<double>> matchBiasInit(Value init,
                                                        int64_t channelAxis) {
  auto generic = init.getDefiningOp<linalg::GenericOp>();
  if (!generic || generic.getNumDpsInputs() != 1 ||
      generic.getNumDpsInits() != 1 ||
      generic.getNumLoops() != generic.getNumParallelLoops())
    return std::nullopt;
  SmallVector<AffineMap> maps = generic.getIndexingMapsArray();
  TypedAttr attr;
  Block &body = generic.getRegion().front();
  if (!maps[1].isIdentity() ||
      maps[0] !=
          AffineMap::get(maps[1].getNumDims(), 0,
                         getAffineDimExpr(channelAxis, generic.getContext())) ||
      !matchPattern(generic.getInputs()[0], m_Constant(&attr)) ||
      cast<ShapedType>(attr.getType()).getRank() != 1 ||
      cast<linalg::YieldOp>(body.getTerminator()).getValues()[0] !=
          body.getArgument(0))
    return std::nullopt;
  return toDoubles(attr);
}

/// Matches a bias add of `input`: `linalg.add(input, c)` with a constant
/// `c` that only varies along `channelAxis`, or a two-input
/// `linalg.generic` adding a 1-D constant read along `channelAxis` (and,
/// given `clamp`, clamping the sum, which then sets it).
static std::optional<SmallVector<double>>
matchBiasAdd(Operation *op, Value input, int64_t channelAxis,
             std::optional<Clamp> *clamp = nullptr) {
  if (auto add = dyn_cast<linalg::AddOp>(op)) {
    Value other =
        add.getInputs()[0] == input ? add.getInputs()[1] : add.getInputs()[0];
    TypedAttr attr;
    if (!matchPattern(other, m_Constant(&attr)))
      return std::nullopt;
    std::optional<SmallVector<double>> all = toDoubles(attr);
    if (!all)
      return std::nullopt;
    ArrayRef<int64_t> shape = cast<ShapedType>(attr.getType()).getShape();
    int64_t channels = shape[channelAxis];
    int64_t inner = 1;
    for (int64_t axis = channelAxis + 1; axis < (int64_t)shape.size(); ++axis)
      inner *= shape[axis];
    SmallVector<double> bias(channels);
    for (auto [index, value] : llvm::enumerate(*all)) {
      int64_t channel = (index / inner) % channels;
      if (index < static_cast<size_t>(channels * inner))
        bias[channel] = value;
      else if (bias[channel] != value)
        return std::nullopt; // Varies along another axis: not a bias.
    }
    for (auto [index, value] : llvm::enumerate(*all))
      if (bias[(index / inner) % channels] != value)
        return std::nullopt;
    return bias;
  }
  auto generic = dyn_cast<linalg::GenericOp>(op);
  if (!generic || generic.getNumDpsInputs() != 2 ||
      generic.getNumLoops() != generic.getNumParallelLoops())
    return std::nullopt;
  SmallVector<AffineMap> maps = generic.getIndexingMapsArray();
  unsigned inputIndex = generic.getInputs()[0] == input ? 0 : 1;
  TypedAttr attr;
  if (!maps[inputIndex].isIdentity() || !maps[2].isIdentity() ||
      !matchPattern(generic.getInputs()[1 - inputIndex], m_Constant(&attr)) ||
      cast<ShapedType>(attr.getType()).getRank() != 1 ||
      maps[1 - inputIndex] !=
          AffineMap::get(maps[2].getNumDims(), 0,
                         getAffineDimExpr(channelAxis, op->getContext())))
    return std::nullopt;
  Block &body = generic.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  // The add may be followed by a clamp in the same body (torch-mlir writes
  // bias + ReLU as one generic): `clamp` receives it; without `clamp` a
  // clamped body is no plain bias add.
  auto [sum, bounds] = peelClamp(yield.getValues()[0]);
  if (isClamp(bounds) && !clamp)
    return std::nullopt;
  auto addf = sum.getDefiningOp<arith::AddFOp>();
  if (!addf || addf->getBlock() != &body ||
      !llvm::is_contained(addf->getOperands(), body.getArgument(0)) ||
      !llvm::is_contained(addf->getOperands(), body.getArgument(1)))
    return std::nullopt;
  if (clamp && isClamp(bounds))
    *clamp = bounds;
  return toDoubles(attr);
}

/// The one user of `value`, if it has exactly one use.
static Operation *getSingleUser(Value value) {
  return value.hasOneUse() ? *value.getUsers().begin() : nullptr;
}

/// Whether `op` applies a bias add or an activation to `input`, the result
/// of a contraction (or of its bias add).
static bool isFusableEpilogue(Operation *op, Value input,
                              const WeightOperand &layout) {
  std::optional<Clamp> clamp;
  return matchActivation(op, input) ||
         matchBiasAdd(op, input, layout.resultChannelAxis, &clamp);
}

static int64_t getStored(const APInt &bits, quant::QuantizedType type) {
  return getStoredValue(bits, type);
}

/// The per-tensor type of a dequantized operand, or null.
static quant::UniformQuantizedType getDequantizedType(Value value) {
  auto dequantize = value.getDefiningOp<DequantizeOp>();
  return dequantize ? dyn_cast<quant::UniformQuantizedType>(
                          dequantize.getInput().getType().getElementType())
                    : nullptr;
}

/// Whether `op` combines its two inputs elementwise with `FloatOp`: the
/// named `NamedOp`, or a linalg.generic with identity maps yielding
/// `FloatOp` of its two arguments.
template <typename NamedOp, typename FloatOp>
static bool isElementwiseBinary(Operation *op) {
  if (isa<NamedOp>(op))
    return true;
  auto generic = dyn_cast<linalg::GenericOp>(op);
  if (!generic || generic.getNumDpsInputs() != 2 ||
      generic.getNumLoops() != generic.getNumParallelLoops() ||
      !llvm::all_of(generic.getIndexingMapsArray(),
                    [](AffineMap map) { return map.isIdentity(); }))
    return false;
  Block &body = generic.getRegion().front();
  auto combine = cast<linalg::YieldOp>(body.getTerminator())
                     .getValues()[0]
                     .getDefiningOp<FloatOp>();
  return combine &&
         llvm::is_contained(combine->getOperands(), body.getArgument(0)) &&
         llvm::is_contained(combine->getOperands(), body.getArgument(1));
}

static bool isElementwiseAdd(Operation *op) {
  return isElementwiseBinary<linalg::AddOp, arith::AddFOp>(op);
}

static bool isElementwiseMul(Operation *op) {
  return isElementwiseBinary<linalg::MulOp, arith::MulFOp>(op);
}

/// The clamp bounds, in stored values of `type`, of an activation with
/// float bounds `bounds`.
static SmallVector<int64_t> getStoredClamp(std::pair<double, double> bounds,
                                           quant::UniformQuantizedType type,
                                           RoundingMode rounding) {
  auto stored = [&](double bound) {
    if (std::isinf(bound))
      return bound < 0 ? type.getStorageTypeMin() : type.getStorageTypeMax();
    return quantizeValue(APFloat(static_cast<float>(bound)), type.getScale(),
                         type.getZeroPoint(), type, rounding);
  };
  return {stored(bounds.first), stored(bounds.second)};
}

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

    auto wTensorType = cast<RankedTensorType>(weights.getType());
    auto wType = cast<quant::QuantizedType>(wTensorType.getElementType());
    int64_t channelAxis = layout->channelAxis;
    int64_t channels = wTensorType.getDimSize(channelAxis);
    auto perAxis = dyn_cast<quant::UniformQuantizedPerAxisType>(wType);
    auto perTensor = dyn_cast<quant::UniformQuantizedType>(wType);
    if (!perTensor &&
        !(perAxis && perAxis.getQuantizedDimension() == channelAxis))
      return rewriter.notifyMatchFailure(
          op, "weights must be per tensor or per output channel");
    auto channelScale = [&](int64_t c) {
      return perAxis ? perAxis.getScales()[c] : perTensor.getScale();
    };
    auto channelZeroPoint = [&](int64_t c) {
      return perAxis ? perAxis.getZeroPoints()[c] : perTensor.getZeroPoint();
    };

    // The weight dimensions the contraction does not reduce over (the
    // output channel, and the batch of batch_matmul): sums of w' run over
    // the others, once per combination of these, the "key" of an output.
    SmallVector<AffineMap> maps = contraction.getIndexingMapsArray();
    SmallVector<utils::IteratorType> iterators =
        contraction.getIteratorTypesArray();
    AffineMap weightMap = maps[layout->operandIndex];
    AffineMap outputMap = maps.back();
    ArrayRef<int64_t> wShape = wTensorType.getShape();
    SmallVector<int64_t> keyPositions, keyShape;
    SmallVector<AffineExpr> keyInOutput;
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
      keyShape.push_back(wShape[position]);
      keyInOutput.push_back(getAffineDimExpr(*outputPosition, getContext()));
    }
    int64_t numKeys = 1;
    for (int64_t size : keyShape)
      numKeys *= size;
    // The channel of a key, for the bias and the zero point.
    auto channelPosition = llvm::find(keyPositions, channelAxis);
    if (channelPosition == keyPositions.end())
      return rewriter.notifyMatchFailure(op, "unexpected channel layout");
    int64_t channelStride = 1;
    for (auto it = std::next(channelPosition); it != keyPositions.end(); ++it)
      channelStride *= wShape[*it];

    // w' = w - z_w, and per key the sums of w' and |w'|.
    auto wValues = dyn_cast<DenseIntElementsAttr>(weights.getValue());
    if (!wValues)
      return rewriter.notifyMatchFailure(op, "weights are not dense");
    SmallVector<int64_t> shiftedWeights;
    SmallVector<int64_t> weightSum(numKeys, 0), weightAbsSum(numKeys, 0);
    bool anyZeroPoint = false;
    SmallVector<int64_t> index(wShape.size(), 0);
    for (const APInt &bits : wValues.getValues<APInt>()) {
      int64_t key = 0;
      for (int64_t position : keyPositions)
        key = key * wShape[position] + index[position];
      int64_t c = index[channelAxis];
      int64_t shifted = getStored(bits, wType) - channelZeroPoint(c);
      anyZeroPoint |= channelZeroPoint(c) != 0;
      shiftedWeights.push_back(shifted);
      weightSum[key] += shifted;
      weightAbsSum[key] += std::abs(shifted);
      // Row-major increment of the multi-index.
      for (int64_t axis = wShape.size() - 1; axis >= 0; --axis) {
        if (++index[axis] < wShape[axis])
          break;
        index[axis] = 0;
      }
    }

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
      int64_t c = (key / channelStride) % channels;
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
    // w' in the narrowest integer the body can sign-extend: the storage
    // type for signed storage without zero points, i32 otherwise.
    Type wElement =
        anyZeroPoint || !wType.isSigned()
            ? i32
            : rewriter.getIntegerType(wType.getStorageTypeIntegralWidth());
    auto wStoredType = RankedTensorType::get(wShape, wElement);
    SmallVector<APInt> wBits =
        llvm::map_to_vector(shiftedWeights, [&](int64_t v) {
          return APInt(wElement.getIntOrFloatBitWidth(), v, /*isSigned=*/true);
        });
    Value wStored = arith::ConstantOp::create(
        rewriter, loc, DenseElementsAttr::get(wStoredType, wBits));

    auto resultType = cast<RankedTensorType>(op->getResult(0).getType());
    auto accumulatorType = resultType.clone(i32);
    SmallVector<OpFoldResult> sizes =
        tensor::getMixedSizes(rewriter, loc, init);
    Value empty = tensor::EmptyOp::create(rewriter, loc, sizes, i32);
    Value startConstant = arith::ConstantOp::create(
        rewriter, loc,
        DenseElementsAttr::get(RankedTensorType::get(keyShape, i32),
                               ArrayRef(start)));
    unsigned resultRank = resultType.getRank();
    AffineMap identity = rewriter.getMultiDimIdentityMap(resultRank);
    AffineMap keyMap = AffineMap::get(resultRank, 0, keyInOutput, ctx);
    Value accumulatorInit =
        linalg::GenericOp::create(
            rewriter, loc, accumulatorType, ValueRange{startConstant},
            ValueRange{empty}, ArrayRef<AffineMap>{keyMap, identity},
            SmallVector<utils::IteratorType>(resultRank,
                                             utils::IteratorType::parallel),
            [&](OpBuilder &b, Location nestedLoc, ValueRange args) {
              linalg::YieldOp::create(b, nestedLoc, args[0]);
            })
            .getResult(0);

    // The contraction itself, with the named op's indexing maps:
    // acc += ext(x) * ext(w').
    SmallVector<Value> inputs(2);
    inputs[activationIndex] = xStored;
    inputs[layout->operandIndex] = wStored;
    bool xSigned = xType.isSigned();
    Value accumulator =
        linalg::GenericOp::create(
            rewriter, loc, accumulatorType, inputs, accumulatorInit, maps,
            iterators,
            [&](OpBuilder &b, Location nestedLoc, ValueRange args) {
              Value x = args[activationIndex];
              Value w = args[layout->operandIndex];
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

/// quantize(op(dequantize(q))) with one type on both sides, where `op` only
/// moves or selects values, is op(q): the op runs on the stored values.
/// (qnn-insert-qdq gives such outputs their input's type.) An input of
/// another type (a concat of two scales, as ONNX Runtime's QDQ models have
/// them) is requantized to the output's type first: quantize is elementwise
/// and monotonic, so it commutes with moving, selecting and taking maxima.
/// Nothing is created before every operand has matched (a pattern that
/// fails must leave the IR as it was).
struct FuseDataMovement : public OpRewritePattern<QuantizeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(QuantizeOp quantize,
                                PatternRewriter &rewriter) const override {
    Operation *op = quantize.getInput().getDefiningOp();
    auto type = dyn_cast<quant::UniformQuantizedType>(
        quantize.getType().getElementType());
    if (!op || !type || !quantize.getInput().hasOneUse() ||
        !isExactRoundTrip(type, quantize.getRounding()))
      return failure();
    bool isConcat = isa<tensor::ConcatOp>(op);
    if (!isConcat && !isa<tensor::CollapseShapeOp, tensor::ExpandShapeOp,
                          tensor::ExtractSliceOp, tensor::PadOp,
                          linalg::TransposeOp, linalg::PoolingNhwcMaxOp>(op))
      return failure();
    unsigned numData = isConcat ? op->getNumOperands() : 1;
    Location loc = op->getLoc();
    SmallVector<DequantizeOp> dequantized;
    for (Value operand : op->getOperands().take_front(numData)) {
      auto dequantize = operand.getDefiningOp<DequantizeOp>();
      if (!dequantize ||
          cast<quant::QuantizedType>(
              getElementTypeOrSelf(dequantize.getInput().getType()))
                  .getExpressedType() != type.getExpressedType())
        return failure();
      dequantized.push_back(dequantize);
    }
    SmallVector<Value> stored;
    for (DequantizeOp dequantize : dequantized) {
      Value input = dequantize.getInput();
      auto inputType = cast<RankedTensorType>(input.getType());
      if (inputType.getElementType() != type)
        input = RequantizeOp::create(rewriter, loc, inputType.clone(type),
                                     input, quantize.getRounding());
      stored.push_back(quant::StorageCastOp::create(
          rewriter, loc, getStoredValuesType(inputType.clone(type)), input));
    }
    auto resultType = getStoredValuesType(quantize.getType());
    Value result;
    if (auto pad = dyn_cast<tensor::PadOp>(op)) {
      // The padding value, quantized like everything else.
      auto yield =
          cast<tensor::YieldOp>(pad.getRegion().front().getTerminator());
      FloatAttr padValue;
      if (!matchPattern(yield.getValue(), m_Constant(&padValue)))
        return failure();
      int64_t storedPad =
          quantizeValue(padValue.getValue(), type.getScale(),
                        type.getZeroPoint(), type, quantize.getRounding());
      Value padConstant = arith::ConstantOp::create(
          rewriter, loc,
          IntegerAttr::get(resultType.getElementType(), storedPad));
      result = tensor::PadOp::create(
          rewriter, loc, resultType, stored[0], pad.getMixedLowPad(),
          pad.getMixedHighPad(), padConstant, pad.getNofold());
    } else if (auto transpose = dyn_cast<linalg::TransposeOp>(op)) {
      Value init = tensor::EmptyOp::create(
          rewriter, loc,
          tensor::getMixedSizes(rewriter, loc, transpose.getInit()),
          resultType.getElementType());
      result = linalg::TransposeOp::create(rewriter, loc, stored[0], init,
                                           transpose.getPermutation())
                   .getResult()[0];
    } else if (auto pool = dyn_cast<linalg::PoolingNhwcMaxOp>(op)) {
      // Start from the smallest stored value; compare with the storage's
      // signedness.
      Value empty = tensor::EmptyOp::create(
          rewriter, loc,
          tensor::getMixedSizes(rewriter, loc, pool.getOutputs()[0]),
          resultType.getElementType());
      Value lowest = arith::ConstantOp::create(
          rewriter, loc,
          IntegerAttr::get(resultType.getElementType(),
                           type.getStorageTypeMin()));
      Value init =
          linalg::FillOp::create(rewriter, loc, lowest, empty).getResult(0);
      SmallVector<Value> inputs = {stored[0], pool.getInputs()[1]};
      SmallVector<NamedAttribute> attributes = {
          rewriter.getNamedAttr("strides", pool.getStrides()),
          rewriter.getNamedAttr("dilations", pool.getDilations())};
      if (type.isSigned())
        result = linalg::PoolingNhwcMaxOp::create(rewriter, loc, resultType,
                                                  inputs, init, attributes)
                     .getResult(0);
      else
        result = linalg::PoolingNhwcMaxUnsignedOp::create(
                     rewriter, loc, resultType, inputs, init, attributes)
                     .getResult(0);
    } else {
      // Reshapes, slices and concatenation do not look at element types.
      IRMapping mapping;
      for (auto [operand, value] :
           llvm::zip(op->getOperands().take_front(numData), stored))
        mapping.map(operand, value);
      Operation *clone = rewriter.clone(*op, mapping);
      clone->getResult(0).setType(resultType);
      result = clone->getResult(0);
    }
    rewriter.replaceOpWithNewOp<quant::StorageCastOp>(
        quantize, quantize.getType(), result);
    rewriter.eraseOp(op);
    return success();
  }
};

/// Matches `y = x / c` or `y = x * f` by a scalar constant, elementwise;
/// returns the real factor as (divisor, factor).
static std::optional<std::pair<std::optional<double>, std::optional<double>>>
matchScaling(Operation *op) {
  linalg::GenericOp generic = asUnaryElementwise(op);
  if (!generic)
    return std::nullopt;
  Block &body = generic.getRegion().front();
  Operation *def = cast<linalg::YieldOp>(body.getTerminator())
                       .getValues()[0]
                       .getDefiningOp();
  if (!def || def->getNumOperands() != 2 ||
      def->getOperand(0) != body.getArgument(0))
    return std::nullopt;
  std::optional<double> constant = getScalarConstant(def->getOperand(1));
  if (!constant)
    return std::nullopt;
  if (isa<arith::DivFOp>(def))
    return std::make_pair(constant, std::optional<double>());
  if (isa<arith::MulFOp>(def))
    return std::make_pair(std::optional<double>(), constant);
  return std::nullopt;
}

/// quantize(act(op(dequantize(a), dequantize(b)))) for an elementwise `op`
/// of two per-tensor quantized activations of the result's shape, matched.
struct BinaryChain {
  Operation *op;
  /// The activations between `op` and the quantize (none, one, or two as
  /// in ReLU6 as max then min), outermost first, and their bounds.
  SmallVector<Operation *, 2> activationOps;
  std::optional<std::pair<double, double>> activation;
  /// The dequantized operands and their types.
  DequantizeOp lhs, rhs;
  quant::UniformQuantizedType lhsType, rhsType, outType;
};

/// Replaces the quantize at the end of `chain` with `fused` and erases the
/// float ops it replaces.
static void replaceBinaryChain(PatternRewriter &rewriter, QuantizeOp quantize,
                               const BinaryChain &chain, Value fused) {
  rewriter.replaceOp(quantize, fused);
  for (Operation *activation : chain.activationOps)
    rewriter.eraseOp(activation);
  rewriter.eraseOp(chain.op);
}

static std::optional<BinaryChain>
matchBinaryChain(QuantizeOp quantize, function_ref<bool(Operation *)> isOp) {
  BinaryChain chain;
  chain.outType = dyn_cast<quant::UniformQuantizedType>(
      quantize.getType().getElementType());
  Value current = quantize.getInput();
  Operation *op = current.getDefiningOp();
  if (!chain.outType || !op || !current.hasOneUse())
    return std::nullopt;
  if (!isOp(op)) {
    std::optional<ActivationChain> activations = matchActivations(current);
    if (!activations)
      return std::nullopt;
    chain.activation = activations->clamp;
    chain.activationOps = activations->ops;
    current = activations->input;
    op = current.getDefiningOp();
    if (!op || !current.hasOneUse() || !isOp(op))
      return std::nullopt;
  }
  chain.op = op;
  Value lhs = op->getOperand(0), rhs = op->getOperand(1);
  chain.lhs = lhs.getDefiningOp<DequantizeOp>();
  chain.rhs = rhs.getDefiningOp<DequantizeOp>();
  chain.lhsType = getDequantizedType(lhs);
  chain.rhsType = getDequantizedType(rhs);
  if (!chain.lhsType || !chain.rhsType || lhs.getType() != rhs.getType() ||
      lhs.getType() != current.getType())
    return std::nullopt;
  return chain;
}

/// quantize(act(dequantize(a) + dequantize(b))): a residual add, in
/// integers (qnn.add).
struct FuseQuantizedAdd : public OpRewritePattern<QuantizeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(QuantizeOp quantize,
                                PatternRewriter &rewriter) const override {
    std::optional<BinaryChain> chain =
        matchBinaryChain(quantize, isElementwiseAdd);
    if (!chain)
      return failure();
    auto lhsType = chain->lhsType, rhsType = chain->rhsType,
         outType = chain->outType;
    for (auto type : {lhsType, rhsType, outType})
      if (type.getStorageTypeIntegralWidth() > 16)
        return failure();
    FailureOr<std::tuple<int32_t, int32_t, int32_t>> parameters =
        getAddParameters(lhsType.getScale(), rhsType.getScale(),
                         outType.getScale());
    if (failed(parameters))
      return failure();
    auto [multiplierA, multiplierB, shift] = *parameters;
    DenseI64ArrayAttr clamp;
    if (chain->activation)
      clamp = rewriter.getDenseI64ArrayAttr(
          getStoredClamp(*chain->activation, outType, quantize.getRounding()));
    rewriter.setInsertionPoint(quantize);
    auto add = AddOp::create(
        rewriter, quantize.getLoc(), quantize.getType(), chain->lhs.getInput(),
        chain->rhs.getInput(),
        rewriter.getDenseI32ArrayAttr({multiplierA, multiplierB}),
        rewriter.getI32IntegerAttr(shift),
        RoundingModeAttr::get(getContext(), quantize.getRounding()), clamp);
    replaceBinaryChain(rewriter, quantize, *chain, add.getResult());
    return success();
  }
};

/// quantize(act(dequantize(a) * dequantize(b))): the product of the centered
/// stored values in i32, then one qnn.rescale by s_a * s_b / s_y.
struct FuseQuantizedMul : public OpRewritePattern<QuantizeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(QuantizeOp quantize,
                                PatternRewriter &rewriter) const override {
    std::optional<BinaryChain> chain =
        matchBinaryChain(quantize, isElementwiseMul);
    // The product of two centered 8-bit values fits i32.
    if (!chain || chain->lhsType.getStorageTypeIntegralWidth() > 8 ||
        chain->rhsType.getStorageTypeIntegralWidth() > 8)
      return failure();
    auto lhsType = chain->lhsType, rhsType = chain->rhsType,
         outType = chain->outType;
    FailureOr<std::pair<int32_t, int32_t>> fixedPoint = quantizeMultiplier(
        (lhsType.getScale() * rhsType.getScale()) / outType.getScale());
    if (failed(fixedPoint))
      return failure();

    Location loc = quantize.getLoc();
    rewriter.setInsertionPoint(quantize);
    Type i32 = rewriter.getI32Type();
    auto tensorType = cast<RankedTensorType>(chain->lhs.getType());
    auto storedOf = [&](DequantizeOp dequantize) -> Value {
      Value quantized = dequantize.getInput();
      return quant::StorageCastOp::create(
          rewriter, loc,
          getStoredValuesType(cast<RankedTensorType>(quantized.getType())),
          quantized);
    };
    Value a = storedOf(chain->lhs), b = storedOf(chain->rhs);
    Value empty = tensor::EmptyOp::create(
        rewriter, loc, tensor::getMixedSizes(rewriter, loc, chain->lhs), i32);
    unsigned rank = tensorType.getRank();
    auto centered = [&](OpBuilder &builder, Location nestedLoc, Value stored,
                        quant::UniformQuantizedType type) -> Value {
      Value wide = convertScalarToDtype(builder, nestedLoc, stored, i32,
                                        /*isUnsignedCast=*/!type.isSigned());
      Value zeroPoint = arith::ConstantOp::create(
          builder, nestedLoc, IntegerAttr::get(i32, type.getZeroPoint()));
      return arith::SubIOp::create(builder, nestedLoc, wide, zeroPoint);
    };
    Value product =
        linalg::GenericOp::create(
            rewriter, loc, empty.getType(), ValueRange{a, b}, empty,
            SmallVector<AffineMap>(3, rewriter.getMultiDimIdentityMap(rank)),
            SmallVector<utils::IteratorType>(rank,
                                             utils::IteratorType::parallel),
            [&](OpBuilder &builder, Location nestedLoc, ValueRange args) {
              linalg::YieldOp::create(
                  builder, nestedLoc,
                  arith::MulIOp::create(
                      builder, nestedLoc,
                      centered(builder, nestedLoc, args[0], lhsType),
                      centered(builder, nestedLoc, args[1], rhsType))
                      .getResult());
            })
            .getResult(0);
    DenseI64ArrayAttr clamp;
    if (chain->activation)
      clamp = rewriter.getDenseI64ArrayAttr(
          getStoredClamp(*chain->activation, outType, quantize.getRounding()));
    auto rescale = RescaleOp::create(
        rewriter, loc, quantize.getType(), product,
        rewriter.getDenseI32ArrayAttr({fixedPoint->first}),
        rewriter.getDenseI32ArrayAttr({fixedPoint->second}), IntegerAttr(),
        RoundingModeAttr::get(getContext(), quantize.getRounding()), clamp);
    replaceBinaryChain(rewriter, quantize, *chain, rescale.getResult());
    return success();
  }
};

/// quantize(sum_pool(dequantize(x)) / c): average pooling, as an i32 window
/// sum of x - z_x and one qnn.rescale by s_x / c / s_y.
struct FuseAveragePool : public OpRewritePattern<QuantizeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(QuantizeOp quantize,
                                PatternRewriter &rewriter) const override {
    auto outType = dyn_cast<quant::UniformQuantizedType>(
        quantize.getType().getElementType());
    Value current = quantize.getInput();
    Operation *scaling = current.getDefiningOp();
    if (!outType || !scaling || !current.hasOneUse())
      return failure();
    auto factors = matchScaling(scaling);
    if (!factors)
      return failure();
    Value sum = scaling->getOperand(0);
    auto pool = sum.getDefiningOp<linalg::PoolingNhwcSumOp>();
    if (!pool || !sum.hasOneUse())
      return failure();
    auto xType = getDequantizedType(pool.getInputs()[0]);
    auto window = dyn_cast<RankedTensorType>(pool.getInputs()[1].getType());
    Value init = pool.getOutputs()[0];
    auto fill = init.getDefiningOp<linalg::FillOp>();
    if (!xType || !window || !window.hasStaticShape() || !fill ||
        getScalarConstant(fill.getInputs()[0]) != 0.0)
      return failure();
    int64_t count = window.getNumElements();
    int64_t xMaxAbs =
        std::max(xType.getStorageTypeMax() - xType.getZeroPoint(),
                 xType.getZeroPoint() - xType.getStorageTypeMin());
    if (count * xMaxAbs >= (int64_t(1) << 31))
      return pool.emitError() << "the i32 window sum could overflow: " << count
                              << " * " << xMaxAbs << " >= 2^31";
    double multiplier =
        factors->first
            ? (xType.getScale() / *factors->first) / outType.getScale()
            : (xType.getScale() * *factors->second) / outType.getScale();
    FailureOr<std::pair<int32_t, int32_t>> fixedPoint =
        quantizeMultiplier(multiplier);
    if (failed(fixedPoint))
      return failure();

    Location loc = quantize.getLoc();
    rewriter.setInsertionPoint(quantize);
    Type i32 = rewriter.getI32Type();
    Value xQuantized =
        pool.getInputs()[0].getDefiningOp<DequantizeOp>().getInput();
    Value xStored = quant::StorageCastOp::create(
        rewriter, loc,
        getStoredValuesType(cast<RankedTensorType>(xQuantized.getType())),
        xQuantized);
    // The sum of x - z_x starts at -count * z_x.
    Value empty = tensor::EmptyOp::create(
        rewriter, loc, tensor::getMixedSizes(rewriter, loc, init), i32);
    Value start = arith::ConstantOp::create(
        rewriter, loc, IntegerAttr::get(i32, -count * xType.getZeroPoint()));
    Value accumulatorInit =
        linalg::FillOp::create(rewriter, loc, start, empty).getResult(0);
    bool xSigned = xType.isSigned();
    Value accumulator =
        linalg::GenericOp::create(
            rewriter, loc, accumulatorInit.getType(),
            ValueRange{xStored, pool.getInputs()[1]}, accumulatorInit,
            pool.getIndexingMapsArray(), pool.getIteratorTypesArray(),
            [&](OpBuilder &b, Location nestedLoc, ValueRange args) {
              Value x = convertScalarToDtype(b, nestedLoc, args[0], i32,
                                             /*isUnsignedCast=*/!xSigned);
              linalg::YieldOp::create(
                  b, nestedLoc,
                  arith::AddIOp::create(b, nestedLoc, args[2], x).getResult());
            })
            .getResult(0);
    auto rescale = RescaleOp::create(
        rewriter, loc, quantize.getType(), accumulator,
        rewriter.getDenseI32ArrayAttr({fixedPoint->first}),
        rewriter.getDenseI32ArrayAttr({fixedPoint->second}), IntegerAttr(),
        RoundingModeAttr::get(getContext(), quantize.getRounding()),
        DenseI64ArrayAttr());
    rewriter.replaceOp(quantize, rescale.getResult());
    rewriter.eraseOp(scaling);
    rewriter.eraseOp(pool);
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
    if (!dequantize || op.getDpsInputOperand(activationIndex)
                           ->get()
                           .getDefiningOp<DequantizeOp>())
      return failure(); // Integer activations: the integer patterns' job.
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

/// quantize(dequantize(q)) into another type is by definition requantize.
struct DequantizeQuantizeToRequantize : public OpRewritePattern<QuantizeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(QuantizeOp quantize,
                                PatternRewriter &rewriter) const override {
    auto dequantize = quantize.getInput().getDefiningOp<DequantizeOp>();
    if (!dequantize || dequantize.getInput().getType() == quantize.getType())
      return failure();
    rewriter.replaceOpWithNewOp<RequantizeOp>(quantize, quantize.getType(),
                                              dequantize.getInput(),
                                              quantize.getRounding());
    return success();
  }
};

struct QNNFuseQuantizedOpsPass
    : public qnn::impl::QNNFuseQuantizedOpsPassBase<QNNFuseQuantizedOpsPass> {
  void runOnOperation() override {
    // A pattern reports what cannot be fused safely (an accumulator that
    // could overflow, a bias out of range) as an error and leaves the IR as
    // it is; the pass then fails.
    bool hadError = false;
    ScopedDiagnosticHandler handler(&getContext(), [&](Diagnostic &diag) {
      hadError |= diag.getSeverity() == DiagnosticSeverity::Error;
      return failure(); // Let the next handler print it.
    });
    RewritePatternSet patterns(&getContext());
    populateFuseQuantizedOpsPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns)))) {
      // Never fail without a word: a rewrite that does not settle is a bug
      // of ours, and the user needs to know which pass stopped.
      if (!hadError)
        getOperation()->emitError()
            << "qnn-fuse-quantized-ops: the rewrites did not converge; "
               "please report this input";
      signalPassFailure();
      return;
    }
    if (hadError)
      signalPassFailure();
  }
};

} // namespace

/// The weight layout of `op` if it is a contraction with constant weights
/// (the only ones qnn-fuse-quantized-ops fuses).
static std::optional<WeightOperand> getConstantWeightOperand(Operation *op) {
  std::optional<WeightOperand> layout = getWeightOperand(op);
  if (!layout ||
      !matchPattern(op->getOperand(layout->operandIndex), m_Constant()))
    return std::nullopt;
  return layout;
}

std::optional<SmallVector<double>> qnn::getConstantBias(Operation *op) {
  std::optional<WeightOperand> layout = getWeightOperand(op);
  if (!layout || op->getNumResults() != 1)
    return std::nullopt;
  Operation *user = getSingleUser(op->getResult(0));
  if (!user)
    return std::nullopt;
  std::optional<Clamp> clamp; // (bias + clamp in one body: still its bias)
  if (std::optional<SmallVector<double>> bias = matchBiasAdd(
          user, op->getResult(0), layout->resultChannelAxis, &clamp))
    return bias;
  // Or the bias broadcast into what it accumulates into.
  auto linalgOp = dyn_cast<linalg::LinalgOp>(op);
  if (!linalgOp || linalgOp.getNumDpsInits() != 1)
    return std::nullopt;
  return matchBiasInit(linalgOp.getDpsInitOperand(0)->get(),
                       layout->resultChannelAxis);
}

bool qnn::isFusedIntermediate(Value value) {
  Operation *user = getSingleUser(value);
  Operation *producer = value.getDefiningOp();
  if (!user || !producer)
    return false;
  // A bias broadcast into what a contraction accumulates into.
  if (std::optional<WeightOperand> layout = getConstantWeightOperand(user)) {
    auto contraction = cast<linalg::LinalgOp>(user);
    if (contraction.getNumDpsInits() == 1 &&
        contraction.getDpsInitOperand(0)->get() == value &&
        matchBiasInit(value, layout->resultChannelAxis))
      return true;
  }
  // The first of two activations in a row (ReLU6 as max then min) after
  // what fuses with them: the pair is one clamp.
  if (user->getNumResults() == 1)
    if (std::optional<ActivationChain> pair =
            matchActivations(user->getResult(0));
        pair && pair->ops.size() == 2 && pair->ops[1] == producer)
      return isFusedIntermediate(pair->input);
  // A sum pooling divided by its window size: an average pooling.
  if (isa<linalg::PoolingNhwcSumOp>(producer))
    return matchScaling(user).has_value();
  // A residual add or a product of two activations, followed by its
  // activation.
  if ((isElementwiseAdd(producer) || isElementwiseMul(producer)) &&
      llvm::none_of(producer->getOperands().take_front(2), [](Value operand) {
        return matchPattern(operand, m_Constant());
      }))
    return matchActivation(user, value).has_value();
  std::optional<WeightOperand> layout = getConstantWeightOperand(producer);
  if (!layout) {
    // The result of a bias add of a contraction, feeding an activation.
    for (Value operand : producer->getOperands()) {
      Operation *contraction = operand.getDefiningOp();
      std::optional<WeightOperand> inner =
          contraction ? getConstantWeightOperand(contraction) : std::nullopt;
      if (inner && operand.hasOneUse() &&
          matchBiasAdd(producer, operand, inner->resultChannelAxis))
        return matchActivation(user, value).has_value();
    }
    return false;
  }
  return isFusableEpilogue(user, value, *layout);
}

void qnn::populateFuseQuantizedOpsPatterns(RewritePatternSet &patterns) {
  patterns
      .add<FuseQuantizedContraction, FuseGroupedContraction, FuseQuantizedAdd,
           FuseQuantizedMul, FuseAveragePool, FuseDataMovement,
           FuseWeightOnlyContraction, DequantizeQuantizeToRequantize>(
          patterns.getContext());
}
