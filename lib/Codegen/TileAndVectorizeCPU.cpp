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
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tensor/Transforms/Transforms.h"
#include "mlir/Dialect/Vector/Transforms/LoweringPatterns.h"
#include "mlir/Dialect/Vector/Transforms/VectorRewritePatterns.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/TilingInterface.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::qnn {
#define GEN_PASS_DEF_QNNTILEANDVECTORIZECPUPASS
#include "quant-opt/Codegen/Passes.h.inc"
} // namespace mlir::qnn

using namespace mlir;

namespace {

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
  if (!llvm::all_of(op.getIndexingMapsArray(), [](AffineMap map) {
        return map.isProjectedPermutation(/*allowZeroInResults=*/true);
      }))
    return "its indexing maps are not projected permutations "
           "(convolution or pooling)";
  if (op.getNumLoops() == 0)
    return "it has no loops";
  // A memref of i4 (or i1) holds one element per byte, a vector of them is
  // bit-packed: a vector load of such a buffer would read wrong values.
  for (OpOperand &operand : op->getOpOperands()) {
    Type element = getElementTypeOrSelf(operand.get().getType());
    if (element.isIntOrFloat() && element.getIntOrFloatBitWidth() % 8 != 0)
      return "it accesses sub-byte elements, stored one per byte in memory "
             "but bit-packed in vectors";
  }
  return "";
}

/// Tile sizes for `op`, one per loop, following the pass description.
SmallVector<int64_t> chooseTileSizes(linalg::LinalgOp op, int64_t vectorWidth,
                                     int64_t rows, int64_t reductionTile) {
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  bool contraction = op.getNumReductionLoops() > 0;
  SmallVector<int64_t> sizes(ranges.size(), 1);
  int64_t parallelSeen = 0;
  for (int64_t loop = ranges.size() - 1; loop >= 0; --loop) {
    if (iterators[loop] == utils::IteratorType::reduction) {
      if (contraction)
        sizes[loop] = largestDivisorAtMost(ranges[loop], reductionTile);
      continue;
    }
    if (parallelSeen == 0)
      sizes[loop] = largestDivisorAtMost(ranges[loop], vectorWidth);
    else if (parallelSeen == 1 && contraction)
      sizes[loop] = largestDivisorAtMost(ranges[loop], rows);
    ++parallelSeen;
  }
  return sizes;
}

struct TileAndVectorizeCPUPass
    : public qnn::impl::QNNTileAndVectorizeCPUPassBase<
          TileAndVectorizeCPUPass> {
  using Base::Base;

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (vectorWidth < 1 || rows < 1 || reductionTile < 1) {
      func.emitError() << "qnn-tile-and-vectorize-cpu: vector-width, rows "
                          "and reduction-tile must be positive";
      return signalPassFailure();
    }

    SmallVector<linalg::LinalgOp> candidates;
    func.walk([&](linalg::LinalgOp op) { candidates.push_back(op); });

    IRRewriter rewriter(&getContext());
    for (linalg::LinalgOp op : candidates) {
      std::string reason = whyNotVectorizable(op);
      if (!reason.empty()) {
        op->emitRemark() << "not vectorized: " << reason;
        continue;
      }
      SmallVector<int64_t> sizes =
          chooseTileSizes(op, vectorWidth, rows, reductionTile);
      if (failed(tileAndVectorize(rewriter, op, sizes)))
        return signalPassFailure();
    }

    // Clean-ups that make the vector code ready for lowering: extensions
    // folded into vector.contract, transfers of unit dims dropped, and the
    // tile loops' slices forwarded.
    RewritePatternSet patterns(&getContext());
    vector::populateVectorReductionToContractPatterns(patterns);
    vector::populateSinkVectorOpsPatterns(patterns);
    vector::populateVectorTransferPermutationMapLoweringPatterns(patterns);
    vector::TransferReadOp::getCanonicalizationPatterns(patterns,
                                                        &getContext());
    vector::TransferWriteOp::getCanonicalizationPatterns(patterns,
                                                         &getContext());
    tensor::populateFoldTensorSubsetIntoVectorTransferPatterns(patterns);
    if (failed(applyPatternsGreedily(func, std::move(patterns))))
      return signalPassFailure();
  }

  LogicalResult tileAndVectorize(RewriterBase &rewriter, linalg::LinalgOp op,
                                 ArrayRef<int64_t> sizes) {
    Operation *tile = op;
    bool needsTiling =
        llvm::any_of(llvm::zip(sizes, op.getStaticLoopRanges()), [](auto pair) {
          return std::get<0>(pair) != std::get<1>(pair);
        });
    if (needsTiling) {
      scf::SCFTilingOptions options;
      options.setLoopType(scf::SCFTilingOptions::LoopType::ForOp);
      options.setTileSizes(getAsIndexOpFoldResult(&getContext(), sizes));
      rewriter.setInsertionPoint(op);
      FailureOr<scf::SCFTilingResult> tiled = scf::tileUsingSCF(
          rewriter, cast<TilingInterface>(op.getOperation()), options);
      if (failed(tiled))
        return op->emitError("qnn-tile-and-vectorize-cpu: tiling failed");
      rewriter.replaceOp(op, tiled->replacements);
      tile = tiled->tiledOps.back();
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
