//===- FoldRequantize.cpp - quantize(dequantize) pairs --------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// quantize(dequantize(q)) into another type is qnn.requantize.
//
//===----------------------------------------------------------------------===//

#include "FusionMatchers.h"

#include "quant-opt/Dialect/QNN/IR/QNNOps.h"
#include "quant-opt/Dialect/QNN/IR/QNNSemantics.h"
#include "quant-opt/Dialect/QNN/Transforms/Transforms.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Quant/IR/Quant.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"

#include <cmath>

using namespace mlir;
using namespace mlir::qnn;
using namespace mlir::qnn::fusion;

namespace {

/// quantize(dequantize(q)) into another type is by definition requantize.
struct DequantizeQuantizeToRequantize : public OpRewritePattern<QuantizeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(QuantizeOp quantize,
                                PatternRewriter &rewriter) const override {
    auto dequantize = quantize.getInput().getDefiningOp<DequantizeOp>();
    if (!dequantize || dequantize.getInput().getType() == quantize.getType())
      return failure();
    rewriter.replaceOpWithNewOp<RequantizeOp>(quantize, quantize.getType(),
                                              dequantize.getInput(),
                                              quantize.getRounding());
    return success();
  }
};

} // namespace

void qnn::populateFoldRequantizePatterns(RewritePatternSet &patterns) {
  patterns.add<DequantizeQuantizeToRequantize>(patterns.getContext());
}
