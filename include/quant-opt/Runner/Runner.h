//===- Runner.h - JIT execution of quant-opt programs -----------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Runs a function of a module (float, quantized or fused, on tensors) on
// NumPy arrays: lowers it with qnn-cpu-pipeline (or the reference one),
// compiles it with MLIR's ExecutionEngine for the host CPU and calls it.
// qnn.observe ops call back into the runner, which is how calibration
// statistics are collected.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_OPT_RUNNER_RUNNER_H
#define QUANT_OPT_RUNNER_RUNNER_H

#include "quant-opt/Calibration/Calibration.h"
#include "quant-opt/Runner/Npy.h"

#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/IR/BuiltinOps.h"

#include <memory>

namespace mlir::qnn {

/// Where a compiled function runs.
/// Where a compiled function runs: this CPU; an NVIDIA GPU through the CUDA
/// runtime; or the GPU pipeline's kernels on this CPU through the GPU
/// emulator (lib/Runtime/GPUEmulator), with the same host code.
enum class Device { CPU, CUDA, CUDAEmulator };

/// The pass pipeline that lowers a module for an NVIDIA GPU of `chip`
/// (sm_80, sm_90), as the text --pass-pipeline takes: the one place that
/// names it, for quant-run --device=cuda and (through quant-run
/// --print-gpu-pipeline) quant-aot --device=cuda. `qnn-gpu-pipeline` when
/// it is registered; until then upstream's gpu-lower-to-nvvm-pipeline after
/// bufferization, which lowers programs that do their own host-device
/// copies (docs/GPU.md). Either way the result takes host buffers, with
/// results as out-parameters, like qnn-cpu-pipeline with
/// results-to-out-params. `upstream` picks upstream's even when
/// qnn-gpu-pipeline is there (for the runtime's own smoke tests).
/// `format` is what the gpu.binary holds: fatbin for a GPU, llvm (bitcode)
/// for the GPU emulator. `extraOptions` ("tile-m=128 warps-n=4", say) are
/// appended to qnn-gpu-pipeline's.
std::string getGPUPipeline(llvm::StringRef chip, bool upstream = false,
                           llvm::StringRef format = "fatbin",
                           llvm::StringRef extraOptions = "");

/// Checks that the CUDA runtime library at `path` loads and finds a driver
/// and a GPU; the error says what is missing.
llvm::Error checkCudaRuntime(llvm::StringRef path);

/// How to compile.
struct CompileOptions {
  std::string function = "main";
  /// CUDA: lower with getGPUPipeline(gpuChip) and load `cudaRuntime`
  /// (libquant_opt_cuda_runtime.so) into the JIT; the CPU options below
  /// then apply to the host code only.
  Device device = Device::CPU;
  std::string gpuChip = "sm_90";
  bool upstreamGPUPipeline = false;
  /// More qnn-gpu-pipeline options (tile sizes, tensor-cores=false, ...).
  std::string gpuPipelineOptions;
  std::string cudaRuntime;
  /// CUDA: check for a driver and a GPU before compiling (off: compile
  /// only, e.g. to test the lowering and linking on a machine without
  /// one; the kernels load on the first call).
  bool checkDevice = true;
  /// Lower with qnn-reference-cpu-pipeline (scalar loops) instead of
  /// qnn-cpu-pipeline (vectorized).
  bool referencePipeline = false;
  /// Libraries the JIT loads for symbols the module calls.
  SmallVector<std::string> sharedLibs;
  /// Generate code for this CPU (an LLVM name: x86-64-v3, znver3, ...) and
  /// these features ("+avx2,-avx512f") instead of the host's; the result
  /// must run on the host, so a CPU or feature the host lacks is an error.
  /// Lets an AVX-512 machine run the code an AVX2-only one would.
  std::string cpu;
  std::string features;
  /// Keep the machine code, so that dumpObject can write it.
  bool keepObject = false;
  /// Threads for the micro-kernels (qnn-cpu-pipeline threads=); above 1,
  /// the JIT loads the LLVM OpenMP runtime.
  unsigned threads = 1;
  /// LLVM's optimization and code generation level, 0 to 3: lower levels
  /// compile faster and run slower, for programs that run on little data.
  /// Integer results do not depend on it; float ones keep IEEE semantics at
  /// every level (nothing enables fast math), and whether a multiply-add is
  /// fused is the target's choice, not the level's.
  unsigned optLevel = 3;
  /// Verify the IR after each pass of the lowering, as mlir-opt does (its
  /// --verify-each). Off: verified once, after the whole lowering, which
  /// is faster (docs/Harness.md); a pass that breaks the IR is then
  /// reported without its name, or may crash a later pass.
  bool verifyEachPass = true;
  /// Time each layer (qnn-cpu-pipeline{profile=true}): getLayerProfile()
  /// then says where the runs' time went. CPU only.
  bool profile = false;
};

/// The time spent in each layer of a profiled program (CompileOptions::
/// profile), summed over every call since it was compiled or reset.
struct LayerTime {
  std::string layer;
  double seconds = 0;
  int64_t entries = 0;
};

/// Receives the values that flow through each qnn.observe while the program
/// runs: `id` is the observer's index in `CompiledFunction::getObserverIds`.
class ObservationSink {
public:
  virtual ~ObservationSink() = default;
  virtual void observe(unsigned id, ArrayRef<float> values) = 0;
};

/// Makes this process keep the memory it frees for reuse. A compiled
/// program allocates its intermediate tensors with malloc on every call;
/// glibc hands blocks above its (dynamic) mmap threshold back to the OS on
/// free, so every call would page-fault them in again (half the time of
/// the float fashion-cnn at batch 64). Process-wide: for tools that run
/// programs repeatedly (quant-run, the benchmarks), not for a library to
/// call behind its host's back.
void keepFreedMemoryForReuse();

/// A function compiled for the host CPU, callable many times.
class CompiledFunction {
public:
  /// Checks the function's signature, lowers a clone of `module` (observers
  /// become calls into the runner) and compiles it.
  static llvm::Expected<std::unique_ptr<CompiledFunction>>
  compile(ModuleOp module, const CompileOptions &options);
  ~CompiledFunction();

