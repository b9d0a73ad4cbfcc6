"""ONNX's QOperator quantized format (what ONNX Runtime's quantizer writes
with `QuantFormat.QOperator`), imported as the equivalent QDQ program so that
`quant-opt --qnn-fuse-quantized-ops` makes the same integer code as for a QDQ
model.

Each QLinear op reads quantized activations (a `qnn`-typed value: the output
of a QuantizeLinear or of another QLinear op, or a UINT8 / INT8 graph input,
reinterpreted by `quant.scast`) and is written as

    quantize_y(op(dequantize_x(x), dequantize_w(w)) + b)

with its own scales and zero points; the float op is the importer's own
converter (Conv, MatMul, Gemm, AveragePool, Add, ...), so layouts, padding
and the records quant-eval's reference reads are those of the float model.

- QLinearConv, QLinearMatMul, QGemm (com.microsoft): x per tensor, weights
  per tensor or per output channel (Conv: axis 0; MatMul: the column; QGemm:
  N), the int32 bias B as the float bias `B · s_x · s_w` (refused where
  quant-opt's fusion, which rounds it back from f32, would not find `B`
  again: |B| above about 2^23). QGemm without y_scale has a float output.
- QLinearAdd, QLinearMul, QLinearAveragePool, QLinearGlobalAveragePool,
  QLinearSigmoid, QLinearLeakyRelu (com.microsoft; channels_last=0 only).
- MatMulInteger, ConvInteger: the int32 result is the quantized value of
  type `!quant.uniform<i32:f32, 1.0:0>` of the contraction of the inputs
  dequantized at scale 1 (zero points subtracted). It is exact, in the float
  program as in the fused one, while every partial sum stays below 2^24; a
  node whose bound `max|x - z_x| · max_c Σ|w - z_w,c|` (`K · max|a - z_a| ·
  max|b - z_b|` for two activations) reaches 2^24 is refused. A Cast to
  FLOAT reads the result (dequantized, exact below 2^24), as does a graph
  output (its int32 values).
- Ops that move or select stored values (MaxPool, GlobalMaxPool, Relu,
  Flatten, Reshape, Transpose, Squeeze, Unsqueeze) take a quantized input,
  as ONNX Runtime runs them on uint8: they run on the dequantized values and
  quantize back to the same type, which quant-opt turns back into integer
  data movement.

The quantized input of QLinearConv, ConvInteger and QLinearAveragePool is
transposed to NHWC and padded (with its zero point), and that of a
QLinearMatMul of rank above 2 flattened, as quantized values (the move on
the dequantized values, quantized back to the same type: exact): quant-opt's
fusion wants the dequantize right before the contraction or pooling, and does
not look through a transpose, pad or reshape in between.

Only INT8 / UINT8 tensors with constant, positive scales and zero points are
taken; anything else (per-row activation scales, INT4, blocked, FLOAT8,
non-constant scales) is an error that names the node, the op and the limit.
DynamicQuantizeLinear and the MatMulInteger / ConvInteger layers ONNX
Runtime's `quantize_dynamic` writes with it (run-time scales) are in
`dynamic`.
"""

from __future__ import annotations

import numpy as np
import onnx

from . import contraction, elementwise, pooling, shape
from .emitter import tensor_type
from .registry import register
from .values import NHWC_AXIS, Act, Const, QParams, UnsupportedModelError

MS = "com.microsoft"
EIGHT_BIT = {np.dtype(np.int8): "i8", np.dtype(np.uint8): "u8"}
EIGHT_BIT_ONNX = (onnx.TensorProto.INT8, onnx.TensorProto.UINT8)
INPUT_STORAGE = {onnx.TensorProto.UINT8: "u8", onnx.TensorProto.INT8: "i8"}
# Where a float program of integers stays exact (f32 has 24 bits).
EXACT_LIMIT = 2 ** 24


def _error(node, message: str) -> UnsupportedModelError:
    return UnsupportedModelError(f"{node.op_type} node '{node.name}': {message}")


def _input(inputs, index):
    return inputs[index] if index is not None and index < len(inputs) else None


