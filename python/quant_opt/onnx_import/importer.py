"""The import of one model: the graph's values, node by node, into one
function (`Importer`), and `import_model`, the entry point."""

from __future__ import annotations

import re

import numpy as np
import onnx
from onnx import numpy_helper

# The family modules register their ops when imported.
from . import (contraction, dynamic, elementwise, integer, normalization, pooling, qoperator,  # noqa: F401
               quantized, shape)
from .emitter import Emitter
from .emitter import tensor_type as emitter_tensor_type
from .graph import (attrs, check_supported, constant_node_value, evaluate, find_matmul_biases,
                    fold_batch_norms, fuse_gelu, fuse_layer_norm, initializer_array,
                    name_unnamed_nodes)
from .integer import BINARY as INTEGER_BINARY
from .integer import DOUBLE_BINARY
from .registry import CONVERTERS, FOLDS, constant_only_ops
from .values import INTEGER_INPUTS, NCHW_TO_NHWC, NHWC_TO_NCHW, Act, Const, UnsupportedModelError


# The ONNX element types NumPy holds as themselves.
NUMPY_TYPES = frozenset(getattr(onnx.TensorProto, t) for t in (
    "FLOAT", "DOUBLE", "FLOAT16", "BOOL", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32",
    "UINT64"))


class Importer:
    """What converters see of the import: the emitter, every ONNX tensor's
    value so far (`values`), the layout helpers, and what quant-eval's
    reference receives (`contractions`, `clamps`, `adds`, `average_pools`)."""

    def __init__(self, model: onnx.ModelProto, batch: int, function: str, constants: dict | None = None):
        self.model = model
        # Graph inputs bound to values (import_model's `constants`).
        self.constants = dict(constants or {})
        self.graph = model.graph
        self.batch = batch
        self.function = function
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)
        self.emitter = Emitter()
        self.values: dict[str, Act | Const] = {}
        # A MatMul's output -> (the Add of a constant bias that reads it,
        # the bias); see graph.find_matmul_biases.
        self.matmul_biases: dict[str, tuple] = {}
        # The ids of nodes an earlier node imported with itself (those Adds).
        self.done: set[int] = set()
        # For independent references (quant-eval's bit-exactness check):
        # each contraction as emitted (by node name), each clamp's bounds,
        # each Add of two activations and each average pooling, their
        # inputs named by `Value.reference`.
        self.contractions: dict[str, dict] = {}
        self.clamps: dict[str, tuple] = {}
        self.adds: dict[str, dict] = {}
        self.activation_matmuls: dict[str, dict] = {}
        self.average_pools: dict[str, dict] = {}
        # UINT8 / INT8 inputs a QLinear op reads, reinterpreted as quantized
        # values (quant.scast), by input name.
        self.scast_inputs: dict[str, Act] = {}
        # DynamicQuantizeLinear outputs y -> what it emitted (dynamic.Dynamic),
        # and ONNX Runtime's dynamic MatMulInteger layers (dynamic.find_chains).
        self.dynamic: dict = {}
        self.dynamic_matmuls: dict = {}

    # --- values -----------------------------------------------------------
    def act(self, name: str, node, integer: bool = False, double: bool = False) -> Act:
        """The activation `name` that `node` reads; an integer one only
        where the caller takes it (`integer`: Cast), a DOUBLE one only where
        it takes that (`double`)."""
        value = self.values.get(name)
        if isinstance(value, Act) and value.integer_type == onnx.TensorProto.DOUBLE:
            if not double:
                raise UnsupportedModelError(
                    f"{node.op_type} node '{node.name}' reads '{name}', an activation of type DOUBLE: DOUBLE "
                    f"activations are only read by Cast, Identity and {', '.join(DOUBLE_BINARY)}")
            return value
        if isinstance(value, Act):
            if value.integer_type and not integer:
                raise UnsupportedModelError(
                    f"{node.op_type} node '{node.name}' reads '{name}', an activation of type "
                    f"{onnx.TensorProto.DataType.Name(value.integer_type)}: integer and bool "
                    "activations are only read by Cast, DequantizeLinear, Gather, Clip, Pad, "
                    "MaxPool, Where, ReduceMax, ReduceMin, ReduceSum, the comparisons, And, Or, Xor, "
                    "Not and "
                    f"{', '.join(INTEGER_BINARY)} (on integers)")
            return value
        if isinstance(value, Const):
            # A constant where an activation is expected: materialize it.
            return Act(self.emitter.constant(value.array))
        raise UnsupportedModelError(f"{node.op_type} node '{node.name}': input '{name}' is not defined")

    def to_plain(self, a: Act, name: str) -> Act:
        if not a.nhwc:
            return a
        if a.qtype:
            raise UnsupportedModelError(f"'{name}': a quantized NHWC tensor needs its ONNX layout back")
        return Act(self.emitter.transpose(a.value, NHWC_TO_NCHW, name + ".nchw"))

    def to_nhwc(self, a: Act, name: str, op_type: str = "") -> Act:
        if a.nhwc:
            return a
        if len(a.shape) != 4:
            raise UnsupportedModelError(f"{op_type + ' node ' if op_type else ''}'{name}': takes "
                                        f"4-D (N, C, H, W) inputs only (2-D convolution and pooling), "
                                        f"got shape {a.shape}")
        return Act(self.emitter.transpose(a.value, NCHW_TO_NHWC, name + ".nhwc"), True)

    # --- the model --------------------------------------------------------
    def run(self) -> str:
        for init in self.graph.initializer:
            self.values[init.name] = Const(initializer_array(init), onnx_type=init.data_type)
        for inp in self.graph.input:
            if inp.name in self.constants:
                elem = inp.type.tensor_type.elem_type
                self.values[inp.name] = Const(self.constant_input(inp, self.constants[inp.name]),
                                              onnx_type=elem or None)
        for node in self.graph.node:
            if node.op_type == "Constant":
                value = next((a.t for a in node.attribute if a.name == "value"), None)
                self.values[node.output[0]] = Const(constant_node_value(node),
                                                    onnx_type=value.data_type if value else None)
        self.matmul_biases = find_matmul_biases(self.values, self.graph)
        self.dynamic_matmuls = dynamic.find_chains(self.values, self.graph)
        for _, cast, mul, scales, _ in self.dynamic_matmuls.values():
            # (Imported with their MatMulInteger.)
            self.done.update((id(cast), id(mul), id(scales)))
        nodes = fold_batch_norms(self.values, self.graph, list(self.graph.node))
        initializer_names = {i.name for i in self.graph.initializer}
        for inp in self.graph.input:
            if inp.name in initializer_names or inp.name in self.constants:
                continue
            dims, elem = self.input_shape(inp)
            if elem == onnx.TensorProto.FLOAT16:
                # Computed on in f32 (exact: every f16 is an f32); a FLOAT16
                # output is rounded back to f16 (`output`).
                half = self.emitter.argument(inp.name, dims, "f16")
                self.values[inp.name] = Act(self.emitter.generic(
                    [(half, list(range(len(dims))))], dims,
                    lambda a: ([f"%r = arith.extf {a[0]} : f16 to f32"], "%r"), inp.name + ".f32"))
                continue
            if elem == onnx.TensorProto.BFLOAT16:
                # Its bits as an i16 (NumPy has no bfloat16: onnx reads it as
                # uint16), held in f32 (exactly: the high half).
                bits = self.emitter.argument(inp.name, dims, "i16")
                self.values[inp.name] = Act(self.emitter.generic(
                    [(bits, list(range(len(dims))))], dims,
                    lambda a: ([f"%w = arith.extui {a[0]} : i16 to i32", "%c16 = arith.constant 16 : i32",
                                "%s = arith.shli %w, %c16 : i32", "%r = arith.bitcast %s : i32 to f32"], "%r"),
                    inp.name + ".f32"))
                continue
            if elem == onnx.TensorProto.DOUBLE:
                # Computed on in f64 (`integer.DOUBLE_BINARY`, Cast).
                self.values[inp.name] = Act(self.emitter.argument(inp.name, dims, "f64"), integer_type=elem)
                continue
            kind = elem if elem != onnx.TensorProto.FLOAT else None
            self.values[inp.name] = Act(self.emitter.argument(inp.name, dims, INTEGER_INPUTS.get(elem, "f32")),
                                        integer_type=kind)
        for node in nodes:
            self.import_node(node)
        results = []
        for out in self.graph.output:
            value = self.values.get(out.name)
            if isinstance(value, Const) and value.array.size == 0:
                raise UnsupportedModelError(f"graph output '{out.name}' is a constant of shape "
                                            f"{value.array.shape}; zero-size tensors are not supported")
            if isinstance(value, Const) and value.array.dtype.kind in "biu":
                # An integer output (Shape's int64, ConstantOfShape's) keeps
                # its type.
                array = np.asarray(value.array)
                elem = "i1" if array.dtype.kind == "b" else f"i{array.dtype.itemsize * 8}"
                results.append(integer.integer_constant(self, array, elem))
                continue
            if isinstance(value, Const) and out.type.tensor_type.elem_type == onnx.TensorProto.DOUBLE:
                results.append(integer.f64_constant(self, np.asarray(value.array, np.float64)))
                continue
            if isinstance(value, Const):
                value = Act(self.emitter.constant(value.array))
            if value is None:
                raise UnsupportedModelError(f"graph output '{out.name}' is not computed")
            if value.qtype:
                # Its stored integers (quant-run writes them as such).
                results.append(self.quantized_output(value, out.name).value)
                continue
            results.append(self.output(self.to_plain(value, out.name), out))
        return self.emitter.function(self.function, results)

    def output(self, value: Act, out):
        """The graph output `out` of value `value`, in the type the model
        declares: an f32 value declared FLOAT16 rounded to f16 (to nearest,
        ties to even, as ONNX's Cast)."""
        declared = out.type.tensor_type.elem_type
        if declared == onnx.TensorProto.FLOAT16 and value.value.elem == "f32":
            return self.emitter.generic([(value.value, list(range(len(value.shape))))], value.shape,
                                        lambda a: ([f"%r = arith.truncf {a[0]} : f32 to f16"], "%r"),
                                        out.name + ".f16", out_elem="f16")
        if (value.value.elem == "f64") != (declared == onnx.TensorProto.DOUBLE) and \
                declared != onnx.TensorProto.UNDEFINED and value.value.elem in ("f32", "f64"):
            computed = "DOUBLE" if value.value.elem == "f64" else "FLOAT"
            raise UnsupportedModelError(f"graph output '{out.name}' is declared "
                                        f"{onnx.TensorProto.DataType.Name(declared)}; it is computed as {computed}")
        if declared == onnx.TensorProto.BFLOAT16 and value.value.elem == "f32":
            # Its bits as an i16 (what onnx reads as uint16), rounded to
            # nearest even (exact for a value a Cast rounded).
            return self.emitter.generic([(value.value, list(range(len(value.shape))))], value.shape,
                                        lambda a: (shape.bfloat16_bits(a[0]) + [
                                            "%c16s = arith.constant 16 : i32", "%top = arith.shrui %bf, %c16s : i32",
                                            "%r = arith.trunci %top : i32 to i16"], "%r"),
                                        out.name + ".bf16", out_elem="i16")
        if declared not in (onnx.TensorProto.UNDEFINED, onnx.TensorProto.FLOAT) and value.value.elem == "f32" \
                and not value.qtype:
            raise UnsupportedModelError(f"graph output '{out.name}' is declared "
                                        f"{onnx.TensorProto.DataType.Name(declared)}; it is computed as FLOAT")
        return value.value

    def quantized_output(self, value: Act, name: str) -> Act:
        """A quantized graph output in its ONNX layout: a quantized NHWC
        tensor is transposed on its dequantized values and quantized back to
        its type (which quant-opt turns into a transpose of the integers).
        4-bit stored values are returned one per byte, as INT4 / UINT4
        activations are (sign- or zero-extended to i8)."""
        if value.qparams is not None and value.qparams.storage in ("i4", "u4"):
            return self.four_bit_output(self.quantized_output_layout(value, name), name)
        return self.quantized_output_layout(value, name)

    def four_bit_output(self, value: Act, name: str) -> Act:
        """The 4-bit quantized `value` as its stored integers, each in an i8."""
        storage = value.qparams.storage
        shape = value.physical
        bits = self.emitter.op(f"quant.scast {value.ssa} : {value.value.type} to {emitter_tensor_type(shape, 'i4')}",
                               shape, name + ".stored", "i4")
        extend = "arith.extsi" if storage == "i4" else "arith.extui"
        return Act(self.emitter.generic([(bits, list(range(len(shape))))], shape,
                                        lambda a: ([f"%r = {extend} {a[0]} : i4 to i8"], "%r"), name + ".bytes",
                                        out_elem="i8"),
                   integer_type=onnx.TensorProto.INT4 if storage == "i4" else onnx.TensorProto.UINT4)

    def quantized_output_layout(self, value: Act, name: str) -> Act:
        if not value.nhwc:
            return value
        if value.qparams is None or value.qparams.axis is not None:
            raise UnsupportedModelError(f"graph output '{name}' is quantized per axis in NHWC; "
                                        "end the model with DequantizeLinear")
        plain = self.to_plain(qoperator.dequantized(self, value, name + ".dequantize"), name)
        return qoperator.quantized(self, plain, value.qparams, name + ".quantize")

    def constant_input(self, inp, value) -> np.ndarray:
        """The value bound to the graph input `inp`, checked against the
        type and the fixed dims the model declares."""
        array = np.asarray(value)
        elem = inp.type.tensor_type.elem_type
        # (Types NumPy lacks, INT4, FLOAT8, BFLOAT16, are given as onnx reads
        # them, in a stand-in type: as for an initializer, not checked; 4-bit
        # integers become int8 / uint8, as initializer_array reads them.)
        if elem == onnx.TensorProto.INT4:
            array = array.astype(np.int8)
        elif elem == onnx.TensorProto.UINT4:
            array = array.astype(np.uint8)
        if elem in NUMPY_TYPES:
            declared = onnx.helper.tensor_dtype_to_np_dtype(elem)
            if array.dtype != declared:
                raise UnsupportedModelError(
                    f"input '{inp.name}' is given as a constant of type {array.dtype}; the model "
                    f"declares {onnx.TensorProto.DataType.Name(elem)}")
        dims = inp.type.tensor_type.shape.dim if inp.type.tensor_type.HasField("shape") else None
        if dims is not None and (len(dims) != array.ndim or any(
                d.HasField("dim_value") and d.dim_value != n for d, n in zip(dims, array.shape))):
            declared = tuple(d.dim_value if d.HasField("dim_value") else "?" for d in dims)
            raise UnsupportedModelError(f"input '{inp.name}' is given as a constant of shape "
                                        f"{array.shape}; the model declares {declared}")
        return array

    def input_shape(self, inp) -> tuple:
        dims = []
        for d in inp.type.tensor_type.shape.dim:
            if d.HasField("dim_value"):
                dims.append(d.dim_value)
            else:
                dims.append(self.batch)
        elem = inp.type.tensor_type.elem_type
        supported = "FLOAT, FLOAT16, BFLOAT16, DOUBLE, or an integer or bool type (" + ", ".join(
            onnx.TensorProto.DataType.Name(t) for t in INTEGER_INPUTS) + ")"
        if elem == onnx.TensorProto.UNDEFINED:
            raise UnsupportedModelError(f"input '{inp.name}' has no element type (the model does not "
                                        f"declare it); inputs must be {supported}")
        if elem not in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16,
                        onnx.TensorProto.DOUBLE) and \
                elem not in INTEGER_INPUTS:
            raise UnsupportedModelError(
                f"input '{inp.name}' has element type {onnx.TensorProto.DataType.Name(elem)}; "
                f"inputs must be {supported}")
        return tuple(dims), elem

    def import_node(self, node) -> None:
        """Folds, evaluates or converts `node` (in that order of preference)
        and records its outputs' values."""
        if id(node) in self.done:
            return
        inputs = [self.values.get(n) if n else None for n in node.input]
        fold = FOLDS.get(node.op_type)
        if fold is not None:
            results = fold(self, node, inputs, attrs(node))
            if results is not None:
                self.values.update(zip(node.output, results))
                return
        if all(v is None or isinstance(v, Const) for v in inputs) and any(v is not None for v in inputs):
            for out, array in zip(node.output, evaluate(node, inputs, self.model)):
                self.values[out] = Const(array)
            return
        if node.op_type in constant_only_ops():
            raise UnsupportedModelError(
                f"{node.op_type} node '{node.name}' reads an activation; it is only supported "
                "on constants (shape arithmetic)")
        if integer.reads_integers(node, inputs):
            self.record(node, integer.convert(self, node, inputs, attrs(node)))
            return
        converter = CONVERTERS[node.op_type]
        if not converter.reads_quantized and qoperator.reads_quantized_input(node, inputs):
            # QOperator models run these on quantized values.
            if node.op_type in qoperator.PASS_THROUGH:
                self.record(node, qoperator.pass_through(self, node, inputs, attrs(node), converter.function))
                return
            if node.op_type == "Cast":
                self.record(node, qoperator.cast_int32(self, node, inputs, attrs(node)))
                return
        if not converter.reads_quantized:
            for name, value in zip(node.input, inputs):
                if isinstance(value, Act) and value.qtype:
                    raise UnsupportedModelError(
                        f"{node.op_type} node '{node.name}' reads the quantized tensor '{name}'; "
                        "only DequantizeLinear may")
        self.record(node, converter.function(self, node, inputs, attrs(node)))

    def record(self, node, results) -> None:
        if not isinstance(results, (list, tuple)):
            results = [results]
        self.values.update(zip(node.output, results))


