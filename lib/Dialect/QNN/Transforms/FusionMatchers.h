//===- FusionMatchers.h - what the fusions recognize ------------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Matchers shared by the fusion pattern families of qnn-fuse-quantized-ops
// and the queries of Transforms.h. Internal to the library: not installed.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_OPT_LIB_DIALECT_QNN_TRANSFORMS_FUSIONMATCHERS_H
#define QUANT_OPT_LIB_DIALECT_QNN_TRANSFORMS_FUSIONMATCHERS_H

#include "quant-opt/Dialect/QNN/IR/QNNOps.h"
#include "quant-opt/Dialect/QNN/Transforms/Transforms.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"

#include <optional>
#include <utility>

namespace mlir::qnn::fusion {

/// The float ops between the contraction and the final quantize.
struct Epilogue {
  /// Bias per output channel (float values), if any.
  std::optional<SmallVector<double>> bias;
  /// Float clamp bounds of the activation, if any.
  std::optional<std::pair<double, double>> clamp;
};

/// Bounds (lo, hi) of a clamp; infinite where there is none.
using Clamp = std::pair<double, double>;

/// Whether `value` is a float constant equal to `expected` everywhere.
bool isConstantSplat(Value value, double expected);

/// A float scalar constant defined above `body`'s op, or nullopt.
std::optional<double> getScalarConstant(Value value);

/// The value of a splat float constant, or nullopt.
std::optional<double> getSplatConstant(Value value);

/// `op` if it is a one-input, all-parallel linalg.generic or linalg.map
/// with identity maps (an elementwise function of one tensor, whose body's
/// first argument is the element), else null.
linalg::LinalgOp asUnaryElementwise(Operation *op);

/// Walks back from `value`, inside a linalg body, through max/min with
/// scalar constants; returns the value it stops at and the bounds it
/// collected.
std::pair<Value, Clamp> peelClamp(Value value);

/// Whether `clamp` bounds anything.
bool isClamp(const Clamp &clamp);

/// Matches an elementwise ReLU or clamp on `input`: `linalg.max(x, c)` or
/// `linalg.min(x, c)` with a splat constant (ReLU6 as two named ops is two
/// of them), or a one-input `linalg.generic` whose body is max(x, lo) and/or
/// min(x, hi) with constant bounds. Returns the float bounds.
std::optional<Clamp> matchActivation(Operation *op, Value input);

/// Matches one or two activations in a row ending at `value` (ReLU6 as
/// linalg.min(linalg.max(x, 0), 6)), each the single user of its input;
/// returns the ops, outermost first, their input, and the combined bounds.
struct ActivationChain {
  SmallVector<Operation *, 2> ops;
  Value input;
  Clamp clamp;
};
std::optional<ActivationChain> matchActivations(Value value);

/// The elements of a dense or dense_resource (as importers write large
/// constants) float constant, as doubles.
std::optional<SmallVector<double>> toDoubles(Attribute attr);

/// Matches a bias the contraction starts from: its init is a
/// `linalg.generic` broadcasting a 1-D constant along `channelAxis` (how
/// tosa-to-linalg writes a convolution's bias).
std::optional<SmallVector<double>> matchBiasInit(Value init,
                                                 int64_t channelAxis);

/// Matches a bias add of `input`: `linalg.add(input, c)` with a constant
/// `c` that only varies along `channelAxis`, or a two-input
/// `linalg.generic` adding a 1-D constant read along `channelAxis` (and,
/// given `clamp`, clamping the sum, which then sets it).
std::optional<SmallVector<double>>
matchBiasAdd(Operation *op, Value input, int64_t channelAxis,
             std::optional<Clamp> *clamp = nullptr);

/// The one user of `value`, if it has exactly one use.
Operation *getSingleUser(Value value);

/// Whether `op` applies a bias add or an activation to `input`, the result
/// of a contraction (or of its bias add).
bool isFusableEpilogue(Operation *op, Value input, const WeightOperand &layout);

/// The stored value `bits` hold in `type`.
int64_t getStored(const APInt &bits, quant::QuantizedType type);

/// The per-tensor type of a dequantized operand, or null.
quant::UniformQuantizedType getDequantizedType(Value value);

/// Whether `op` adds (multiplies) its two inputs elementwise: linalg.add
/// (linalg.mul) or a linalg.generic with identity maps yielding arith.addf
/// (arith.mulf) of its two arguments.
bool isElementwiseAdd(Operation *op);
bool isElementwiseMul(Operation *op);

/// The clamp bounds, in stored values of `type`, of an activation with
/// float bounds `bounds`.
SmallVector<int64_t> getStoredClamp(std::pair<double, double> bounds,
                                    quant::UniformQuantizedType type,
                                    RoundingMode rounding);

/// Matches `y = x / c` or `y = x * f` by a scalar constant, elementwise;
/// returns the real factor as (divisor, factor).
std::optional<std::pair<std::optional<double>, std::optional<double>>>
matchScaling(Operation *op);

/// The factor f of a scaling (`x * f`, or `x / c` as f = 1 / c) when it is
/// positive and finite, the scalings fusion computes on stored values;
/// nullopt for other ops and other factors.
std::optional<double> getPositiveScalingFactor(Operation *op);

} // namespace mlir::qnn::fusion

#endif // QUANT_OPT_LIB_DIALECT_QNN_TRANSFORMS_FUSIONMATCHERS_H
