"""QuantizeLinear and DequantizeLinear (QDQ models from ONNX Runtime's
quantizer or QAT export) and quantized constants.

On activations they become `qnn.quantize` / `qnn.dequantize` with their
scales and zero points. On constants they are folded at import time:
QuantizeLinear to the integers, DequantizeLinear to the float values that
remember their parameters, which `weight` writes under a `qnn.quantize` /
`qnn.dequantize` pair that quant-opt folds back into the same integers.
"""

from __future__ import annotations

import numpy as np
import onnx

from .emitter import Value, tensor_type
from .registry import register, register_fold
from .values import NHWC_AXIS, Act, Const, QParams, UnsupportedModelError, expanded_params

STORAGE = {np.dtype(np.int8): "i8", np.dtype(np.uint8): "u8", np.dtype(np.int16): "i16",
           np.dtype(np.uint16): "u16", np.dtype(np.int32): "i32"}
# 4-bit types (opset 21) have no NumPy dtype: onnx reads them as small
# integers in a wider type, so the ONNX type decides.
SUB_BYTE = {onnx.TensorProto.INT4: "i4", onnx.TensorProto.UINT4: "u4"}
STORAGE_RANGE = {"i4": (-8, 7), "u4": (0, 15)}


def storage_range(storage: str, dtype: np.dtype) -> tuple[int, int]:
    """[qmin, qmax] of a storage type (held in NumPy type `dtype`)."""
    if storage in STORAGE_RANGE:
        return STORAGE_RANGE[storage]
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def quantized_dtype(attrs) -> np.dtype:
    """The type QuantizeLinear quantizes to when it has no zero point."""
    if attrs.get("output_dtype"):  # opset 21
        return onnx.helper.tensor_dtype_to_np_dtype(attrs["output_dtype"])
    return np.dtype(np.uint8)


def quantized_onnx_type(attrs) -> int | None:
    """The ONNX type QuantizeLinear's `output_dtype` names, if any."""
    return attrs.get("output_dtype") or None


def _zero_point_type(node, inputs) -> str:
    """The ONNX element type of `node`'s zero point as the model declares
    it, for messages."""
    zp = inputs[2] if len(inputs) > 2 else None
    declared = getattr(zp, "onnx_type", None)
    return onnx.TensorProto.DataType.Name(declared) if declared else "type not recorded"


def qparams(node, inputs, attrs, rank: int, dtype: np.dtype, onnx_type: int | None = None) -> QParams:
    """The parameters of a Q/DQ node whose quantized side has `dtype`
    and, where known, ONNX type `onnx_type` (what the zero point's type
    says when the node has one)."""
    scale = inputs[1]
    zp = inputs[2] if len(inputs) > 2 else None
    if not isinstance(scale, Const) or (zp is not None and not isinstance(zp, Const)):
        raise UnsupportedModelError(f"{node.op_type} node '{node.name}': scale and zero point "
                                    "must be constants")
    declared = zp.onnx_type if zp is not None and zp.onnx_type else onnx_type
    z = zp.array if zp is not None else np.zeros((), dtype)
    storage = SUB_BYTE.get(declared) or STORAGE.get(z.dtype)
    if storage is None:
        # (numpy has no FLOAT8 or INT4: onnx reads those zero points as
        # float32 or int8-in-a-wider-type, so name what is supported.)
        raise UnsupportedModelError(
            f"{node.op_type} node '{node.name}': a zero point of NumPy type {z.dtype} "
            f"(ONNX {_zero_point_type(node, inputs)}); the quantized types supported are INT8, UINT8, "
            "INT16, UINT16, INT32, INT4 and UINT4")
    s = scale.array.astype(np.float32)
    if attrs.get("block_size", 0):
        return blocked(node, s, z, attrs, rank, storage)
    if s.ndim == 0 or s.size == 1:
        return QParams(s.reshape(()), z.reshape(()), None, storage)
    return QParams(s, z, attrs.get("axis", 1) % rank, storage)