def import_model(model: onnx.ModelProto, batch: int = 1, function: str = "main",
                 details: dict | None = None, constants: dict | None = None) -> str:
    """The MLIR text of `model`: one function, symbolic dims fixed to `batch`.
    `constants` binds graph inputs (by name) to values: each becomes a
    constant of the model, as an initializer would be, and is not an
    argument of the function (the model specialized to those values: the
    weights, shapes or axes an exporter left as inputs; `constant_inputs`
    in the registry says where an op needs one).
    If `details` is given, it receives what an independent reference needs:
    "contractions" (by node name: kind, the location name of the input,
    weight and bias as emitted, strides, dilations), "adds" (Adds of two
    activations: their inputs' location names), "activation_matmuls"
    (MatMuls of two activations, as batch matmuls: their inputs' location
    names), "average_pools" (input,
    kernel, strides, dilations, the f32 factor) and "clamps" (by Relu / Clip node name:
    the float bounds)."""
    if not isinstance(batch, int) or batch < 1:
        raise UnsupportedModelError(f"the batch size must be a positive integer, not {batch!r}")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$.]*", function or ""):
        raise UnsupportedModelError(f"the function name {function!r} is not an MLIR identifier "
                                    "(a letter or _, then letters, digits, _, $ or .)")
    if not model.HasField("graph"):
        raise UnsupportedModelError("no graph in the model (not an ONNX model?)")
    model = onnx.ModelProto.FromString(model.SerializeToString())
    name_unnamed_nodes(model.graph)
    fuse_gelu(model)
    fuse_layer_norm(model)
    check_supported(model.graph)
    unknown = set(constants or {}) - {i.name for i in model.graph.input}
    if unknown:
        raise UnsupportedModelError(f"constants given for {', '.join(sorted(unknown))}, which "
                                    "are not inputs of the graph")
    importer = Importer(model, batch, function, constants)
    text = importer.run()
    if details is not None:
        details["contractions"] = importer.contractions
        details["clamps"] = importer.clamps
        details["adds"] = importer.adds
        details["average_pools"] = importer.average_pools
        details["activation_matmuls"] = importer.activation_matmuls
    return text
