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

An op outside the supported set is an error that lists every unsupported op
of the model at once.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import numpy_helper

SUPPORTED_OPS = frozenset("""
    Conv Gemm MatMul Add Sub Mul Div Relu Clip Sigmoid Tanh MaxPool AveragePool
    GlobalAveragePool Flatten Reshape Transpose Concat BatchNormalization Pad
    Softmax LayerNormalization Gelu Erf QuantizeLinear DequantizeLinear
    Identity Constant Shape Unsqueeze Squeeze Slice Cast Dropout
    ReduceMean LeakyRelu HardSigmoid HardSwish
""".split())
# Ops only accepted when all their inputs are constants (shape arithmetic the
# exporter left behind); they are evaluated at import time.
CONSTANT_ONLY_OPS = frozenset("Gather Sqrt Pow ConstantOfShape Range Equal Where Expand".split())

STORAGE = {np.dtype(np.int8): "i8", np.dtype(np.uint8): "u8", np.dtype(np.int16): "i16",
           np.dtype(np.uint16): "u16", np.dtype(np.int32): "i32"}

RESOURCE_THRESHOLD = 16  # constants with more elements become dense_resource


class UnsupportedModelError(ValueError):
    """The model cannot be imported; the message says every reason."""


@dataclass
class QParams:
    """Per-tensor or per-axis quantization parameters of ONNX QDQ nodes."""
    scale: np.ndarray
    zero_point: np.ndarray
    axis: int | None
    storage: str  # i8, u8, i16, u16, i32

    def type_for(self, axis_map=None) -> str:
        if self.axis is None:
            return (f"!quant.uniform<{self.storage}:f32, "
                    f"{_float(float(self.scale))}:{int(self.zero_point)}>")
        axis = self.axis if axis_map is None else axis_map[self.axis]
        zps = np.broadcast_to(self.zero_point, self.scale.shape)
        pairs = ", ".join(f"{_float(float(s))}:{int(z)}" for s, z in zip(self.scale, zps))
        return f"!quant.uniform<{self.storage}:f32:{axis}, {{{pairs}}}>"


@dataclass
class Act:
    """An activation: its SSA name, logical (ONNX) shape and layout."""
    ssa: str
    shape: tuple
    nhwc: bool = False  # a 4-D NCHW tensor stored as NHWC
    qtype: str | None = None  # quantized element type, after QuantizeLinear
    qparams: QParams | None = None

    @property
    def physical(self) -> tuple:
        if self.nhwc:
            n, c, h, w = self.shape
            return (n, h, w, c)
        return self.shape


@dataclass
class Const:
    """A constant known at import time; `qparams` if it went through QDQ."""
    array: np.ndarray
    qparams: QParams | None = None


def _float(x: float) -> str:
    """An f32 value written so that MLIR reads back the same float."""
    x = np.float32(x)
    if not np.isfinite(x):  # MLIR has no literal for these: their bits
        return f"0x{x.view(np.uint32):08X}"
    return repr(float(x))


def _ttype(shape, elem="f32") -> str:
    return "tensor<" + "".join(f"{d}x" for d in shape) + elem + ">"


def _map(rank: int, dims) -> str:
    ds = ", ".join(f"d{i}" for i in range(rank))
    res = ", ".join(d if isinstance(d, str) else f"d{d}" for d in dims)
    return f"affine_map<({ds}) -> ({res})>"


def _escape(name: str) -> str:
    return name.replace("\\", "\\\\").replace('"', '\\"')


NCHW_TO_NHWC = (0, 2, 3, 1)
NHWC_TO_NCHW = (0, 3, 1, 2)
# A logical NCHW axis to its position in NHWC.
NHWC_AXIS = {0: 0, 1: 3, 2: 1, 3: 2}


