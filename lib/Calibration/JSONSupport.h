//===- JSONSupport.h - Strict JSON reading for quant-opt files --*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// What the statistics and recipe readers share: unknown keys are errors, so
// that a misspelt key never falls back to a default silently.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_OPT_LIB_CALIBRATION_JSONSUPPORT_H
#define QUANT_OPT_LIB_CALIBRATION_JSONSUPPORT_H

#include "mlir/Support/LLVM.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/JSON.h"

namespace mlir::qnn::detail {

/// Reports "unknown key" at the first key of `object` not in `allowed`.
inline bool checkKeys(const llvm::json::Object &object,
                      ArrayRef<StringRef> allowed, llvm::json::Path path) {
  for (const auto &entry : object) {
    if (!llvm::is_contained(allowed, StringRef(entry.first))) {
      path.field(entry.first).report("unknown key");
      return false;
    }
  }
  return true;
}

} // namespace mlir::qnn::detail

#endif // QUANT_OPT_LIB_CALIBRATION_JSONSUPPORT_H
