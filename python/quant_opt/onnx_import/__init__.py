"""ONNX import: an ONNX model becomes a `func.func` of linalg on tensors.

    python -m quant_opt.onnx_import model.onnx -o model.mlir [--batch N]

The function keeps the model's signature (NCHW images stay NCHW), with every
symbolic dimension (the batch) fixed to `--batch`. Inside, 4-D activations
are kept in NHWC, the layout quant-opt's convolutions and poolings take:
the importer transposes where an op needs the ONNX order back (Flatten,
Reshape, Transpose, the result). Weights become constants, `dense_resource`
blobs above a few elements; BatchNormalization after a Conv is folded into
its weights and bias; ops whose inputs are all constants are evaluated at
import time (onnx's reference evaluator).

Every op is located at its ONNX node's name (`loc("/conv1/Conv")`), so
calibration ids, recipes and every report name layers as the model does.
Helper ops carry the node name plus a suffix (`.pad`, `.nhwc`, `.reshape`).
The inner ops of a node expanded into several (Softmax, LayerNormalization)
are marked `qnn.internal`: their intermediate values are not quantized.

QuantizeLinear / DequantizeLinear (QDQ models from ONNX Runtime's quantizer
or QAT export) become `qnn.quantize` / `qnn.dequantize` with their scales and
zero points; quantized weights (integer initializers, or float ones through
QuantizeLinear as QAT exports them) become their dequantized float constants
under a `qnn.quantize` / `qnn.dequantize` pair, which quant-opt folds back
into the same integers.

QOperator models (QLinearConv, QLinearMatMul, ONNX Runtime's com.microsoft
QGemm / QLinearAdd / QLinearMul / QLinearAveragePool /
QLinearGlobalAveragePool / QLinearSigmoid / QLinearLeakyRelu, MatMulInteger,
ConvInteger) are written as that same QDQ form, so quant-opt fuses them
alike (`qoperator`: what is supported and what is refused). A UINT8 / INT8
model input read by a QLinear op becomes quantized values (`quant.scast`);
a quantized graph output is returned as its stored integers.
DynamicQuantizeLinear is `qnn.dynamic_quantize` (u8, per tensor), and the
MatMulInteger layers ONNX Runtime's `quantize_dynamic` writes with it are
`linalg.matmul(qnn.dynamic_dequantize(x), qnn.dequantize(w))`, which quant-opt
fuses into ONNX Runtime's integer kernel and float epilogue (`dynamic`).

Graph inputs an exporter left where an op needs a constant (weights,
shapes, axes) can be bound to values: `import_model(model,
constants={name: array})`, `--constant NAME=FILE.npy`; each converter
declares which of its inputs must be constant (`constant_inputs`).

An op outside the supported set is an error that lists every unsupported op
of the model at once.

The package: `emitter` writes the MLIR text and returns values that carry
their type and location; `registry` maps ONNX op types to the functions that
import them, one module per family (`elementwise`, `contraction`, `pooling`,
`shape`, `normalization`, `quantized`, `qoperator`, `dynamic`, `integer`;
ops of another domain, such as com.microsoft, are registered with theirs); `graph` holds the
model-level passes (GELU fusion, BatchNormalization folding, constant
evaluation, the support check); `importer` walks the graph. To add an op,
register a converter in its family's module:

    @register("Sin")
    def sin(ctx, node, inputs, attrs):
        return unary(ctx, node, lambda x: ([f"%r = math.sin {x} : f32"], "%r"))
"""

from .cli import main
from .importer import Importer, import_model
from .registry import constant_only_ops, register, register_constant_only, register_fold, supported_ops
from .values import Act, Const, QParams, UnsupportedModelError

SUPPORTED_OPS = supported_ops()
CONSTANT_ONLY_OPS = constant_only_ops()

__all__ = ["import_model", "main", "UnsupportedModelError", "Importer", "Act", "Const", "QParams",
           "SUPPORTED_OPS", "CONSTANT_ONLY_OPS", "register", "register_fold", "register_constant_only",
           "supported_ops", "constant_only_ops"]
