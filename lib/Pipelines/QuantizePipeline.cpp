//===- QuantizePipeline.cpp - Float model to integer model ----------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Post-training quantization as one pipeline: instrument, insert QDQ pairs
// from the statistics and the recipe, fuse them into integer kernels, lower
// to integers.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Conversion/Passes.h"
#include "quant-opt/Dialect/QNN/Transforms/Passes.h"
#include "quant-opt/Pipelines/Pipelines.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void qnn::buildQuantizePipeline(OpPassManager &pm,
                                const QuantizePipelineOptions &options) {
  // The same ids as the calibration run, so the statistics find them.
  pm.addPass(createQNNInsertObserversPass());
  QNNInsertQDQPassOptions qdq;
  qdq.statisticsFile = options.statistics;
  qdq.recipeFile = options.recipe;
  qdq.activationMethod = options.activationMethod;
  qdq.activationPercentile = options.activationPercentile;
  qdq.activationBits = options.activationBits;
  qdq.activationSigned = options.activationSigned;
  qdq.activationSymmetric = options.activationSymmetric;
  qdq.weightBits = options.weightBits;
  qdq.weightSigned = options.weightSigned;
  qdq.weightSymmetric = options.weightSymmetric;
  qdq.weightNarrowRange = options.weightNarrowRange;
  qdq.weightGranularity = options.weightGranularity;
  qdq.weightGroupSize = options.weightGroupSize;
  qdq.weightOnly = options.weightOnly;
  qdq.activationDynamic = options.activationDynamic;
  qdq.parametersFile = options.parameters;
  pm.addPass(createQNNInsertQDQPass(qdq));
  // Weight quantizes fold into qnn.constant before fusion looks for them.
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createQNNFuseQuantizedOpsPass());
  pm.addPass(createCanonicalizerPass());
  if (!options.lowerToIntegers)
    return;
  pm.addPass(createConvertQNNToLinalgPass());
  // The contract of this stage: integers only.
  pm.addPass(createQNNVerifyNoQuantTypesPass());
  pm.addPass(createCanonicalizerPass());
}