def blocked(node, scale: np.ndarray, zero_point: np.ndarray, attrs, rank: int, storage: str) -> QParams:
    """Blocked quantization (opset 21): `block_size` consecutive elements
    along `axis` share a scale, which has the tensor's rank and, along
    `axis`, one entry per block (the block sizes are checked against the
    tensor by `check_blocks`)."""
    axis = attrs.get("axis", 1)
    if not -rank <= axis < rank or scale.ndim != rank:
        raise UnsupportedModelError(f"{node.op_type} node '{node.name}': blocked quantization along axis "
                                    f"{axis} with a scale of rank {scale.ndim} of a rank-{rank} tensor")
    if zero_point.shape not in ((), scale.shape):
        raise UnsupportedModelError(f"{node.op_type} node '{node.name}': zero point of shape "
                                    f"{zero_point.shape} for scales of shape {scale.shape}")
    blocks = [1] * rank
    blocks[axis % rank] = int(attrs["block_size"])
    return QParams(scale, np.broadcast_to(zero_point, scale.shape).copy(), None, storage, tuple(blocks))


def check_blocks(node, q: QParams, shape) -> None:
    """That the blocks of `q` tile a tensor of `shape` exactly (a sub-channel
    type has no partial last block; ONNX allows one)."""
    if q.blocks is None:
        return
    if tuple(n * b for n, b in zip(q.scale.shape, q.blocks)) != tuple(shape):
        axis = next(d for d, b in enumerate(q.blocks) if b != 1) if any(b != 1 for b in q.blocks) else 0
        raise UnsupportedModelError(
            f"{node.op_type} node '{node.name}': block_size {q.blocks[axis]} with scales of shape "
            f"{q.scale.shape} does not tile a tensor of shape {tuple(shape)} (a partial last block, or "
            "scales of another shape): quant-opt's sub-channel types need whole blocks")


@register_fold("QuantizeLinear")
def quantize_constant(ctx, node, inputs, attrs):
    """QuantizeLinear of a constant, evaluated: the integers, rounded half
    to even and saturated as ONNX says. QAT exports quantize float weights
    this way; the DequantizeLinear below reads them."""
    if not isinstance(inputs[0], Const):
        return None
    x = inputs[0].array.astype(np.float32)
    out_type = quantized_onnx_type(attrs)
    q = qparams(node, inputs, attrs, x.ndim, quantized_dtype(attrs), out_type)
    check_blocks(node, q, x.shape)
    scale, zero_point = expanded_params(q, x.shape)
    qmin, qmax = storage_range(q.storage, q.zero_point.dtype)
    values = np.rint(x / scale).astype(np.int64) + zero_point
    declared = inputs[2].onnx_type if len(inputs) > 2 and inputs[2].onnx_type else out_type
    return [Const(np.clip(values, qmin, qmax).astype(q.zero_point.dtype), onnx_type=declared)]


@register_fold("DequantizeLinear")
def dequantize_constant(ctx, node, inputs, attrs):
    if not isinstance(inputs[0], Const):
        return None
    raw = inputs[0].array
    q = qparams(node, inputs, attrs, raw.ndim, raw.dtype, inputs[0].onnx_type)
    check_blocks(node, q, raw.shape)
    scale, zero_point = expanded_params(q, raw.shape)
    x = (raw.astype(np.int64) - zero_point).astype(np.float32) * scale
    return [Const(x.astype(np.float32), q)]


def weight(ctx, const: Const, array: np.ndarray, axis_map) -> Value:
    """A weight constant (already transformed to `array`); quantized weights
    are written as quantize/dequantize of their dequantized values."""
    e = ctx.emitter
    value = e.constant(array)
    if const.qparams is None:
        return value
    if const.qparams.blocks is not None:
        raise UnsupportedModelError("a weight quantized in blocks (DequantizeLinear with block_size) "
                                    "read by a contraction is not supported yet")
    qtype = const.qparams.type_for(axis_map)
    q = e.op(f"qnn.quantize {value.ssa} : {value.type} -> {tensor_type(array.shape, qtype)}",
             array.shape, elem=qtype)
    return e.op(f"qnn.dequantize {q.ssa} : {q.type} -> {tensor_type(array.shape)}", array.shape)


