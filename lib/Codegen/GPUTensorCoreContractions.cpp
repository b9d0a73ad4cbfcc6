//===- GPUTensorCoreContractions.cpp - int8 mma.sync kernels --------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The tensor-core strategy of qnn-gpu-pipeline: an integer contraction
// (i8 x i8 accumulated in i32: matmul, batch matmul, convolution as an
// implicit GEMM) becomes one gpu.launch that stages tiles of its operands
// in shared memory, multiplies them with `mma.sync.m16n8k32` on the tensor
// cores, and applies the elementwise op that consumes the accumulators
// (bias, zero-point corrections, fixed-point requantization, clamp) from
// the registers before the one store.
//
// Fragment layouts (PTX ISA, section "Matrix Fragments for mma.m16n8k32",
// .s8/.u8 multiplicands, .s32 accumulators). In a warp, lane l has
// g = l / 4 (groupID) and t = l % 4 (threadID_in_group); each .b32
// register packs four 8-bit elements, the lowest-numbered in the low byte:
//   A (16x32, .row): a0..a3   row g,   k 4t..4t+3     (register 0)
//                    a4..a7   row g+8, k 4t..4t+3     (register 1)
//                    a8..a11  row g,   k 16+4t..+3    (register 2)
//                    a12..a15 row g+8, k 16+4t..+3    (register 3)
//   B (32x8, .col):  b0..b3   col g,   k 4t..4t+3     (register 0)
//                    b4..b7   col g,   k 16+4t..+3    (register 1)
//   C/D (16x8, .s32): c0, c1  row g,   cols 2t, 2t+1
//                     c2, c3  row g+8, cols 2t, 2t+1
// So a thread's A register is 4 consecutive k of one row, and its B
// register 4 consecutive k of one column: shared memory holds the A tile
// as [m][k] and the B tile transposed as [n][k], and each register is
// four consecutive bytes of a row of either. Which k of a tile go to which
// fragment position is free, as long as A and B agree (the sum over k
// wraps in i32, so its order does not change it): the kernel feeds the
// tensor cores each 64 k of a row so that thread t's four words of it are
// consecutive (words 4t..4t+3), one 16-byte shared load. (A B contiguous
// along N is held k-major instead, [k/4][n], the same words; see
// swizzledColumn.)
//
// The instruction is emitted as nvvm.mma.sync rather than nvgpu.mma.sync
// because the fused programs multiply u8 activations by s8 weights:
// nvvm.mma.sync names each multiplicand's type (.u8 or .s8, from the
// extension the contraction applies to it), where nvgpu.mma.sync always
// lowers i8 to .s8. The accumulation wraps (no .satfinite), as the i32
// additions of the CPU lowering do.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Codegen/Passes.h"

#include "IntegerContractions.h"

#include "mlir/Dialect/Affine/Utils.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace mlir::qnn {
#define GEN_PASS_DEF_QNNGPUTENSORCORECONTRACTIONSPASS
#include "quant-opt/Codegen/Passes.h.inc"
} // namespace mlir::qnn

using namespace mlir;

namespace {
/// A contraction the tensor-core kernel computes: its dimensions sorted
/// into batch (in both operands), M (in the first only), N (in the second
/// only) and K (reductions).
struct Contraction {
  mutable linalg::GenericOp op;
  SmallVector<int64_t> ranges;
  SmallVector<unsigned> batchDims, mDims, nDims, kDims, parallelDims;
  bool aSigned = true, bSigned = true;
  int64_t batch = 1, m = 1, n = 1, k = 1;
};

/// The tile sizes, checked.
struct Tiling {
  int64_t tileM, tileN, tileK, warpsM, warpsN;
  int64_t warpM() const { return tileM / warpsM; }
  int64_t warpN() const { return tileN / warpsN; }
  int64_t fragmentsM() const { return warpM() / 16; }
  int64_t fragmentsN() const { return warpN() / 8; }
  int64_t threads() const { return 32 * warpsM * warpsN; }
};
} // namespace

/// `value` as the extension of an i8 block argument to i32: the argument
/// and whether the extension is signed.
static std::optional<std::pair<BlockArgument, bool>> matchExtension(Value v) {
  Operation *def = v.getDefiningOp();
  if (!def || def->getNumOperands() != 1 || !v.getType().isInteger(32))
    return std::nullopt;
  auto arg = dyn_cast<BlockArgument>(def->getOperand(0));
  if (!arg || !arg.getType().isInteger(8))
    return std::nullopt;
  if (isa<arith::ExtSIOp>(def))
    return std::make_pair(arg, true);
  if (isa<arith::ExtUIOp>(def))
    return std::make_pair(arg, false);
  return std::nullopt;
}

/// Whether `op` is `out + ext(a) * ext(b)` on i8 inputs and an i32 output
/// with static shapes and a tensor-core-worthy N; else why not.
static FailureOr<Contraction> matchContraction(linalg::GenericOp op,
                                               std::string &why) {
  auto fail = [&](StringRef reason) {
    why = reason.str();
    return failure();
  };
  if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1)
    return fail("not a two-input, one-output op on buffers");
  Block &body = op.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  if (body.getOperations().size() != 5)
    return fail("body is not out + ext(a) * ext(b)");
  auto add = yield.getOperand(0).getDefiningOp<arith::AddIOp>();
  if (!add || !add.getType().isInteger(32))
    return fail("body is not out + ext(a) * ext(b)");
  BlockArgument out = body.getArgument(2);
  Value product = add.getLhs() == out ? add.getRhs() : add.getLhs();
  if (add.getLhs() != out && add.getRhs() != out)
    return fail("body is not out + ext(a) * ext(b)");
  auto mul = product.getDefiningOp<arith::MulIOp>();
  if (!mul)
    return fail("body is not out + ext(a) * ext(b)");
  auto lhs = matchExtension(mul.getLhs());
  auto rhs = matchExtension(mul.getRhs());
  if (!lhs || !rhs || lhs->first == rhs->first)
    return fail("operands are not two i8 inputs extended to i32");
  Contraction c;
  c.op = op;
  if (lhs->first.getArgNumber() == 0) {
    c.aSigned = lhs->second;
    c.bSigned = rhs->second;
  } else {
    c.aSigned = rhs->second;
    c.bSigned = lhs->second;
  }
  c.ranges = op.getStaticLoopRanges();
  if (llvm::any_of(c.ranges, ShapedType::isDynamic))
    return fail("dynamic shapes");
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  AffineMap aMap = maps[0], bMap = maps[1], outMap = maps[2];
  auto iterators = op.getIteratorTypesArray();
  for (unsigned dim = 0; dim < op.getNumLoops(); ++dim) {
    if (iterators[dim] == utils::IteratorType::reduction) {
      if (outMap.isFunctionOfDim(dim))
        return fail("a reduction dimension indexes the output");
      c.kDims.push_back(dim);
      continue;
    }
    c.parallelDims.push_back(dim);
    bool inA = aMap.isFunctionOfDim(dim), inB = bMap.isFunctionOfDim(dim);
    if (inA && !inB)
      c.mDims.push_back(dim);
    else if (inB && !inA)
      c.nDims.push_back(dim);
    else
      c.batchDims.push_back(dim);
  }
  // The output is indexed by the parallel dimensions in order.
  if (outMap.getNumResults() != c.parallelDims.size())
    return fail("output map is not the parallel dimensions in order");
  for (auto [result, dim] : llvm::zip(outMap.getResults(), c.parallelDims))
    if (result != getAffineDimExpr(dim, op.getContext()))
      return fail("output map is not the parallel dimensions in order");
  for (unsigned dim : c.batchDims)
    c.batch *= c.ranges[dim];
  for (unsigned dim : c.mDims)
    c.m *= c.ranges[dim];
  for (unsigned dim : c.nDims)
    c.n *= c.ranges[dim];
  for (unsigned dim : c.kDims)
    c.k *= c.ranges[dim];
  if (c.nDims.empty() || c.kDims.empty())
    return fail("no output-channel or no reduction dimension (depthwise)");
  return c;
}

