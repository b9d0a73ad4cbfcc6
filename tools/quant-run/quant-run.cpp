//===- quant-run.cpp - Run quant-opt programs on NumPy arrays -------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// quant-run model.mlir -f main -i x.npy [-i y.npy ...] [-o out.npy ...]
//                      [--repeat N]
// quant-run instrumented.mlir -f main -i dataset.npy --calibrate stats.json
//                      [--ranges merged.json] [--bins 2048]
//
// Runs a function of a module at any stage (float, with quantize /
// dequantize, fused integer) on .npy inputs and writes its results as .npy
// files, or prints them when no output is named. With --calibrate, each
// input is a data set of samples along its first axis, run batch by batch,
// and the statistics of every qnn.observe are written as JSON
// (docs/Calibration.md).
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

#include <algorithm>
#include <chrono>
#include <cstring>

using namespace mlir;
namespace cl = llvm::cl;

static cl::OptionCategory quantRunCategory("quant-run options");

static cl::opt<std::string> inputFile(cl::Positional, cl::desc("<module.mlir>"),
                                      cl::cat(quantRunCategory));
static cl::opt<std::string> functionName("function", cl::init("main"),
                                         cl::desc("The function to run"),
                                         cl::cat(quantRunCategory));
static cl::alias functionAlias("f", cl::aliasopt(functionName));
static cl::list<std::string>
    inputs("input",
           cl::desc("An .npy file (or FILE.npz:NAME) per argument, in order"),
           cl::cat(quantRunCategory));
static cl::alias inputAlias("i", cl::aliasopt(inputs));
static cl::list<std::string>
    outputs("output",
            cl::desc("An .npy file per result, in order (printed if none)"),
            cl::cat(quantRunCategory));
static cl::alias outputAlias("o", cl::aliasopt(outputs));
static cl::opt<unsigned>
    repeat("repeat", cl::init(0),
           cl::desc("Time N calls after a warm-up and print the median"),
           cl::cat(quantRunCategory));
static cl::opt<bool> profile(
    "profile",
    cl::desc("Time each layer (the ops an op location names: an ONNX node) "
             "and print a table, slowest first: of the one run, or of the "
             "--repeat runs"),
    cl::cat(quantRunCategory));
static cl::opt<bool>
    dataset("dataset",
            cl::desc("Run the inputs as data sets (batches along the first "
                     "axis) and concatenate each result's batches"),
            cl::cat(quantRunCategory));
static cl::opt<std::string>
    calibrate("calibrate",
              cl::desc("Run the inputs as data sets (batches along the "
                       "first axis) and write the statistics of the "
                       "observers to this JSON file"),
              cl::cat(quantRunCategory));
static cl::opt<std::string>
    ranges("ranges",
           cl::desc("Histogram ranges from an earlier, merged "
                    "calibration run (so that shards merge)"),
           cl::cat(quantRunCategory));
static cl::opt<unsigned> bins("bins", cl::init(2048),
                              cl::desc("Histogram bins per observer"),
                              cl::cat(quantRunCategory));
static cl::opt<std::string>
    targetCPU("mcpu",
              cl::desc("Generate code for this CPU (an LLVM name such as "
                       "x86-64-v3 or znver3) instead of the host's; it must "
                       "run here"),
              cl::cat(quantRunCategory));
static cl::opt<std::string>
    targetFeatures("mattr",
                   cl::desc("CPU features to add or remove, e.g. "
                            "-avx512f (with or without --mcpu)"),
                   cl::cat(quantRunCategory));
static cl::opt<unsigned>
    threads("num-threads",
            cl::desc("Threads the matmul and convolution kernels run on "
                     "(OpenMP; default 1)"),
            cl::init(1), cl::cat(quantRunCategory));
static cl::opt<unsigned>
    optLevel("O",
             cl::desc("LLVM optimization level, 0 to 3 (default 3); results "
                      "do not depend on it, compile time and speed do"),
             cl::Prefix, cl::init(3), cl::cat(quantRunCategory));
static cl::opt<bool> verifyEach(
    "verify-each",
    cl::desc("Verify the IR after each pass of the lowering, as mlir-opt "
             "does (default); =0: once, after the whole lowering (faster)"),
    cl::init(true), cl::cat(quantRunCategory));
