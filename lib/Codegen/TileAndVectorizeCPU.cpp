//===- TileAndVectorizeCPU.cpp - Generic CPU tiling and vectorization -----===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Tiles each vectorizable linalg op on tensors into static, full tiles and
// vectorizes the tile with upstream linalg::vectorize. Contractions become
// vector.contract on a rows x vector-width accumulator; everything else
// becomes elementwise vector code on vector-width lanes.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Codegen/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tensor/Transforms/Transforms.h"
#include "mlir/Dialect/Vector/Transforms/LoweringPatterns.h"
#include "mlir/Dialect/Vector/Transforms/VectorRewritePatterns.h"
#include "mlir/Dialect/Vector/Transforms/VectorTransforms.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/TilingInterface.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <limits>

namespace mlir::qnn {
#define GEN_PASS_DEF_QNNTILEANDVECTORIZECPUPASS
#include "quant-opt/Codegen/Passes.h.inc"
} // namespace mlir::qnn

using namespace mlir;

namespace {

/// A contraction with a leading unit dimension (the one-element batch of a
/// batch matmul's tile) as the contraction without it (see
/// populateCastAwayContractionUnitBatchPatterns): the outer-product
/// lowering has no batch dimensions, and ContractionOpLowering's unrolling
/// of them fails on mixed element types (i8 x i8 into i32), which left the
/// contraction unlowered and the module untranslatable to LLVM IR.
struct CastAwayContractionUnitBatch : OpRewritePattern<vector::ContractionOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(vector::ContractionOp contract,
                                PatternRewriter &rewriter) const override {
    // Only a batch dimension: the leading one of all three operands (a
    // convolution's unit image dimension is not the filter's, and its
    // contraction lowers as it is).
    AffineExpr batch = getAffineDimExpr(0, contract.getContext());
    auto accType = dyn_cast<VectorType>(contract.getAccType());
    if (!accType || accType.getRank() < 3 || accType.getDimSize(0) != 1 ||
        !vector::isParallelIterator(contract.getIteratorTypes()[0]) ||
        llvm::any_of(contract.getIndexingMapsArray(), [&](AffineMap map) {
          return map.getNumResults() == 0 || map.getResult(0) != batch;
        }))
      return failure();
    FailureOr<Value> dropped = vector::castAwayContractionLeadingOneDim(
        contract, /*maskingOp=*/nullptr, rewriter);
    if (failed(dropped))
      return failure();
    rewriter.replaceOp(contract, *dropped);
    return success();
  }
};

/// transpose(broadcast(x)) -> broadcast(shape_cast(x)): see
/// populateFoldTransposedBroadcastPatterns.
struct FoldTransposedBroadcast : OpRewritePattern<vector::TransposeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(vector::TransposeOp transpose,
                                PatternRewriter &rewriter) const override {
    auto broadcast = transpose.getVector().getDefiningOp<vector::BroadcastOp>();
    auto source =
        broadcast ? dyn_cast<VectorType>(broadcast.getSourceType()) : nullptr;
    if (!source || source.isScalable())
      return failure();
    VectorType broadcastType = broadcast.getResultVectorType();
    int64_t added = broadcastType.getRank() - source.getRank();
    // Only leading dimensions added, the source's kept as they are.
    if (broadcastType.getShape().drop_front(added) != source.getShape())
      return failure();
    ArrayRef<int64_t> permutation = transpose.getPermutation();
    SmallVector<int64_t> withUnits;
    int64_t next = added;
    for (int64_t from : permutation) {
      if (from < added) {
        withUnits.push_back(1);
        continue;
      }
      // The source's dimensions must stay in order.
      if (from != next++)
        return failure();
      withUnits.push_back(broadcastType.getDimSize(from));
    }
    Value reshaped = vector::ShapeCastOp::create(
        rewriter, transpose.getLoc(),
        VectorType::get(withUnits, source.getElementType()),
        broadcast.getSource());
    rewriter.replaceOpWithNewOp<vector::BroadcastOp>(
        transpose, transpose.getResultVectorType(), reshaped);
    return success();
  }
};