/// The elementwise op that consumes the contraction's accumulators, if it
/// can run in the contraction's kernel: all-parallel, the accumulator
/// buffer read through the same indexing as its output, nothing else
/// reading that buffer afterwards and nothing between the two ops touching
/// memory.
static linalg::GenericOp findEpilogue(const Contraction &c) {
  Value acc = c.op.getDpsInits()[0];
  // Fused, the sums are never stored: the accumulator buffer must be the
  // function's own allocation, seen through no view, so that the epilogue
  // is provably its only later reader.
  if (!acc.getDefiningOp<memref::AllocOp>() ||
      acc.getParentBlock() != c.op->getBlock())
    return nullptr;
  linalg::GenericOp epilogue;
  for (Operation *user : acc.getUsers()) {
    if (isa<ViewLikeOpInterface>(user) || user->getBlock() != c.op->getBlock())
      return nullptr;
    if (user == c.op || isa<memref::DeallocOp, gpu::DeallocOp>(user))
      continue;
    // What fills it first (the bias).
    if (user->isBeforeInBlock(c.op))
      continue;
    auto generic = dyn_cast<linalg::GenericOp>(user);
    if (!generic || epilogue)
      return nullptr;
    epilogue = generic;
  }
  if (!epilogue || !epilogue.hasPureBufferSemantics() ||
      epilogue.getNumDpsInits() != 1 ||
      epilogue.getNumLoops() != c.parallelDims.size() ||
      epilogue.getNumReductionLoops() != 0)
    return nullptr;
  AffineMap identity = AffineMap::getMultiDimIdentityMap(epilogue.getNumLoops(),
                                                         c.op.getContext());
  if (epilogue.getIndexingMapsArray().back() != identity)
    return nullptr;
  bool readsAcc = false;
  for (OpOperand *input : epilogue.getDpsInputOperands()) {
    if (input->get() != acc)
      continue;
    if (epilogue.getMatchingIndexingMap(input) != identity)
      return nullptr;
    readsAcc = true;
  }
  if (!readsAcc || epilogue.getDpsInits()[0] == acc)
    return nullptr;
  // Fused, the epilogue writes while other blocks still read the operands:
  // its output must not share a buffer with them.
  auto root = [](Value value) {
    while (auto view = value.getDefiningOp<ViewLikeOpInterface>())
      value = view.getViewSource();
    return value;
  };
  Value outRoot = root(epilogue.getDpsInits()[0]);
  for (Value operand : c.op->getOperands())
    if (root(operand) == outRoot)
      return nullptr;
  for (Operation *between = c.op->getNextNode(); between != epilogue;
       between = between->getNextNode()) {
    if (isMemoryEffectFree(between) || isa<ViewLikeOpInterface>(between) ||
        isa<memref::AllocOp, memref::GetGlobalOp>(between))
      continue;
    return nullptr;
  }
  return epilogue;
}

/// The op that gives the accumulator buffer its initial value before the
/// contraction (a `linalg.fill` of a scalar; the broadcast of a bias), if
/// the kernel can compute that value itself from the output indices
/// instead of loading it: an all-parallel op on buffers writing only the
/// accumulator through the identity, not reading it, its inputs scalars
/// or constant globals (nothing can write those in between), and the
/// accumulator's only user before the contraction. The kernel then writes
/// (or, with a fused epilogue, never stores) every element, so the op is
/// dead: one launch and a read of M x N words fewer.
static linalg::LinalgOp findInitProducer(const Contraction &c) {
  Value acc = c.op.getDpsInits()[0];
  if (!acc.getDefiningOp<memref::AllocOp>())
    return nullptr;
  linalg::LinalgOp producer;
  for (Operation *user : acc.getUsers()) {
    if (user->getBlock() != c.op->getBlock() || !user->isBeforeInBlock(c.op))
      continue;
    auto linalgOp = dyn_cast<linalg::LinalgOp>(user);
    if (!linalgOp || producer)
      return nullptr;
    producer = linalgOp;
  }
  if (!producer || !producer.hasPureBufferSemantics() ||
      producer.getNumDpsInits() != 1 || producer.getDpsInits()[0] != acc ||
      producer.getNumLoops() != c.parallelDims.size() ||
      producer.getNumReductionLoops() != 0 || producer->getNumRegions() != 1 ||
      producer.getMatchingIndexingMap(producer.getDpsInitOperand(0)) !=
          AffineMap::getMultiDimIdentityMap(producer.getNumLoops(),
                                            c.op.getContext()))
    return nullptr;
  Block &body = producer->getRegion(0).front();
  if (!body.getArguments().back().use_empty())
    return nullptr;
  SymbolTableCollection symbols;
  for (Value input : producer.getDpsInputs()) {
    if (!isa<ShapedType>(input.getType()))
      continue;
    auto getGlobal = input.getDefiningOp<memref::GetGlobalOp>();
    auto global = getGlobal ? symbols.lookupNearestSymbolFrom<memref::GlobalOp>(
                                  getGlobal, getGlobal.getNameAttr())
                            : memref::GlobalOp();
    if (!global || !global.getConstant())
      return nullptr;
  }
  return producer;
}

namespace {
/// Builds the kernel of one contraction.
class KernelBuilder {
public:
  KernelBuilder(OpBuilder &b, Location loc, const Contraction &c,
                linalg::GenericOp epilogue, linalg::LinalgOp initProducer,
                const Tiling &tiling, bool asyncCopies);

