//===- InsertQDQ.cpp - Quantize activations and weights -------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Replaces each qnn.observe by a quantize / dequantize pair whose parameters
// come from the calibration statistics, and gives the constant weights of
// contractions a quantize / dequantize pair computed from their values (the
// quantize folds into a qnn.constant right away). How each layer is
// quantized comes from the pass options and, per layer, from a recipe.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Calibration/Calibration.h"
#include "quant-opt/Calibration/Recipe.h"
#include "quant-opt/Dialect/QNN/IR/QNNOps.h"
#include "quant-opt/Dialect/QNN/IR/QNNSemantics.h"
#include "quant-opt/Dialect/QNN/Transforms/Passes.h"
#include "quant-opt/Dialect/QNN/Transforms/Transforms.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/ToolOutputFile.h"

#include <limits>

namespace mlir::qnn {
#define GEN_PASS_DEF_QNNINSERTQDQPASS
#include "quant-opt/Dialect/QNN/Transforms/Passes.h.inc"
} // namespace mlir::qnn

using namespace mlir;
using namespace mlir::qnn;

/// The per-tensor type for `params` on `storage`, or null after reporting
/// why the quant dialect rejects it (e.g. a scale out of the f16 range).
static quant::QuantizedType getPerTensorType(const StorageSpec &storage,
                                             QuantizationParams params,
                                             Type expressedType, Location loc) {
  MLIRContext *ctx = expressedType.getContext();
  return quant::UniformQuantizedType::getChecked(
      [&] { return emitError(loc); },
      storage.isSigned ? quant::QuantizationFlags::Signed : 0,
      IntegerType::get(ctx, storage.bits), expressedType, params.scale,
      params.zeroPoint, storage.getMin(), storage.getMax());
}

/// The [min, max] of each block of `values` (row-major, of `shape`), where
/// `blockSizes[d]` consecutive indices of axis d form one block.
static SmallVector<std::pair<double, double>>
getBlockRanges(ArrayRef<double> values, ArrayRef<int64_t> shape,
               ArrayRef<int64_t> blockSizes, SmallVectorImpl<int64_t> &blocks) {
  blocks.clear();
  for (auto [size, blockSize] : llvm::zip(shape, blockSizes))
    blocks.push_back(size / blockSize);
  int64_t numBlocks = 1;
  for (int64_t count : blocks)
    numBlocks *= count;
  SmallVector<std::pair<double, double>> ranges(
      numBlocks, {std::numeric_limits<double>::infinity(),
                  -std::numeric_limits<double>::infinity()});
  for (auto [linear, value] : llvm::enumerate(values)) {
    int64_t rest = linear, block = 0, stride = 1;
    for (int64_t axis = shape.size() - 1; axis >= 0; --axis) {
      int64_t index = rest % shape[axis];
      rest /= shape[axis];
      block += (index / blockSizes[axis]) * stride;
      stride *= blocks[axis];
    }
    ranges[block].first = std::min(ranges[block].first, value);
    ranges[block].second = std::max(ranges[block].second, value);
  }
  return ranges;
}

