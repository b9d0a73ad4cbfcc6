//===- QuantOptModule.cpp - quant-opt in process, from Python -------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The Python extension `_quant_opt` (wrapped by python/quant_opt/native.py):
// runs pass pipelines on module text and compiles functions with the runner
// library, so that Python calls quant-opt without a subprocess, a file or a
// new JIT per batch. Arrays cross as NumPy arrays (their dtype string is the
// .npy dtype the runner takes). Errors raise RuntimeError with MLIR's
// diagnostics.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/InitAll.h"
#include "quant-opt/Runner/Npy.h"
#include "quant-opt/Runner/Runner.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>

namespace py = pybind11;
using namespace mlir;

namespace {

/// A context with every dialect quant-opt and its pipelines use.
std::unique_ptr<MLIRContext> makeContext() {
  DialectRegistry registry;
  qnn::registerQuantOptAndUpstreamDialects(registry);
  auto context = std::make_unique<MLIRContext>(registry);
  context->loadAllAvailableDialects();
  return context;
}

/// Collects the diagnostics emitted while it lives, to raise them.
struct DiagnosticCollector {
  explicit DiagnosticCollector(MLIRContext &context)
      : handler(&context, [this](Diagnostic &diagnostic) {
          if (diagnostic.getSeverity() == DiagnosticSeverity::Error) {
            llvm::raw_string_ostream os(errors);
            os << diagnostic.getLocation() << ": error: " << diagnostic;
            for (Diagnostic &note : diagnostic.getNotes())
              os << "\n" << note.getLocation() << ": note: " << note;
            os << "\n";
          }
          return success();
        }) {}
  [[noreturn]] void raise(const std::string &what) {
    throw std::runtime_error(what + (errors.empty() ? "" : ":\n" + errors));
  }
  std::string errors;
  ScopedDiagnosticHandler handler;
};

OwningOpRef<ModuleOp> parse(MLIRContext &context, const std::string &source,
                            DiagnosticCollector &diagnostics,
                            StringRef sourceName = "-") {
  OwningOpRef<ModuleOp> module =
      parseSourceString<ModuleOp>(source, ParserConfig(&context), sourceName);
  if (!module)
    diagnostics.raise("cannot parse the module");
  return module;
}

/// Runs `pipeline` (passes as quant-opt's command line names them, without
/// the dashes: "qnn-insert-observers,canonicalize",
/// "qnn-quantize-pipeline{statistics=s.json}") on `source` (named
/// `sourceName` in locations); returns the result with locations (they
/// carry the layer names).
std::string runPipeline(const std::string &source, const std::string &pipeline,
                        const std::string &sourceName) {
  std::unique_ptr<MLIRContext> context = makeContext();
  DiagnosticCollector diagnostics(*context);
  OwningOpRef<ModuleOp> module =
      parse(*context, source, diagnostics, sourceName);
  PassManager pm(context.get(), ModuleOp::getOperationName(),
                 OpPassManager::Nesting::Implicit);
  std::string parseErrors;
  llvm::raw_string_ostream errorStream(parseErrors);
  if (failed(parsePassPipeline(pipeline, pm, errorStream)))
    throw std::invalid_argument("bad pass pipeline '" + pipeline +
                                "': " + parseErrors);
  if (failed(pm.run(*module)))
    diagnostics.raise("the pipeline '" + pipeline + "' failed");
  std::string text;
  llvm::raw_string_ostream os(text);
  module->print(os, OpPrintingFlags().enableDebugInfo());
  os << "\n"; // As quant-opt ends its output.
  return text;
}

qnn::NpyArray toNpy(const py::handle &object) {
  auto array = py::array::ensure(object, py::array::c_style);
  if (!array)
    throw std::invalid_argument("expected a NumPy array");
  qnn::NpyArray result;
  result.dtype = py::str(array.dtype().attr("str"));
  for (py::ssize_t axis = 0; axis < array.ndim(); ++axis)
    result.shape.push_back(array.shape(axis));
  result.data.resize(array.nbytes());
  if (array.nbytes())
    std::memcpy(result.data.data(), array.data(), array.nbytes());
  return result;
}

/// A NumPy array of `array`'s data, which it takes over (no copy).
py::array toNumPy(qnn::NpyArray &&array) {
  std::vector<py::ssize_t> shape(array.shape.begin(), array.shape.end());
  auto *data = new std::vector<char>(std::move(array.data));
  py::capsule owner(data, [](void *pointer) {
    delete static_cast<std::vector<char> *>(pointer);
  });
  return py::array(py::dtype(array.dtype), shape, data->data(), owner);
}

std::vector<qnn::NpyArray> toNpyList(const py::sequence &arrays) {
  std::vector<qnn::NpyArray> result;
  // Reserved: growing would copy every array before (NpyArray's move
  // may throw, so std::vector copies).
  result.reserve(py::len(arrays));
  for (py::handle array : arrays)
    result.push_back(toNpy(array));
  return result;
}

py::list toNumPyList(MutableArrayRef<qnn::NpyArray> arrays) {
  py::list result;
  for (qnn::NpyArray &array : arrays)
    result.append(toNumPy(std::move(array)));
  return result;
}

SmallVector<std::string> argumentNames(size_t count) {
  SmallVector<std::string> names;
  for (size_t i = 0; i < count; ++i)
    names.push_back("argument #" + std::to_string(i));
  return names;
}

/// A function compiled for this CPU; owns the context its types live in.
class Program {
public:
  Program(const std::string &source, const std::string &function,
          bool reference, const std::string &cpu, const std::string &features,
          unsigned threads, unsigned optLevel, bool verifyEach, bool profile)
      : context(makeContext()), profile(profile) {
    // Nothing here touches Python: other threads run (or compile) while
    // this compiles.
    py::gil_scoped_release release;
    DiagnosticCollector diagnostics(*context);
    OwningOpRef<ModuleOp> module = parse(*context, source, diagnostics);
    qnn::CompileOptions options;
    options.function = function;
    options.referencePipeline = reference;
    options.cpu = cpu;
    options.features = features;
    options.threads = threads;
    options.optLevel = optLevel;
    options.verifyEachPass = verifyEach;
    options.profile = profile;
    auto compiled = qnn::CompiledFunction::compile(*module, options);
    if (!compiled)
      diagnostics.raise(llvm::toString(compiled.takeError()));
    this->compiled = std::move(*compiled);
  }

