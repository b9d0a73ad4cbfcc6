"""What the importer knows about each ONNX tensor: an activation (`Act`, an
emitted value and its layout) or a constant known at import time (`Const`),
with their quantization parameters (`QParams`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx

from .emitter import Value, f32_literal

NCHW_TO_NHWC = (0, 2, 3, 1)
NHWC_TO_NCHW = (0, 3, 1, 2)
# A logical NCHW axis to its position in NHWC.
NHWC_AXIS = {0: 0, 1: 3, 2: 1, 3: 2}


class UnsupportedModelError(ValueError):
    """The model cannot be imported; the message says every reason."""


# The integer (and bool) types of activations and their MLIR (signless)
# element types; a Cast to FLOAT converts them with arith.uitofp for the
# unsigned ones (bool included), else sitofp. INT4 / UINT4 values are held
# one per byte, as onnx unpacks them (ONNX computes nothing on them but
# casts and moves).
INTEGER_INPUTS = {onnx.TensorProto.UINT4: "i8", onnx.TensorProto.INT4: "i8",
                  onnx.TensorProto.UINT8: "i8", onnx.TensorProto.INT8: "i8",
                  onnx.TensorProto.UINT16: "i16", onnx.TensorProto.INT16: "i16",
                  onnx.TensorProto.UINT32: "i32", onnx.TensorProto.INT32: "i32",
                  onnx.TensorProto.UINT64: "i64", onnx.TensorProto.INT64: "i64",
                  onnx.TensorProto.BOOL: "i1"}
UNSIGNED_INPUTS = {onnx.TensorProto.UINT4, onnx.TensorProto.UINT8, onnx.TensorProto.UINT16, onnx.TensorProto.UINT32,
                   onnx.TensorProto.UINT64, onnx.TensorProto.BOOL}


@dataclass
class QParams:
    """Per-tensor or per-axis quantization parameters of ONNX QDQ nodes."""
    scale: np.ndarray
    zero_point: np.ndarray
    axis: int | None
    storage: str  # i8, u8, i16, u16, i32
    # Blocked (sub-channel) quantization, ONNX's opset-21 `block_size`: the
    # block size along each axis of the tensor (1 where every index has its
    # own scale); `scale` and `zero_point` then have the tensor's rank.
    blocks: tuple | None = None

    def type_for(self, axis_map=None) -> str:
        if self.blocks is not None:
            # The sub-channel type (docs/Semantics.md): one (scale, zero
            # point) per block, nested as the scale tensor.
            if axis_map is not None:
                raise ValueError("a blocked type is written in its tensor's own layout")
            sizes = ", ".join(f"{d}:{b}" for d, b in enumerate(self.blocks))
            zps = np.broadcast_to(self.zero_point, self.scale.shape)

            def nested(s, z):
                if s.ndim == 0:
                    return f"{f32_literal(float(s))}:{int(z)}"
                return "{" + ", ".join(nested(a, b) for a, b in zip(s, z)) + "}"
            return f"!quant.uniform<{self.storage}:f32:{{{sizes}}}, {nested(self.scale, zps)}>"
        if self.axis is None:
            return (f"!quant.uniform<{self.storage}:f32, "
                    f"{f32_literal(float(self.scale))}:{int(self.zero_point)}>")
        axis = self.axis if axis_map is None else axis_map[self.axis]
        zps = np.broadcast_to(self.zero_point, self.scale.shape)
        pairs = ", ".join(f"{f32_literal(float(s))}:{int(z)}" for s, z in zip(self.scale, zps))
        return f"!quant.uniform<{self.storage}:f32:{axis}, {{{pairs}}}>"


def physical_shape(shape, nhwc: bool) -> tuple:
    """The stored shape of a tensor of logical (ONNX) shape `shape`."""
    return tuple(shape[p] for p in NCHW_TO_NHWC) if nhwc else tuple(shape)


def expanded_params(q: QParams, shape) -> tuple:
    """Scale and zero point (int64) broadcastable to a tensor of `shape`
    (blocks repeated over their elements)."""
    if q.blocks is not None:
        scale, zero_point = q.scale, np.broadcast_to(q.zero_point, q.scale.shape).astype(np.int64)
        for d, b in enumerate(q.blocks):
            scale, zero_point = np.repeat(scale, b, axis=d), np.repeat(zero_point, b, axis=d)
        return scale, zero_point
    dims = [1] * len(shape)
    if q.axis is not None:
        dims[q.axis] = -1
    return q.scale.reshape(dims), q.zero_point.astype(np.int64).reshape(dims)


@dataclass(frozen=True)
class Act:
    """An activation: the value holding it and its layout. A quantized
    activation (after QuantizeLinear) has the quantized element type and the
    node's parameters."""
    value: Value
    nhwc: bool = False  # a 4-D NCHW tensor stored as NHWC
    qparams: QParams | None = None
    # An integer activation (a model input of an integer type, until a Cast
    # to FLOAT): its ONNX element type. Only Cast reads it.
    integer_type: int | None = None

    @property
    def ssa(self) -> str:
        return self.value.ssa

    @property
    def physical(self) -> tuple:
        return self.value.shape

    @property
    def shape(self) -> tuple:
        """The logical (ONNX) shape."""
        return tuple(self.value.shape[p] for p in NHWC_TO_NCHW) if self.nhwc else self.value.shape

    @property
    def qtype(self) -> str | None:
        return None if self.value.elem == "f32" or self.integer_type else self.value.elem


@dataclass
class Const:
    """A constant known at import time; `qparams` if it went through QDQ;
    `onnx_type` its ONNX element type where the model states it (for
    messages: NumPy has no FLOAT8 or INT4)."""
    array: np.ndarray
    qparams: QParams | None = None
    onnx_type: int | None = None
