//===- Runner.cpp - JIT execution of quant-opt programs -------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The calling convention: the entry function is lowered with its results
// turned into out parameters and a C interface, so every argument and result
// is passed as a pointer to a memref descriptor
// {allocated, aligned, offset, sizes[rank], strides[rank]} over buffers this
// file owns (the input arrays and freshly allocated outputs).
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Runner/Runner.h"

#include "quant-opt/Codegen/CPUTarget.h"
#include "quant-opt/Codegen/Passes.h"
#include "quant-opt/Pipelines/Pipelines.h"

#include "quant-opt/Dialect/QNN/IR/QNNOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/Support/DynamicLibrary.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/SubtargetFeature.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstring>
#include <limits>
#include <malloc.h>
#include <mutex>
#include <thread>

using namespace mlir;
using namespace mlir::qnn;

/// float32 values to bf16 bits, rounded to nearest-even (NaN stays NaN).
static NpyArray toBF16(const NpyArray &array) {
  NpyArray result;
  result.dtype = array.dtype;
  result.shape = array.shape;
  result.data.resize(array.getNumElements() * 2);
  for (int64_t i = 0; i < array.getNumElements(); ++i) {
    float value;
    std::memcpy(&value, array.data.data() + 4 * i, 4);
    llvm::APFloat converted(value);
    bool losesInfo;
    converted.convert(llvm::APFloat::BFloat(),
                      llvm::APFloat::rmNearestTiesToEven, &losesInfo);
    auto half =
        static_cast<uint16_t>(converted.bitcastToAPInt().getZExtValue());
    std::memcpy(result.data.data() + 2 * i, &half, 2);
  }
  return result;
}

/// bf16 bits to float32 values (exact).
static NpyArray fromBF16(const NpyArray &array) {
  NpyArray result;
  result.dtype = "<f4";
  result.shape = array.shape;
  result.data.resize(array.getNumElements() * 4);
  for (int64_t i = 0; i < array.getNumElements(); ++i) {
    uint16_t half;
    std::memcpy(&half, array.data.data() + 2 * i, 2);
    uint32_t bits = static_cast<uint32_t>(half) << 16;
    std::memcpy(result.data.data() + 4 * i, &bits, 4);
  }
  return result;
}

/// The NumPy dtypes an element type accepts; the first is what results are
/// written as. Quantized elements are their stored integers.
static SmallVector<StringRef> getDtypes(Type elementType) {
  if (auto quantized = dyn_cast<quant::QuantizedType>(elementType)) {
    unsigned width = quantized.getStorageTypeIntegralWidth();
    bool isSigned = quantized.isSigned();
    switch (width) {
    case 8:
      return {isSigned ? "|i1" : "|u1"};
    case 16:
      return {isSigned ? "<i2" : "<u2"};
    case 32:
      return {isSigned ? "<i4" : "<u4"};
    default:
      return {};
    }
  }
  // NumPy has no bf16: bf16 values travel as float32 arrays (rounded to
  // nearest-even on the way in, widened exactly on the way out).
  if (elementType.isF32() || elementType.isBF16())
    return {"<f4"};
  if (elementType.isF64())
    return {"<f8"};
  if (elementType.isF16())
    return {"<f2"};
  if (elementType.isInteger(1))
    return {"|b1"};
  if (elementType.isInteger(8))
    return {"|i1", "|u1"};
  if (elementType.isInteger(16))
    return {"<i2", "<u2"};
  if (elementType.isInteger(32))
    return {"<i4", "<u4"};
  if (elementType.isInteger(64))
    return {"<i8", "<u8"};
  return {};
}

static std::string describe(const NpyArray &array) {
  std::string shape = "(";
  for (auto [i, size] : llvm::enumerate(array.shape))
    shape += (i ? ", " : "") + std::to_string(size);
  return llvm::formatv("a '{0}' array of shape {1})", array.dtype, shape).str();
}

/// A memref descriptor of `rank` over `data`, as 64-bit words.
static SmallVector<int64_t> makeDescriptor(void *data,
                                           ArrayRef<int64_t> shape) {
  SmallVector<int64_t> words = {reinterpret_cast<int64_t>(data),
                                reinterpret_cast<int64_t>(data), 0};
  llvm::append_range(words, shape);
  SmallVector<int64_t> strides(shape.size(), 1);
  for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * shape[i + 1];
  llvm::append_range(words, strides);
  return words;
}

/// The runner-side callee of lowered qnn.observe ops.
static constexpr llvm::StringLiteral kObserveFunction = "__qnn_observe";

/// The sink of the call in progress (the JIT calls back on this thread).
static thread_local ObservationSink *currentSink = nullptr;

/// Visits the elements of a strided memref of `rank` in row-major order.
static void gatherStrided(const float *base, int64_t rank, const int64_t *sizes,
                          const int64_t *strides, SmallVectorImpl<float> &out) {
  if (rank == 0) {
    out.push_back(*base);
    return;
  }
  if (rank == 1) {
    for (int64_t i = 0; i < sizes[0]; ++i)
      out.push_back(base[i * strides[0]]);
    return;
  }
  for (int64_t i = 0; i < sizes[0]; ++i)
    gatherStrided(base + i * strides[0], rank - 1, sizes + 1, strides + 1, out);
}

/// Time per layer of a profiled program (qnn-profile-layers), by id: what
/// its calls of qnn_profile_enter/exit accumulate. The process's, as the
/// compiled code's calls name no function.
struct LayerCounters {
  std::vector<double> seconds;
  std::vector<int64_t> entries;
  std::vector<std::chrono::steady_clock::time_point> started;
};
static LayerCounters layerCounters;

extern "C" void qnn_profile_enter(int32_t id) {
  if (id < 0 || static_cast<size_t>(id) >= layerCounters.started.size())
    return;
  ++layerCounters.entries[id];
  layerCounters.started[id] = std::chrono::steady_clock::now();
}

extern "C" void qnn_profile_exit(int32_t id) {
  if (id < 0 || static_cast<size_t>(id) >= layerCounters.started.size())
    return;
  layerCounters.seconds[id] +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                    layerCounters.started[id])
          .count();
}

/// An unranked memref as the C interface passes it.
struct UnrankedDescriptor {
  int64_t rank;
  void *descriptor;
};