/// The quantized type of a constant weight of `tensorType` with `values`,
/// per `config`, or null after an error at `op`. The range of each block of
/// output channel c is widened to contain [-widen[c], widen[c]] (the whole
/// tensor's by the largest), if `widen` is given.
static quant::QuantizedType
getWeightType(Operation *op, RankedTensorType tensorType,
              ArrayRef<double> values, const WeightOperand &layout,
              WeightConfig config, ArrayRef<double> widen) {
  MLIRContext *ctx = op->getContext();
  Type expressedType = tensorType.getElementType();
  ArrayRef<int64_t> shape = tensorType.getShape();
  const StorageSpec &storage = config.storage;
  unsigned flags = storage.isSigned ? quant::QuantizationFlags::Signed : 0;
  Type storageType = IntegerType::get(ctx, storage.bits);

  if (config.granularity == WeightGranularity::PerGroup &&
      !layout.reductionAxis) {
    op->emitRemark() << "weights of '" << op->getName()
                     << "' have no reduction dimension to group: quantized "
                        "per channel";
    config.granularity = WeightGranularity::PerChannel;
  }
  // A reduction dimension no longer than a group (a first convolution's one
  // input channel) is one group per channel: per channel, said so.
  if (config.granularity == WeightGranularity::PerGroup &&
      shape[*layout.reductionAxis] <= config.groupSize) {
    op->emitRemark() << "the reduction dimension of the weights of '"
                     << op->getName() << "' (size "
                     << shape[*layout.reductionAxis]
                     << ") is not longer than a group (" << config.groupSize
                     << "): quantized per channel";
    config.granularity = WeightGranularity::PerChannel;
  }

  SmallVector<int64_t> blockSizes(shape);
  if (config.granularity != WeightGranularity::PerTensor)
    blockSizes[layout.channelAxis] = 1;
  if (config.granularity == WeightGranularity::PerGroup) {
    int64_t axis = *layout.reductionAxis;
    if (shape[axis] % config.groupSize != 0) {
      op->emitError() << "group size " << config.groupSize
                      << " does not divide the reduction dimension (size "
                      << shape[axis] << ", axis " << axis << ") of the weights";
      return nullptr;
    }
    blockSizes[axis] = config.groupSize;
  }

  SmallVector<int64_t> blocks;
  SmallVector<std::pair<double, double>> ranges =
      getBlockRanges(values, shape, blockSizes, blocks);
  if (!widen.empty()) {
    int64_t axis = layout.channelAxis, inner = 1;
    for (int64_t d = axis + 1; d < static_cast<int64_t>(blocks.size()); ++d)
      inner *= blocks[d];
    double largest = *llvm::max_element(widen);
    for (auto [index, range] : llvm::enumerate(ranges)) {
      double r =
          blocks[axis] == 1
              ? largest
              : widen[(static_cast<int64_t>(index) / inner) % blocks[axis]];
      range = {std::min(range.first, -r), std::max(range.second, r)};
    }
  }
  SmallVector<QuantizationParams> params =
      llvm::map_to_vector(ranges, [&](auto range) {
        return chooseQuantizationParams(range.first, range.second, storage);
      });
  auto emitErrorAtOp = [&] { return op->emitError(); };

  switch (config.granularity) {
  case WeightGranularity::PerTensor:
    return getPerTensorType(storage, params.front(), expressedType,
                            op->getLoc());
  case WeightGranularity::PerChannel: {
    SmallVector<double> scales;
    SmallVector<int64_t> zeroPoints;
    for (const QuantizationParams &p : params) {
      scales.push_back(p.scale);
      zeroPoints.push_back(p.zeroPoint);
    }
    return quant::UniformQuantizedPerAxisType::getChecked(
        emitErrorAtOp, flags, storageType, expressedType, scales, zeroPoints,
        layout.channelAxis, storage.getMin(), storage.getMax());
  }
  case WeightGranularity::PerGroup: {
    auto floatType = cast<FloatType>(expressedType);
    SmallVector<APFloat> scales;
    SmallVector<APInt> zeroPoints;
    for (const QuantizationParams &p : params) {
      APFloat scale(p.scale);
      bool losesInfo;
      scale.convert(floatType.getFloatSemantics(), APFloat::rmNearestTiesToEven,
                    &losesInfo);
      scales.push_back(scale);
      zeroPoints.push_back(APInt(storage.bits, p.zeroPoint, storage.isSigned));
    }
    auto scalesAttr = DenseElementsAttr::get(
        RankedTensorType::get(blocks, expressedType), scales);
    auto zeroPointsAttr = DenseElementsAttr::get(
        RankedTensorType::get(blocks, storageType), zeroPoints);
    SmallVector<int32_t> axes = {static_cast<int32_t>(*layout.reductionAxis),
                                 static_cast<int32_t>(layout.channelAxis)};
    SmallVector<int64_t> sizes = {config.groupSize, 1};
    return quant::UniformQuantizedSubChannelType::getChecked(
        emitErrorAtOp, flags, storageType, expressedType, scalesAttr,
        zeroPointsAttr, axes, sizes, storage.getMin(), storage.getMax());
  }
  }
  llvm_unreachable("unknown granularity");
}