  void build();

private:
  Value constant(int64_t value) {
    return arith::ConstantIndexOp::create(b, loc, value);
  }
  Value i32(int64_t value) {
    return arith::ConstantIntOp::create(b, loc, b.getI32Type(), value);
  }
  /// Splits `linear` into the indices of `dims` (row-major, the last
  /// fastest) and writes them into `iv`.
  void decompose(Value linear, ArrayRef<unsigned> dims,
                 SmallVectorImpl<Value> &iv) {
    int64_t stride = 1;
    for (unsigned dim : llvm::reverse(dims)) {
      Value index = linear;
      if (stride != 1)
        index = arith::DivUIOp::create(b, loc, index, constant(stride));
      if (dim != dims.front())
        index = arith::RemUIOp::create(b, loc, index, constant(c.ranges[dim]));
      iv[dim] = index;
      stride *= c.ranges[dim];
    }
  }
  /// Loads operand `operand` of the contraction at the iteration point
  /// `iv`.
  Value loadOperand(unsigned operand, ArrayRef<Value> iv) {
    AffineMap map = c.op.getIndexingMapsArray()[operand];
    SmallVector<Value> indices =
        *affine::expandAffineMap(b, loc, map, ValueRange(iv));
    return memref::LoadOp::create(b, loc, c.op->getOperand(operand), indices);
  }
  /// The chunks (vectors of words of four consecutive k, packed) of one
  /// operand tile that thread `tid` copies to shared memory for the k step
  /// at `k0`, loaded from global memory: zero outside the operand.
  SmallVector<Value> loadTileChunks(bool isA, Value blockStart, Value k0,
                                    Value tid);
  /// Starts the asynchronous copies (cp.async, zero-filled outside the
  /// operand) of thread `tid`'s chunks of an operand tile for the k step at
  /// `k0` into stage `stage` of the shared tile (bytes, [stage][row][k]).
  void copyTileChunksAsync(Value tile, Value stage, bool isA, Value blockStart,
                           Value k0, Value tid);
  /// Stores what loadTileChunks loaded into stage `stage` of the shared
  /// tile.
  void storeTileChunks(Value tile, Value stage, bool isA, Value tid,
                       ValueRange chunks);
  /// Chunk slot `slot` of thread `tid`: its row of the shared tile (m for
  /// A, n for B), its first word within the row, and whether the slot
  /// exists.
  std::tuple<Value, Value, Value> chunkSlot(bool isA, Value tid, int64_t slot);
  /// The chunk of operand A or B at `k` of row `global` (m or n): one
  /// vector load where the operand is contiguous along K, else four bytes
  /// gathered into one word.
  Value loadChunk(bool isA, Value global, Value k);
  /// The 4 x 4 block of a B contiguous along N at columns n..n+3 and
  /// reductions k..k+3, transposed: word j holds k..k+3 of column n + j.
  Value loadBlockAlongN(Value n, Value k);
  /// The iteration point of row `global` (clamped) and reduction index
  /// `k` of operand A or B.
  SmallVector<Value> pointAt(bool isA, Value global, Value k);
  void applyEpilogue(ArrayRef<Value> iv, Value acc);
  /// The value `op` (all-parallel, one output, the identity on it) writes
  /// at `outIndices`, computed in place: its body cloned, its inputs
  /// loaded through their maps (`accBuffer`, if one of them, is `acc`).
  Value evaluateElement(linalg::LinalgOp op, ArrayRef<Value> outIndices,
                        Value accBuffer = {}, Value acc = {});

  OpBuilder &b;
  Location loc;
  const Contraction &c;
  linalg::GenericOp epilogue;
  linalg::LinalgOp initProducer;
  const Tiling &t;
  Value batchIndex;
  /// Bytes of K each thread copies per load, for A and B: 16, 8 or 4 with
  /// one vector load where the operand is contiguous along K, else 4
  /// gathered byte by byte.
  int64_t chunkBytes[2];
  bool contiguous[2];
  /// Whether B is staged k-major from loads along N (see swizzledColumn);
  /// its chunks are then 16-byte blocks of 4 n x 4 k.
  bool bAlongN = false;
  /// Shared-memory stages of the tiles: 2 where the chunks go through
  /// registers; where both operands are contiguous along K, up to 4,
  /// filled by cp.async (see build).
  int64_t stages = 2;
  bool async = false;
};
} // namespace

/// Shared memory holds each tile as rows of 32-bit words, four consecutive
/// k per word (the first in the low byte): A as [m][k/4], B transposed as
/// [n][k/4]. A thread's fragment registers for 64 k of a row are 4
/// consecutive words (see build), one 16-byte load; a quarter warp's 8
/// such loads cover 2 rows, which fall in 32 different banks when rows
/// start 16 banks apart. With tile-k 32 (8 words per row) the loads are 8
/// bytes and a half warp covers 4 rows: rows 8 words apart.
static int64_t wordsPerRow(const Tiling &t) { return t.tileK / 4; }
/// What CUDA allows a kernel's static shared memory.
static constexpr int64_t kMaxStaticSharedBytes = 48 * 1024;
static int64_t rowStride(const Tiling &t) {
  int64_t words = wordsPerRow(t);
  if (words == 8)
    return 8;
  return words + (16 - words % 32 + 32) % 32;
}
/// Bytes of shared memory one stage of both tiles takes (at most: a
/// k-major B tile has no padding).
static int64_t stageBytes(const Tiling &t) {
  return (t.tileM + t.tileN) * rowStride(t) * 4;
}
/// Stages of cp.async-filled tiles: as many as fit, up to 4 (three steps
/// in flight while one is multiplied).
static int64_t asyncStages(const Tiling &t) {
  return std::min<int64_t>(4, kMaxStaticSharedBytes / stageBytes(t));
}

/// The largest of `candidates` (bytes, decreasing) that one aligned vector
/// load of operand `operand` (0: A, 1: B) of the contraction can copy
/// along loop dimension `dim`; 0 where none can. It can where `dim`
/// indexes the operand's innermost, unit-stride dimension and no other:
/// such a load starts at a multiple of its size in that dimension and stays
/// inside it (whose extent is a multiple of the size); it is aligned when
/// the offset and the other strides are multiples too, the buffer being a
/// device allocation (cuMemAlloc's are 256-byte aligned).
static int64_t innermostVectorBytes(const Contraction &c, unsigned operand,
                                    unsigned dim,
                                    ArrayRef<int64_t> candidates) {
  AffineMap map = c.op.getIndexingMapsArray()[operand];
  if (map.getNumResults() == 0 ||
      map.getResults().back() != getAffineDimExpr(dim, c.op.getContext()))
    return 0;
  for (AffineExpr result : map.getResults().drop_back())
    if (result.isFunctionOfDim(dim))
      return 0;
  auto type = cast<MemRefType>(c.op->getOperand(operand).getType());
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(type.getStridesAndOffset(strides, offset)) ||
      strides.back() != 1 || ShapedType::isDynamic(offset))
    return 0;
  for (int64_t bytes : candidates) {
    auto aligned = [&](int64_t value) {
      return !ShapedType::isDynamic(value) && value % bytes == 0;
    };
    if (c.ranges[dim] % bytes == 0 && aligned(offset) &&
        llvm::all_of(ArrayRef(strides).drop_back(), aligned))
      return bytes;
  }
  return 0;
}

/// Bytes of K one vector load copies from operand `operand` (0: A, 1: B),
/// 16, 8 or 4; 0 where its K is not contiguous in memory.
static int64_t contiguousChunkBytes(const Contraction &c, unsigned operand) {
  return innermostVectorBytes(c, operand, c.kDims.back(), {16, 8, 4});
}

/// Whether B is contiguous along N instead (B (k, n) of a matmul of two
/// activations): four consecutive n of one k are one aligned 4-byte load.
static bool contiguousAlongN(const Contraction &c) {
  return innermostVectorBytes(c, 1, c.nDims.back(), {4}) == 4;
}