/// What a lowered `qnn.observe` calls: the observed tensor as an unranked
/// memref of f32 and the observer's index.
extern "C" void quantOptObserve(UnrankedDescriptor *memref, int64_t id) {
  if (!currentSink)
    return;
  // The ranked descriptor: allocated, aligned, offset, sizes, strides.
  auto *words = static_cast<int64_t *>(memref->descriptor);
  const float *aligned = reinterpret_cast<const float *>(words[1]);
  int64_t offset = words[2];
  int64_t rank = memref->rank;
  const int64_t *sizes = words + 3, *strides = words + 3 + rank;
  // Row-major and contiguous (the usual case): observed where it lies.
  int64_t expectedStride = 1, numElements = 1;
  bool contiguous = true;
  for (int64_t axis = rank - 1; axis >= 0; --axis) {
    contiguous &= sizes[axis] == 1 || strides[axis] == expectedStride;
    expectedStride *= sizes[axis];
    numElements *= sizes[axis];
  }
  if (contiguous) {
    currentSink->observe(static_cast<unsigned>(id),
                         ArrayRef<float>(aligned + offset, numElements));
    return;
  }
  SmallVector<float> values;
  values.reserve(numElements);
  gatherStrided(aligned + offset, rank, sizes, strides, values);
  currentSink->observe(static_cast<unsigned>(id), values);
}

/// Replaces each qnn.observe by a call of the runner, numbering the ids.
static LogicalResult lowerObserversToCalls(ModuleOp module,
                                           SmallVectorImpl<std::string> &ids) {
  SmallVector<ObserveOp> observers;
  module.walk([&](ObserveOp observe) { observers.push_back(observe); });
  if (observers.empty())
    return success();
  OpBuilder builder(module.getContext());
  builder.setInsertionPointToEnd(module.getBody());
  auto unranked = UnrankedTensorType::get(builder.getF32Type());
  auto callee = func::FuncOp::create(
      builder, module.getLoc(), kObserveFunction,
      builder.getFunctionType({unranked, builder.getI64Type()}, {}));
  callee.setPrivate();
  callee->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(),
                  builder.getUnitAttr());
  // The observer only reads: bufferization need not copy for it.
  callee.setArgAttr(0, "bufferization.access", builder.getStringAttr("read"));
  for (ObserveOp observe : observers) {
    auto element = dyn_cast<FloatType>(observe.getType().getElementType());
    if (!element)
      return observe.emitError("quant-run observes float tensors only");
    builder.setInsertionPoint(observe);
    // f16 and bf16 values are f32 values exactly; f64 ones are observed
    // rounded to f32 (ranges and histograms need no more).
    Value observed = observe.getInput();
    auto f32Type = observe.getType().clone(builder.getF32Type());
    if (element.getWidth() < 32)
      observed =
          arith::ExtFOp::create(builder, observe.getLoc(), f32Type, observed);
    else if (element.getWidth() > 32)
      observed =
          arith::TruncFOp::create(builder, observe.getLoc(), f32Type, observed);
    Value cast =
        tensor::CastOp::create(builder, observe.getLoc(), unranked, observed);
    Value id = arith::ConstantOp::create(builder, observe.getLoc(),
                                         builder.getI64IntegerAttr(ids.size()));
    func::CallOp::create(builder, observe.getLoc(), callee,
                         ValueRange{cast, id});
    ids.push_back(observe.getId().str());
    observe.replaceAllUsesWith(observe.getInput());
    observe.erase();
  }
  return success();
}

/// The complete feature string of `cpu` with `features` (every instruction
/// set the host query knows, each + or -), if that code runs on this
/// machine: every feature it enables must be one the host has (else the JIT
/// would emit an instruction that stops the program with SIGILL). Complete,
/// because a function's "target-features" replaces the engine's host
/// features, which would otherwise add AVX-512 to an x86-64-v3.
static llvm::Expected<std::string> getRunnableFeatures(StringRef cpu,
                                                       StringRef features) {
  // Names first: LLVM only warns about unknown ones, and ignores them.
  if (llvm::Error error = verifyCPUTargetNames(cpu, features))
    return std::move(error);
  std::string hostCPU = llvm::sys::getHostCPUName().str();
  llvm::StringMap<bool> hostMap = llvm::sys::getHostCPUFeatures();
  StringRef requestedCPU = cpu.empty() ? StringRef(hostCPU) : cpu;
  llvm::Expected<std::unique_ptr<llvm::MCSubtargetInfo>> subtarget =
      createTargetSubtargetInfo(cpu, features);
  if (!subtarget)
    return subtarget.takeError();
  llvm::MCSubtargetInfo *requested = subtarget->get();
  // The instruction-set features the host query reports (tuning flags of a
  // CPU model are no instructions, and the host query leaves them out).
  SmallVector<std::string> missing;
  for (const llvm::SubtargetFeatureKV &feature :
       requested->getAllProcessorFeatures()) {
    auto known = hostMap.find(feature.Key);
    if (requested->getFeatureBits().test(feature.Value) &&
        known != hostMap.end() && !known->second)
      missing.push_back(feature.Key);
  }
  if (!missing.empty())
    return llvm::createStringError(llvm::formatv(
        "code for CPU '{0}'{1} would not run on this machine ({2}): it "
        "lacks {3}",
        requestedCPU, features.empty() ? "" : (" with " + features).str(),
        hostCPU, llvm::join(missing, ", ")));
  llvm::SubtargetFeatures complete;
  for (const llvm::SubtargetFeatureKV &feature :
       requested->getAllProcessorFeatures())
    if (hostMap.count(feature.Key))
      complete.AddFeature(feature.Key,
                          requested->getFeatureBits().test(feature.Value));
  return complete.getString();
}

std::string qnn::getGPUPipeline(StringRef chip, bool upstream, StringRef format,
                                StringRef extraOptions) {
  // The project's own pipeline, once it is in the build.
  if (!upstream && PassPipelineInfo::lookup("qnn-gpu-pipeline"))
    return llvm::formatv("builtin.module(qnn-gpu-pipeline{{chip={0} "
                         "format={1} results-to-out-params=true{2}{3}})",
                         chip, format, extraOptions.empty() ? "" : " ",
                         extraOptions)
        .str();
  // Until then: bufferize (functions take and return identity-layout
  // memrefs), results become out-parameters (the caller allocates them on
  // the host), kernels are outlined and their copies made asynchronous
  // (gpu-to-llvm lowers only async gpu.alloc / gpu.memcpy), then upstream
  // lowers host and kernels; PTX 8.0 is what sm_90 needs at least.
  return llvm::formatv(
             "builtin.module(one-shot-bufferize{{bufferize-function-"
             "boundaries function-boundary-type-conversion=identity-layout-"
             "map},buffer-results-to-out-params{{modify-public-functions "
             "hoist-static-allocs},gpu-kernel-outlining,func.func(gpu-async-"
             "region),gpu-lower-to-nvvm-pipeline{{cubin-chip={0} "
             "cubin-features=+ptx80 cubin-format={1}})",
             chip, format)
      .str();
}

