//===- Passes.td - Conversion passes -----------------------*- tablegen -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Lowerings out of the qnn dialect, one folder per lowering.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_OPT_CONVERSION_PASSES_TD
#define QUANT_OPT_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertQNNToLinalgPass : Pass<"convert-qnn-to-linalg", "ModuleOp"> {
  let summary = "Lower qnn ops and quantized types to linalg on integer storage";
  let description = [{
    Replaces every quantized tensor type by the tensor of its stored values
    (`tensor<4x!quant.uniform<i8:f32, 0.5:-3>>` becomes `tensor<4xi8>`;
    unsigned storage is held in signless integers), in function signatures,
    calls, returns and structured control flow too, and lowers the casts to
    `linalg.generic` ops on those integers, following docs/Semantics.md
    exactly: IEEE division by the scale, rounding per the op's `rounding`
    attribute, the zero point added after rounding, saturation to the storage
    range, NaN to the zero point.

    Per-axis parameters become constant tensors read along the channel axis;
    sub-channel parameters are read through a `tensor.expand_shape` that makes
    each block an axis of its own. `qnn.constant` becomes `arith.constant`,
    `qnn.observe` is replaced by its input, and `qnn.requantize` becomes a
    dequantize followed by a quantize. Upstream `quant.scast` (stored values
    seen as quantized values or back) disappears. An operation that is not a qnn op but
    carries quantized types is reported as illegal.

    Input:

    ```mlir
    func.func @f(%x: tensor<4xf32>) -> tensor<4x!quant.uniform<i8:f32, 5.0e-01:-3>> {
      %q = qnn.quantize %x : tensor<4xf32> -> tensor<4x!quant.uniform<i8:f32, 5.0e-01:-3>>
      return %q : tensor<4x!quant.uniform<i8:f32, 5.0e-01:-3>>
    }
    ```

    Output (abridged):

    ```mlir
    func.func @f(%x: tensor<4xf32>) -> tensor<4xi8> {
      %scale = arith.constant 5.000000e-01 : f32
      %zp = arith.constant -3 : i32
      %init = tensor.empty() : tensor<4xi8>
      %q = linalg.generic {...} ins(%x : tensor<4xf32>) outs(%init : tensor<4xi8>) {
      ^bb0(%in: f32, %out: i8):
        %v = arith.divf %in, %scale : f32
        %r = math.roundeven %v : f32
        // clamp to +-2^30, fptosi, add the zero point, clamp to [-128, 127],
        // select the zero point for NaN, truncate to i8
        linalg.yield %q : i8
      } -> tensor<4xi8>
      return %q : tensor<4xi8>
    }
    ```
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

#endif // QUANT_OPT_CONVERSION_PASSES_TD
