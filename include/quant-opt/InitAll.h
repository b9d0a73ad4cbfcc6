//===- InitAll.h - Register all of quant-opt --------------------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// One place to register what quant-opt provides and what its pipelines need,
// for quant-opt itself and for compilers that embed its passes.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_OPT_INITALL_H
#define QUANT_OPT_INITALL_H

namespace mlir {
class DialectRegistry;

namespace qnn {

/// Adds the qnn dialect to `registry`.
void registerQuantOptDialects(DialectRegistry &registry);

/// Adds the qnn dialect and the upstream dialects (with their interface
/// extensions) that quant-opt's pipelines produce or accept: func, arith,
/// math, tensor, linalg, memref, bufferization, scf, cf, affine, vector,
/// x86vector, quant, tosa, gpu, nvvm, nvgpu, llvm, transform.
void registerQuantOptAndUpstreamDialects(DialectRegistry &registry);

/// Registers quant-opt's passes and pipelines.
void registerQuantOptPasses();

/// Registers quant-opt's passes and pipelines and the upstream passes its
/// users combine them with.
void registerQuantOptAndUpstreamPasses();

} // namespace qnn
} // namespace mlir

#endif // QUANT_OPT_INITALL_H