  py::list call(const py::args &arrays) {
    std::vector<qnn::NpyArray> inputs = toNpyList(arrays);
    llvm::Expected<SmallVector<qnn::NpyArray>> results = [&] {
      py::gil_scoped_release release;
      return compiled->run(inputs, argumentNames(inputs.size()));
    }();
    if (!results)
      throw std::runtime_error(llvm::toString(results.takeError()));
    return toNumPyList(*results);
  }

  py::list runDataset(const py::sequence &datasets, unsigned parallelBatches) {
    checkParallelBatches(parallelBatches);
    checkDatasetList(datasets);
    std::vector<qnn::NpyArray> inputs = toNpyList(datasets);
    llvm::Expected<SmallVector<qnn::NpyArray>> results = [&] {
      py::gil_scoped_release release;
      return qnn::runDataset(*compiled, inputs, argumentNames(inputs.size()),
                             {}, parallelBatches);
    }();
    if (!results)
      throw std::runtime_error(llvm::toString(results.takeError()));
    return toNumPyList(*results);
  }

  void calibrate(const py::sequence &datasets, const std::string &output,
                 unsigned bins, const std::string &ranges,
                 unsigned parallelBatches) {
    checkParallelBatches(parallelBatches);
    checkDatasetList(datasets);
    // (quant-run --bins's bound: each observer holds `bins` counters.)
    if (bins < 1 || bins > qnn::kMaxHistogramBins)
      throw std::invalid_argument("bins must be from 1 to " +
                                  std::to_string(qnn::kMaxHistogramBins) +
                                  ", got " + std::to_string(bins));
    std::vector<qnn::NpyArray> inputs = toNpyList(datasets);
    qnn::CalibrationStatistics priorRanges;
    if (!ranges.empty()) {
      auto read = qnn::readCalibrationStatistics(ranges);
      if (!read)
        throw std::runtime_error(llvm::toString(read.takeError()));
      priorRanges = std::move(*read);
    }
    llvm::Expected<qnn::CalibrationStatistics> statistics = [&] {
      py::gil_scoped_release release;
      return qnn::calibrate(*compiled, inputs, argumentNames(inputs.size()),
                            bins, ranges.empty() ? nullptr : &priorRanges, {},
                            parallelBatches);
    }();
    if (!statistics)
      throw std::runtime_error(llvm::toString(statistics.takeError()));
    if (llvm::Error error =
            qnn::writeCalibrationStatistics(output, *statistics))
      throw std::runtime_error(llvm::toString(std::move(error)));
  }