def params(node, inputs, scale_index: int, zp_index: int | None, what: str, dtype: np.dtype,
           axis: int | None = None, channels: int | None = None) -> QParams:
    """The (scale, zero point) pair of `node` at those input indices for its
    operand `what`. Per-tensor unless `axis` is given (then one pair per
    index of that axis, `channels` of them, or per tensor); a missing zero
    point is 0 of `dtype`."""
    scale, zp = _input(inputs, scale_index), _input(inputs, zp_index)
    if not isinstance(scale, Const) or (zp is not None and not isinstance(zp, Const)):
        raise _error(node, f"the scale and zero point of {what} must be constants")
    z = zp.array if zp is not None else np.zeros((), dtype)
    storage = EIGHT_BIT.get(z.dtype)
    # (NumPy has no INT4: onnx reads it as int8, so ask the declared type.)
    if storage is None or (zp is not None and zp.onnx_type not in (None, *EIGHT_BIT_ONNX)):
        named = onnx.TensorProto.DataType.Name(zp.onnx_type) if zp is not None and zp.onnx_type else z.dtype
        raise _error(node, f"{what} has a zero point of type {named}; only INT8 and UINT8 are supported")
    s = scale.array.astype(np.float32).reshape(-1)
    if s.size == 0 or not np.all(np.isfinite(s) & (s > 0)):
        raise _error(node, f"the scale of {what} must be positive and finite")
    if s.size == 1 and z.size == 1:
        return QParams(s.reshape(()), z.reshape(()), None, storage)
    if axis is None:
        raise _error(node, f"{what} takes a per-tensor scale and zero point only (got {s.size} scales, "
                           f"{z.size} zero points)")
    if s.size not in (1, channels) or z.size not in (1, channels):
        raise _error(node, f"{what}: {s.size} scales and {z.size} zero points for {channels} channels "
                           "(one per channel or one per tensor)")
    return QParams(np.broadcast_to(s, (channels,)).copy(), np.broadcast_to(z.reshape(-1), (channels,)).copy(),
                   axis, storage)


def weight_constant(node, inputs, index: int, what: str) -> Const:
    """The 4-D (`what` "weights") or 2-D constant at `index`, of an 8-bit type."""
    w = _input(inputs, index)
    rank = 4 if what == "the weights" else 2
    if not isinstance(w, Const) or w.array.ndim != rank:
        raise _error(node, f"{what} must be a {rank}-D constant" +
                     (" (2-D convolution)" if rank == 4 else ""))
    if w.array.dtype not in EIGHT_BIT or w.onnx_type not in (None, *EIGHT_BIT_ONNX):
        named = onnx.TensorProto.DataType.Name(w.onnx_type) if w.onnx_type else w.array.dtype
        raise _error(node, f"{what} have type {named}; only INT8 and UINT8 are supported")
    return w


def _same(a: QParams, b: QParams) -> bool:
    return (a.axis, a.storage) == (b.axis, b.storage) and np.array_equal(a.scale, b.scale) \
        and np.array_equal(a.zero_point, b.zero_point)


def quantized_input(ctx, node, index: int, q: QParams) -> Act | Const:
    """Input `index` of `node`, a quantized activation of parameters `q`
    (a UINT8 / INT8 graph input is reinterpreted as one), or an integer
    constant (its dequantized values, remembering `q`)."""
    name = node.input[index]
    value = ctx.values.get(name)
    if isinstance(value, Const):
        if EIGHT_BIT.get(value.array.dtype) != q.storage:
            raise _error(node, f"the constant '{name}' has type {value.array.dtype}, its zero point "
                               f"{q.zero_point.dtype}")
        return dequantize_constant(value.array, q)
    if not isinstance(value, Act):
        raise _error(node, f"input '{name}' is not defined")
    if value.integer_type is not None:
        if INPUT_STORAGE.get(value.integer_type) != q.storage or q.axis is not None:
            raise _error(node, f"reads '{name}', an input of type "
                               f"{onnx.TensorProto.DataType.Name(value.integer_type)}, with a "
                               f"{q.storage} per-tensor zero point expected")
        cache = ctx.scast_inputs
        act = cache.get(name)
        if act is None or not _same(act.qparams, q):
            qtype = q.type_for()
            v = ctx.emitter.op(f"quant.scast {value.ssa} : {value.value.type} to "
                               f"{tensor_type(value.physical, qtype)}", value.physical, name + ".stored", qtype)
            act = cache[name] = Act(v, False, q)
        return act
    if value.qtype is None:
        raise _error(node, f"reads the float tensor '{name}'; its quantized inputs must be quantized "
                           "tensors (QuantizeLinear, a QLinear op or an INT8 / UINT8 graph input)")
    if not _same(value.qparams, q):
        raise _error(node, f"the scale and zero point it gives '{name}' differ from those it was "
                           "quantized with")
    return value


