"""Normalizations and reductions: BatchNormalization (when not folded into
its Conv, see graph.fold_batch_norms: of an image, a 1x1 depthwise Conv;
else a per-channel scale and shift), Softmax, LayerNormalization,
ReduceMean, ReduceSum, ReduceMax and ReduceMin.

Softmax and LayerNormalization expand into reductions and a final
`linalg.generic`; the reductions are marked `qnn.internal` so that their
intermediate values are not quantized."""

from __future__ import annotations

import math

import numpy as np

from . import integer
from .contraction import conv
from .elementwise import elementwise
from .emitter import f32_literal
from .pooling import pool
from .registry import register
from .shape import axes_of, reshape
from .values import Act, Const, UnsupportedModelError

LOWEST = -3.4028234663852886e38  # the lowest f32: the init of a max


@register("BatchNormalization", constant_inputs=(1, 2, 3, 4))
def batch_normalization(ctx, node, inputs, attrs):
    if attrs.get("training_mode", 0):
        raise UnsupportedModelError(f"BatchNormalization node '{node.name}': training_mode=1 "
                                    "(normalizes with the batch's own statistics) is not "
                                    "inference")
    x = ctx.act(node.input[0], node)
    if not all(isinstance(v, Const) for v in inputs[1:5]):
        raise UnsupportedModelError(f"BatchNormalization node '{node.name}': parameters must be "
                                    "constant")
    gamma, beta, mean, var = (v.array.astype(np.float64) for v in inputs[1:5])
    a = gamma / np.sqrt(var + attrs.get("epsilon", 1e-5))
    b = beta - mean * a
    channels = x.shape[1] if len(x.shape) > 1 else 0
    if len(x.shape) == 4 and channels > 1 and a.size == b.size == channels:
        # Of an image (DenseNet's BatchNormalization after a Concat): a 1x1
        # depthwise Conv with a bias, which quant-opt fuses into integers
        # with a Relu after it (its per-channel weights quantize exactly).
        weights = Const(a.astype(np.float32).reshape(channels, 1, 1, 1))
        return conv(ctx, node, [x, weights, Const(b.astype(np.float32))], {"group": channels})
    shape = (1, -1) + (1,) * (len(x.shape) - 2)
    return elementwise(ctx, node, lambda v: ([f"%m = arith.mulf {v[0]}, {v[1]} : f32",
                                             f"%r = arith.addf %m, {v[2]} : f32"], "%r"),
                       [x, Const(a.astype(np.float32).reshape(shape)),
                        Const(b.astype(np.float32).reshape(shape))])


def reduce_last(ctx, node, x: Act, axes, body, init, combine, suffix, extra=()):
    """A reduction of `x` (plain) over `axes` (trailing), keeping them as
    size 1 dims removed: the result has x's shape without those axes."""
    rank = len(x.shape)
    out = tuple(d for i, d in enumerate(x.shape) if i not in axes)
    keep = [i for i in range(rank) if i not in axes]
    ins = [(x.value, list(range(rank)))] + [(e.value, keep) for e in extra]

    def gbody(args):
        lines, value = body(args[:-1])
        return lines + [f"%acc2 = arith.{combine} {value}, {args[-1]} : f32"], "%acc2"
    return Act(ctx.emitter.generic(ins, out, gbody, node.name + suffix, reduce_dims=tuple(axes),
                                   init_value=init, internal=True))


# Reductions other than the mean: the arith op combining two values, and
# the identity it starts from.
REDUCTIONS = {"ReduceSum": ("addf", 0.0), "ReduceMax": ("maximumf", LOWEST),
              "ReduceMin": ("minimumf", -LOWEST)}


@register(*REDUCTIONS, constant_inputs=(1,))
def reduce(ctx, node, inputs, attrs):
    x = ctx.to_plain(ctx.act(node.input[0], node, integer=True), node.name)
    rank = len(x.shape)
    axes = axes_of(node, inputs, attrs, rank)
    if not axes and attrs.get("noop_with_empty_axes", 0):
        return x
    axes = axes or list(range(rank))
    if x.integer_type:
        return integer.reduce(ctx, node, x, axes, attrs.get("keepdims", 1))
    combine, init = REDUCTIONS[node.op_type]
    if node.op_type != "ReduceSum" and any(x.shape[a] == 0 for a in axes):
        # Over an empty set, ReduceMax is -inf and ReduceMin +inf (ONNX);
        # elsewhere the finite identity is the same and keeps ranges finite.
        init = -math.inf if node.op_type == "ReduceMax" else math.inf
    out = tuple(d for i, d in enumerate(x.shape) if i not in axes)
    # Not `qnn.internal` (as Softmax's inner reductions are): the result is
    # an activation of the model.
    result = Act(ctx.emitter.generic(
        [(x.value, list(range(rank)))], out,
        lambda a: ([f"%acc2 = arith.{combine} {a[0]}, {a[1]} : f32"], "%acc2"), node.name,
        reduce_dims=tuple(axes), init_value=init))
    if attrs.get("keepdims", 1):
        result = reshape(ctx, result, tuple(1 if i in axes else d for i, d in enumerate(x.shape)),
                         node.name + ".keepdims")
    return result