class Importer:
    def __init__(self, model: onnx.ModelProto, batch: int, function: str):
        self.model = model
        self.graph = model.graph
        self.batch = batch
        self.function = function
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)
        self.lines: list[str] = []
        self.resources: dict[str, np.ndarray] = {}
        self.values: dict[str, Act | Const] = {}
        self.counter = 0
        # A MatMul's output -> (the Add of a constant bias that reads it,
        # the bias); see find_matmul_biases.
        self.matmul_biases: dict[str, tuple] = {}
        # The ids of nodes an earlier node imported with itself (those Adds).
        self.done: set[int] = set()
        # For independent references (quant-eval's bit-exactness check):
        # the location name of the op that defines each SSA value, each
        # contraction as emitted (by node name), and each clamp's bounds.
        self.ssa_locs: dict[str, str] = {}
        self.contractions: dict[str, dict] = {}
        self.clamps: dict[str, tuple] = {}
        self.adds: dict[str, dict] = {}
        self.average_pools: dict[str, dict] = {}

    # --- emission helpers -------------------------------------------------
    def fresh(self) -> str:
        self.counter += 1
        return f"%v{self.counter}"

    def emit(self, text: str) -> None:
        self.lines.append("  " + text)
        defined = re.match(r"(%v\d+) = ", text)
        located = re.search(r'loc\("((?:[^"\\]|\\.)*)"\)$', text)
        if defined and located:
            self.ssa_locs[defined.group(1)] = located.group(1)

    @staticmethod
    def loc(name: str) -> str:
        return f'loc("{_escape(name)}")'

    def constant(self, array: np.ndarray) -> str:
        """An f32 tensor constant."""
        array = np.ascontiguousarray(array, dtype=np.float32)
        ssa = self.fresh()
        ttype = _ttype(array.shape)
        flat = array.reshape(-1)
        bits = flat.view(np.uint32)  # a splat must not mix 0.0 and -0.0
        if flat.size > 0 and np.all(bits == bits[0]):
            attr = f"dense<{_float(flat[0])}>"
        elif flat.size <= RESOURCE_THRESHOLD:
            attr = f"dense<{self._nested(array)}>"
        else:
            name = f"w{len(self.resources)}"
            self.resources[name] = array
            attr = f"dense_resource<{name}>"
        self.emit(f"{ssa} = arith.constant {attr} : {ttype}")
        return ssa

    def _nested(self, array: np.ndarray) -> str:
        if array.ndim == 0:
            return _float(array)
        return "[" + ", ".join(self._nested(a) for a in array) + "]"

    def scalar(self, value: float) -> str:
        ssa = self.fresh()
        self.emit(f"{ssa} = arith.constant {_float(value)} : f32")
        return ssa

    def init(self, shape, value: float | None = 0.0) -> str:
        empty = self.fresh()
        self.emit(f"{empty} = tensor.empty() : {_ttype(shape)}")
        if value is None:
            return empty
        scalar = self.scalar(value)
        filled = self.fresh()
        self.emit(f"{filled} = linalg.fill ins({scalar} : f32) outs({empty} : {_ttype(shape)}) -> {_ttype(shape)}")
        return filled

    def generic(self, inputs, out_shape, body, name, reduce_dims=(), init_value=None,
                internal=False, rank=None) -> str:
        """A linalg.generic: `inputs` are (ssa, shape, dims) with dims the loop
        indices (or "0") each of the input's dims reads; the output reads the
        loops not in `reduce_dims`. `body(args)` returns the body lines and
        the value to yield, given the block argument names."""
        rank = rank if rank is not None else len(out_shape) + len(reduce_dims)
        out_dims = [d for d in range(rank) if d not in reduce_dims]
        maps = [_map(rank, dims) for _, _, dims in inputs] + [_map(rank, out_dims)]
        iters = ", ".join('"reduction"' if d in reduce_dims else '"parallel"' for d in range(rank))
        out = self.init(out_shape, init_value)
        args = [f"%a{i}" for i in range(len(inputs))] + ["%acc"]
        block = ", ".join(f"{a}: f32" for a in args)
        lines, result = body(args)
        ssa = self.fresh()
        ins = ", ".join(s for s, _, _ in inputs)
        ins_types = ", ".join(_ttype(shape) for _, shape, _ in inputs)
        # The marker goes in the leading attribute dictionary: after outs(),
        # a `{` starts the region.
        marker = ", qnn.internal" if internal else ""
        text = (f"{ssa} = linalg.generic {{indexing_maps = [{', '.join(maps)}], "
                f"iterator_types = [{iters}]{marker}}} ins({ins} : {ins_types}) "
                f"outs({out} : {_ttype(out_shape)}) {{\n"
                f"  ^bb0({block}):\n")
        for line in lines:
            text += f"    {line}\n"
        text += f"    linalg.yield {result} : f32\n  }} -> {_ttype(out_shape)} {self.loc(name)}"
        self.emit(text)
        return ssa

    def transpose(self, ssa, shape, perm, name) -> str:
        out_shape = tuple(shape[p] for p in perm)
        empty = self.init(out_shape, None)
        result = self.fresh()
        self.emit(f"{result} = linalg.transpose ins({ssa} : {_ttype(shape)}) outs({empty} : "
                  f"{_ttype(out_shape)}) permutation = [{', '.join(map(str, perm))}] {self.loc(name)}")
        return result

    # --- values -----------------------------------------------------------
    def act(self, name: str, node) -> Act:
        value = self.values.get(name)
        if isinstance(value, Act):
            return value
        if isinstance(value, Const):
            # A constant where an activation is expected: materialize it.
            return Act(self.constant(value.array), tuple(value.array.shape))
        raise UnsupportedModelError(f"{node.op_type} node '{node.name}': input '{name}' is not defined")

    def to_plain(self, a: Act, name: str) -> Act:
        if not a.nhwc:
            return a
        if a.qtype:
            raise UnsupportedModelError(f"'{name}': a quantized NHWC tensor needs its ONNX layout back")
        ssa = self.transpose(a.ssa, a.physical, NHWC_TO_NCHW, name + ".nchw")
        return Act(ssa, a.shape, False)

    def to_nhwc(self, a: Act, name: str) -> Act:
        if a.nhwc:
            return a
        if len(a.shape) != 4:
            raise UnsupportedModelError(f"'{name}': expected a 4-D input, got shape {a.shape}")
        ssa = self.transpose(a.ssa, a.shape, NCHW_TO_NHWC, name + ".nhwc")
        return Act(ssa, a.shape, True)

    # --- the model --------------------------------------------------------
    def run(self) -> str:
        for init in self.graph.initializer:
            self.values[init.name] = Const(numpy_helper.to_array(init))
        for node in self.graph.node:
            if node.op_type == "Constant":
                self.values[node.output[0]] = Const(_constant_node_value(node))
        self.find_matmul_biases()
        nodes = self.fold_batch_norms(list(self.graph.node))
        initializer_names = {i.name for i in self.graph.initializer}
        args = []
        for inp in self.graph.input:
            if inp.name in initializer_names:
                continue
            shape = self.input_shape(inp)
            ssa = f"%arg{len(args)}"
            self.ssa_locs[ssa] = inp.name
            self.values[inp.name] = Act(ssa, shape)
            args.append(f"{ssa}: {_ttype(shape)} {self.loc(inp.name)}")
        for node in nodes:
            self.import_node(node)
        results, result_types = [], []
        for out in self.graph.output:
            value = self.values.get(out.name)
            if isinstance(value, Const) and value.array.dtype.kind in "biu":
                # An integer output (Shape's int64) keeps its type.
                array = np.asarray(value.array)
                elem = "i1" if array.dtype.kind == "b" else f"i{array.dtype.itemsize * 8}"
                flat = ", ".join(str(int(v)) for v in array.reshape(-1))
                ssa = self.fresh()
                literal = f"dense<{int(array.reshape(-1)[0])}>" if array.size == 1 else \
                    f"dense<[{flat}]>" if array.ndim == 1 else None
                if literal is None:
                    raise UnsupportedModelError(f"graph output '{out.name}': an integer constant "
                                                "of rank above 1")
                self.emit(f"{ssa} = arith.constant {literal} : {_ttype(array.shape, elem)}")
                results.append(ssa)
                result_types.append(_ttype(array.shape, elem))
                continue
            if isinstance(value, Const):
                value = Act(self.constant(value.array), tuple(value.array.shape))
            if value is None:
                raise UnsupportedModelError(f"graph output '{out.name}' is not computed")
            if value.qtype:
                raise UnsupportedModelError(f"graph output '{out.name}' is quantized; "
                                            "end the model with DequantizeLinear")
            value = self.to_plain(value, out.name)
            results.append(value.ssa)
            result_types.append(_ttype(value.shape))
        text = [f"func.func @{self.function}({', '.join(args)}) -> ({', '.join(result_types)}) {{"]
        text += self.lines
        text.append(f"  return {', '.join(results)} : {', '.join(result_types)}")
        text.append("}")
        if self.resources:
            text.append("{-#\n  dialect_resources: {\n    builtin: {")
            entries = []
            for name, array in self.resources.items():
                data = np.ascontiguousarray(array, dtype=np.float32).astype("<f4").tobytes()
                entries.append(f'      {name}: "0x04000000{data.hex().upper()}"')
            text.append(",\n".join(entries))
            text.append("    }\n  }\n#-}")
        return "\n".join(text) + "\n"

    def check_supported(self) -> None:
        unsupported = {}
        for node in self.graph.node:
            if node.domain not in ("", "ai.onnx"):
                op = f"{node.domain}.{node.op_type}"  # no custom op is supported
            elif node.op_type in SUPPORTED_OPS or node.op_type in CONSTANT_ONLY_OPS:
                continue
            else:
                op = node.op_type
            unsupported.setdefault(op, []).append(node.name or "(unnamed)")
        if unsupported:
            listing = "; ".join(f"{op} ({len(names)}: {', '.join(names[:3])}"
                                f"{', ...' if len(names) > 3 else ''})"
                                for op, names in sorted(unsupported.items()))
            raise UnsupportedModelError(
                f"{len(unsupported)} unsupported op type(s) in the model: {listing}")

    def input_shape(self, inp) -> tuple:
        dims = []
        for d in inp.type.tensor_type.shape.dim:
            if d.HasField("dim_value"):
                dims.append(d.dim_value)
            else:
                dims.append(self.batch)
        elem = inp.type.tensor_type.elem_type
        if elem != onnx.TensorProto.FLOAT:
            raise UnsupportedModelError(
                f"input '{inp.name}' has element type {onnx.TensorProto.DataType.Name(elem)}; "
                "only FLOAT inputs are supported")
        return tuple(dims)

    def fold_batch_norms(self, nodes):
        """Folds each BatchNormalization that is the only reader of a Conv's
        output into the Conv's weights and bias."""
        readers = {}
        for node in nodes:
            for name in node.input:
                readers.setdefault(name, []).append(node)
        producers = {out: node for node in nodes for out in node.output}
        folded = set()
        for node in nodes:
            if node.op_type != "BatchNormalization" or _attrs(node).get("training_mode", 0):
                continue
            conv = producers.get(node.input[0])
            if (conv is None or conv.op_type != "Conv" or len(readers.get(conv.output[0], [])) != 1
                    or conv.output[0] in {o.name for o in self.graph.output}):
                continue
            # BN's four parameters, the Conv's weights and bias if it has one.
            consts = [self.values.get(n) for n in list(node.input[1:5]) + [i for i in conv.input[1:] if i]]
            if not all(isinstance(c, Const) and c.qparams is None for c in consts):
                continue
            gamma, beta, mean, var, w = (c.array.astype(np.float64) for c in consts[:5])
            b = consts[5].array.astype(np.float64) if len(consts) > 5 else np.zeros(w.shape[0])
            eps = _attrs(node).get("epsilon", 1e-5)
            factor = gamma / np.sqrt(var + eps)
            new_w = (w * factor.reshape(-1, *[1] * (w.ndim - 1))).astype(np.float32)
            new_b = ((b - mean) * factor + beta).astype(np.float32)
            wname, bname = conv.name + ".folded_weight", conv.name + ".folded_bias"
            self.values[wname] = Const(new_w)
            self.values[bname] = Const(new_b)
            source = conv.input[0]
            del conv.input[:]
            conv.input.extend([source, wname, bname])
            conv.output[0] = node.output[0]
            folded.add(id(node))
        return [n for n in nodes if id(n) not in folded]

    def find_matmul_biases(self) -> None:
        """Finds each Add of a constant bias (N values along the last axis)
        that is the only reader of a MatMul of constant 2-D weights, so that
        the MatMul adds the bias before its result is reshaped back (where
        quant-opt fuses it)."""
        readers = {}
        for n in self.graph.node:
            for i in n.input:
                readers.setdefault(i, []).append(n)
        outputs = {o.name for o in self.graph.output}
        for n in self.graph.node:
            if n.op_type != "MatMul" or n.output[0] in outputs:
                continue
            weight = self.values.get(n.input[1])
            users = readers.get(n.output[0], [])
            if not isinstance(weight, Const) or weight.array.ndim != 2 or len(users) != 1 \
                    or users[0].op_type != "Add":
                continue
            add = users[0]
            bias = self.values.get(add.input[1] if add.input[0] == n.output[0] else add.input[0])
            if isinstance(bias, Const) and bias.qparams is None and bias.array.size == weight.array.shape[1] \
                    and bias.array.shape[-1:] == (weight.array.shape[1],):
                self.matmul_biases[n.output[0]] = (add, bias)

    def import_node(self, node) -> None:
        if id(node) in self.done:
            return
        inputs = [self.values.get(n) if n else None for n in node.input]
        if node.op_type == "Constant":
            self.values[node.output[0]] = Const(_constant_node_value(node))
            return
        if node.op_type == "Identity":
            self.values[node.output[0]] = inputs[0]
            return
        if node.op_type == "Shape":
            source = inputs[0]
            shape = source.array.shape if isinstance(source, Const) else source.shape
            attrs = _attrs(node)  # start and end (opset 15) slice as Python does
            shape = shape[attrs.get("start", 0):attrs.get("end", len(shape))]
            self.values[node.output[0]] = Const(np.array(shape, dtype=np.int64))
            return
        if node.op_type == "QuantizeLinear" and isinstance(inputs[0], Const):
            # QAT exports quantize float weights: they become integer
            # constants, which the DequantizeLinear below reads.
            self.values[node.output[0]] = self.quantize_constant(node, inputs)
            return
        if node.op_type == "DequantizeLinear" and isinstance(inputs[0], Const):
            self.values[node.output[0]] = self.dequantize_constant(node, inputs)
            return
        if all(v is None or isinstance(v, Const) for v in inputs) and any(v is not None for v in inputs):
            for out, array in zip(node.output, _evaluate(node, inputs, self.model)):
                self.values[out] = Const(array)
            return
        if node.op_type in CONSTANT_ONLY_OPS:
            raise UnsupportedModelError(
                f"{node.op_type} node '{node.name}' reads an activation; it is only supported "
                "on constants (shape arithmetic)")
        if node.op_type != "DequantizeLinear":
            for name, value in zip(node.input, inputs):
                if isinstance(value, Act) and value.qtype:
                    raise UnsupportedModelError(
                        f"{node.op_type} node '{node.name}' reads the quantized tensor '{name}'; "
                        "only DequantizeLinear may")
        handler = getattr(self, "op_" + node.op_type)
        results = handler(node, inputs, _attrs(node))
        if not isinstance(results, (list, tuple)):
            results = [results]
        for out, value in zip(node.output, results):
            self.values[out] = value

    # --- quantization -----------------------------------------------------
    def qparams(self, node, inputs, attrs, rank: int, dtype: np.dtype) -> QParams:
        """The parameters of a Q/DQ node whose quantized side has `dtype`
        (what the zero point's type says when the node has one)."""
        scale = inputs[1]
        zp = inputs[2] if len(inputs) > 2 else None
        if not isinstance(scale, Const) or (zp is not None and not isinstance(zp, Const)):
            raise UnsupportedModelError(f"{node.op_type} node '{node.name}': scale and zero point "
                                        "must be constants")
        z = zp.array if zp is not None else np.zeros((), dtype)
        storage = STORAGE.get(z.dtype)
        if storage is None:
            raise UnsupportedModelError(f"{node.op_type} node '{node.name}': quantized type "
                                        f"{z.dtype} is not supported")
        s = scale.array.astype(np.float32)
        if attrs.get("block_size", 0):
            raise UnsupportedModelError(f"{node.op_type} node '{node.name}': blocked quantization "
                                        "is not supported")
        if s.ndim == 0 or s.size == 1:
            return QParams(s.reshape(()), z.reshape(()), None, storage)
        return QParams(s, z, attrs.get("axis", 1) % rank, storage)

    @staticmethod
    def broadcast_params(q: QParams, rank: int):
        """Scale and zero point shaped to broadcast over a rank-`rank` tensor."""
        shape = [1] * rank
        if q.axis is not None:
            shape[q.axis] = -1
        return q.scale.reshape(shape), q.zero_point.astype(np.int64).reshape(shape)

    def quantize_constant(self, node, inputs) -> Const:
        """QuantizeLinear of a constant, evaluated: the integers, rounded half
        to even and saturated as ONNX says."""
        attrs = _attrs(node)
        x = inputs[0].array.astype(np.float32)
        q = self.qparams(node, inputs, attrs, x.ndim, _quantized_dtype(attrs))
        scale, zero_point = self.broadcast_params(q, x.ndim)
        info = np.iinfo(q.zero_point.dtype)
        values = np.rint(x / scale).astype(np.int64) + zero_point
        return Const(np.clip(values, info.min, info.max).astype(q.zero_point.dtype))

    def dequantize_constant(self, node, inputs) -> Const:
        raw = inputs[0].array
        q = self.qparams(node, inputs, _attrs(node), raw.ndim, raw.dtype)
        scale, zero_point = self.broadcast_params(q, raw.ndim)
        x = (raw.astype(np.int64) - zero_point).astype(np.float32) * scale
        return Const(x.astype(np.float32), q)

    def weight(self, const: Const, array: np.ndarray, axis_map) -> str:
        """A weight constant (already transformed to `array`); quantized weights
        are written as quantize/dequantize of their dequantized values."""
        ssa = self.constant(array)
        if const.qparams is None:
            return ssa
        qtype = const.qparams.type_for(axis_map)
        q, d = self.fresh(), self.fresh()
        self.emit(f"{q} = qnn.quantize {ssa} : {_ttype(array.shape)} -> {_ttype(array.shape, qtype)}")
        self.emit(f"{d} = qnn.dequantize {q} : {_ttype(array.shape, qtype)} -> {_ttype(array.shape)}")
        return d

    def op_QuantizeLinear(self, node, inputs, attrs):
        x = self.act(node.input[0], node)
        q = self.qparams(node, inputs, attrs, len(x.shape), _quantized_dtype(attrs))
        axis_map = NHWC_AXIS if x.nhwc else None
        qtype = q.type_for(axis_map)
        ssa = self.fresh()
        self.emit(f"{ssa} = qnn.quantize {x.ssa} : {_ttype(x.physical)} -> "
                  f"{_ttype(x.physical, qtype)} {self.loc(node.name)}")
        return Act(ssa, x.shape, x.nhwc, qtype, q)

    def op_DequantizeLinear(self, node, inputs, attrs):
        x = self.values[node.input[0]]
        if not isinstance(x, Act) or x.qtype is None:
            raise UnsupportedModelError(f"DequantizeLinear node '{node.name}' reads a float tensor")
        # qnn.dequantize takes the parameters of the quantized type, i.e.
        # those of the QuantizeLinear: they must be the same.
        q = self.qparams(node, inputs, attrs, len(x.shape), x.qparams.zero_point.dtype)
        if (q.axis, q.storage) != (x.qparams.axis, x.qparams.storage) or not (
                np.array_equal(q.scale, x.qparams.scale) and np.array_equal(q.zero_point, x.qparams.zero_point)):
            raise UnsupportedModelError(f"DequantizeLinear node '{node.name}': its scale and zero point "
                                        f"differ from those that quantized '{node.input[0]}'")
        ssa = self.fresh()
        self.emit(f"{ssa} = qnn.dequantize {x.ssa} : {_ttype(x.physical, x.qtype)} -> "
                  f"{_ttype(x.physical)} {self.loc(node.name)}")
        return Act(ssa, x.shape, x.nhwc)

    # --- contractions -----------------------------------------------------
    def op_Conv(self, node, inputs, attrs):
        x = self.to_nhwc(self.act(node.input[0], node), node.name)
        w = inputs[1]
        if not isinstance(w, Const):
            raise UnsupportedModelError(f"Conv node '{node.name}': weights must be constant")
        if w.array.ndim != 4:
            raise UnsupportedModelError(f"Conv node '{node.name}': only 2-D convolutions are supported")
        n, c, h, wd = x.shape
        f, cg, kh, kw = w.array.shape
        group = attrs.get("group", 1)
        strides = attrs.get("strides", [1, 1])
        dilations = attrs.get("dilations", [1, 1])
        pads = self.pads(node, attrs, (h, wd), (kh, kw), strides, dilations)
        depthwise = group == c and cg == 1 and group > 1
        if group != 1 and not depthwise:
            raise UnsupportedModelError(f"Conv node '{node.name}': groups={group} (only 1 and "
                                        "depthwise are supported)")
        if depthwise and f != c:
            raise UnsupportedModelError(f"Conv node '{node.name}': depthwise with a channel "
                                        "multiplier is not supported")
        xp = self.pad(x, pads, 0.0, node.name)
        ph, pw = xp.physical[1], xp.physical[2]
        oh = (ph - dilations[0] * (kh - 1) - 1) // strides[0] + 1
        ow = (pw - dilations[1] * (kw - 1) - 1) // strides[1] + 1
        out_phys = (n, oh, ow, f)
        init = self.init(out_phys)
        conv_attrs = (f"{{dilations = dense<[{dilations[0]}, {dilations[1]}]> : tensor<2xi64>, "
                      f"strides = dense<[{strides[0]}, {strides[1]}]> : tensor<2xi64>}}")
        if depthwise:
            array = w.array.reshape(f, kh, kw).transpose(1, 2, 0)
            wssa = self.weight(w, np.ascontiguousarray(array), {0: 2})
            op = "linalg.depthwise_conv_2d_nhwc_hwc"
        else:
            array = w.array.transpose(2, 3, 1, 0)
            wssa = self.weight(w, np.ascontiguousarray(array), {0: 3, 1: 2, 2: 0, 3: 1})
            op = "linalg.conv_2d_nhwc_hwcf"
        ssa = self.fresh()
        self.emit(f"{ssa} = {op} {conv_attrs} ins({xp.ssa}, {wssa} : {_ttype(xp.physical)}, "
                  f"{_ttype(array.shape)}) outs({init} : {_ttype(out_phys)}) -> {_ttype(out_phys)} "
                  f"{self.loc(node.name)}")
        result = Act(ssa, (n, f, oh, ow), True)
        bias = None
        if len(node.input) > 2 and node.input[2]:
            result = self.bias(result, inputs[2], node)
            bias = inputs[2].array.reshape(-1).astype(np.float32)
        self.contractions[node.name] = {
            "kind": "depthwise" if depthwise else "nhwc", "input": self.ssa_locs.get(xp.ssa, xp.ssa),
            "weight": np.ascontiguousarray(array, dtype=np.float32), "bias": bias,
            "strides": list(strides), "dilations": list(dilations)}
        return result

    def bias(self, y: Act, b, node) -> Act:
        if not isinstance(b, Const):
            raise UnsupportedModelError(f"{node.op_type} node '{node.name}': bias must be constant")
        bssa = self.constant(b.array.reshape(-1))
        rank = len(y.physical)
        ssa = self.generic([(y.ssa, y.physical, list(range(rank))),
                            (bssa, (b.array.size,), [rank - 1])], y.physical,
                           lambda a: ([f"%s = arith.addf {a[0]}, {a[1]} : f32"], "%s"), node.name)
        return Act(ssa, y.shape, y.nhwc)

    def pads(self, node, attrs, spatial, kernel, strides, dilations):
        auto_pad = attrs.get("auto_pad", b"NOTSET")
        auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
        if auto_pad in ("NOTSET", ""):
            pads = attrs.get("pads", [0, 0, 0, 0])
            return (pads[0], pads[1], pads[2], pads[3])
        if auto_pad == "VALID":
            return (0, 0, 0, 0)
        begin, end = [], []
        for size, k, s, d in zip(spatial, kernel, strides, dilations):
            out = -(-size // s)
            total = max(0, (out - 1) * s + (k - 1) * d + 1 - size)
            small, large = total // 2, total - total // 2
            begin.append(small if auto_pad == "SAME_UPPER" else large)
            end.append(large if auto_pad == "SAME_UPPER" else small)
        return (begin[0], begin[1], end[0], end[1])

    def pad(self, x: Act, pads, value: float, name: str) -> Act:
        top, left, bottom, right = pads
        if not any(pads):
            return x
        n, h, w, c = x.physical
        shape = (n, h + top + bottom, w + left + right, c)
        ssa = self.fresh()
        self.emit(f"{ssa} = tensor.pad {x.ssa} low[0, {top}, {left}, 0] high[0, {bottom}, {right}, 0] {{\n"
                  f"  ^bb0(%i: index, %j: index, %k: index, %l: index):\n"
                  f"    %p = arith.constant {_float(value)} : f32\n"
                  f"    tensor.yield %p : f32\n"
                  f"  }} : {_ttype(x.physical)} to {_ttype(shape)} {self.loc(name + '.pad')}")
        return Act(ssa, (n, c, shape[1], shape[2]), True)

    def matmul2d(self, a: Act, bssa: str, k: int, n: int, name: str) -> Act:
        m = a.shape[0]
        init = self.init((m, n))
        ssa = self.fresh()
        self.emit(f"{ssa} = linalg.matmul ins({a.ssa}, {bssa} : {_ttype(a.shape)}, {_ttype((k, n))}) "
                  f"outs({init} : {_ttype((m, n))}) -> {_ttype((m, n))} {self.loc(name)}")
        return Act(ssa, (m, n))

    def op_Gemm(self, node, inputs, attrs):
        a = self.to_plain(self.act(node.input[0], node), node.name)
        if attrs.get("transA", 0):
            a = Act(self.transpose(a.ssa, a.shape, (1, 0), node.name + ".transpose"), a.shape[::-1])
        b = inputs[1]
        alpha, beta = attrs.get("alpha", 1.0), attrs.get("beta", 1.0)
        if not isinstance(b, Const):
            raise UnsupportedModelError(f"Gemm node '{node.name}': B must be constant")
        array = b.array.T if attrs.get("transB", 0) else b.array
        if alpha != 1.0:
            if b.qparams is not None:
                raise UnsupportedModelError(f"Gemm node '{node.name}': alpha with quantized B")
            array = array * np.float32(alpha)
        k, n = array.shape
        axis_map = {0: 1, 1: 0} if attrs.get("transB", 0) else None
        bssa = self.weight(b, np.ascontiguousarray(array, dtype=np.float32), axis_map)
        input_loc = self.ssa_locs.get(a.ssa, a.ssa)
        y = self.matmul2d(a, bssa, k, n, node.name)
        bias = None
        if len(node.input) > 2 and node.input[2]:
            c = inputs[2]
            if not isinstance(c, Const):
                raise UnsupportedModelError(f"Gemm node '{node.name}': C must be constant")
            carr = c.array * np.float32(beta)
            if carr.ndim < 2 or carr.shape[0] == 1:  # a row: a bias
                bias = np.broadcast_to(carr.reshape(-1), (n,)).astype(np.float32)
                y = self.bias(y, Const(bias), node)
            else:
                y = self.elementwise(node, "addf", [y, Const(carr)])
                return y  # not a fused layer
        self.contractions[node.name] = {
            "kind": "matmul", "input": input_loc, "weight": np.ascontiguousarray(array, dtype=np.float32),
            "bias": bias, "strides": [1, 1], "dilations": [1, 1]}
        return y

    def op_MatMul(self, node, inputs, attrs):
        a_in, b_in = inputs
        if isinstance(b_in, Const) and b_in.array.ndim == 2 and not isinstance(a_in, Const):
            a = self.to_plain(self.act(node.input[0], node), node.name)
            k, n = b_in.array.shape
            bssa = self.weight(b_in, np.ascontiguousarray(b_in.array, dtype=np.float32), None)
            lead = a.shape[:-1]
            flat = a
            if len(a.shape) != 2:
                flat = self.reshape(a, (int(np.prod(lead)), k), node.name + ".flatten")
            y = self.matmul2d(flat, bssa, k, n, node.name)
            add, bias = self.matmul_biases.get(node.output[0], (None, None))
            if add is not None and bias.array.ndim > len(a.shape):
                add = None  # the Add broadcasts the result to a higher rank
            self.contractions[node.name] = {
                "kind": "matmul", "input": self.ssa_locs.get(flat.ssa, flat.ssa),
                "weight": np.ascontiguousarray(b_in.array, dtype=np.float32),
                "bias": bias.array.reshape(-1).astype(np.float32) if add is not None else None,
                "strides": [1, 1], "dilations": [1, 1]}
            if add is not None:
                y = self.bias(y, Const(bias.array.reshape(-1).astype(np.float32)), add)
                self.done.add(id(add))
            if len(a.shape) != 2:
                y = self.reshape(y, lead + (n,), (add.name if add else node.name) + ".reshape")
            if add is not None:
                self.values[add.output[0]] = y
            return y
        # Two activations: a batched matmul over the leading dims.
        a = self.to_plain(self.act(node.input[0], node), node.name)
        b = self.to_plain(self.act(node.input[1], node), node.name)
        if len(a.shape) < 2 or len(b.shape) < 2:
            raise UnsupportedModelError(f"MatMul node '{node.name}': 1-D operands are not supported")
        lead = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        a = self.broadcast(a, tuple(lead) + a.shape[-2:], node.name + ".broadcast_a")
        b = self.broadcast(b, tuple(lead) + b.shape[-2:], node.name + ".broadcast_b")
        batch = int(np.prod(lead)) if lead else 1
        m, k = a.shape[-2:]
        n = b.shape[-1]
        a3 = self.reshape(a, (batch, m, k), node.name + ".a")
        b3 = self.reshape(b, (batch, k, n), node.name + ".b")
        init = self.init((batch, m, n))
        ssa = self.fresh()
        self.emit(f"{ssa} = linalg.batch_matmul ins({a3.ssa}, {b3.ssa} : {_ttype(a3.shape)}, "
                  f"{_ttype(b3.shape)}) outs({init} : {_ttype((batch, m, n))}) -> "
                  f"{_ttype((batch, m, n))} {self.loc(node.name)}")
        y = Act(ssa, (batch, m, n))
        return self.reshape(y, tuple(lead) + (m, n), node.name + ".reshape")

    # --- elementwise ------------------------------------------------------
    def broadcast(self, a: Act, shape, name) -> Act:
        if tuple(a.shape) == tuple(shape):
            return a
        rank = len(shape)
        off = rank - len(a.shape)
        dims = [("0" if a.shape[i] == 1 and shape[i + off] != 1 else i + off) for i in range(len(a.shape))]
        ssa = self.generic([(a.ssa, a.shape, dims)], shape, lambda args: ([], args[0]), name)
        return Act(ssa, tuple(shape))

    def elementwise(self, node, op, operands) -> Act:
        """An elementwise op of activations and constants with ONNX
        broadcasting; `op` is an arith op name or a function of the block
        arguments returning (lines, result)."""
        acts = [v for v in operands if isinstance(v, Act)]
        shapes = [v.shape if isinstance(v, Act) else v.array.shape for v in operands]
        out = tuple(np.broadcast_shapes(*shapes))
        nhwc = len(out) == 4 and any(a.nhwc for a in acts)
        phys = (out[0], out[2], out[3], out[1]) if nhwc else out
        rank = len(out)
        named = {"addf": "linalg.add", "subf": "linalg.sub", "mulf": "linalg.mul", "divf": "linalg.div"}
        if (len(operands) == 2 and len(acts) == 2 and op in named and shapes[0] == shapes[1]
                and acts[0].nhwc == acts[1].nhwc):
            init = self.init(acts[0].physical, None)
            ssa = self.fresh()
            t = _ttype(acts[0].physical)
            if op == "addf":
                self.adds[node.name] = {"inputs": [self.ssa_locs.get(a.ssa, a.ssa) for a in acts]}
            self.emit(f"{ssa} = {named[op]} ins({acts[0].ssa}, {acts[1].ssa} : {t}, {t}) outs({init} : {t}) "
                      f"-> {t} {self.loc(node.name)}")
            return Act(ssa, out, acts[0].nhwc)
        ins, scalars = [], []
        for v in operands:
            if isinstance(v, Act):
                if nhwc and len(v.shape) == 4:
                    v = self.to_nhwc(v, node.name)
                elif len(v.shape) == 4 and v.nhwc:
                    v = self.to_plain(v, node.name)
                off = rank - len(v.shape)
                dims = []
                for i, d in enumerate(v.shape):
                    logical = i + off
                    dims.append("0" if d == 1 and out[logical] != 1 else
                                (NHWC_AXIS[logical] if nhwc else logical))
                if nhwc and len(v.shape) == 4:
                    dims = [dims[j] for j in NCHW_TO_NHWC]
                ins.append((v.ssa, v.physical, dims))
                scalars.append(None)
                continue
            array = v.array.astype(np.float32)
            if array.size == 1:
                ins.append(None)
                scalars.append(float(array.reshape(-1)[0]))
                continue
            full = array.reshape((1,) * (rank - array.ndim) + array.shape)
            keep = [i for i in range(rank) if full.shape[i] != 1]
            squeezed = full.reshape([full.shape[i] for i in keep])
            dims = [NHWC_AXIS[i] if nhwc else i for i in keep]
            order = sorted(range(len(keep)), key=lambda j: dims[j])
            squeezed = np.ascontiguousarray(squeezed.transpose(order)) if squeezed.ndim else squeezed
            dims = [dims[j] for j in order]
            ins.append((self.constant(squeezed), squeezed.shape, dims))
            scalars.append(None)
        operands_in = [i for i in ins if i is not None]

        def body(args):
            lines, names, k = [], [], 0
            for i, s in enumerate(scalars):
                if s is None:
                    names.append(args[k])
                    k += 1
                else:
                    lines.append(f"%c{i} = arith.constant {_float(s)} : f32")
                    names.append(f"%c{i}")
            if callable(op):
                more, result = op(names)
                return lines + more, result
            return lines + [f"%r = arith.{op} {names[0]}, {names[1]} : f32"], "%r"

        ssa = self.generic(operands_in, phys, body, node.name, rank=rank)
        return Act(ssa, out, nhwc)

    def op_Add(self, node, inputs, attrs):
        return self.elementwise(node, "addf", inputs)

    def op_Sub(self, node, inputs, attrs):
        return self.elementwise(node, "subf", inputs)

    def op_Mul(self, node, inputs, attrs):
        return self.elementwise(node, "mulf", inputs)

    def op_Div(self, node, inputs, attrs):
        return self.elementwise(node, "divf", inputs)

    def unary(self, node, body):
        x = self.act(node.input[0], node)
        return self.elementwise(node, lambda a: body(a[0]), [x])

    def op_Relu(self, node, inputs, attrs):
        self.clamps[node.name] = (0.0, math.inf)
        return self.unary(node, lambda x: (["%zero = arith.constant 0.0 : f32",
                                            f"%r = arith.maximumf {x}, %zero : f32"], "%r"))

    def op_Clip(self, node, inputs, attrs):
        lo = attrs.get("min", -math.inf)
        hi = attrs.get("max", math.inf)
        for index, which in ((1, "min"), (2, "max")):
            if len(node.input) > index and node.input[index]:
                bound = inputs[index]
                if not isinstance(bound, Const):
                    raise UnsupportedModelError(f"Clip node '{node.name}': {which} must be constant")
                if index == 1:
                    lo = float(bound.array)
                else:
                    hi = float(bound.array)

        self.clamps[node.name] = (lo, hi)

        def body(x):
            lines, r = [], x
            if lo != -math.inf:
                lines += [f"%lo = arith.constant {_float(lo)} : f32", f"%m = arith.maximumf {r}, %lo : f32"]
                r = "%m"
            if hi != math.inf:
                lines += [f"%hi = arith.constant {_float(hi)} : f32", f"%n = arith.minimumf {r}, %hi : f32"]
                r = "%n"
            return lines, r
        return self.unary(node, body)

    def op_Sigmoid(self, node, inputs, attrs):
        return self.unary(node, lambda x: (["%one = arith.constant 1.0 : f32", f"%n = arith.negf {x} : f32",
                                            "%e = math.exp %n : f32", "%d = arith.addf %one, %e : f32",
                                            "%r = arith.divf %one, %d : f32"], "%r"))

    def op_Tanh(self, node, inputs, attrs):
        return self.unary(node, lambda x: ([f"%r = math.tanh {x} : f32"], "%r"))

    def op_Erf(self, node, inputs, attrs):
        return self.unary(node, lambda x: ([f"%r = math.erf {x} : f32"], "%r"))

    def op_Gelu(self, node, inputs, attrs):
        approximate = attrs.get("approximate", b"none")
        approximate = approximate.decode() if isinstance(approximate, bytes) else approximate
        if approximate == "tanh":
            return self.unary(node, lambda x: ([
                "%half = arith.constant 0.5 : f32", "%one = arith.constant 1.0 : f32",
                f"%k = arith.constant {_float(math.sqrt(2 / math.pi))} : f32",
                "%c = arith.constant 0.044715 : f32",
                f"%x2 = arith.mulf {x}, {x} : f32", f"%x3 = arith.mulf %x2, {x} : f32",
                "%cx3 = arith.mulf %c, %x3 : f32", f"%in = arith.addf {x}, %cx3 : f32",
                "%kin = arith.mulf %k, %in : f32", "%t = math.tanh %kin : f32",
                "%t1 = arith.addf %one, %t : f32", f"%hx = arith.mulf %half, {x} : f32",
                "%r = arith.mulf %hx, %t1 : f32"], "%r"))
        return self.unary(node, _gelu_erf)

    # --- pooling and shapes -----------------------------------------------
    def pool(self, node, x: Act, kernel, strides, pads, kind) -> Act:
        n, c, h, w = x.shape
        xp = self.pad(x, pads, -3.4028234663852886e38 if kind == "max" else 0.0, node.name)
        ph, pw = xp.physical[1], xp.physical[2]
        oh = (ph - kernel[0]) // strides[0] + 1
        ow = (pw - kernel[1]) // strides[1] + 1
        out = (n, oh, ow, c)
        init = self.init(out, -3.4028234663852886e38 if kind == "max" else 0.0)
        window = self.init(tuple(kernel), None)
        ssa = self.fresh()
        op = "linalg.pooling_nhwc_max" if kind == "max" else "linalg.pooling_nhwc_sum"
        loc = node.name if kind == "max" else node.name + ".sum"
        self.emit(f"{ssa} = {op} {{dilations = dense<1> : tensor<2xi64>, strides = dense<[{strides[0]}, "
                  f"{strides[1]}]> : tensor<2xi64>}} ins({xp.ssa}, {window} : {_ttype(xp.physical)}, "
                  f"{_ttype(kernel)}) outs({init} : {_ttype(out)}) -> {_ttype(out)} {self.loc(loc)}")
        result = Act(ssa, (n, c, oh, ow), True)
        if kind == "max":
            return result
        factor = 1.0 / (kernel[0] * kernel[1])
        self.average_pools[node.name] = {"input": self.ssa_locs.get(xp.ssa, xp.ssa),
                                         "kernel": list(kernel), "strides": list(strides),
                                         "factor": float(np.float32(factor))}
        ssa = self.generic([(result.ssa, out, [0, 1, 2, 3])], out,
                           lambda a: ([f"%f = arith.constant {_float(factor)} : f32",
                                       f"%r = arith.mulf {a[0]}, %f : f32"], "%r"), node.name)
        return Act(ssa, result.shape, True)

    def pool_attrs(self, node, x, attrs):
        kernel = attrs["kernel_shape"]
        if len(kernel) != 2:
            raise UnsupportedModelError(f"{node.op_type} node '{node.name}': only 2-D pooling")
        strides = attrs.get("strides", [1, 1])
        if any(d != 1 for d in attrs.get("dilations", [1, 1])):
            raise UnsupportedModelError(f"{node.op_type} node '{node.name}': dilated pooling")
        pads = self.pads(node, attrs, x.shape[2:], kernel, strides, [1, 1])
        if attrs.get("ceil_mode", 0):
            for size, k, s, lo, hi in zip(x.shape[2:], kernel, strides, pads[:2], pads[2:]):
                if (size + lo + hi - k) % s:
                    raise UnsupportedModelError(f"{node.op_type} node '{node.name}': ceil_mode=1 "
                                                "changes the output size")
        return kernel, strides, pads

    def op_MaxPool(self, node, inputs, attrs):
        if len(node.output) > 1 and node.output[1]:
            raise UnsupportedModelError(f"MaxPool node '{node.name}': the Indices output")
        x = self.to_nhwc(self.act(node.input[0], node), node.name)
        kernel, strides, pads = self.pool_attrs(node, x, attrs)
        return self.pool(node, x, kernel, strides, pads, "max")

    def op_AveragePool(self, node, inputs, attrs):
        x = self.to_nhwc(self.act(node.input[0], node), node.name)
        kernel, strides, pads = self.pool_attrs(node, x, attrs)
        if any(pads) and not attrs.get("count_include_pad", 0):
            raise UnsupportedModelError(f"AveragePool node '{node.name}': padding with "
                                        "count_include_pad=0 is not supported")
        return self.pool(node, x, kernel, strides, pads, "avg")

    def op_GlobalAveragePool(self, node, inputs, attrs):
        x = self.to_nhwc(self.act(node.input[0], node), node.name)
        return self.pool(node, x, list(x.shape[2:]), [1, 1], (0, 0, 0, 0), "avg")

    def reshape(self, x: Act, shape, name) -> Act:
        shape = tuple(int(d) for d in shape)
        if x.shape == shape:
            return x
        src = x.shape
        if 0 in src or 0 in shape:
            raise UnsupportedModelError(f"'{name}': a reshape of a zero-size tensor ({src} to "
                                        f"{shape}) is not supported")
        if int(np.prod(src)) != int(np.prod(shape)):
            raise UnsupportedModelError(f"'{name}': cannot reshape {src} ({int(np.prod(src))} "
                                        f"elements) to {shape}")
        ssa = self.fresh()
        if not src or not shape:
            # A scalar and a shape of ones (a reduction over all axes with
            # keepdims): no dimension to group.
            if not src:
                self.emit(f"{ssa} = tensor.expand_shape {x.ssa} [] output_shape "
                          f"[{', '.join(map(str, shape))}] : {_ttype(src)} into {_ttype(shape)} "
                          f"{self.loc(name)}")
            else:
                self.emit(f"{ssa} = tensor.collapse_shape {x.ssa} [] : {_ttype(src)} into "
                          f"{_ttype(shape)} {self.loc(name)}")
            return Act(ssa, shape)
        groups = _reassociation(src, shape)
        if groups is not None and len(shape) < len(src):
            self.emit(f"{ssa} = tensor.collapse_shape {x.ssa} {_groups(groups)} : {_ttype(src)} into "
                      f"{_ttype(shape)} {self.loc(name)}")
            return Act(ssa, shape)
        groups = _reassociation(shape, src)
        if groups is not None and len(shape) > len(src):
            self.emit(f"{ssa} = tensor.expand_shape {x.ssa} {_groups(groups)} output_shape "
                      f"[{', '.join(map(str, shape))}] : {_ttype(src)} into {_ttype(shape)} {self.loc(name)}")
            return Act(ssa, shape)
        flat = self.reshape(x, (int(np.prod(src)),), name + ".flat")
        return self.reshape(flat, shape, name)

    def op_Flatten(self, node, inputs, attrs):
        x = self.to_plain(self.act(node.input[0], node), node.name)
        axis = attrs.get("axis", 1)  # in [-rank, rank]: rank flattens to (size, 1)
        axis = axis + len(x.shape) if axis < 0 else axis
        shape = (int(np.prod(x.shape[:axis])), int(np.prod(x.shape[axis:])))
        return self.reshape(x, shape, node.name)

    def op_Reshape(self, node, inputs, attrs):
        x = self.to_plain(self.act(node.input[0], node), node.name)
        target = inputs[1]
        if not isinstance(target, Const):
            raise UnsupportedModelError(f"Reshape node '{node.name}': the shape must be constant")
        shape = [int(d) for d in target.array]
        if not attrs.get("allowzero", 0):
            shape = [x.shape[i] if d == 0 else d for i, d in enumerate(shape)]
        if -1 in shape:
            known = int(np.prod([d for d in shape if d != -1]))
            shape[shape.index(-1)] = int(np.prod(x.shape)) // known
        if int(np.prod(shape)) != int(np.prod(x.shape)):
            raise UnsupportedModelError(f"Reshape node '{node.name}': cannot reshape {x.shape} to {shape}")
        return self.reshape(x, tuple(shape), node.name)

    def axes_of(self, node, inputs, attrs, rank, index=1, added=False):
        """The `axes` of a node (an input from opset 13 or 18, else an
        attribute), sorted and made non-negative for `rank` (plus their count
        if `added`: Unsqueeze's axes index its output); None if absent."""
        if len(node.input) > index and node.input[index]:
            axes = inputs[index]
            if not isinstance(axes, Const):
                raise UnsupportedModelError(f"{node.op_type} node '{node.name}': axes must be constant")
            axes = [int(a) for a in np.atleast_1d(axes.array)]
        elif "axes" in attrs:
            axes = list(attrs["axes"])
        else:
            return None
        rank += len(axes) if added else 0
        return sorted(a % rank for a in axes)

    def op_Unsqueeze(self, node, inputs, attrs):
        x = self.to_plain(self.act(node.input[0], node), node.name)
        axes = self.axes_of(node, inputs, attrs, len(x.shape), added=True)
        if axes is None:
            raise UnsupportedModelError(f"Unsqueeze node '{node.name}': no axes")
        shape = list(x.shape)
        for axis in axes:
            shape.insert(axis, 1)
        return self.reshape(x, tuple(shape), node.name)

    def op_Squeeze(self, node, inputs, attrs):
        x = self.to_plain(self.act(node.input[0], node), node.name)
        axes = self.axes_of(node, inputs, attrs, len(x.shape))
        if axes is None:
            axes = [i for i, d in enumerate(x.shape) if d == 1]
        if any(x.shape[a] != 1 for a in axes):
            raise UnsupportedModelError(f"Squeeze node '{node.name}': an axis of {x.shape} is not 1")
        return self.reshape(x, tuple(d for i, d in enumerate(x.shape) if i not in axes), node.name)

    def op_Slice(self, node, inputs, attrs):
        x = self.to_plain(self.act(node.input[0], node), node.name)
        rank = len(x.shape)
        if self.opset < 10:
            starts, ends = attrs["starts"], attrs["ends"]
            axes, steps = attrs.get("axes", list(range(len(starts)))), [1] * len(starts)
        else:
            def const(index, default):
                if len(node.input) <= index or not node.input[index]:
                    return default
                if not isinstance(inputs[index], Const):
                    raise UnsupportedModelError(f"Slice node '{node.name}': starts, ends, axes and "
                                                "steps must be constant")
                return [int(v) for v in inputs[index].array.reshape(-1)]
            starts, ends = const(1, None), const(2, None)
            axes = const(3, list(range(len(starts))))
            steps = const(4, [1] * len(starts))
        offsets, sizes, strides = [0] * rank, list(x.shape), [1] * rank
        for start, end, axis, step in zip(starts, ends, axes, steps):
            axis %= rank
            if step < 1:
                raise UnsupportedModelError(f"Slice node '{node.name}': only positive steps")
            begin, stop, _ = slice(start, end, step).indices(x.shape[axis])
            offsets[axis], strides[axis] = begin, step
            sizes[axis] = max(0, -(-(stop - begin) // step))
        ssa = self.fresh()
        self.emit(f"{ssa} = tensor.extract_slice {x.ssa}[{', '.join(map(str, offsets))}] "
                  f"[{', '.join(map(str, sizes))}] [{', '.join(map(str, strides))}] : "
                  f"{_ttype(x.shape)} to {_ttype(sizes)} {self.loc(node.name)}")
        return Act(ssa, tuple(sizes))

    def op_Dropout(self, node, inputs, attrs):
        if len(node.output) > 1 and node.output[1]:
            raise UnsupportedModelError(f"Dropout node '{node.name}': the mask output")
        # training_mode (opset 12+): true drops values at random, which an
        # inference compiler does not do; only a constant false is the
        # identity.
        training = inputs[2] if len(inputs) > 2 else None
        if training is not None:
            if not isinstance(training, Const):
                raise UnsupportedModelError(f"Dropout node '{node.name}': training_mode must be a "
                                            "constant (false) for inference")
            if bool(np.asarray(training.array).reshape(-1)[0]):
                raise UnsupportedModelError(f"Dropout node '{node.name}': training_mode=true (random "
                                            "dropping) is not inference")
        return self.act(node.input[0], node)  # inference: the identity

    def op_Cast(self, node, inputs, attrs):
        if attrs.get("to") != onnx.TensorProto.FLOAT:
            raise UnsupportedModelError(f"Cast node '{node.name}': only to FLOAT on activations")
        return self.act(node.input[0], node)

    def op_ReduceMean(self, node, inputs, attrs):
        x = self.act(node.input[0], node)
        rank = len(x.shape)
        axes = self.axes_of(node, inputs, attrs, rank) or list(range(rank))
        keep = attrs.get("keepdims", 1)
        if rank == 4 and axes == [2, 3]:
            # A global average pooling, which quant-opt fuses into integers.
            x = self.to_nhwc(x, node.name)
            pooled = self.pool(node, x, list(x.shape[2:]), [1, 1], (0, 0, 0, 0), "avg")
            return pooled if keep else self.reshape(self.to_plain(pooled, node.name + ".keepdims"),
                                                    x.shape[:2], node.name + ".squeeze")
        x = self.to_plain(x, node.name)
        total = self.reduce_last(node, x, axes, lambda a: ([], a[0]), 0.0, "addf", ".sum")
        factor = 1.0 / float(np.prod([x.shape[a] for a in axes]))
        mean = self.elementwise(node, "mulf", [total, Const(np.array(factor, np.float32))])
        if keep:
            mean = self.reshape(mean, tuple(1 if i in axes else d for i, d in enumerate(x.shape)),
                                node.name + ".keepdims")
        return mean

    def op_LeakyRelu(self, node, inputs, attrs):
        alpha = attrs.get("alpha", 0.01)
        return self.unary(node, lambda x: ([
            "%zero = arith.constant 0.0 : f32", f"%alpha = arith.constant {_float(alpha)} : f32",
            f"%p = arith.maximumf {x}, %zero : f32", f"%n = arith.minimumf {x}, %zero : f32",
            "%an = arith.mulf %n, %alpha : f32", "%r = arith.addf %p, %an : f32"], "%r"))

    def hard_sigmoid(self, x, alpha, beta):
        return [f"%alpha = arith.constant {_float(alpha)} : f32", f"%beta = arith.constant {_float(beta)} : f32",
                "%zero = arith.constant 0.0 : f32", "%one = arith.constant 1.0 : f32",
                f"%ax = arith.mulf {x}, %alpha : f32", "%axb = arith.addf %ax, %beta : f32",
                "%lo = arith.maximumf %axb, %zero : f32", "%h = arith.minimumf %lo, %one : f32"]

    def op_HardSigmoid(self, node, inputs, attrs):
        return self.unary(node, lambda x: (self.hard_sigmoid(x, attrs.get("alpha", 0.2), attrs.get("beta", 0.5)),
                                           "%h"))

    def op_HardSwish(self, node, inputs, attrs):
        return self.unary(node, lambda x: (self.hard_sigmoid(x, 1.0 / 6.0, 0.5) + [f"%r = arith.mulf {x}, %h : f32"],
                                           "%r"))

    def op_Transpose(self, node, inputs, attrs):
        x = self.act(node.input[0], node)
        perm = attrs.get("perm", list(range(len(x.shape)))[::-1])
        if x.nhwc:
            # Compose with the stored layout instead of transposing twice.
            phys_perm = [NHWC_AXIS[p] for p in perm]
            shape = tuple(x.shape[p] for p in perm)
            return Act(self.transpose(x.ssa, x.physical, phys_perm, node.name), shape)
        return Act(self.transpose(x.ssa, x.shape, perm, node.name), tuple(x.shape[p] for p in perm))

    def op_Concat(self, node, inputs, attrs):
        values = [v if isinstance(v, Act) else Act(self.constant(v.array), tuple(v.array.shape))
                  for v in inputs]
        rank = len(values[0].shape)
        axis = attrs["axis"] % rank
        nhwc = rank == 4 and any(v.nhwc for v in values)
        values = [self.to_nhwc(v, node.name) if nhwc else self.to_plain(v, node.name) for v in values]
        shape = list(values[0].shape)
        shape[axis] = sum(v.shape[axis] for v in values)
        result = Act("", tuple(shape), nhwc)
        dim = NHWC_AXIS[axis] if nhwc else axis
        ssa = self.fresh()
        self.emit(f"{ssa} = tensor.concat dim({dim}) {', '.join(v.ssa for v in values)} : "
                  f"({', '.join(_ttype(v.physical) for v in values)}) -> {_ttype(result.physical)} "
                  f"{self.loc(node.name)}")
        result.ssa = ssa
        return result

    def op_Pad(self, node, inputs, attrs):
        mode = attrs.get("mode", b"constant")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        x = self.act(node.input[0], node)
        rank = len(x.shape)
        if mode != "constant" or not isinstance(inputs[1], Const) or (
                len(inputs) > 2 and inputs[2] is not None and not isinstance(inputs[2], Const)) or (
                len(inputs) > 3 and inputs[3] is not None):
            raise UnsupportedModelError(f"Pad node '{node.name}': only constant mode with constant "
                                        "pads and value over all axes is supported")
        pads = [int(p) for p in inputs[1].array]
        value = float(inputs[2].array) if len(inputs) > 2 and inputs[2] is not None else 0.0
        if not any(pads):
            return x
        if min(pads) < 0:
            raise UnsupportedModelError(f"Pad node '{node.name}': negative pads")
        low, high = pads[:rank], pads[rank:]
        if x.nhwc and low[0] == low[1] == high[0] == high[1] == 0:
            return self.pad(x, (low[2], low[3], high[2], high[3]), value, node.name)
        x = self.to_plain(x, node.name)
        shape = tuple(d + lo + hi for d, lo, hi in zip(x.shape, low, high))
        ssa = self.fresh()
        indices = ", ".join(f"%i{k}: index" for k in range(rank))
        self.emit(f"{ssa} = tensor.pad {x.ssa} low[{', '.join(map(str, low))}] high[{', '.join(map(str, high))}] {{\n"
                  f"  ^bb0({indices}):\n"
                  f"    %p = arith.constant {_float(value)} : f32\n"
                  f"    tensor.yield %p : f32\n"
                  f"  }} : {_ttype(x.shape)} to {_ttype(shape)} {self.loc(node.name)}")
        return Act(ssa, shape)

    def op_BatchNormalization(self, node, inputs, attrs):
        if attrs.get("training_mode", 0):
            raise UnsupportedModelError(f"BatchNormalization node '{node.name}': training_mode=1 "
                                        "(normalizes with the batch's own statistics) is not "
                                        "inference")
        x = self.act(node.input[0], node)
        if not all(isinstance(v, Const) for v in inputs[1:5]):
            raise UnsupportedModelError(f"BatchNormalization node '{node.name}': parameters must be "
                                        "constant")
        gamma, beta, mean, var = (v.array.astype(np.float64) for v in inputs[1:5])
        a = gamma / np.sqrt(var + attrs.get("epsilon", 1e-5))
        b = beta - mean * a
        shape = (1, -1) + (1,) * (len(x.shape) - 2)
        return self.elementwise(node, lambda v: ([f"%m = arith.mulf {v[0]}, {v[1]} : f32",
                                                 f"%r = arith.addf %m, {v[2]} : f32"], "%r"),
                                [x, Const(a.astype(np.float32).reshape(shape)),
                                 Const(b.astype(np.float32).reshape(shape))])

    def reduce_last(self, node, x: Act, axes, body, init, combine, suffix, extra=()):
        """A reduction of `x` (plain) over `axes` (trailing), keeping them as
        size 1 dims removed: the result has x's shape without those axes."""
        rank = len(x.shape)
        out = tuple(d for i, d in enumerate(x.shape) if i not in axes)
        keep = [i for i in range(rank) if i not in axes]
        ins = [(x.ssa, x.shape, list(range(rank)))] + [(e.ssa, e.shape, keep) for e in extra]

        def gbody(args):
            lines, value = body(args[:-1])
            return lines + [f"%acc2 = arith.{combine} {value}, {args[-1]} : f32"], "%acc2"
        ssa = self.generic(ins, out, gbody, node.name + suffix, reduce_dims=tuple(axes), init_value=init,
                           internal=True)
        return Act(ssa, out)

    def op_Softmax(self, node, inputs, attrs):
        x = self.to_plain(self.act(node.input[0], node), node.name)
        rank = len(x.shape)
        if self.opset < 13:
            # Softmax-1 and -11 normalize over all the dims from `axis` on.
            axis = attrs.get("axis", 1) % rank
        else:
            axis = attrs.get("axis", -1) % rank
            if axis != rank - 1:
                raise UnsupportedModelError(f"Softmax node '{node.name}': only the last axis")
        axes = tuple(range(axis, rank))
        keep = list(range(axis))
        mx = self.reduce_last(node, x, axes, lambda a: ([], a[0]), -3.4028234663852886e38,
                              "maximumf", ".max")
        sm = self.reduce_last(node, x, axes, lambda a: ([f"%d = arith.subf {a[0]}, {a[1]} : f32",
                                                         "%e = math.exp %d : f32"], "%e"),
                              0.0, "addf", ".sum", extra=(mx,))
        ssa = self.generic([(x.ssa, x.shape, list(range(rank))), (mx.ssa, mx.shape, keep),
                            (sm.ssa, sm.shape, keep)], x.shape,
                           lambda a: ([f"%d = arith.subf {a[0]}, {a[1]} : f32", "%e = math.exp %d : f32",
                                       f"%r = arith.divf %e, {a[2]} : f32"], "%r"), node.name)
        return Act(ssa, x.shape)

    def op_LayerNormalization(self, node, inputs, attrs):
        x = self.to_plain(self.act(node.input[0], node), node.name)
        rank = len(x.shape)
        axis = attrs.get("axis", -1) % rank
        axes = tuple(range(axis, rank))
        count = float(np.prod(x.shape[axis:]))
        eps = attrs.get("epsilon", 1e-5)
        scale = inputs[1]
        bias = inputs[2] if len(inputs) > 2 else None
        if not isinstance(scale, Const) or (bias is not None and not isinstance(bias, Const)):
            raise UnsupportedModelError(f"LayerNormalization node '{node.name}': scale and bias "
                                        "must be constant")
        keep = list(range(axis))
        total = self.reduce_last(node, x, axes, lambda a: ([], a[0]), 0.0, "addf", ".sum")
        inv = _float(1.0 / count)
        sq = self.reduce_last(node, x, axes, lambda a: ([f"%n = arith.constant {inv} : f32",
                                                         f"%mean = arith.mulf {a[1]}, %n : f32",
                                                         f"%c = arith.subf {a[0]}, %mean : f32",
                                                         "%s = arith.mulf %c, %c : f32"], "%s"),
                              0.0, "addf", ".var", extra=(total,))
        norm_shape = x.shape[axis:]
        gamma = np.broadcast_to(scale.array.astype(np.float32), norm_shape)
        beta = np.broadcast_to(bias.array.astype(np.float32) if bias is not None else np.float32(0),
                               norm_shape)
        gssa, bssa = self.constant(np.ascontiguousarray(gamma)), self.constant(np.ascontiguousarray(beta))
        ins = [(x.ssa, x.shape, list(range(rank))), (total.ssa, total.shape, keep),
               (sq.ssa, sq.shape, keep), (gssa, norm_shape, list(axes)), (bssa, norm_shape, list(axes))]
        ssa = self.generic(ins, x.shape, lambda a: ([
            f"%n = arith.constant {inv} : f32", f"%eps = arith.constant {_float(eps)} : f32",
            f"%mean = arith.mulf {a[1]}, %n : f32", f"%var = arith.mulf {a[2]}, %n : f32",
            "%ve = arith.addf %var, %eps : f32", "%rs = math.rsqrt %ve : f32",
            f"%c = arith.subf {a[0]}, %mean : f32", "%y = arith.mulf %c, %rs : f32",
            f"%g = arith.mulf %y, {a[3]} : f32", f"%r = arith.addf %g, {a[4]} : f32"], "%r"), node.name)
        return Act(ssa, x.shape)


def _gelu_erf(x):
    return (["%half = arith.constant 0.5 : f32", "%one = arith.constant 1.0 : f32",
             f"%s = arith.constant {_float(math.sqrt(2.0))} : f32",
             f"%d = arith.divf {x}, %s : f32", "%e = math.erf %d : f32",
             "%e1 = arith.addf %e, %one : f32", f"%hx = arith.mulf {x}, %half : f32",
             "%r = arith.mulf %hx, %e1 : f32"], "%r")


def _reassociation(big, small):
    """Groups of consecutive dims of `big` whose products are `small`'s dims
    (unit dims join a neighbour), or None."""
    groups, i = [], 0
    for d in small:
        if i >= len(big):
            return None
        group, product = [i], big[i]
        i += 1
        while product < d and i < len(big):
            group.append(i)
            product *= big[i]
            i += 1
        if product != d:
            return None
        groups.append(group)
    while groups and i < len(big) and big[i] == 1:
        groups[-1].append(i)
        i += 1
    return groups if groups and i == len(big) else None


def _groups(groups) -> str:
    return "[" + ", ".join("[" + ", ".join(map(str, g)) + "]" for g in groups) + "]"


def _quantized_dtype(attrs) -> np.dtype:
    """The type QuantizeLinear quantizes to when it has no zero point."""
    if attrs.get("output_dtype"):  # opset 21
        return onnx.helper.tensor_dtype_to_np_dtype(attrs["output_dtype"])
    return np.dtype(np.uint8)


def _attrs(node) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _constant_node_value(node) -> np.ndarray:
    attrs = _attrs(node)
    if "value" in attrs:
        return numpy_helper.to_array(attrs["value"])
    for key in ("value_float", "value_int"):
        if key in attrs:
            return np.array(attrs[key])
    for key in ("value_floats", "value_ints"):
        if key in attrs:
            return np.array(attrs[key])
    raise UnsupportedModelError(f"Constant node '{node.name}': unsupported value attribute")


def _evaluate(node, inputs, model) -> list:
    """Evaluates a node of constant inputs with onnx's reference evaluator."""
    from onnx.reference import ReferenceEvaluator
    names = [f"i{k}" if n else "" for k, n in enumerate(node.input)]
    feeds = {name: v.array for name, v in zip(names, inputs) if name}
    single = onnx.helper.make_node(node.op_type, names, [f"o{k}" for k in range(len(node.output))],
                                   domain=node.domain)
    single.attribute.extend(node.attribute)
    graph = onnx.helper.make_graph(
        [single], "fold",
        [onnx.helper.make_tensor_value_info(n, onnx.helper.np_dtype_to_tensor_dtype(feeds[n].dtype), None)
         for n in names if n],
        [onnx.helper.make_tensor_value_info(f"o{k}", onnx.TensorProto.UNDEFINED, None)
         for k in range(len(node.output))])
    folded = onnx.helper.make_model(graph, opset_imports=model.opset_import)
    return ReferenceEvaluator(folded).run(None, feeds)


def _fuse_gelu(model: onnx.ModelProto) -> None:
    """Rewrites the erf form torch exports for GELU (x * 0.5 * (1 + erf(x /
    sqrt 2)), in any order of the products) into one Gelu node, so that its
    inner values are not quantized one by one."""
    graph = model.graph
    consts = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            consts[node.output[0]] = _constant_node_value(node)
    producers = {o: n for n in graph.node for o in n.output}
    readers = {}
    for n in graph.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)

    def const_value(name):
        return float(consts[name].reshape(-1)[0]) if name in consts and consts[name].size == 1 else None

    def other(node, name):
        return node.input[1] if node.input[0] == name else node.input[0]

    outputs = {o.name for o in graph.output}

    def only_reader(name, op_type):
        """The one node reading `name` if it is an `op_type` (the fused
        values must have no other use)."""
        users = readers.get(name, [])
        if name in outputs or len(users) != 1 or users[0].op_type != op_type:
            return None
        return users[0]

    removed, new_nodes = set(), {}
    for erf in graph.node:
        if erf.op_type != "Erf":
            continue
        div = producers.get(erf.input[0])
        if div is None or div.op_type != "Div" or only_reader(div.output[0], "Erf") is None \
                or not math.isclose(const_value(div.input[1]) or 0, math.sqrt(2), rel_tol=1e-6):
            continue
        x = div.input[0]
        add = only_reader(erf.output[0], "Add")
        if add is None or const_value(other(add, erf.output[0])) != 1.0:
            continue
        mul = only_reader(add.output[0], "Mul")
        if mul is None:
            continue
        if other(mul, add.output[0]) == x:  # (x * (1 + erf)) * 0.5
            last = only_reader(mul.output[0], "Mul")
            if last is None or const_value(other(last, mul.output[0])) != 0.5:
                continue
            chain = [div, erf, add, mul, last]
        else:  # (x * 0.5) * (1 + erf)
            half, last = producers.get(other(mul, add.output[0])), mul
            if half is None or half.op_type != "Mul" or x not in half.input or \
                    const_value(other(half, x)) != 0.5 or only_reader(half.output[0], "Mul") is None:
                continue
            chain = [half, div, erf, add, mul]
        removed.update(id(n) for n in chain)
        new_nodes[id(last)] = onnx.helper.make_node("Gelu", [x], [last.output[0]], name=last.name)
    if not removed:
        return
    nodes = []
    for n in graph.node:
        if id(n) in new_nodes:
            nodes.append(new_nodes[id(n)])
        elif id(n) not in removed:
            nodes.append(n)
    del graph.node[:]
    graph.node.extend(nodes)


def import_model(model: onnx.ModelProto, batch: int = 1, function: str = "main",
                 details: dict | None = None) -> str:
    """The MLIR text of `model`: one function, symbolic dims fixed to `batch`.
    If `details` is given, it receives what an independent reference needs:
    "contractions" (by node name: kind, the location name of the input,
    weight and bias as emitted, strides, dilations), "adds" (Adds of two
    activations: their inputs' location names), "average_pools" (input,
    kernel, strides, the f32 factor) and "clamps" (by Relu / Clip node name:
    the float bounds)."""
    if not model.HasField("graph"):
        raise UnsupportedModelError("no graph in the model (not an ONNX model?)")
    model = onnx.ModelProto.FromString(model.SerializeToString())
    _fuse_gelu(model)
    importer = Importer(model, batch, function)
    importer.check_supported()
    text = importer.run()
    if details is not None:
        details["contractions"] = importer.contractions
        details["clamps"] = importer.clamps
        details["adds"] = importer.adds
        details["average_pools"] = importer.average_pools
    return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m quant_opt.onnx_import", description=__doc__.split("\n")[0])
    parser.add_argument("model", help="the .onnx file")
    parser.add_argument("-o", "--output", default="-", help="the .mlir file to write (default: stdout)")
    parser.add_argument("--batch", type=int, default=1, help="the size of every symbolic dimension")
    parser.add_argument("--function", default="main", help="the name of the function")
    args = parser.parse_args(argv)
    try:
        model = onnx.load(args.model)
    except Exception as error:  # onnx raises several kinds
        print(f"error: cannot read ONNX model '{args.model}': {error}", file=sys.stderr)
        return 1
    try:
        text = import_model(model, args.batch, args.function)
    except UnsupportedModelError as error:
        print(f"error: {args.model}: {error}", file=sys.stderr)
        return 1
    if args.output == "-":
        sys.stdout.write(text)
    else:
        try:
            with open(args.output, "w") as f:
                f.write(text)
        except OSError as error:
            print(f"error: cannot write '{args.output}': {error.strerror}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
