//===- QNNOps.td - qnn dialect operations ------------------*- tablegen -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Operations of the `qnn` dialect. Their arithmetic is defined in
// docs/Semantics.md; the descriptions below summarize it.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_OPT_DIALECT_QNN_IR_QNNOPS_TD
#define QUANT_OPT_DIALECT_QNN_IR_QNNOPS_TD

include "quant-opt/Dialect/QNN/IR/QNNDialect.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

// The expressed types the semantics cover.
def QNN_FloatElement : AnyTypeOf<[F16, BF16, F32, F64]>;

// The three upstream uniform quantized types; `!quant.any` and
// `!quant.calibrated` carry no scale and cannot be computed with.
def QNN_QuantizedElement : Type<
  CPred<"::llvm::isa<::mlir::quant::UniformQuantizedType, "
        "::mlir::quant::UniformQuantizedPerAxisType, "
        "::mlir::quant::UniformQuantizedSubChannelType>($_self)">,
  "uniform quantized type", "::mlir::quant::QuantizedType">;

def QNN_FloatTensor : RankedTensorOf<[QNN_FloatElement]>;
def QNN_QuantizedTensor : RankedTensorOf<[QNN_QuantizedElement]>;

// Calibration statistics written by `qnn.observe` when it runs.
def QNN_CalibrationResource
    : Resource<"::mlir::qnn::CalibrationStatisticsResource">;

class QNN_Op<string mnemonic, list<Trait> traits = []>
    : Op<QNN_Dialect, mnemonic, traits>;

//===----------------------------------------------------------------------===//
// qnn.quantize
//===----------------------------------------------------------------------===//