def dequantize_constant(array: np.ndarray, q: QParams) -> Const:
    """The float values of stored integers, as DequantizeLinear computes
    them, remembering `q` (written as a quantize / dequantize pair that
    quant-opt folds back to the same integers)."""
    shape = [1] * array.ndim
    if q.axis is not None:
        shape[q.axis] = -1
    scale = q.scale.reshape(shape)
    zero_point = q.zero_point.astype(np.int64).reshape(shape)
    return Const(((array.astype(np.int64) - zero_point).astype(np.float32) * scale).astype(np.float32), q)


def dequantized(ctx, x: Act | Const, name: str) -> Act | Const:
    if isinstance(x, Const):
        return x
    v = ctx.emitter.op(f"qnn.dequantize {x.ssa} : {x.value.type} -> {tensor_type(x.physical)}",
                       x.physical, name)
    return Act(v, x.nhwc)


def quantized(ctx, y: Act, q: QParams, name: str) -> Act:
    qtype = q.type_for(NHWC_AXIS if y.nhwc else None)
    v = ctx.emitter.op(f"qnn.quantize {y.ssa} : {tensor_type(y.physical)} -> "
                       f"{tensor_type(y.physical, qtype)}", y.physical, name, qtype)
    return Act(v, y.nhwc, q)


def stored_nhwc(ctx, node, x: Act, padding=(0, 0, 0, 0)) -> Act:
    """The quantized activation `x` in NHWC, padded spatially with its zero
    point, still quantized: the transpose and pad run on its dequantized
    values and are quantized back to its type (exact), which quant-opt turns
    into data movement of the stored integers, so that the dequantize
    feeding a contraction or pooling is the one the fusion looks for."""
    if x.nhwc and not any(padding):
        return x
    y = ctx.to_nhwc(dequantized(ctx, x, node.name + ".dequantize_input"), node.name, node.op_type)
    y = shape.pad(ctx, y, padding, 0.0, node.name)
    return quantized(ctx, y, x.qparams, node.name + ".stored")


def float_op(ctx, node, op_type: str, operands, attrs, converter):
    """Runs the importer's float converter `converter` of `op_type` on
    `operands` (Act, Const or None), as a node of the same name."""
    names = []
    for k, v in enumerate(operands):
        if v is None:
            names.append("")
            continue
        names.append(f"{node.name}:{op_type}.input{k}")
        ctx.values[names[-1]] = v
    fake = onnx.helper.make_node(op_type, names, [node.output[0]], name=node.name)
    return converter(ctx, fake, [v for v in operands], attrs)


def bias(node, b, x_q: QParams, w_q: QParams, channels: int) -> Const:
    """The int32 bias `B` (scale s_x · s_w, zero point 0) as the float bias
    quant-opt's fusion quantizes back: refused where it would not find `B`."""
    if not isinstance(b, Const) or b.array.dtype != np.int32:
        raise _error(node, "the bias must be an INT32 constant")
    if b.array.size != channels:
        raise _error(node, f"the bias has {b.array.size} values for {channels} output channels")
    scale = np.broadcast_to(x_q.scale.astype(np.float64) * w_q.scale.astype(np.float64), (channels,))
    ints = b.array.reshape(-1).astype(np.int64)
    values = (ints * scale).astype(np.float32)
    # quant-opt's fusion: round_half_even(b / (s_x · s_w)) in double.
    if not np.array_equal(np.rint(values.astype(np.float64) / scale), ints):
        raise _error(node, "the INT32 bias does not survive as an f32 bias (|B| above about 2^23: "
                           "quant-opt's fused bias is re-derived from f32)")
    return Const(values)


