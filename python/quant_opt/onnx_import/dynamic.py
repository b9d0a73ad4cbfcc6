"""Dynamic quantization: ONNX DynamicQuantizeLinear, and the layers ONNX
Runtime's `quantize_dynamic` writes with it (QOperator form).

DynamicQuantizeLinear is `qnn.dynamic_quantize unsigned` per tensor (u8,
asymmetric: exactly ONNX's definition, docs/Semantics.md "Dynamic
quantization"). Its outputs: y, the stored values, a UINT8 activation (i8,
read unsigned; `integer`); y_scale, a scalar FLOAT; y_zero_point, a scalar
UINT8.

`quantize_dynamic` writes each MatMul / Gemm (Conv) of constant weights as

    a_q, a_s, a_z = DynamicQuantizeLinear(a)
    m = Mul(a_s, w_scale)                         (w_scale: one, or one per column)
    y = Mul(Cast<FLOAT>(MatMulInteger(a_q, w, a_z, w_zp)), m)     (or ConvInteger)

(then an Add of the float bias). That chain (`find_chains`: every
intermediate read only by the next node, none a graph output) is imported
as `linalg.matmul(qnn.dynamic_dequantize(a_q, a_s, a_z),
qnn.dequantize(w))` (a convolution for ConvInteger), which
`qnn-fuse-quantized-ops` makes an integer contraction and the epilogue
`f32(acc) * (s_a * s_w)`: ONNX Runtime's float operations in its order
(the int32 sum, one conversion, the product of the two scales, one
multiplication), so the fused program's results are its results bit for
bit. (The unfused program computes the float contraction of the
dequantized values instead: the same up to f32 rounding.) The weights are
INT8 or UINT8, 2-D (per tensor or per column) or 4-D (per tensor or per
output channel); an activation of rank above 2 is flattened to rows as
stored integers, and the result reshaped back; a convolution's input is
transposed to NHWC and padded with the run-time zero point as stored
integers (ConvInteger's padding contributes 0).

A MatMulInteger or ConvInteger that reads a DynamicQuantizeLinear's output
outside that chain (its int32 result read by something else) is refused,
naming what is supported.
"""

from __future__ import annotations

import numpy as np
import onnx

from .emitter import Value, escape, location, tensor_type
from .registry import register
from .values import Act, Const, QParams, UnsupportedModelError

U8 = onnx.TensorProto.UINT8


class Dynamic:
    """What a DynamicQuantizeLinear emitted: the stored values `q` (i8, of
    the input's shape) and the scale `s` / zero point `z` (f32 / i32, one
    element, of the input's rank)."""

    def __init__(self, q, s, z, shape):
        self.q, self.s, self.z, self.shape = q, s, z, tuple(shape)


@register("DynamicQuantizeLinear")
def dynamic_quantize_linear(ctx, node, inputs, attrs):
    x = ctx.to_plain(ctx.act(node.input[0], node), node.name)
    if x.value.elem != "f32":
        raise UnsupportedModelError(f"DynamicQuantizeLinear node '{node.name}': its input must be FLOAT")
    from .shape import reshape
    shape = x.shape
    # Per tensor, the parameters do not depend on the shape: a tensor of
    # rank above 3 is quantized as rows (quant-opt's CPU lowering of a
    # rank-4 qnn.dynamic_quantize takes time far beyond linear in its size)
    # and its stored values reshaped back.
    rows = (int(np.prod(shape[:-1])), shape[-1]) if len(shape) > 3 else shape
    if rows != shape:
        x = reshape(ctx, x, rows, node.name + ".rows")
    ones = (1,) * len(rows)
    e = ctx.emitter
    ssa = e.fresh()
    q_type, s_type, z_type = tensor_type(rows, "i8"), tensor_type(ones, "f32"), tensor_type(ones, "i32")
    e.emit(f"{ssa}:3 = qnn.dynamic_quantize {x.ssa} unsigned : {tensor_type(rows)} -> {q_type}, {s_type}, "
           f"{z_type} {location(node.name)}")
    q = Value(f"{ssa}#0", rows, "i8", node.name, escape(node.name))
    s = Value(f"{ssa}#1", ones, "f32", node.name, escape(node.name) + "#1")
    z = Value(f"{ssa}#2", ones, "i32", node.name, escape(node.name) + "#2")
    if rows != shape:
        q = reshape(ctx, Act(q, integer_type=U8), shape, node.name + ".stored").value
        s = reshape(ctx, Act(s), (1,) * len(shape), node.name + ".scale_shape").value
        z = reshape(ctx, Act(z, integer_type=onnx.TensorProto.INT32), (1,) * len(shape),
                    node.name + ".zero_point_shape").value
    ctx.dynamic[node.output[0]] = Dynamic(q, s, z, shape)
    # The scalar scale and zero point ONNX returns.
    scale = e.op(f"tensor.collapse_shape {s.ssa} [] : {s.type} into tensor<f32>", (), node.name + ".scale")
    zero = e.op(f"tensor.collapse_shape {z.ssa} [] : {z.type} into tensor<i32>", (), None, "i32")
    zero = e.generic([(zero, [])], (), lambda a: ([f"%r = arith.trunci {a[0]} : i32 to i8"], "%r"),
                     node.name + ".zero_point", out_elem="i8")
    results = [Act(q, integer_type=U8), Act(scale), Act(zero, integer_type=U8)]
    return results[:len(node.output)]