def QNN_QuantizeOp : QNN_Op<"quantize", [Pure, SameOperandsAndResultShape]> {
  let summary = "Quantizes a float tensor";
  let description = [{
    Converts each element `x` to the stored value of the result's quantized
    type: `q = clamp(round(x / s) + z, qmin, qmax)`, where `(s, z)` are the
    scale and zero point that apply to the element (per tensor, per channel
    along the type's axis, or per block), division is one IEEE division in
    f32 (f64 for f64 types), `round` follows `rounding` (default
    `half_to_even`), NaN gives `z` and `±Inf` saturate. The input element
    type must be the quantized type's expressed type.

    Example:

    ```mlir
    %q = qnn.quantize %x : tensor<4xf32> -> tensor<4x!quant.uniform<i8:f32, 0.5:-3>>
    %r = qnn.quantize %x rounding<half_away_from_zero>
        : tensor<2x3xf32> -> tensor<2x3x!quant.uniform<u8:f32:1, {0.1:128, 0.2:120, 0.3:100}>>
    ```

    A quantize of a float constant folds into a `qnn.constant`; a quantize of
    a dequantize of the same type folds to the quantized value when that round
    trip is exact (see docs/Semantics.md).
  }];
  let arguments = (ins
    QNN_FloatTensor:$input,
    DefaultValuedAttr<QNN_RoundingModeAttr,
                      "::mlir::qnn::RoundingMode::HalfToEven">:$rounding);
  let results = (outs QNN_QuantizedTensor:$result);
  let assemblyFormat = [{
    $input (`rounding` `` $rounding^)? attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// qnn.dequantize
//===----------------------------------------------------------------------===//

def QNN_DequantizeOp
    : QNN_Op<"dequantize", [Pure, SameOperandsAndResultShape]> {
  let summary = "Converts a quantized tensor back to float";
  let description = [{
    Computes `x = (q - z) * s` for each stored value `q`, with the scale and
    zero point that apply to the element, in f32 (f64 for f64 types), then
    rounds to the result's element type, which must be the quantized type's
    expressed type.

    `qnn.dequantize(qnn.quantize(%x))` is the simulated quantization of `%x`
    and is never folded away.

    ```mlir
    %x = qnn.dequantize %q : tensor<4x!quant.uniform<i8:f32, 0.5:-3>> -> tensor<4xf32>
    ```
  }];
  let arguments = (ins QNN_QuantizedTensor:$input);
  let results = (outs QNN_FloatTensor:$result);
  let assemblyFormat = [{
    $input attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// qnn.requantize
//===----------------------------------------------------------------------===//

def QNN_RequantizeOp
    : QNN_Op<"requantize", [Pure, SameOperandsAndResultShape]> {
  let summary = "Converts between two quantized types";
  let description = [{
    Re-expresses a quantized tensor in another quantized type with the same
    expressed type: other scales, zero points, storage type or granularity.
    It is defined as exactly `quantize(dequantize(q))`, including the rounding
    of the intermediate value to the expressed type, so a dequantize followed
    by a quantize can be replaced by it without changing any bit.

    ```mlir
    %r = qnn.requantize %q : tensor<4x!quant.uniform<i8:f32, 0.5>>
                          -> tensor<4x!quant.uniform<u8:f32, 0.25:128>>
    ```

    A requantize to the input's own type folds to the input when the round
    trip is exact, and a requantize of a `qnn.constant` folds to a
    `qnn.constant`.
  }];
  let arguments = (ins
    QNN_QuantizedTensor:$input,
    DefaultValuedAttr<QNN_RoundingModeAttr,
                      "::mlir::qnn::RoundingMode::HalfToEven">:$rounding);
  let results = (outs QNN_QuantizedTensor:$result);
  let assemblyFormat = [{
    $input (`rounding` `` $rounding^)? attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// qnn.rescale
//===----------------------------------------------------------------------===//

def QNN_RescaleOp : QNN_Op<"rescale", [Pure, SameOperandsAndResultShape]> {
  let summary = "Rescales an i32 accumulator into a quantized tensor";
  let description = [{
    The integer epilogue of a quantized contraction: each 32-bit (or, for
    sums over groups of weights, 64-bit) accumulator `a` becomes `q = clamp(round(a · m / 2^n) + z, lo, hi)`, computed exactly
    in 64-bit integers with one rounding (`rounding`, default
    `half_to_even`). `m` (in `[0, 2^31)`) and `n` (in `[1, 62]`) encode the
    real multiplier `s_x · s_w / s_y` as a fixed-point number, one pair for
    the tensor or one per index of `axis`; `z` and `[qmin, qmax]` come from
    the result's per-tensor type, and `clamp` narrows the bounds further
    (a folded ReLU or ReLU6). See docs/Semantics.md.

    ```mlir
    %y = qnn.rescale %acc multipliers [1518500250, 1073741824] shifts [38, 37]
           axis 1 clamp [-3, 127]
         : tensor<4x2xi32> -> tensor<4x2x!quant.uniform<i8:f32, 0.05:-3>>
    ```
  }];
  let arguments = (ins
    RankedTensorOf<[I32, I64]>:$input,
    DenseI32ArrayAttr:$multipliers,
    DenseI32ArrayAttr:$shifts,
    OptionalAttr<I64Attr>:$axis,
    DefaultValuedAttr<QNN_RoundingModeAttr,
                      "::mlir::qnn::RoundingMode::HalfToEven">:$rounding,
    OptionalAttr<DenseI64ArrayAttr>:$clamp);
  let results = (outs QNN_QuantizedTensor:$result);
  let assemblyFormat = [{
    $input `multipliers` $multipliers `shifts` $shifts (`axis` $axis^)?
    (`rounding` `` $rounding^)? (`clamp` $clamp^)? attr-dict
    `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// qnn.add
//===----------------------------------------------------------------------===//

def QNN_AddOp : QNN_Op<"add", [Pure, SameOperandsAndResultShape]> {
  let summary = "Adds two quantized tensors in integers";
  let description = [{
    `dequantize(a) + dequantize(b)`, requantized to the result type, computed
    as `clamp(round(((a - z_a) · m_a + (b - z_b) · m_b) / 2^n) + z_y, lo, hi)`
    exactly in 64-bit integers with one rounding (`rounding`, default
    `half_to_even`). `m_a / 2^n` and `m_b / 2^n` encode `s_a / s_y` and
    `s_b / s_y`; all three types are per tensor. `clamp` narrows the
    storage range (a folded ReLU). See docs/Semantics.md.

    ```mlir
    %y = qnn.add %a, %b multipliers [1073741824, 2147483647] shift 31
         : tensor<4xi8..>, ... -> ...
    ```
  }];
  let arguments = (ins
    QNN_QuantizedTensor:$lhs,
    QNN_QuantizedTensor:$rhs,
    DenseI32ArrayAttr:$multipliers,
    I32Attr:$shift,
    DefaultValuedAttr<QNN_RoundingModeAttr,
                      "::mlir::qnn::RoundingMode::HalfToEven">:$rounding,
    OptionalAttr<DenseI64ArrayAttr>:$clamp);
  let results = (outs QNN_QuantizedTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs `multipliers` $multipliers `shift` $shift
    (`rounding` `` $rounding^)? (`clamp` $clamp^)? attr-dict
    `:` type($lhs) `,` type($rhs) `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// qnn.dynamic_quantize / qnn.dynamic_dequantize
//===----------------------------------------------------------------------===//

def QNN_DynamicQuantizeOp : QNN_Op<"dynamic_quantize", [Pure]> {
  let summary = "Quantizes with a scale and zero point chosen at run time";
  let description = [{
    Dynamic quantization (ONNX `DynamicQuantizeLinear`): for each group of
    elements that share a parameter, `lo = min(0, min x)` and
    `hi = max(0, max x)` over its finite elements give
    `s = (hi - lo) / (qmax - qmin)` and
    `z = round(qmin - lo / s)` (or, with `symmetric`, `s = max|x| / qmax` and
    `z = 0`; `s = 1` when the range is empty), all in f32; then each element
    is quantized as `qnn.quantize` does with `(s, z)`. `scale` and
    `zero_point` have the rank of the input, with size 1 on the axes that
    are reduced (one parameter for all their indices) and the input's size
    on the others: `tensor<1x1xf32>` is per tensor, `tensor<Mx1xf32>` per
    row (per token). The stored values are signless `iN` (`2 <= N <= 16`),
    read as unsigned with `unsigned`; the range is the full storage range.
    See docs/Semantics.md.

    ```mlir
    %q, %s, %z = qnn.dynamic_quantize %x symmetric
        : tensor<4x8xf32> -> tensor<4x8xi8>, tensor<4x1xf32>, tensor<4x1xi32>
    %u, %us, %uz = qnn.dynamic_quantize %x unsigned
        : tensor<4x8xf32> -> tensor<4x8xi8>, tensor<1x1xf32>, tensor<1x1xi32>
    ```
  }];
  let arguments = (ins RankedTensorOf<[F32]>:$input,
                   UnitAttr:$is_unsigned, UnitAttr:$symmetric);
  let results = (outs RankedTensorOf<[AnySignlessInteger]>:$result,
                 RankedTensorOf<[F32]>:$scale,
                 RankedTensorOf<[I32]>:$zero_point);
  let assemblyFormat = [{
    $input (`unsigned` $is_unsigned^)? (`symmetric` $symmetric^)? attr-dict
    `:` type($input) `->` type($result) `,` type($scale) `,` type($zero_point)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The storage range [qmin, qmax] of the result.
    std::pair<int64_t, int64_t> getStorageRange();
  }];
}

def QNN_DynamicDequantizeOp : QNN_Op<"dynamic_dequantize", [Pure]> {
  let summary = "Dequantizes with run-time scales and zero points";
  let description = [{
    `x = f32(q - z) * s` for each stored value `q` (signless, read as
    unsigned with `unsigned`), with the scale and zero point at the element's
    indices on the axes where `scale` and `zero_point` (of the input's rank)
    are not of size 1, and index 0 on the others: `qnn.dequantize` with the
    parameters of a `qnn.dynamic_quantize`. See docs/Semantics.md.

    ```mlir
    %x = qnn.dynamic_dequantize %q, %s, %z
        : tensor<4x8xi8>, tensor<4x1xf32>, tensor<4x1xi32> -> tensor<4x8xf32>
    ```
  }];
  let arguments = (ins RankedTensorOf<[AnySignlessInteger]>:$input,
                   RankedTensorOf<[F32]>:$scale,
                   RankedTensorOf<[I32]>:$zero_point,
                   UnitAttr:$is_unsigned);
  let results = (outs RankedTensorOf<[F32]>:$result);
  let assemblyFormat = [{
    $input `,` $scale `,` $zero_point (`unsigned` $is_unsigned^)? attr-dict
    `:` type($input) `,` type($scale) `,` type($zero_point) `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// qnn.observe
//===----------------------------------------------------------------------===//

def QNN_ObserveOp : QNN_Op<"observe", [
    SameOperandsAndResultType,
    MemoryEffects<[MemWrite<QNN_CalibrationResource>]>]> {
  let summary = "Marks a float tensor whose range calibration records";
  let description = [{
    Returns its input unchanged. When the program runs for calibration, the
    values that flow through it are recorded in the statistics entry named
    `id` (a stable name, usually taken from the producing layer's location).
    The op writes those statistics, so it is never removed as dead code.
    Lowering to integers replaces it by its input.

    ```mlir
    %y = qnn.observe %x as "conv1" : tensor<1x8x8x16xf32>
    ```
  }];
  let arguments = (ins QNN_FloatTensor:$input, StrAttr:$id);
  let results = (outs QNN_FloatTensor:$result);
  let assemblyFormat = [{
    $input `as` $id attr-dict `:` type($input)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// qnn.constant
//===----------------------------------------------------------------------===//

def QNN_ConstantOp : QNN_Op<"constant", [ConstantLike, Pure]> {
  let summary = "A quantized tensor constant";
  let description = [{
    A constant tensor of a quantized type, given by its stored values: an
    integer elements attribute whose width is the storage width, signless
    (two's complement bits) or with the storage's signedness (`ui8` for
    `u8`). Every value must lie in the storage range of the type.

    ```mlir
    %w = qnn.constant dense<[[1, -2], [127, 0]]> : tensor<2x2xi8>
        -> tensor<2x2x!quant.uniform<i8:f32:0, {0.1, 0.2}>>
    ```
  }];
  let arguments = (ins ElementsAttr:$value);
  let results = (outs QNN_QuantizedTensor:$result);
  let assemblyFormat = "$value attr-dict `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// qnn.lookup
//===----------------------------------------------------------------------===//

def QNN_LookupOp : QNN_Op<"lookup", [Pure]> {
  let summary = "Reads each element from a per-channel codebook";
  let description = [{
    Non-uniform (codebook) weights: `codes` holds a `K`-bit index per element
    (signless `iK`, read as unsigned), `codebook` one table of `2^K` entries
    per index of the channel axis `axis` of `codes` (shape `[C, 2^K]`, `C` the
    size of that axis), and each result element is the entry its code selects
    in its channel's table:
    `result[i] = codebook[i_axis, zext(codes[i])]`. No arithmetic: the entries
    are copied.

    The codebook holds floats, or stored values of a quantized type: per
    tensor (the result has the same type) or per axis on its axis 0, one
    scale and zero point per channel (the result is per axis on `axis` with
    the same scales, zero points and storage). See docs/Semantics.md.

    ```mlir
    %w = qnn.lookup %codes, %codebook axis 1
        : tensor<4x2xi2>, tensor<2x4x!quant.uniform<i8:f32:0, {0.1, 0.2}>>
        -> tensor<4x2x!quant.uniform<i8:f32:1, {0.1, 0.2}>>
    ```

    Constant operands are not folded by the canonicalizer (the codes are the
    compact form of the weights, and model sizes are read from it);
    `qnn-fuse-quantized-ops` evaluates lookups of constants at compile time
    before it fuses the contractions that read them.
  }];
  let arguments = (ins
    RankedTensorOf<[AnySignlessInteger]>:$codes,
    RankedTensorOf<[QNN_FloatElement, QNN_QuantizedElement]>:$codebook,
    I64Attr:$axis);
  let results = (outs RankedTensorOf<[QNN_FloatElement, QNN_QuantizedElement]>:$result);
  let assemblyFormat = [{
    $codes `,` $codebook `axis` $axis attr-dict `:` type($codes) `,`
    type($codebook) `->` type($result)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The result's elements (stored values, for a quantized result) for
    /// constant `codes` and `codebook` attributes; nullptr if either is not
    /// a dense integer / float elements attribute or the shape is dynamic.
    ::mlir::DenseElementsAttr evaluate(::mlir::Attribute codes,
                                       ::mlir::Attribute codebook);
  }];
}

#endif // QUANT_OPT_DIALECT_QNN_IR_QNNOPS_TD