/// The largest divisor of `size` not above `wanted` (at least 1): tiles of
/// that size cover the dimension exactly, so every tile is static.
int64_t largestDivisorAtMost(int64_t size, int64_t wanted) {
  for (int64_t tile = std::min(size, wanted); tile > 1; --tile)
    if (size % tile == 0)
      return tile;
  return 1;
}

/// Why `op` is left to the scalar lowering, or an empty string if the
/// generic strategy handles it.
std::string whyNotVectorizable(linalg::LinalgOp op) {
  if (!op.hasPureTensorSemantics())
    return "it does not work on tensors";
  if (op.hasDynamicShape())
    return "its shapes are dynamic";
  if (op.getNumLoops() == 0)
    return "it has no loops";
  // A product summed into a rank-0 result (linalg.dot): upstream's
  // reduction-to-contract patterns would make it a vector.contract with a
  // 0-D vector accumulator, which the verifier rejects.
  if (op.getNumDpsInits() == 1 && op.getRank(op.getDpsInitOperand(0)) == 0 &&
      linalg::isaContractionOpInterface(op))
    return "it is a contraction into a rank-0 result (a dot product), which "
           "the vector contraction cannot express";
  // A memref of i4 (or i1) holds one element per byte, a vector of them is
  // bit-packed: a vector load of such a buffer would read wrong values.
  for (OpOperand &operand : op->getOpOperands()) {
    Type element = getElementTypeOrSelf(operand.get().getType());
    if (element.isIntOrFloat() && element.getIntOrFloatBitWidth() % 8 != 0)
      return element.getIntOrFloatBitWidth() < 8
                 ? "it accesses sub-byte elements, stored one per byte in "
                   "memory but bit-packed in vectors"
                 : "it accesses elements whose width is not a whole number "
                   "of bytes, stored in whole bytes in memory but "
                   "bit-packed in vectors";
  }
  return "";
}

bool hasProjectedPermutationMaps(linalg::LinalgOp op) {
  return llvm::all_of(op.getIndexingMapsArray(), [](AffineMap map) {
    return map.isProjectedPermutation(/*allowZeroInResults=*/true);
  });
}

/// Rewrites strided window accesses `d * s` of a convolution tile's inputs
/// as unit accesses of a strided tensor.extract_slice, so that every
/// indexing map becomes a projected permutation (a contraction).
FailureOr<linalg::GenericOp> foldStridesIntoSlices(RewriterBase &rewriter,
                                                   linalg::GenericOp op) {
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  SmallVector<Value> inputs;
  bool changed = false;
  rewriter.setInsertionPoint(op);
  for (OpOperand *input : op.getDpsInputOperands()) {
    AffineMap map = op.getMatchingIndexingMap(input);
    auto type = cast<RankedTensorType>(input->get().getType());
    SmallVector<AffineExpr> exprs;
    SmallVector<OpFoldResult> offsets, sizes, strides;
    bool strided = false;
    for (auto [position, expr] : llvm::enumerate(map.getResults())) {
      offsets.push_back(rewriter.getIndexAttr(0));
      auto product = dyn_cast<AffineBinaryOpExpr>(expr);
      if (product && product.getKind() == AffineExprKind::Mul) {
        auto dim = dyn_cast<AffineDimExpr>(product.getLHS());
        auto stride = dyn_cast<AffineConstantExpr>(product.getRHS());
        if (!dim || !stride || stride.getValue() < 1)
          return failure();
        exprs.push_back(dim);
        sizes.push_back(rewriter.getIndexAttr(ranges[dim.getPosition()]));
        strides.push_back(rewriter.getIndexAttr(stride.getValue()));
        strided = true;
        continue;
      }
      exprs.push_back(expr);
      sizes.push_back(rewriter.getIndexAttr(type.getDimSize(position)));
      strides.push_back(rewriter.getIndexAttr(1));
    }
    Value value = input->get();
    if (strided) {
      value = tensor::ExtractSliceOp::create(rewriter, op.getLoc(), value,
                                             offsets, sizes, strides);
      maps[input->getOperandNumber()] = AffineMap::get(
          map.getNumDims(), map.getNumSymbols(), exprs, op.getContext());
      changed = true;
    }
    inputs.push_back(value);
  }
  if (!changed)
    return op;
  auto folded = linalg::GenericOp::create(
      rewriter, op.getLoc(), op.getResultTypes(), inputs, op.getDpsInits(),
      maps, op.getIteratorTypesArray());
  rewriter.inlineRegionBefore(op.getRegion(), folded.getRegion(),
                              folded.getRegion().begin());
  rewriter.replaceOp(op, folded->getResults());
  return folded;
}

