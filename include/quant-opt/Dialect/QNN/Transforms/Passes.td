//===- Passes.td - qnn dialect passes ----------------------*- tablegen -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Passes that work on the qnn dialect and quantized types. Lowerings out of
// the dialect live in include/quant-opt/Conversion/Passes.td.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_OPT_DIALECT_QNN_TRANSFORMS_PASSES_TD
#define QUANT_OPT_DIALECT_QNN_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def QNNVerifyNoQuantTypesPass : Pass<"qnn-verify-no-quant-types"> {
  let summary = "Check that no quantized type is left after lowering to integers";
  let description = [{
    The contract at the end of the integer lowering: every value, block
    argument and function signature uses integer storage types, and no
    `!quant.*` type is left for the backends to trip over. The pass changes
    nothing; it reports each operation that still carries a quantized type
    and fails.

    Input that fails:

    ```mlir
    func.func @f(%arg0: tensor<4x!quant.uniform<i8:f32, 0.5>>) {
      return
    }
    ```

    ```
    error: 'func.func' still has the quantized type
           '!quant.uniform<i8:f32, 5.000000e-01>' after lowering to integers
    ```
  }];
}

def QNNInsertObserversPass : Pass<"qnn-insert-observers", "ModuleOp"> {
  let summary = "Mark every activation tensor for calibration with qnn.observe";
  let description = [{
    Inserts a `qnn.observe` after every float tensor that quantization needs
    a range for: function arguments and op results that some op reads as an
    input or that are returned. Constants (weights, quantized from their own
    values), `tensor.empty` and `linalg.fill` (destinations only) and values
    used only as a destination are not observed.

    Ids come from locations, so that they are stable and readable: a named
    location (`loc("conv1")`, as importers write node names) gives `conv1`;
    otherwise the op name and line and column, `linalg.matmul@12:8`. An op's
    second and later results add `#1`, `#2`; an unnamed function argument is
    `<function>.arg<N>`. A repeated name gets `_1`, `_2`, ... in IR order.
    Values already observed are left alone, so the pass can run twice.

    ```mlir
    func.func @f(%x: tensor<1x4xf32> loc("input"), %w: tensor<4x3xf32>) -> tensor<1x3xf32> {
      %y = linalg.matmul ins(%x, %w : ...) outs(%init : ...) -> tensor<1x3xf32> loc("fc")
      return %y : tensor<1x3xf32>
    }
    ```

    becomes

    ```mlir
    func.func @f(%x: tensor<1x4xf32> loc("input"), %w: tensor<4x3xf32>) -> tensor<1x3xf32> {
      %0 = qnn.observe %x as "input" : tensor<1x4xf32>
      %1 = qnn.observe %w as "f.arg1" : tensor<4x3xf32>
      %y = linalg.matmul ins(%0, %1 : ...) outs(%init : ...) -> tensor<1x3xf32> loc("fc")
      %2 = qnn.observe %y as "fc" : tensor<1x3xf32>
      return %2 : tensor<1x3xf32>
    }
    ```
  }];
  let dependentDialects = ["::mlir::qnn::QNNDialect"];
}

def QNNExposeActivationsPass : Pass<"qnn-expose-activations", "ModuleOp"> {
  let summary = "Return every activation as an extra result, for per-layer error";
  let description = [{
    Observes every activation exactly as `qnn-insert-observers` does (same
    ids) and appends each observed value to its function's results, in IR
    order; the function's `qnn.exposed_activations` attribute lists their
    ids. The observers stay, so `qnn-quantize-pipeline` on the exposed
    module quantizes the same values as on the original one, and each extra
    result of the quantized program is the dequantized value the integer
    code computes: comparing it with the float program's is the per-layer
    error (what `quant-eval` reports).

    With `cut=true`, the readers of each activation take it from a new
    argument instead (appended in the same order as the results), so every
    layer is computed from whatever the caller passes: given the quantized
    program's activations, each float layer sees the same inputs as its
    quantized version, and the difference of their outputs is the error
    that layer adds alone.

    ```mlir
    func.func @f(%x: tensor<1x4xf32> loc("input")) -> tensor<1x3xf32> {
      %y = linalg.matmul ins(%x, %w : ...) outs(%init : ...) -> tensor<1x3xf32> loc("fc")
      %z = linalg.softmax ... loc("softmax")
      return %z : tensor<1x3xf32>
    }
    ```

    becomes (without `cut`)

    ```mlir
    func.func @f(%x: tensor<1x4xf32> loc("input"))
        -> (tensor<1x3xf32>, tensor<1x4xf32>, tensor<1x3xf32>, tensor<1x3xf32>)
        attributes {qnn.exposed_activations = ["input", "fc", "softmax"]} {
      %0 = qnn.observe %x as "input" : tensor<1x4xf32>
      %y = linalg.matmul ins(%0, %w : ...) ...
      %1 = qnn.observe %y as "fc" : tensor<1x3xf32>
      ...
      return %2, %0, %1, %2 : ...
    }
    ```
  }];
  let options = [
    Option<"cut", "cut", "bool", /*default=*/"false",
           "Also feed each activation's readers from a new argument">,
  ];
  let dependentDialects = ["::mlir::qnn::QNNDialect"];
}

