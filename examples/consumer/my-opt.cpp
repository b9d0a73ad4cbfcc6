//===- my-opt.cpp - An mlir-opt that knows quant-opt's passes -------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// What another ML compiler's driver does to use quant-opt: register the
// dialects and passes it needs next to its own, then run MLIR's opt main.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/InitAll.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  // Upstream's dialects (func, linalg, tensor, quant, ...) and quant-opt's
  // qnn; upstream's passes and quant-opt's passes and pipelines.
  mlir::qnn::registerQuantOptAndUpstreamDialects(registry);
  mlir::qnn::registerQuantOptAndUpstreamPasses();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "my-opt: quant-opt embedded\n", registry));
}