def find_chains(values: dict, graph) -> dict:
    """The MatMulInteger nodes of ONNX Runtime's dynamic layers (the module
    docstring): MatMulInteger's output -> (the DynamicQuantizeLinear, the
    Cast, the Mul by the scales, the Mul of the scales, the weights' scale
    as a Const)."""
    readers, producers = {}, {}
    for n in graph.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)
        for o in n.output:
            producers[o] = n
    outputs = {o.name for o in graph.output}

    def only_reader(name, op_type):
        users = readers.get(name, [])
        if name in outputs or len(users) != 1 or users[0].op_type != op_type:
            return None
        return users[0]

    chains = {}
    for n in graph.node:
        if n.op_type not in ("MatMulInteger", "ConvInteger") or len(n.input) < 3:
            continue
        dql = producers.get(n.input[0])
        if dql is None or dql.op_type != "DynamicQuantizeLinear" or len(dql.output) < 3 \
                or n.input[2] != dql.output[2]:
            continue
        cast = only_reader(n.output[0], "Cast")
        if cast is None or next((a.i for a in cast.attribute if a.name == "to"), None) != onnx.TensorProto.FLOAT:
            continue
        mul = only_reader(cast.output[0], "Mul")
        if mul is None:
            continue
        scales = producers.get(mul.input[1] if mul.input[0] == cast.output[0] else mul.input[0])
        if scales is None or scales.op_type != "Mul" or dql.output[1] not in scales.input \
                or only_reader(scales.output[0], "Mul") is not mul:
            continue
        w_scale = values.get(scales.input[1] if scales.input[0] == dql.output[1] else scales.input[0])
        if not isinstance(w_scale, Const):
            continue
        chains[n.output[0]] = (dql, cast, mul, scales, w_scale)
    return chains


def _error(node, message):
    return UnsupportedModelError(f"{node.op_type} node '{node.name}': {message}")


def matmul_integer(ctx, node, inputs, chain):
    """The chain of `node` (find_chains) as linalg.matmul(dynamic_dequantize,
    dequantize(w)); records the final Mul's output and returns it."""
    from . import contraction, shape
    from .qoperator import EIGHT_BIT, EIGHT_BIT_ONNX, dequantize_constant, params
    from .quantized import weight
    dql, cast, mul, scales, w_scale = chain
    b = inputs[1]
    if not isinstance(b, Const) or b.array.ndim != 2:
        raise _error(node, "reads a DynamicQuantizeLinear's output: its B must be a 2-D constant")
    if b.array.dtype not in EIGHT_BIT or b.onnx_type not in (None, *EIGHT_BIT_ONNX):
        named = onnx.TensorProto.DataType.Name(b.onnx_type) if b.onnx_type else b.array.dtype
        raise _error(node, f"B has type {named}; only INT8 and UINT8 are supported")
    k, n = b.array.shape
    zp = inputs[3] if len(inputs) > 3 else None
    d = ctx.dynamic[node.input[0]]
    for what, c in (("weight scale", w_scale), ("zero point of B", zp)):
        dims = np.shape(c.array) if c is not None else ()
        if int(np.prod(dims)) != 1 and (dims[-1] != n or int(np.prod(dims[:-1])) != 1
                                        or len(dims) > len(d.shape)):
            raise _error(node, f"the {what} has shape {dims}: one, or one per column of B ({n}) along "
                               "the last axis, is supported")
    w_q: QParams = params(node, [w_scale, zp], 0, 1 if zp is not None else None,
                          f"B (scale '{scales.name}' · its constant)", b.array.dtype, axis=1, channels=n)
    if EIGHT_BIT.get(b.array.dtype) != w_q.storage:
        raise _error(node, f"B of type {b.array.dtype} with a {w_q.storage} zero point")
    if len(d.shape) < 2 or d.shape[-1] != k:
        raise _error(node, f"A of shape {d.shape} for B of shape {b.array.shape} (A of rank 2 or more "
                           "is supported)")
    lead = d.shape[:-1]
    rows = int(np.prod(lead))
    q = Act(d.q, integer_type=U8)
    s, z = Act(d.s), Act(d.z, integer_type=onnx.TensorProto.INT32)
    if len(d.shape) != 2:
        q = shape.reshape(ctx, q, (rows, k), node.name + ".flatten")
        s = shape.reshape(ctx, s, (1, 1), node.name + ".flatten_scale")
        z = shape.reshape(ctx, z, (1, 1), node.name + ".flatten_zero_point")
    e = ctx.emitter
    a = e.op(f"qnn.dynamic_dequantize {q.ssa}, {s.ssa}, {z.ssa} unsigned : {q.value.type}, {s.value.type}, "
             f"{z.value.type} -> {tensor_type((rows, k))}", (rows, k), node.name + ".dequantize_a")
    w = dequantize_constant(b.array, w_q)
    wv = weight(ctx, w, np.ascontiguousarray(w.array, dtype=np.float32), None)
    y = contraction.matmul2d(ctx, Act(a), wv, k, n, node.name)
    if len(d.shape) != 2:
        y = shape.reshape(ctx, y, lead + (n,), mul.name + ".reshape")
    ctx.values[mul.output[0]] = y
    return y