/// The B tile of a B contiguous along N is staged k-major, [k/4][n] (word
/// (w, n) still holds k 4w..4w+3 of column n), from 4 x 4 blocks (4 k of 4
/// consecutive n, four coalesced 4-byte loads) transposed in registers into
/// four words, one 16-byte store. A thread reads its fragment registers of
/// a column as single words of rows 4t..4t+3 (per 64 k; 2t, 2t+1 for a
/// lone 32), so a warp's load touches 8 columns in 4 rows; rows are tile-n
/// words long (a multiple of 32, so all would hit the same 8 banks) and the
/// column is XOR-ed with 8 x (t of the row) to spread them over 32 banks.
/// The swizzle keeps each aligned group of 4 columns together (the 16-byte
/// stores), and a quarter warp's stores (8 consecutive groups of a row)
/// still cover 32 banks.
static Value swizzledColumn(OpBuilder &b, Location loc, Value column,
                            Value kWord, const Tiling &t) {
  auto index = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  // Words below `full` are read four per thread (t = word / 4 % 4), the
  // rest (a lone 32-wide slice) two (t = word / 2 % 4).
  int64_t full = t.tileK / 64 * 16;
  auto threadOf = [&](int64_t wordsPerThread) -> Value {
    return arith::RemUIOp::create(
        b, loc, arith::DivUIOp::create(b, loc, kWord, index(wordsPerThread)),
        index(4));
  };
  Value thread;
  if (full == 0)
    thread = threadOf(2);
  else if (full == t.tileK / 4)
    thread = threadOf(4);
  else
    thread = arith::SelectOp::create(
        b, loc,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, kWord,
                              index(full)),
        threadOf(4), threadOf(2));
  return arith::XOrIOp::create(b, loc, column,
                               arith::MulIOp::create(b, loc, thread, index(8)));
}

KernelBuilder::KernelBuilder(OpBuilder &b, Location loc, const Contraction &c,
                             linalg::GenericOp epilogue,
                             linalg::LinalgOp initProducer,
                             const Tiling &tiling, bool asyncCopies)
    : b(b), loc(loc), c(c), epilogue(epilogue), initProducer(initProducer),
      t(tiling) {
  for (unsigned operand : {0, 1}) {
    int64_t bytes = contiguousChunkBytes(c, operand);
    contiguous[operand] = bytes != 0;
    chunkBytes[operand] = bytes ? bytes : 4;
  }
  // The swizzle needs rows of a multiple of 32 words.
  bAlongN = !contiguous[1] && t.tileN % 32 == 0 && contiguousAlongN(c);
  if (bAlongN)
    chunkBytes[1] = 16; // a 4 x 4 block
  // cp.async copies bytes as they are: both tiles must be rows of K.
  async = asyncCopies && contiguous[0] && contiguous[1];
  if (async)
    stages = asyncStages(t);
}

std::tuple<Value, Value, Value> KernelBuilder::chunkSlot(bool isA, Value tid,
                                                         int64_t slot) {
  int64_t rows = isA ? t.tileM : t.tileN;
  int64_t words = chunkBytes[!isA] / 4;
  int64_t perRow = wordsPerRow(t) / words;
  Value idx = arith::AddIOp::create(b, loc, tid, constant(slot * t.threads()));
  Value row, word;
  if (!isA && bAlongN) {
    // Consecutive threads take consecutive blocks of 4 n of a row of the
    // k-major tile: coalesced along n in memory, and 16-byte stores
    // covering all banks in shared memory. `row` is the k word, `word` the
    // first column.
    int64_t groups = t.tileN / 4;
    row = arith::DivUIOp::create(b, loc, idx, constant(groups));
    word = arith::MulIOp::create(
        b, loc, arith::RemUIOp::create(b, loc, idx, constant(groups)),
        constant(4));
    Value valid = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, idx,
                                        constant(groups * wordsPerRow(t)));
    return {row, word, valid};
  }
  if (isA || contiguous[1]) {
    // Consecutive threads take consecutive chunks of a row: its k are
    // consecutive in memory when K is innermost.
    row = arith::DivUIOp::create(b, loc, idx, constant(perRow));
    word = arith::MulIOp::create(
        b, loc, arith::RemUIOp::create(b, loc, idx, constant(perRow)),
        constant(words));
  } else {
    // Consecutive threads take consecutive n: B (k, n) has n innermost.
    row = arith::RemUIOp::create(b, loc, idx, constant(t.tileN));
    word = arith::DivUIOp::create(b, loc, idx, constant(t.tileN));
  }
  Value valid = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, idx,
                                      constant(rows * perRow));
  return {row, word, valid};
}

SmallVector<Value> KernelBuilder::pointAt(bool isA, Value global, Value k) {
  int64_t extent = isA ? c.m : c.n;
  // Clamped indices keep the (discarded) loads inside the buffer.
  Value safeGlobal =
      arith::MinUIOp::create(b, loc, global, constant(extent - 1));
  SmallVector<Value> iv(c.ranges.size(), constant(0));
  decompose(batchIndex, c.batchDims, iv);
  decompose(safeGlobal, isA ? c.mDims : c.nDims, iv);
  decompose(k, c.kDims, iv);
  return iv;
}

Value KernelBuilder::loadChunk(bool isA, Value global, Value k) {
  unsigned operand = isA ? 0 : 1;
  int64_t bytes = chunkBytes[operand];
  Value rowInside = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                          global, constant(isA ? c.m : c.n));
  // Whether reduction index `kk` (with the row) is inside the operand.
  auto insideK = [&](Value kk) {
    return arith::AndIOp::create(
        b, loc, rowInside,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, kk,
                              constant(c.k)));
  };
  Type i32Type = b.getI32Type();
  auto wordsType = VectorType::get({bytes / 4}, i32Type);
  if (contiguous[operand]) {
    // The chunk is wholly inside K or wholly outside (K is a multiple of
    // its size): one aligned vector load.
    Value inside = insideK(k);
    SmallVector<Value> iv = pointAt(
        isA, global, arith::MinUIOp::create(b, loc, k, constant(c.k - bytes)));
    AffineMap map = c.op.getIndexingMapsArray()[operand];
    SmallVector<Value> indices =
        *affine::expandAffineMap(b, loc, map, ValueRange(iv));
    Value loaded =
        vector::LoadOp::create(b, loc, VectorType::get({bytes}, b.getI8Type()),
                               c.op->getOperand(operand), indices,
                               /*nontemporal=*/false, llvm::MaybeAlign(bytes));
    Value chunk = vector::BitCastOp::create(b, loc, wordsType, loaded);
    Value zero = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(wordsType, b.getI32IntegerAttr(0)));
    return arith::SelectOp::create(b, loc, inside, chunk, zero);
  }
  Value zero8 = arith::ConstantIntOp::create(b, loc, b.getI8Type(), 0);
  auto combine = [&](Value packed, Value byte, int64_t j) {
    Value wide = arith::ExtUIOp::create(b, loc, i32Type, byte);
    if (j != 0)
      wide = arith::ShLIOp::create(b, loc, wide, i32(8 * j));
    return packed ? arith::OrIOp::create(b, loc, packed, wide).getResult()
                  : wide;
  };
  unsigned innermostK = c.kDims.back();
  Value packed;
  if (c.ranges[innermostK] % 4 == 0) {
    // A word's 4 k differ only in the innermost reduction dimension (words
    // start at multiples of 4 and never cross it): one index computation,
    // and the word is wholly inside K or wholly outside.
    Value inside = insideK(k);
    SmallVector<Value> iv = pointAt(
        isA, global, arith::MinUIOp::create(b, loc, k, constant(c.k - 4)));
    Value first = iv[innermostK];
    for (int64_t j = 0; j < 4; ++j) {
      iv[innermostK] =
          j == 0
              ? first
              : arith::AddIOp::create(b, loc, first, constant(j)).getResult();
      packed = combine(packed, loadOperand(operand, iv), j);
    }
    packed = arith::SelectOp::create(b, loc, inside, packed, i32(0));
  } else {
    for (int64_t j = 0; j < 4; ++j) {
      Value kj = arith::AddIOp::create(b, loc, k, constant(j));
      SmallVector<Value> iv = pointAt(
          isA, global, arith::MinUIOp::create(b, loc, kj, constant(c.k - 1)));
      Value byte = arith::SelectOp::create(b, loc, insideK(kj),
                                           loadOperand(operand, iv), zero8);
      packed = combine(packed, byte, j);
    }
  }
  return vector::BroadcastOp::create(b, loc, wordsType, packed);
}

