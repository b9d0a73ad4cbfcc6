//===- quantize-and-run.cpp - quant-opt's C++ API end to end --------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Usage: quantize-and-run MODEL.mlir STATISTICS.json [RECIPE.json]
//
// Parses a float module, quantizes it with qnn-quantize-pipeline built from
// an option struct (calibration statistics, an optional recipe), compiles
// its first function for the host CPU with the runner library (which runs
// qnn-cpu-pipeline and MLIR's JIT) and calls it on an input of
// 0.1 * (i % 17) - 0.8 for element i, printing the first result's values
// on stdout, one per line.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/InitAll.h"
#include "quant-opt/Pipelines/Pipelines.h"
#include "quant-opt/Runner/Npy.h"
#include "quant-opt/Runner/Runner.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>

using namespace mlir;

static int fail(const llvm::Twine &message) {
  llvm::errs() << "quantize-and-run: " << message << "\n";
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 3 || argc > 4)
    return fail("usage: quantize-and-run MODEL.mlir STATISTICS.json "
                "[RECIPE.json]");
  DialectRegistry registry;
  qnn::registerQuantOptAndUpstreamDialects(registry);
  MLIRContext context(registry);
  llvm::SourceMgr sourceMgr;
  OwningOpRef<ModuleOp> module =
      parseSourceFile<ModuleOp>(argv[1], sourceMgr, ParserConfig(&context));
  if (!module)
    return fail(llvm::Twine("cannot parse ") + argv[1]);

  // The pipeline-builder API: an option struct, not a pipeline string.
  qnn::QuantizePipelineOptions options;
  options.statistics = argv[2];
  if (argc == 4)
    options.recipe = argv[3];
  PassManager pm(&context);
  qnn::buildQuantizePipeline(pm, options);
  if (failed(pm.run(*module)))
    return fail("qnn-quantize-pipeline failed (see the diagnostics above)");

  auto functions = module->getOps<func::FuncOp>();
  if (functions.empty())
    return fail("the module has no function");
  func::FuncOp function = *functions.begin();
  auto inputType = dyn_cast<RankedTensorType>(function.getArgumentTypes()[0]);
  if (!inputType || !inputType.getElementType().isF32() ||
      !inputType.hasStaticShape())
    return fail("the first argument is not a static f32 tensor");

  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  qnn::CompileOptions compileOptions;
  compileOptions.function = function.getSymName().str();
  auto compiled = qnn::CompiledFunction::compile(*module, compileOptions);
  if (!compiled)
    return fail(llvm::toString(compiled.takeError()));

  qnn::NpyArray input;
  input.dtype = "<f4";
  llvm::append_range(input.shape, inputType.getShape());
  std::vector<float> values(inputType.getNumElements());
  for (size_t i = 0; i < values.size(); ++i)
    values[i] = 0.1f * static_cast<float>(i % 17) - 0.8f;
  input.data.resize(values.size() * sizeof(float));
  std::memcpy(input.data.data(), values.data(), input.data.size());
  auto results = (*compiled)->run({input}, {"generated input"});
  if (!results)
    return fail(llvm::toString(results.takeError()));
  const qnn::NpyArray &output = results->front();
  if (output.dtype != "<f4")
    return fail("the first result is not f32 but " + output.dtype);
  for (int64_t i = 0; i < output.getNumElements(); ++i) {
    float value;
    std::memcpy(&value, output.data.data() + i * sizeof(float), sizeof value);
    llvm::outs() << llvm::formatv("{0:e9}\n", value);
  }
  return 0;
}