/// Whether `op` computes on float tensors (and so is worth a remark when it
/// stays in float).
static bool computesOnFloatTensors(Operation *op) {
  if (op->hasTrait<OpTrait::ConstantLike>() ||
      op->hasTrait<OpTrait::IsTerminator>() ||
      isa<tensor::EmptyOp, tensor::CastOp, linalg::FillOp, func::CallOp>(op) ||
      isa<QNNDialect>(op->getDialect()))
    return false;
  auto isFloatTensor = [](Type type) {
    auto tensor = dyn_cast<RankedTensorType>(type);
    return tensor && isa<FloatType>(tensor.getElementType());
  };
  return llvm::any_of(op->getResultTypes(), isFloatTensor);
}

namespace {
struct QNNInsertQDQPass
    : public qnn::impl::QNNInsertQDQPassBase<QNNInsertQDQPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (failed(loadInputs(module)) || failed(checkRecipe(module)))
      return signalPassFailure();
    // Before the weights change: the bias adds and activations that fusion
    // will take into their contraction are recognized by its constant
    // weights, and are not worth a remark.
    module.walk([&](Operation *op) {
      // What fusion takes into a contraction: its epilogue (which reads a
      // fused intermediate) and its bias broadcast (which is one).
      bool fused = llvm::any_of(op->getOperands(), isFusedIntermediate) ||
                   llvm::any_of(op->getResults(), isFusedIntermediate);
      if (!isQuantizableOp(op) && !fused && computesOnFloatTensors(op))
        op->emitRemark() << "'" << op->getName()
                         << "' is not quantized: it stays in float between a "
                            "dequantize and a quantize";
    });
    if (failed(quantizeActivations(module)) ||
        failed(quantizeWeights(module)) ||
        failed(quantizeDynamicInputs(module)))
      return signalPassFailure();
    if (!parametersFile.empty() && failed(writeParameters(module)))
      return signalPassFailure();
  }

  /// Writes the types chosen for activations (by id) and weights (by layer
  /// id) as {"format", "version", "activations": {..}, "weights": {..}}.
  LogicalResult writeParameters(ModuleOp module) {
    auto print = [](Type type) {
      std::string text;
      llvm::raw_string_ostream os(text);
      type.print(os);
      return text;
    };
    llvm::json::Object root{{"format", "quant-opt-quantization-parameters"},
                            {"version", 1}};
    llvm::json::Object activations, weights;
    for (auto [id, type] : activationTypes)
      activations[id] = print(type);
    for (auto [id, type] : weightTypes)
      weights[id] = print(type);
    root["activations"] = std::move(activations);
    root["weights"] = std::move(weights);
    if (!dynamicInputs.empty()) {
      llvm::json::Object dynamic;
      for (const auto &[id, config] : dynamicInputs)
        dynamic[id] = llvm::json::Object{
            {"granularity", config.dynamic == DynamicGranularity::PerRow
                                ? "per_row"
                                : "per_tensor"},
            {"bits", config.storage.bits},
            {"signed", config.storage.isSigned},
            {"symmetric", config.storage.symmetric}};
      root["dynamic_activations"] = std::move(dynamic);
    }
    std::string error;
    auto output = openOutputFile(parametersFile, &error);
    if (!output)
      return emitError(module.getLoc())
             << "cannot write '" << parametersFile << "': " << error;
    output->os() << llvm::formatv("{0:2}", llvm::json::Value(std::move(root)))
                 << "\n";
    output->keep();
    return success();
  }

  /// Reads the statistics and the recipe and makes the defaults.
  LogicalResult loadInputs(ModuleOp module) {
    std::optional<RangeMethod> method = parseRangeMethod(activationMethod);
    std::optional<WeightGranularity> granularity =
        parseWeightGranularity(weightGranularity);
    if (!method)
      return emitError(module.getLoc())
             << "unknown activation-method '" << activationMethod
             << "' (minmax, percentile, mse, entropy)";
    if (!granularity)
      return emitError(module.getLoc())
             << "unknown weight-granularity '" << weightGranularity
             << "' (per_tensor, per_channel, per_group)";
    for (unsigned bits : {unsigned(activationBits), unsigned(weightBits)})
      if (bits < 2 || bits > 16)
        return emitError(module.getLoc())
               << "bit widths must be from 2 to 16, got " << bits;
    if (weightGroupSize < 1)
      return emitError(module.getLoc()) << "weight-group-size must be positive";
    std::optional<DynamicGranularity> dynamic =
        parseDynamicGranularity(activationDynamic);
    if (!dynamic)
      return emitError(module.getLoc())
             << "unknown activation-dynamic '" << activationDynamic
             << "' (static, per_tensor, per_row)";
    defaults.activations = {
        {activationBits, activationSigned, activationSymmetric, false},
        *method,
        activationPercentile,
        *dynamic};
    defaults.weights = {
        {weightBits, weightSigned, weightSymmetric, weightNarrowRange},
        *granularity,
        weightGroupSize};

    if (!recipeFile.empty()) {
      llvm::Expected<Recipe> read = readRecipe(recipeFile);
      if (!read)
        return emitError(module.getLoc()) << llvm::toString(read.takeError());
      recipe = std::move(*read);
    }
    // Statistics are needed for the static activations only.
    bool hasStaticObservers = false;
    module.walk(
        [&](ObserveOp observe) { hasStaticObservers |= !isDynamic(observe); });
    if (!hasStaticObservers || weightOnly)
      return success();
    if (statisticsFile.empty())
      return emitError(module.getLoc())
             << "the module has qnn.observe ops but no statistics file was "
                "given (qnn-insert-qdq{statistics=...})";
    llvm::Expected<CalibrationStatistics> read =
        readCalibrationStatistics(statisticsFile);
    if (!read)
      return emitError(module.getLoc()) << llvm::toString(read.takeError());
    statistics = std::move(*read);
    return success();
  }

  /// A rule that names a layer id nobody has is almost certainly a typo.
  LogicalResult checkRecipe(ModuleOp module) {
    llvm::StringSet<> layers, opNames;
    module.walk([&](Operation *op) {
      layers.insert(getLayerName(op));
      opNames.insert(op->getName().getStringRef());
    });
    for (const Recipe::Rule &rule : recipe.layers) {
      if (!rule.id.empty() && !layers.contains(rule.id))
        return emitError(module.getLoc())
               << recipe.fileName << ": " << rule.where << ": no layer has id '"
               << rule.id << "'";
      if (!rule.opName.empty() && !opNames.contains(rule.opName))
        module.emitWarning() << recipe.fileName << ": " << rule.where
                             << ": no '" << rule.opName << "' op in the module";
    }
    return success();
  }

  /// Whether `observe`'s tensor stays float because every layer that reads
  /// it is dynamic (a dynamic contraction quantizes its input at run time;
  /// other dynamic layers compute in float); with no reader but the
  /// function's return, whether the layer that produces it is dynamic.
  bool isDynamic(ObserveOp observe) const {
    auto dynamic = [](const LayerConfig &config) {
      return config.activations.dynamic != DynamicGranularity::Static;
    };
    bool anyReader = false;
    for (Operation *user : observe->getUsers()) {
      if (user->hasTrait<OpTrait::IsTerminator>())
        continue;
      anyReader = true;
      if (!dynamic(getConfig(user, "")))
        return false;
    }
    return anyReader || dynamic(getConfig(observe.getInput().getDefiningOp(),
                                          observe.getId()));
  }

  LayerConfig getConfig(Operation *layer, StringRef fallbackName) const {
    if (!layer)
      return recipe.resolve(fallbackName, "", defaults);
    return recipe.resolve(getLayerName(layer), layer->getName().getStringRef(),
                          defaults);
  }

  LogicalResult quantizeActivations(ModuleOp module) {
    SmallVector<ObserveOp> observers;
    module.walk([&](ObserveOp observe) { observers.push_back(observe); });
    // In program order, so that an op's inputs are quantized before its
    // output and the output can take their type (propagation).
    for (ObserveOp observe : observers) {
      Value input = observe.getInput();
      if (weightOnly || isDynamic(observe)) {
        // Activations stay in float.
        observe.replaceAllUsesWith(input);
        observe.erase();
        continue;
      }
      auto tensorType = cast<RankedTensorType>(input.getType());
      quant::QuantizedType type = getPropagatedType(input.getDefiningOp());
      if (!type) {
        FailureOr<quant::QuantizedType> calibrated = getCalibratedType(observe);
        if (failed(calibrated))
          return failure();
        type = *calibrated;
        if (auto concat = input.getDefiningOp<tensor::ConcatOp>())
          requantizeInputs(concat, type);
      }
      OpBuilder builder(observe);
      auto quantize = QuantizeOp::create(builder, observe.getLoc(),
                                         tensorType.clone(type), input);
      activationTypes.emplace_back(observe.getId().str(), type);
      auto dequantize =
          DequantizeOp::create(builder, observe.getLoc(), tensorType, quantize);
      observe.replaceAllUsesWith(dequantize.getResult());
      observe.erase();
    }
    return success();
  }

  /// The type of an activation from its statistics and its layer's settings.
  FailureOr<quant::QuantizedType> getCalibratedType(ObserveOp observe) {
    auto found = statistics.find(observe.getId());
    if (found == statistics.end())
      return observe.emitError()
             << "no statistics for tensor '" << observe.getId() << "' in '"
             << statisticsFile << "'";
    Value input = observe.getInput();
    ActivationConfig config =
        getConfig(input.getDefiningOp(), observe.getId()).activations;
    auto fail = [&]() {
      return observe.emitError() << "tensor '" << observe.getId() << "' in '"
                                 << statisticsFile << "': ";
    };
    // Nothing was observed (an empty data set, or only NaN): its min and max
    // mean nothing, and scale 1 would be a guess.
    if (found->second.count == 0)
      return fail() << "count is 0: no value was observed, so it has no range "
                       "(calibrate on data that reaches it)";
    llvm::Expected<std::pair<double, double>> range = estimateRange(
        found->second, config.method, config.storage, config.percentile);
    if (!range)
      return fail() << llvm::toString(range.takeError());
    QuantizationParams params =
        chooseQuantizationParams(range->first, range->second, config.storage);
    // A scale below the smallest normal float: x / s overflows and the
    // program would compute zeros (or infinities) without a word.
    if (params.scale < std::numeric_limits<float>::min())
      return fail() << "the range [" << range->first << ", " << range->second
                    << "] gives scale " << params.scale
                    << ", below the smallest normal f32 ("
                    << std::numeric_limits<float>::min()
                    << "); the tensor is all but zero: skip its layer in "
                       "the recipe";
    quant::QuantizedType type = getPerTensorType(
        config.storage, params,
        cast<RankedTensorType>(input.getType()).getElementType(),
        observe.getLoc());
    if (!type)
      return failure();
    return type;
  }

  /// An op that only moves or selects values (reshapes, transposes, slices,
  /// padding, max pooling, a concatenation of one type) gives its output the
  /// type of its quantized inputs: quantize(op(dequantize(q))) is then op(q)
  /// exactly, and fusion runs it on the stored values.
  static quant::QuantizedType getPropagatedType(Operation *op) {
    if (!op || !isa<tensor::CollapseShapeOp, tensor::ExpandShapeOp,
                    tensor::ExtractSliceOp, tensor::PadOp, tensor::ConcatOp,
                    linalg::TransposeOp, linalg::PoolingNhwcMaxOp,
                    linalg::PoolingNchwMaxOp>(op))
      return nullptr;
    ValueRange data = isa<tensor::ConcatOp>(op)
                          ? op->getOperands()
                          : op->getOperands().take_front();
    quant::QuantizedType common;
    for (Value operand : data) {
      auto dequantize = operand.getDefiningOp<DequantizeOp>();
      auto type = dequantize
                      ? dyn_cast<quant::UniformQuantizedType>(
                            dequantize.getInput().getType().getElementType())
                      : nullptr;
      if (!type || (common && type != common) ||
          !isExactRoundTrip(type, RoundingMode::HalfToEven))
        return nullptr;
      common = type;
    }
    return common;
  }

  /// Concatenated values must share one type: each input of another type
  /// is requantized to `type` (a quantize / dequantize pair that fusion
  /// turns into qnn.requantize).
  static void requantizeInputs(tensor::ConcatOp concat,
                               quant::QuantizedType type) {
    OpBuilder builder(concat);
    for (OpOperand &operand : concat->getOpOperands()) {
      auto dequantize = operand.get().getDefiningOp<DequantizeOp>();
      if (!dequantize ||
          dequantize.getInput().getType().getElementType() == type)
        continue;
      auto tensorType = cast<RankedTensorType>(operand.get().getType());
      auto quantize = QuantizeOp::create(builder, concat.getLoc(),
                                         tensorType.clone(type), operand.get());
      operand.set(
          DequantizeOp::create(builder, concat.getLoc(), tensorType, quantize));
    }
  }

  /// The matmuls and convolutions, in program order (collected first:
  /// quantizing them adds ops).
  static SmallVector<Operation *> getContractions(ModuleOp module) {
    SmallVector<Operation *> contractions;
    module.walk([&](Operation *op) {
      if (getWeightOperand(op))
        contractions.push_back(op);
    });
    return contractions;
  }

  LogicalResult quantizeWeights(ModuleOp module) {
    for (Operation *op : getContractions(module)) {
      LayerConfig config = getConfig(op, "");
      if (config.skip)
        continue;
      WeightOperand layout = *getWeightOperand(op);
      OpOperand &operand = op->getOpOperand(layout.operandIndex);
      auto constant = operand.get().getDefiningOp<arith::ConstantOp>();
      // Weights quantized already (a QDQ import, qnn-round-weights-gptq)
      // keep their integers; the parameters file still names their type.
      if (auto dequantize = operand.get().getDefiningOp<DequantizeOp>()) {
        if (matchPattern(dequantize.getInput(), m_Constant()))
          weightTypes.emplace_back(
              getLayerName(op),
              getElementTypeOrSelf(dequantize.getInput().getType()));
        continue;
      }
      std::optional<SmallVector<APFloat>> values =
          constant ? getFloatElements(constant.getValue()) : std::nullopt;
      if (!values) // Not known at compile time: an activation.
        continue;
      SmallVector<double> doubles =
          llvm::map_to_vector(*values, [](APFloat value) {
            bool losesInfo;
            value.convert(APFloat::IEEEdouble(), APFloat::rmNearestTiesToEven,
                          &losesInfo);
            return value.convertToDouble();
          });
      // A NaN has no quantized value (quantize would store the zero point
      // and the float program gives NaN), and an infinite weight or bias has
      // no finite scale: refuse them by name rather than compute garbage.
      auto notFinite = [](ArrayRef<double> values) {
        return llvm::find_if(values,
                             [](double v) { return !std::isfinite(v); });
      };
      auto name = [](double v) {
        return std::isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf";
      };
      if (auto it = notFinite(doubles); it != doubles.end())
        return op->emitError()
               << "weight " << (it - doubles.begin()) << " is " << name(*it)
               << ": non-finite weights cannot be quantized";
      if (std::optional<SmallVector<double>> bias = getConstantBias(op))
        if (auto it = notFinite(*bias); it != bias->end())
          return op->emitError()
                 << "bias " << (it - bias->begin()) << " is " << name(*it)
                 << ": a non-finite bias cannot be quantized";
      auto tensorType = cast<RankedTensorType>(constant.getType());
      quant::QuantizedType type =
          getWeightType(op, tensorType, doubles, layout, config.weights,
                        getBiasWidening(op, layout, config.weights.storage));
      if (!type)
        return failure();
      weightTypes.emplace_back(getLayerName(op), type);
      OpBuilder builder(op);
      // Folds into a qnn.constant: the weights are quantized here, once.
      Value quantized = builder.createOrFold<QuantizeOp>(
          constant.getLoc(), tensorType.clone(type), constant.getResult());
      Value dequantized = DequantizeOp::create(builder, constant.getLoc(),
                                               tensorType, quantized);
      operand.set(dequantized);
    }
    return success();
  }

  /// Dynamic layers: the activation input of each contraction with
  /// quantized constant weights, and both inputs of a matmul of two
  /// activations (attention's Q·Kᵀ and P·V), become dynamic_dequantize(
  /// dynamic_quantize(x)), their parameters per tensor or per row
  /// (docs/Semantics.md, "Dynamic quantization"); fusion turns them into
  /// integer contractions.
  LogicalResult quantizeDynamicInputs(ModuleOp module) {
    for (Operation *op : getContractions(module)) {
      LayerConfig config = getConfig(op, "");
      ActivationConfig activations = config.activations;
      WeightOperand layout = *getWeightOperand(op);
      if (config.skip || activations.dynamic == DynamicGranularity::Static)
        continue;
      SmallVector<unsigned> inputs;
      Value weights = op->getOperand(layout.operandIndex);
      unsigned activationIndex = layout.operandIndex == 0 ? 1 : 0;
      if (weights.getDefiningOp<DequantizeOp>())
        inputs.push_back(activationIndex);
      else if (isa<linalg::MatmulOp, linalg::BatchMatmulOp>(op) &&
               !matchPattern(weights, m_Constant()))
        inputs = {0, 1};
      if (inputs.empty())
        continue;
      const StorageSpec &storage = activations.storage;
      if (storage.symmetric && !storage.isSigned)
        return op->emitError()
               << "symmetric dynamic quantization needs signed activations "
                  "(set \"signed\": true or \"symmetric\": false)";
      bool allFloat = llvm::all_of(inputs, [&](unsigned index) {
        return getElementTypeOrSelf(op->getOperand(index).getType()).isF32();
      });
      if (!allFloat) {
        op->emitRemark() << "dynamic quantization needs f32 activations: the "
                            "inputs of '"
                         << op->getName() << "' stay float";
        continue;
      }
      DynamicGranularity granularity = activations.dynamic;
      for (unsigned index : inputs)
        if (granularity == DynamicGranularity::PerRow &&
            !getSingleReducedAxis(op, index)) {
          op->emitRemark() << "per-row dynamic quantization needs a "
                              "contraction that reduces one axis of its "
                              "input; '"
                           << op->getName() << "' is quantized per tensor";
          granularity = DynamicGranularity::PerTensor;
        }
      OpBuilder builder(op);
      for (unsigned index : inputs) {
        OpOperand &operand = op->getOpOperand(index);
        auto tensorType = cast<RankedTensorType>(operand.get().getType());
        // One parameter for all the indices of the reduced axis (per row:
        // each row of the left operand, each column of the right one), or
        // one for the whole tensor.
        SmallVector<int64_t> parameterShape(tensorType.getRank(), 1);
        if (granularity == DynamicGranularity::PerRow) {
          parameterShape.assign(tensorType.getShape().begin(),
                                tensorType.getShape().end());
          parameterShape[*getSingleReducedAxis(op, index)] = 1;
        }
        Location loc = operand.get().getLoc();
        Type f32 = builder.getF32Type(), i32 = builder.getI32Type();
        auto storedType =
            tensorType.clone(builder.getIntegerType(storage.bits));
        auto quantize = DynamicQuantizeOp::create(
            builder, loc, storedType,
            RankedTensorType::get(parameterShape, f32),
            RankedTensorType::get(parameterShape, i32), operand.get(),
            !storage.isSigned, storage.symmetric);
        operand.set(DynamicDequantizeOp::create(
            builder, loc, tensorType, quantize.getResult(), quantize.getScale(),
            quantize.getZeroPoint(), !storage.isSigned));
      }
      ActivationConfig recorded = activations;
      recorded.dynamic = granularity;
      dynamicInputs.emplace_back(getLayerName(op), recorded);
    }
    return success();
  }

  /// The axis of operand `index` of contraction `op` that it reduces, when
  /// it reduces exactly one and reads every axis by a loop dimension (a
  /// matmul's rows of its left operand and columns of its right one), so
  /// that one parameter per index of the other axes can be applied after
  /// the sum.
  static std::optional<int64_t> getSingleReducedAxis(Operation *op,
                                                     unsigned index) {
    auto linalgOp = dyn_cast<linalg::LinalgOp>(op);
    if (!linalgOp)
      return std::nullopt;
    AffineMap map = linalgOp.getIndexingMapsArray()[index];
    SmallVector<utils::IteratorType> iterators =
        linalgOp.getIteratorTypesArray();
    std::optional<int64_t> reduced;
    for (auto [axis, expr] : llvm::enumerate(map.getResults())) {
      auto dim = dyn_cast<AffineDimExpr>(expr);
      if (!dim)
        return std::nullopt;
      if (iterators[dim.getPosition()] != utils::IteratorType::reduction)
        continue;
      if (reduced)
        return std::nullopt;
      reduced = axis;
    }
    return reduced;
  }

  /// How far each output channel's weight range must reach so that the
  /// fused bias b / (s_x s_w) stays within 2^30 (docs/Calibration.md,
  /// "Weights and the bias"): R_c = |b_c| / (s_x 2^30) * (qmax - qmin) / 2
  /// gives s_w >= |b_c| / (s_x 2^30). Empty without a constant bias or a
  /// per-tensor quantized input.
  static SmallVector<double> getBiasWidening(Operation *op,
                                             const WeightOperand &layout,
                                             const StorageSpec &storage) {
    std::optional<SmallVector<double>> bias = getConstantBias(op);
    auto input = op->getOperand(layout.operandIndex == 0 ? 1 : 0)
                     .getDefiningOp<DequantizeOp>();
    if (!bias || !input)
      return {};
    auto inputType = dyn_cast<quant::UniformQuantizedType>(
        getElementTypeOrSelf(input.getInput().getType()));
    if (!inputType)
      return {};
    double levels = static_cast<double>(storage.getMax() - storage.getMin());
    return llvm::map_to_vector(*bias, [&](double b) {
      return std::abs(b) / (inputType.getScale() * 1073741824.0) * levels / 2;
    });
  }

  LayerConfig defaults;
  Recipe recipe;
  CalibrationStatistics statistics;
  // What was chosen, in program order, for the `parameters` file.
  SmallVector<std::pair<std::string, Type>> activationTypes, weightTypes;
  SmallVector<std::pair<std::string, ActivationConfig>> dynamicInputs;
};
} // namespace
