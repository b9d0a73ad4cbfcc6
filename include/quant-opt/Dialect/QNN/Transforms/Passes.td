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

#endif // QUANT_OPT_DIALECT_QNN_TRANSFORMS_PASSES_TD