llvm::Error qnn::checkCudaRuntime(StringRef path) {
  if (path.empty())
    return llvm::createStringError(
        "this build has no CUDA runtime: CMake found no cuda.h (install the "
        "CUDA toolkit, or set -DQUANT_OPT_CUDA_INCLUDE_DIR, and configure "
        "again)");
  if (!llvm::sys::fs::exists(path))
    return llvm::createStringError(
        llvm::formatv("the CUDA runtime {0} is missing (build it: ninja "
                      "quant_opt_cuda_runtime)",
                      path));
  std::string error;
  auto library = llvm::sys::DynamicLibrary::getPermanentLibrary(
      path.str().c_str(), &error);
  if (!library.isValid())
    return llvm::createStringError(
        llvm::formatv("cannot load the CUDA runtime {0}: {1}", path, error));
  using StatusFn = int (*)(char *, size_t);
  auto status = reinterpret_cast<StatusFn>(
      library.getAddressOfSymbol("qnnCudaRuntimeStatus"));
  if (!status)
    return llvm::createStringError(llvm::formatv(
        "{0} is not quant-opt's CUDA runtime (no qnnCudaRuntimeStatus)", path));
  char message[1024] = {0};
  if (status(message, sizeof(message)) != 0)
    return llvm::createStringError(
        llvm::formatv("no GPU to run on: {0}", message));
  return llvm::Error::success();
}