Value KernelBuilder::loadBlockAlongN(Value n, Value k) {
  // Inside N: the whole block or none of it (the innermost N extent is a
  // multiple of 4 and the block starts at a multiple of 4).
  Value nInside = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, n,
                                        constant(c.n));
  auto rowType = VectorType::get({4}, b.getI8Type());
  Value zero = arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(rowType, b.getI8IntegerAttr(0)));
  AffineMap map = c.op.getIndexingMapsArray()[1];
  // A block past N loads (and discards) the last one: clamped to N - 1,
  // pointAt's clamp, the load would be misaligned.
  Value safeN = arith::MinUIOp::create(b, loc, n, constant(c.n - 4));
  SmallVector<Value> rows;
  for (int64_t j = 0; j < 4; ++j) {
    Value kj = arith::AddIOp::create(b, loc, k, constant(j));
    Value inside = arith::AndIOp::create(
        b, loc, nInside,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, kj,
                              constant(c.k)));
    SmallVector<Value> iv = pointAt(
        /*isA=*/false, safeN,
        arith::MinUIOp::create(b, loc, kj, constant(c.k - 1)));
    SmallVector<Value> indices =
        *affine::expandAffineMap(b, loc, map, ValueRange(iv));
    Value loaded =
        vector::LoadOp::create(b, loc, rowType, c.op->getOperand(1), indices,
                               /*nontemporal=*/false, llvm::MaybeAlign(4));
    rows.push_back(arith::SelectOp::create(b, loc, inside, loaded, zero));
  }
  // The four rows (k) of four bytes (n), concatenated: byte 4 k + n. The
  // transpose puts byte 4 k + n at 4 n + k, so word n holds column n's
  // four k, the first in the low byte.
  const int64_t concat[] = {0, 1, 2, 3, 4, 5, 6, 7};
  Value low = vector::ShuffleOp::create(b, loc, rows[0], rows[1], concat);
  Value high = vector::ShuffleOp::create(b, loc, rows[2], rows[3], concat);
  SmallVector<int64_t> transpose;
  for (int64_t n = 0; n < 4; ++n)
    for (int64_t k = 0; k < 4; ++k)
      transpose.push_back(4 * k + n);
  Value block = vector::ShuffleOp::create(b, loc, low, high, transpose);
  return vector::BitCastOp::create(b, loc, VectorType::get({4}, b.getI32Type()),
                                   block);
}

SmallVector<Value> KernelBuilder::loadTileChunks(bool isA, Value blockStart,
                                                 Value k0, Value tid) {
  int64_t rows = isA ? t.tileM : t.tileN;
  int64_t perRow = t.tileK / chunkBytes[!isA];
  int64_t slots = llvm::divideCeil(rows * perRow, t.threads());
  SmallVector<Value> chunks;
  for (int64_t slot = 0; slot < slots; ++slot) {
    auto [row, word, valid] = chunkSlot(isA, tid, slot);
    (void)valid; // a slot past the tile loads a clamped, unused chunk
    if (!isA && bAlongN) {
      Value n = arith::AddIOp::create(b, loc, blockStart, word);
      Value k = arith::AddIOp::create(
          b, loc, k0, arith::MulIOp::create(b, loc, row, constant(4)));
      chunks.push_back(loadBlockAlongN(n, k));
      continue;
    }
    Value global = arith::AddIOp::create(b, loc, blockStart, row);
    Value k = arith::AddIOp::create(
        b, loc, k0, arith::MulIOp::create(b, loc, word, constant(4)));
    chunks.push_back(loadChunk(isA, global, k));
  }
  return chunks;
}

void KernelBuilder::storeTileChunks(Value tile, Value stage, bool isA,
                                    Value tid, ValueRange chunks) {
  int64_t rows = isA ? t.tileM : t.tileN;
  int64_t bytes = chunkBytes[!isA];
  bool exact = rows * (t.tileK / bytes) % t.threads() == 0;
  for (auto [slot, value] : llvm::enumerate(chunks)) {
    auto [row, word, valid] = chunkSlot(isA, tid, slot);
    Value column = word;
    if (!isA && bAlongN)
      column = swizzledColumn(b, loc, word, row, t);
    OpBuilder::InsertionGuard guard(b);
    if (!exact) {
      auto ifOp = scf::IfOp::create(b, loc, valid, /*withElse=*/false);
      b.setInsertionPointToStart(&ifOp.getThenRegion().front());
    }
    vector::StoreOp::create(b, loc, value, tile, ValueRange{stage, row, column},
                            /*nontemporal=*/false, llvm::MaybeAlign(bytes));
  }
}

void KernelBuilder::copyTileChunksAsync(Value tile, Value stage, bool isA,
                                        Value blockStart, Value k0, Value tid) {
  unsigned operand = isA ? 0 : 1;
  int64_t rows = isA ? t.tileM : t.tileN;
  int64_t bytes = chunkBytes[operand];
  int64_t chunks = rows * (t.tileK / bytes);
  int64_t slots = llvm::divideCeil(chunks, t.threads());
  Value extent = constant(isA ? c.m : c.n);
  for (int64_t slot = 0; slot < slots; ++slot) {
    auto [row, word, valid] = chunkSlot(isA, tid, slot);
    OpBuilder::InsertionGuard guard(b);
    if ((slot + 1) * t.threads() > chunks) {
      auto ifOp = scf::IfOp::create(b, loc, valid, /*withElse=*/false);
      b.setInsertionPointToStart(&ifOp.getThenRegion().front());
    }
    Value global = arith::AddIOp::create(b, loc, blockStart, row);
    Value k = arith::AddIOp::create(
        b, loc, k0, arith::MulIOp::create(b, loc, word, constant(4)));
    // As loadChunk: wholly inside K or wholly outside; outside (a row past
    // the operand, a step past K), the source size is 0 and the copy
    // writes zeros, from a clamped address it does not read.
    Value inside = arith::AndIOp::create(
        b, loc,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, global,
                              extent),
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, k,
                              constant(c.k)));
    SmallVector<Value> iv = pointAt(
        isA, global, arith::MinUIOp::create(b, loc, k, constant(c.k - bytes)));
    AffineMap map = c.op.getIndexingMapsArray()[operand];
    SmallVector<Value> indices =
        *affine::expandAffineMap(b, loc, map, ValueRange(iv));
    Value sourceBytes =
        arith::SelectOp::create(b, loc, inside, constant(bytes), constant(0));
    Value column = arith::MulIOp::create(b, loc, word, constant(4));
    // 16-byte copies bypass L1 (cp.async.cg): each chunk is read once per
    // block.
    nvgpu::DeviceAsyncCopyOp::create(
        b, loc, nvgpu::DeviceAsyncTokenType::get(b.getContext()), tile,
        ValueRange{stage, row, column}, c.op->getOperand(operand), indices,
        b.getIndexAttr(bytes), sourceBytes,
        bytes == 16 ? b.getUnitAttr() : UnitAttr());
  }
}

