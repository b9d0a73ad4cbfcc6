//===- IntegerContractionsInF32.cpp - Exact integer sums on f32 units -----===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// A contraction of two 8-bit operands computed at run time (attention's
// Q·Kᵀ and P·V, dynamically or statically quantized) has no constant
// weights for qnn-microkernel-cpu to pack, and the generic strategy's
// integer code for it (i32 products, the zero points subtracted per
// element) ran 10x slower than the same matmul on floats. Its sum is
// computed on the f32 units instead, exactly:
//
//   Σ (a + o_a)(b + o_b) = Σ a·b + o_b·Σ a + o_a·Σ b + N·o_a·o_b
//
// in the accumulator's integer type (wrapping, as the op's own arithmetic,
// so the identity holds for any offsets o), where N is the number of
// reduction steps. Σ a·b is a float contraction of the converted operands:
// every product and partial sum is an integer of magnitude at most
// N·max|a|·max|b|, exact in f32 while that is at most 2^24 (N <= 258 for
// u8 x u8, 1024 for s8 x s8), so fptosi gives the integer sum exactly,
// whatever order the vectorized code adds in. Σ a and Σ b are i32 sums
// over the reduction; the four terms are added in one elementwise op. A
// constant offset (a static zero point) is added to its operand before the
// conversion instead, where the products stay exact with it: the static
// form then costs what the float matmul costs. So is a run-time offset
// whose range the IR bounds (dynamic quantization's zero point, clamped to
// [0, 255] in f32 before its fptosi): the sums are then exact for every
// value it can take at run time. Longer reductions are split
// into chunks that are each exact in f32 (attention over long sequences),
// converted, then summed in the accumulator's type.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Codegen/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/InferIntRangeInterface.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cmath>
#include <limits>

namespace mlir::qnn {
#define GEN_PASS_DEF_QNNINTEGERCONTRACTIONSINF32PASS
#include "quant-opt/Codegen/Passes.h.inc"
} // namespace mlir::qnn

using namespace mlir;

namespace {

/// A tensor of `sizes` x `type` filled with zeros (an accumulator's start).
Value buildZeroFilled(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                      Type type) {
  Value zero = arith::ConstantOp::create(b, loc, type, b.getZeroAttr(type));
  Value empty = tensor::EmptyOp::create(b, loc, sizes, type);
  return linalg::FillOp::create(b, loc, zero, empty).getResult(0);
}

/// `value` is a fill with zeros: the tensor it fills, else null.
Value getZeroFilledTensor(Value value) {
  auto fill = value.getDefiningOp<linalg::FillOp>();
  if (!fill || !(matchPattern(fill.getInputs()[0], m_AnyZeroFloat()) ||
                 matchPattern(fill.getInputs()[0], m_Zero())))
    return Value();
  return fill.getOutputs()[0];
}

/// Integers of magnitude up to 2^24 are exact in f32.
constexpr int64_t kExactF32Bound = int64_t(1) << 24;

/// The values an integer can take: [lo, hi].
struct Bounds {
  int64_t lo, hi;
};

/// The f32 values a float can take, NaN aside: [lo, hi].
struct FloatBounds {
  double lo, hi;
};

/// Bounds of every element of `tensor` (no further than `depth` ops back),
/// else none.
std::optional<Bounds> getElementBounds(Value tensor, unsigned depth);

/// Bounds of the f32 `value`, or NaN. Only ops that give NaN for a NaN
/// operand are followed (maximumf, minimumf, roundeven), so that NaN needs
/// no bounds of its own: the fptosi it reaches is poison for it.
FloatBounds getFloatBounds(Value value, unsigned depth) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  FloatBounds unbounded{-kInf, kInf};
  APFloat constant(0.0f);
  if (matchPattern(value, m_ConstantFloat(&constant)) && !constant.isNaN()) {
    double converted = constant.convertToDouble();
    return {converted, converted};
  }
  Operation *def = value.getDefiningOp();
  if (!def || depth == 0)
    return unbounded;
  if (isa<math::RoundEvenOp>(def)) {
    FloatBounds operand = getFloatBounds(def->getOperand(0), depth - 1);
    return {std::nearbyint(operand.lo), std::nearbyint(operand.hi)};
  }
  if (isa<arith::MaximumFOp, arith::MinimumFOp>(def)) {
    FloatBounds lhs = getFloatBounds(def->getOperand(0), depth - 1);
    FloatBounds rhs = getFloatBounds(def->getOperand(1), depth - 1);
    if (isa<arith::MaximumFOp>(def))
      return {std::max(lhs.lo, rhs.lo), std::max(lhs.hi, rhs.hi)};
    return {std::min(lhs.lo, rhs.lo), std::min(lhs.hi, rhs.hi)};
  }
  return unbounded;
}

