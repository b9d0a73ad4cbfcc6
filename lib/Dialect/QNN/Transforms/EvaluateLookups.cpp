//===- EvaluateLookups.cpp - codebook lookups of constants ----------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// A qnn.lookup whose codes and codebook are constants is the weights of a
// contraction in compact form. The canonicalizer keeps it (the codes are
// what a model stores), and fusion, which reads weights as one constant,
// evaluates it here first, with qnn.lookup's own arithmetic.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Dialect/QNN/IR/QNNOps.h"
#include "quant-opt/Dialect/QNN/Transforms/Transforms.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Matchers.h"

using namespace mlir;
using namespace mlir::qnn;

void qnn::evaluateConstantLookups(Operation *root) {
  SmallVector<LookupOp> lookups;
  root->walk([&](LookupOp op) { lookups.push_back(op); });
  for (LookupOp op : lookups) {
    Attribute codes, codebook;
    if (!matchPattern(op.getCodes(), m_Constant(&codes)) ||
        !matchPattern(op.getCodebook(), m_Constant(&codebook)))
      continue;
    DenseElementsAttr value = op.evaluate(codes, codebook);
    if (!value)
      continue;
    OpBuilder builder(op);
    Value constant;
    if (isa<quant::QuantizedType>(op.getType().getElementType()))
      constant = ConstantOp::create(builder, op.getLoc(), op.getType(), value);
    else
      constant = arith::ConstantOp::create(builder, op.getLoc(), value);
    op.replaceAllUsesWith(constant);
    op.erase();
  }
}
