//===- quant-opt.cpp - The quant-opt driver -------------------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// mlir-opt with the qnn dialect, quant-opt's passes and pipelines, and the
// upstream dialects and passes they work with.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/InitAll.h"
#include "quant-opt/Version.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/PrettyStackTrace.h"
#include "llvm/Support/raw_ostream.h"

int main(int argc, char **argv) {
  llvm::setBugReportMsg("PLEASE report this quant-opt crash with the input "
                        "and the command line that caused it.\n");
  llvm::cl::AddExtraVersionPrinter([](llvm::raw_ostream &os) {
    os << "quant-opt version " << QUANT_OPT_VERSION_STRING << "\n";
  });

  mlir::DialectRegistry registry;
  mlir::qnn::registerQuantOptAndUpstreamDialects(registry);
  mlir::qnn::registerQuantOptAndUpstreamPasses();

  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "quant-opt: the quant-opt quantization compiler driver\n",
      registry));
}