@register("QuantizeLinear", constant_inputs=(1, 2))
def quantize(ctx, node, inputs, attrs):
    x = ctx.act(node.input[0], node)
    q = qparams(node, inputs, attrs, len(x.shape), quantized_dtype(attrs), quantized_onnx_type(attrs))
    if q.blocks is not None:
        # (The blocks are those of the ONNX layout.)
        x = ctx.to_plain(x, node.name)
        check_blocks(node, q, x.shape)
    qtype = q.type_for(NHWC_AXIS if x.nhwc else None)
    value = ctx.emitter.op(f"qnn.quantize {x.ssa} : {tensor_type(x.physical)} -> "
                           f"{tensor_type(x.physical, qtype)}", x.physical, node.name, qtype)
    return Act(value, x.nhwc, q)


@register("DequantizeLinear", reads_quantized=True, constant_inputs=(1, 2))
def dequantize(ctx, node, inputs, attrs):
    x = ctx.values[node.input[0]]
    if isinstance(x, Act) and x.integer_type is not None:
        return dequantize_input(ctx, node, inputs, attrs, x)
    if not isinstance(x, Act) or x.qtype is None:
        raise UnsupportedModelError(f"DequantizeLinear node '{node.name}' reads a float tensor")
    # qnn.dequantize takes the parameters of the quantized type, i.e.
    # those of the QuantizeLinear: they must be the same.
    q = qparams(node, inputs, attrs, len(x.shape), x.qparams.zero_point.dtype,
                next((t for t, name in SUB_BYTE.items() if name == x.qparams.storage), None))
    if (q.axis, q.storage, q.blocks) != (x.qparams.axis, x.qparams.storage, x.qparams.blocks) or not (
            np.array_equal(q.scale, x.qparams.scale) and np.array_equal(q.zero_point, x.qparams.zero_point)):
        raise UnsupportedModelError(f"DequantizeLinear node '{node.name}': its scale and zero point "
                                    f"differ from those that quantized '{node.input[0]}'")
    value = ctx.emitter.op(f"qnn.dequantize {x.ssa} : {x.value.type} -> {tensor_type(x.physical)}",
                           x.physical, node.name)
    return Act(value, x.nhwc)


# A model's integer input types as the storage of a quantized type.
INPUT_STORAGE = {onnx.TensorProto.UINT8: "u8", onnx.TensorProto.INT8: "i8", onnx.TensorProto.UINT16: "u16",
                 onnx.TensorProto.INT16: "i16", onnx.TensorProto.INT32: "i32", onnx.TensorProto.INT4: "i4",
                 onnx.TensorProto.UINT4: "u4"}


def dequantize_input(ctx, node, inputs, attrs, x: Act) -> Act:
    """DequantizeLinear of an integer model input: the input's integers
    reinterpreted as values of the quantized type (`quant.scast`), then
    `qnn.dequantize`; per tensor, per axis or in blocks. An INT4 / UINT4
    input (one value per byte, in the type's range) is truncated to i4
    first."""
    storage = INPUT_STORAGE.get(x.integer_type)
    dtype = onnx.helper.tensor_dtype_to_np_dtype(x.integer_type)
    q = qparams(node, inputs, attrs, len(x.shape), dtype)
    if storage is None or q.storage != storage:
        raise UnsupportedModelError(
            f"DequantizeLinear node '{node.name}' reads '{node.input[0]}', an input of type "
            f"{onnx.TensorProto.DataType.Name(x.integer_type)}, with a zero point of type {q.zero_point.dtype}")
    check_blocks(node, q, x.shape)
    qtype = q.type_for()
    if storage in SUB_BYTE.values():
        rank = len(x.physical)
        x = Act(ctx.emitter.generic([(x.value, list(range(rank)))], x.physical,
                                    lambda a: ([f"%r = arith.trunci {a[0]} : i8 to i4"], "%r"), node.name + ".i4",
                                    out_elem="i4"), integer_type=x.integer_type)
    stored = ctx.emitter.op(f"quant.scast {x.ssa} : {x.value.type} to {tensor_type(x.physical, qtype)}",
                            x.physical, node.name + ".stored", qtype)
    value = ctx.emitter.op(f"qnn.dequantize {stored.ssa} : {stored.type} -> {tensor_type(x.physical)}",
                           x.physical, node.name)
    return Act(value)
