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

#include "quant-opt/Pipelines/Pipelines.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/TargetSelect.h"

#include <algorithm>
#include <chrono>

using namespace mlir;
using namespace mlir::qnn;

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
  if (elementType.isF32())
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

llvm::Expected<RunResult> qnn::runFunction(ModuleOp module,
                                           ArrayRef<NpyArray> inputs,
                                           ArrayRef<std::string> inputNames,
                                           const RunOptions &options) {
  auto function = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(
      module, StringAttr::get(module.getContext(), options.function));
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
  if (type.getNumInputs() != inputs.size())
    return llvm::createStringError(
        llvm::formatv("@{0} takes {1} arguments, {2} inputs were given",
                      options.function, type.getNumInputs(), inputs.size()));

  // Check every input against its argument type.
  for (auto [index, pair] :
       llvm::enumerate(llvm::zip(type.getInputs(), inputs))) {
    auto [argType, array] = pair;
    auto shaped = dyn_cast<RankedTensorType>(argType);
    SmallVector<StringRef> dtypes =
        shaped ? getDtypes(shaped.getElementType()) : SmallVector<StringRef>();
    if (dtypes.empty())
      return llvm::createStringError(llvm::formatv(
          "argument #{0} of @{1} has type {2}, which quant-run cannot pass "
          "(ranked tensors of f16, f32, f64, i1 to i64 or quantized types of "
          "8, 16 or 32 bits)",
          index, options.function, argType));
    bool shapeMatches =
        shaped.getRank() == static_cast<int64_t>(array.shape.size());
    for (int64_t axis = 0; shapeMatches && axis < shaped.getRank(); ++axis)
      shapeMatches = shaped.isDynamicDim(axis) ||
                     shaped.getDimSize(axis) == array.shape[axis];
    if (!llvm::is_contained(dtypes, StringRef(array.dtype)) || !shapeMatches)
      return llvm::createStringError(llvm::formatv(
          "argument #{0} of @{1} expects {2} ('{3}' data), but '{4}' holds {5}",
          index, options.function, argType, dtypes.front(), inputNames[index],
          describe(array)));
  }
  SmallVector<RankedTensorType> resultTypes;
  for (auto [index, resultType] : llvm::enumerate(type.getResults())) {
    auto shaped = dyn_cast<RankedTensorType>(resultType);
    if (!shaped || !shaped.hasStaticShape() ||
        getDtypes(shaped.getElementType()).empty())
      return llvm::createStringError(llvm::formatv(
          "result #{0} of @{1} has type {2}; quant-run returns ranked tensors "
          "of static shape",
          index, options.function, resultType));
    resultTypes.push_back(shaped);
  }

  // Lower a clone: results become out parameters, the entry gets a C
  // interface.
  OwningOpRef<ModuleOp> lowered = module.clone();
  SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(
      *lowered, StringAttr::get(module.getContext(), options.function))
      ->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(),
                UnitAttr::get(module.getContext()));
  PassManager pm(module.getContext());
  ReferenceCPUPipelineOptions pipelineOptions;
  pipelineOptions.resultsToOutParams = true;
  buildReferenceCPUPipeline(pm, pipelineOptions);
  if (failed(pm.run(*lowered)))
    return llvm::createStringError(llvm::formatv(
        "lowering @{0} for the CPU failed (see the diagnostics above)",
        options.function));

  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  registerBuiltinDialectTranslation(*lowered->getContext());
  registerLLVMDialectTranslation(*lowered->getContext());
  ExecutionEngineOptions engineOptions;
  // The runtime the lowered code may call (printMemref*, memrefCopy).
  SmallVector<StringRef> sharedLibs(options.sharedLibs.begin(),
                                    options.sharedLibs.end());
  engineOptions.sharedLibPaths = sharedLibs;
  auto transformer = makeOptimizingTransformer(3, 0, nullptr);
  engineOptions.transformer = transformer;
  engineOptions.jitCodeGenOptLevel = llvm::CodeGenOptLevel::Aggressive;
  auto engine = ExecutionEngine::create(*lowered, engineOptions);
  if (!engine)
    return engine.takeError();

  // Buffers and descriptors: inputs point into the arrays, outputs into
  // fresh arrays.
  RunResult result;
  SmallVector<NpyArray> inputCopies(inputs.begin(), inputs.end());
  SmallVector<SmallVector<int64_t>> descriptors;
  for (NpyArray &array : inputCopies)
    descriptors.push_back(makeDescriptor(array.data.data(), array.shape));
  for (RankedTensorType resultType : resultTypes) {
    NpyArray &output = result.outputs.emplace_back();
    output.dtype = getDtypes(resultType.getElementType()).front().str();
    llvm::append_range(output.shape, resultType.getShape());
    output.data.resize(output.getNumElements() *
                       getNpyElementSize(output.dtype));
  }
  for (NpyArray &output : result.outputs)
    descriptors.push_back(makeDescriptor(output.data.data(), output.shape));
  SmallVector<void *> descriptorPointers;
  for (SmallVector<int64_t> &descriptor : descriptors)
    descriptorPointers.push_back(descriptor.data());
  SmallVector<void *> packed;
  for (void *&pointer : descriptorPointers)
    packed.push_back(&pointer);

  std::string entry = "_mlir_ciface_" + options.function;
  auto call = [&]() -> llvm::Error {
    return (*engine)->invokePacked(entry, packed);
  };
  if (llvm::Error error = call())
    return std::move(error);
  if (options.repeat > 0) {
    std::vector<double> times;
    for (unsigned i = 0; i < options.repeat; ++i) {
      auto start = std::chrono::steady_clock::now();
      if (llvm::Error error = call())
        return std::move(error);
      times.push_back(std::chrono::duration<double>(
                          std::chrono::steady_clock::now() - start)
                          .count());
    }
    std::sort(times.begin(), times.end());
    result.medianSeconds = times[times.size() / 2];
  }
  return result;
}
