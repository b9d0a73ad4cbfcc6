//===- QNNDialect.h - qnn dialect declaration -------------------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Declares the `qnn` dialect and its attributes (the rounding mode).
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_OPT_DIALECT_QNN_IR_QNNDIALECT_H
#define QUANT_OPT_DIALECT_QNN_IR_QNNDIALECT_H

#include "mlir/Dialect/Quant/IR/Quant.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/IR/Attributes.h"
#include "mlir/IR/Dialect.h"

#include "quant-opt/Dialect/QNN/IR/QNNOpsDialect.h.inc"

#include "quant-opt/Dialect/QNN/IR/QNNEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "quant-opt/Dialect/QNN/IR/QNNAttrs.h.inc"

#endif // QUANT_OPT_DIALECT_QNN_IR_QNNDIALECT_H
