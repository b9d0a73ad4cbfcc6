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
      dimensions `reduction-tile` elements together (contractions and
      reductions; innermost first, each the largest divisor within what the
      inner ones left) and every other dimension 1;
    - each size is the largest divisor of the dimension not above the wanted
      size, so every tile is static and full: no masks, no remainder loops,
      and sizes that do not divide the preferred tiles stay correct;
    - except the innermost dimension of an elementwise op whose largest
      such divisor is under half the vector width (49 tokens: 7 lanes):
      it gets `vector-width` lanes, and the innermost loop's last, partial
      iteration is peeled (`scf::peelForLoopAndSimplifyBounds`) into a
      static tile of its own; where every operand is read whole in memory
      order or is rank 0 (not sliced from a larger tensor, the result not
      inserted into one), the op is first collapsed into one loop over all
      its elements (`linalg::collapseOpIterationDims`), so that only the
      last tile of the whole op is partial, not the last of every row;
    - and a row reduction (one reduction, innermost, not a contraction:
      softmax's max and sum) whose row is that kind of extent (49 keys; 197
      tokens), up to half the target's vector registers
      (`vector-register-bits`: 256 f32 with AVX-512, 64 with AVX2): each
      tile reads one whole row, which LLVM reduces across registers first
      and within one register once, instead of tiles of a few lanes each
      reduced horizontally.
    - and a contraction's innermost parallel dimension of that kind
      (attention's 49 keys) gets its whole extent where the tile's
      accumulators fit the target's vector registers with four to spare
      (`vector-register-bits`: 7 rows x 49 f32 lanes are 28 of AVX-512's 32
      zmm registers), with as many rows as then fit (with AVX2's 16 ymm
      registers one row of 49 keys, 7 ymm, rather than 7 x 7 tiles whose
      rows would be vectors of 7 lanes, split by LLVM into pieces of 4, 2
      and 1, and into smaller ones for an epilogue in i64).
    - and a reduction that is neither a contraction nor innermost, whose
      innermost loop is parallel (a row's lane sums from
      `qnn-split-float-sums`), steps through its reduction loops one element
      at a time: each step is one vector addition per lane, where a tile of
      several would be reduced by moving the reduced dimension innermost
      with shuffles.

    2-D convolutions and poolings (named, or the fused integer generics) are
    tiled to one output row and one filter tap (row and column), with `rows`
    output columns and `vector-width` output channels (a pooling's channels,
    a batch dimension to `linalg::inferConvolutionDims`, where they are
    innermost in the output). Dropping those unit
    dimensions, and turning a strided window access into a strided
    `tensor.extract_slice`, leaves a contraction over the input channels
    (or an elementwise op, for depthwise and pooling) that is vectorized
    like any other tile, whatever the signedness of its operands.

    The requantization epilogue (`qnn.rescale` lowered to an elementwise
    `linalg.generic`), or any elementwise op that is the only user of a
    contraction's result, is tiled by the contraction's `rows` x
    `vector-width` tile with the contraction (and its initialization, a
    `linalg.fill` too: zeros written to the tile, not to the whole tensor
    first) fused into that tile, so that the i32 accumulators are
    requantized while they are in cache; the tiles are then vectorized as
    above. (`qnn-cpu-pipeline` then allocates such a tile's scratch buffer
    once, outside the loops: `buffer-loop-hoisting`.) Ops it
    cannot vectorize are left as they are, with a remark naming why, and
    become loops later in the pipeline: dynamic shapes, sub-byte element
    types (a memref stores one i4 per byte, a vector packs them), and
    convolutions whose window is not of the form `stride * out + tap`.

    The vector code is then cleaned up for lowering: extensions folded into
    `vector.contract`, transfer permutations lowered, and a value broadcast
    along an inner dimension (LayerNorm's mean over the channels), which
    the vectorizer writes as a broadcast plus an n-D `vector.transpose`
    that lowers element by element, as one broadcast of the value with a
    unit dimension (`populateFoldTransposedBroadcastPatterns`).
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
    Option<"vectorRegisterBits", "vector-register-bits", "int64_t",
           /*default=*/"512",
           "The target's vector registers: 512 (AVX-512, 32 registers) or "
           "256 (AVX2, 16); qnn-cpu-pipeline sets it from the CPU">,
  ];
}

