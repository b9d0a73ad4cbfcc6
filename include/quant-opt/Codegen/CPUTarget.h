//===- CPUTarget.h - LLVM CPU names and features, checked -------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// What qnn-set-cpu-target and quant-run --mcpu/--mattr share: checking an
// LLVM CPU name and a feature list against the host target's tables, since
// LLVM only warns about unknown names and then ignores them.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_OPT_CODEGEN_CPUTARGET_H
#define QUANT_OPT_CODEGEN_CPUTARGET_H

#include "mlir/Support/LLVM.h"
#include "llvm/Support/Error.h"

#include <memory>

namespace llvm {
class MCSubtargetInfo;
} // namespace llvm

namespace mlir::qnn {

/// LLVM's description of `cpu` with `features` (a feature string such as
/// "+avx2,-avx512f") on the host's target (x86-64): its feature bits and
/// the tables of every CPU and feature name. Names are not checked here.
llvm::Expected<std::unique_ptr<llvm::MCSubtargetInfo>>
createSubtargetInfo(StringRef cpu, StringRef features);

/// createSubtargetInfo for the CPU code is generated for: `cpu` with
/// `features`, or, if `cpu` is empty, the host's CPU with every feature the
/// host query reports and then `features` (what the JIT targets).
llvm::Expected<std::unique_ptr<llvm::MCSubtargetInfo>>
createTargetSubtargetInfo(StringRef cpu, StringRef features);

/// Success if `cpu` (may be empty) is a CPU and every item of `features`
/// (a comma list, may be empty) is `+name` or `-name` with a feature name
/// of the host's target (x86-64); else an error saying which is not.
llvm::Error verifyCPUTargetNames(StringRef cpu, StringRef features);

} // namespace mlir::qnn

#endif // QUANT_OPT_CODEGEN_CPUTARGET_H