/// Bounds of the integer `value`: its type's unless the IR narrows them.
Bounds getBounds(Value value, unsigned depth) {
  unsigned bits = cast<IntegerType>(value.getType()).getWidth();
  Bounds full = bits >= 64 ? Bounds{std::numeric_limits<int64_t>::min(),
                                    std::numeric_limits<int64_t>::max()}
                           : Bounds{-(int64_t(1) << (bits - 1)),
                                    (int64_t(1) << (bits - 1)) - 1};
  APInt constant;
  if (matchPattern(value, m_ConstantInt(&constant)) &&
      constant.getSignificantBits() <= 64) {
    int64_t signedValue = constant.getSExtValue();
    return {signedValue, signedValue};
  }
  if (depth == 0)
    return full;
  // An element of a tensor: a generic's input read in its body, or an
  // extract.
  if (auto argument = dyn_cast<BlockArgument>(value)) {
    auto generic =
        dyn_cast<linalg::GenericOp>(argument.getOwner()->getParentOp());
    if (generic && argument.getArgNumber() < generic.getNumDpsInputs())
      if (std::optional<Bounds> bounds = getElementBounds(
              generic.getDpsInputOperand(argument.getArgNumber())->get(),
              depth - 1))
        return *bounds;
    return full;
  }
  Operation *def = value.getDefiningOp();
  if (auto extract = dyn_cast<tensor::ExtractOp>(def)) {
    if (std::optional<Bounds> bounds =
            getElementBounds(extract.getTensor(), depth - 1))
      return *bounds;
    return full;
  }
  // fptosi rounds toward zero; NaN and values out of range are poison.
  if (isa<arith::FPToSIOp>(def)) {
    FloatBounds operand = getFloatBounds(def->getOperand(0), depth - 1);
    double lo = std::trunc(operand.lo), hi = std::trunc(operand.hi);
    // (Compared as doubles, where 2^63 - 1 rounds up: hi < 2^63.)
    if (lo >= double(full.lo) && hi < double(full.hi))
      return {int64_t(lo), int64_t(hi)};
    return full;
  }
  // Integer ops (extui, extsi, maxsi, minsi, ...): upstream's range
  // inference, on the bounds of their integer operands.
  auto inferable = dyn_cast<InferIntRangeInterface>(def);
  if (!inferable || bits > 64 || def->getNumResults() != 1 ||
      !llvm::all_of(def->getOperandTypes(), llvm::IsaPred<IntegerType>))
    return full;
  SmallVector<ConstantIntRanges> operandRanges;
  for (Value operand : def->getOperands()) {
    Bounds operandBounds = getBounds(operand, depth - 1);
    unsigned width = cast<IntegerType>(operand.getType()).getWidth();
    if (width > 64)
      return full;
    operandRanges.push_back(ConstantIntRanges::fromSigned(
        APInt(width, operandBounds.lo, /*isSigned=*/true),
        APInt(width, operandBounds.hi, /*isSigned=*/true)));
  }
  std::optional<ConstantIntRanges> range;
  inferable.inferResultRanges(
      operandRanges, [&](Value result, const ConstantIntRanges &inferred) {
        if (result == value)
          range = inferred;
      });
  if (!range)
    return full;
  return {range->smin().getSExtValue(), range->smax().getSExtValue()};
}

std::optional<Bounds> getElementBounds(Value tensor, unsigned depth) {
  if (depth == 0)
    return std::nullopt;
  if (auto fill = tensor.getDefiningOp<linalg::FillOp>()) {
    if (!isa<IntegerType>(fill.getInputs()[0].getType()))
      return std::nullopt;
    return getBounds(fill.getInputs()[0], depth - 1);
  }
  // Every element of a parallel generic's result is one of its yields.
  auto generic = tensor.getDefiningOp<linalg::GenericOp>();
  if (!generic || generic.getNumParallelLoops() != generic.getNumLoops())
    return std::nullopt;
  unsigned result = cast<OpResult>(tensor).getResultNumber();
  if (!generic.getIndexingMapsArray()[generic.getNumDpsInputs() + result]
           .isPermutation())
    return std::nullopt;
  Value yielded =
      generic.getRegion().front().getTerminator()->getOperand(result);
  if (!isa<IntegerType>(yielded.getType()))
    return std::nullopt;
  return getBounds(yielded, depth - 1);
}

/// How far back offset bounds are looked for: dynamic quantization's zero
/// point is fptosi(roundeven(min(max(x, 0), 255))), read as a tensor.
constexpr unsigned kBoundsDepth = 8;

/// One factor of the product: ext(input) + offset.
struct Factor {
  /// The input operand extended.
  OpOperand *input = nullptr;
  bool isSigned = false;
  /// The offset added (a zero point, negated where it is subtracted):
  /// none, a value defined above the op, or a block argument of an input
  /// read along output loops only.
  Value offset;
  bool negateOffset = false;
  /// The ops of the factor in the body.
  SmallVector<Operation *, 2> ops;
  /// Bounds of the offset added (negated where subtracted), where it can
  /// be added to the operand before its conversion to f32: a constant, or
  /// a bounded value the conversion can read (defined above the op, or a
  /// tensor read along loops of the operand's).
  std::optional<Bounds> offsetBounds;
  /// Such an offset read from a tensor: the tensor, and the map that reads
  /// it from the operand's dimensions.
  Value offsetTensor;
  AffineMap offsetMapInInput;
  /// Whether the offset is added to the operand before its conversion to
  /// f32 (then it is no longer an offset of the sum).
  bool folded = false;

  /// The offset as a compile-time integer (negated where subtracted).
  std::optional<int64_t> getConstantOffset() const {
    APInt value;
    if (!offset || !matchPattern(offset, m_ConstantInt(&value)))
      return std::nullopt;
    int64_t signedValue = value.getSExtValue();
    return negateOffset ? -signedValue : signedValue;
  }
  /// The offset the combination adds: none where folded.
  Value getResidualOffset() const { return folded ? Value() : offset; }
  /// max |ext(input)| over the input's element type, plus the offset (any
  /// value it may take) when folded.
  int64_t magnitude(bool withOffset) const {
    unsigned bits =
        getElementTypeOrSelf(input->get().getType()).getIntOrFloatBitWidth();
    int64_t lo = isSigned ? -(int64_t(1) << (bits - 1)) : 0;
    int64_t hi =
        isSigned ? (int64_t(1) << (bits - 1)) - 1 : (int64_t(1) << bits) - 1;
    if (withOffset) {
      lo += offsetBounds->lo;
      hi += offsetBounds->hi;
    }
    return std::max(std::abs(lo), std::abs(hi));
  }
};

