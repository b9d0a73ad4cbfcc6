//===- QNNDialect.td - qnn dialect definition --------------*- tablegen -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The `qnn` dialect: quantize, dequantize, requantize and calibration ops on
// tensors of the upstream `!quant.uniform` types, plus the attributes they use.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_OPT_DIALECT_QNN_IR_QNNDIALECT_TD
#define QUANT_OPT_DIALECT_QNN_IR_QNNDIALECT_TD

include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"
include "mlir/IR/OpBase.td"

def QNN_Dialect : Dialect {
  let name = "qnn";
  let cppNamespace = "::mlir::qnn";
  let summary = "Quantized neural networks on upstream !quant.uniform types";
  let description = [{
    The `qnn` dialect holds the operations quant-opt uses to quantize a float
    network: casts between float tensors and tensors of the upstream quantized
    types (`!quant.uniform` per-tensor, per-axis and sub-channel), a
    requantization between two quantized types, quantized constants, and a
    calibration marker.

    Unlike upstream `quant.qcast`/`quant.dcast`, every op here has one exact
    arithmetic definition (rounding mode, saturation, NaN and infinities),
    written in `docs/Semantics.md` and followed bit for bit by the constant
    folders and by the lowering to integers (`convert-qnn-to-linalg`). A
    `qnn.dequantize(qnn.quantize(x))` pair is the simulated quantization error
    and is never folded away.
  }];
  let dependentDialects = ["::mlir::quant::QuantDialect"];
  let useDefaultAttributePrinterParser = 1;
  let hasConstantMaterializer = 1;
}

//===----------------------------------------------------------------------===//
// Rounding mode
//===----------------------------------------------------------------------===//

def QNN_RoundingMode : I32EnumAttr<"RoundingMode",
    "how a value halfway or between two integers is rounded", [
      I32EnumAttrCase<"HalfToEven", 0, "half_to_even">,
      I32EnumAttrCase<"HalfAwayFromZero", 1, "half_away_from_zero">,
      I32EnumAttrCase<"TowardZero", 2, "toward_zero">
    ]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::qnn";
}

def QNN_RoundingModeAttr : EnumAttr<QNN_Dialect, QNN_RoundingMode,
                                    "rounding"> {
  let assemblyFormat = "`<` $value `>`";
}

#endif // QUANT_OPT_DIALECT_QNN_IR_QNNDIALECT_TD
