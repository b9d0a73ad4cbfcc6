//===- Pipelines.cpp - Registration of quant-opt pipelines ----------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Pipelines/Pipelines.h"

#include "mlir/Pass/PassRegistry.h"

using namespace mlir;

void qnn::registerQuantOptPipelines() {
  PassPipelineRegistration<ReferenceCPUPipelineOptions>(
      "qnn-reference-cpu-pipeline",
      "Lower qnn and linalg on tensors to scalar loops and the LLVM dialect "
      "(the reference the optimized pipelines are checked against)",
      buildReferenceCPUPipeline);
  PassPipelineRegistration<CPUPipelineOptions>(
      "qnn-cpu-pipeline",
      "Lower qnn and linalg on tensors, float or quantized, to vectorized "
      "code in the LLVM dialect for the host CPU",
      buildCPUPipeline);
  PassPipelineRegistration<GPUPipelineOptions>(
      "qnn-gpu-pipeline",
      "Lower qnn and linalg on tensors, float or quantized, to NVIDIA GPU "
      "kernels (gpu.binary) and LLVM-dialect host code that takes host "
      "buffers",
      buildGPUPipeline);
  PassPipelineRegistration<QuantizePipelineOptions>(
      "qnn-quantize-pipeline",
      "Quantize a float model from calibration statistics and a recipe, fuse "
      "its contractions into integer kernels and lower it to integers",
      buildQuantizePipeline);
}
