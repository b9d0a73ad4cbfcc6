"""Poolings: MaxPool, AveragePool, GlobalAveragePool and GlobalMaxPool, on NHWC
activations. An average is a sum pooling (located `<node>.sum`) then a
multiplication by 1 / window, the form quant-opt fuses into integers; each is
recorded (`average_pools`) for quant-eval's independent reference."""

from __future__ import annotations

import numpy as np
import onnx

from .elementwise import elementwise
from .emitter import f32_literal, tensor_type
from .registry import register
from .shape import pad, pads, reshape
from .values import UNSIGNED_INPUTS, Act, Const, UnsupportedModelError

LOWEST = -3.4028234663852886e38  # the lowest f32: max pooling's padding and init


def pool(ctx, node, x: Act, kernel, strides, padding, kind, count_include_pad=True, dilations=(1, 1)) -> Act:
    """A max (`kind` "max") or average pooling of the NHWC activation `x`
    padded by (top, left, bottom, right); without `count_include_pad`, an
    average divides by the window's elements inside the input (not its
    padding)."""
    e = ctx.emitter
    n, c, h, w = x.shape
    xp = pad(ctx, x, padding, LOWEST if kind == "max" else 0.0, node.name)
    ph, pw = xp.physical[1], xp.physical[2]
    oh = (ph - (kernel[0] - 1) * dilations[0] - 1) // strides[0] + 1
    ow = (pw - (kernel[1] - 1) * dilations[1] - 1) // strides[1] + 1
    out = (n, oh, ow, c)
    init = e.init(out, LOWEST if kind == "max" else 0.0)
    window = e.init(tuple(kernel), None)
    op = "linalg.pooling_nhwc_max" if kind == "max" else "linalg.pooling_nhwc_sum"
    loc = node.name if kind == "max" else node.name + ".sum"
    result = Act(e.op(f"{op} {{dilations = dense<{_dense(dilations)}> : tensor<2xi64>, strides = "
                      f"dense<[{strides[0]}, {strides[1]}]> : tensor<2xi64>}} ins({xp.ssa}, {window.ssa} : "
                      f"{tensor_type(xp.physical)}, {tensor_type(kernel)}) outs({init.ssa} : {tensor_type(out)}) "
                      f"-> {tensor_type(out)}", out, loc), True)
    if kind == "max":
        return result
    counts = window_counts((h, w), kernel, strides, dilations, padding, (oh, ow), count_include_pad)
    if counts.min() != counts.max():
        # 1 / (window elements counted) per output position, a constant
        # (ONNX layout (1, 1, OH, OW)): not the scalar scaling quant-opt
        # fuses, so this average stays in float.
        factors = (1.0 / counts).astype(np.float32).reshape(1, 1, oh, ow)
        return elementwise(ctx, node, "mulf", [result, Const(factors)])
    factor = 1.0 / float(counts.flat[0])
    ctx.average_pools[node.name] = {"input": xp.value.reference, "kernel": list(kernel),
                                    "strides": list(strides), "dilations": list(dilations),
                                    "factor": float(np.float32(factor))}
    return Act(e.generic([(result.value, [0, 1, 2, 3])], out,
                         lambda a: ([f"%f = arith.constant {f32_literal(factor)} : f32",
                                     f"%r = arith.mulf {a[0]}, %f : f32"], "%r"), node.name), True)


def _dense(values) -> str:
    return str(values[0]) if len(set(values)) == 1 else "[" + ", ".join(map(str, values)) + "]"


def window_counts(spatial, kernel, strides, dilations, padding, out, count_include_pad):
    """The elements each output position's window averages, an array of the
    output's spatial shape: the whole window with `count_include_pad` (also
    where ceil_mode's last window reaches past the pads: so ONNX's reference
    and onnxruntime divide), else those inside the input."""
    rank = len(spatial)
    if count_include_pad:
        return np.full(out, float(np.prod(kernel)))
    counts = np.ones(out)
    for axis in range(rank):
        inside = [sum(1 for k in range(kernel[axis])
                      if 0 <= o * strides[axis] - padding[axis] + k * dilations[axis] < spatial[axis])
                  for o in range(out[axis])]
        shape = [1] * rank
        shape[axis] = -1
        counts = counts * np.array(inside, dtype=np.float64).reshape(shape)
    return counts