def QNNEqualizeCrossLayerPass : Pass<"qnn-equalize-cross-layer"> {
  let summary = "Equalize the weight ranges of consecutive convolutions (data-free, on the float model)";
  let description = [{
    Cross-layer equalization (Nagel et al., "Data-Free Quantization Through
    Weight Equalization and Bias Correction", ICCV 2019): for a convolution
    P (`linalg.conv_2d_nhwc_hwcf` or `linalg.depthwise_conv_2d_nhwc_hwc`,
    constant weights) whose result goes, each value used once, through an
    optional bias add (a 1-D constant along the channels), an optional ReLU
    and zero paddings into the input of a `linalg.conv_2d_nhwc_hwcf` C with
    constant weights, output channel c of P (weights and bias) is divided by
    s_c and input channel c of C multiplied by it, with

    ```
    s_c = sqrt(r1_c * r2_c) / r2_c
    ```

    r1_c and r2_c being the largest |weight| of channel c in P and in C. The
    model computes the same function (ReLU(x / s) = ReLU(x) / s for s > 0,
    up to f32 rounding of the new weights), and both channel ranges become
    sqrt(r1_c * r2_c), so one scale per weight tensor fits every channel:
    run it on the float model before calibration (`qnn-insert-observers`)
    when weights are quantized per tensor. Depthwise-to-pointwise pairs
    (MobileNet) gain the most. Chains (a convolution that is both a C and a
    P) are swept `iterations` times or until no scale moves.

    A ReLU6 (a clamp to [0, 6]) is not positively homogeneous. With
    `relu6=relax` (the default) it becomes a ReLU in the pairs equalized, as
    the paper does: this changes the float model where an activation exceeds
    6 (docs/Quantization.md measures it); `relu6=skip` leaves such pairs
    alone. Anything else (another activation, a value read twice, a
    non-constant or shared weight) is left as it is.
  }];
  let options = [
    Option<"relu6", "relu6", "std::string", /*default=*/"\"relax\"",
           "ReLU6 between a pair: relax (to ReLU, and equalize) or skip">,
    Option<"iterations", "iterations", "unsigned", /*default=*/"20",
           "Sweeps over the pairs at most (chains converge over several)">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def QNNRoundWeightsGPTQPass : Pass<"qnn-round-weights-gptq"> {
  let summary = "Round low-bit weights with GPTQ from calibration statistics (on the float model)";
  let description = [{
    GPTQ (Frantar et al., ICLR 2023; Algorithm 1, one block, no
    reordering). For each matmul or 2-D convolution (regular or depthwise)
    with constant f32 weights, the weights are quantized one reduction
    column at a time at the per-channel symmetric scales qnn-insert-qdq
    would choose for `bits`-bit narrow signed storage; the rounding error
    of each column is spread over the columns not yet quantized through
    the upper Cholesky factor U of (H + lambda I)^-1, H = E[x x^T] the second
    moment of the contraction's input rows (im2col patches) on calibration
    data and lambda = `damp` times H's mean diagonal:

    ```
    q[:, k] = clamp(round_half_even(w[:, k] / s), -qmax, qmax)
    w[:, j] -= (w[:, k] - s * q[:, k]) / U[k, k] * U[k, j]     for j > k
    ```

    The statistics come from `statistics=` (a
    "quant-opt-contraction-statistics" file, keyed by layer id;
    docs/Quantization.md). The weights become an already-quantized weight,
    which qnn-insert-qdq keeps, so the integers reach the integer program:

    ```mlir
    %w = arith.constant dense<...> : tensor<3x3x8x16xf32>
    // becomes
    %q = qnn.constant dense<...> : tensor<3x3x8x16xi4>
        -> tensor<3x3x8x16x!quant.uniform<i4<-7:7>:f32:3, {...}>>
    %w = qnn.dequantize %q : ... -> tensor<3x3x8x16xf32>
    ```

    With `correct-bias=true`, the expected output shift of the rounded
    weights is then removed from the bias (as qnn-correct-bias does). A
    contraction without statistics, or with statistics of the wrong size,
    is an error naming it.
  }];
  let options = [
    Option<"statisticsFile", "statistics", "std::string", /*default=*/"\"\"",
           "Contraction statistics file (required)">,
    Option<"bits", "bits", "unsigned", /*default=*/"4",
           "Weight storage bits (2 to 8; narrow signed, symmetric, per channel)">,
    Option<"damp", "damp", "double", /*default=*/"0.01",
           "Dampening added to H's diagonal, as a fraction of its mean">,
    Option<"correctBias", "correct-bias", "bool", /*default=*/"false",
           "Also remove the expected output shift from the bias">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::qnn::QNNDialect",
                           "::mlir::quant::QuantDialect"];
}

def QNNCorrectBiasPass : Pass<"qnn-correct-bias"> {
  let summary = "Fold the expected output shift of rounded weights into the bias (on the float model)";
  let description = [{
    Bias correction (Nagel et al., ICCV 2019, section 4.2, with the input
    means measured on calibration data). For each matmul or 2-D convolution
    with constant f32 weights followed by a constant bias add, the weights
    are quantized as qnn-insert-qdq would (per-channel symmetric, `bits`-bit
    narrow signed storage, round half to even) and written as an
    already-quantized weight; the bias b becomes

    ```
    b[f] - sum_k (w_q[f, k] - w[f, k]) * E[x_k]
    ```

    E[x] the mean input row (im2col patch) from `statistics=` (docs/Quantization.md),
    so that the quantized layer's output has the float layer's mean on the
    calibration data. A contraction without a constant bias gets a remark
    and is left to the quantizer; one without statistics is an error.
  }];
  let options = [
    Option<"statisticsFile", "statistics", "std::string", /*default=*/"\"\"",
           "Contraction statistics file (required)">,
    Option<"bits", "bits", "unsigned", /*default=*/"8",
           "Weight storage bits (2 to 8; narrow signed, symmetric, per channel)">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::qnn::QNNDialect",
                           "::mlir::quant::QuantDialect"];
}

def QNNSmoothQuantPass : Pass<"qnn-smooth-quant", "::mlir::ModuleOp"> {
  let summary = "Migrate activation outliers into the weights: SmoothQuant (on the float model)";
  let description = [{
    SmoothQuant (Xiao et al., ICML 2023). Transformers' LayerNorm outputs
    have a few channels far larger than the rest, so a per-tensor activation
    scale leaves the others a few levels. For each op whose result is
    `t * gamma + beta` with constant per-channel (last axis) `gamma` and
    `beta` (a LayerNorm's affine step) and whose result only `linalg.matmul`s
    with constant f32 weights read (directly or through reshapes that keep
    the last axis), channel `j` is divided by

    ```
    s_j = max|x_j|^alpha / max_readers max_n |w[j, n]|^(1 - alpha)
    ```

    (`gamma` and `beta` become `gamma / s`, `beta / s`) and row `j` of every
    reader's weights is multiplied by it: the float program computes the
    same products up to rounding, with the activation's range evened out
    into the weights (quantized per output channel). `max|x_j|` is the
    `max_abs` of the readers' contraction statistics (`statistics=`,
    docs/Quantization.md); `s_j` is 1 where either maximum is 0 and is
    clamped to [1e-5, 1e5]. Each smoothed op gets a remark. Ops read by
    anything else are left alone.
  }];
  let options = [
    Option<"statisticsFile", "statistics", "std::string", /*default=*/"\"\"",
           "Contraction statistics file with max_abs (required)">,
    Option<"alpha", "alpha", "double", /*default=*/"0.5",
           "Migration strength in [0, 1]: 0 leaves the activations, 1 moves "
           "their whole range into the weights">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect"];
}

def QNNClusterWeightsPass : Pass<"qnn-cluster-weights"> {
  let summary = "Non-uniform weights: per-channel k-means codebooks (on the float model)";
  let description = [{
    Replaces the constant weights of every contraction (matmul,
    batch_matmul, the 2-D convolutions, depthwise included) by a codebook
    lookup: per output channel, a deterministic 1-D k-means (Lloyd's
    algorithm in double precision, initialized at the channel's
    `(j + 1/2) / 2^bits` quantiles, at most `iterations` rounds, ties to the
    lower centroid) finds `2^bits` centroids; they are quantized to
    symmetric narrow-range int8 with one scale per channel (the channel's
    largest |centroid| / 127) and each weight gets the code of the nearest
    quantized entry (ties to the lower code). Before:

    ```mlir
    %w = arith.constant dense<...> : tensor<3x3x1x16xf32>
    %y = linalg.conv_2d_nhwc_hwcf ins(%x, %w : ...) outs(...)
    ```

    After (`bits=4`):

    ```mlir
    %codes = arith.constant dense<...> : tensor<3x3x1x16xi4>
    %table = qnn.constant dense<...> : tensor<16x16xi8>
        -> tensor<16x16x!quant.uniform<i8<-127:127>:f32:0, {...}>>
    %q = qnn.lookup %codes, %table axis 3 : ... -> tensor<3x3x1x16x!quant.uniform<i8<-127:127>:f32:3, {...}>>
    %w = qnn.dequantize %q : ... -> tensor<3x3x1x16xf32>
    ```

    The weights are then already quantized: `qnn-insert-qdq` leaves them
    as they are and `qnn-fuse-quantized-ops` reads them as per-channel int8
    weights (the lookup evaluated at compile time), so the integer
    contraction is the W8A8 one with codebook values. Run it on the float
    model before calibration (`quant-eval --float-passes`).
  }];
  let options = [
    Option<"bits", "bits", "unsigned", /*default=*/"4",
           "Code width: 2^bits entries per output channel (1 to 8)">,
    Option<"iterations", "iterations", "unsigned", /*default=*/"30",
           "Lloyd iterations at most (stops earlier when no code changes)">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::qnn::QNNDialect",
                           "::mlir::quant::QuantDialect"];
}

def QNNInsertQDQPass : Pass<"qnn-insert-qdq", "ModuleOp"> {
  let summary = "Quantize activations from calibration statistics and weights from their values";
  let description = [{
    Turns a calibrated float model into a QDQ model:

    - every `qnn.observe %x as "id"` becomes
      `qnn.dequantize(qnn.quantize(%x))` with a per-tensor type whose scale
      and zero point come from the statistics of `id` (docs/Calibration.md:
      `minmax`, `percentile`, `mse` or `entropy` range, then the asymmetric or
      symmetric formulas) and the activation settings of the layer that
      produced `%x`;
    - the constant weights of `linalg.matmul`, `linalg.batch_matmul`,
      `linalg.conv_2d_nhwc_hwcf`, `linalg.conv_2d_nhwc_fhwc` (TOSA's
      layout), `linalg.conv_2d_nchw_fchw` and
      `linalg.depthwise_conv_2d_nhwc_hwc` get a quantize / dequantize pair
      whose type is computed from the weight values: per tensor, per output
      channel, or per group of `group-size` along the reduction dimension
      (a sub-channel type). The quantize of a constant folds into a
      `qnn.constant` at the next canonicalization: nothing is computed at
      run time.

    A recipe file (docs/Quantization.md) overrides the defaults below per
    layer, by id or by op name, down to "keep this layer in float" (its
    weights stay float). Ops that are not quantized get a remark that names
    them; they stay in float between a dequantize and a quantize.

    Errors, each with the op's location or the file name: an observer id
    missing from the statistics, a method that needs a histogram without one,
    a malformed statistics or recipe file, a recipe rule naming a layer id
    that does not exist, a group size that does not divide the reduction
    dimension.

    ```mlir
    %0 = qnn.observe %x as "input" : tensor<1x4xf32>
    %w = arith.constant dense<...> : tensor<4x3xf32>
    %y = linalg.matmul ins(%0, %w : ...) ...
    ```

    with `{"input": {"min": -1.0, "max": 3.0, ...}}` becomes

    ```mlir
    %q = qnn.quantize %x : tensor<1x4xf32> -> tensor<1x4x!quant.uniform<u8:f32, 0.0156862745:64>>
    %0 = qnn.dequantize %q : ... -> tensor<1x4xf32>
    %w = arith.constant dense<...> : tensor<4x3xf32>
    %wq = qnn.quantize %w : tensor<4x3xf32> -> tensor<4x3x!quant.uniform<i8<-127:127>:f32:1, {...}>>
    %wd = qnn.dequantize %wq : ... -> tensor<4x3xf32>
    %y = linalg.matmul ins(%0, %wd : ...) ...
    ```
  }];
  let options = [
    Option<"statisticsFile", "statistics", "std::string", /*default=*/"\"\"",
           "Calibration statistics JSON (docs/Calibration.md)">,
    Option<"recipeFile", "recipe", "std::string", /*default=*/"\"\"",
           "Per-layer recipe JSON (docs/Quantization.md); optional">,
    Option<"activationMethod", "activation-method", "std::string",
           /*default=*/"\"minmax\"",
           "Activation range: minmax, percentile, mse or entropy">,
    Option<"activationPercentile", "activation-percentile", "double",
           /*default=*/"99.99", "Percentile p of the percentile method">,
    Option<"activationBits", "activation-bits", "unsigned", /*default=*/"8",
           "Activation storage width">,
    Option<"activationSigned", "activation-signed", "bool", /*default=*/"false",
           "Signed activation storage (i8 instead of u8)">,
    Option<"activationSymmetric", "activation-symmetric", "bool",
           /*default=*/"false", "Symmetric activation ranges">,
    Option<"weightBits", "weight-bits", "unsigned", /*default=*/"8",
           "Weight storage width">,
    Option<"weightSigned", "weight-signed", "bool", /*default=*/"true",
           "Signed weight storage">,
    Option<"weightSymmetric", "weight-symmetric", "bool", /*default=*/"true",
           "Symmetric weight ranges">,
    Option<"weightNarrowRange", "weight-narrow-range", "bool",
           /*default=*/"true",
           "Leave out the most negative value (i8<-127:127>)">,
    Option<"weightGranularity", "weight-granularity", "std::string",
           /*default=*/"\"per_channel\"",
           "per_tensor, per_channel or per_group">,
    Option<"weightGroupSize", "weight-group-size", "int64_t", /*default=*/"32",
           "Block size along the reduction dimension for per_group">,
    Option<"parametersFile", "parameters", "std::string", /*default=*/"\"\"",
           "Write the chosen quantized types as JSON: each activation's by "
           "id, each layer's weights by layer id (for reports and "
           "independent references)">,
    Option<"weightOnly", "weight-only", "bool", /*default=*/"false",
           "Quantize the weights only: activations stay float (no "
           "statistics needed), and fusion dequantizes the weights inside "
           "the contractions">,
    Option<"activationDynamic", "activation-dynamic", "std::string",
           /*default=*/"\"static\"",
           "static (scales from calibration), per_tensor or per_row: "
           "contractions with constant weights quantize their activation "
           "input at run time (qnn.dynamic_quantize) and their output stays "
           "float; no statistics needed for such layers">,
  ];
  let dependentDialects = [
    "::mlir::qnn::QNNDialect",
    "::mlir::quant::QuantDialect",
  ];
}

def QNNFuseQuantizedOpsPass : Pass<"qnn-fuse-quantized-ops"> {
  let summary = "Turn dequantized contractions into integer ones with folded scales";
  let description = [{
    Rewrites the QDQ pattern

    ```
    quantize(act(dequantize(x) ⊛ dequantize(w) + b))
    ```

    where `⊛` is `linalg.matmul`, `linalg.batch_matmul`,
    `linalg.conv_2d_nhwc_hwcf`, `linalg.conv_2d_nhwc_fhwc`,
    `linalg.conv_2d_nchw_fchw` or
    `linalg.depthwise_conv_2d_nhwc_hwc`, `x` is per-tensor quantized, `w` is
    a `qnn.constant` (per tensor, per output channel or per group along the
    reduction, symmetric or not),
    the bias `b` (optional) is a float constant per output channel, added
    after the contraction or broadcast into the tensor it accumulates into
    (as `tosa-to-linalg` writes a convolution's bias), and
    `act` (optional) is a ReLU (`linalg.max` with zeros or a `linalg.generic`
    `maximumf` with 0) or a clamp, into

    - a `linalg.generic` with the contraction's indexing maps that
      accumulates `ext(x) · ext(w')` in i32 over the stored values, starting
      from a constant per-channel bias;
    - a `qnn.rescale` with the per-channel fixed-point multiplier of
      `s_x · s_w / s_y` and the activation folded into its clamp.

    Everything is folded at compile time (docs/Semantics.md, "Fused integer
    contractions"): `w' = w - z_w` (so asymmetric weights need no activation
    sum at run time), the bias quantized to i32 at `s_x · s_w`, and
    `-z_x · Σ w'` added to it. An accumulator that could overflow i32 is an
    error. Patterns that do not match stay as they are (in float).

    A contraction of a float activation with dequantized constant weights
    (weight-only quantization) becomes a `linalg.generic` that reads the
    stored weights and dequantizes each one where it is used, with the same
    arithmetic as `qnn.dequantize`: its results are those of the unfused
    program, bit for bit.

    Ops that only move or select values (pad, reshapes, slices, transpose,
    max pooling, concatenation) between a dequantize and a quantize of one
    type run on the stored values instead. And `quantize(dequantize(q))`
    between two different types becomes the equivalent `qnn.requantize`.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::qnn::QNNDialect",
    "::mlir::quant::QuantDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

#endif // QUANT_OPT_DIALECT_QNN_TRANSFORMS_PASSES_TD