def padded_input(ctx, node, x, kernel, attrs):
    """A window op's quantized input in NHWC with its padding (`stored_nhwc`),
    and the op's attributes without the padding."""
    if isinstance(x, Const) or len(x.shape) != 4:
        return x, attrs
    padding = shape.pads(node, attrs, x.shape[2:], kernel, attrs.get("strides", [1, 1]),
                         attrs.get("dilations", [1, 1]))
    rest = {k: v for k, v in attrs.items() if k not in ("pads", "auto_pad")}
    return stored_nhwc(ctx, node, x, padding), rest


# --- contractions -------------------------------------------------------------
@register("QLinearConv", reads_quantized=True, constant_inputs=(1, 2, 3, 4, 5, 6, 7, 8))
def qlinear_conv(ctx, node, inputs, attrs):
    """y = quantize(conv(dequantize(x), dequantize(w)) + B · s_x · s_w)."""
    w = weight_constant(node, inputs, 3, "the weights")
    m = w.array.shape[0]
    x_q = params(node, inputs, 1, 2, "x", np.dtype(np.uint8))
    w_q = params(node, inputs, 4, 5, "w", w.array.dtype, axis=0, channels=m)
    y_q = params(node, inputs, 6, 7, "y", np.dtype(np.uint8))
    if EIGHT_BIT.get(w.array.dtype) != w_q.storage:
        raise _error(node, f"weights of type {w.array.dtype} with a {w_q.storage} zero point")
    x, conv_attrs = padded_input(ctx, node, quantized_input(ctx, node, 0, x_q), w.array.shape[2:], attrs)
    operands = [dequantized(ctx, x, node.name + ".dequantize"), dequantize_constant(w.array, w_q)]
    if len(inputs) > 8 and inputs[8] is not None:
        operands.append(bias(node, inputs[8], x_q, w_q, m))
    y = float_op(ctx, node, "Conv", operands, conv_attrs, contraction.conv)
    return quantized(ctx, y, y_q, node.name + ".quantize")


@register("QLinearMatMul", reads_quantized=True, constant_inputs=(1, 2, 4, 5, 6, 7))
def qlinear_matmul(ctx, node, inputs, attrs):
    """y = quantize(dequantize(a) @ dequantize(b)); b per column if it is a
    2-D constant."""
    b = inputs[3]
    a_q = params(node, inputs, 1, 2, "a", np.dtype(np.uint8))
    if isinstance(b, Const) and b.array.ndim == 2:
        b_q = params(node, inputs, 4, 5, "b", b.array.dtype, axis=1, channels=b.array.shape[1])
    else:
        b_q = params(node, inputs, 4, 5, "b", np.dtype(np.uint8))
    y_q = params(node, inputs, 6, 7, "y", np.dtype(np.uint8))
    a = quantized_input(ctx, node, 0, a_q)
    lead = None
    if isinstance(b, Const) and b.array.ndim == 2 and isinstance(a, Act) and len(a.shape) > 2:
        # A 2-D matmul on the quantized rows (reshaped as stored integers),
        # the form quant-opt fuses; its quantized result reshaped back.
        lead = a.shape[:-1]
        a = restored(ctx, node, a, (int(np.prod(lead)), a.shape[-1]), ".flatten")
    a = dequantized(ctx, a, node.name + ".dequantize_a")
    bv = dequantized(ctx, quantized_input(ctx, node, 3, b_q), node.name + ".dequantize_b")
    y = quantized(ctx, float_op(ctx, node, "MatMul", [a, bv], attrs, contraction.matmul), y_q,
                  node.name + ".quantize")
    return y if lead is None else restored(ctx, node, y, lead + (y.shape[-1],), ".reshape")


def restored(ctx, node, x: Act, new_shape, suffix: str) -> Act:
    """The plain quantized activation `x` reshaped, still quantized."""
    y = shape.reshape(ctx, dequantized(ctx, x, node.name + suffix + ".dequantize"), tuple(new_shape),
                      node.name + suffix)
    return quantized(ctx, y, x.qparams, node.name + suffix + ".quantize")


