//===- ElementwiseCost.h - What an element of a generic costs -------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The cost test shared by qnn-fuse-elementwise-producers (which repeats a
// cheap producer in each consumer) and qnn-elementwise-lookup-tables (which
// replaces an expensive op of one 8-bit input by a table), so that what one
// pass leaves to the other is the same set of ops.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_OPT_LIB_CODEGEN_ELEMENTWISECOST_H
#define QUANT_OPT_LIB_CODEGEN_ELEMENTWISECOST_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Block.h"

namespace mlir::qnn {
/// A division, a remainder or a math function (erf, exp, tanh) per
/// element: more than a table lookup costs. A requantization, a clamp or a
/// dequantization alone is cheaper to compute than to gather.
inline bool hasExpensiveElementOps(Block &body) {
  return llvm::any_of(body.getOperations(), [](Operation &op) {
    return isa<arith::DivFOp, arith::DivSIOp, arith::DivUIOp, arith::RemFOp,
               arith::RemSIOp, arith::RemUIOp>(op) ||
           isa<math::MathDialect>(op.getDialect());
  });
}
} // namespace mlir::qnn

#endif // QUANT_OPT_LIB_CODEGEN_ELEMENTWISECOST_H