llvm::Expected<std::unique_ptr<CompiledFunction>>
CompiledFunction::compile(ModuleOp module, const CompileOptions &options) {
  bool emulator = options.device == Device::CUDAEmulator;
  bool cuda = options.device == Device::CUDA || emulator;
  if (cuda) {
    if (options.gpuChip != "sm_80" && options.gpuChip != "sm_90")
      return llvm::createStringError(llvm::formatv(
          "GPU chip '{0}' is not one of sm_80, sm_90", options.gpuChip));
    if (options.referencePipeline || options.threads > 1)
      return llvm::createStringError(
          "the reference pipeline and threads are CPU options; they do not "
          "apply to --device=cuda");
    // Before any work: a machine without a GPU says so at once.
    if (options.checkDevice) {
      if (llvm::Error error = checkCudaRuntime(options.cudaRuntime))
        return std::move(error);
    } else if (options.cudaRuntime.empty() ||
               !llvm::sys::fs::exists(options.cudaRuntime)) {
      return checkCudaRuntime(options.cudaRuntime);
    }
  }
  if (options.optLevel > 3)
    return llvm::createStringError(llvm::formatv(
        "optimization level {0} is not one of 0, 1, 2, 3", options.optLevel));
  std::unique_ptr<CompiledFunction> compiled(new CompiledFunction());
  compiled->name = options.function;
  auto function = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(
      module, StringAttr::get(module.getContext(), options.function));
  if (!function &&
      SymbolTable::lookupNearestSymbolFrom<LLVM::LLVMFuncOp>(
          module, StringAttr::get(module.getContext(), options.function)))
    return llvm::createStringError(llvm::formatv(
        "@{0} is already lowered to the LLVM dialect, where its tensor "
        "shapes are gone; give quant-run the module before "
        "qnn-cpu-pipeline (it lowers it itself)",
        options.function));
  if (!function || function.isExternal()) {
    std::string names;
    for (auto f : module.getOps<func::FuncOp>())
      if (!f.isExternal())
        names += (names.empty() ? "@" : ", @") + f.getName().str();
    return llvm::createStringError(llvm::formatv(
        "no function @{0} in the module (it has {1})", options.function,
        names.empty() ? std::string("none") : names));
  }
  FunctionType type = function.getFunctionType();
  // What quant-run can pass in and out (NumPy has no 4-bit dtype: i4 and
  // other sub-byte storage cannot travel).
  const char *passable = "ranked tensors of f16, bf16, f32, f64, i1, i8, "
                         "i16, i32, i64, or quantized types with 8-, 16- "
                         "or 32-bit storage";
  for (auto [index, argType] : llvm::enumerate(type.getInputs())) {
    auto shaped = dyn_cast<RankedTensorType>(argType);
    if (!shaped || getDtypes(shaped.getElementType()).empty())
      return llvm::createStringError(
          llvm::formatv("argument #{0} of @{1} has type {2}, which quant-run "
                        "cannot pass ({3})",
                        index, options.function, argType, passable));
    compiled->argumentTypes.push_back(shaped);
  }
  for (auto [index, resultType] : llvm::enumerate(type.getResults())) {
    auto shaped = dyn_cast<RankedTensorType>(resultType);
    if (!shaped || getDtypes(shaped.getElementType()).empty())
      return llvm::createStringError(
          llvm::formatv("result #{0} of @{1} has type {2}, which quant-run "
                        "cannot return ({3})",
                        index, options.function, resultType, passable));
    if (!shaped.hasStaticShape())
      return llvm::createStringError(
          llvm::formatv("result #{0} of @{1} has type {2}; quant-run returns "
                        "tensors of static shape only",
                        index, options.function, resultType));
    compiled->resultTypes.push_back(shaped);
  }

  if (options.profile && (cuda || options.referencePipeline))
    return llvm::createStringError(
        "profiling times the CPU pipeline's code: it takes --device=cpu and "
        "--pipeline=cpu");

  // Lower a clone: observers call the runner, results become out
  // parameters, the entry gets a C interface.
  OwningOpRef<ModuleOp> lowered = module.clone();
  if (failed(lowerObserversToCalls(*lowered, compiled->observerIds)))
    return llvm::createStringError("cannot lower the observers");
  SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(
      *lowered, StringAttr::get(module.getContext(), options.function))
      ->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(),
                UnitAttr::get(module.getContext()));
  // Only the entry and what it calls are compiled (symbol-dce below drops
  // the rest): a module of many test functions, run one at a time, is not
  // lowered and JIT-compiled whole for each (most of quant-run's time).
  for (auto other : lowered->getOps<func::FuncOp>())
    if (other.getName() != options.function && !other.isExternal())
      other.setPrivate();
  // Code for another CPU than the host: checked to run here, and with the
  // complete feature list, since a function's target-features replaces the
  // engine's host features (which would add AVX-512 to an x86-64-v3).
  std::string runnableFeatures;
  bool otherTarget = !options.cpu.empty() || !options.features.empty();
  if (otherTarget) {
    llvm::InitializeNativeTarget();
    llvm::Expected<std::string> features =
        getRunnableFeatures(options.cpu, options.features);
    if (!features)
      return features.takeError();
    runnableFeatures = *features;
  }
  PassManager pm(module.getContext());
  pm.addPass(createSymbolDCEPass());
  if (cuda) {
    std::string pipelineText = getGPUPipeline(
        options.gpuChip, options.upstreamGPUPipeline,
        emulator ? "llvm" : "fatbin", options.gpuPipelineOptions);
    std::string parseErrors;
    llvm::raw_string_ostream errorStream(parseErrors);
    // Parsed into `pm` (on the module), the text's own builtin.module(...)
    // would nest one level too deep: parse what it holds.
    StringRef passes = pipelineText;
    if (passes.consume_front("builtin.module("))
      passes.consume_back(")");
    if (failed(parsePassPipeline(passes, pm, errorStream)))
      return llvm::createStringError(
          llvm::formatv("cannot build the GPU pipeline '{0}': {1}",
                        pipelineText, parseErrors));
  } else if (options.referencePipeline) {
    ReferenceCPUPipelineOptions pipelineOptions;
    pipelineOptions.resultsToOutParams = true;
    buildReferenceCPUPipeline(pm, pipelineOptions);
    if (otherTarget) {
      QNNSetCPUTargetPassOptions target;
      target.cpu = options.cpu;
      target.features = runnableFeatures;
      pm.addPass(createQNNSetCPUTargetPass(target));
    }
  } else {
    // The pipeline chooses its kernels for that CPU and sets it last.
    CPUPipelineOptions pipelineOptions;
    pipelineOptions.resultsToOutParams = true;
    pipelineOptions.cpu = options.cpu;
    pipelineOptions.cpuFeatures = runnableFeatures;
    pipelineOptions.threads = options.threads;
    pipelineOptions.profile = options.profile;
    buildCPUPipeline(pm, pipelineOptions);
  }
  pm.enableVerifier(options.verifyEachPass);
  if (failed(pm.run(*lowered)) ||
      (!options.verifyEachPass && failed(verify(*lowered))))
    return llvm::createStringError(llvm::formatv(
        "lowering @{0} for the {1} failed (see the diagnostics above)",
        options.function, cuda ? "GPU" : "CPU"));

  if (auto layers =
          (*lowered)->getAttrOfType<ArrayAttr>("qnn.profile_layers")) {
    for (auto layer : layers.getAsValueRange<StringAttr>())
      compiled->profileLayers.push_back(layer.str());
    compiled->resetLayerProfile();
  }

  // Only bufferization reads this hint; LLVM would warn about it.
  lowered->walk([](LLVM::LLVMFuncOp function) {
    for (unsigned i = 0; i < function.getNumArguments(); ++i)
      function.removeArgAttr(
          i, StringAttr::get(function.getContext(), "bufferization.access"));
  });
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  registerBuiltinDialectTranslation(*lowered->getContext());
  registerLLVMDialectTranslation(*lowered->getContext());
  ExecutionEngineOptions engineOptions;
  SmallVector<StringRef> sharedLibs(options.sharedLibs.begin(),
                                    options.sharedLibs.end());
  // gpu.binary becomes a global the module loads from; gpu.launch_func
  // calls into the runtime (mgpuModuleLoad, mgpuLaunchKernel, ...).
  if (cuda) {
    registerGPUDialectTranslation(*lowered->getContext());
    registerNVVMDialectTranslation(*lowered->getContext());
    // #gpu.select_object, which embeds the binary: an external model that
    // must be there before translation (without it, a null interface).
    DialectRegistry offloading;
    gpu::registerOffloadingLLVMTranslationInterfaceExternalModels(offloading);
    lowered->getContext()->appendDialectRegistry(offloading);
    sharedLibs.push_back(options.cudaRuntime);
  }
  // The parallel loops call the OpenMP runtime (__kmpc_fork_call, ...).
  if (options.threads > 1 && !options.referencePipeline) {
    if (!llvm::sys::fs::exists(QUANT_OPT_OPENMP_RUNTIME))
      return llvm::createStringError(llvm::formatv(
          "{0} threads need the LLVM OpenMP runtime {1}, which is missing "
          "(Debian package libomp-22-dev; scripts/setup.sh installs it)",
          options.threads, QUANT_OPT_OPENMP_RUNTIME));
    sharedLibs.push_back(QUANT_OPT_OPENMP_RUNTIME);
    registerOpenMPDialectTranslation(*lowered->getContext());
  }
  engineOptions.sharedLibPaths = sharedLibs;
  engineOptions.enableObjectDump = options.keepObject;
  // The optimizer tunes for the host CPU (AVX-512 widths and costs); the
  // engine generates code for it the same way.
  auto hostMachineBuilder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!hostMachineBuilder)
    return hostMachineBuilder.takeError();
  auto hostMachine = hostMachineBuilder->createTargetMachine();
  if (!hostMachine)
    return hostMachine.takeError();
  auto transformer =
      makeOptimizingTransformer(options.optLevel, 0, hostMachine->get());
  engineOptions.transformer = transformer;
  llvm::CodeGenOptLevel codeGenLevel =
      llvm::CodeGenOpt::getLevel(options.optLevel).value();
  engineOptions.jitCodeGenOptLevel = codeGenLevel;
  // The engine's code generator at that level: MLIR 22's ExecutionEngine
  // sets jitCodeGenOptLevel on a target machine builder it then ignores,
  // compiling with a host machine at the default level (-O2 codegen, the
  // greedy register allocator: 14 s instead of 4 for a 47k-line function)
  // unless it is given the machine.
  hostMachineBuilder->setCodeGenOptLevel(codeGenLevel);
  auto codeGenMachine = hostMachineBuilder->createTargetMachine();
  if (!codeGenMachine)
    return codeGenMachine.takeError();
  auto engine = ExecutionEngine::create(*lowered, engineOptions,
                                        std::move(*codeGenMachine));
  if (!engine)
    return engine.takeError();
  compiled->engine = std::move(*engine);
  compiled->engine->registerSymbols([](llvm::orc::MangleAndInterner interner) {
    llvm::orc::SymbolMap symbols;
    symbols[interner(("_mlir_ciface_" + kObserveFunction).str())] = {
        llvm::orc::ExecutorAddr::fromPtr(&quantOptObserve),
        llvm::JITSymbolFlags::Exported};
    symbols[interner("qnn_profile_enter")] = {
        llvm::orc::ExecutorAddr::fromPtr(&qnn_profile_enter),
        llvm::JITSymbolFlags::Exported};
    symbols[interner("qnn_profile_exit")] = {
        llvm::orc::ExecutorAddr::fromPtr(&qnn_profile_exit),
        llvm::JITSymbolFlags::Exported};
    return symbols;
  });
  // The global constructors register the kernels (mgpuModuleLoad); the
  // engine runs them only when asked, and a launch without them would pass
  // the runtime a null module.
  if (cuda)
    compiled->engine->initialize();
  auto entry =
      compiled->engine->lookupPacked("_mlir_ciface_" + options.function);
  if (!entry)
    return entry.takeError();
  compiled->entry = *entry;
  return compiled;
}