/// ext(element) in `type`, plus the factor's offset where it is folded
/// (`offsetElement`: the offset tensor's element, where it is read from
/// one).
Value getElement(OpBuilder &b, Location loc, const Factor &factor,
                 Value element, Type type, Value offsetElement = Value()) {
  Value extended =
      factor.isSigned
          ? arith::ExtSIOp::create(b, loc, type, element).getResult()
          : arith::ExtUIOp::create(b, loc, type, element).getResult();
  if (!factor.folded)
    return extended;
  if (std::optional<int64_t> constant = factor.getConstantOffset()) {
    if (*constant == 0)
      return extended;
    Value offset =
        arith::ConstantOp::create(b, loc, b.getIntegerAttr(type, *constant));
    return arith::AddIOp::create(b, loc, extended, offset);
  }
  Value offset = factor.offsetTensor ? offsetElement : factor.offset;
  if (factor.negateOffset)
    return arith::SubIOp::create(b, loc, extended, offset);
  return arith::AddIOp::create(b, loc, extended, offset);
}

/// The offset tensor of a factor folded into its operand, as an input of
/// an op over the operand's dimensions: appended to `inputs` and `maps`.
void appendFoldedOffsetInput(const Factor &factor,
                             SmallVectorImpl<Value> &inputs,
                             SmallVectorImpl<AffineMap> &maps) {
  if (!factor.folded || !factor.offsetTensor)
    return;
  inputs.push_back(factor.offsetTensor);
  maps.push_back(factor.offsetMapInInput);
}

/// Whether `map` reads along no reduction loop of `op`.
bool readsOutputLoopsOnly(linalg::GenericOp op, AffineMap map) {
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  for (unsigned loop = 0; loop < iterators.size(); ++loop)
    if (iterators[loop] == utils::IteratorType::reduction &&
        map.isFunctionOfDim(loop))
      return false;
  return true;
}

/// Matches `value` as ext(an 8-bit input) [+ or - an offset].
std::optional<Factor> matchFactor(linalg::GenericOp op, Value value,
                                  Type accumulatorType) {
  Factor factor;
  Block &body = op.getRegion().front();
  Operation *def = value.getDefiningOp();
  if (!def || def->getBlock() != &body)
    return std::nullopt;
  // The offset: a value the op does not compute per reduction step.
  auto isOffset = [&](Value candidate) {
    if (candidate.getType() != accumulatorType)
      return false;
    auto argument = dyn_cast<BlockArgument>(candidate);
    if (!argument)
      return candidate.getParentRegion() != &op.getRegion();
    if (argument.getOwner() != &body ||
        argument.getArgNumber() >= op.getNumDpsInputs())
      return false;
    OpOperand *operand = op.getDpsInputOperand(argument.getArgNumber());
    return readsOutputLoopsOnly(op, op.getMatchingIndexingMap(operand));
  };
  Value extended = value;
  if (isa<arith::AddIOp, arith::SubIOp>(def)) {
    Value lhs = def->getOperand(0), rhs = def->getOperand(1);
    if (isOffset(rhs)) {
      extended = lhs;
      factor.offset = rhs;
      factor.negateOffset = isa<arith::SubIOp>(def);
    } else if (isa<arith::AddIOp>(def) && isOffset(lhs)) {
      extended = rhs;
      factor.offset = lhs;
    } else {
      return std::nullopt;
    }
    factor.ops.push_back(def);
  }
  Operation *ext = extended.getDefiningOp();
  if (!ext || !isa<arith::ExtSIOp, arith::ExtUIOp>(ext) ||
      ext->getBlock() != &body ||
      ext->getResult(0).getType() != accumulatorType)
    return std::nullopt;
  factor.isSigned = isa<arith::ExtSIOp>(ext);
  auto argument = dyn_cast<BlockArgument>(ext->getOperand(0));
  if (!argument || argument.getOwner() != &body ||
      argument.getArgNumber() >= op.getNumDpsInputs() ||
      argument.getType().getIntOrFloatBitWidth() > 8)
    return std::nullopt;
  factor.input = op.getDpsInputOperand(argument.getArgNumber());
  factor.ops.push_back(ext);
  return factor;
}

/// Sets `factor`'s offset bounds where its offset can be added to the
/// operand before the conversion: the offset's values are bounded, and it
/// is a value or a tensor read along the operand's loops (not another
/// output loop).
void findFoldableOffset(linalg::GenericOp op, Factor &factor) {
  if (!factor.offset)
    return;
  MLIRContext *context = op.getContext();
  Bounds bounds;
  if (auto argument = dyn_cast<BlockArgument>(factor.offset)) {
    OpOperand *operand = op.getDpsInputOperand(argument.getArgNumber());
    AffineMap inputMap = op.getMatchingIndexingMap(factor.input);
    SmallVector<AffineExpr> results;
    for (AffineExpr expr : op.getMatchingIndexingMap(operand).getResults()) {
      std::optional<unsigned> position = isa<AffineDimExpr>(expr)
                                             ? inputMap.getResultPosition(expr)
                                             : std::nullopt;
      if (!position)
        return;
      results.push_back(getAffineDimExpr(*position, context));
    }
    std::optional<Bounds> elementBounds =
        getElementBounds(operand->get(), kBoundsDepth);
    if (!elementBounds)
      return;
    bounds = *elementBounds;
    factor.offsetTensor = operand->get();
    factor.offsetMapInInput =
        AffineMap::get(inputMap.getNumResults(), 0, results, context);
  } else {
    bounds = getBounds(factor.offset, kBoundsDepth);
  }
  // An offset this large never keeps the f32 sums exact; the limit keeps
  // the magnitudes' products in int64.
  constexpr int64_t kLimit = int64_t(1) << 32;
  if (bounds.lo < -kLimit || bounds.hi > kLimit)
    return;
  factor.offsetBounds =
      factor.negateOffset ? Bounds{-bounds.hi, -bounds.lo} : bounds;
}