Value KernelBuilder::evaluateElement(linalg::LinalgOp op,
                                     ArrayRef<Value> outIndices,
                                     Value accBuffer, Value acc) {
  IRMapping mapping;
  Block &body = op->getRegion(0).front();
  for (OpOperand &operand : op->getOpOperands()) {
    BlockArgument arg = body.getArgument(operand.getOperandNumber());
    if (arg.use_empty())
      continue;
    if (accBuffer && operand.get() == accBuffer && op.isDpsInput(&operand)) {
      mapping.map(arg, acc);
      continue;
    }
    if (!isa<ShapedType>(operand.get().getType())) {
      mapping.map(arg, operand.get());
      continue;
    }
    AffineMap map = op.getMatchingIndexingMap(&operand);
    SmallVector<Value> indices =
        *affine::expandAffineMap(b, loc, map, ValueRange(outIndices));
    mapping.map(arg, memref::LoadOp::create(b, loc, operand.get(), indices));
  }
  for (Operation &inner : body.without_terminator()) {
    if (auto index = dyn_cast<linalg::IndexOp>(inner)) {
      mapping.map(index.getResult(), outIndices[index.getDim()]);
      continue;
    }
    b.clone(inner, mapping);
  }
  return mapping.lookupOrDefault(body.getTerminator()->getOperand(0));
}

/// The accumulator `acc` of output element `iv` (parallel dimensions set)
/// plus the output's initial value, through the epilogue, stored.
void KernelBuilder::applyEpilogue(ArrayRef<Value> iv, Value acc) {
  SmallVector<Value> outIndices;
  for (unsigned dim : c.parallelDims)
    outIndices.push_back(iv[dim]);
  Value accBuffer = c.op.getDpsInits()[0];
  Value init =
      initProducer
          ? evaluateElement(initProducer, outIndices)
          : memref::LoadOp::create(b, loc, accBuffer, outIndices).getResult();
  Value value = arith::AddIOp::create(b, loc, init, acc);
  if (!epilogue) {
    memref::StoreOp::create(b, loc, value, accBuffer, outIndices);
    return;
  }
  memref::StoreOp::create(
      b, loc, evaluateElement(epilogue, outIndices, accBuffer, value),
      epilogue.getDpsInits()[0], outIndices);
}

