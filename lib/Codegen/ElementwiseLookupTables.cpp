//===- ElementwiseLookupTables.cpp - 8-bit inputs through a table --------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// In a quantized program, an activation computed in float (GELU, sigmoid,
// tanh, SiLU: dequantize, the float function, quantize, fused into one
// linalg.generic by qnn-fuse-elementwise-producers) maps an 8-bit input to
// an output through an erf or exp and two divisions per element, although
// its input takes only 256 values. This pass computes the op's body once
// for each of the 256 values (a linalg.generic over a constant of all 256
// bytes, built from the same body, so the same code computes the same
// outputs) and replaces the op by a lookup in that table (tensor.extract,
// which the vectorizer turns into a gather): what TFLite does for its int8
// logistic and tanh, without a separate table builder that could round
// differently. The reference pipeline computes every element: tests that
// compare the two show the table is exact.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Codegen/Passes.h"

#include "ElementwiseCost.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::qnn {
#define GEN_PASS_DEF_QNNELEMENTWISELOOKUPTABLESPASS
#include "quant-opt/Codegen/Passes.h.inc"
} // namespace mlir::qnn

using namespace mlir;

namespace {

/// Ops with fewer elements compute them directly: the table's 256 would
/// cost more than they save.
constexpr int64_t kMinElements = 4 * 256;

/// The type the table holds the outputs as: integers narrower than 32 bits
/// widened to i32 (gathers load 32-bit elements), floats as they are.
Type getTableElementType(Type outputType) {
  if (auto integer = dyn_cast<IntegerType>(outputType))
    return integer.getWidth() < 32
               ? IntegerType::get(outputType.getContext(), 32)
               : outputType;
  return outputType;
}

struct ElementwiseLookupTable : OpRewritePattern<linalg::GenericOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(linalg::GenericOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.hasPureTensorSemantics() || op.getNumDpsInputs() != 1 ||
        op.getNumDpsInits() != 1 ||
        op.getNumParallelLoops() != op.getNumLoops())
      return failure();
    OpOperand *input = op.getDpsInputOperand(0);
    OpOperand *init = op.getDpsInitOperand(0);
    auto inputType = dyn_cast<RankedTensorType>(input->get().getType());
    if (!inputType || !inputType.getElementType().isInteger(8))
      return failure();
    AffineMap map = op.getMatchingIndexingMap(input);
    if (map != op.getMatchingIndexingMap(init) || !map.isPermutation())
      return failure();
    if (inputType.hasStaticShape() && inputType.getNumElements() < kMinElements)
      return failure();
    Type outputType = getElementTypeOrSelf(init->get().getType());
    if (!outputType.isIntOrFloat() || outputType.getIntOrFloatBitWidth() > 64)
      return failure();

    Block &body = op.getRegion().front();
    // Each element depends on its input value only: not on its position,
    // the output's old value or memory.
    if (!body.getArgument(1).use_empty() || !qnn::hasExpensiveElementOps(body))
      return failure();
    for (Operation &nested : body.without_terminator())
      if (isa<linalg::IndexOp>(nested) || nested.getNumRegions() != 0 ||
          !isMemoryEffectFree(&nested))
        return failure();

    Location loc = op.getLoc();
    MLIRContext *context = getContext();
    Type byteType = IntegerType::get(context, 8);
    Type tableElementType = getTableElementType(outputType);
    auto tableType = RankedTensorType::get({256}, tableElementType);

    // Entry i of the table is the output for the input byte i (as an
    // unsigned number: extui of the input indexes it).
    SmallVector<APInt> bytes;
    for (unsigned value = 0; value < 256; ++value)
      bytes.push_back(APInt(8, value));
    Value allBytes = arith::ConstantOp::create(
        rewriter, loc,
        DenseElementsAttr::get(RankedTensorType::get({256}, byteType), bytes));
    Value tableInit =
        tensor::EmptyOp::create(rewriter, loc, {256}, tableElementType);
    AffineMap identity = rewriter.getMultiDimIdentityMap(1);
    Value table =
        linalg::GenericOp::create(
            rewriter, loc, TypeRange{tableType}, ValueRange{allBytes},
            ValueRange{tableInit}, ArrayRef<AffineMap>{identity, identity},
            ArrayRef<utils::IteratorType>{utils::IteratorType::parallel},
            [&](OpBuilder &b, Location nestedLoc, ValueRange args) {
              IRMapping mapping;
              mapping.map(body.getArgument(0), args[0]);
              for (Operation &nested : body.without_terminator())
                b.clone(nested, mapping);
              Value output =
                  mapping.lookupOrDefault(body.getTerminator()->getOperand(0));
              if (tableElementType != outputType)
                output = arith::ExtUIOp::create(b, nestedLoc, tableElementType,
                                                output);
              linalg::YieldOp::create(b, nestedLoc, output);
            })
            .getResult(0);

    auto lookup = linalg::GenericOp::create(
        rewriter, loc, op.getResultTypes(), ValueRange{input->get()},
        ValueRange{init->get()}, op.getIndexingMapsArray(),
        op.getIteratorTypesArray(),
        [&](OpBuilder &b, Location nestedLoc, ValueRange args) {
          Value index = arith::IndexCastUIOp::create(b, nestedLoc,
                                                     b.getIndexType(), args[0]);
          Value output = tensor::ExtractOp::create(b, nestedLoc, table, index);
          if (tableElementType != outputType)
            output = arith::TruncIOp::create(b, nestedLoc, outputType, output);
          linalg::YieldOp::create(b, nestedLoc, output);
        });
    rewriter.replaceOp(op, lookup.getResults());
    return success();
  }
};

struct ElementwiseLookupTablesPass
    : public qnn::impl::QNNElementwiseLookupTablesPassBase<
          ElementwiseLookupTablesPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    qnn::populateElementwiseLookupTablePatterns(patterns);
    // The table and the lookup ops are not rewritten again: the table has
    // 256 elements and the lookup's body is cheap.
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace

void qnn::populateElementwiseLookupTablePatterns(RewritePatternSet &patterns) {
  patterns.add<ElementwiseLookupTable>(patterns.getContext());
}