/// The loops of `map`'s results that are loops of the output, as positions
/// in the output map.
SmallVector<unsigned> getOutputPositions(AffineMap map, AffineMap outputMap) {
  SmallVector<unsigned> positions;
  for (AffineExpr expr : outputMap.getResults()) {
    unsigned loop = cast<AffineDimExpr>(expr).getPosition();
    if (map.isFunctionOfDim(loop))
      positions.push_back(*outputMap.getResultPosition(
          getAffineDimExpr(loop, map.getContext())));
  }
  return positions;
}

/// `map` (from the op's loops) as a map from the output's dimensions.
AffineMap inOutputDims(AffineMap map, AffineMap outputMap) {
  SmallVector<AffineExpr> results;
  for (AffineExpr expr : map.getResults())
    results.push_back(
        getAffineDimExpr(*outputMap.getResultPosition(expr), map.getContext()));
  return AffineMap::get(outputMap.getNumResults(), 0, results,
                        map.getContext());
}

/// The largest divisor of the op's one reduction loop (static) of at most
/// `maxSteps` and at least 16 steps, if any: a chunk whose f32 sums are
/// exact.
std::optional<int64_t> getChunkSize(linalg::GenericOp op, int64_t maxSteps) {
  if (op.getNumReductionLoops() != 1)
    return std::nullopt;
  SmallVector<unsigned> reductions;
  op.getReductionDims(reductions);
  int64_t steps = op.getStaticLoopRanges()[reductions.front()];
  for (int64_t size = std::min(maxSteps, steps / 2); size >= 16; --size)
    if (steps % size == 0)
      return size;
  return std::nullopt;
}

/// The loops of the chunked contraction: the chunk index first (so that
/// the output's loops keep their order, innermost last), then the op's
/// other loops in order, then the step within the chunk.
AffineExpr getChunkedLoop(OpBuilder &b, unsigned loop, unsigned reductionLoop) {
  return b.getAffineDimExpr(loop < reductionLoop ? loop + 1 : loop);
}

/// `map` (from the op's loops, the reduction loop not among its results)
/// as a map from the chunked contraction's loops.
AffineMap getChunkedMap(OpBuilder &b, AffineMap map, unsigned reductionLoop,
                        ArrayRef<AffineExpr> leading = {}) {
  SmallVector<AffineExpr> results(leading);
  for (AffineExpr expr : map.getResults())
    results.push_back(getChunkedLoop(b, cast<AffineDimExpr>(expr).getPosition(),
                                     reductionLoop));
  return AffineMap::get(map.getNumDims() + 1, 0, results, b.getContext());
}

/// `operand` (read with `map`) with the reduction loop's dimension split
/// into (chunks, chunk), and the map from the chunked contraction's loops.
std::pair<Value, AffineMap> splitReductionDim(OpBuilder &b, Location loc,
                                              Value operand, AffineMap map,
                                              unsigned reductionLoop,
                                              int64_t chunk) {
  auto type = cast<RankedTensorType>(operand.getType());
  unsigned numLoops = map.getNumDims() + 1;
  SmallVector<int64_t> shape;
  SmallVector<ReassociationIndices> groups;
  SmallVector<AffineExpr> results;
  for (auto [position, expr] : llvm::enumerate(map.getResults())) {
    int64_t size = type.getDimSize(position);
    unsigned loop = cast<AffineDimExpr>(expr).getPosition();
    if (loop != reductionLoop) {
      groups.push_back({int64_t(shape.size())});
      shape.push_back(size);
      results.push_back(getChunkedLoop(b, loop, reductionLoop));
      continue;
    }
    groups.push_back({int64_t(shape.size()), int64_t(shape.size()) + 1});
    shape.push_back(size / chunk);
    shape.push_back(chunk);
    results.push_back(b.getAffineDimExpr(0));
    results.push_back(b.getAffineDimExpr(numLoops - 1));
  }
  Value split = tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get(shape, type.getElementType()), operand,
      groups);
  return {split, AffineMap::get(numLoops, 0, results, b.getContext())};
}

/// Σ a·b over chunks of the reduction: per chunk an exact f32 sum (the
/// chunk index a parallel loop, its sums an extra first dimension of the
/// output), converted and summed over the chunks in `accumulatorType`.
Value buildChunkedProducts(
    OpBuilder &b, Location loc, linalg::GenericOp op, int64_t chunk, Value aF32,
    AffineMap aMap, Value bF32, AffineMap bMap,
    ArrayRef<OpFoldResult> outputSizes, Type accumulatorType,
    function_ref<void(OpBuilder &, Location, ValueRange)> multiplyAdd) {
  SmallVector<unsigned> reductions;
  op.getReductionDims(reductions);
  unsigned reductionLoop = reductions.front();
  int64_t chunks = op.getStaticLoopRanges()[reductionLoop] / chunk;
  auto [aSplit, aSplitMap] =
      splitReductionDim(b, loc, aF32, aMap, reductionLoop, chunk);
  auto [bSplit, bSplitMap] =
      splitReductionDim(b, loc, bF32, bMap, reductionLoop, chunk);
  AffineMap outputMap = op.getIndexingMapsArray().back();
  // The chunk index outermost: the output's innermost dimension stays the
  // partial sums' (the vectors').
  AffineMap partialMap =
      getChunkedMap(b, outputMap, reductionLoop, {b.getAffineDimExpr(0)});
  SmallVector<utils::IteratorType> iterators{utils::IteratorType::parallel};
  for (auto [loop, iterator] : llvm::enumerate(op.getIteratorTypesArray()))
    if (loop != reductionLoop)
      iterators.push_back(iterator);
  iterators.push_back(utils::IteratorType::reduction);

  SmallVector<OpFoldResult> partialSizes{b.getIndexAttr(chunks)};
  llvm::append_range(partialSizes, outputSizes);
  Value partialInit = buildZeroFilled(b, loc, partialSizes, b.getF32Type());
  Value partials =
      linalg::GenericOp::create(
          b, loc, partialInit.getType(), ValueRange{aSplit, bSplit},
          partialInit, ArrayRef<AffineMap>{aSplitMap, bSplitMap, partialMap},
          iterators, multiplyAdd)
          .getResult(0);

  unsigned rank = outputSizes.size();
  Value sumInit = buildZeroFilled(b, loc, outputSizes, accumulatorType);
  SmallVector<utils::IteratorType> sumIterators{utils::IteratorType::reduction};
  sumIterators.append(rank, utils::IteratorType::parallel);
  AffineMap all = b.getMultiDimIdentityMap(rank + 1);
  SmallVector<AffineExpr> outerResults;
  for (unsigned dim = 1; dim <= rank; ++dim)
    outerResults.push_back(b.getAffineDimExpr(dim));
  AffineMap outer = AffineMap::get(rank + 1, 0, outerResults, b.getContext());
  return linalg::GenericOp::create(
             b, loc, sumInit.getType(), partials, sumInit,
             ArrayRef<AffineMap>{all, outer}, sumIterators,
             [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
               Value exact = arith::FPToSIOp::create(nested, nestedLoc,
                                                     accumulatorType, args[0]);
               linalg::YieldOp::create(
                   nested, nestedLoc,
                   arith::AddIOp::create(nested, nestedLoc, args[1], exact)
                       .getResult());
             })
      .getResult(0);
}

