//===- Transforms.h - What the qnn passes share -----------------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The layer names, the set of ops quant-opt quantizes and where their weights
// are, shared by the instrumentation, QDQ insertion and fusion passes so that
// all of them agree.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_OPT_DIALECT_QNN_TRANSFORMS_TRANSFORMS_H
#define QUANT_OPT_DIALECT_QNN_TRANSFORMS_TRANSFORMS_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Operation.h"
#include "mlir/IR/PatternMatch.h"

#include <optional>
#include <string>

namespace mlir::qnn {

/// The name of the layer `op`: the name its location carries (importers
/// write the node name there, e.g. `loc("conv1")`), else
/// "<op name>@<line>:<column>", else the op name.
std::string getLayerName(Operation *op);

/// The name of a value before de-duplication: the layer name for an op's
/// first result, "<layer>#<n>" for its n-th, and the argument's own name
/// location or "<function>.arg<n>" for a block argument.
std::string getTensorName(Value value);

/// The unit attribute an importer puts on the inner ops of a layer it
/// expands into several ops (a softmax, a layer normalization): their results
/// are the layer's intermediate values, neither observed nor quantized.
inline constexpr llvm::StringLiteral kInternalAttrName = "qnn.internal";

/// Replaces every qnn.lookup of constant codes and codebook under `root` by
/// the constant it computes (a qnn.constant, or an arith.constant for a
/// float codebook). qnn-fuse-quantized-ops runs it first, so that codebook
/// weights are fused as the constant weights they are.
void evaluateConstantLookups(Operation *root);

/// Whether `value` is the dequantize of weights known at compile time (a
/// qnn.constant, or a qnn.lookup of constants: codebook weights): a weight
/// that is already quantized, not an activation.
bool isDequantizedConstant(Value value);

/// Whether `value` is an activation: a float ranked tensor that is not a
/// constant, not produced by an op marked `qnn.internal`, and that some op
/// reads as an input (not as a destination only) or returns.
bool isActivation(Value value);

/// Puts a qnn.observe after every activation of `module` that has none, with
/// a unique id (the qnn-insert-observers pass).
void insertObservers(ModuleOp module);

/// Whether quant-opt quantizes `op` (its inputs and output are quantized
/// and later passes compute it in integers). Other ops stay in float.
bool isQuantizableOp(Operation *op);

/// Where the weights of a contraction are and how they are laid out.
struct WeightOperand {
  unsigned operandIndex;
  /// The output-channel axis of the weight tensor.
  int64_t channelAxis;
  /// The reduction axis the groups of per-group quantization run along, if
  /// the op has one in its weights.
  std::optional<int64_t> reductionAxis;
  /// The output-channel axis of the result.
  int64_t resultChannelAxis;
};

/// The weight operand of matmul, batch_matmul and the convolutions.
std::optional<WeightOperand> getWeightOperand(Operation *op);

/// Whether `value` is an intermediate of a contraction that
/// qnn-fuse-quantized-ops fuses: the result of a contraction or of its bias
/// add, whose only user is its bias add or activation. Such values are not
/// quantized on their own (no observer, no quantize / dequantize pair).
bool isFusedIntermediate(Value value);

/// The bias the only reader of contraction `op`'s result adds (as fusion
/// takes it: per output channel), if any.
std::optional<SmallVector<double>> getConstantBias(Operation *op);

/// Collects the patterns of qnn-fuse-quantized-ops: every family below.
void populateFuseQuantizedOpsPatterns(RewritePatternSet &patterns);

/// A dequantized contraction with constant quantized weights (per tensor,
/// channel or group), an optional bias and activation, quantized again,
/// becomes an integer contraction accumulating in i32 and a qnn.rescale; a
/// float contraction with dequantized constant weights (weight-only) reads
/// the stored weights.
void populateFuseContractionPatterns(RewritePatternSet &patterns);

/// Residual adds and products of two dequantized activations, with an
/// optional activation, quantized again: integer ops on stored values.
void populateFuseElementwisePatterns(RewritePatternSet &patterns);

/// Average pooling (a sum pooling divided by its window) of a dequantized
/// activation, quantized again: an i32 window sum and a qnn.rescale.
void populateFusePoolingPatterns(RewritePatternSet &patterns);

/// Reshapes, slices, pads, transposes, concatenation and max pooling
/// between a dequantize and a quantize of one type: run on stored values.
void populateFuseDataMovementPatterns(RewritePatternSet &patterns);

/// A dequantize of a per-tensor value read by a transpose, reshape, slice or
/// zero pad moves after it (the op runs on stored values), so that the
/// contraction reading it can fuse. qnn-fuse-quantized-ops applies these
/// first, before the weight-only rewrite can take the contraction.
void populateSinkDequantizePatterns(RewritePatternSet &patterns);

/// quantize(dequantize(q)) into another type: qnn.requantize.
void populateFoldRequantizePatterns(RewritePatternSet &patterns);

} // namespace mlir::qnn

#endif // QUANT_OPT_DIALECT_QNN_TRANSFORMS_TRANSFORMS_H
