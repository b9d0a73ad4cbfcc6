"""Poolings: MaxPool, AveragePool, GlobalAveragePool and GlobalMaxPool, on NHWC
activations. An average is a sum pooling (located `<node>.sum`) then a
multiplication by 1 / window, the form quant-opt fuses into integers; each is
recorded (`average_pools`) for quant-eval's independent reference."""

from __future__ import annotations

import numpy as np

from .elementwise import elementwise
from .emitter import f32_literal, tensor_type
from .registry import register
from .shape import pad, pads
from .values import Act, Const, UnsupportedModelError

LOWEST = -3.4028234663852886e38  # the lowest f32: max pooling's padding and init


def pool(ctx, node, x: Act, kernel, strides, padding, kind, count_include_pad=True) -> Act:
    """A max (`kind` "max") or average pooling of the NHWC activation `x`;
    without `count_include_pad`, an average divides by the window's
    elements inside the input (not its padding)."""
    e = ctx.emitter
    n, c, h, w = x.shape
    xp = pad(ctx, x, padding, LOWEST if kind == "max" else 0.0, node.name)
    ph, pw = xp.physical[1], xp.physical[2]
    oh = (ph - kernel[0]) // strides[0] + 1
    ow = (pw - kernel[1]) // strides[1] + 1
    out = (n, oh, ow, c)
    init = e.init(out, LOWEST if kind == "max" else 0.0)
    window = e.init(tuple(kernel), None)
    op = "linalg.pooling_nhwc_max" if kind == "max" else "linalg.pooling_nhwc_sum"
    loc = node.name if kind == "max" else node.name + ".sum"
    result = Act(e.op(f"{op} {{dilations = dense<1> : tensor<2xi64>, strides = dense<[{strides[0]}, "
                      f"{strides[1]}]> : tensor<2xi64>}} ins({xp.ssa}, {window.ssa} : {tensor_type(xp.physical)}, "
                      f"{tensor_type(kernel)}) outs({init.ssa} : {tensor_type(out)}) -> {tensor_type(out)}",
                      out, loc), True)
    if kind == "max":
        return result
    if not count_include_pad and any(padding):
        # 1 / (inside rows x inside columns) per output position, a constant
        # (ONNX layout (1, 1, OH, OW)): not the scalar scaling quant-opt
        # fuses, so this average stays in float.
        top, left = padding[0], padding[1]
        rows = [len(range(max(0, o * strides[0] - top), min(h, o * strides[0] - top + kernel[0])))
                for o in range(oh)]
        cols = [len(range(max(0, o * strides[1] - left), min(w, o * strides[1] - left + kernel[1])))
                for o in range(ow)]
        factors = (1.0 / np.outer(rows, cols)).astype(np.float32).reshape(1, 1, oh, ow)
        return elementwise(ctx, node, "mulf", [result, Const(factors)])
    factor = 1.0 / (kernel[0] * kernel[1])
    ctx.average_pools[node.name] = {"input": xp.value.reference, "kernel": list(kernel),
                                    "strides": list(strides), "factor": float(np.float32(factor))}
    return Act(e.generic([(result.value, [0, 1, 2, 3])], out,
                         lambda a: ([f"%f = arith.constant {f32_literal(factor)} : f32",
                                     f"%r = arith.mulf {a[0]}, %f : f32"], "%r"), node.name), True)


def pool_attrs(node, x, attrs):
    """The kernel, strides and (top, left, bottom, right) pads of a 2-D
    pooling node, rejecting what the pooling ops do not do."""
    kernel = attrs["kernel_shape"]
    if len(kernel) != 2:
        raise UnsupportedModelError(f"{node.op_type} node '{node.name}': only 2-D pooling")
    strides = attrs.get("strides", [1, 1])
    if any(d != 1 for d in attrs.get("dilations", [1, 1])):
        raise UnsupportedModelError(f"{node.op_type} node '{node.name}': dilated pooling")
    padding = pads(node, attrs, x.shape[2:], kernel, strides, [1, 1])
    if attrs.get("ceil_mode", 0):
        padding = list(padding)
        for axis, (size, k, s) in enumerate(zip(x.shape[2:], kernel, strides)):
            lo, hi = padding[axis], padding[axis + 2]
            if (size + lo + hi - k) % s == 0:
                continue
            if node.op_type != "MaxPool":
                raise UnsupportedModelError(f"{node.op_type} node '{node.name}': ceil_mode=1 "
                                            "changes the output size")
            # One more window at the end, unless it would start in the end
            # padding (as onnxruntime and torch count): a max pooling gets it
            # from more end padding with the lowest float, which every
            # window's elements inside the input outweigh.
            out = -(-(size + lo + hi - k) // s) + 1
            if (out - 1) * s >= size + lo:
                out -= 1
            padding[axis + 2] = max(hi, (out - 1) * s + k - size - lo)
        padding = tuple(padding)
    return kernel, strides, padding


@register("MaxPool")
def max_pool(ctx, node, inputs, attrs):
    if len(node.output) > 1 and node.output[1]:
        raise UnsupportedModelError(f"MaxPool node '{node.name}': the Indices output")
    x = ctx.to_nhwc(ctx.act(node.input[0], node), node.name, node.op_type)
    kernel, strides, padding = pool_attrs(node, x, attrs)
    return pool(ctx, node, x, kernel, strides, padding, "max")


@register("AveragePool")
def average_pool(ctx, node, inputs, attrs):
    x = ctx.to_nhwc(ctx.act(node.input[0], node), node.name, node.op_type)
    kernel, strides, padding = pool_attrs(node, x, attrs)
    return pool(ctx, node, x, kernel, strides, padding, "avg", attrs.get("count_include_pad", 0))


@register("GlobalAveragePool")
def global_average_pool(ctx, node, inputs, attrs):
    x = ctx.to_nhwc(ctx.act(node.input[0], node), node.name, node.op_type)
    return pool(ctx, node, x, list(x.shape[2:]), [1, 1], (0, 0, 0, 0), "avg")


@register("GlobalMaxPool")
def global_max_pool(ctx, node, inputs, attrs):
    x = ctx.to_nhwc(ctx.act(node.input[0], node), node.name, node.op_type)
    return pool(ctx, node, x, list(x.shape[2:]), [1, 1], (0, 0, 0, 0), "max")
