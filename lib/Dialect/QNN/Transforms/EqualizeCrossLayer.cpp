//===- EqualizeCrossLayer.cpp - data-free cross-layer equalization --------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// qnn-equalize-cross-layer: Nagel et al., "Data-Free Quantization Through
// Weight Equalization and Bias Correction" (ICCV 2019), section 4.1. For a
// convolution P whose output channel c feeds, through a bias add, a ReLU
// and zero paddings, input channel c of a convolution C, scaling channel c
// of P's weights and bias by 1/s_c and C's input channel c by s_c leaves
// the model's function unchanged (ReLU(x / s) = ReLU(x) / s for s > 0).
// With s_c = sqrt(r1_c * r2_c) / r2_c, r1 and r2 the channel's largest
// |weight| in P and in C, both channel ranges become sqrt(r1_c * r2_c): a
// per-tensor weight scale then fits every channel.
//
//===----------------------------------------------------------------------===//

#include "FusionMatchers.h"

#include "quant-opt/Dialect/QNN/Transforms/Passes.h"
#include "quant-opt/Dialect/QNN/Transforms/Transforms.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/MapVector.h"

#include <cmath>

namespace mlir::qnn {
#define GEN_PASS_DEF_QNNEQUALIZECROSSLAYERPASS
#include "quant-opt/Dialect/QNN/Transforms/Passes.h.inc"
} // namespace mlir::qnn

using namespace mlir;
using namespace mlir::qnn;
using namespace mlir::qnn::fusion;