void KernelBuilder::build() {
  MLIRContext *context = b.getContext();
  auto workgroup =
      gpu::AddressSpaceAttr::get(context, gpu::AddressSpace::Workgroup);
  // `stages` stages of rows of rowStride words, the first wordsPerRow
  // used; filled by cp.async, as bytes (the type of what it copies).
  Type tileElement = async ? b.getI8Type() : b.getI32Type();
  int64_t elementsPerWord = async ? 4 : 1;
  auto aTileType =
      MemRefType::get({stages, t.tileM, rowStride(t) * elementsPerWord},
                      tileElement, MemRefLayoutAttrInterface(), workgroup);
  SmallVector<int64_t> bShape = {stages, t.tileN,
                                 rowStride(t) * elementsPerWord};
  if (bAlongN)
    bShape = {stages, wordsPerRow(t), t.tileN};
  auto bTileType = MemRefType::get(bShape, tileElement,
                                   MemRefLayoutAttrInterface(), workgroup);
  Value gridX = constant(llvm::divideCeil(c.n, t.tileN));
  Value gridY = constant(llvm::divideCeil(c.m, t.tileM));
  Value gridZ = constant(c.batch);
  auto launch = gpu::LaunchOp::create(
      b, loc, gridX, gridY, gridZ, constant(t.threads()), constant(1),
      constant(1), /*dynamicSharedMemorySize=*/nullptr,
      /*asyncTokenType=*/nullptr, ValueRange(),
      TypeRange{aTileType, bTileType});
  launch->setAttr("qnn.tensor_core", b.getUnitAttr());
  OpBuilder::InsertionGuard guard(b);
  Block &body = launch.getBody().front();
  b.setInsertionPointToStart(&body);
  Value aTile = launch.getWorkgroupAttributions()[0];
  Value bTile = launch.getWorkgroupAttributions()[1];
  Value tid = launch.getThreadIds().x;
  batchIndex = launch.getBlockIds().z;
  Value mStart =
      arith::MulIOp::create(b, loc, launch.getBlockIds().y, constant(t.tileM));
  Value nStart =
      arith::MulIOp::create(b, loc, launch.getBlockIds().x, constant(t.tileN));
  Value warp = arith::DivUIOp::create(b, loc, tid, constant(32));
  Value lane = arith::RemUIOp::create(b, loc, tid, constant(32));
  Value warpRow = arith::MulIOp::create(
      b, loc, arith::DivUIOp::create(b, loc, warp, constant(t.warpsN)),
      constant(t.warpM()));
  Value warpCol = arith::MulIOp::create(
      b, loc, arith::RemUIOp::create(b, loc, warp, constant(t.warpsN)),
      constant(t.warpN()));
  Value group = arith::DivUIOp::create(b, loc, lane, constant(4));
  Value inGroup = arith::RemUIOp::create(b, loc, lane, constant(4));
  Value twoT = arith::MulIOp::create(b, loc, inGroup, constant(2));

  // Double buffering, software pipelined through registers: before the
  // loop, the first k step is staged in shared-memory stage 0 and the
  // second step's chunks are loaded into registers. Step i (stage i % 2)
  // stores the chunks it carries (step i + 1) into the other stage, loads
  // step i + 2's from global memory, runs its MMAs on its own stage, and
  // ends at one barrier: the other stage was last read in step i - 1,
  // before that step's barrier, and is read next in step i + 1, after this
  // one's. The global loads are in flight during the MMAs.
  //
  // With cp.async (both operands contiguous along K), `stages` stages and
  // no chunks in registers: before the loop, steps 0 .. stages - 2 are
  // copied into their stages, one commit group each. Step i waits until
  // at most stages - 2 of its thread's groups are pending (step i's has
  // landed), then at the barrier (every thread's copies of step i have
  // landed, and every warp is done with step i - 1's stage), starts the
  // copies of step i + stages - 1 into that stage and runs its MMAs on
  // stage i % stages.
  int64_t fm = t.fragmentsM(), fn = t.fragmentsN();
  Value stage0 = constant(0);
  if (async) {
    for (int64_t step = 0; step + 1 < stages; ++step) {
      copyTileChunksAsync(aTile, constant(step), /*isA=*/true, mStart,
                          constant(step * t.tileK), tid);
      copyTileChunksAsync(bTile, constant(step), /*isA=*/false, nStart,
                          constant(step * t.tileK), tid);
      NVVM::CpAsyncCommitGroupOp::create(b, loc);
    }
  } else {
    SmallVector<Value> aFirst =
        loadTileChunks(/*isA=*/true, mStart, constant(0), tid);
    SmallVector<Value> bFirst =
        loadTileChunks(/*isA=*/false, nStart, constant(0), tid);
    storeTileChunks(aTile, stage0, /*isA=*/true, tid, aFirst);
    storeTileChunks(bTile, stage0, /*isA=*/false, tid, bFirst);
    gpu::BarrierOp::create(b, loc);
  }
  SmallVector<Value> initial(fm * fn * 4, i32(0));
  int64_t accCount = initial.size(), aCount = 0;
  if (!async) {
    SmallVector<Value> aWords =
        loadTileChunks(/*isA=*/true, mStart, constant(t.tileK), tid);
    SmallVector<Value> bWords =
        loadTileChunks(/*isA=*/false, nStart, constant(t.tileK), tid);
    aCount = aWords.size();
    llvm::append_range(initial, aWords);
    llvm::append_range(initial, bWords);
  }
  auto kLoop = scf::ForOp::create(b, loc, constant(0), constant(c.k),
                                  constant(t.tileK), initial);
  {
    OpBuilder::InsertionGuard kGuard(b);
    b.setInsertionPointToStart(kLoop.getBody());
    Value k0 = kLoop.getInductionVar();
    ValueRange carried = kLoop.getRegionIterArgs();
    SmallVector<Value> acc(carried.take_front(accCount));
    Value step = arith::DivUIOp::create(b, loc, k0, constant(t.tileK));
    Value stage = arith::RemUIOp::create(b, loc, step, constant(stages));
    SmallVector<Value> nextWords;
    if (async) {
      NVVM::CpAsyncWaitGroupOp::create(b, loc, uint32_t(stages - 2));
      gpu::BarrierOp::create(b, loc);
      // Step i + stages - 1 (past K: zeros, never read) into the stage
      // step i - 1 used.
      Value ahead = arith::RemUIOp::create(
          b, loc, arith::AddIOp::create(b, loc, step, constant(stages - 1)),
          constant(stages));
      Value aheadK =
          arith::AddIOp::create(b, loc, k0, constant((stages - 1) * t.tileK));
      copyTileChunksAsync(aTile, ahead, /*isA=*/true, mStart, aheadK, tid);
      copyTileChunksAsync(bTile, ahead, /*isA=*/false, nStart, aheadK, tid);
      NVVM::CpAsyncCommitGroupOp::create(b, loc);
    } else {
      Value otherStage = arith::SubIOp::create(b, loc, constant(1), stage);
      // Step i + 1 into the other stage (past K: zeros, never read).
      storeTileChunks(aTile, otherStage, /*isA=*/true, tid,
                      carried.slice(accCount, aCount));
      storeTileChunks(bTile, otherStage, /*isA=*/false, tid,
                      carried.drop_front(accCount + aCount));
      // Step i + 2's chunks.
      Value next = arith::AddIOp::create(b, loc, k0, constant(2 * t.tileK));
      nextWords = loadTileChunks(/*isA=*/true, mStart, next, tid);
      llvm::append_range(nextWords,
                         loadTileChunks(/*isA=*/false, nStart, next, tid));
    }
    Type i32Type = b.getI32Type();
    auto resultType = LLVM::LLVMStructType::getLiteral(
        context, {i32Type, i32Type, i32Type, i32Type});
    // The reduction order within a tile is free (the sums wrap, so any
    // order gives the same i32), and A and B read the same k: for each 64
    // k of a row, thread t takes words 4t..4t+3 with one 16-byte load and
    // uses them as its fragment words t and 4 + t of the first 32-wide
    // slice, then of the second. (A lone last slice of 32: words 2t and
    // 2t+1, one 8-byte load.)
    auto fragmentWords = [&](Value tile, Value row, int64_t firstWord,
                             int64_t count) {
      // This step's stage of the tile.
      Value column = arith::AddIOp::create(
          b, loc, arith::MulIOp::create(b, loc, inGroup, constant(count)),
          constant(firstWord));
      auto wordsType = VectorType::get({count}, b.getI32Type());
      Value words;
      if (async) {
        // A byte tile: the same 4 x count bytes, as words.
        Value bytes = vector::LoadOp::create(
            b, loc, VectorType::get({4 * count}, b.getI8Type()), tile,
            ValueRange{stage, row,
                       arith::MulIOp::create(b, loc, column, constant(4))},
            /*nontemporal=*/false, llvm::MaybeAlign(4 * count));
        words = vector::BitCastOp::create(b, loc, wordsType, bytes);
      } else {
        words = vector::LoadOp::create(
            b, loc, wordsType, tile, ValueRange{stage, row, column},
            /*nontemporal=*/false, llvm::MaybeAlign(4 * count));
      }
      SmallVector<Value, 4> elements;
      for (int64_t e = 0; e < count; ++e)
        elements.push_back(vector::ExtractOp::create(b, loc, words, e));
      return elements;
    };
    for (int64_t firstWord = 0; firstWord < wordsPerRow(t);) {
      int64_t slices = wordsPerRow(t) - firstWord >= 16 ? 2 : 1;
      int64_t count = 2 * slices;
      SmallVector<SmallVector<Value, 4>> aRows, aRows8, bCols;
      for (int64_t i = 0; i < fm; ++i) {
        Value row = arith::AddIOp::create(
            b, loc, warpRow,
            arith::AddIOp::create(b, loc, group, constant(16 * i)));
        Value row8 = arith::AddIOp::create(b, loc, row, constant(8));
        aRows.push_back(fragmentWords(aTile, row, firstWord, count));
        aRows8.push_back(fragmentWords(aTile, row8, firstWord, count));
      }
      for (int64_t j = 0; j < fn; ++j) {
        Value col = arith::AddIOp::create(
            b, loc, warpCol,
            arith::AddIOp::create(b, loc, group, constant(8 * j)));
        if (!bAlongN) {
          bCols.push_back(fragmentWords(bTile, col, firstWord, count));
          continue;
        }
        // k-major B: thread t's words of the column are rows
        // firstWord + count t + e, at the column swizzled by t (what
        // swizzledColumn computes from those rows).
        Value column = arith::XOrIOp::create(
            b, loc, col, arith::MulIOp::create(b, loc, inGroup, constant(8)));
        Value firstRow = arith::AddIOp::create(
            b, loc, arith::MulIOp::create(b, loc, inGroup, constant(count)),
            constant(firstWord));
        SmallVector<Value, 4> words;
        for (int64_t e = 0; e < count; ++e) {
          Value row = arith::AddIOp::create(b, loc, firstRow, constant(e));
          words.push_back(memref::LoadOp::create(
              b, loc, bTile, ValueRange{stage, row, column}));
        }
        bCols.push_back(words);
      }
      for (int64_t s = 0; s < slices; ++s) {
        for (int64_t i = 0; i < fm; ++i) {
          Value aRegs[] = {aRows[i][2 * s], aRows8[i][2 * s],
                           aRows[i][2 * s + 1], aRows8[i][2 * s + 1]};
          for (int64_t j = 0; j < fn; ++j) {
            Value bRegs[] = {bCols[j][2 * s], bCols[j][2 * s + 1]};
            MutableArrayRef<Value> cRegs(&acc[(i * fn + j) * 4], 4);
            auto mma = NVVM::MmaOp::create(
                b, loc, resultType, aRegs, bRegs, ValueRange(cRegs),
                ArrayRef<int64_t>{16, 8, 32}, /*b1Op=*/std::nullopt,
                NVVM::MMAIntOverflow::wrapped,
                std::array<NVVM::MMATypes, 2>{
                    c.aSigned ? NVVM::MMATypes::s8 : NVVM::MMATypes::u8,
                    c.bSigned ? NVVM::MMATypes::s8 : NVVM::MMATypes::u8},
                std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                               NVVM::MMALayout::col});
            for (int64_t r = 0; r < 4; ++r)
              cRegs[r] = LLVM::ExtractValueOp::create(b, loc, mma.getResult(),
                                                      ArrayRef<int64_t>{r});
          }
        }
      }
      firstWord += 8 * slices;
    }
    // This step's reads of its stage and writes of the other are done.
    // (With cp.async, the next step's barrier orders them.)
    if (!async)
      gpu::BarrierOp::create(b, loc);
    llvm::append_range(acc, nextWords);
    scf::YieldOp::create(b, loc, acc);
  }
  // The copies of the steps past K (zeros, never read) land before the
  // kernel exits.
  if (async)
    NVVM::CpAsyncWaitGroupOp::create(b, loc, uint32_t(0));

  // The epilogue, from the accumulator registers: element r of fragment
  // (i, j) is row g + 8 * (r / 2), column 2t + r % 2 of that 16x8 tile.
  for (int64_t i = 0; i < fm; ++i) {
    for (int64_t j = 0; j < fn; ++j) {
      for (int64_t r = 0; r < 4; ++r) {
        Value row = arith::AddIOp::create(
            b, loc, mStart,
            arith::AddIOp::create(
                b, loc, warpRow,
                arith::AddIOp::create(b, loc, group,
                                      constant(16 * i + 8 * (r / 2)))));
        Value col = arith::AddIOp::create(
            b, loc, nStart,
            arith::AddIOp::create(
                b, loc, warpCol,
                arith::AddIOp::create(b, loc, twoT, constant(8 * j + r % 2))));
        Value inside = arith::AndIOp::create(
            b, loc,
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, row,
                                  constant(c.m)),
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, col,
                                  constant(c.n)));
        auto ifOp = scf::IfOp::create(b, loc, inside, /*withElse=*/false);
        OpBuilder::InsertionGuard ifGuard(b);
        b.setInsertionPointToStart(&ifOp.getThenRegion().front());
        SmallVector<Value> iv(c.ranges.size(), Value());
        decompose(batchIndex, c.batchDims, iv);
        decompose(row, c.mDims, iv);
        decompose(col, c.nDims, iv);
        applyEpilogue(iv, kLoop.getResult((i * fn + j) * 4 + r));
      }
    }
  }
  gpu::TerminatorOp::create(b, loc);
}