def QNNIntegerContractionsInF32Pass
    : Pass<"qnn-integer-contractions-in-f32", "func::FuncOp"> {
  let summary = "Contractions of two run-time 8-bit operands summed exactly on the f32 units";
  let description = [{
    A `linalg.generic` contraction `acc + (ext(a) + o_a) * (ext(b) + o_b)`
    on integers (an i32 or wider accumulator, `a` and `b` inputs of at most
    8 bits that are not constants, read with projected permutations, each
    reduction loop reading both; the offsets `o`, such as a zero point
    subtracted, defined above the op or read from an input along output
    loops only), such as attention's Q·Kᵀ and P·V once quantized, becomes

        Σ a·b + o_b·Σ a + o_a·Σ b + N·o_a·o_b

    in the accumulator's type (the identity holds in its wrapping
    arithmetic for any offsets), `N` the number of reduction steps. `Σ a·b`
    is a contraction of the operands converted to f32, exact because every
    partial sum is an integer no larger than `N·max|a|·max|b|`, which must
    be at most 2^24 (N <= 258 for u8 x u8 operands): `fptosi` gives the
    integer sum. Past that bound, a single reduction loop is split into
    chunks (its largest divisor within the bound, at least 16 steps), each
    an exact f32 sum converted to the accumulator's type and summed there;
    with no such divisor (a prime number of steps) the op stays as it is. `Σ a` and `Σ b` are integer sums
    over the reduction. A constant offset (a static zero point) is instead
    added to its operand before the conversion where the bound still holds
    with it (`max|a + o_a|`): then neither its terms nor the other
    operand's sums are needed. So is a run-time offset whose values the IR
    bounds, with the bound taken over all of them: dynamic quantization's
    zero point, `fptosi(roundeven(minimumf(maximumf(x, lo), hi)))` (NaN
    makes `fptosi` poison), or integer ops on such values and narrower
    integers (`extsi`/`extui`, `maxsi`/`minsi` clamps, ...: upstream's
    `InferIntRangeInterface`), found through the ops and rank-0 or
    parallel `linalg.generic`s (and `tensor.extract`) that compute it, and
    read along the operand's own loops. The op that adds the terms writes its
    output without reading it where the init is a fill with zeros, and is
    fused into the result's one user where that is elementwise over the
    same elements (the requantization), which the generic strategy then
    computes in the contraction's tile; an operand's conversion to f32 is
    fused into the elementwise op that computes the operand where it is
    that op's only user, through a `tensor.collapse_shape` too (attention's
    probabilities, quantized by the softmax's last op, are written as f32
    directly). Contractions with a constant operand are left to
    `qnn-microkernel-cpu`. `qnn-cpu-pipeline` runs it before the generic
    strategy; the reference pipeline does not, and the tests that compare
    the two check that the results are the same. The patterns are
    `populateIntegerContractionsInF32Patterns`.
  }];
  let dependentDialects = ["arith::ArithDialect", "linalg::LinalgDialect",
                           "tensor::TensorDialect"];
}

def QNNWholeMinMaxInLanesPass
    : Pass<"qnn-whole-min-max-in-lanes", "func::FuncOp"> {
  let summary = "Mins and maxes of whole tensors in vector lanes, then across the lanes";
  let description = [{
    A `linalg.generic` whose loops are all reductions into rank-0 outputs,
    each yielded as the min or max (`arith.minimumf`, `maximumf`, `minnumf`,
    `maxnumf`, `minsi`, `maxsi`, `minui`, `maxui`) of its old value and a
    value of the inputs (a dynamically quantized tensor's range), becomes
    two ops: the same body over lanes (each from the op's initial value),
    then the min or max of the lanes into the op's initial value. Where
    every input is read in memory order (identity maps, static shapes, at
    least 1024 elements, no `linalg.index`), the inputs are reshaped to rows
    of 64, 32 or 16 lanes (the first that divides the number of elements);
    otherwise the lanes are the innermost loop of the first input (at least
    8 elements). Min and max are associative, commutative and
    idempotent, so the result is the same bit for bit; the first op is
    vectorized one vector min per vector of input instead of one horizontal
    reduction each. `qnn-cpu-pipeline` runs it before the generic strategy.
    The patterns are `populateWholeMinMaxInLanesPatterns`.
  }];
  let dependentDialects = ["linalg::LinalgDialect", "tensor::TensorDialect"];
}

def QNNMicrokernelCPUPass : Pass<"qnn-microkernel-cpu", "ModuleOp"> {
  let summary = "Contractions with constant weights to register-blocked micro-kernels per ISA, weights packed at compile time";
  let description = [{
    The fast CPU strategy for the contractions of a quantized (or float)
    network: a matmul (`linalg.generic` with maps `(m..., k)`, `(k, n)` or
    `(n, k)`, `(m..., n)`, leading activation dimensions collapsed into m)
    or a 2-D NHWC convolution, regular or depthwise (any stride and
    dilation, filter in any layout; the named ops too), whose body is
    `acc + ext(a) * ext(b)` on i8 operands with an i32 accumulator, or
    `acc + a * b` on f32, and whose second operand (the weights) is a
    constant.

    The weights are packed at compile time into the layout the micro-kernel
    reads: panels of `vectors x lanes` output channels, each a sequence of
    k-groups (`[panel][k-group][channel][k-in-group]`), zero-padded to whole
    panels and groups and pre-extended to i16 where the kernel multiplies
    i16. A register tile of `rows x vectors` accumulator vectors is kept in
    registers over the whole reduction; each k-group loads one weight
    vector per column and broadcasts one group of activations per row.
    The kernel follows the target's instruction set (`cpu`/`features`,
    else the host):

    - AVX-512 VNNI: `vpdpbusd` (u8 x s8 -> s32, 4 products per lane,
      exact). Signed activations are shifted by +128 (an xor) and
      `-128 * sum(w)` per output channel is folded into the accumulator
      init.
    - AVX-512 without VNNI, and AVX2: `vpmaddwd` on activations and weights
      extended to i16 (pairs of products summed in i32, exact; the
      `vpmaddubsw` route saturates i16 pair sums and is not used).
    - f32: `vector.fma` with a broadcast activation (AVX-512 or AVX2+FMA).

    A convolution of few input channels (a network's first, on one or
    three) would leave most of each k-group zero, one group run per filter
    column: where its filter columns read consecutive input columns (no
    column dilation) and that needs fewer k-groups, the reduction runs
    over (filter column, input channel) together, one contiguous run of
    the input row per filter row, the input read as one flat tensor with
    the zeros the last window's last group reads past its end appended
    (3x3 on one channel: 3 `vpdpbusd` per output instead of 9).

    A depthwise convolution has no reduction along the vector: each lane is
    a channel. Its kernel reads a vector of channels of an input column,
    widens it to i32 lanes (seen as i16 pairs: the value, then its sign or
    zero) and multiplies them with the filter tap's weights packed as i16
    pairs `(w, 0)`: `vpdpwssd` with AVX-512 VNNI, `vpmaddwd` + add
    otherwise (exact for either signedness), `vector.fma` on f32. A tile
    of output columns loads each input column once per filter row and
    multiplies it with every filter column that meets it.

    A fill or a broadcast bias that starts the accumulators is read in the
    kernel, which then stores into the fill's destination (it writes every
    output element), so no pass over the output initializes it.

    Output channels that do not fill the last panel are written with masked
    stores; rows that do not fill the last tile get a smaller tile; the
    reduction is zero-padded to whole k-groups (activations with
    `tensor.pad`). Other ops, non-constant weights, and targets without
    AVX2 are left to `qnn-tile-and-vectorize-cpu`, with a remark naming why.
  }];
  let dependentDialects = [
    "arith::ArithDialect", "func::FuncDialect", "linalg::LinalgDialect",
    "scf::SCFDialect", "tensor::TensorDialect", "vector::VectorDialect"
  ];
  let options = [
    Option<"cpu", "cpu", "std::string", /*default=*/"\"\"",
           "LLVM CPU name the kernels are chosen for (empty: the host's)">,
    Option<"features", "features", "std::string", /*default=*/"\"\"",
           "Comma list of +feature / -feature on top of the CPU's">,
  ];
}

