//===- FusionMatchers.cpp - what the fusions recognize --------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The float ops that quantize/dequantize pairs fuse around, recognized: bias
// adds and broadcasts, activations and clamps, elementwise adds and
// products, scalings. Shared by the fusion patterns (FuseContractions.cpp,
// FuseElementwise.cpp, FusePooling.cpp) and by the queries qnn-insert-qdq
// asks before it quantizes (getConstantBias, isFusedIntermediate).
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

namespace mlir::qnn::fusion {

/// Whether `value` is a float constant equal to `expected` everywhere.
bool isConstantSplat(Value value, double expected) {
  DenseFPElementsAttr attr;
  if (!matchPattern(value, m_Constant(&attr)) || !attr.isSplat())
    return false;
  return attr.getSplatValue<APFloat>().convertToDouble() == expected;
}

/// A float scalar constant defined above `body`'s op, or nullopt.
std::optional<double> getScalarConstant(Value value) {
  FloatAttr attr;
  if (!matchPattern(value, m_Constant(&attr)))
    return std::nullopt;
  return attr.getValueAsDouble();
}

/// The value of a splat float constant, or nullopt.
std::optional<double> getSplatConstant(Value value) {
  DenseFPElementsAttr attr;
  if (!matchPattern(value, m_Constant(&attr)) || !attr.isSplat())
    return std::nullopt;
  return attr.getSplatValue<APFloat>().convertToDouble();
}

/// `op` if it is a one-input, all-parallel linalg.generic or linalg.map
/// with identity maps (an elementwise function of one tensor, whose body's
/// first argument is the element), else null.
linalg::LinalgOp asUnaryElementwise(Operation *op) {
  if (!isa<linalg::GenericOp, linalg::MapOp>(op))
    return nullptr;
  auto generic = cast<linalg::LinalgOp>(op);
  if (generic.getNumDpsInputs() != 1 ||
      generic.getNumLoops() != generic.getNumParallelLoops() ||
      !llvm::all_of(generic.getIndexingMapsArray(),
                    [](AffineMap map) { return map.isIdentity(); }))
    return nullptr;
  return generic;
}

/// Walks back from `value`, inside a linalg body, through max/min with
/// scalar constants; returns the value it stops at and the bounds it
/// collected.
std::pair<Value, Clamp> peelClamp(Value value) {
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

bool isClamp(const Clamp &clamp) {
  return !std::isinf(clamp.first) || !std::isinf(clamp.second);
}

/// Matches an elementwise ReLU or clamp on `input`: `linalg.max(x, c)` or
/// `linalg.min(x, c)` with a splat constant (ReLU6 as two named ops is two
/// of them), or a one-input `linalg.generic` or `linalg.map` whose body is
/// max(x, lo) and/or min(x, hi) with constant bounds. Returns the float
/// bounds.
std::optional<Clamp> matchActivation(Operation *op, Value input) {
  const double inf = std::numeric_limits<double>::infinity();
  if (isa<linalg::MaxOp, linalg::MinOp>(op)) {
    auto named = cast<linalg::LinalgOp>(op);
    Value lhs = named.getDpsInputs()[0], rhs = named.getDpsInputs()[1];
    std::optional<double> bound = getSplatConstant(lhs == input ? rhs : lhs);
    if (!bound || (lhs != input && rhs != input))
      return std::nullopt;
    return isa<linalg::MaxOp>(op) ? Clamp{*bound, inf} : Clamp{-inf, *bound};
  }
  linalg::LinalgOp generic = asUnaryElementwise(op);
  if (!generic)
    return std::nullopt;
  Block &body = *generic.getBlock();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  auto [reached, clamp] = peelClamp(yield.getValues()[0]);
  if (reached != body.getArgument(0) || !isClamp(clamp))
    return std::nullopt;
  return clamp;
}

/// Matches one or two activations in a row ending at `value` (ReLU6 as
/// linalg.min(linalg.max(x, 0), 6)), each the single user of its input;
/// returns the ops, outermost first, their input, and the combined bounds.
std::optional<ActivationChain> matchActivations(Value value) {
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
std::optional<SmallVector<double>> toDoubles(Attribute attr) {
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

/// Matches a bias the contraction starts from: its init broadcasts a 1-D
/// constant along `channelAxis`, as a `linalg.generic` (how tosa-to-linalg
/// writes a convolution's bias) or a `linalg.broadcast`.
std::optional<SmallVector<double>> matchBiasInit(Value init,
                                                 int64_t channelAxis) {
  auto generic = init.getDefiningOp<linalg::LinalgOp>();
  if (!generic || !isa<linalg::GenericOp, linalg::BroadcastOp>(generic) ||
      generic.getNumDpsInputs() != 1 || generic.getNumDpsInits() != 1 ||
      generic.getNumLoops() != generic.getNumParallelLoops())
    return std::nullopt;
  SmallVector<AffineMap> maps = generic.getIndexingMapsArray();
  TypedAttr attr;
  Block &body = *generic.getBlock();
  if (!maps[1].isIdentity() ||
      maps[0] !=
          AffineMap::get(maps[1].getNumDims(), 0,
                         getAffineDimExpr(channelAxis, generic.getContext())) ||
      !matchPattern(generic.getDpsInputs()[0], m_Constant(&attr)) ||
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
std::optional<SmallVector<double>> matchBiasAdd(Operation *op, Value input,
                                                int64_t channelAxis,
                                                std::optional<Clamp> *clamp) {
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
Operation *getSingleUser(Value value) {
  return value.hasOneUse() ? *value.getUsers().begin() : nullptr;
}

/// Whether `op` applies a bias add or an activation to `input`, the result
/// of a contraction (or of its bias add).
bool isFusableEpilogue(Operation *op, Value input,
                       const WeightOperand &layout) {
  std::optional<Clamp> clamp;
  return matchActivation(op, input) ||
         matchBiasAdd(op, input, layout.resultChannelAxis, &clamp);
}

int64_t getStored(const APInt &bits, quant::QuantizedType type) {
  return getStoredValue(bits, type);
}

/// The per-tensor type of a dequantized operand, or null.
quant::UniformQuantizedType getDequantizedType(Value value) {
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

bool isElementwiseAdd(Operation *op) {
  return isElementwiseBinary<linalg::AddOp, arith::AddFOp>(op);
}

bool isElementwiseMul(Operation *op) {
  return isElementwiseBinary<linalg::MulOp, arith::MulFOp>(op);
}

/// The clamp bounds, in stored values of `type`, of an activation with
/// float bounds `bounds`.
SmallVector<int64_t> getStoredClamp(std::pair<double, double> bounds,
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

/// Matches `y = x / c` or `y = x * f` by a scalar constant, elementwise;
/// returns the real factor as (divisor, factor).
std::optional<std::pair<std::optional<double>, std::optional<double>>>
matchScaling(Operation *op) {
  linalg::LinalgOp generic = asUnaryElementwise(op);
  if (!generic)
    return std::nullopt;
  Block &body = *generic.getBlock();
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

std::optional<double> getPositiveScalingFactor(Operation *op) {
  auto factors = matchScaling(op);
  if (!factors)
    return std::nullopt;
  double factor = factors->second ? *factors->second : 1.0 / *factors->first;
  if (!(factor > 0.0) || !std::isfinite(factor))
    return std::nullopt;
  return factor;
}

} // namespace mlir::qnn::fusion

using namespace mlir::qnn::fusion;

/// The weight layout of `op` if it is a contraction with constant weights
/// (the only ones qnn-fuse-quantized-ops fuses), float or already quantized
/// (codebook weights).
static std::optional<WeightOperand> getConstantWeightOperand(Operation *op) {
  std::optional<WeightOperand> layout = getWeightOperand(op);
  if (!layout)
    return std::nullopt;
  Value weights = op->getOperand(layout->operandIndex);
  if (!matchPattern(weights, m_Constant()) && !isDequantizedConstant(weights))
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
  if (isa<linalg::PoolingNhwcSumOp, linalg::PoolingNchwSumOp>(producer))
    return matchScaling(user).has_value();
  // A residual add or a product of two activations, or a scaling of one
  // by a constant, followed by its activation.
  if (((isElementwiseAdd(producer) || isElementwiseMul(producer)) &&
       llvm::none_of(producer->getOperands().take_front(2),
                     [](Value operand) {
                       return matchPattern(operand, m_Constant());
                     })) ||
      matchScaling(producer))
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