/// x86's vector registers at that width: 32 zmm with AVX-512, 16 ymm with
/// AVX2.
int64_t countVectorRegisters(int64_t vectorRegisterBits) {
  return vectorRegisterBits >= 512 ? 32 : 16;
}

/// Tile sizes for `op`, one per loop, following the pass description.
SmallVector<int64_t> chooseTileSizes(linalg::LinalgOp op, int64_t vectorWidth,
                                     int64_t rows, int64_t reductionTile,
                                     int64_t vectorRegisterBits) {
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  bool contraction = op.getNumReductionLoops() > 0;
  SmallVector<int64_t> sizes(ranges.size(), 1);
  int64_t parallelSeen = 0;
  // The reduction dimensions share one budget of `reductionTile` elements,
  // innermost first: a reduction over several dimensions (a whole tensor's
  // range) would otherwise become one vector of all its elements.
  int64_t reductionBudget = reductionTile;
  for (int64_t loop = ranges.size() - 1; loop >= 0; --loop) {
    if (iterators[loop] == utils::IteratorType::reduction) {
      if (contraction) {
        sizes[loop] = largestDivisorAtMost(
            ranges[loop], std::max<int64_t>(reductionBudget, 1));
        reductionBudget /= sizes[loop];
      }
      continue;
    }
    if (parallelSeen == 0)
      sizes[loop] = largestDivisorAtMost(ranges[loop], vectorWidth);
    else if (parallelSeen == 1 && contraction)
      sizes[loop] = largestDivisorAtMost(ranges[loop], rows);
    ++parallelSeen;
  }
  // A reduction that is neither a contraction nor innermost (a row's lane
  // sums, qnn-split-float-sums: lanes parallel and innermost, the chunks
  // reduced) steps through its reduced loops one at a time: each step is
  // one vector addition per lane, where a tile of several would be reduced
  // by transposing the reduced dimension innermost.
  if (!iterators.empty() && iterators.back() == utils::IteratorType::parallel &&
      !linalg::isaContractionOpInterface(op))
    for (int64_t loop = 0, e = ranges.size(); loop < e; ++loop)
      if (iterators[loop] == utils::IteratorType::reduction)
        sizes[loop] = 1;
  // A contraction whose innermost parallel extent has no divisor near the
  // vector width (attention's 49 keys: 7 lanes) takes whole rows of it
  // where their accumulators fit the target's vector registers (32 of 512
  // bits with AVX-512, 16 of 256 with AVX2), four of them left for the
  // operands: 7 rows x 49 f32 lanes are 28 zmm registers.
  SmallVector<unsigned> parallel;
  op.getParallelDims(parallel);
  if (parallel.empty() || !linalg::isaContractionOpInterface(op))
    return sizes;
  unsigned inner = parallel.back();
  int64_t extent = ranges[inner];
  if (sizes[inner] * 2 >= vectorWidth || extent <= vectorWidth)
    return sizes;
  int64_t registers = countVectorRegisters(vectorRegisterBits);
  int64_t accumulatorBits =
      getElementTypeOrSelf(op->getResult(0).getType()).getIntOrFloatBitWidth();
  int64_t perRow =
      llvm::divideCeil(extent * accumulatorBits, vectorRegisterBits);
  // Fewer rows where that many whole rows would not fit (7 rows of 49 f32
  // lanes are 49 ymm with AVX2: one row of 7): tiles of 7 x 7 would cut
  // every row into vectors of 7 lanes, and an epilogue computed on them
  // in i64 (a requantization) into pieces of 4, 2 and 1.
  unsigned rowLoop = parallel.size() > 1 ? parallel[parallel.size() - 2] : 0;
  int64_t tileRows = parallel.size() > 1 ? sizes[rowLoop] : 1;
  if (tileRows * perRow > registers - 4 && parallel.size() > 1 &&
      perRow <= registers - 4) {
    tileRows = largestDivisorAtMost(ranges[rowLoop], (registers - 4) / perRow);
    sizes[rowLoop] = tileRows;
  }
  if (tileRows * perRow <= registers - 4)
    sizes[inner] = extent;
  return sizes;
}