def QNNDecomposeAggregatedOpsPass : Pass<"qnn-decompose-aggregated-ops"> {
  let summary = "linalg.softmax (and other aggregated linalg ops) to the structured ops they stand for";
  let description = [{
    Replaces every op that implements upstream's `AggregatedOpInterface`
    (`linalg.softmax`; the Winograd filter, input and output transforms) by
    its `decomposeOperation`: for softmax, a max reduction, the
    subtraction and exponential, a sum and a division, all
    `linalg.generic`/named structured ops that the CPU and GPU pipelines
    tile, vectorize and bufferize. The pipelines run it first; without it
    such an op reached the translation to LLVM IR unlowered. An op that
    cannot be decomposed is an error naming the pass.
  }];
  let dependentDialects = ["arith::ArithDialect", "linalg::LinalgDialect",
                           "math::MathDialect", "tensor::TensorDialect"];
}

def QNNShareElementwiseValuesPass
    : Pass<"qnn-share-elementwise-values", "func::FuncOp"> {
  let summary = "A costly element value that a reduction and an elementwise op both compute, computed once";
  let description = [{
    A softmax, as imported, is three `linalg.generic` ops over the same
    rows: the row max, the row sum of `exp(x - max)` and the normalization
    `exp(x - max) / sum`, which computes every exponential again. Where a
    reduction's body computes a value that costs a division or a math
    function from its inputs only, and an all-parallel `linalg.generic`
    over the same loops (same static ranges, in the same block, reading one
    of the same tensors) computes the same value (the same operations on
    the same input tensors read through the same indexing maps, or on the
    same values from above), an all-parallel op computing it (its
    operations cloned) is created before the first of the two, and both
    read its result instead (identity map); inputs then unused are erased.
    Each element is computed by the same operations as before, so the
    results do not change; one exponential per element is saved, at the
    cost of writing and reading one tensor. Every pipeline runs it in its
    lowering phase, before `qnn-split-float-sums`. The patterns are
    `populateShareElementwiseValuesPatterns`.
  }];
  let dependentDialects = ["linalg::LinalgDialect", "tensor::TensorDialect"];
}

