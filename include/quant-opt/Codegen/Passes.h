//===- Passes.h - Code generation passes ------------------------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Declares the code generation strategies of quant-opt and their
// registration.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_OPT_CODEGEN_PASSES_H
#define QUANT_OPT_CODEGEN_PASSES_H

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::qnn {

#define GEN_PASS_DECL
#include "quant-opt/Codegen/Passes.h.inc"

/// Unit-dimension transposes to reshapes, static constant pads to a fill
/// (at the top of the function) and an insert (qnn-simplify-data-movement).
void populateSimplifyDataMovementPatterns(RewritePatternSet &patterns);

/// A float sum over a linalg.generic's innermost loop in `lanes` lanes,
/// then the lanes in order (qnn-split-float-sums; docs/Semantics.md, "Float
/// sums").
void populateSplitFloatSumPatterns(RewritePatternSet &patterns, int64_t lanes);

/// An all-parallel linalg.generic fused into a generic that reads each of
/// its elements once, where it has no other use or is cheap to recompute
/// (qnn-fuse-elementwise-producers).
void populateFuseElementwiseProducerPatterns(RewritePatternSet &patterns);

/// An elementwise linalg.generic of one 8-bit input whose body costs a
/// division or a math function as a lookup in a table of its 256 outputs,
/// computed by the same body (qnn-elementwise-lookup-tables).
void populateElementwiseLookupTablePatterns(RewritePatternSet &patterns);

/// A linalg.generic contraction of two 8-bit operands computed at run time
/// as an exact f32 contraction of the operands, their i32 sums and an
/// elementwise combination (qnn-integer-contractions-in-f32).
void populateIntegerContractionsInF32Patterns(RewritePatternSet &patterns);

/// A min or max of a whole tensor (all loops reductions, rank-0 outputs)
/// as one lane per element of the innermost loop, then the lanes
/// (qnn-whole-min-max-in-lanes).
void populateWholeMinMaxInLanesPatterns(RewritePatternSet &patterns);
/// A costly value (a division, a math function) that a reduction and an
/// elementwise op over the same loops both compute from the same inputs,
/// computed once by an op of its own (qnn-share-elementwise-values).
void populateShareElementwiseValuesPatterns(RewritePatternSet &patterns);

/// A 2-D convolution, regular or depthwise, with a constant filter, or a
/// pooling, with channel-first input and output (NCHW) as the same loops on
/// NHWC input and output between linalg.transpose ops; NCHW <-> NHWC
/// transposes folded into elementwise producers and consumers and moved
/// above pads (qnn-convolutions-to-nhwc).
void populateConvolutionsToNHWCPatterns(RewritePatternSet &patterns);

/// `vector.transpose(vector.broadcast(x))` that keeps x's dimensions in
/// order to one broadcast of x with unit dimensions where the new ones go
/// (the vectorizer's form of a value broadcast along an inner dimension,
/// which would otherwise lower element by element).
void populateFoldTransposedBroadcastPatterns(RewritePatternSet &patterns);

/// A `vector.contract` whose leading dimension is a unit batch of all three
/// operands (a batch matmul's tile) as the contraction without it, which
/// the vector lowerings take (they leave a 3-D i8 x i8 -> i32 one
/// unlowered). Narrower than upstream's
/// populateCastAwayVectorLeadingOneDimPatterns, which would also undo the
/// broadcasts folded into a convolution's contraction.
void populateCastAwayContractionUnitBatchPatterns(RewritePatternSet &patterns);

/// Scalar f32/f64 math.sqrt to PTX sqrt.rn (llvm.nvvm.sqrt.rn.*) and
/// math.rsqrt to 1 / sqrt.rn (qnn-gpu-correctly-rounded-math).
void populateGPUCorrectlyRoundedMathPatterns(RewritePatternSet &patterns);

#define GEN_PASS_REGISTRATION
#include "quant-opt/Codegen/Passes.h.inc"

} // namespace mlir::qnn

#endif // QUANT_OPT_CODEGEN_PASSES_H
