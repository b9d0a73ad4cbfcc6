//===- GPUMapParallelLoops.cpp - scf.parallel to blocks and threads -------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The SIMT strategy of the GPU pipeline: each outermost scf.parallel (the
// parallel dimensions of one linalg op) is tiled into blocks of threads and
// mapped onto the grid, for convert-parallel-loops-to-gpu. Plain by design:
// one thread per output element, the reductions sequential in the thread.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Codegen/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/ParallelLoopMapper.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

namespace mlir::qnn {
#define GEN_PASS_DEF_QNNGPUMAPPARALLELLOOPSPASS
#include "quant-opt/Codegen/Passes.h.inc"
} // namespace mlir::qnn

using namespace mlir;

/// Tile sizes of a loop nest of `rank` dimensions: from the innermost
/// dimension outwards (up to three of them), each takes as many of the
/// `threads` as its static trip count, or all that are left.
static SmallVector<int64_t> chooseTileSizes(scf::ParallelOp loop,
                                            int64_t threads) {
  unsigned rank = loop.getNumLoops();
  SmallVector<int64_t> tiles(rank, 1);
  int64_t left = threads;
  for (unsigned n = 0; n < std::min(rank, 3u) && left > 1; ++n) {
    unsigned dim = rank - 1 - n;
    int64_t tile = left;
    std::optional<int64_t> lb = getConstantIntValue(loop.getLowerBound()[dim]);
    std::optional<int64_t> ub = getConstantIntValue(loop.getUpperBound()[dim]);
    std::optional<int64_t> step = getConstantIntValue(loop.getStep()[dim]);
    if (lb && ub && step && *step > 0)
      tile =
          std::max<int64_t>(1, std::min(tile, (*ub - *lb + *step - 1) / *step));
    tiles[dim] = tile;
    left /= tile;
  }
  return tiles;
}

/// Maps dimension i of a loop of `rank` dimensions: the innermost to x,
/// then y, z; the rest sequential.
static LogicalResult mapLoop(scf::ParallelOp loop, bool threads) {
  MLIRContext *context = loop.getContext();
  unsigned rank = loop.getNumLoops();
  AffineMap identity = AffineMap::getMultiDimIdentityMap(1, context);
  SmallVector<gpu::ParallelLoopDimMappingAttr> mapping;
  for (unsigned dim = 0; dim < rank; ++dim) {
    unsigned fromInner = rank - 1 - dim;
    gpu::Processor processor = gpu::Processor::Sequential;
    if (fromInner < 3)
      processor = static_cast<gpu::Processor>(
          (threads ? static_cast<unsigned>(gpu::Processor::ThreadX)
                   : static_cast<unsigned>(gpu::Processor::BlockX)) +
          fromInner);
    mapping.push_back(gpu::ParallelLoopDimMappingAttr::get(context, processor,
                                                           identity, identity));
  }
  return gpu::setMappingAttr(loop, mapping);
}

static LogicalResult mapSequential(scf::ParallelOp loop) {
  MLIRContext *context = loop.getContext();
  AffineMap identity = AffineMap::getMultiDimIdentityMap(1, context);
  SmallVector<gpu::ParallelLoopDimMappingAttr> mapping(
      loop.getNumLoops(),
      gpu::ParallelLoopDimMappingAttr::get(context, gpu::Processor::Sequential,
                                           identity, identity));
  return gpu::setMappingAttr(loop, mapping);
}

namespace {
struct GPUMapParallelLoopsPass
    : public qnn::impl::QNNGPUMapParallelLoopsPassBase<
          GPUMapParallelLoopsPass> {
  using Base::Base;

  void runOnOperation() override {
    if (threads < 1 || threads > 1024) {
      emitError(getOperation().getLoc(),
                "qnn-gpu-map-parallel-loops: threads must be "
                "in [1, 1024], got ")
          << static_cast<int64_t>(threads);
      return signalPassFailure();
    }
    SmallVector<scf::ParallelOp> outermost;
    getOperation().walk([&](scf::ParallelOp loop) {
      if (!loop->getParentOfType<scf::ParallelOp>() &&
          !loop->getParentOfType<gpu::LaunchOp>())
        outermost.push_back(loop);
    });
    for (scf::ParallelOp loop : outermost) {
      if (loop.getNumReductions() != 0) {
        loop.emitError("qnn-gpu-map-parallel-loops: a parallel loop with "
                       "reductions has no GPU mapping");
        return signalPassFailure();
      }
      SmallVector<int64_t> tiles = chooseTileSizes(loop, threads);
      auto [outer, inner] =
          scf::tileParallelLoop(loop, tiles, /*noMinMaxBounds=*/true);
      if (failed(mapLoop(outer, /*threads=*/false)) ||
          failed(mapLoop(inner, /*threads=*/true)))
        return signalPassFailure();
      // Parallel loops inside a thread (a parallel dimension after a
      // reduction) run sequentially.
      WalkResult nested = inner.getBody()->walk([&](scf::ParallelOp loop) {
        return failed(mapSequential(loop)) ? WalkResult::interrupt()
                                           : WalkResult::advance();
      });
      if (nested.wasInterrupted())
        return signalPassFailure();
    }
  }
};
} // namespace