  /// Each layer's (name, seconds, entries) since compiling or the last
  /// reset, in the program's order.
  py::list layerProfile() const {
    py::list result;
    for (const qnn::LayerTime &layer : compiled->getLayerProfile())
      result.append(py::make_tuple(layer.layer, layer.seconds, layer.entries));
    return result;
  }

  void resetLayerProfile() const { compiled->resetLayerProfile(); }

  std::vector<std::string> observerIds() const {
    ArrayRef<std::string> ids = compiled->getObserverIds();
    return {ids.begin(), ids.end()};
  }

private:
  /// One array per argument: an array passed alone would be read as a
  /// list of its rows, one data set each.
  static void checkDatasetList(const py::sequence &datasets) {
    if (py::isinstance<py::array>(datasets))
      throw std::invalid_argument(
          "datasets is a list of arrays, one per argument (samples along "
          "each one's first axis), not one array: pass [x]");
  }

  void checkParallelBatches(unsigned parallelBatches) const {
    // The layer counters are the process's: one run at a time.
    if (profile && parallelBatches != 1)
      throw std::invalid_argument("a profiled program runs one batch at a "
                                  "time: parallel_batches must be 1, got " +
                                  std::to_string(parallelBatches));
    if (parallelBatches < 1 || parallelBatches > qnn::kMaxParallelBatches)
      throw std::invalid_argument("parallel_batches must be from 1 to " +
                                  std::to_string(qnn::kMaxParallelBatches) +
                                  ", got " + std::to_string(parallelBatches));
  }

  std::unique_ptr<MLIRContext> context;
  bool profile;
  std::unique_ptr<qnn::CompiledFunction> compiled;
};

} // namespace

PYBIND11_MODULE(_quant_opt, m) {
  m.doc() = "quant-opt's pipelines and runner, in process";
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  qnn::registerQuantOptAndUpstreamPasses();

  m.def("run_pipeline", &runPipeline, py::arg("source"), py::arg("pipeline"),
        py::arg("source_name") = "-",
        "Runs a pass pipeline (quant-opt's pass names, comma-separated, "
        "options in braces) on module text; returns the result with "
        "locations.");
  // Process-wide, so not done on import: for tools (quant-eval) that run
  // programs many times.
  m.def("keep_freed_memory_for_reuse", &qnn::keepFreedMemoryForReuse,
        "Keeps freed memory for reuse (glibc mallopt): compiled programs "
        "malloc their intermediate tensors on every call.");
  py::class_<Program>(m, "Program")
      .def(py::init<const std::string &, const std::string &, bool,
                    const std::string &, const std::string &, unsigned,
                    unsigned, bool, bool>(),
           py::arg("source"), py::arg("function") = "main",
           py::arg("reference") = false, py::arg("cpu") = "",
           py::arg("features") = "", py::arg("threads") = 1,
           py::arg("opt_level") = 3, py::arg("verify_each") = true,
           py::arg("profile") = false)
      .def("__call__", &Program::call,
           "Calls the function on NumPy arrays; returns its results.")
      .def("run_dataset", &Program::runDataset, py::arg("datasets"),
           py::arg("parallel_batches") = 1,
           "Runs every batch of the data sets (one per argument, samples "
           "along the first axis), `parallel_batches` at a time on as many "
           "threads; returns the results concatenated.")
      .def("calibrate", &Program::calibrate, py::arg("datasets"),
           py::arg("output"), py::arg("bins") = 2048, py::arg("ranges") = "",
           py::arg("parallel_batches") = 1,
           "Calibrates an instrumented function on the data sets "
           "(`parallel_batches` at a time) and writes the statistics file.")
      .def("layer_profile", &Program::layerProfile,
           "With profile=True: each layer's (name, seconds, entries) over "
           "the calls since compiling or reset_layer_profile(), in the "
           "program's order (quant-run --profile's table).")
      .def("reset_layer_profile", &Program::resetLayerProfile,
           "Starts the layer times again from zero.")
      .def_property_readonly("observer_ids", &Program::observerIds);
}
