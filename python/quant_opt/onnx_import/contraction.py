"""Contractions: Conv (2-D, plain or depthwise), Gemm and MatMul, with their
bias: a constant bias becomes its own `linalg.generic` after the contraction,
where quant-opt fuses it. A MatMul of constant 2-D weights imports the Add of
its bias with it (`find_matmul_biases`), before reshaping back.

Each contraction is recorded (`contractions`: kind, the reference name of its
input, weight and bias as emitted, strides, dilations) for quant-eval's
independent reference."""

from __future__ import annotations

import numpy as np

from .elementwise import elementwise
from .emitter import tensor_type
from .quantized import weight
from .registry import register
from .shape import broadcast, pad, pads, reshape
from .values import Act, Const, UnsupportedModelError


@register("Conv", constant_inputs=(1, 2))
def conv(ctx, node, inputs, attrs):
    x = ctx.to_nhwc(ctx.act(node.input[0], node), node.name, node.op_type)
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
    padding = pads(node, attrs, (h, wd), (kh, kw), strides, dilations)
    depthwise = group == c and cg == 1 and group > 1
    if group != 1 and not depthwise:
        raise UnsupportedModelError(f"Conv node '{node.name}': groups={group} (only 1 and "
                                    "depthwise are supported)")
    if depthwise and f != c:
        raise UnsupportedModelError(f"Conv node '{node.name}': depthwise with a channel "
                                    "multiplier is not supported")
    xp = pad(ctx, x, padding, 0.0, node.name)
    ph, pw = xp.physical[1], xp.physical[2]
    oh = (ph - dilations[0] * (kh - 1) - 1) // strides[0] + 1
    ow = (pw - dilations[1] * (kw - 1) - 1) // strides[1] + 1
    out_phys = (n, oh, ow, f)
    init = ctx.emitter.init(out_phys)
    conv_attrs = (f"{{dilations = dense<[{dilations[0]}, {dilations[1]}]> : tensor<2xi64>, "
                  f"strides = dense<[{strides[0]}, {strides[1]}]> : tensor<2xi64>}}")
    if depthwise:
        array = w.array.reshape(f, kh, kw).transpose(1, 2, 0)
        wv = weight(ctx, w, np.ascontiguousarray(array), {0: 2})
        op = "linalg.depthwise_conv_2d_nhwc_hwc"
    else:
        array = w.array.transpose(2, 3, 1, 0)
        wv = weight(ctx, w, np.ascontiguousarray(array), {0: 3, 1: 2, 2: 0, 3: 1})
        op = "linalg.conv_2d_nhwc_hwcf"
    y = ctx.emitter.op(f"{op} {conv_attrs} ins({xp.ssa}, {wv.ssa} : {tensor_type(xp.physical)}, "
                       f"{tensor_type(array.shape)}) outs({init.ssa} : {tensor_type(out_phys)}) -> "
                       f"{tensor_type(out_phys)}", out_phys, node.name)
    result = Act(y, True)
    bias = None
    if len(node.input) > 2 and node.input[2]:
        result = add_bias(ctx, result, inputs[2], node)
        bias = inputs[2].array.reshape(-1).astype(np.float32)
    ctx.contractions[node.name] = {
        "kind": "depthwise" if depthwise else "nhwc", "input": xp.value.reference,
        "weight": np.ascontiguousarray(array, dtype=np.float32), "bias": bias,
        "strides": list(strides), "dilations": list(dilations)}
    return result


def add_bias(ctx, y: Act, b, node) -> Act:
    """`y` plus the constant `b` along its last stored dim (the channels)."""
    if not isinstance(b, Const):
        raise UnsupportedModelError(f"{node.op_type} node '{node.name}': bias must be constant")
    bv = ctx.emitter.constant(b.array.reshape(-1))
    rank = len(y.physical)
    return Act(ctx.emitter.generic([(y.value, list(range(rank))), (bv, [rank - 1])], y.physical,
                                   lambda a: ([f"%s = arith.addf {a[0]}, {a[1]} : f32"], "%s"), node.name),
               y.nhwc)


def matmul2d(ctx, a: Act, b, k: int, n: int, name: str) -> Act:
    """The plain 2-D activation `a` times the (k, n) value `b`."""
    m = a.shape[0]
    init = ctx.emitter.init((m, n))
    return Act(ctx.emitter.op(f"linalg.matmul ins({a.ssa}, {b.ssa} : {tensor_type(a.shape)}, "
                              f"{tensor_type((k, n))}) outs({init.ssa} : {tensor_type((m, n))}) -> "
                              f"{tensor_type((m, n))}", (m, n), name))