@register("QGemm", reads_quantized=True, domain=MS)
def qgemm(ctx, node, inputs, attrs):
    """com.microsoft QGemm: y = quantize(dequantize(A) · dequantize(B)' + C ·
    s_a · s_b), or the float result without y_scale."""
    if attrs.get("alpha", 1.0) != 1.0:
        raise _error(node, "alpha other than 1 is not supported")
    b = weight_constant(node, inputs, 3, "B")
    trans_b = attrs.get("transB", 0)
    n = b.array.shape[0 if trans_b else 1]
    a_q = params(node, inputs, 1, 2, "A", np.dtype(np.uint8))
    b_q = params(node, inputs, 4, 5, "B", b.array.dtype, axis=0 if trans_b else 1, channels=n)
    a = dequantized(ctx, quantized_input(ctx, node, 0, a_q), node.name + ".dequantize")
    operands = [a, dequantize_constant(b.array, b_q)]
    if len(inputs) > 6 and inputs[6] is not None:
        operands.append(bias(node, inputs[6], a_q, b_q, n))
    gemm_attrs = {k: v for k, v in attrs.items() if k in ("transA", "transB")}
    y = float_op(ctx, node, "Gemm", operands, gemm_attrs, contraction.gemm)
    if _input(inputs, 7) is None:
        return y  # a float output
    y_q = params(node, inputs, 7, 8, "y", np.dtype(a_q.zero_point.dtype))
    return quantized(ctx, y, y_q, node.name + ".quantize")


# --- elementwise and pooling (com.microsoft) ----------------------------------
def _unary(ctx, node, inputs, attrs, op_type, converter, dtype_default=np.uint8):
    """y = quantize(op(dequantize(x))) for ops (X, X_scale, X_zp, Y_scale,
    Y_zp)."""
    if attrs.get("channels_last", 0):
        raise _error(node, "channels_last=1 is not supported")
    x_q = params(node, inputs, 1, 2, "X", _storage_dtype(ctx, node, 0, dtype_default))
    y_q = params(node, inputs, 3, 4, "Y", x_q.zero_point.dtype)
    x = quantized_input(ctx, node, 0, x_q)
    if op_type in ("AveragePool", "GlobalAveragePool") and isinstance(x, Act) and len(x.shape) == 4:
        x = stored_nhwc(ctx, node, x)
    x = dequantized(ctx, x, node.name + ".dequantize")
    op_attrs = {k: v for k, v in attrs.items() if k != "channels_last"}
    y = float_op(ctx, node, op_type, [x], op_attrs, converter)
    return quantized(ctx, y, y_q, node.name + ".quantize")


def _storage_dtype(ctx, node, index, default) -> np.dtype:
    """The storage type of input `index` (for a zero point the node omits)."""
    value = ctx.values.get(node.input[index])
    if isinstance(value, Act) and value.qparams is not None:
        return value.qparams.zero_point.dtype
    if isinstance(value, Act) and value.integer_type == onnx.TensorProto.INT8:
        return np.dtype(np.int8)
    if isinstance(value, Const):
        return value.array.dtype
    return np.dtype(default)


@register("QLinearAveragePool", reads_quantized=True, domain=MS)
def qlinear_average_pool(ctx, node, inputs, attrs):
    return _unary(ctx, node, inputs, attrs, "AveragePool", pooling.average_pool)


@register("QLinearGlobalAveragePool", reads_quantized=True, domain=MS)
def qlinear_global_average_pool(ctx, node, inputs, attrs):
    return _unary(ctx, node, inputs, attrs, "GlobalAveragePool", pooling.global_average_pool)


@register("QLinearSigmoid", reads_quantized=True, domain=MS)
def qlinear_sigmoid(ctx, node, inputs, attrs):
    return _unary(ctx, node, inputs, attrs, "Sigmoid", elementwise.sigmoid)


@register("QLinearLeakyRelu", reads_quantized=True, domain=MS)
def qlinear_leaky_relu(ctx, node, inputs, attrs):
    return _unary(ctx, node, inputs, attrs, "LeakyRelu", elementwise.leaky_relu)