  /// Checks `inputs` (read from `inputNames`, for messages) against the
  /// arguments, runs the function and returns its results. Values seen by
  /// observers go to `sink` if given.
  llvm::Expected<SmallVector<NpyArray>> run(ArrayRef<NpyArray> inputs,
                                            ArrayRef<std::string> inputNames,
                                            ObservationSink *sink = nullptr);

  /// As run, but keeps nothing for rerun: several threads may call it at
  /// once (the compiled code allocates its own buffers per call, and each
  /// call's observations go to its own sink).
  llvm::Expected<SmallVector<NpyArray>>
  runConcurrently(ArrayRef<NpyArray> inputs, ArrayRef<std::string> inputNames,
                  ObservationSink *sink = nullptr) const;

  /// Runs once more on the same inputs; for timing.
  llvm::Error rerun();

  /// Writes the machine code the JIT generated as an object file (after a
  /// run; needs CompileOptions::keepObject), for llvm-objdump.
  void dumpObject(StringRef path);

  /// With CompileOptions::profile: each layer's time over the runs so far,
  /// in the program's order; resetLayerProfile() starts again from zero.
  /// One profiled function at a time per process (the counters are the
  /// process's).
  SmallVector<LayerTime> getLayerProfile() const;
  void resetLayerProfile() const;

  ArrayRef<std::string> getObserverIds() const { return observerIds; }
  ArrayRef<RankedTensorType> getArgumentTypes() const { return argumentTypes; }
  StringRef getName() const { return name; }

private:
  CompiledFunction() = default;