struct IntegerContractionInF32 : OpRewritePattern<linalg::GenericOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(linalg::GenericOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.hasPureTensorSemantics() || op.getNumDpsInits() != 1 ||
        op.getNumReductionLoops() == 0)
      return failure();
    OpOperand *init = op.getDpsInitOperand(0);
    auto accumulatorType =
        dyn_cast<IntegerType>(getElementTypeOrSelf(init->get().getType()));
    AffineMap outputMap = op.getMatchingIndexingMap(init);
    if (!accumulatorType || accumulatorType.getWidth() < 32 ||
        !outputMap.isProjectedPermutation(/*allowZeroInResults=*/false))
      return failure();

    // yield acc + (ext(a) + o_a) * (ext(b) + o_b), nothing else.
    Block &body = op.getRegion().front();
    Value accumulator = body.getArguments().back();
    Operation *add = body.getTerminator()->getOperand(0).getDefiningOp();
    if (!isa_and_nonnull<arith::AddIOp>(add))
      return failure();
    Value product = add->getOperand(0) == accumulator   ? add->getOperand(1)
                    : add->getOperand(1) == accumulator ? add->getOperand(0)
                                                        : Value();
    auto mul = product ? product.getDefiningOp<arith::MulIOp>() : nullptr;
    if (!mul || mul->getBlock() != &body)
      return failure();
    std::optional<Factor> a = matchFactor(op, mul.getLhs(), accumulatorType);
    std::optional<Factor> b = matchFactor(op, mul.getRhs(), accumulatorType);
    if (!a || !b || a->input == b->input)
      return failure();
    size_t opsMatched = 2 + a->ops.size() + b->ops.size();
    if (body.getOperations().size() != opsMatched + 1) // and the yield
      return failure();
    // Constant weights are qnn-microkernel-cpu's (packed at compile time).
    for (Factor *factor : {&*a, &*b})
      if (matchPattern(factor->input->get(), m_Constant()))
        return rewriter.notifyMatchFailure(op, "an operand is constant");
    for (Factor *factor : {&*a, &*b}) {
      AffineMap map = op.getMatchingIndexingMap(factor->input);
      if (!map.isProjectedPermutation(/*allowZeroInResults=*/false))
        return failure();
      // Each reduction loop reads both operands, so Σ a is a sum of a's
      // own elements.
      for (auto [loop, iterator] : llvm::enumerate(op.getIteratorTypesArray()))
        if (iterator == utils::IteratorType::reduction &&
            !map.isFunctionOfDim(loop))
          return failure();
    }
    int64_t steps = 1;
    SmallVector<int64_t> ranges = op.getStaticLoopRanges();
    for (auto [range, iterator] :
         llvm::zip(ranges, op.getIteratorTypesArray())) {
      if (iterator != utils::IteratorType::reduction)
        continue;
      if (ShapedType::isDynamic(range))
        return rewriter.notifyMatchFailure(op, "dynamic reduction size");
      steps *= range;
    }
    // Bounded offsets (a static zero point, or a dynamic one clamped to
    // [0, 255]) are added to the operands before the conversion where the
    // products stay exact for every value they may take: the sums and the
    // combination's terms are then not needed. (The offsets are at most
    // 2^32 in magnitude and the operands 8-bit: no overflow below.)
    findFoldableOffset(op, *a);
    findFoldableOffset(op, *b);
    auto fits = [&](bool foldA, bool foldB) {
      int64_t product = a->magnitude(foldA) * b->magnitude(foldB);
      return product == 0 || steps <= kExactF32Bound / product;
    };
    bool canFoldA = a->offsetBounds.has_value();
    bool canFoldB = b->offsetBounds.has_value();
    // Too many steps for one exact f32 sum: the reduction is split into
    // chunks of at most `chunk` steps, each summed in f32 and converted,
    // the chunks then summed in the accumulator's type.
    std::optional<int64_t> chunk;
    if (canFoldA && canFoldB && fits(true, true)) {
      a->folded = b->folded = true;
    } else if (canFoldA && fits(true, false)) {
      a->folded = true;
    } else if (canFoldB && fits(false, true)) {
      b->folded = true;
    } else if (!fits(false, false)) {
      // A constant offset is folded where it does not make its operand
      // larger.
      a->folded = canFoldA && a->magnitude(true) <= a->magnitude(false);
      b->folded = canFoldB && b->magnitude(true) <= b->magnitude(false);
      int64_t product = a->magnitude(a->folded) * b->magnitude(b->folded);
      chunk = getChunkSize(op, kExactF32Bound / product);
      if (!chunk)
        return rewriter.notifyMatchFailure(
            op, "sums not exact in f32, and no chunk of the reduction is");
    }

    Location loc = op.getLoc();
    Type f32 = rewriter.getF32Type();
    SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
    unsigned outputRank = outputMap.getNumResults();
    SmallVector<OpFoldResult> outputSizes =
        tensor::getMixedSizes(rewriter, loc, init->get());

    // The operand as f32, element by element.
    auto toF32 = [&](const Factor &factor) -> Value {
      Value input = factor.input->get();
      auto type = cast<RankedTensorType>(input.getType());
      Value empty = tensor::EmptyOp::create(
          rewriter, loc, tensor::getMixedSizes(rewriter, loc, input), f32);
      AffineMap identity = rewriter.getMultiDimIdentityMap(type.getRank());
      SmallVector<Value> inputs{input};
      SmallVector<AffineMap> maps{identity};
      appendFoldedOffsetInput(factor, inputs, maps);
      maps.push_back(identity);
      return linalg::GenericOp::create(
                 rewriter, loc, empty.getType(), inputs, empty, maps,
                 SmallVector<utils::IteratorType>(
                     type.getRank(), utils::IteratorType::parallel),
                 [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
                   Value converted;
                   if (factor.folded) {
                     Value shifted =
                         getElement(nested, nestedLoc, factor, args[0],
                                    accumulatorType, args[1]);
                     converted = arith::SIToFPOp::create(nested, nestedLoc, f32,
                                                         shifted);
                   } else if (factor.isSigned) {
                     converted = arith::SIToFPOp::create(nested, nestedLoc, f32,
                                                         args[0]);
                   } else {
                     converted = arith::UIToFPOp::create(nested, nestedLoc, f32,
                                                         args[0]);
                   }
                   linalg::YieldOp::create(nested, nestedLoc, converted);
                 })
          .getResult(0);
    };
    Value aF32 = toF32(*a);
    Value bF32 = toF32(*b);
    Value productInit = buildZeroFilled(rewriter, loc, outputSizes, f32);
    auto multiplyAdd = [](OpBuilder &nested, Location nestedLoc,
                          ValueRange args) {
      Value mulf = arith::MulFOp::create(nested, nestedLoc, args[0], args[1]);
      linalg::YieldOp::create(
          nested, nestedLoc,
          arith::AddFOp::create(nested, nestedLoc, args[2], mulf).getResult());
    };
    // Σ a·b: f32, or (chunked) already the accumulator's integer.
    Value products;
    if (!chunk) {
      products = linalg::GenericOp::create(
                     rewriter, loc, productInit.getType(),
                     ValueRange{aF32, bF32}, productInit,
                     ArrayRef<AffineMap>{op.getMatchingIndexingMap(a->input),
                                         op.getMatchingIndexingMap(b->input),
                                         outputMap},
                     iterators, multiplyAdd)
                     .getResult(0);
    } else {
      products = buildChunkedProducts(
          rewriter, loc, op, *chunk, aF32, op.getMatchingIndexingMap(a->input),
          bF32, op.getMatchingIndexingMap(b->input), outputSizes,
          accumulatorType, multiplyAdd);
    }

    // Σ ext(input) over the reduction, indexed by the output loops the
    // input reads: a generic over the input's own loops.
    auto sumOverReduction = [&](const Factor &factor) -> Value {
      AffineMap map = op.getMatchingIndexingMap(factor.input);
      // The input's loops, renumbered in the order of its dimensions.
      SmallVector<unsigned> loops;
      for (AffineExpr expr : map.getResults())
        loops.push_back(cast<AffineDimExpr>(expr).getPosition());
      auto renumber = [&](unsigned loop) {
        return rewriter.getAffineDimExpr(llvm::find(loops, loop) -
                                         loops.begin());
      };
      SmallVector<AffineExpr> sumResults;
      SmallVector<OpFoldResult> sumSizes;
      for (unsigned position : getOutputPositions(map, outputMap)) {
        unsigned loop =
            cast<AffineDimExpr>(outputMap.getResult(position)).getPosition();
        sumResults.push_back(renumber(loop));
        sumSizes.push_back(outputSizes[position]);
      }
      SmallVector<utils::IteratorType> sumIterators;
      for (unsigned loop : loops)
        sumIterators.push_back(iterators[loop]);
      AffineMap inputMap = rewriter.getMultiDimIdentityMap(loops.size());
      AffineMap sumMap =
          AffineMap::get(loops.size(), 0, sumResults, rewriter.getContext());
      Value sumInit = buildZeroFilled(rewriter, loc, sumSizes, accumulatorType);
      SmallVector<Value> sumInputs{factor.input->get()};
      SmallVector<AffineMap> sumMaps{inputMap};
      appendFoldedOffsetInput(factor, sumInputs, sumMaps);
      sumMaps.push_back(sumMap);
      return linalg::GenericOp::create(
                 rewriter, loc, sumInit.getType(), sumInputs, sumInit, sumMaps,
                 sumIterators,
                 [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
                   Value extended =
                       getElement(nested, nestedLoc, factor, args[0],
                                  accumulatorType, args[1]);
                   linalg::YieldOp::create(
                       nested, nestedLoc,
                       arith::AddIOp::create(nested, nestedLoc, args.back(),
                                             extended)
                           .getResult());
                 })
          .getResult(0);
    };

    // The combination, over the output's dimensions: its inputs (the
    // products, the sums the offsets need, the offsets read from tensors)
    // and the map each is read with.
    SmallVector<Value> inputs{products};
    AffineMap identity = rewriter.getMultiDimIdentityMap(outputRank);
    SmallVector<AffineMap> maps{identity};
    auto addInput = [&](Value value, AffineMap map) {
      inputs.push_back(value);
      maps.push_back(map);
      return inputs.size() - 1;
    };
    auto sumMapInOutput = [&](const Factor &factor) {
      SmallVector<AffineExpr> results;
      for (unsigned position : getOutputPositions(
               op.getMatchingIndexingMap(factor.input), outputMap))
        results.push_back(rewriter.getAffineDimExpr(position));
      return AffineMap::get(outputRank, 0, results, rewriter.getContext());
    };
    // o_b·Σ a needs Σ a, and o_a·Σ b needs Σ b (a and b with their folded
    // offsets).
    std::optional<size_t> sumA, sumB;
    if (b->getResidualOffset())
      sumA = addInput(sumOverReduction(*a), sumMapInOutput(*a));
    if (a->getResidualOffset())
      sumB = addInput(sumOverReduction(*b), sumMapInOutput(*b));
    // An offset read from a tensor is an input of the combination too.
    auto offsetInput = [&](const Factor &factor) -> std::optional<size_t> {
      auto argument =
          dyn_cast_or_null<BlockArgument>(factor.getResidualOffset());
      if (!argument)
        return std::nullopt;
      OpOperand *operand = op.getDpsInputOperand(argument.getArgNumber());
      return addInput(
          operand->get(),
          inOutputDims(op.getMatchingIndexingMap(operand), outputMap));
    };
    std::optional<size_t> offsetA = offsetInput(*a);
    std::optional<size_t> offsetB = offsetInput(*b);
    // The sum starts from the op's init, unless that is zeros (a fresh
    // accumulator): the combination then only writes its output.
    Value zeroFilled = getZeroFilledTensor(init->get());
    Value combinedInit = zeroFilled ? zeroFilled : init->get();
    maps.push_back(identity);

    auto combined = linalg::GenericOp::create(
        rewriter, loc, op.getResultTypes(), inputs, combinedInit, maps,
        SmallVector<utils::IteratorType>(outputRank,
                                         utils::IteratorType::parallel),
        [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
          auto offset = [&](const Factor &factor,
                            std::optional<size_t> input) -> Value {
            Value value = input ? args[*input] : factor.offset;
            if (!factor.negateOffset)
              return value;
            Value zero = arith::ConstantOp::create(
                nested, nestedLoc, accumulatorType,
                nested.getIntegerAttr(accumulatorType, 0));
            return arith::SubIOp::create(nested, nestedLoc, zero, value);
          };
          Value sum = chunk ? args[0]
                            : arith::FPToSIOp::create(nested, nestedLoc,
                                                      accumulatorType, args[0])
                                  .getResult();
          if (!zeroFilled)
            sum = arith::AddIOp::create(nested, nestedLoc, args.back(), sum);
          Value oA = a->getResidualOffset() ? offset(*a, offsetA) : Value();
          Value oB = b->getResidualOffset() ? offset(*b, offsetB) : Value();
          if (oB) {
            Value term =
                arith::MulIOp::create(nested, nestedLoc, oB, args[*sumA]);
            sum = arith::AddIOp::create(nested, nestedLoc, sum, term);
          }
          if (oA) {
            Value term =
                arith::MulIOp::create(nested, nestedLoc, oA, args[*sumB]);
            sum = arith::AddIOp::create(nested, nestedLoc, sum, term);
          }
          if (oA && oB) {
            Value count = arith::ConstantOp::create(
                nested, nestedLoc, accumulatorType,
                nested.getIntegerAttr(accumulatorType, steps));
            Value both = arith::MulIOp::create(nested, nestedLoc, oA, oB);
            Value term = arith::MulIOp::create(nested, nestedLoc, count, both);
            sum = arith::AddIOp::create(nested, nestedLoc, sum, term);
          }
          linalg::YieldOp::create(nested, nestedLoc, sum);
        });
    rewriter.replaceOp(op, combined.getResults());
    fuseIntoElementwiseUser(rewriter, combined);
    for (Value converted : {aF32, bF32})
      fuseIntoElementwiseProducer(rewriter,
                                  converted.getDefiningOp<linalg::GenericOp>());
    return success();
  }

  /// An operand's conversion to f32 fused into the op that computes the
  /// operand where that op is elementwise and the conversion its only user
  /// (attention's probabilities, quantized by the softmax's last op): that
  /// op then writes the f32 values the contraction reads, instead of 8-bit
  /// ones that another pass over memory reads and converts.
  static void fuseIntoElementwiseProducer(PatternRewriter &rewriter,
                                          linalg::GenericOp conversion) {
    // Through a collapse of the producer's result (attention's heads
    // folded into the batch): the conversion of the uncollapsed tensor,
    // then the collapse, which is the same elements in the same order.
    // (A folded offset it reads must be the same for every element: rank
    // 0.)
    auto readsScalarsOnly = [&] {
      return llvm::all_of(
          llvm::drop_begin(conversion.getDpsInputs()), [](Value input) {
            return cast<RankedTensorType>(input.getType()).getRank() == 0;
          });
    };
    if (auto collapse = conversion.getDpsInputOperand(0)
                            ->get()
                            .getDefiningOp<tensor::CollapseShapeOp>();
        collapse && collapse->hasOneUse() &&
        collapse.getSrc().getDefiningOp<linalg::GenericOp>() &&
        readsScalarsOnly())
      conversion = convertBeforeCollapse(rewriter, conversion, collapse);
    OpOperand *operand = conversion.getDpsInputOperand(0);
    auto producer = operand->get().getDefiningOp<linalg::GenericOp>();
    if (!producer || producer->getNumResults() != 1 ||
        !operand->get().hasOneUse() ||
        producer.getNumParallelLoops() != producer.getNumLoops() ||
        !linalg::areElementwiseOpsFusable(operand))
      return;
    rewriter.setInsertionPoint(conversion);
    FailureOr<linalg::ElementwiseOpFusionResult> fused =
        linalg::fuseElementwiseOps(rewriter, operand);
    if (failed(fused))
      return;
    // The producer's layer (the softmax) computes it: --profile names it.
    fused->fusedOp->setLoc(producer->getLoc());
    for (auto [original, replacement] : fused->replacements)
      rewriter.replaceUsesWithIf(original, replacement, [&](OpOperand &use) {
        return use.getOwner() != producer;
      });
    rewriter.eraseOp(conversion);
    rewriter.eraseOp(producer);
  }

  /// `conversion` (elementwise, identity maps, other inputs of rank 0) of
  /// `collapse`'s result as the same conversion of its source, collapsed;
  /// returns the new conversion.
  static linalg::GenericOp
  convertBeforeCollapse(PatternRewriter &rewriter, linalg::GenericOp conversion,
                        tensor::CollapseShapeOp collapse) {
    Location loc = conversion.getLoc();
    Value source = collapse.getSrc();
    auto sourceType = cast<RankedTensorType>(source.getType());
    Type f32 = getElementTypeOrSelf(conversion->getResult(0).getType());
    rewriter.setInsertionPoint(conversion);
    Value empty = tensor::EmptyOp::create(
        rewriter, loc, tensor::getMixedSizes(rewriter, loc, source), f32);
    AffineMap identity = rewriter.getMultiDimIdentityMap(sourceType.getRank());
    SmallVector<Value> inputs{source};
    SmallVector<AffineMap> maps{identity};
    SmallVector<Value> conversionInputs = conversion.getDpsInputs();
    for (Value scalar : llvm::drop_begin(conversionInputs)) {
      inputs.push_back(scalar);
      maps.push_back(
          AffineMap::get(sourceType.getRank(), 0, {}, rewriter.getContext()));
    }
    maps.push_back(identity);
    auto uncollapsed = linalg::GenericOp::create(
        rewriter, loc, empty.getType(), inputs, empty, maps,
        SmallVector<utils::IteratorType>(sourceType.getRank(),
                                         utils::IteratorType::parallel));
    rewriter.cloneRegionBefore(conversion.getRegion(), uncollapsed.getRegion(),
                               uncollapsed.getRegion().end());
    Value collapsed = tensor::CollapseShapeOp::create(
        rewriter, loc, conversion->getResult(0).getType(),
        uncollapsed->getResult(0), collapse.getReassociationIndices());
    rewriter.replaceOp(conversion, collapsed);
    rewriter.eraseOp(collapse);
    return uncollapsed;
  }

  /// The combination fused into its one user where that is elementwise
  /// over the same elements (a requantization, or requantization and
  /// dequantization fused by qnn-fuse-elementwise-producers): the
  /// contraction's tile then converts, requantizes and writes its own
  /// results, instead of another pass over an i32 tensor.
  static void fuseIntoElementwiseUser(PatternRewriter &rewriter,
                                      linalg::GenericOp combined) {
    Value result = combined->getResult(0);
    if (!result.hasOneUse())
      return;
    OpOperand &use = *result.getUses().begin();
    auto user = dyn_cast<linalg::GenericOp>(use.getOwner());
    if (!user || !user.isDpsInput(&use) ||
        user.getNumParallelLoops() != user.getNumLoops() ||
        !user.getMatchingIndexingMap(&use).isPermutation() ||
        !linalg::areElementwiseOpsFusable(&use))
      return;
    // The fused op is built at the insertion point: the user's place, where
    // all its operands are defined.
    rewriter.setInsertionPoint(user);
    FailureOr<linalg::ElementwiseOpFusionResult> fused =
        linalg::fuseElementwiseOps(rewriter, &use);
    if (failed(fused))
      return;
    for (auto [original, replacement] : fused->replacements)
      rewriter.replaceUsesWithIf(original, replacement, [&](OpOperand &other) {
        return other.getOwner() != combined;
      });
    rewriter.eraseOp(user);
    rewriter.eraseOp(combined);
  }
};