namespace {
struct GPUTensorCoreContractionsPass
    : public qnn::impl::QNNGPUTensorCoreContractionsPassBase<
          GPUTensorCoreContractionsPass> {
  using Base::Base;

  void runOnOperation() override {
    Tiling tiling{tileM, tileN, tileK, warpsM, warpsN};
    if (tileM <= 0 || tileN <= 0 || tileK <= 0 || warpsM <= 0 || warpsN <= 0 ||
        tileM % (16 * warpsM) != 0 || tileN % (8 * warpsN) != 0 ||
        tileK % 32 != 0 || tiling.threads() > 1024) {
      emitError(
          getOperation().getLoc(),
          "qnn-gpu-tensor-core-contractions: tile-m must be a multiple of "
          "16 * warps-m, tile-n of 8 * warps-n, tile-k of 32, and "
          "32 * warps-m * warps-n at most 1024");
      return signalPassFailure();
    }
    // Two stages of both tiles, in static shared memory (48 KiB at most).
    int64_t sharedBytes = 2 * stageBytes(tiling);
    if (sharedBytes > kMaxStaticSharedBytes) {
      emitError(getOperation().getLoc(),
                "qnn-gpu-tensor-core-contractions: the tiles "
                "need ")
          << sharedBytes << " bytes of shared memory (two stages of "
          << "tile-m + tile-n rows of " << rowStride(tiling)
          << " words), over the " << kMaxStaticSharedBytes
          << " bytes a kernel may have statically";
      return signalPassFailure();
    }
    SmallVector<linalg::LinalgOp> named;
    getOperation().walk([&](linalg::LinalgOp op) {
      if (!isa<linalg::GenericOp>(op) && qnn::hasInt8ContractionOperands(op))
        named.push_back(op);
    });
    // Named contractions (linalg.matmul and the like, as a program or an
    // importer writes them) as the generic ops they are.
    IRRewriter rewriter(&getContext());
    for (linalg::LinalgOp op : named) {
      rewriter.setInsertionPoint(op);
      (void)linalg::generalizeNamedOp(rewriter, op);
    }
    SmallVector<linalg::GenericOp> candidates;
    getOperation().walk([&](linalg::GenericOp op) {
      if (op.getNumReductionLoops() > 0)
        candidates.push_back(op);
    });
    for (linalg::GenericOp op : candidates) {
      std::string why;
      FailureOr<Contraction> contraction = matchContraction(op, why);
      if (failed(contraction)) {
        // Only integer contractions are this strategy's; say why one was
        // left to the SIMT kernels.
        if (op.getNumDpsInits() == 1 &&
            getElementTypeOrSelf(op.getDpsInits()[0].getType()).isInteger(32))
          op.emitRemark("integer contraction not on the tensor cores: ") << why;
        continue;
      }
      // Grid y and z are at most 65535 blocks.
      if (contraction->batch > 65535 ||
          llvm::divideCeil(contraction->m, tileM) > 65535) {
        op.emitRemark("integer contraction not on the tensor cores: too "
                      "large for one grid");
        continue;
      }
      linalg::GenericOp epilogue = findEpilogue(*contraction);
      linalg::LinalgOp initProducer = findInitProducer(*contraction);
      // At the epilogue's place, where its operands are all defined.
      Operation *at = epilogue ? epilogue.getOperation() : op.getOperation();
      OpBuilder builder(at);
      KernelBuilder(builder, op.getLoc(), *contraction, epilogue, initProducer,
                    tiling, asyncCopies)
          .build();
      if (epilogue)
        epilogue.erase();
      op.erase();
      if (initProducer)
        initProducer.erase();
    }
  }
};
} // namespace