def QNNSplitFloatSumsPass : Pass<"qnn-split-float-sums"> {
  let summary = "Float sums over a row in lanes, then the lanes in order: an order that vectorizes and every pipeline follows";
  let description = [{
    A `linalg.generic` whose one reduction is its innermost loop, whose
    body adds its value to the accumulator (`arith.addf`: softmax's
    denominator, LayerNorm's mean and variance) and whose rows (static) are
    at least two chunks of `lanes` long is rewritten as linalg ops that sum
    in this order: lane j sums the row's elements j, j + lanes,
    j + 2 lanes, ... in order, starting from -0.0 (the body applied to
    each; the elements past the last whole chunk added last, by a second
    op); then the op's initial value plus lane 0, plus lane 1, ... in
    order. As written, the sum is one chain of dependent additions per row
    that no pipeline may reassociate: vectorized along the row, each row
    ended in an ordered horizontal reduction of the whole row, one lane at
    a time. Now the lanes are a parallel loop (one vector addition per
    chunk) and only `lanes` values per row are added in order. Every
    pipeline (`qnn-cpu-pipeline`, the reference and `qnn-gpu-pipeline`)
    runs this pass with 16 lanes before anything else looks at the ops, so
    they compute the same bits, on every CPU (docs/Semantics.md, "Float
    sums"). Sums with a loop index in their body, dynamic shapes or rows
    read across dimensions stay as they are.
  }];
  let options = [
    Option<"lanes", "lanes", "int64_t", /*default=*/"16",
           "Partial sums per row (a power of two of at least 2)">,
  ];
  let dependentDialects = ["arith::ArithDialect", "linalg::LinalgDialect",
                           "tensor::TensorDialect"];
}

def QNNConvolutionsToNHWCPass
    : Pass<"qnn-convolutions-to-nhwc", "func::FuncOp"> {
  let summary = "Channel-first (NCHW) convolutions and poolings to NHWC, with the transposes folded away where they meet";
  let description = [{
    A 2-D convolution whose input is `(n, c, h, w)` and output `(n, f, oh,
    ow)` (`linalg.conv_2d_nchw_fchw`, `linalg.depthwise_conv_2d_nchw_chw`,
    or a `linalg.generic` with their maps, as quantization fuses them; any
    body, stride and dilation) and whose filter is a constant, or a pooling
    of that layout (`linalg.pooling_nchw_max`/`sum`, or its generic),
    becomes a `linalg.generic` with the same loops and body reading its
    input and initial value through `linalg.transpose` to NHWC and writing
    NHWC, transposed back to NCHW; the filter keeps its layout (the
    micro-kernels pack it from any). The micro-kernels of
    `qnn-microkernel-cpu` read activations along contiguous channels, so an
    NCHW convolution was left to the generic strategy.

    The NCHW <-> NHWC transposes then move towards each other and vanish:
    one of a convolution's accumulators read by an elementwise
    `linalg.generic` with a result no wider (a requantization) moves after
    that generic, which then reads the accumulators through the identity
    map (the micro-kernel's fused epilogue); one reading an elementwise or
    broadcasting generic's result folds into that generic (which writes the
    transposed layout) unless it is such an epilogue; one read by such a
    generic otherwise folds into its indexing map; one of a `tensor.pad`
    moves above it; and two that undo each other cancel (upstream's
    canonicalization; a transposed fill is a fill). In a quantized NCHW
    network the input's quantization writes NHWC, and the convolutions,
    requantizations, paddings and poolings stay NHWC up to the first op
    that needs NCHW order (a flatten).

    `qnn-cpu-pipeline` runs it before the micro-kernels. The patterns are
    `populateConvolutionsToNHWCPatterns`.
  }];
  let dependentDialects = ["linalg::LinalgDialect", "tensor::TensorDialect"];
}

def QNNFuseElementwiseProducersPass
    : Pass<"qnn-fuse-elementwise-producers", "func::FuncOp"> {
  let summary = "Elementwise producers fused into the generics that read each of their elements once";
  let description = [{
    A quantized program keeps softmax, LayerNorm and GELU in float between
    a dequantize and a quantize, each a `linalg.generic` of its own: one
    pass over memory per op, with float tensors in between. This pass fuses
    an all-parallel `linalg.generic` into a `linalg.generic` that reads it
    (upstream's `linalg::fuseElementwiseOps`), so that such a chain is one
    loop nest from int8 to int8, where nothing is computed twice: the
    consumer's indexing map of the operand is a permutation of its loops
    (each element read once: not a contraction or a broadcast), and the
    producer has no other use, or is cheap (a dequantize: under 8
    operations, none a division or a math function) and every use can take
    it; not a contraction's requantization to 8 bits (an op that reads a
    reduction's result elementwise) into an op of that one input with a
    division or a math function (or that is itself fused further, into
    one), which keeps its 8-bit input for `qnn-elementwise-lookup-tables`;
    into a cheap one that ends its chain (a dequantization read by a
    softmax's reductions) it is fused. Splat constant inputs become
    scalars in the body, except in a broadcast (a bias the kernels start
    from). An elementwise op reading a `tensor.expand_shape` of a linalg
    op's result that nothing else reads (attention's scores: a batch matmul
    over heads x queries, reshaped, then scaled) is collapsed to the
    producer's shape (upstream's reshape folding by collapsing), so that it
    is fused into it here, or on a contraction's tile by
    `qnn-tile-and-vectorize-cpu`; except an 8-bit result read with another
    tensor (a quantized residual add), which was slower fused. Each element
    is computed by the same operations as before: the results do not
    change. `qnn-cpu-pipeline` runs it (not the reference pipeline). The
    patterns are `populateFuseElementwiseProducerPatterns`.
  }];
  let dependentDialects = ["linalg::LinalgDialect"];
}

def QNNElementwiseLookupTablesPass
    : Pass<"qnn-elementwise-lookup-tables", "func::FuncOp"> {
  let summary = "Elementwise ops of one 8-bit input with a costly body as a lookup in a table of their 256 outputs";
  let description = [{
    An all-parallel `linalg.generic` with one input of 8-bit integers (a
    quantized activation's dequantize, float function and quantize, once
    `qnn-fuse-elementwise-producers` made them one op), the same indexing
    map for input and output, a body that depends on the input value only
    (no `linalg.index`, no use of the output's old value) and costs a
    division or a math function (erf, exp, tanh) per element, and at least
    1024 elements, becomes two ops: a `linalg.generic` that computes the
    same body for each of the 256 byte values (a table, integers widened
    to i32), and one that looks each element up in it (`tensor.extract`,
    vectorized as a gather). The same code computes the table as computed
    each element, so the outputs do not change; `qnn-cpu-pipeline` runs
    it, the reference pipeline does not, and the tests that compare the
    two check it. The patterns are `populateElementwiseLookupTablePatterns`.
  }];
  let dependentDialects = ["arith::ArithDialect", "linalg::LinalgDialect",
                           "tensor::TensorDialect"];
}

def QNNSimplifyDataMovementPass
    : Pass<"qnn-simplify-data-movement", "func::FuncOp"> {
  let summary = "Transposes of unit dimensions to reshapes, pads to a fill and an insert, unit innermost dimensions dropped";
  let description = [{
    Data movement that the CPU strategies would otherwise turn into
    element-by-element copies:

    - a `linalg.transpose` that only moves dimensions of extent 1 (NCHW to
      NHWC with one channel, or with a 1x1 image) keeps every element in
      place: it becomes a `tensor.collapse_shape` + `tensor.expand_shape`,
      which bufferize to views;
    - a `tensor.pad` with static sizes and a constant value becomes its
      border filled, created at the top of the function: one slab per
      padded side of each dimension (spanning the source's extent in the
      dimensions before it and the whole extent in those after it, so that
      no element is written twice), each extracted from the padded tensor,
      filled and inserted back in place (separate fills of one shape would
      be merged by CSE, then copied into place); or, where the innermost
      dimension is a unit one (one channel), a `linalg.fill` of the whole
      tensor's flat form, expanded. Then a `tensor.insert_slice` of the
      source, so that after `eliminate-empty-tensors` the producer of the
      source writes straight into the interior of the padded buffer
      instead of being copied there, and the interior is written once (a
      whole fill wrote it twice: MobileNet's 7x7 inputs padded to 9x9 are
      49 of 81 pixels);
    - an elementwise `linalg.generic` whose output has a unit innermost
      dimension (a quantization fused with the transpose of a one-channel
      NCHW input to NHWC), which the vectorizers would cut into vectors of
      one element, runs on its dimensions of extent > 1 between reshapes
      (upstream `linalg::dropUnitDims`); not one that reads a
      contraction's result, whose epilogue the micro-kernels fuse only in
      the contraction's layout.

    The patterns are `populateSimplifyDataMovementPatterns`.
  }];
  let dependentDialects = ["linalg::LinalgDialect", "tensor::TensorDialect"];
}

def QNNDistinctInsertDestinationsPass
    : Pass<"qnn-distinct-insert-destinations", "func::FuncOp"> {
  let summary = "Give each tensor.insert_slice its own destination (a recomputed copy of a shared one)";
  let description = [{
    Before bufferization: where several `tensor.insert_slice` ops insert
    into one tensor computed, free of memory effects, from constants and
    empty tensors only (the zero borders of two padded tensors of one
    shape, which `qnn-simplify-data-movement` creates apart and CSE
    merges), every insert after the first gets a copy of that computation,
    each of its values copied once, with empty tensors of its own.
    Otherwise one-shot
    bufferization cannot write the second insert, nor the producer of its
    source, in place: it copies the whole buffer and copies the source into
    it element by element. `qnn-cpu-pipeline` and `qnn-gpu-pipeline` run it
    first in their bufferization phase.
  }];
  let dependentDialects = ["tensor::TensorDialect"];
}

def QNNDistinctResultsPass : Pass<"qnn-distinct-results", "func::FuncOp"> {
  let summary = "Return each result from its own tensor (a copy for a repeated one)";
  let description = [{
    Before bufferization: where a `func.return` returns the same ranked
    tensor more than once (a layer's output exposed by
    `qnn-expose-activations` that is also the model's output), every
    repetition is returned through a copy (`bufferization.alloc_tensor`
    with `copy`), so that each result bufferizes to its own buffer. `qnn-cpu-pipeline` runs
    it when it turns results into out parameters, whose hoisting of
    allocations into the caller's buffers needs one buffer per result.
  }];
  let dependentDialects = ["bufferization::BufferizationDialect"];
}

def QNNProfileLayersPass : Pass<"qnn-profile-layers", "ModuleOp"> {
  let summary = "Time each layer: calls around its ops for quant-run --profile";
  let description = [{
    After bufferization (run by `qnn-cpu-pipeline{profile=true}`), wraps
    each run of consecutive top-level ops of one layer in
    `func.call @qnn_profile_enter(id)` and `@qnn_profile_exit(id)`. A
    layer is what an op's location names: a name (`loc("/blocks.0/attn/MatMul")`,
    the ONNX node the importer took it from), else `file:line`; ops without
    either are "(no location)". Only ops that do work are looked at (ops
    with regions: a layer's loops; calls; ops that write memory: copies),
    so constants, allocations and views between them do not split a run.
    The layer names, indexed by `id`, are the module's
    `qnn.profile_layers` array. The two functions are declared private:
    the program's host defines them (quant-run does, and prints the time
    per layer).
  }];
  let dependentDialects = ["arith::ArithDialect", "func::FuncDialect"];
}

def QNNStridedCopiesToLoopsPass
    : Pass<"qnn-strided-copies-to-loops", "func::FuncOp"> {
  let summary = "Copies between strided buffers as compiled loops instead of calls to memrefCopy";
  let description = [{
    After bufferization, a `memref.copy` whose source or target is not
    contiguous (the interior of a padded buffer, a channel slice) lowers to
    a call of the runner library's generic `memrefCopy`, which walks the
    elements with index arithmetic and one `memmove` per innermost run: for
    an image with one channel, one call per byte. This pass rewrites such
    copies as `linalg.copy`, which the pipeline turns into loops that LLVM
    compiles (and vectorizes along a contiguous innermost dimension).
    Contiguous copies stay `memref.copy` (a `memcpy`), unless `all` is set:
    the GPU pipeline turns every copy into `linalg.copy`, which becomes a
    kernel like any other linalg op (a host `memcpy` cannot read device
    buffers). A static copy of at most `vector-elements` elements (0: none)
    becomes one `vector.transfer_read` and one `vector.transfer_write`
    instead: the loops of a tile's row moved by a transpose (16 floats of
    a 64x49x2x16 tensor, attention's heads) stayed scalar in LLVM, which
    cannot reorder loads past stores that may alias (`qnn-cpu-pipeline`
    sets 64 for its vectorizing strategies).
  }];
  let dependentDialects = ["linalg::LinalgDialect", "vector::VectorDialect"];
  let options = [
    Option<"all", "all", "bool", /*default=*/"false",
           "Rewrite contiguous copies too (GPU pipeline)">,
    Option<"vectorElements", "vector-elements", "unsigned", /*default=*/"0",
           "Vectorize static copies of at most this many elements (0: none)">,
  ];
}

def QNNParallelizeCPUPass : Pass<"qnn-parallelize-cpu", "func::FuncOp"> {
  let summary = "Run the micro-kernels' marked loops on several threads (OpenMP)";
  let description = [{
    After bufferization: every `scf.for` that `qnn-microkernel-cpu` marked
    `qnn.parallel` (the loop whose iterations write disjoint parts of the
    output: weight panels, else images or output rows, else tiles of rows)
    and that carries no values becomes an `scf.parallel`, which
    `convert-scf-to-openmp` turns into an OpenMP parallel loop over
    `threads` threads (the LLVM OpenMP runtime, `libomp`, at run time).
    `qnn-cpu-pipeline threads=N` (N > 1) runs it; other loops stay
    sequential.
  }];
  let dependentDialects = ["scf::SCFDialect"];
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

def QNNGPUAlignWorkgroupBuffersPass : Pass<"qnn-gpu-align-workgroup-buffers"> {
  let summary = "Align the shared-memory buffers of GPU kernels for vector accesses";
  let description = [{
    Sets the `llvm.align` attribute of every workgroup attribution of every
    `gpu.func` to `alignment` bytes (a larger one already there is kept).
    The GPU-to-LLVM lowering gives the attribution's shared-memory global
    that alignment; without it the global is aligned only to its element
    type, and the tensor-core kernel's 8- and 16-byte vector loads and
    stores of its tiles (rows of i32 words) would be misaligned, an error on
    the GPU. `qnn-gpu-pipeline` runs it after kernel outlining.
  }];
  let options = [
    Option<"alignment", "alignment", "int64_t", /*default=*/"16",
           "Alignment in bytes (a power of 2)">,
  ];
}

def QNNPackContractionWeightsPass
    : Pass<"qnn-pack-contraction-weights", "ModuleOp"> {
  let summary = "Store the constant weights of integer contractions with the reductions innermost";
  let description = [{
    On bufferized programs: for each integer contraction (a
    `linalg.generic` with two i8 inputs, an i32 output and a reduction)
    whose second input is a `memref.get_global` of a constant
    `memref.global` read through a projected permutation, the weights are
    transposed at compile time into a new private constant global whose
    dimensions are the op's output (parallel) dimensions followed by its
    reductions, each group in loop order, and the op reads that global
    through the permuted indexing map. A matmul's `(k, n)` weights become
    `(n, k)`, a convolution's `(kh, kw, c, f)` become `(f, kh, kw, c)`. The
    results are the same; the tensor-core kernel
    (`qnn-gpu-tensor-core-contractions`) then finds B contiguous along K
    and stages it with 16-byte loads, as the fragment layout of
    `mma.m16n8k32` reads it. Weights already in that order, and ones read
    through anything but a permutation, are left alone; the original
    global is erased when nothing else reads it. `qnn-gpu-pipeline` runs it
    before the tensor-core pass.
  }];
  let dependentDialects = ["memref::MemRefDialect"];
}

def QNNGPUCorrectlyRoundedMathPass : Pass<"qnn-gpu-correctly-rounded-math"> {
  let summary = "math.sqrt and math.rsqrt as correctly rounded LLVM operations, for GPU kernels";
  let description = [{
    `convert-gpu-to-nvvm` lowers `math.sqrt` to libdevice's `__nv_sqrtf`,
    which is `sqrt.approx.f32` unless the module asks for precise square
    roots, and `math.rsqrt` to `rsqrt.approx.f32`: their last bits differ
    from the CPU's correctly rounded `sqrt`, and a LayerNorm requantized
    from them differs by a step now and then. This pass rewrites them
    (scalar f32 and f64, as in the kernels) as `llvm.nvvm.sqrt.rn.f`/`.d`
    (PTX `sqrt.rn`, correctly rounded) and `1 / sqrt.rn` (an IEEE
    division, `div.rn`), as the CPU computes them (MathToLLVM's lowering),
    so the GPU's float work agrees with the CPU's bit for bit.
    `qnn-gpu-pipeline` runs it on the kernels before the conversion to
    NVVM.
  }];
  let dependentDialects = ["mlir::LLVM::LLVMDialect", "mlir::arith::ArithDialect"];
}

def QNNApproximateMathPass : Pass<"qnn-approximate-math"> {
  let summary = "Rewrite math.erf and math.exp as MLIR's polynomial approximations";
  let description = [{
    LLVM has no intrinsic for `erf`, so `convert-math-to-llvm` leaves
    `math.erf` (scalar or vector) behind and translation fails; and it
    lowers a vector `math.exp` to one call of libm's scalar `expf` per lane
    (a quarter of a small transformer's run time, in its softmax). This
    pass rewrites both with upstream's polynomial approximations
    (`populatePolynomialApproximateErfPattern`, and
    `populateMathPolynomialApproximationPatterns` for `exp` on f32: a
    range reduction and a polynomial in arith and `math.fma`, within a few
    ulp of libm, vectorized like the rest of the body). The CPU pipelines
    (the reference too, so float programs agree between them) run it before
    lowering to LLVM; GELU, Erf and Softmax layers imported from ONNX need it.
  }];
  let dependentDialects = ["arith::ArithDialect", "math::MathDialect",
                           "vector::VectorDialect"];
}

//===----------------------------------------------------------------------===//
// GPU (docs/GPU.md)
//===----------------------------------------------------------------------===//

def QNNGPUReductionsInnermostPass
    : Pass<"qnn-gpu-reductions-innermost", "func::FuncOp"> {
  let summary = "Interchange each linalg.generic's loops so that its parallel loops come first, its reductions innermost";
  let description = [{
    The SIMT strategy of `qnn-gpu-pipeline` maps the outermost parallel
    loops of each linalg op onto the GPU's threads and runs its reductions
    as loops inside each thread. A generic with a parallel loop inside a
    reduction (the lane sums of `qnn-split-float-sums`: rows, chunks, then
    the lanes) would leave that inner loop on the host. This pass moves
    every parallel loop outward, keeping the order of the parallel loops
    and of the reductions among themselves (`linalg::interchangeGenericOp`):
    each output element's additions happen in the same order, so the
    results are the same bits.
  }];
  let dependentDialects = ["linalg::LinalgDialect"];
}

def QNNGPUMapParallelLoopsPass
    : Pass<"qnn-gpu-map-parallel-loops", "func::FuncOp"> {
  let summary = "Tile each outermost scf.parallel into blocks of threads and map it onto the GPU's grid";
  let description = [{
    The SIMT strategy of `qnn-gpu-pipeline`, after
    `convert-linalg-to-parallel-loops`: every outermost `scf.parallel`
    (one per linalg op: its parallel dimensions; the reductions are
    `scf.for` loops inside) is tiled with `scf::tileParallelLoop` into an
    outer loop over tiles and an inner loop over the elements of a tile,
    with constant inner bounds and an `scf.if` guard for the last, partial
    tile (no element is computed twice or skipped, whatever the shape).
    The innermost dimension (contiguous in memory) maps to x, the one
    before it to y, the one before that to z: the outer loop to blocks,
    the inner loop to threads. Other dimensions, and every `scf.parallel`
    nested inside, run sequentially in each thread.

    Tile sizes: from the innermost dimension outwards, each takes as many
    threads as its static size (all that are left for a dynamic one) out
    of `threads` per block, so small dimensions do not leave threads idle.
    `convert-parallel-loops-to-gpu` then builds the `gpu.launch`.
  }];
  let dependentDialects = ["affine::AffineDialect", "arith::ArithDialect",
                           "gpu::GPUDialect", "scf::SCFDialect"];
  let options = [
    Option<"threads", "threads", "int64_t", /*default=*/"256",
           "Threads per block (at most 1024)">,
  ];
}

def QNNGPUHostDeviceBuffersPass
    : Pass<"qnn-gpu-host-device-buffers", "ModuleOp"> {
  let summary = "Host calling convention for GPU functions: device buffers, host-device copies";
  let description = [{
    After `convert-parallel-loops-to-gpu`, every function keeps its
    signature and takes and returns buffers in host memory (docs/GPU.md,
    "Calling convention"). In each function with a body:

    - every memref argument is copied into a new device buffer
      (`gpu.alloc` + `gpu.memcpy`) at entry, and the kernels use that; an
      argument that something writes (an out parameter) is copied back
      before each return; the device buffer is freed;
    - every `memref.get_global` (the constant weights, already in the
      layout the kernels read) is copied into a device buffer the same way;
    - every host `memref.alloc`/`memref.dealloc` becomes
      `gpu.alloc`/`gpu.dealloc`;
    - every returned memref is copied into a new host buffer
      (`memref.alloc`), which the caller owns as with the CPU pipeline,
      and its device buffer is freed.

    An op left on the host that would read or write a buffer (a load, a
    store, a linalg op, an `scf.parallel` that was not mapped) is an error:
    the host cannot dereference device memory.
  }];
  let dependentDialects = ["gpu::GPUDialect", "memref::MemRefDialect"];
}

def QNNGPUTensorCoreContractionsPass
    : Pass<"qnn-gpu-tensor-core-contractions", "func::FuncOp"> {
  let summary = "Integer contractions to int8 tensor-core kernels (mma.sync m16n8k32) with the epilogue fused";
  let description = [{
    The tensor-core strategy of `qnn-gpu-pipeline` (sm_80 and later), on
    bufferized linalg: a `linalg.generic` whose body is
    `out + ext(a) * ext(b)` with i8 inputs (each `arith.extsi` or
    `arith.extui`) and an i32 output, with static shapes, becomes one
    `gpu.launch`; named ops with two i8 inputs and an i32 output
    (`linalg.matmul` and the like) are generalized first. Its dimensions are sorted into batch (used by both
    inputs), M (the first input only), N (the second only) and K (the
    reductions); each group is flattened, so a matmul, a batch matmul and a
    convolution (any stride or dilation, as an implicit GEMM: M is
    image x rows x columns, K is the window x input channels) are the same
    kernel. A depthwise convolution has no N (its channels are in both
    inputs) and stays on the SIMT kernels, with a remark.

    Each block computes a `tile-m` x `tile-n` tile of the output with
    `warps-m` x `warps-n` warps. For each `tile-k` step of the reduction
    the block copies the A tile ([m][k]) and the B tile (transposed,
    [n][k]) into shared memory, zero outside the operands, so a partial
    tile adds nothing. An operand whose K is contiguous in memory (A of a
    matmul or an NHWC convolution; B once `qnn-pack-contraction-weights`
    has packed constant weights [n][k]) is copied with aligned 16-, 8- or
    4-byte vector loads, as K's innermost extent allows. A B contiguous
    along N instead (B (k, n) of a matmul of two activations, N's innermost
    extent a multiple of 4, `tile-n` of 32) is staged k-major ([k/4][n],
    columns swizzled against bank conflicts): blocks of 4 k x 4 n loaded
    along N with 4-byte loads, transposed in registers, stored 16 bytes at
    a time. Any other operand is gathered byte by byte into words. Each warp then loads its fragments
    from shared memory (four consecutive bytes of a row per register, as
    the PTX fragment layout of m16n8k32 puts them; the k of each 64 are
    permuted alike in A and B so that a thread's four registers of a row
    are one 16-byte load) and issues
    `mma.sync.aligned.m16n8k32.row.col.s32.{u8,s8}.{u8,s8}.s32` (the
    multiplicand types follow the extensions; the accumulation wraps like
    the CPU's i32 additions). The accumulators stay in registers over the
    whole reduction. Where both operands are contiguous along K (and
    `async-copies` is on), the tiles are filled with `cp.async`
    (`nvgpu.device_async_copy`, 16 bytes where K allows, zero-filled
    outside the operands) into up to four shared-memory stages (as many as
    fit in 48 KiB): the copies of the next stages are in flight while a
    step's MMAs run, and each step waits for its own
    (`cp.async.wait_group`) and meets the block at one barrier. Otherwise
    the tiles have two stages: each k step stores the next step's chunks
    (loaded into registers one step ahead) into the other stage, loads the
    one after, runs its MMAs and ends at a single barrier.

    The epilogue is applied from the registers: the output's initial value
    (the bias the program broadcast into it) is added (computed in the
    kernel, and the op that wrote it erased, when that op is a fill or a
    broadcast of scalars or constant globals and the buffer's only writer), then the
    elementwise `linalg.generic` that consumes the accumulators (zero-point
    corrections, fixed-point requantization, clamp, activation) is cloned
    into the kernel, if nothing else reads them and nothing between the two
    ops touches memory, and only its result is stored; else the i32 sums
    are. Rows and columns past the output are not stored.

    The fragment layouts are written down, with their reference, at the top
    of lib/Codegen/GPUTensorCoreContractions.cpp.
  }];
  let dependentDialects = ["arith::ArithDialect", "gpu::GPUDialect",
                           "LLVM::LLVMDialect", "memref::MemRefDialect",
                           "nvgpu::NVGPUDialect", "NVVM::NVVMDialect",
                           "scf::SCFDialect", "vector::VectorDialect"];
  let options = [
    Option<"tileM", "tile-m", "int64_t", /*default=*/"64",
           "Output rows of a block (a multiple of 16 * warps-m)">,
    Option<"tileN", "tile-n", "int64_t", /*default=*/"64",
           "Output columns of a block (a multiple of 8 * warps-n)">,
    Option<"tileK", "tile-k", "int64_t", /*default=*/"32",
           "Reduction step staged in shared memory (a multiple of 32; two "
           "stages of both tiles must fit in 48 KiB)">,
    Option<"warpsM", "warps-m", "int64_t", /*default=*/"2",
           "Warps of a block along M">,
    Option<"warpsN", "warps-n", "int64_t", /*default=*/"2",
           "Warps of a block along N">,
    Option<"asyncCopies", "async-copies", "bool", /*default=*/"true",
           "Fill the tiles of operands contiguous along K with cp.async, "
           "in up to four stages (off: through registers, two stages)">,
  ];
}

#endif // QUANT_OPT_CODEGEN_PASSES_TD
