//===- Pipelines.h - quant-opt pass pipelines -------------------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Pipeline builders, usable from C++ (`build…Pipeline(pm, options)`) and
// registered in quant-opt under the names below.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_OPT_PIPELINES_PIPELINES_H
#define QUANT_OPT_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

namespace mlir::qnn {

/// Options of `qnn-reference-cpu-pipeline`.
struct ReferenceCPUPipelineOptions
    : public PassPipelineOptions<ReferenceCPUPipelineOptions> {
  PassOptions::Option<bool> resultsToOutParams{
      *this, "results-to-out-params",
      llvm::cl::desc("Return buffers through caller-allocated out parameters "
                     "(the calling convention of quant-run)"),
      llvm::cl::init(false)};
  PassOptions::Option<bool> lowerToLLVM{
      *this, "lower-to-llvm",
      llvm::cl::desc("Lower the scalar loops to the LLVM dialect (off: stop "
                     "at bufferized scf loops, to inspect them)"),
      llvm::cl::init(true)};
};

/// Builds `qnn-reference-cpu-pipeline`: qnn and linalg on tensors to scalar
/// loops and the LLVM dialect, with no tiling or vectorization. Its result
/// runs under mlir-runner; it is the plain reference the optimized CPU
/// pipelines are checked against.
void buildReferenceCPUPipeline(OpPassManager &pm,
                               const ReferenceCPUPipelineOptions &options);

/// How `qnn-cpu-pipeline` turns linalg ops into code.
enum class CPUStrategy {
  /// `qnn-microkernel-cpu` for matmuls and convolutions with constant
  /// weights (packed at compile time, a register-blocked kernel per ISA),
  /// then `qnn-tile-and-vectorize-cpu` for everything else.
  Microkernel,
  /// `qnn-tile-and-vectorize-cpu`: static tiles, vectorized by upstream
  /// linalg::vectorize.
  Generic,
  /// Scalar loops only (what qnn-reference-cpu-pipeline does).
  Scalar,
};

/// Options of `qnn-cpu-pipeline`.
struct CPUPipelineOptions : public PassPipelineOptions<CPUPipelineOptions> {
  PassOptions::Option<CPUStrategy> strategy{
      *this, "strategy", llvm::cl::desc("Code generation strategy"),
      llvm::cl::init(CPUStrategy::Microkernel),
      llvm::cl::values(
          clEnumValN(CPUStrategy::Microkernel, "microkernel",
                     "Packed-weight micro-kernels for contractions "
                     "(qnn-microkernel-cpu), the generic strategy for the "
                     "rest"),
          clEnumValN(CPUStrategy::Generic, "generic",
                     "Tile and vectorize (qnn-tile-and-vectorize-cpu)"),
          clEnumValN(CPUStrategy::Scalar, "scalar", "Scalar loops only"))};
  PassOptions::Option<int64_t> vectorWidth{
      *this, "vector-width",
      llvm::cl::desc("Lanes of the innermost parallel dimension"),
      llvm::cl::init(16)};
  PassOptions::Option<int64_t> rows{
      *this, "rows", llvm::cl::desc("Rows of a contraction tile"),
      llvm::cl::init(8)};
  PassOptions::Option<int64_t> reductionTile{
      *this, "reduction-tile",
      llvm::cl::desc("Tile of each reduction dimension of a contraction"),
      llvm::cl::init(16)};
  PassOptions::Option<bool> resultsToOutParams{
      *this, "results-to-out-params",
      llvm::cl::desc("Return buffers through caller-allocated out parameters "
                     "(the calling convention of quant-run)"),
      llvm::cl::init(false)};
  PassOptions::Option<bool> lowerToLLVM{
      *this, "lower-to-llvm",
      llvm::cl::desc("Lower to the LLVM dialect (off: stop at bufferized "
                     "loops and vectors, to inspect them)"),
      llvm::cl::init(true)};
  PassOptions::Option<unsigned> threads{
      *this, "threads",
      llvm::cl::desc("Threads the micro-kernels' output loops run on (OpenMP; "
                     "1: none, no runtime needed)"),
      llvm::cl::init(1)};
  PassOptions::Option<std::string> cpu{
      *this, "cpu",
      llvm::cl::desc("LLVM CPU to generate code for (x86-64-v3, znver4, ...; "
                     "empty: the code generator's default, the host for "
                     "the JIT)")};
  PassOptions::Option<std::string> cpuFeatures{
      *this, "cpu-features",
      llvm::cl::desc("CPU features to add or remove (+avx512f,-avx512vnni)")};
  PassOptions::Option<bool> profile{
      *this, "profile",
      llvm::cl::desc("Time each layer: calls of qnn_profile_enter/exit "
                     "around its ops (qnn-profile-layers), which the host "
                     "defines (quant-run --profile)"),
      llvm::cl::init(false)};
};

/// Builds `qnn-cpu-pipeline`: qnn and linalg on tensors (float or
/// quantized) to vectorized code in the LLVM dialect for the host CPU.
void buildCPUPipeline(OpPassManager &pm, const CPUPipelineOptions &options);

/// The NVIDIA architecture `qnn-gpu-pipeline` generates code for.
enum class GPUChip { SM80, SM90 };

/// What the `gpu.binary` of `qnn-gpu-pipeline` holds (gpu-module-to-binary's
/// format): PTX text (loaded with mgpuModuleLoadJIT), a cubin, or a fatbin
/// (cubin + PTX; loaded with mgpuModuleLoad).
enum class GPUBinaryFormat { ISA, Bin, Fatbin, LLVM };

/// Options of `qnn-gpu-pipeline` (docs/GPU.md).
struct GPUPipelineOptions : public PassPipelineOptions<GPUPipelineOptions> {
  PassOptions::Option<GPUChip> chip{
      *this, "chip", llvm::cl::desc("NVIDIA architecture"),
      llvm::cl::init(GPUChip::SM80),
      llvm::cl::values(clEnumValN(GPUChip::SM80, "sm_80", "Ampere (A100)"),
                       clEnumValN(GPUChip::SM90, "sm_90",
                                  "Hopper (H100, "
                                  "H200)"))};
  PassOptions::Option<GPUBinaryFormat> format{
      *this, "format",
      llvm::cl::desc("What the gpu.binary holds (isa: PTX; bin: cubin; "
                     "fatbin: cubin and PTX; llvm: LLVM bitcode, which only "
                     "quant-opt's GPU emulator runs; bin and fatbin need "
                     "ptxas and fatbinary at compile time)"),
      llvm::cl::init(GPUBinaryFormat::Fatbin),
      llvm::cl::values(clEnumValN(GPUBinaryFormat::ISA, "isa", "PTX"),
                       clEnumValN(GPUBinaryFormat::Bin, "bin", "cubin"),
                       clEnumValN(GPUBinaryFormat::Fatbin, "fatbin", "fatbin"),
                       clEnumValN(GPUBinaryFormat::LLVM, "llvm",
                                  "LLVM bitcode (for the GPU emulator)"))};
  PassOptions::Option<std::string> cudaPath{
      *this, "cuda-path",
      llvm::cl::desc("CUDA toolkit whose libdevice is linked into the "
                     "kernels (math functions) and whose ptxas/fatbinary "
                     "make bin/fatbin (empty: $CUDA_ROOT, $CUDA_HOME, "
                     "$CUDA_PATH, else /usr/local/cuda if it has libdevice)")};
  PassOptions::Option<int64_t> threads{
      *this, "threads",
      llvm::cl::desc("Threads per block of the SIMT kernels (1 to 1024)"),
      llvm::cl::init(256)};
  PassOptions::Option<bool> tensorCores{
      *this, "tensor-cores",
      llvm::cl::desc("Integer contractions on the tensor cores (int8 "
                     "mma.sync m16n8k32, epilogue fused); off: every op on "
                     "the SIMT kernels"),
      llvm::cl::init(true)};
  PassOptions::Option<int64_t> tileM{
      *this, "tile-m",
      llvm::cl::desc("Output rows of a tensor-core block (a multiple of 16 "
                     "* warps-m)"),
      llvm::cl::init(64)};
  PassOptions::Option<int64_t> tileN{
      *this, "tile-n",
      llvm::cl::desc("Output columns of a tensor-core block (a multiple of "
                     "8 * warps-n)"),
      llvm::cl::init(64)};
  PassOptions::Option<int64_t> tileK{
      *this, "tile-k",
      llvm::cl::desc("Reduction step staged in shared memory (a multiple of "
                     "32)"),
      llvm::cl::init(32)};
  PassOptions::Option<int64_t> warpsM{
      *this, "warps-m", llvm::cl::desc("Warps of a block along M"),
      llvm::cl::init(2)};
  PassOptions::Option<int64_t> warpsN{
      *this, "warps-n", llvm::cl::desc("Warps of a block along N"),
      llvm::cl::init(2)};
  PassOptions::Option<bool> asyncCopies{
      *this, "async-copies",
      llvm::cl::desc("Fill the tensor-core tiles of operands contiguous "
                     "along K with cp.async, in up to four shared-memory "
                     "stages (off: through registers, two stages)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> resultsToOutParams{
      *this, "results-to-out-params",
      llvm::cl::desc("Return buffers through caller-allocated out parameters "
                     "(the calling convention of quant-run)"),
      llvm::cl::init(false)};
  PassOptions::Option<bool> lowerToLLVM{
      *this, "lower-to-llvm",
      llvm::cl::desc("Outline the kernels, lower host and kernels to the "
                     "LLVM dialect and serialize the kernels (off: stop at "
                     "gpu.launch with the host-device copies, to inspect "
                     "them)"),
      llvm::cl::init(true)};
};

/// Builds `qnn-gpu-pipeline`: qnn and linalg on tensors (float or
/// quantized) to GPU kernels for NVIDIA GPUs, serialized in `gpu.binary`
/// ops, and host code in the LLVM dialect that launches them through the
/// runtime functions of upstream `gpu-to-llvm` (mgpuModuleLoad,
/// mgpuLaunchKernel, mgpuMemAlloc, mgpuMemcpy, ...). Functions keep their
/// signatures and take host buffers (docs/GPU.md).
void buildGPUPipeline(OpPassManager &pm, const GPUPipelineOptions &options);

/// Options of `qnn-quantize-pipeline`: those of qnn-insert-qdq, and where to
/// stop.
struct QuantizePipelineOptions
    : public PassPipelineOptions<QuantizePipelineOptions> {
  PassOptions::Option<std::string> statistics{
      *this, "statistics",
      llvm::cl::desc("Calibration statistics JSON (docs/Calibration.md)")};
  PassOptions::Option<std::string> recipe{
      *this, "recipe",
      llvm::cl::desc("Per-layer recipe JSON (docs/Quantization.md)")};
  PassOptions::Option<std::string> activationMethod{
      *this, "activation-method",
      llvm::cl::desc("minmax, percentile, mse or entropy"),
      llvm::cl::init("minmax")};
  PassOptions::Option<double> activationPercentile{
      *this, "activation-percentile",
      llvm::cl::desc("Percentile p of the percentile method"),
      llvm::cl::init(99.99)};
  PassOptions::Option<unsigned> activationBits{
      *this, "activation-bits", llvm::cl::desc("Activation storage width"),
      llvm::cl::init(8)};
  PassOptions::Option<bool> activationSigned{
      *this, "activation-signed", llvm::cl::desc("Signed activation storage"),
      llvm::cl::init(false)};
  PassOptions::Option<bool> activationSymmetric{
      *this, "activation-symmetric",
      llvm::cl::desc("Symmetric activation ranges"), llvm::cl::init(false)};
  PassOptions::Option<unsigned> weightBits{
      *this, "weight-bits", llvm::cl::desc("Weight storage width"),
      llvm::cl::init(8)};
  PassOptions::Option<bool> weightSigned{
      *this, "weight-signed", llvm::cl::desc("Signed weight storage"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> weightSymmetric{
      *this, "weight-symmetric", llvm::cl::desc("Symmetric weight ranges"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> weightNarrowRange{
      *this, "weight-narrow-range",
      llvm::cl::desc("Leave out the most negative value (i8<-127:127>)"),
      llvm::cl::init(true)};
  PassOptions::Option<std::string> weightGranularity{
      *this, "weight-granularity",
      llvm::cl::desc("per_tensor, per_channel or per_group"),
      llvm::cl::init("per_channel")};
  PassOptions::Option<int64_t> weightGroupSize{
      *this, "weight-group-size",
      llvm::cl::desc("Block size along the reduction dimension"),
      llvm::cl::init(32)};
  PassOptions::Option<std::string> parameters{
      *this, "parameters",
      llvm::cl::desc("Write the chosen quantized types as JSON (activations "
                     "by id, weights by layer id)")};
  PassOptions::Option<bool> weightOnly{
      *this, "weight-only",
      llvm::cl::desc("Quantize the weights only; activations stay float"),
      llvm::cl::init(false)};
  PassOptions::Option<std::string> activationDynamic{
      *this, "activation-dynamic",
      llvm::cl::desc("static, per_tensor or per_row: quantize the "
                     "activation inputs of contractions at run time "
                     "(dynamic quantization); their outputs stay float"),
      llvm::cl::init("static")};
  PassOptions::Option<bool> lowerToIntegers{
      *this, "lower-to-integers",
      llvm::cl::desc("Lower the quantized program to linalg on integer "
                     "storage (off: stop at the fused qnn ops)"),
      llvm::cl::init(true)};
};

/// Builds `qnn-quantize-pipeline`: a float model to a quantized one whose
/// contractions run in integers with folded scales, from calibration
/// statistics and a recipe.
void buildQuantizePipeline(OpPassManager &pm,
                           const QuantizePipelineOptions &options);

/// Registers every quant-opt pipeline with the global pass registry.
void registerQuantOptPipelines();

} // namespace mlir::qnn

#endif // QUANT_OPT_PIPELINES_PIPELINES_H