struct TileAndVectorizeCPUPass
    : public qnn::impl::QNNTileAndVectorizeCPUPassBase<
          TileAndVectorizeCPUPass> {
  using Base::Base;

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (vectorWidth < 1 || rows < 1 || reductionTile < 1) {
      emitError(func.getLoc())
          << "qnn-tile-and-vectorize-cpu: vector-width, rows "
             "and reduction-tile must be positive";
      return signalPassFailure();
    }
    if (vectorRegisterBits != 256 && vectorRegisterBits != 512) {
      emitError(func.getLoc())
          << "qnn-tile-and-vectorize-cpu: vector-register-bits "
             "must be 256 (AVX2) or 512 (AVX-512), not "
          << static_cast<int64_t>(vectorRegisterBits);
      return signalPassFailure();
    }

    IRRewriter rewriter(&getContext());
    if (failed(fuseEpilogues(rewriter, func)))
      return signalPassFailure();

    SmallVector<linalg::LinalgOp> candidates;
    func.walk([&](linalg::LinalgOp op) { candidates.push_back(op); });

    for (linalg::LinalgOp op : candidates) {
      // A scalar op (rank-0 tensors: a whole-tensor reduction's result) has
      // nothing to vectorize and is not worth a remark.
      if (op.getNumLoops() == 0)
        continue;
      std::string reason = whyNotVectorizable(op);
      if (!reason.empty()) {
        op->emitRemark() << "not vectorized: " << reason;
        continue;
      }
      if (!hasProjectedPermutationMaps(op)) {
        if (failed(tileAndVectorizeConvolution(rewriter, op)))
          return signalPassFailure();
        continue;
      }
      SmallVector<int64_t> sizes = chooseTileSizes(
          op, vectorWidth, rows, reductionTile, vectorRegisterBits);
      // An elementwise op whose innermost extent has no divisor near the
      // vector width (49 tokens: 7 lanes) gets full-width tiles and a
      // peeled last tile instead.
      SmallVector<int64_t> ranges = op.getStaticLoopRanges();
      if (op.getNumReductionLoops() == 0 && !ranges.empty() &&
          ranges.back() > vectorWidth && sizes.back() * 2 < vectorWidth) {
        // Read in memory order (every operand whole or broadcast), it is
        // one flat loop: full vectors across rows, one peeled tile at most,
        // where each row of 49 ended in a scalar tile.
        FailureOr<linalg::LinalgOp> flat = collapseToOneLoop(rewriter, op);
        if (succeeded(flat)) {
          op = *flat;
          sizes = {vectorWidth};
          if (op.getStaticLoopRanges().back() % vectorWidth == 0) {
            if (failed(tileAndVectorize(rewriter, op, sizes)))
              return signalPassFailure();
            continue;
          }
        }
        sizes.back() = vectorWidth;
        if (failed(tileVectorizeAndPeel(rewriter, op, sizes)))
          return signalPassFailure();
        continue;
      }
      // A row reduction (softmax's max and sum, LayerNorm's moments: the
      // innermost loop reduces, nothing is multiplied) whose row has no
      // divisor near the vector width (49 keys: 7 lanes; 197 tokens: 1)
      // reads whole rows of up to half the target's vector registers:
      // LLVM reduces a wide vector across registers first, then once
      // within one, where 7-lane tiles each paid a horizontal reduction.
      auto rowRegisters = [&]() -> int64_t {
        int64_t bits = 0;
        for (OpOperand *input : op.getDpsInputOperands()) {
          Type element = getElementTypeOrSelf(input->get().getType());
          if (!element.isIntOrFloat())
            return std::numeric_limits<int64_t>::max();
          bits = std::max<int64_t>(bits, element.getIntOrFloatBitWidth());
        }
        return llvm::divideCeil(ranges.back() * bits, vectorRegisterBits);
      };
      int64_t registers = countVectorRegisters(vectorRegisterBits);
      if (!ranges.empty() &&
          op.getIteratorTypesArray().back() == utils::IteratorType::reduction &&
          op.getNumReductionLoops() == 1 &&
          !linalg::isaContractionOpInterface(op) &&
          sizes.back() * 2 < vectorWidth && ranges.back() > vectorWidth &&
          rowRegisters() <= registers / 2) {
        sizes.back() = ranges.back();
        for (int64_t &size : MutableArrayRef(sizes).drop_back())
          size = 1;
      }
      if (failed(tileAndVectorize(rewriter, op, sizes)))
        return signalPassFailure();
    }

    // Clean-ups that make the vector code ready for lowering: extensions
    // folded into vector.contract, transfers of unit dims dropped, and the
    // tile loops' slices forwarded.
    RewritePatternSet patterns(&getContext());
    vector::populateVectorReductionToContractPatterns(patterns);
    vector::populateSinkVectorOpsPatterns(patterns);
    qnn::populateFoldTransposedBroadcastPatterns(patterns);
    vector::populateVectorTransferPermutationMapLoweringPatterns(patterns);
    vector::TransferReadOp::getCanonicalizationPatterns(patterns,
                                                        &getContext());
    vector::TransferWriteOp::getCanonicalizationPatterns(patterns,
                                                         &getContext());
    tensor::populateFoldTensorSubsetIntoVectorTransferPatterns(patterns);
    if (failed(applyPatternsGreedily(func, std::move(patterns))))
      return signalPassFailure();
    // Once the contractions have their final maps (the broadcasts and
    // transposes of their operands folded in, which the unit dimension
    // would have hidden): batch matmul tiles' unit batch dropped.
    RewritePatternSet batchPatterns(&getContext());
    qnn::populateCastAwayContractionUnitBatchPatterns(batchPatterns);
    if (failed(applyPatternsGreedily(func, std::move(batchPatterns))))
      return signalPassFailure();
  }

  /// Tiles `op` with scf.for loops of `sizes`, replacing it.
  FailureOr<scf::SCFTilingResult> tileWithSCF(RewriterBase &rewriter,
                                              linalg::LinalgOp op,
                                              ArrayRef<int64_t> sizes) {
    scf::SCFTilingOptions options;
    options.setLoopType(scf::SCFTilingOptions::LoopType::ForOp);
    options.setTileSizes(getAsIndexOpFoldResult(&getContext(), sizes));
    rewriter.setInsertionPoint(op);
    FailureOr<scf::SCFTilingResult> tiled = scf::tileUsingSCF(
        rewriter, cast<TilingInterface>(op.getOperation()), options);
    if (failed(tiled))
      return op->emitError("qnn-tile-and-vectorize-cpu: tiling failed");
    rewriter.replaceOp(op, tiled->replacements);
    return tiled;
  }

  /// Tiles `op` with scf.for loops of `sizes`; returns the tile's op.
  FailureOr<Operation *> tileWithLoops(RewriterBase &rewriter,
                                       linalg::LinalgOp op,
                                       ArrayRef<int64_t> sizes) {
    FailureOr<scf::SCFTilingResult> tiled = tileWithSCF(rewriter, op, sizes);
    if (failed(tiled))
      return failure();
    return tiled->tiledOps.back();
  }

  /// Epilogue fusion: an elementwise op whose input is the only use of a
  /// contraction's result (the requantization after a matmul) is tiled by
  /// the contraction's parallel tile, and the contraction and its
  /// initialization are computed inside that tile, so that the i32
  /// accumulators are requantized while they are hot.
  LogicalResult fuseEpilogues(RewriterBase &rewriter, func::FuncOp func) {
    SmallVector<std::pair<linalg::LinalgOp, linalg::LinalgOp>> pairs;
    func.walk([&](linalg::LinalgOp consumer) {
      if (consumer.getNumReductionLoops() != 0 ||
          consumer->getNumResults() != 1 ||
          !whyNotVectorizable(consumer).empty() ||
          !hasProjectedPermutationMaps(consumer))
        return;
      for (OpOperand *input : consumer.getDpsInputOperands()) {
        auto producer = input->get().getDefiningOp<linalg::LinalgOp>();
        if (producer && producer.getNumReductionLoops() > 0 &&
            producer->getNumResults() == 1 && producer->hasOneUse() &&
            whyNotVectorizable(producer).empty() &&
            hasProjectedPermutationMaps(producer) &&
            consumer.getMatchingIndexingMap(input).isIdentity()) {
          pairs.push_back({consumer, producer});
          return;
        }
      }
    });
    for (auto [consumer, producer] : pairs) {
      // The consumer's loop j is the producer's output dimension j.
      SmallVector<int64_t> producerSizes = chooseTileSizes(
          producer, vectorWidth, rows, reductionTile, vectorRegisterBits);
      AffineMap outputMap =
          producer.getMatchingIndexingMap(producer.getDpsInitOperand(0));
      SmallVector<int64_t> sizes;
      for (unsigned j = 0; j < outputMap.getNumResults(); ++j)
        sizes.push_back(producerSizes[outputMap.getDimPosition(j)]);
      if (llvm::equal(sizes, consumer.getStaticLoopRanges()))
        continue; // One tile: nothing to fuse into.

      scf::SCFTileAndFuseOptions options;
      options.tilingOptions.setLoopType(scf::SCFTilingOptions::LoopType::ForOp);
      options.tilingOptions.setTileSizes(
          getAsIndexOpFoldResult(&getContext(), sizes));
      Operation *contraction = producer;
      options.setFusionControlFn(
          [contraction](tensor::ExtractSliceOp, OpResult original,
                        bool isDestination)
              -> std::optional<scf::SCFTileAndFuseOptions::ControlFnResult> {
            // The contraction and what initializes its accumulators (a
            // fill: the tile's accumulators then start as zeros in
            // registers, instead of a pass writing the whole tensor and
            // each tile reading it back); not the producers of its inputs,
            // which each tile would redo.
            if (original.getOwner() == contraction || isDestination ||
                isa<linalg::FillOp>(original.getOwner()))
              return scf::SCFTileAndFuseOptions::ControlFnResult{};
            return std::nullopt;
          });
      rewriter.setInsertionPoint(consumer);
      FailureOr<scf::SCFTileAndFuseResult> fused =
          scf::tileConsumerAndFuseProducersUsingSCF(
              rewriter, cast<TilingInterface>(consumer.getOperation()),
              options);
      if (failed(fused))
        return consumer->emitError(
            "qnn-tile-and-vectorize-cpu: epilogue fusion failed");
      for (OpResult result : consumer->getResults())
        rewriter.replaceAllUsesWith(result, fused->replacements.lookup(result));
      rewriter.eraseOp(consumer);
      if (producer->use_empty())
        rewriter.eraseOp(producer);
    }
    return success();
  }

  /// 2-D convolutions and poolings (named or generic, as fused by
  /// qnn-fuse-quantized-ops): tiles of one output row and one filter tap,
  /// whose unit dimensions are then dropped and whose strided window reads
  /// become strided slices, are contractions over the input channels (or
  /// elementwise, for depthwise and pooling), vectorized like any tile.
  /// (Upstream's own path, named 1-D convolutions, extends every operand as
  /// signed and would mis-compute the u8 activations we produce.)
  LogicalResult tileAndVectorizeConvolution(RewriterBase &rewriter,
                                            linalg::LinalgOp op) {
    FailureOr<linalg::ConvolutionDimensions> dims =
        linalg::inferConvolutionDims(op);
    if (failed(dims) || dims->outputImage.size() != 2 ||
        dims->filterLoop.size() != 2) {
      op->emitRemark() << "not vectorized: its indexing maps are not "
                          "projected permutations and it is not a 2-D "
                          "convolution or pooling";
      return success();
    }
    SmallVector<int64_t> ranges = op.getStaticLoopRanges();
    SmallVector<int64_t> sizes(ranges.size(), 1);
    sizes[dims->outputImage[1]] =
        largestDivisorAtMost(ranges[dims->outputImage[1]], rows);
    // The filter column is a unit loop too: dropping all of them leaves a
    // contraction over the input channels (any signedness), once strided
    // window accesses become strided slices.
    sizes[dims->filterLoop[1]] = 1;
    for (unsigned loop : dims->outputChannel)
      sizes[loop] = largestDivisorAtMost(ranges[loop], vectorWidth);
    for (unsigned loop : dims->depth)
      sizes[loop] = largestDivisorAtMost(ranges[loop], vectorWidth);
    for (unsigned loop : dims->inputChannel)
      sizes[loop] = largestDivisorAtMost(ranges[loop], reductionTile);
    // A pooling's channels are in its input and output but not in its
    // window: a batch dimension to inferConvolutionDims. Innermost in the
    // output (NHWC), they are the lanes, where tiles of one channel were
    // scalar code with strided accesses (a 2x2 max pool of 64x28x28x16
    // floats: 0.70 ms).
    AffineMap outputMap = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
    if (auto innermost = dyn_cast<AffineDimExpr>(outputMap.getResults().back());
        innermost && llvm::is_contained(dims->batch, innermost.getPosition()))
      sizes[innermost.getPosition()] =
          largestDivisorAtMost(ranges[innermost.getPosition()], vectorWidth);

    FailureOr<Operation *> tiled = tileWithLoops(rewriter, op, sizes);
    if (failed(tiled))
      return failure();
    auto tile = cast<linalg::LinalgOp>(*tiled);
    rewriter.setInsertionPoint(tile);
    FailureOr<linalg::GenericOp> generic =
        isa<linalg::GenericOp>(tile.getOperation())
            ? FailureOr<linalg::GenericOp>(cast<linalg::GenericOp>(tile))
            : linalg::generalizeNamedOp(rewriter, tile);
    if (failed(generic)) {
      tile->emitRemark() << "not vectorized: cannot generalize the tile";
      return success();
    }
    // Drop the output row and the filter tap (all of extent 1 now).
    linalg::ControlDropUnitDims control;
    control.rankReductionStrategy =
        linalg::ControlDropUnitDims::RankReductionStrategy::ExtractInsertSlice;
    SmallVector<unsigned> unitLoops = {
        dims->outputImage[0], dims->filterLoop[0], dims->filterLoop[1]};
    control.controlFn = [&](Operation *) { return unitLoops; };
    FailureOr<linalg::DropUnitDimsResult> dropped =
        linalg::dropUnitDims(rewriter, *generic, control);
    if (failed(dropped)) {
      (*generic)->emitRemark() << "not vectorized: cannot drop unit dims";
      return success();
    }
    rewriter.replaceOp(*generic, dropped->replacements);
    FailureOr<linalg::GenericOp> contraction = foldStridesIntoSlices(
        rewriter, cast<linalg::GenericOp>(dropped->resultOp.getOperation()));
    if (failed(contraction) || !hasProjectedPermutationMaps(*contraction)) {
      dropped->resultOp->emitRemark()
          << "not vectorized: the tile of the convolution is not a "
             "contraction";
      return success();
    }
    return tileAndVectorize(rewriter, *contraction,
                            chooseTileSizes(*contraction, vectorWidth, rows,
                                            reductionTile, vectorRegisterBits));
  }

  /// The canonicalization patterns, built once per run when needed.
  std::optional<FrozenRewritePatternSet> canonicalization;

  /// `op` (elementwise) as one loop over all its elements, where each
  /// operand is read whole in memory order or not indexed at all (a
  /// rank-0 parameter): a flat op of the same body on collapsed operands,
  /// its results expanded back. Fails, changing nothing, otherwise: an
  /// operand sliced from a larger tensor would be a strided view whose
  /// collapse bufferizes as a copy, and a result inserted into a larger
  /// tensor (a padded buffer) is written there in place only while the
  /// reshapes do not hide its destination from empty-tensor elimination.
  FailureOr<linalg::LinalgOp> collapseToOneLoop(RewriterBase &rewriter,
                                                linalg::LinalgOp op) {
    auto generic = dyn_cast<linalg::GenericOp>(op.getOperation());
    unsigned loops = op.getNumLoops();
    if (!generic || loops < 2 || op.hasDynamicShape() ||
        !op.hasPureTensorSemantics())
      return failure();
    for (OpOperand &operand : op->getOpOperands()) {
      AffineMap map = op.getMatchingIndexingMap(&operand);
      if (map.getNumResults() == 0)
        continue;
      if (!map.isIdentity() ||
          operand.get().getDefiningOp<tensor::ExtractSliceOp>())
        return failure();
    }
    if (llvm::any_of(op->getUsers(), llvm::IsaPred<tensor::InsertSliceOp>))
      return failure();
    ReassociationIndices all = llvm::to_vector(llvm::seq<int64_t>(0, loops));
    rewriter.setInsertionPoint(op);
    FailureOr<linalg::CollapseResult> collapsed =
        linalg::collapseOpIterationDims(op, {all}, rewriter);
    if (failed(collapsed))
      return failure();
    rewriter.replaceOp(op, collapsed->results);
    return collapsed->collapsedOp;
  }

  /// Tiles `op` with a last tile size that does not divide its extent,
  /// peels the innermost loop's last iteration (so that both loops have
  /// static tiles again, once canonicalized) and vectorizes both.
  LogicalResult tileVectorizeAndPeel(RewriterBase &rewriter,
                                     linalg::LinalgOp op,
                                     ArrayRef<int64_t> sizes) {
    FailureOr<scf::SCFTilingResult> tiled = tileWithSCF(rewriter, op, sizes);
    if (failed(tiled))
      return failure();
    SmallVector<Operation *> loops;
    if (!tiled->loops.empty()) {
      auto innermost = cast<scf::ForOp>(tiled->loops.back().getOperation());
      scf::ForOp partial;
      loops.push_back(innermost);
      if (succeeded(scf::peelForLoopAndSimplifyBounds(rewriter, innermost,
                                                      partial))) {
        // The peeled loop runs once, from its lower bound.
        rewriter.replaceAllUsesWith(partial.getInductionVar(),
                                    partial.getLowerBound());
        loops.push_back(partial);
      }
    }
    // Constant tile sizes make the slices and the tile ops static.
    if (!canonicalization) {
      RewritePatternSet patterns(&getContext());
      for (Dialect *dialect : getContext().getLoadedDialects())
        dialect->getCanonicalizationPatterns(patterns);
      for (RegisteredOperationName name :
           getContext().getRegisteredOperations())
        name.getCanonicalizationPatterns(patterns, &getContext());
      canonicalization.emplace(std::move(patterns));
    }
    SmallVector<linalg::LinalgOp> tiles;
    for (Operation *loop : loops) {
      (void)applyPatternsGreedily(loop, *canonicalization);
      loop->walk([&](linalg::LinalgOp tile) { tiles.push_back(tile); });
    }
    for (linalg::LinalgOp tile : tiles) {
      if (tile.hasDynamicShape()) {
        tile->emitRemark() << "not vectorized: its peeled tile stayed dynamic";
        continue;
      }
      if (failed(tileAndVectorize(rewriter, tile, tile.getStaticLoopRanges())))
        return failure();
    }
    return success();
  }

  LogicalResult tileAndVectorize(RewriterBase &rewriter, linalg::LinalgOp op,
                                 ArrayRef<int64_t> sizes) {
    Operation *tile = op;
    bool needsTiling =
        llvm::any_of(llvm::zip(sizes, op.getStaticLoopRanges()), [](auto pair) {
          return std::get<0>(pair) != std::get<1>(pair);
        });
    if (needsTiling) {
      FailureOr<Operation *> tiled = tileWithLoops(rewriter, op, sizes);
      if (failed(tiled))
        return failure();
      tile = *tiled;
    }
    rewriter.setInsertionPoint(tile);
    FailureOr<linalg::VectorizationResult> vectorized = linalg::vectorize(
        rewriter, tile, /*inputVectorSizes=*/{}, /*inputScalableVecDims=*/{},
        /*vectorizeNDExtract=*/false, /*flatten1DDepthwiseConv=*/false,
        /*assumeDynamicDimsMatchVecSizes=*/false,
        /*createNamedContraction=*/true);
    if (failed(vectorized)) {
      // Tiled but scalar: correct, and reported.
      tile->emitRemark() << "not vectorized: linalg::vectorize failed";
      return success();
    }
    rewriter.replaceOp(tile, vectorized->replacements);
    return success();
  }
};

} // namespace

void qnn::populateCastAwayContractionUnitBatchPatterns(
    RewritePatternSet &patterns) {
  patterns.add<CastAwayContractionUnitBatch>(patterns.getContext());
}

void qnn::populateFoldTransposedBroadcastPatterns(RewritePatternSet &patterns) {
  patterns.add<FoldTransposedBroadcast>(patterns.getContext());
}