/// A named integer contraction (linalg.matmul, batch_matmul, ... on 8-bit
/// operands into i32 or wider, neither constant) as the linalg.generic the
/// pattern above matches.
struct GeneralizeIntegerContraction
    : OpInterfaceRewritePattern<linalg::LinalgOp> {
  using OpInterfaceRewritePattern::OpInterfaceRewritePattern;

  LogicalResult matchAndRewrite(linalg::LinalgOp op,
                                PatternRewriter &rewriter) const override {
    if (isa<linalg::GenericOp>(op) || !linalg::isaContractionOpInterface(op) ||
        !op.hasPureTensorSemantics() || op.getNumDpsInputs() != 2 ||
        op.getNumDpsInits() != 1)
      return failure();
    for (Value input : op.getDpsInputs()) {
      auto type = dyn_cast<IntegerType>(getElementTypeOrSelf(input.getType()));
      if (!type || type.getWidth() > 8 || matchPattern(input, m_Constant()))
        return failure();
    }
    auto outputType = dyn_cast<IntegerType>(
        getElementTypeOrSelf(op.getDpsInits()[0].getType()));
    if (!outputType || outputType.getWidth() < 32)
      return failure();
    return linalg::generalizeNamedOp(rewriter, op);
  }
};

struct IntegerContractionsInF32Pass
    : public qnn::impl::QNNIntegerContractionsInF32PassBase<
          IntegerContractionsInF32Pass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    qnn::populateIntegerContractionsInF32Patterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace

void qnn::populateIntegerContractionsInF32Patterns(
    RewritePatternSet &patterns) {
  patterns.add<IntegerContractionInF32, GeneralizeIntegerContraction>(
      patterns.getContext());
}
