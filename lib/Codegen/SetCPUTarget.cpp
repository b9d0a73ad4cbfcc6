//===- SetCPUTarget.cpp - qnn-set-cpu-target ------------------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Per-function target attributes, which LLVM's code generator and cost
// model read in place of the target machine's defaults.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Codegen/CPUTarget.h"
#include "quant-opt/Codegen/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/BuiltinOps.h"

namespace mlir::qnn {
#define GEN_PASS_DEF_QNNSETCPUTARGETPASS
#include "quant-opt/Codegen/Passes.h.inc"
} // namespace mlir::qnn

using namespace mlir;

namespace {
struct QNNSetCPUTargetPass
    : public qnn::impl::QNNSetCPUTargetPassBase<QNNSetCPUTargetPass> {
  using QNNSetCPUTargetPassBase::QNNSetCPUTargetPassBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (llvm::Error error = qnn::verifyCPUTargetNames(cpu, features)) {
      // About an option, not an op: no op is printed with it.
      mlir::emitError(module.getLoc())
          << "qnn-set-cpu-target: " << llvm::toString(std::move(error));
      return signalPassFailure();
    }
    MLIRContext *context = &getContext();
    module.walk([&](LLVM::LLVMFuncOp function) {
      if (function.isExternal())
        return;
      if (!cpu.empty())
        function.setTargetCpuAttr(StringAttr::get(context, cpu));
      if (!features.empty())
        function.setTargetFeaturesAttr(
            LLVM::TargetFeaturesAttr::get(context, features));
    });
  }
};
} // namespace