def pool_attrs(node, x, attrs):
    """The kernel, strides, dilations and padding (all the begins, then all
    the ends) of a pooling node over x's spatial axes, ceil_mode's extra end
    padding included."""
    rank = len(x.shape) - 2
    kernel = list(attrs["kernel_shape"])
    if len(kernel) != rank or rank not in (1, 2, 3):
        raise UnsupportedModelError(f"{node.op_type} node '{node.name}': a {len(kernel)}-D kernel on a "
                                    f"{len(x.shape)}-D input (1-, 2- and 3-D pooling are supported)")
    strides = list(attrs.get("strides", [1] * rank))
    dilations = list(attrs.get("dilations", [1] * rank))
    padding = list(pads(node, attrs, x.shape[2:], kernel, strides, dilations))
    if attrs.get("ceil_mode", 0):
        for axis, (size, k, s, d) in enumerate(zip(x.shape[2:], kernel, strides, dilations)):
            lo, hi = padding[axis], padding[axis + rank]
            extent = (k - 1) * d + 1
            if (size + lo + hi - extent) % s == 0:
                continue
            # One more window at the end, unless it would start in the end
            # padding (as onnxruntime and torch count): a max pooling gets it
            # from more end padding with the lowest float, which every
            # window's elements inside the input outweigh; an average from
            # zeros, not counted (count_include_pad=0) or counted as ONNX's
            # reference and onnxruntime do (see `pool`).
            out = -(-(size + lo + hi - extent) // s) + 1
            if (out - 1) * s >= size + lo:
                out -= 1
            padding[axis + rank] = max(hi, (out - 1) * s + extent - size - lo)
    return kernel, strides, dilations, tuple(padding)


def pooling(ctx, node, attrs, kind, count_include_pad=True):
    """MaxPool (`kind` "max") or AveragePool of any supported rank: 2-D on
    NHWC (the form quant-opt quantizes), 1-D as 2-D with a unit axis, 3-D
    and integer max poolings as `generic_pool`."""
    x = ctx.act(node.input[0], node, integer=kind == "max")
    if len(x.shape) not in (3, 4, 5):
        raise UnsupportedModelError(f"{node.op_type} node '{node.name}': a {len(x.shape)}-D input "
                                    "(1-, 2- and 3-D pooling of (N, C, ...) inputs are supported)")
    kernel, strides, dilations, padding = pool_attrs(node, x, attrs)
    if x.integer_type or len(x.shape) == 5:
        return generic_pool(ctx, node, ctx.to_plain(x, node.name), kernel, strides, dilations, padding,
                            kind, count_include_pad)
    if len(x.shape) == 3:
        # (N, C, L) as (N, C, L, 1): the 2-D pooling with a unit axis.
        n, c, length = x.shape
        x4 = reshape(ctx, x, (n, c, length, 1), node.name + ".2d")
        y = pooling2d(ctx, node, x4, kernel + [1], strides + [1], dilations + [1],
                      (padding[0], 0, padding[1], 0), kind, count_include_pad)
        y = ctx.to_plain(y, node.name)
        return reshape(ctx, y, y.shape[:3], node.name + ".1d")
    return pooling2d(ctx, node, x, kernel, strides, dilations, padding, kind, count_include_pad)


def pooling2d(ctx, node, x, kernel, strides, dilations, padding, kind, count_include_pad):
    x = ctx.to_nhwc(x, node.name, node.op_type)
    return pool(ctx, node, x, kernel, strides, padding, kind, count_include_pad, dilations)


def generic_pool(ctx, node, x: Act, kernel, strides, dilations, padding, kind, count_include_pad) -> Act:
    """A pooling of the plain (N, C, spatial...) activation `x` as one
    linalg.generic (3-D pooling, which linalg's NHWC named ops do not
    cover, and max pooling of integers): loops (n, c, outputs..., window...),
    the window read at output * stride + window index * dilation. Not
    quantized through: it stays in its type."""
    e = ctx.emitter
    rank = len(kernel)
    elem = x.value.elem
    if x.integer_type:
        info = np.iinfo(np.dtype(onnx.helper.tensor_dtype_to_np_dtype(x.integer_type)))
        lowest, combine = (int(info.min), "maxui" if x.integer_type in UNSIGNED_INPUTS else "maxsi")
        if x.integer_type == onnx.TensorProto.BOOL:
            lowest = 0
    else:
        lowest, combine = (LOWEST, "maximumf") if kind == "max" else (0.0, "addf")
    begin, end = list(padding[:rank]), list(padding[rank:])
    xp = x.value
    if any(padding):
        xp = e.pad(xp, [0, 0] + begin, [0, 0] + end, lowest, node.name + ".pad")
    out_spatial = tuple((p - (k - 1) * d - 1) // s + 1
                        for p, k, s, d in zip(xp.shape[2:], kernel, strides, dilations))
    out = tuple(x.shape[:2]) + out_spatial
    window = e.init(tuple(kernel), None)
    reads = [0, 1] + [f"d{2 + i} * {strides[i]} + d{2 + rank + i} * {dilations[i]}" for i in range(rank)]
    result = Act(e.generic([(xp, reads), (window, list(range(2 + rank, 2 + 2 * rank)))], out,
                           lambda a: ([f"%r = arith.{combine} {a[0]}, {a[2]} : {elem}"], "%r"),
                           node.name if kind == "max" else node.name + ".sum",
                           reduce_dims=tuple(range(2 + rank, 2 + 2 * rank)), init_value=lowest,
                           out_elem=elem), integer_type=x.integer_type)
    if kind == "max":
        return result
    counts = window_counts(x.shape[2:], kernel, strides, dilations, padding, out_spatial, count_include_pad)
    factors = (1.0 / counts).astype(np.float32).reshape((1, 1) + out_spatial)
    if counts.min() == counts.max():
        factors = np.array(factors.flat[0], np.float32)
    return elementwise(ctx, node, "mulf", [result, Const(factors)])


@register("MaxPool")
def max_pool(ctx, node, inputs, attrs):
    y = pooling(ctx, node, attrs, "max")
    if len(node.output) > 1 and node.output[1]:
        return [y, max_indices(ctx, node, y, attrs)]
    return y


def max_indices(ctx, node, y: Act, attrs) -> Act:
    """MaxPool's Indices output: where each maximum is in the input, as an
    INT64 index into the flattened input (N, C and the spatial axes; its
    padding not counted), the spatial axes row-major (`storage_order` 0) or
    column-major (1); the first in the window's order where several hold
    the maximum. Two linalg.generic: the position in the window of the
    first element equal to the maximum (a min-reduction), then the flat
    index of that element."""
    e = ctx.emitter
    x = ctx.to_plain(ctx.act(node.input[0], node, integer=True), node.name)
    y = ctx.to_plain(y, node.name)
    kernel, strides, dilations, padding = pool_attrs(node, x, attrs)
    rank, elem = len(kernel), x.value.elem
    begin, end = list(padding[:rank]), list(padding[rank:])
    xp = x.value
    if any(padding):
        lowest = LOWEST if elem == "f32" else limits_low(x.integer_type)
        xp = e.pad(xp, [0, 0] + begin, [0, 0] + end, lowest, node.name + ".indices.pad")
    out = tuple(y.shape)
    window = e.init(tuple(kernel), None)
    reads = [0, 1] + [f"d{2 + i} * {strides[i]} + d{2 + rank + i} * {dilations[i]}" for i in range(rank)]
    last = int(np.prod(kernel))
    compare = "arith.cmpf oeq" if elem == "f32" else "arith.cmpi eq"

    def first(a):
        lines = ["%position0 = arith.constant 0 : index"]
        for i in range(rank):
            lines += [f"%w{i} = linalg.index {2 + rank + i} : index",
                      f"%size{i} = arith.constant {kernel[i]} : index",
                      f"%scaled{i} = arith.muli %position{i}, %size{i} : index",
                      f"%position{i + 1} = arith.addi %scaled{i}, %w{i} : index"]
        lines += [f"%position = arith.index_cast %position{rank} : index to i64",
                  f"%equal = {compare}, {a[0]}, {a[1]} : {elem}",
                  f"%candidate = arith.select %equal, %position, {a[3]} : i64",
                  f"%r = arith.minsi {a[3]}, %candidate : i64"]
        return lines, "%r"
    positions = e.generic([(xp, reads), (y.value, list(range(2 + rank))),
                           (window, list(range(2 + rank, 2 + 2 * rank)))], out, first,
                          node.name + ".indices.window", reduce_dims=tuple(range(2 + rank, 2 + 2 * rank)),
                          init_value=last, out_elem="i64")
    spatial = x.shape[2:]
    storage_order = int(attrs.get("storage_order", 0))

    def flat(a):
        lines = [f"%p = arith.index_cast {a[0]} : i64 to index"]
        coordinates = []
        rest = "%p"
        for i in reversed(range(rank)):
            # The window position's index along axis i, and the input's.
            lines += [f"%k{i} = arith.constant {kernel[i]} : index",
                      f"%wi{i} = arith.remui {rest}, %k{i} : index",
                      f"%rest{i} = arith.divui {rest}, %k{i} : index",
                      f"%o{i} = linalg.index {2 + i} : index",
                      f"%s{i} = arith.constant {strides[i]} : index",
                      f"%d{i} = arith.constant {dilations[i]} : index",
                      f"%pad{i} = arith.constant {begin[i]} : index",
                      f"%os{i} = arith.muli %o{i}, %s{i} : index",
                      f"%wd{i} = arith.muli %wi{i}, %d{i} : index",
                      f"%sum{i} = arith.addi %os{i}, %wd{i} : index",
                      f"%in{i} = arith.subi %sum{i}, %pad{i} : index"]
            rest = f"%rest{i}"
            coordinates.insert(0, f"%in{i}")
        # (n * C + c) times the spatial size, plus the spatial index:
        # row-major (the last axis varies fastest) or column-major (the
        # first).
        lines += ["%n = linalg.index 0 : index", "%c = linalg.index 1 : index",
                  f"%channels = arith.constant {x.shape[1]} : index",
                  f"%plane = arith.constant {int(np.prod(spatial))} : index",
                  "%nc = arith.muli %n, %channels : index", "%nc1 = arith.addi %nc, %c : index",
                  "%base = arith.muli %nc1, %plane : index"]
        value, stride = "%base", 1
        for j, i in enumerate(reversed(range(rank)) if storage_order == 0 else range(rank)):
            lines += [f"%st{j} = arith.constant {stride} : index",
                      f"%term{j} = arith.muli {coordinates[i]}, %st{j} : index",
                      f"%acc{j} = arith.addi {value}, %term{j} : index"]
            value, stride = f"%acc{j}", stride * spatial[i]
        lines.append(f"%r = arith.index_cast {value} : index to i64")
        return lines, "%r"
    return Act(e.generic([(positions, list(range(2 + rank)))], out, flat, node.name + ".indices",
                         out_elem="i64"), integer_type=onnx.TensorProto.INT64)


def limits_low(kind) -> int:
    if kind == onnx.TensorProto.BOOL:
        return 0
    return int(np.iinfo(onnx.helper.tensor_dtype_to_np_dtype(kind)).min)


@register("AveragePool")
def average_pool(ctx, node, inputs, attrs):
    return pooling(ctx, node, attrs, "avg", attrs.get("count_include_pad", 0))


@register("GlobalAveragePool")
def global_average_pool(ctx, node, inputs, attrs):
    x = ctx.to_nhwc(ctx.act(node.input[0], node), node.name, node.op_type)
    return pool(ctx, node, x, list(x.shape[2:]), [1, 1], (0, 0, 0, 0), "avg")


@register("GlobalMaxPool")
def global_max_pool(ctx, node, inputs, attrs):
    x = ctx.to_nhwc(ctx.act(node.input[0], node), node.name, node.op_type)
    return pool(ctx, node, x, list(x.shape[2:]), [1, 1], (0, 0, 0, 0), "max")