def conv_integer(ctx, node, inputs, attrs, chain):
    """The chain of a ConvInteger (find_chains) as conv(dynamic_dequantize,
    dequantize(w)): the stored values transposed to NHWC and padded with
    the run-time zero point as integers (ConvInteger's padding contributes
    0), so that the dynamic_dequantize is right before the convolution;
    records the final Mul's output (NHWC) and returns it."""
    from . import contraction
    from .qoperator import EIGHT_BIT, dequantize_constant, float_op, params, weight_constant
    dql, cast, mul, scales, w_scale = chain
    w = weight_constant(node, inputs, 1, "the weights")
    m = w.array.shape[0]
    zp = inputs[3] if len(inputs) > 3 else None
    for what, c in (("weight scale", w_scale), ("zero point of w", zp)):
        dims = np.shape(c.array) if c is not None else ()
        size = int(np.prod(dims))
        if size != 1 and not (size == m and len(dims) <= 4 and (dims[-3:] == (m, 1, 1) or
                                                                what != "weight scale" and dims == (m,))):
            raise _error(node, f"the {what} has shape {dims}: one, or one per output channel along axis 1 "
                               "of the result, is supported")
    w_q = params(node, [w_scale, zp], 0, 1 if zp is not None else None,
                 f"w (scale '{scales.name}' · its constant)", w.array.dtype, axis=0, channels=m)
    if EIGHT_BIT.get(w.array.dtype) != w_q.storage:
        raise _error(node, f"weights of type {w.array.dtype} with a {w_q.storage} zero point")
    d = ctx.dynamic[node.input[0]]
    if len(d.shape) != 4:
        raise _error(node, f"x of shape {d.shape}: 2-D convolutions (4-D x) are supported")
    e = ctx.emitter
    n_, c, h, wd = d.shape
    nhwc = (n_, h, wd, c)
    empty = e.op(f"tensor.empty() : {tensor_type(nhwc, 'i8')}", nhwc, elem="i8")
    q = e.op(f"linalg.transpose ins({d.q.ssa} : {d.q.type}) outs({empty.ssa} : {empty.type}) "
             "permutation = [0, 2, 3, 1]", nhwc, node.name + ".nhwc", "i8")
    kernel = w.array.shape[2:]
    padding = shape_pads(node, attrs, (h, wd), kernel)
    if any(padding):
        top, left, bottom, right = padding
        index = e.op("arith.constant 0 : index", None, elem="index")
        z32 = e.op(f"tensor.extract {d.z.ssa}[{', '.join([index.ssa] * 4)}] : {d.z.type}", None, elem="i32")
        z8 = e.op(f"arith.trunci {z32.ssa} : i32 to i8", None, elem="i8")
        padded = (n_, h + top + bottom, wd + left + right, c)
        q = e.op(f"tensor.pad {q.ssa} low[0, {top}, {left}, 0] high[0, {bottom}, {right}, 0] {{\n"
                 f"  ^bb0(%i: index, %j: index, %k: index, %l: index):\n"
                 f"    tensor.yield {z8.ssa} : i8\n"
                 f"  }} : {q.type} to {tensor_type(padded, 'i8')}", padded, node.name + ".pad", "i8")
    x = e.op(f"qnn.dynamic_dequantize {q.ssa}, {d.s.ssa}, {d.z.ssa} unsigned : {q.type}, {d.s.type}, "
             f"{d.z.type} -> {tensor_type(q.shape)}", q.shape, node.name + ".dequantize")
    conv_attrs = {k: v for k, v in attrs.items() if k not in ("pads", "auto_pad")}
    y = float_op(ctx, node, "Conv", [Act(x, True), dequantize_constant(w.array, w_q)], conv_attrs,
                 contraction.conv)
    ctx.values[mul.output[0]] = y
    return y


def shape_pads(node, attrs, spatial, kernel):
    from .shape import pads
    return pads(node, attrs, spatial, kernel, attrs.get("strides", [1, 1]), attrs.get("dilations", [1, 1]))