namespace {

/// A constant operand's values as the pass updates them.
struct Tensor {
  RankedTensorType type;
  SmallVector<double> values;
};

/// One equalizable pair: P's output channels feed C's input channels.
struct Pair {
  OpOperand *producerWeights;
  int64_t producerAxis;
  OpOperand *bias; // 1-D, per output channel of P; null without one
  OpOperand *consumerWeights;
  int64_t consumerAxis;
  /// The ReLU6 ops whose upper bound the pair relaxes, if any.
  SmallVector<Operation *, 2> relu6;
};

/// The size of the dimensions after `axis`.
int64_t strideOf(RankedTensorType type, int64_t axis) {
  int64_t stride = 1;
  for (int64_t d = axis + 1; d < type.getRank(); ++d)
    stride *= type.getDimSize(d);
  return stride;
}

/// The largest |value| of each index along `axis`.
SmallVector<double> channelRanges(const Tensor &tensor, int64_t axis) {
  int64_t channels = tensor.type.getDimSize(axis);
  int64_t stride = strideOf(tensor.type, axis);
  SmallVector<double> ranges(channels, 0.0);
  for (auto [i, value] : llvm::enumerate(tensor.values)) {
    int64_t c = (int64_t(i) / stride) % channels;
    ranges[c] = std::max(ranges[c], std::abs(value));
  }
  return ranges;
}

void scaleChannels(Tensor &tensor, int64_t axis, ArrayRef<double> factors) {
  int64_t channels = tensor.type.getDimSize(axis);
  int64_t stride = strideOf(tensor.type, axis);
  for (auto [i, value] : llvm::enumerate(tensor.values))
    value *= factors[(int64_t(i) / stride) % channels];
}

/// The operand of `op` that is a float constant of static shape used only
/// there, or null.
OpOperand *getOwnConstant(Operation *op, unsigned index) {
  OpOperand &operand = op->getOpOperand(index);
  auto type = dyn_cast<RankedTensorType>(operand.get().getType());
  if (!type || !type.hasStaticShape() || !type.getElementType().isF32() ||
      !operand.get().hasOneUse() || !matchPattern(operand.get(), m_Constant()))
    return nullptr;
  return &operand;
}

struct QNNEqualizeCrossLayerPass
    : public qnn::impl::QNNEqualizeCrossLayerPassBase<
          QNNEqualizeCrossLayerPass> {
  using Base::Base;

  void runOnOperation() override {
    if (relu6 != "relax" && relu6 != "skip") {
      emitError(getOperation()->getLoc())
          << "qnn-equalize-cross-layer: relu6=" << relu6
          << " is not one of relax, skip";
      return signalPassFailure();
    }
    SmallVector<Pair> pairs;
    getOperation()->walk([&](linalg::Conv2DNhwcHwcfOp consumer) {
      if (std::optional<Pair> pair = matchPair(consumer))
        pairs.push_back(*pair);
    });
    if (pairs.empty())
      return;
    // The current values of every constant the pairs touch (a convolution
    // can be the consumer of one pair and the producer of the next).
    llvm::MapVector<OpOperand *, Tensor> tensors;
    auto load = [&](OpOperand *operand) {
      if (!operand || tensors.count(operand))
        return;
      Attribute attr;
      matchPattern(operand->get(), m_Constant(&attr));
      std::optional<SmallVector<double>> values = toDoubles(attr);
      if (values)
        tensors[operand] = {cast<RankedTensorType>(operand->get().getType()),
                            std::move(*values)};
    };
    for (Pair &pair : pairs) {
      load(pair.producerWeights);
      load(pair.bias);
      load(pair.consumerWeights);
    }
    llvm::erase_if(pairs, [&](const Pair &pair) {
      return !tensors.count(pair.producerWeights) ||
             !tensors.count(pair.consumerWeights) ||
             (pair.bias && !tensors.count(pair.bias));
    });
    // Chains converge over a few sweeps (the paper iterates to a fixed
    // point); a lone pair is equal after the first.
    for (unsigned sweep = 0; sweep < iterations; ++sweep) {
      double largestChange = 0.0;
      for (Pair &pair : pairs) {
        Tensor &producer = tensors[pair.producerWeights];
        Tensor &consumer = tensors[pair.consumerWeights];
        SmallVector<double> r1 = channelRanges(producer, pair.producerAxis);
        SmallVector<double> r2 = channelRanges(consumer, pair.consumerAxis);
        if (r1.size() != r2.size())
          continue;
        SmallVector<double> s(r1.size(), 1.0), inverse(r1.size(), 1.0);
        for (size_t c = 0; c < r1.size(); ++c) {
          if (r1[c] > 0.0 && r2[c] > 0.0) {
            s[c] = std::sqrt(r1[c] * r2[c]) / r2[c];
            inverse[c] = 1.0 / s[c];
          }
          largestChange = std::max(largestChange, std::abs(std::log(s[c])));
        }
        scaleChannels(producer, pair.producerAxis, inverse);
        if (pair.bias)
          scaleChannels(tensors[pair.bias], 0, inverse);
        scaleChannels(consumer, pair.consumerAxis, s);
      }
      if (largestChange < 1e-6)
        break;
    }
    // Write the values back as new constants, rounded to f32 once.
    for (auto &[operand, tensor] : tensors) {
      Operation *owner = operand->getOwner();
      OpBuilder builder(owner);
      SmallVector<float> values(tensor.values.begin(), tensor.values.end());
      Value constant = arith::ConstantOp::create(
          builder, operand->get().getLoc(),
          DenseElementsAttr::get(tensor.type, ArrayRef<float>(values)));
      Operation *old = operand->get().getDefiningOp();
      operand->set(constant);
      if (old->use_empty())
        old->erase();
    }
    for (Pair &pair : pairs)
      for (Operation *op : pair.relu6)
        relaxUpperBound(op);
  }

  /// P -> [bias add] -> [ReLU / ReLU6] -> [zero pads] -> `consumer`.
  std::optional<Pair> matchPair(linalg::Conv2DNhwcHwcfOp consumer) {
    Pair pair;
    pair.consumerWeights = getOwnConstant(consumer, 1);
    pair.consumerAxis = 2; // HWCF: the input channels
    if (!pair.consumerWeights)
      return std::nullopt;
    Value value = consumer.getInputs()[0];
    // Zero paddings and max or sum poolings: they commute with scaling a
    // channel by s > 0 (the padding's zeros stay zero).
    while (Operation *mover = value.getDefiningOp()) {
      if (!value.hasOneUse())
        return std::nullopt;
      if (auto pad = dyn_cast<tensor::PadOp>(mover)) {
        Value padValue = pad.getConstantPaddingValue();
        if (!padValue || !matchPattern(padValue, m_AnyZeroFloat()))
          return std::nullopt;
        value = pad.getSource();
      } else if (auto pool = dyn_cast<linalg::PoolingNhwcMaxOp>(mover)) {
        // Its init is the lowest value (or 0 after a ReLU): both scale.
        value = pool.getInputs()[0];
      } else if (auto pool = dyn_cast<linalg::PoolingNhwcSumOp>(mover)) {
        auto fill = pool.getOutputs()[0].getDefiningOp<linalg::FillOp>();
        if (!fill || !matchPattern(fill.getInputs()[0], m_AnyZeroFloat()))
          return std::nullopt;
        value = pool.getInputs()[0];
      } else {
        break;
      }
    }
    if (!value.hasOneUse())
      return std::nullopt;
    // ReLU (positively homogeneous) or none; ReLU6 when relaxed to ReLU.
    if (std::optional<ActivationChain> chain = matchActivations(value)) {
      auto [lo, hi] = chain->clamp;
      if (lo != 0.0)
        return std::nullopt;
      if (!std::isinf(hi)) {
        if (relu6 != "relax")
          return std::nullopt;
        pair.relu6.assign(chain->ops.begin(), chain->ops.end());
      }
      value = chain->input;
      if (!value.hasOneUse())
        return std::nullopt;
    }
    Operation *op = value.getDefiningOp();
    if (!op)
      return std::nullopt;
    // A bias add: a linalg.generic adding a 1-D constant along the channels.
    pair.bias = nullptr;
    if (auto generic = dyn_cast<linalg::GenericOp>(op);
        generic && generic.getNumDpsInputs() == 2) {
      Value input = generic.getInputs()[0];
      Operation *contraction = input.getDefiningOp();
      if (!contraction || !input.hasOneUse() ||
          !matchBiasAdd(generic, input, /*channelAxis=*/3))
        return std::nullopt;
      pair.bias = getOwnConstant(generic, 1);
      if (!pair.bias ||
          cast<RankedTensorType>(pair.bias->get().getType()).getRank() != 1)
        return std::nullopt;
      op = contraction;
    }
    if (!isa<linalg::Conv2DNhwcHwcfOp, linalg::DepthwiseConv2DNhwcHwcOp>(op))
      return std::nullopt;
    std::optional<WeightOperand> layout = getWeightOperand(op);
    if (!layout || layout->resultChannelAxis != 3)
      return std::nullopt;
    pair.producerWeights = getOwnConstant(op, layout->operandIndex);
    pair.producerAxis = layout->channelAxis;
    if (!pair.producerWeights)
      return std::nullopt;
    return pair;
  }

  /// ReLU6 -> ReLU: drops the min with the upper bound.
  static void relaxUpperBound(Operation *op) {
    auto generic = dyn_cast<linalg::GenericOp>(op);
    if (!generic) {
      // linalg.min(x, 6): the result is x.
      if (isa<linalg::MinOp>(op))
        op->getResult(0).replaceAllUsesWith(op->getOperand(0));
      return;
    }
    SmallVector<Operation *> mins;
    generic.getRegion().walk([&](Operation *inner) {
      if (isa<arith::MinimumFOp, arith::MinNumFOp>(inner) &&
          getScalarConstant(inner->getOperand(1)))
        mins.push_back(inner);
    });
    for (Operation *min : mins) {
      Operation *bound = min->getOperand(1).getDefiningOp();
      min->getResult(0).replaceAllUsesWith(min->getOperand(0));
      min->erase();
      if (bound && bound->use_empty() && generic->isProperAncestor(bound))
        bound->erase();
    }
  }
};

} // namespace