@register("QLinearAdd", "QLinearMul", reads_quantized=True, domain=MS)
def qlinear_binary(ctx, node, inputs, attrs):
    """C = quantize(dequantize(A) + dequantize(B)) (or ·), ONNX
    broadcasting (quant-opt fuses same-shaped activations into integers)."""
    a_q = params(node, inputs, 1, 2, "A", _storage_dtype(ctx, node, 0, np.uint8))
    b_q = params(node, inputs, 4, 5, "B", _storage_dtype(ctx, node, 3, np.uint8))
    c_q = params(node, inputs, 6, 7, "C", a_q.zero_point.dtype)
    a = dequantized(ctx, quantized_input(ctx, node, 0, a_q), node.name + ".dequantize_a")
    b = dequantized(ctx, quantized_input(ctx, node, 3, b_q), node.name + ".dequantize_b")
    op_type = node.op_type[len("QLinear"):]
    y = float_op(ctx, node, op_type, [a, b], attrs, elementwise.binary)
    return quantized(ctx, y, c_q, node.name + ".quantize")


# --- integer contractions with an int32 result ---------------------------------
INT32_RESULT = QParams(np.array(1.0, np.float32), np.array(0, np.int32), None, "i32")


def _unit(node, inputs, zp_index, what, dtype, axis=None, channels=None) -> QParams:
    """Scale 1 and the zero point at `zp_index` (0 if absent)."""
    zp = _input(inputs, zp_index)
    if zp is not None and not isinstance(zp, Const):
        raise _error(node, f"the zero point of {what} must be a constant")
    size = zp.array.size if zp is not None else 1
    unit = Const(np.ones(size, np.float32))
    return params(node, [unit] + ([zp] if zp is not None else []), 0, 1 if zp is not None else None, what,
                  dtype, axis, channels)


def _magnitude(q: QParams) -> int:
    """max |stored - zero point| over the storage range."""
    info = np.iinfo(q.zero_point.dtype)
    z = q.zero_point.astype(np.int64)
    return int(np.max(np.maximum(np.abs(info.min - z), np.abs(info.max - z))))


def _check_exact(node, bound: int) -> None:
    if bound >= EXACT_LIMIT:
        raise _error(node, f"its int32 sums can reach {bound} (bound max|x - z_x| * max over output "
                           f"channels of sum |w - z_w|), beyond 2^24 = {EXACT_LIMIT}, where quant-opt's "
                           "float program of it is no longer exact")


@register("MatMulInteger", reads_quantized=True, constant_inputs=(2, 3))
def matmul_integer(ctx, node, inputs, attrs):
    """(a - z_a) @ (b - z_b) in int32: the quantized i32 value (scale 1) of
    the float contraction of the inputs dequantized at scale 1."""
    from . import dynamic
    chain = ctx.dynamic_matmuls.get(node.output[0])
    if chain is not None:
        return dynamic.matmul_integer(ctx, node, inputs, chain)
    if node.input[0] in ctx.dynamic:
        raise _error(node, "reads the output of a DynamicQuantizeLinear; supported as ONNX Runtime's "
                           "quantize_dynamic writes it only: its int32 result read by one Cast to FLOAT "
                           "alone, that by one Mul alone, by the Mul of the DynamicQuantizeLinear's scale "
                           "and a constant weight scale")
    b = inputs[1]
    a_q = _unit(node, inputs, 2, "A", _storage_dtype(ctx, node, 0, np.uint8))
    if isinstance(b, Const) and b.array.ndim == 2:
        b_q = _unit(node, inputs, 3, "B", b.array.dtype, axis=1, channels=b.array.shape[1])
        w = np.abs(b.array.astype(np.int64) - b_q.zero_point.astype(np.int64).reshape(1, -1))
        bound = _magnitude(a_q) * int(w.sum(axis=0).max())
    else:
        b_q = _unit(node, inputs, 3, "B", _storage_dtype(ctx, node, 1, np.uint8))
        a_value = ctx.values.get(node.input[0])
        k = (a_value.shape if isinstance(a_value, Act) else a_value.array.shape)[-1]
        bound = k * _magnitude(a_q) * _magnitude(b_q)
    _check_exact(node, bound)
    a = dequantized(ctx, quantized_input(ctx, node, 0, a_q), node.name + ".dequantize_a")
    bv = dequantized(ctx, quantized_input(ctx, node, 1, b_q), node.name + ".dequantize_b")
    y = float_op(ctx, node, "MatMul", [a, bv], attrs, contraction.matmul)
    return quantized(ctx, y, INT32_RESULT, node.name + ".quantize")