SmallVector<LayerTime> CompiledFunction::getLayerProfile() const {
  SmallVector<LayerTime> result;
  for (auto [id, layer] : llvm::enumerate(profileLayers))
    if (id < layerCounters.seconds.size())
      result.push_back(
          {layer, layerCounters.seconds[id], layerCounters.entries[id]});
  return result;
}

void CompiledFunction::resetLayerProfile() const {
  layerCounters.seconds.assign(profileLayers.size(), 0.0);
  layerCounters.entries.assign(profileLayers.size(), 0);
  layerCounters.started.assign(profileLayers.size(), {});
}

struct CompiledFunction::Frame {
  SmallVector<NpyArray> inputs, outputs;
  SmallVector<SmallVector<int64_t>> descriptors;
  SmallVector<void *> descriptorPointers, packed;
};

CompiledFunction::~CompiledFunction() = default;

llvm::Expected<std::unique_ptr<CompiledFunction::Frame>>
CompiledFunction::prepare(ArrayRef<NpyArray> newInputs,
                          ArrayRef<std::string> inputNames) const {
  if (argumentTypes.size() != newInputs.size())
    return llvm::createStringError(
        llvm::formatv("@{0} takes {1} arguments, {2} inputs were given", name,
                      argumentTypes.size(), newInputs.size()));
  for (auto [index, pair] :
       llvm::enumerate(llvm::zip(argumentTypes, newInputs))) {
    auto [shaped, array] = pair;
    SmallVector<StringRef> dtypes = getDtypes(shaped.getElementType());
    bool shapeMatches =
        shaped.getRank() == static_cast<int64_t>(array.shape.size());
    for (int64_t axis = 0; shapeMatches && axis < shaped.getRank(); ++axis)
      shapeMatches = shaped.isDynamicDim(axis) ||
                     shaped.getDimSize(axis) == array.shape[axis];
    if (!llvm::is_contained(dtypes, StringRef(array.dtype)) || !shapeMatches)
      return llvm::createStringError(llvm::formatv(
          "argument #{0} of @{1} expects {2} ('{3}' data), but '{4}' holds {5}",
          index, name, Type(shaped), dtypes.front(), inputNames[index],
          describe(array)));
    // Stored values outside the storage range (-128 for i8<-127:127>) are
    // no value of the type: the program would dequantize them as if they
    // were.
    if (auto quantized =
            dyn_cast<quant::QuantizedType>(shaped.getElementType()))
      for (int64_t i = 0, e = array.getNumElements(); i < e; ++i) {
        int64_t stored = array.getIntegerElement(i);
        if (stored < quantized.getStorageTypeMin() ||
            stored > quantized.getStorageTypeMax())
          return llvm::createStringError(llvm::formatv(
              "argument #{0} of @{1}: '{2}' holds the stored value {3} at "
              "element {4}, outside the storage range [{5}, {6}] of {7}",
              index, name, inputNames[index], stored, i,
              quantized.getStorageTypeMin(), quantized.getStorageTypeMax(),
              Type(quantized)));
      }
  }

  // Buffers and descriptors: inputs point into copies of the arrays (the
  // function may write into its arguments), outputs into fresh arrays.
  auto frame = std::make_unique<Frame>();
  frame->inputs.assign(newInputs.begin(), newInputs.end());
  for (auto [array, shaped] : llvm::zip(frame->inputs, argumentTypes))
    if (shaped.getElementType().isBF16())
      array = toBF16(array);
  for (NpyArray &array : frame->inputs)
    frame->descriptors.push_back(
        makeDescriptor(array.data.data(), array.shape));
  for (RankedTensorType resultType : resultTypes) {
    NpyArray &output = frame->outputs.emplace_back();
    output.dtype = getDtypes(resultType.getElementType()).front().str();
    llvm::append_range(output.shape, resultType.getShape());
    output.data.resize(output.getNumElements() *
                       (resultType.getElementType().isBF16()
                            ? 2
                            : getNpyElementSize(output.dtype)));
  }
  for (NpyArray &output : frame->outputs)
    frame->descriptors.push_back(
        makeDescriptor(output.data.data(), output.shape));
  for (SmallVector<int64_t> &descriptor : frame->descriptors)
    frame->descriptorPointers.push_back(descriptor.data());
  for (void *&pointer : frame->descriptorPointers)
    frame->packed.push_back(&pointer);
  return frame;
}

void CompiledFunction::invoke(Frame &frame, ObservationSink *sink) const {
  ObservationSink *outer = currentSink;
  currentSink = sink;
  entry(frame.packed.data());
  currentSink = outer;
}

SmallVector<NpyArray> CompiledFunction::takeResults(Frame &frame,
                                                    bool copy) const {
  SmallVector<NpyArray> results;
  if (copy)
    results.assign(frame.outputs.begin(), frame.outputs.end());
  else
    results = std::move(frame.outputs);
  for (auto [array, shaped] : llvm::zip(results, resultTypes))
    if (shaped.getElementType().isBF16())
      array = fromBF16(array);
  return results;
}

llvm::Expected<SmallVector<NpyArray>>
CompiledFunction::run(ArrayRef<NpyArray> inputs,
                      ArrayRef<std::string> inputNames, ObservationSink *sink) {
  llvm::Expected<std::unique_ptr<Frame>> frame = prepare(inputs, inputNames);
  if (!frame)
    return frame.takeError();
  invoke(**frame, sink);
  lastFrame = std::move(*frame);
  return takeResults(*lastFrame, /*copy=*/true);
}

llvm::Expected<SmallVector<NpyArray>>
CompiledFunction::runConcurrently(ArrayRef<NpyArray> inputs,
                                  ArrayRef<std::string> inputNames,
                                  ObservationSink *sink) const {
  llvm::Expected<std::unique_ptr<Frame>> frame = prepare(inputs, inputNames);
  if (!frame)
    return frame.takeError();
  invoke(**frame, sink);
  return takeResults(**frame, /*copy=*/false);
}

