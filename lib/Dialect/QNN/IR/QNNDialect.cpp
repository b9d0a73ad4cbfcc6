//===- QNNDialect.cpp - qnn dialect registration --------------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Dialect/QNN/IR/QNNDialect.h"
#include "quant-opt/Dialect/QNN/IR/QNNOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::qnn;

#include "quant-opt/Dialect/QNN/IR/QNNOpsDialect.cpp.inc"

#include "quant-opt/Dialect/QNN/IR/QNNEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "quant-opt/Dialect/QNN/IR/QNNAttrs.cpp.inc"

void QNNDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "quant-opt/Dialect/QNN/IR/QNNAttrs.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "quant-opt/Dialect/QNN/IR/QNNOps.cpp.inc"
      >();
}

Operation *QNNDialect::materializeConstant(OpBuilder &builder, Attribute value,
                                           Type type, Location loc) {
  // Folders produce the stored values of a quantized tensor.
  auto storedValues = dyn_cast<ElementsAttr>(value);
  auto tensorType = dyn_cast<RankedTensorType>(type);
  if (!storedValues || !tensorType ||
      !isa<quant::QuantizedType>(tensorType.getElementType()))
    return nullptr;
  return ConstantOp::create(builder, loc, tensorType, storedValues);
}