@register("ConvInteger", reads_quantized=True, constant_inputs=(1, 2, 3))
def conv_integer(ctx, node, inputs, attrs):
    """conv(x - z_x, w - z_w) in int32 (padding contributes 0), as
    MatMulInteger."""
    from . import dynamic
    chain = ctx.dynamic_matmuls.get(node.output[0])
    if chain is not None:
        return dynamic.conv_integer(ctx, node, inputs, attrs, chain)
    if node.input[0] in ctx.dynamic:
        raise _error(node, "reads the output of a DynamicQuantizeLinear; supported as ONNX Runtime's "
                           "quantize_dynamic writes it only: its int32 result read by one Cast to FLOAT "
                           "alone, that by one Mul alone, by the Mul of the DynamicQuantizeLinear's scale "
                           "and a constant weight scale")
    w = weight_constant(node, inputs, 1, "the weights")
    m = w.array.shape[0]
    x_q = _unit(node, inputs, 2, "x", _storage_dtype(ctx, node, 0, np.uint8))
    w_q = _unit(node, inputs, 3, "w", w.array.dtype, axis=0, channels=m)
    diff = np.abs(w.array.astype(np.int64) - w_q.zero_point.astype(np.int64).reshape(-1, 1, 1, 1))
    _check_exact(node, _magnitude(x_q) * int(diff.reshape(m, -1).sum(axis=1).max()))
    x, conv_attrs = padded_input(ctx, node, quantized_input(ctx, node, 0, x_q), w.array.shape[2:], attrs)
    x = dequantized(ctx, x, node.name + ".dequantize")
    y = float_op(ctx, node, "Conv", [x, dequantize_constant(w.array, w_q)], conv_attrs, contraction.conv)
    return quantized(ctx, y, INT32_RESULT, node.name + ".quantize")


# --- float ops on quantized values --------------------------------------------
# Ops whose result only moves or selects its input's values: on a quantized
# input (ONNX Runtime runs them on uint8), the same op on the dequantized
# values, quantized back to the input's type (exact; quant-opt turns it back
# into integer data movement).
PASS_THROUGH = frozenset({"MaxPool", "GlobalMaxPool", "Relu", "Flatten", "Reshape", "Transpose",
                          "Squeeze", "Unsqueeze"})


def reads_quantized_input(node, inputs) -> bool:
    return any(isinstance(v, Act) and v.qtype for v in inputs)


def pass_through(ctx, node, inputs, attrs, converter):
    """`node` (one of PASS_THROUGH) on the quantized activation input 0."""
    x = inputs[0]
    if not (isinstance(x, Act) and x.qtype) or any(isinstance(v, Act) and v.qtype for v in inputs[1:]):
        raise _error(node, "only its first input may be quantized")
    if x.qparams is None or x.qparams.axis is not None or x.qparams.storage not in ("u8", "i8"):
        raise _error(node, f"reads '{node.input[0]}', quantized per axis or wider than 8 bits; only "
                           "per-tensor INT8 / UINT8 values pass through it")
    values = [dequantized(ctx, x, node.name + ".dequantize")] + list(inputs[1:])
    y = float_op(ctx, node, node.op_type, values, attrs, converter)
    return quantized(ctx, y, x.qparams, node.name + ".quantize")


def cast_int32(ctx, node, inputs, attrs):
    """A Cast to FLOAT of a MatMulInteger / ConvInteger result: its
    dequantized values (exact below 2^24, which they were checked to be)."""
    x = inputs[0]
    if attrs.get("to") != onnx.TensorProto.FLOAT or x.qparams is None or not _same(x.qparams, INT32_RESULT):
        raise _error(node, f"reads the quantized tensor '{node.input[0]}'; only a Cast to FLOAT of an "
                           "int32 MatMulInteger / ConvInteger result is supported")
    return dequantized(ctx, x, node.name)


QOPERATOR_OPS = frozenset({"QLinearConv", "QLinearMatMul", "QGemm", "QLinearAdd", "QLinearMul",
                           "QLinearAveragePool", "QLinearGlobalAveragePool", "QLinearSigmoid",
                           "QLinearLeakyRelu", "MatMulInteger", "ConvInteger"})