void CompiledFunction::dumpObject(StringRef path) {
  engine->dumpToObjectFile(path);
}

//===----------------------------------------------------------------------===//
// Data sets and calibration
//===----------------------------------------------------------------------===//

/// The rows [begin, begin + count) of `array` along its first axis.
static NpyArray sliceRows(const NpyArray &array, int64_t begin, int64_t count) {
  NpyArray slice;
  slice.dtype = array.dtype;
  slice.shape = array.shape;
  slice.shape[0] = count;
  size_t rowBytes = array.data.size() / array.shape[0];
  slice.data.assign(array.data.begin() + begin * rowBytes,
                    array.data.begin() + (begin + count) * rowBytes);
  return slice;
}

/// Batch `b` of `numBatches` of each data set.
static SmallVector<NpyArray> getBatch(ArrayRef<NpyArray> datasets, int64_t b,
                                      int64_t numBatches) {
  SmallVector<NpyArray> slices;
  for (const NpyArray &dataset : datasets) {
    int64_t rows = dataset.shape[0] / numBatches;
    slices.push_back(sliceRows(dataset, b * rows, rows));
  }
  return slices;
}

llvm::Expected<int64_t> qnn::countBatches(const CompiledFunction &function,
                                          ArrayRef<NpyArray> datasets,
                                          ArrayRef<std::string> names) {
  auto error = [](const llvm::Twine &message) {
    return llvm::createStringError(message);
  };
  if (datasets.size() != function.getArgumentTypes().size())
    return error(
        llvm::formatv("@{0} takes {1} arguments, {2} data sets were given",
                      function.getName(), function.getArgumentTypes().size(),
                      datasets.size()));
  int64_t numBatches = -1;
  for (auto [index, pair] :
       llvm::enumerate(llvm::zip(function.getArgumentTypes(), datasets))) {
    auto [type, dataset] = pair;
    if (type.getRank() == 0 || dataset.shape.empty())
      return error(llvm::formatv("argument #{0}: data sets hold samples "
                                 "along a first axis",
                                 index));
    // Each sample must have the argument's shape less its first axis; say
    // so with the array's own shape (not that of the batch sliced from it).
    bool samplesMatch =
        static_cast<int64_t>(dataset.shape.size()) == type.getRank();
    for (int64_t axis = 1; samplesMatch && axis < type.getRank(); ++axis)
      samplesMatch = type.isDynamicDim(axis) ||
                     type.getDimSize(axis) == dataset.shape[axis];
    if (!samplesMatch) {
      std::string shape;
      llvm::raw_string_ostream os(shape);
      llvm::interleaveComma(dataset.shape, os);
      return error(llvm::formatv(
          "'{0}' holds an array of shape ({1}), which does not stack "
          "samples of argument #{2} of @{3}, {4} (the first axis counts "
          "samples)",
          names[index], shape, index, function.getName(), Type(type)));
    }
    int64_t size = type.isDynamicDim(0) ? dataset.shape[0] : type.getDimSize(0);
    if (size == 0 || dataset.shape[0] % size != 0)
      return error(llvm::formatv("'{0}' holds {1} samples, not a multiple of "
                                 "the batch {2} of argument #{3}",
                                 names[index], dataset.shape[0], size, index));
    int64_t count = dataset.shape[0] / size;
    if (numBatches >= 0 && count != numBatches)
      return error("the data sets hold different numbers of batches");
    numBatches = count;
  }
  return numBatches;
}

/// Calls `body(worker, b)` for every batch b in [begin, end), on `workers`
/// threads (worker 0 is the calling thread), each batch once. Stops
/// starting batches after a failure and returns the error of the first
/// batch that failed, so that the message does not depend on the threads.
static llvm::Error
forEachBatch(int64_t begin, int64_t end, unsigned workers,
             llvm::function_ref<llvm::Error(unsigned, int64_t)> body) {
  std::atomic<int64_t> next{begin};
  std::atomic<bool> failed{false};
  std::mutex mutex;
  int64_t failedBatch = end;
  llvm::Error firstError = llvm::Error::success();
  auto work = [&](unsigned worker) {
    for (int64_t b = next++; b < end && !failed; b = next++) {
      llvm::Error error = body(worker, b);
      if (!error)
        continue;
      failed = true;
      std::lock_guard<std::mutex> lock(mutex);
      if (b < failedBatch) {
        failedBatch = b;
        llvm::consumeError(std::move(firstError));
        firstError = llvm::createStringError(llvm::formatv(
            "batch {0}: {1}", b, llvm::toString(std::move(error))));
      } else {
        llvm::consumeError(std::move(error));
      }
    }
  };
  workers = std::max<unsigned>(
      1, std::min<int64_t>(workers, std::max<int64_t>(end - begin, 1)));
  std::vector<std::thread> threads;
  for (unsigned worker = 1; worker < workers; ++worker)
    threads.emplace_back(work, worker);
  work(0);
  for (std::thread &thread : threads)
    thread.join();
  return firstError;
}

/// Progress reported from any thread, one call at a time.
class SharedProgress {
public:
  SharedProgress(ProgressCallback callback, int64_t total)
      : callback(callback), total(total) {}
  void batchDone(StringRef what) {
    if (!callback)
      return;
    std::lock_guard<std::mutex> lock(mutex);
    callback(what, ++done, total);
  }

private:
  ProgressCallback callback;
  int64_t total;
  int64_t done = 0;
  std::mutex mutex;
};

llvm::Expected<SmallVector<NpyArray>>
qnn::runDataset(CompiledFunction &function, ArrayRef<NpyArray> datasets,
                ArrayRef<std::string> names, ProgressCallback progress,
                unsigned workers) {
  llvm::Expected<int64_t> numBatches = countBatches(function, datasets, names);
  if (!numBatches)
    return numBatches.takeError();
  // (The results' shapes come from running the first batch.)
  if (*numBatches == 0)
    return llvm::createStringError(llvm::formatv(
        "'{0}' holds no samples: an empty data set has no results to run",
        names.empty() ? std::string("the data set") : names[0]));
  SharedProgress shared(progress, *numBatches);
  // The first batch on this thread: it gives the results' shapes (static),
  // which size the concatenated arrays the other batches are copied into.
  auto first = function.run(getBatch(datasets, 0, *numBatches), names);
  if (!first)
    return llvm::createStringError(
        llvm::formatv("batch 0: {0}", llvm::toString(first.takeError())));
  SmallVector<NpyArray> results = std::move(*first);
  for (NpyArray &result : results) {
    if (result.shape.empty())
      return llvm::createStringError(
          "--dataset needs results with a first (batch) axis");
    result.shape[0] *= *numBatches;
    result.data.resize(result.data.size() * *numBatches);
  }
  shared.batchDone("run");
  llvm::Error error = forEachBatch(
      1, *numBatches, workers, [&](unsigned, int64_t b) -> llvm::Error {
        auto batch =
            function.runConcurrently(getBatch(datasets, b, *numBatches), names);
        if (!batch)
          return batch.takeError();
        for (auto [result, part] : llvm::zip(results, *batch))
          std::memcpy(result.data.data() + b * part.data.size(),
                      part.data.data(), part.data.size());
        shared.batchDone("run");
        return llvm::Error::success();
      });
  if (error)
    return std::move(error);
  return results;
}

