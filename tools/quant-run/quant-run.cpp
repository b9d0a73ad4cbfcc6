//===- quant-run.cpp - Run quant-opt programs on NumPy arrays -------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// quant-run model.mlir -f main -i x.npy [-i y.npy ...] [-o out.npy ...]
//                      [--repeat N]
//
// Runs a function of a module at any stage (float, with quantize /
// dequantize, fused integer) on .npy inputs and writes its results as .npy
// files, or prints them when no output is named.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/InitAll.h"
#include "quant-opt/Runner/Runner.h"
#include "quant-opt/Version.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>

using namespace mlir;
namespace cl = llvm::cl;

static cl::opt<std::string> inputFile(cl::Positional, cl::Required,
                                      cl::desc("<module.mlir>"));
static cl::opt<std::string> functionName("function", cl::init("main"),
                                         cl::desc("The function to run"));
static cl::alias functionAlias("f", cl::aliasopt(functionName));
static cl::list<std::string>
    inputs("input", cl::desc("An .npy file per argument, in order"));
static cl::alias inputAlias("i", cl::aliasopt(inputs));
static cl::list<std::string>
    outputs("output",
            cl::desc("An .npy file per result, in order (printed if none)"));
static cl::alias outputAlias("o", cl::aliasopt(outputs));
static cl::opt<unsigned>
    repeat("repeat", cl::init(0),
           cl::desc("Time N calls after a warm-up and print the median"));
static cl::list<std::string> sharedLibs(
    "shared-libs", cl::CommaSeparated,
    cl::desc("More libraries to load (MLIR's runner utilities are loaded)"));

static int fail(const Twine &message) {
  llvm::errs() << "quant-run: error: " << message << "\n";
  return 1;
}

/// Prints an array as its dtype, shape and values in C order.
static void print(llvm::raw_ostream &os, const qnn::NpyArray &array) {
  os << array.dtype << " (";
  for (auto [i, size] : llvm::enumerate(array.shape))
    os << (i ? ", " : "") << size;
  os << "):";
  const char *data = array.data.data();
  for (int64_t i = 0; i < array.getNumElements(); ++i) {
    os << " ";
    auto read = [&](auto value) {
      std::memcpy(&value, data + i * sizeof(value), sizeof(value));
      return value;
    };
    StringRef dtype = array.dtype;
    // Enough digits to read the exact value back.
    if (dtype == "<f4")
      os << llvm::format("%.9g", read(float()));
    else if (dtype == "<f8")
      os << llvm::format("%.17g", read(double()));
    else if (dtype == "|i1")
      os << static_cast<int>(read(int8_t()));
    else if (dtype == "|u1" || dtype == "|b1")
      os << static_cast<int>(read(uint8_t()));
    else if (dtype == "<i2")
      os << read(int16_t());
    else if (dtype == "<u2" || dtype == "<f2")
      os << read(uint16_t());
    else if (dtype == "<i4")
      os << read(int32_t());
    else if (dtype == "<u4")
      os << read(uint32_t());
    else if (dtype == "<i8")
      os << read(int64_t());
    else
      os << read(uint64_t());
  }
  os << "\n";
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::AddExtraVersionPrinter([](llvm::raw_ostream &os) {
    os << "quant-run (quant-opt version " << QUANT_OPT_VERSION_STRING << ")\n";
  });
  cl::ParseCommandLineOptions(argc, argv,
                              "quant-run: run quant-opt programs on .npy "
                              "arrays\n");

  DialectRegistry registry;
  qnn::registerQuantOptAndUpstreamDialects(registry);
  MLIRContext context(registry);
  llvm::SourceMgr sourceMgr;
  std::string error;
  auto file = openInputFile(inputFile, &error);
  if (!file)
    return fail(error);
  sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
  SourceMgrDiagnosticHandler handler(sourceMgr, &context);
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sourceMgr, &context);
  if (!module)
    return fail("cannot parse '" + inputFile + "'");

  SmallVector<qnn::NpyArray> arrays;
  for (const std::string &path : inputs) {
    llvm::Expected<qnn::NpyArray> array = qnn::readNpy(path);
    if (!array)
      return fail(llvm::toString(array.takeError()));
    arrays.push_back(std::move(*array));
  }
  qnn::RunOptions options;
  options.function = functionName;
  options.repeat = repeat;
  // MLIR's runner utilities, so that modules may print and copy memrefs.
  options.sharedLibs = {QUANT_OPT_MLIR_LIB_DIR "/libmlir_c_runner_utils.so",
                        QUANT_OPT_MLIR_LIB_DIR "/libmlir_runner_utils.so"};
  llvm::append_range(options.sharedLibs, sharedLibs);
  SmallVector<std::string> names(inputs.begin(), inputs.end());
  llvm::Expected<qnn::RunResult> result =
      qnn::runFunction(*module, arrays, names, options);
  if (!result)
    return fail(llvm::toString(result.takeError()));

  if (!outputs.empty() && outputs.size() != result->outputs.size())
    return fail(llvm::formatv("@{0} has {1} results but {2} outputs were "
                              "named",
                              functionName, result->outputs.size(),
                              outputs.size()));
  for (auto [index, array] : llvm::enumerate(result->outputs)) {
    if (outputs.empty()) {
      llvm::outs() << "result #" << index << ": ";
      print(llvm::outs(), array);
    } else if (llvm::Error error = qnn::writeNpy(outputs[index], array)) {
      return fail(llvm::toString(std::move(error)));
    }
  }
  if (repeat > 0)
    llvm::outs() << llvm::formatv("median of {0} runs: {1:f6} s\n", repeat,
                                  result->medianSeconds);
  return 0;
}
