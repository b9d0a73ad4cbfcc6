//===- PackContractionWeights.cpp - Constant weights, reduction innermost -===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The tensor-core kernel stages its B operand transposed, [n][k] (the
// fragment layout of mma.m16n8k32 wants 4 consecutive k of one column per
// register). Weights arrive as the program wrote them: (k, n) for a matmul,
// (kh, kw, c, f) for a convolution, with n innermost, so the kernel has to
// gather bytes across rows. Constant weights are rewritten once here, at
// compile time, into the order the kernel reads (the output dimensions
// first, the reductions innermost), and the contraction reads them through
// the permuted indexing map: same results, and B is then contiguous along
// K and staged with 16-byte loads like A.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Codegen/Passes.h"

#include "IntegerContractions.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir::qnn {
#define GEN_PASS_DEF_QNNPACKCONTRACTIONWEIGHTSPASS
#include "quant-opt/Codegen/Passes.h.inc"
} // namespace mlir::qnn

using namespace mlir;

/// `data` (of shape `shape`, row-major) with its dimensions permuted: result
/// dimension i is source dimension `permutation[i]`.
static DenseElementsAttr transpose(DenseElementsAttr data,
                                   ArrayRef<int64_t> shape,
                                   ArrayRef<int64_t> permutation,
                                   RankedTensorType resultType) {
  if (data.isSplat())
    return data.resizeSplat(resultType);
  // i8 elements: one byte each in the raw buffer.
  ArrayRef<char> source = data.getRawData();
  int64_t rank = shape.size();
  SmallVector<int64_t> sourceStrides(rank, 1);
  for (int64_t d = rank - 2; d >= 0; --d)
    sourceStrides[d] = sourceStrides[d + 1] * shape[d + 1];
  ArrayRef<int64_t> resultShape = resultType.getShape();
  std::vector<char> result(source.size());
  SmallVector<int64_t> index(rank, 0);
  for (size_t linear = 0; linear < result.size(); ++linear) {
    int64_t offset = 0;
    for (int64_t d = 0; d < rank; ++d)
      offset += index[d] * sourceStrides[permutation[d]];
    result[linear] = source[offset];
    for (int64_t d = rank - 1; d >= 0; --d) {
      if (++index[d] < resultShape[d])
        break;
      index[d] = 0;
    }
  }
  return DenseElementsAttr::getFromRawBuffer(resultType, result);
}

namespace {
struct PackContractionWeightsPass
    : public qnn::impl::QNNPackContractionWeightsPassBase<
          PackContractionWeightsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    SmallVector<linalg::GenericOp> contractions;
    module.walk([&](linalg::GenericOp op) {
      if (op.hasPureBufferSemantics() && qnn::hasInt8ContractionOperands(op))
        contractions.push_back(op);
    });
    // One packed copy per weights global and order.
    llvm::DenseMap<std::pair<Operation *, AffineMap>, memref::GlobalOp> packed;
    SetVector<memref::GlobalOp> replaced;
    for (linalg::GenericOp op : contractions) {
      OpOperand &weights = op->getOpOperand(1);
      auto getGlobal = weights.get().getDefiningOp<memref::GetGlobalOp>();
      if (!getGlobal)
        continue;
      auto global = symbols.lookup<memref::GlobalOp>(getGlobal.getName());
      if (!global || !global.getConstant() || !global.getInitialValue())
        continue;
      auto data = dyn_cast<DenseElementsAttr>(*global.getInitialValue());
      MemRefType type = global.getType();
      AffineMap map = op.getMatchingIndexingMap(&weights);
      if (!data || !type.getLayout().isIdentity() || !type.hasStaticShape() ||
          !map.isProjectedPermutation(/*allowZeroInResults=*/false))
        continue;
      // The order the kernel reads: the output (parallel) dimensions, then
      // the reductions, each in loop order.
      auto iterators = op.getIteratorTypesArray();
      SmallVector<int64_t> permutation =
          llvm::to_vector(llvm::seq<int64_t>(0, map.getNumResults()));
      auto dimOf = [&](int64_t result) { return map.getDimPosition(result); };
      llvm::stable_sort(permutation, [&](int64_t x, int64_t y) {
        bool xReduces = iterators[dimOf(x)] == utils::IteratorType::reduction;
        bool yReduces = iterators[dimOf(y)] == utils::IteratorType::reduction;
        return std::make_pair(xReduces, dimOf(x)) <
               std::make_pair(yReduces, dimOf(y));
      });
      if (llvm::equal(permutation, llvm::seq<int64_t>(0, permutation.size())))
        continue;
      SmallVector<AffineExpr> results;
      SmallVector<int64_t> shape;
      for (int64_t source : permutation) {
        results.push_back(map.getResult(source));
        shape.push_back(type.getDimSize(source));
      }
      AffineMap packedMap =
          AffineMap::get(map.getNumDims(), 0, results, op.getContext());
      memref::GlobalOp &target = packed[{global, packedMap}];
      if (!target) {
        auto tensorType = RankedTensorType::get(shape, type.getElementType());
        OpBuilder builder(global);
        builder.setInsertionPointAfter(global);
        target = memref::GlobalOp::create(
            builder, global.getLoc(), global.getSymName().str() + "_packed",
            builder.getStringAttr("private"),
            MemRefType::get(shape, type.getElementType()),
            transpose(data, type.getShape(), permutation, tensorType),
            /*constant=*/true, global.getAlignmentAttr());
        symbols.insert(target); // renamed if the name is taken
      }
      OpBuilder builder(getGlobal);
      auto read = memref::GetGlobalOp::create(
          builder, getGlobal.getLoc(), target.getType(), target.getSymName());
      weights.set(read);
      SmallVector<AffineMap> maps = op.getIndexingMapsArray();
      maps[1] = packedMap;
      op.setIndexingMapsAttr(builder.getAffineMapArrayAttr(maps));
      if (getGlobal->use_empty())
        getGlobal.erase();
      replaced.insert(global);
    }
    // The weights as written, where nothing reads them any more.
    for (memref::GlobalOp global : replaced)
      if (SymbolTable::symbolKnownUseEmpty(global, module))
        symbols.erase(global);
  }
};
} // namespace
