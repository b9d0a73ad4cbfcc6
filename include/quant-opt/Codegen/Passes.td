//===- Passes.td - Code generation passes ------------------*- tablegen -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Target code generation strategies for linalg on tensors (float or integer
// storage, after the qnn lowering). Each strategy is one pass; the CPU and
// GPU pipelines pick theirs.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_OPT_CODEGEN_PASSES_TD
#define QUANT_OPT_CODEGEN_PASSES_TD

include "mlir/Pass/PassBase.td"

def QNNTileAndVectorizeCPUPass
    : Pass<"qnn-tile-and-vectorize-cpu", "func::FuncOp"> {
  let summary = "Tile linalg ops on tensors and vectorize the tiles (generic CPU strategy)";
  let description = [{
    The default CPU strategy, for float and integer programs alike. Every
    linalg op with static shapes whose indexing maps are projected
    permutations (matmuls and batch matmuls, named or as the fused integer
    `linalg.generic` of `qnn-fuse-quantized-ops`, elementwise ops, fills,
    transposes, broadcasts, reductions) is tiled with `scf.for` loops and the
    tile is vectorized with `linalg::vectorize`:

    - the innermost parallel dimension gets `vector-width` lanes, the
      parallel dimension before it `rows` (contractions only: an outer
      product of `rows` by `vector-width` accumulators), the reduction
      dimensions `reduction-tile` (contractions) and every other dimension 1;
    - each size is the largest divisor of the dimension not above the wanted
      size, so every tile is static and full: no masks, no remainder loops,
      and sizes that do not divide the preferred tiles stay correct.

    2-D convolutions and poolings (named, or the fused integer generics) are
    tiled to one output row and one filter tap (row and column), with `rows`
    output columns and `vector-width` output channels. Dropping those unit
    dimensions, and turning a strided window access into a strided
    `tensor.extract_slice`, leaves a contraction over the input channels
    (or an elementwise op, for depthwise and pooling) that is vectorized
    like any other tile, whatever the signedness of its operands.

    The requantization epilogue (`qnn.rescale` lowered to an elementwise
    `linalg.generic`), or any elementwise op that is the only user of a
    contraction's result, is tiled by the contraction's `rows` x
    `vector-width` tile with the contraction (and its initialization) fused
    into that tile, so that the i32 accumulators are requantized while they
    are in cache; the tiles are then vectorized as above. Ops it
    cannot vectorize are left as they are, with a remark naming why, and
    become loops later in the pipeline: dynamic shapes, sub-byte element
    types (a memref stores one i4 per byte, a vector packs them), and
    convolutions whose window is not of the form `stride * out + tap`.
  }];
  let dependentDialects = [
    "affine::AffineDialect", "arith::ArithDialect", "scf::SCFDialect",
    "tensor::TensorDialect", "vector::VectorDialect"
  ];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"16",
           "Lanes of the innermost parallel dimension">,
    Option<"rows", "rows", "int64_t", /*default=*/"8",
           "Rows of a contraction tile (the parallel dimension before the "
           "innermost)">,
    Option<"reductionTile", "reduction-tile", "int64_t", /*default=*/"16",
           "Tile of each reduction dimension of a contraction">,
  ];
}

def QNNSetCPUTargetPass : Pass<"qnn-set-cpu-target", "ModuleOp"> {
  let summary = "Set the CPU and features that LLVM generates code for";
  let description = [{
    Sets `target_cpu` and `target_features` on every defined `llvm.func`, so
    that the code generator (`llc`, `mlir-translate` + `llc`, or the JIT)
    generates code for that CPU instead of the host's: cross-compilation,
    e.g. the code an AVX2-only CPU gets from an AVX-512 machine. `cpu` is an
    LLVM CPU name (`x86-64-v3`, `znver3`, `znver4`, `sapphirerapids`),
    `features` a comma list of `+name`/`-name` LLVM feature names; unknown
    names are errors (LLVM itself would only warn and ignore them).
    `qnn-cpu-pipeline` runs it last when its `cpu` or `cpu-features` option
    is set. Whether the code runs on the machine at hand is not checked here
    (`quant-run --mcpu` checks it).
  }];
  let options = [
    Option<"cpu", "cpu", "std::string", /*default=*/"\"\"",
           "LLVM CPU name (empty: leave the functions' CPU as it is)">,
    Option<"features", "features", "std::string", /*default=*/"\"\"",
           "Comma list of +feature / -feature (empty: none)">,
  ];
}

def QNNApproximateErfPass : Pass<"qnn-approximate-erf"> {
  let summary = "Rewrite math.erf as MLIR's polynomial approximation";
  let description = [{
    LLVM has no intrinsic for `erf`, so `convert-math-to-llvm` leaves
    `math.erf` (scalar or vector) behind and translation fails. This pass
    rewrites it with upstream's `populatePolynomialApproximateErfPattern`
    (arith and math.fma only, so it vectorizes like the rest of the body).
    The CPU pipelines run it before lowering to LLVM; GELU and Erf layers
    imported from ONNX need it.
  }];
  let dependentDialects = ["arith::ArithDialect", "math::MathDialect",
                           "vector::VectorDialect"];
}

#endif // QUANT_OPT_CODEGEN_PASSES_TD