@register("Gemm", constant_inputs=(1, 2))
def gemm(ctx, node, inputs, attrs):
    a = ctx.to_plain(ctx.act(node.input[0], node), node.name)
    if attrs.get("transA", 0):
        a = Act(ctx.emitter.transpose(a.value, (1, 0), node.name + ".transpose"))
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
    bv = weight(ctx, b, np.ascontiguousarray(array, dtype=np.float32), axis_map)
    y = matmul2d(ctx, a, bv, k, n, node.name)
    bias = None
    if len(node.input) > 2 and node.input[2]:
        c = inputs[2]
        if not isinstance(c, Const):
            raise UnsupportedModelError(f"Gemm node '{node.name}': C must be constant")
        carr = c.array * np.float32(beta)
        if carr.ndim < 2 or carr.shape[0] == 1:  # a row: a bias
            bias = np.broadcast_to(carr.reshape(-1), (n,)).astype(np.float32)
            y = add_bias(ctx, y, Const(bias), node)
        else:
            return elementwise(ctx, node, "addf", [y, Const(carr)])  # not a fused layer
    ctx.contractions[node.name] = {
        "kind": "matmul", "input": a.value.reference, "weight": np.ascontiguousarray(array, dtype=np.float32),
        "bias": bias, "strides": [1, 1], "dilations": [1, 1]}
    return y


@register("MatMul")
def matmul(ctx, node, inputs, attrs):
    a_in, b_in = inputs
    if isinstance(b_in, Const) and b_in.array.ndim == 2 and not isinstance(a_in, Const):
        a = ctx.to_plain(ctx.act(node.input[0], node), node.name)
        k, n = b_in.array.shape
        bv = weight(ctx, b_in, np.ascontiguousarray(b_in.array, dtype=np.float32), None)
        lead = a.shape[:-1]
        flat = a
        if len(a.shape) != 2:
            flat = reshape(ctx, a, (int(np.prod(lead)), k), node.name + ".flatten")
        y = matmul2d(ctx, flat, bv, k, n, node.name)
        add, bias = ctx.matmul_biases.get(node.output[0], (None, None))
        if add is not None and bias.array.ndim > len(a.shape):
            add = None  # the Add broadcasts the result to a higher rank
        ctx.contractions[node.name] = {
            "kind": "matmul", "input": flat.value.reference,
            "weight": np.ascontiguousarray(b_in.array, dtype=np.float32),
            "bias": bias.array.reshape(-1).astype(np.float32) if add is not None else None,
            "strides": [1, 1], "dilations": [1, 1]}
        if add is not None:
            y = add_bias(ctx, y, Const(bias.array.reshape(-1).astype(np.float32)), add)
            ctx.done.add(id(add))
        if len(a.shape) != 2:
            y = reshape(ctx, y, lead + (n,), (add.name if add else node.name) + ".reshape")
        if add is not None:
            ctx.values[add.output[0]] = y
        return y
    # Two activations: a batched matmul over the leading dims.
    a = ctx.to_plain(ctx.act(node.input[0], node), node.name)
    b = ctx.to_plain(ctx.act(node.input[1], node), node.name)
    if len(a.shape) < 2 or len(b.shape) < 2:
        raise UnsupportedModelError(f"MatMul node '{node.name}': 1-D operands are not supported")
    lead = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = broadcast(ctx, a, tuple(lead) + a.shape[-2:], node.name + ".broadcast_a")
    b = broadcast(ctx, b, tuple(lead) + b.shape[-2:], node.name + ".broadcast_b")
    batch = int(np.prod(lead)) if lead else 1
    m, k = a.shape[-2:]
    n = b.shape[-1]
    a3 = reshape(ctx, a, (batch, m, k), node.name + ".a")
    b3 = reshape(ctx, b, (batch, k, n), node.name + ".b")
    init = ctx.emitter.init((batch, m, n))
    y = Act(ctx.emitter.op(f"linalg.batch_matmul ins({a3.ssa}, {b3.ssa} : {tensor_type(a3.shape)}, "
                           f"{tensor_type(b3.shape)}) outs({init.ssa} : {tensor_type((batch, m, n))}) -> "
                           f"{tensor_type((batch, m, n))}", (batch, m, n), node.name))
    ctx.activation_matmuls[node.name] = {"inputs": [a3.value.reference, b3.value.reference]}
    return reshape(ctx, y, tuple(lead) + (m, n), node.name + ".reshape")