@register("Softmax")
def softmax(ctx, node, inputs, attrs):
    x = ctx.to_plain(ctx.act(node.input[0], node), node.name)
    rank = len(x.shape)
    if ctx.opset < 13:
        # Softmax-1 and -11 normalize over all the dims from `axis` on.
        axis = attrs.get("axis", 1) % rank
        axes = tuple(range(axis, rank))
    else:
        axes = (attrs.get("axis", -1) % rank,)
    keep = [i for i in range(rank) if i not in axes]
    mx = reduce_last(ctx, node, x, axes, lambda a: ([], a[0]), LOWEST, "maximumf", ".max")
    sm = reduce_last(ctx, node, x, axes, lambda a: ([f"%d = arith.subf {a[0]}, {a[1]} : f32",
                                                     "%e = math.exp %d : f32"], "%e"),
                     0.0, "addf", ".sum", extra=(mx,))
    return Act(ctx.emitter.generic(
        [(x.value, list(range(rank))), (mx.value, keep), (sm.value, keep)], x.shape,
        lambda a: ([f"%d = arith.subf {a[0]}, {a[1]} : f32", "%e = math.exp %d : f32",
                    f"%r = arith.divf %e, {a[2]} : f32"], "%r"), node.name))


@register("LayerNormalization", constant_inputs=(1, 2))
def layer_normalization(ctx, node, inputs, attrs):
    x = ctx.to_plain(ctx.act(node.input[0], node), node.name)
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
    total = reduce_last(ctx, node, x, axes, lambda a: ([], a[0]), 0.0, "addf", ".sum")
    inv = f32_literal(1.0 / count)
    sq = reduce_last(ctx, node, x, axes, lambda a: ([f"%n = arith.constant {inv} : f32",
                                                     f"%mean = arith.mulf {a[1]}, %n : f32",
                                                     f"%c = arith.subf {a[0]}, %mean : f32",
                                                     "%s = arith.mulf %c, %c : f32"], "%s"),
                     0.0, "addf", ".var", extra=(total,))
    norm_shape = x.shape[axis:]
    gamma = np.broadcast_to(scale.array.astype(np.float32), norm_shape)
    beta = np.broadcast_to(bias.array.astype(np.float32) if bias is not None else np.float32(0),
                           norm_shape)
    gv, bv = ctx.emitter.constant(np.ascontiguousarray(gamma)), ctx.emitter.constant(np.ascontiguousarray(beta))
    ins = [(x.value, list(range(rank))), (total.value, keep), (sq.value, keep), (gv, list(axes)), (bv, list(axes))]
    y = Act(ctx.emitter.generic(ins, x.shape, lambda a: ([
        f"%n = arith.constant {inv} : f32", f"%eps = arith.constant {f32_literal(eps)} : f32",
        f"%mean = arith.mulf {a[1]}, %n : f32", f"%var = arith.mulf {a[2]}, %n : f32",
        "%ve = arith.addf %var, %eps : f32", "%rs = math.rsqrt %ve : f32",
        f"%c = arith.subf {a[0]}, %mean : f32", "%y = arith.mulf %c, %rs : f32",
        f"%g = arith.mulf %y, {a[3]} : f32", f"%r = arith.addf %g, {a[4]} : f32"], "%r"), node.name))
    if len(node.output) < 2:
        return y
    # Mean and InvStdDev (the training outputs, opset 17): the statistics
    # above, of shape x.shape[:axis] with the normalized axes kept as 1s.
    stats_shape = tuple(x.shape[:axis]) + (1,) * (rank - axis)
    mean = Act(ctx.emitter.generic([(total.value, keep)], x.shape[:axis], lambda a: (
        [f"%n = arith.constant {inv} : f32", f"%r = arith.mulf {a[0]}, %n : f32"], "%r"),
        node.name + ".mean", rank=axis))
    inv_std = Act(ctx.emitter.generic([(sq.value, keep)], x.shape[:axis], lambda a: (
        [f"%n = arith.constant {inv} : f32", f"%eps = arith.constant {f32_literal(eps)} : f32",
         f"%var = arith.mulf {a[0]}, %n : f32", "%ve = arith.addf %var, %eps : f32",
         "%r = math.rsqrt %ve : f32"], "%r"), node.name + ".inv_std_dev", rank=axis))
    return [y, reshape(ctx, mean, stats_shape, node.name + ".mean.keepdims"),
            reshape(ctx, inv_std, stats_shape, node.name + ".inv_std_dev.keepdims")]


@register("ReduceMean", constant_inputs=(1,))
def reduce_mean(ctx, node, inputs, attrs):
    x = ctx.act(node.input[0], node)
    rank = len(x.shape)
    axes = axes_of(node, inputs, attrs, rank) or list(range(rank))
    keep = attrs.get("keepdims", 1)
    if rank == 4 and axes == [2, 3]:
        # A global average pooling, which quant-opt fuses into integers.
        x = ctx.to_nhwc(x, node.name, node.op_type)
        pooled = pool(ctx, node, x, list(x.shape[2:]), [1, 1], (0, 0, 0, 0), "avg")
        return pooled if keep else reshape(ctx, ctx.to_plain(pooled, node.name + ".keepdims"),
                                           x.shape[:2], node.name + ".squeeze")
    x = ctx.to_plain(x, node.name)
    total = reduce_last(ctx, node, x, axes, lambda a: ([], a[0]), 0.0, "addf", ".sum")
    factor = 1.0 / float(np.prod([x.shape[a] for a in axes]))
    mean = elementwise(ctx, node, "mulf", [total, Const(np.array(factor, np.float32))])
    if keep:
        mean = reshape(ctx, mean, tuple(1 if i in axes else d for i, d in enumerate(x.shape)),
                       node.name + ".keepdims")
    return mean
