//===- IntegerContractions.h - What the tensor-core kernel takes ----------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The operand test shared by qnn-pack-contraction-weights and
// qnn-gpu-tensor-core-contractions, so that the weights packed are those of
// the ops the kernel takes.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_OPT_LIB_CODEGEN_INTEGERCONTRACTIONS_H
#define QUANT_OPT_LIB_CODEGEN_INTEGERCONTRACTIONS_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"

namespace mlir::qnn {
/// Whether `op` has the operands of an integer contraction: two i8 inputs,
/// one i32 output and a reduction (its body is matched by the tensor-core
/// pass).
inline bool hasInt8ContractionOperands(linalg::LinalgOp op) {
  auto elementType = [](Value value) {
    return getElementTypeOrSelf(value.getType());
  };
  return op.getNumReductionLoops() > 0 && op.getNumDpsInputs() == 2 &&
         op.getNumDpsInits() == 1 &&
         llvm::all_of(op.getDpsInputs(),
                      [&](Value v) { return elementType(v).isInteger(8); }) &&
         elementType(op.getDpsInits()[0]).isInteger(32);
}
} // namespace mlir::qnn

#endif // QUANT_OPT_LIB_CODEGEN_INTEGERCONTRACTIONS_H