static cl::opt<unsigned> parallelBatches(
    "parallel-batches",
    cl::desc("With --dataset or --calibrate: batches run at the same time, "
             "on as many threads (default 1; results do not depend on it)"),
    cl::init(1), cl::cat(quantRunCategory));
static cl::opt<std::string>
    dumpObject("dump-object",
               cl::desc("Write the machine code the JIT generated to this "
                        "object file (for llvm-objdump -d)"),
               cl::cat(quantRunCategory));
enum class Pipeline { CPU, Reference };
static cl::opt<Pipeline> pipeline(
    "pipeline", cl::desc("How to lower the module for the CPU"),
    cl::init(Pipeline::CPU),
    cl::values(clEnumValN(Pipeline::CPU, "cpu",
                          "qnn-cpu-pipeline: tiled and vectorized (default)"),
               clEnumValN(Pipeline::Reference, "reference",
                          "qnn-reference-cpu-pipeline: scalar loops")),
    cl::cat(quantRunCategory));
static cl::opt<qnn::Device> device(
    "device", cl::desc("Where to run"), cl::init(qnn::Device::CPU),
    cl::values(clEnumValN(qnn::Device::CPU, "cpu", "this CPU (default)"),
               clEnumValN(qnn::Device::CUDA, "cuda",
                          "an NVIDIA GPU, through quant-opt's CUDA runtime "
                          "(docs/GPU.md)"),
               clEnumValN(qnn::Device::CUDAEmulator, "cuda-emulator",
                          "the GPU pipeline's kernels on this CPU, through "
                          "quant-opt's GPU emulator (slow; for testing the "
                          "GPU code without a GPU, docs/GPU.md)")),
    cl::cat(quantRunCategory));
static cl::opt<std::string>
    gpuChip("gpu-chip", cl::init("sm_90"),
            cl::desc("With --device=cuda: the architecture to compile the "
                     "kernels for, sm_80 or sm_90 (the driver runs a fatbin's "
                     "PTX on newer ones)"),
            cl::cat(quantRunCategory));
static cl::opt<std::string> cudaRuntime(
    "cuda-runtime",
    cl::desc("With --device=cuda: the CUDA runtime library to load (default: "
             "the one built with quant-run)"),
    cl::cat(quantRunCategory));
static cl::opt<std::string> gpuPipelineOptions(
    "gpu-pipeline-options",
    cl::desc("With --device=cuda or cuda-emulator: more qnn-gpu-pipeline "
             "options, as in its option string (\"tile-m=128 tile-n=128 "
             "warps-n=4\", \"tensor-cores=false\"); docs/GPU.md"),
    cl::cat(quantRunCategory));
static cl::opt<bool> upstreamGPUPipeline(
    "upstream-gpu-pipeline",
    cl::desc("With --device=cuda or --print-gpu-pipeline: lower with "
             "upstream's gpu-lower-to-nvvm-pipeline even where "
             "qnn-gpu-pipeline exists (programs with their own gpu.launch "
             "and copies)"),
    cl::cat(quantRunCategory));
static cl::opt<bool> compileOnly(
    "compile-only",
    cl::desc("Lower and JIT-compile the function, then stop: nothing runs "
             "and no input is needed (with --device=cuda, no GPU is needed)"),
    cl::cat(quantRunCategory));
static cl::opt<bool> printGPUPipeline(
    "print-gpu-pipeline",
    cl::desc("Print the pass pipeline --device=cuda lowers with (for "
             "--gpu-chip) and exit"),
    cl::cat(quantRunCategory));
static cl::list<std::string> sharedLibs(
    "shared-libs", cl::CommaSeparated,
    cl::desc("More libraries to load (MLIR's runner utilities are loaded)"),
    cl::cat(quantRunCategory));

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
    else if (dtype == "<f2") // the bits, as stored
      os << read(uint16_t());
    else if (dtype == "<u8")
      os << read(uint64_t());
    else
      os << array.getIntegerElement(i);
  }
  os << "\n";
}

/// Prints progress through the batches: about ten lines per pass.
static void reportProgress(StringRef what, int64_t done, int64_t total) {
  if (done % std::max<int64_t>(1, total / 10) == 0 || done == total)
    llvm::errs() << llvm::formatv("{0}: {1}/{2} batches\n", what, done, total);
}