llvm::Expected<CalibrationStatistics>
qnn::calibrate(CompiledFunction &function, ArrayRef<NpyArray> datasets,
               ArrayRef<std::string> names, unsigned bins,
               const CalibrationStatistics *priorRanges,
               ProgressCallback progress, unsigned workers) {
  if (function.getObserverIds().empty())
    return llvm::createStringError(
        "@" + function.getName() +
        " has no qnn.observe to calibrate (run quant-opt "
        "--qnn-insert-observers first)");
  llvm::Expected<int64_t> numBatches = countBatches(function, datasets, names);
  if (!numBatches)
    return numBatches.takeError();
  workers = std::max<unsigned>(1, std::min<int64_t>(workers, *numBatches));
  // One collector per thread, merged after each pass: the statistics are
  // sums, minima and maxima, so they do not depend on the threads.
  StatisticsCollector collector(function.getObserverIds(), bins);
  for (int pass = 0; pass < 2; ++pass) {
    if (pass == 1) {
      std::string problem = collector.checkObserved();
      if (!problem.empty())
        return llvm::createStringError(problem);
      collector.startHistograms(priorRanges ? *priorRanges
                                            : CalibrationStatistics());
    }
    // Every thread's collector starts as a copy of `collector`; the first
    // copy's result replaces it and the others add what they saw.
    std::vector<StatisticsCollector> collectors(workers, collector);
    SharedProgress shared(progress, *numBatches);
    std::string what = llvm::formatv("calibration pass {0}/2", pass + 1).str();
    if (llvm::Error error =
            forEachBatch(0, *numBatches, workers,
                         [&](unsigned worker, int64_t b) -> llvm::Error {
                           auto result = function.runConcurrently(
                               getBatch(datasets, b, *numBatches), names,
                               &collectors[worker]);
                           if (!result)
                             return result.takeError();
                           shared.batchDone(what);
                           return llvm::Error::success();
                         }))
      return std::move(error);
    collector = collectors.front();
    for (const StatisticsCollector &other : llvm::drop_begin(collectors))
      collector.merge(other);
  }
  return collector.getStatistics();
}

void qnn::keepFreedMemoryForReuse() {
  // Blocks up to 32 MiB (glibc's largest mmap threshold on 64-bit) come
  // from the heap, and the heap's top is never trimmed.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, INT_MAX);
}

