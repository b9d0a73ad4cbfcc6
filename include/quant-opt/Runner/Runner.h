//===- Runner.h - JIT execution of quant-opt programs -----------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Runs a function of a module (float, quantized or fused, on tensors) on
// NumPy arrays: lowers it with qnn-reference-cpu-pipeline, compiles it with
// MLIR's ExecutionEngine for the host CPU and calls it.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_OPT_RUNNER_RUNNER_H
#define QUANT_OPT_RUNNER_RUNNER_H

#include "quant-opt/Runner/Npy.h"

#include "mlir/IR/BuiltinOps.h"

namespace mlir::qnn {

/// What to run and how often.
struct RunOptions {
  std::string function = "main";
  /// After one warm-up call, time this many calls and report the median.
  unsigned repeat = 0;
  /// Libraries the JIT loads for symbols the module calls.
  SmallVector<std::string> sharedLibs;
};

/// The results of a run: one array per function result, and the median
/// time of the timed calls (0 without `repeat`).
struct RunResult {
  SmallVector<NpyArray> outputs;
  double medianSeconds = 0;
};

/// Checks `inputs` against the signature of `options.function`, lowers a
/// clone of `module`, runs it and returns the results. Every error names
/// the function, the argument and the expected type.
llvm::Expected<RunResult> runFunction(ModuleOp module,
                                      ArrayRef<NpyArray> inputs,
                                      ArrayRef<std::string> inputNames,
                                      const RunOptions &options);

} // namespace mlir::qnn

#endif // QUANT_OPT_RUNNER_RUNNER_H