/// Runs every batch of the data sets twice (ranges, then histograms) and
/// writes the observers' statistics.
static int runCalibration(qnn::CompiledFunction &function,
                          ArrayRef<qnn::NpyArray> datasets,
                          ArrayRef<std::string> names) {
  qnn::CalibrationStatistics priorRanges;
  if (!ranges.empty()) {
    auto read = qnn::readCalibrationStatistics(ranges);
    if (!read)
      return fail(llvm::toString(read.takeError()));
    priorRanges = std::move(*read);
    // Shards merge only if every observer's histogram has the same range.
    for (const std::string &id : function.getObserverIds())
      if (!priorRanges.count(id))
        return fail(llvm::formatv("--ranges file '{0}' has no tensor '{1}' "
                                  "(it must come from a run of the same "
                                  "instrumented model)",
                                  ranges, id));
  }
  auto statistics = qnn::calibrate(function, datasets, names, bins,
                                   ranges.empty() ? nullptr : &priorRanges,
                                   reportProgress, parallelBatches);
  if (!statistics)
    return fail(llvm::toString(statistics.takeError()));
  if (llvm::Error error =
          qnn::writeCalibrationStatistics(calibrate, *statistics))
    return fail(llvm::toString(std::move(error)));
  return 0;
}

/// The time per layer of a profiled run, slowest first, per call.
static void printLayerProfile(const qnn::CompiledFunction &compiled,
                              unsigned calls) {
  SmallVector<qnn::LayerTime> layers = compiled.getLayerProfile();
  double total = 0;
  for (const qnn::LayerTime &layer : layers)
    total += layer.seconds;
  llvm::stable_sort(layers, [](const auto &a, const auto &b) {
    return a.seconds > b.seconds;
  });
  llvm::outs() << llvm::formatv("time per layer, per call ({0} call{1}):\n",
                                calls, calls == 1 ? "" : "s");
  llvm::outs() << "        ms       %  layer\n";
  for (const qnn::LayerTime &layer : layers)
    llvm::outs() << llvm::formatv(
        "{0,10:f4}  {1,5:f1}%  {2}\n", 1e3 * layer.seconds / calls,
        total > 0 ? 100 * layer.seconds / total : 0.0, layer.layer);
  llvm::outs() << llvm::formatv("{0,10:f4}  100.0%  total of {1} layers\n",
                                1e3 * total / calls, layers.size());
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::AddExtraVersionPrinter([](llvm::raw_ostream &os) {
    os << "quant-run (quant-opt version " << QUANT_OPT_VERSION_STRING << ")\n";
  });
  cl::HideUnrelatedOptions(quantRunCategory);
  cl::ParseCommandLineOptions(argc, argv,
                              "quant-run: run quant-opt programs on .npy "
                              "arrays\n");
  if (printGPUPipeline) {
    // The pipeline is chosen among the registered ones.
    qnn::registerQuantOptAndUpstreamPasses();
    llvm::outs() << qnn::getGPUPipeline(gpuChip, upstreamGPUPipeline, "fatbin",
                                        gpuPipelineOptions)
                 << "\n";
    return 0;
  }
  if (inputFile.empty())
    return fail("no input module (quant-run <module.mlir> ...)");
  // Programs run here call malloc for their intermediate tensors, and
  // --repeat, calibration and quant-eval call them many times.
  qnn::keepFreedMemoryForReuse();
  // Each observer holds `bins` 64-bit counters: bound them before they size
  // an allocation.
  if (bins == 0 || bins > qnn::kMaxHistogramBins)
    return fail(llvm::formatv("--bins must be from 1 to {0}, got {1}",
                              qnn::kMaxHistogramBins, bins.getValue()));

  // --device=cuda names its pipeline in text (qnn::getGPUPipeline).
  bool gpu = device == qnn::Device::CUDA || device == qnn::Device::CUDAEmulator;
  if (gpu)
    qnn::registerQuantOptAndUpstreamPasses();
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
    llvm::Expected<qnn::NpyArray> array = qnn::readArray(path);
    if (!array)
      return fail(llvm::toString(array.takeError()));
    arrays.push_back(std::move(*array));
  }
  qnn::CompileOptions options;
  options.referencePipeline = pipeline == Pipeline::Reference;
  options.function = functionName;
  options.cpu = targetCPU;
  options.features = targetFeatures;
  options.keepObject = !dumpObject.empty();
  constexpr unsigned kMaxThreads = 1024;
  if (threads < 1 || threads > kMaxThreads)
    return fail(llvm::formatv("--num-threads must be from 1 to {0}, got {1}",
                              kMaxThreads, unsigned(threads)));
  options.threads = threads;
  options.device = device;
  options.gpuChip = gpuChip;
  options.upstreamGPUPipeline = upstreamGPUPipeline;
  options.gpuPipelineOptions = gpuPipelineOptions;
  options.cudaRuntime = cudaRuntime;
  if (cudaRuntime.empty())
    options.cudaRuntime = device == qnn::Device::CUDAEmulator
                              ? QUANT_OPT_GPU_EMULATOR
                              : QUANT_OPT_CUDA_RUNTIME;
  options.checkDevice = !compileOnly;
  options.optLevel = optLevel;
  options.verifyEachPass = verifyEach;
  options.profile = profile;
  if (profile && (dataset || !calibrate.empty() || compileOnly))
    return fail("--profile times one run or the --repeat runs; it does not "
                "go with --dataset, --calibrate or --compile-only");
  if (parallelBatches < 1 || parallelBatches > qnn::kMaxParallelBatches)
    return fail(llvm::formatv("--parallel-batches must be from 1 to {0}, got "
                              "{1}",
                              qnn::kMaxParallelBatches,
                              unsigned(parallelBatches)));
  // MLIR's runner utilities, so that modules may print and copy memrefs.
  options.sharedLibs = {QUANT_OPT_MLIR_LIB_DIR "/libmlir_c_runner_utils.so",
                        QUANT_OPT_MLIR_LIB_DIR "/libmlir_runner_utils.so"};
  llvm::append_range(options.sharedLibs, sharedLibs);
  auto compiled = qnn::CompiledFunction::compile(*module, options);
  if (!compiled)
    return fail(llvm::toString(compiled.takeError()));
  if (compileOnly) {
    llvm::outs() << "compiled @" << functionName << " for "
                 << (gpu ? (device == qnn::Device::CUDA ? "cuda ("
                                                        : "cuda-emulator (") +
                               gpuChip.getValue() + ")"
                         : std::string("the cpu"))
                 << "\n";
    if (!dumpObject.empty())
      (*compiled)->dumpObject(dumpObject);
    return 0;
  }
  SmallVector<std::string> names(inputs.begin(), inputs.end());
  if (!calibrate.empty()) {
    int status = runCalibration(**compiled, arrays, names);
    if (status == 0 && !dumpObject.empty())
      (*compiled)->dumpObject(dumpObject);
    return status;
  }
  SmallVector<qnn::NpyArray> result;
  if (dataset) {
    auto results = qnn::runDataset(**compiled, arrays, names, reportProgress,
                                   parallelBatches);
    if (!results)
      return fail(llvm::toString(results.takeError()));
    result = std::move(*results);
  } else {
    auto results = (*compiled)->run(arrays, names);
    if (!results)
      return fail(llvm::toString(results.takeError()));
    result = std::move(*results);
  }
  if (!dumpObject.empty())
    (*compiled)->dumpObject(dumpObject);
  if (!outputs.empty() && outputs.size() != result.size())
    return fail(llvm::formatv("@{0} has {1} results but {2} outputs were "
                              "named",
                              functionName, result.size(), outputs.size()));
  for (auto [index, array] : llvm::enumerate(result)) {
    if (outputs.empty()) {
      llvm::outs() << "result #" << index << ": ";
      print(llvm::outs(), array);
    } else if (llvm::Error error = qnn::writeNpy(outputs[index], array)) {
      return fail(llvm::toString(std::move(error)));
    }
  }
  if (repeat > 0) {
    // The first call was the warm-up.
    if (profile)
      (*compiled)->resetLayerProfile();
    std::vector<double> times;
    for (unsigned i = 0; i < repeat; ++i) {
      auto start = std::chrono::steady_clock::now();
      if (llvm::Error error = (*compiled)->rerun())
        return fail(llvm::toString(std::move(error)));
      times.push_back(std::chrono::duration<double>(
                          std::chrono::steady_clock::now() - start)
                          .count());
    }
    std::sort(times.begin(), times.end());
    // Nanoseconds: a small layer runs in microseconds.
    llvm::outs() << llvm::formatv("median of {0} runs: {1:f9} s\n", repeat,
                                  times[times.size() / 2]);
  }
  if (profile)
    printLayerProfile(**compiled, std::max(1u, unsigned(repeat)));
  return 0;
}