  std::string name;
  SmallVector<RankedTensorType> argumentTypes, resultTypes;
  SmallVector<std::string> observerIds;
  /// qnn-profile-layers' layer names, by id (empty unless profiled).
  SmallVector<std::string> profileLayers;
  std::unique_ptr<ExecutionEngine> engine;
  /// The packed entry point (`_mlir_ciface_<name>` taking its arguments as
  /// an array of pointers), looked up once.
  void (*entry)(void **) = nullptr;
  /// One call's buffers (input copies, outputs) and the descriptors that
  /// point into them.
  struct Frame;
  llvm::Expected<std::unique_ptr<Frame>>
  prepare(ArrayRef<NpyArray> inputs, ArrayRef<std::string> inputNames) const;
  void invoke(Frame &frame, ObservationSink *sink) const;
  SmallVector<NpyArray> takeResults(Frame &frame, bool copy) const;
  /// The last run's frame, kept for rerun().
  std::unique_ptr<Frame> lastFrame;
};

/// Collects calibration statistics (docs/Calibration.md) from observers:
/// min, max and count always, and a histogram of `bins` bins over a range
/// per id once the ranges are set.
class StatisticsCollector : public ObservationSink {
public:
  StatisticsCollector(ArrayRef<std::string> ids, unsigned bins)
      : ids(ids.begin(), ids.end()), bins(bins), statistics(ids.size()) {}

  /// Histograms from now on count over these ranges, by id; ids without a
  /// range use their own min and max seen so far.
  void startHistograms(const CalibrationStatistics &ranges);

  void observe(unsigned id, ArrayRef<float> values) override;

  /// Adds what `other` observed: a collector of the same ids and bins, in
  /// the same pass (with the same histogram ranges in the second), so that
  /// batches observed on several threads give the statistics one thread
  /// would.
  void merge(const StatisticsCollector &other);

  CalibrationStatistics getStatistics() const;

  /// After the first pass: why the statistics cannot be written (an
  /// observer that saw no value, or an infinite one, which has no
  /// quantized range), naming the first such id; empty if they can.
  std::string checkObserved() const;

private:
  SmallVector<std::string> ids;
  unsigned bins;
  SmallVector<TensorStatistics> statistics;
  SmallVector<bool> seen = SmallVector<bool>(ids.size(), false);
  /// Infinite values seen per observer in the first pass (not in min/max).
  SmallVector<int64_t> infinities = SmallVector<int64_t>(ids.size(), 0);
};

/// Data sets: one array per argument of a function, each holding samples
/// along its first axis, run in batches of the matching argument's first
/// dimension (all samples at once where it is dynamic). `names` name the
/// arrays in errors; `progress`, if given, is told each batch done.
using ProgressCallback =
    llvm::function_ref<void(StringRef what, int64_t done, int64_t total)>;

/// The most batches runDataset and calibrate run at the same time.
constexpr unsigned kMaxParallelBatches = 1024;

/// The most histogram bins an observer holds (64-bit counters each: 8 MiB
/// per observer at this bound).
constexpr unsigned kMaxHistogramBins = 1u << 20;

/// How many batches `datasets` hold (all must hold the same number).
llvm::Expected<int64_t> countBatches(const CompiledFunction &function,
                                     ArrayRef<NpyArray> datasets,
                                     ArrayRef<std::string> names);

/// Runs every batch and concatenates each result along its first axis;
/// `workers` threads run batches at the same time (the results do not
/// depend on it). `progress` is called from one thread at a time.
llvm::Expected<SmallVector<NpyArray>> runDataset(CompiledFunction &function,
                                                 ArrayRef<NpyArray> datasets,
                                                 ArrayRef<std::string> names,
                                                 ProgressCallback progress = {},
                                                 unsigned workers = 1);

/// Calibration: runs every batch through an instrumented function twice
/// (ranges, then histograms over them, or over `priorRanges` where given
/// so that shards merge) and returns its observers' statistics.
llvm::Expected<CalibrationStatistics>
calibrate(CompiledFunction &function, ArrayRef<NpyArray> datasets,
          ArrayRef<std::string> names, unsigned bins,
          const CalibrationStatistics *priorRanges = nullptr,
          ProgressCallback progress = {}, unsigned workers = 1);

/// Writes statistics in the format of docs/Calibration.md.
llvm::Error writeCalibrationStatistics(StringRef path,
                                       const CalibrationStatistics &statistics);

} // namespace mlir::qnn

#endif // QUANT_OPT_RUNNER_RUNNER_H