llvm::Error CompiledFunction::rerun() {
  if (!lastFrame)
    return llvm::createStringError("rerun() before run()");
  invoke(*lastFrame, nullptr);
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// Calibration statistics
//===----------------------------------------------------------------------===//

void StatisticsCollector::startHistograms(const CalibrationStatistics &ranges) {
  for (auto [index, id] : llvm::enumerate(ids)) {
    TensorStatistics &entry = statistics[index];
    Histogram &histogram = entry.histogram.emplace();
    auto found = ranges.find(id);
    histogram.min = found != ranges.end() ? found->second.min : entry.min;
    histogram.max = found != ranges.end() ? found->second.max : entry.max;
    if (!(histogram.min < histogram.max)) {
      // A constant tensor: one bin around its value.
      histogram.min -= 0.5;
      histogram.max += 0.5;
    }
    histogram.bins.assign(bins, 0);
  }
}

namespace {
/// The finite values' range and count, and the infinite values' count (NaN
/// ignored). Of equal values (0 and -0) the first is kept, as a running
/// std::min or std::max over the values in order keeps it.
struct FiniteRange {
  float lo = std::numeric_limits<float>::infinity();
  float hi = -std::numeric_limits<float>::infinity();
  int64_t count = 0, infinite = 0;
};
} // namespace

static FiniteRange findFiniteRange(ArrayRef<float> values) {
  // Independent lanes, which the compiler vectorizes (min/max selects, mask
  // counts); a calibration observes every activation of every sample, so
  // this loop is most of its time beside the model.
  constexpr size_t kLanes = 16;
  // Lanes count in 32 bits: blocks of 2^30 values per lane.
  constexpr size_t kBlock = kLanes << 30;
  const float infinity = std::numeric_limits<float>::infinity();
  const float largest = std::numeric_limits<float>::max();
  FiniteRange range;
  float lo[kLanes], hi[kLanes];
  std::fill(lo, lo + kLanes, infinity);
  std::fill(hi, hi + kLanes, -infinity);
  const float *data = values.data();
  size_t size = values.size(), i = 0;
  while (i + kLanes <= size) {
    uint32_t finite[kLanes] = {}, infinite[kLanes] = {};
    size_t blockEnd = i + std::min(kBlock, (size - i) / kLanes * kLanes);
    for (; i < blockEnd; i += kLanes) {
      for (size_t j = 0; j < kLanes; ++j) {
        float value = data[i + j];
        float magnitude = std::fabs(value);
        bool isFinite = magnitude <= largest; // false for NaN and infinities
        finite[j] += isFinite;
        infinite[j] += magnitude == infinity;
        float low = isFinite ? value : infinity;
        float high = isFinite ? value : -infinity;
        lo[j] = low < lo[j] ? low : lo[j];
        hi[j] = high > hi[j] ? high : hi[j];
      }
    }
    for (size_t j = 0; j < kLanes; ++j) {
      range.count += finite[j];
      range.infinite += infinite[j];
    }
  }
  for (size_t j = 0; j < kLanes; ++j) {
    range.lo = std::min(range.lo, lo[j]);
    range.hi = std::max(range.hi, hi[j]);
  }
  for (; i < size; ++i) {
    float value = data[i];
    if (std::isnan(value))
      continue;
    if (std::isinf(value)) {
      ++range.infinite;
      continue;
    }
    range.lo = std::min(range.lo, value);
    range.hi = std::max(range.hi, value);
    ++range.count;
  }
  // The lanes saw the values out of order: a zero's sign is the first
  // zero's (every other float equal to the result is the result, bit for
  // bit).
  auto firstZero = [&] {
    return *llvm::find_if(values, [](float value) { return value == 0.0f; });
  };
  if (range.count > 0 && range.lo == 0.0f)
    range.lo = firstZero();
  if (range.count > 0 && range.hi == 0.0f)
    range.hi = firstZero();
  return range;
}

/// Adds each value to its bin of `bins` (equal bins of `width` from `min`):
/// the floor of its position, values outside the range and infinite
/// positions in the edge bins; NaN is not counted.
static void countIntoBins(ArrayRef<float> values, double min, double width,
                          MutableArrayRef<int64_t> bins) {
  const auto numBins = static_cast<int64_t>(bins.size());
  const auto last = static_cast<double>(numBins);
  // The positions of a chunk first (a loop the compiler vectorizes), then
  // the counts: where there are many values, in four histograms, so that a
  // run of values in one bin (a ReLU's zeros) does not make each increment
  // wait for the one before. Index numBins marks a NaN, which is not
  // counted.
  constexpr size_t kChunk = 1024, kCopies = 4;
  bool copies = values.size() >= 8 * bins.size();
  std::vector<int64_t> counts(copies ? kCopies * (numBins + 1) : 0, 0);
  int32_t index[kChunk];
  for (size_t begin = 0; begin < values.size(); begin += kChunk) {
    size_t size = std::min(kChunk, values.size() - begin);
    const float *data = values.data() + begin;
    for (size_t k = 0; k < size; ++k) {
      double position = (static_cast<double>(data[k]) - min) / width;
      // Beyond the last bin, +infinity, or NaN (an infinite width): the
      // last bin; below the first or -infinity: the first.
      double clamped = position < last ? position : last - 1;
      clamped = clamped >= 0.0 ? clamped : 0.0;
      // The floor, as it is not negative.
      index[k] = std::isnan(data[k]) ? static_cast<int32_t>(numBins)
                                     : static_cast<int32_t>(clamped);
    }
    if (!copies) {
      for (size_t k = 0; k < size; ++k)
        if (index[k] != numBins)
          ++bins[index[k]];
      continue;
    }
    size_t k = 0;
    for (; k + kCopies <= size; k += kCopies)
      for (size_t c = 0; c < kCopies; ++c)
        ++counts[c * (numBins + 1) + index[k + c]];
    for (; k < size; ++k)
      ++counts[index[k]];
  }
  if (copies)
    for (size_t c = 0; c < kCopies; ++c)
      for (int64_t bin = 0; bin < numBins; ++bin)
        bins[bin] += counts[c * (numBins + 1) + bin];
}

void StatisticsCollector::observe(unsigned id, ArrayRef<float> values) {
  TensorStatistics &entry = statistics[id];
  if (entry.histogram) {
    // Pass 2: count into the bins.
    Histogram &histogram = *entry.histogram;
    countIntoBins(values, histogram.min,
                  (histogram.max - histogram.min) / static_cast<double>(bins),
                  histogram.bins);
    return;
  }
  // Pass 1: the range and the count (NaN ignored; infinities counted, and
  // refused by checkObserved), in float exactly the doubles' range.
  FiniteRange range = findFiniteRange(values);
  infinities[id] += range.infinite;
  if (range.count == 0)
    return;
  if (!seen[id]) {
    entry.min = range.lo;
    entry.max = range.hi;
    seen[id] = true;
  }
  entry.min = std::min<double>(entry.min, range.lo);
  entry.max = std::max<double>(entry.max, range.hi);
  entry.count += range.count;
}

void StatisticsCollector::merge(const StatisticsCollector &other) {
  for (unsigned index = 0; index < statistics.size(); ++index) {
    TensorStatistics &entry = statistics[index];
    const TensorStatistics &theirs = other.statistics[index];
    if (entry.histogram) {
      for (auto [mine, their] :
           llvm::zip_equal(entry.histogram->bins, theirs.histogram->bins))
        mine += their;
      continue;
    }
    infinities[index] += other.infinities[index];
    if (!other.seen[index])
      continue;
    if (!seen[index]) {
      entry.min = theirs.min;
      entry.max = theirs.max;
      seen[index] = true;
    }
    entry.min = std::min(entry.min, theirs.min);
    entry.max = std::max(entry.max, theirs.max);
    entry.count += theirs.count;
  }
}

std::string StatisticsCollector::checkObserved() const {
  for (auto [index, id] : llvm::enumerate(ids)) {
    if (infinities[index] > 0)
      return llvm::formatv("observer '{0}' saw {1} infinite value(s): an "
                           "infinite activation has no quantized range (is "
                           "the model or the data broken?)",
                           id, infinities[index])
          .str();
    if (statistics[index].count == 0)
      return llvm::formatv("observer '{0}' saw no value (an empty data set, "
                           "or only NaN): it has no range",
                           id)
          .str();
  }
  return "";
}

CalibrationStatistics StatisticsCollector::getStatistics() const {
  CalibrationStatistics result;
  for (auto [id, entry] : llvm::zip(ids, statistics))
    result[id] = entry;
  return result;
}

llvm::Error
qnn::writeCalibrationStatistics(StringRef path,
                                const CalibrationStatistics &statistics) {
  llvm::json::Object tensors;
  for (const auto &entry : statistics) {
    const TensorStatistics &s = entry.second;
    llvm::json::Object tensor{
        {"min", s.min}, {"max", s.max}, {"count", s.count}};
    if (s.histogram) {
      llvm::json::Array bins;
      for (int64_t count : s.histogram->bins)
        bins.push_back(count);
      tensor["histogram"] = llvm::json::Object{{"min", s.histogram->min},
                                               {"max", s.histogram->max},
                                               {"bins", std::move(bins)}};
    }
    tensors[entry.first()] = std::move(tensor);
  }
  llvm::json::Value document =
      llvm::json::Object{{"format", "quant-opt-calibration-statistics"},
                         {"version", 1},
                         {"tensors", std::move(tensors)}};
  std::error_code error;
  llvm::raw_fd_ostream out(path, error, llvm::sys::fs::OF_Text);
  if (error)
    return llvm::createStringError(
        llvm::formatv("cannot write '{0}': {1}", path, error.message()));
  out << llvm::formatv("{0:2}", document) << "\n";
  return llvm::Error::success();
}
