"""Data movement and shapes: Reshape, Flatten, Squeeze / Unsqueeze, Slice,
Transpose, Concat, Pad, the ops that are the identity at inference (Cast to
float, Dropout) and those that only pass or make values (Constant, Identity,
Shape); with the reshape, broadcast and padding helpers other families use.

4-D activations are stored NHWC: ops that need the ONNX order (Flatten,
Reshape, Slice, ...) transpose back first; Transpose, Concat and a spatial Pad
work in the stored layout instead."""

from __future__ import annotations

import numpy as np
import onnx

from . import integer
from .emitter import tensor_type
from .graph import constant_node_value
from .registry import register, register_fold
from .values import INTEGER_INPUTS, NHWC_AXIS, UNSIGNED_INPUTS, Act, Const, UnsupportedModelError, physical_shape


@register_fold("Constant")
def constant(ctx, node, inputs, attrs):
    return [Const(constant_node_value(node))]


@register_fold("Identity")
def identity(ctx, node, inputs, attrs):
    return [inputs[0]]


@register_fold("Shape")
def shape_of(ctx, node, inputs, attrs):
    source = inputs[0]
    shape = source.array.shape if isinstance(source, Const) else source.shape
    # start and end (opset 15) slice as Python does
    shape = shape[attrs.get("start", 0):attrs.get("end", len(shape))]
    return [Const(np.array(shape, dtype=np.int64))]


def reshape(ctx, x: Act, shape, name) -> Act:
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
    e = ctx.emitter
    elem = x.value.elem  # (an integer activation keeps its type)
    if not src or not shape:
        # A scalar and a shape of ones (a reduction over all axes with
        # keepdims): no dimension to group.
        if not src:
            return Act(e.op(f"tensor.expand_shape {x.ssa} [] output_shape [{', '.join(map(str, shape))}] "
                            f": {tensor_type(src, elem)} into {tensor_type(shape, elem)}", shape, name, elem),
                       integer_type=x.integer_type)
        return Act(e.op(f"tensor.collapse_shape {x.ssa} [] : {tensor_type(src, elem)} into "
                        f"{tensor_type(shape, elem)}", shape, name, elem), integer_type=x.integer_type)
    groups = reassociation(src, shape)
    if groups is not None and len(shape) < len(src):
        return Act(e.op(f"tensor.collapse_shape {x.ssa} {_groups(groups)} : {tensor_type(src, elem)} into "
                        f"{tensor_type(shape, elem)}", shape, name, elem), integer_type=x.integer_type)
    groups = reassociation(shape, src)
    if groups is not None and len(shape) > len(src):
        return Act(e.op(f"tensor.expand_shape {x.ssa} {_groups(groups)} output_shape "
                        f"[{', '.join(map(str, shape))}] : {tensor_type(src, elem)} into {tensor_type(shape, elem)}",
                        shape, name, elem), integer_type=x.integer_type)
    # The importer has always taken an SSA number here and not used it;
    # skipped still, so that the text stays the same.
    e.fresh()
    flat = reshape(ctx, x, (int(np.prod(src)),), name + ".flat")
    return reshape(ctx, flat, shape, name)


def reassociation(big, small):
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


def broadcast(ctx, a: Act, shape, name) -> Act:
    """`a` (plain) broadcast to `shape` as ONNX broadcasts."""
    if tuple(a.shape) == tuple(shape):
        return a
    rank = len(shape)
    off = rank - len(a.shape)
    dims = [("0" if a.shape[i] == 1 and shape[i + off] != 1 else i + off) for i in range(len(a.shape))]
    return Act(ctx.emitter.generic([(a.value, dims)], shape, lambda args: ([], args[0]), name))


def pads(node, attrs, spatial, kernel, strides, dilations):
    """A window's padding, all the begins then all the ends ((top, left,
    bottom, right) in 2-D): `pads`, or what `auto_pad` computes."""
    auto_pad = attrs.get("auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
    if auto_pad in ("NOTSET", ""):
        return tuple(attrs.get("pads", [0] * (2 * len(spatial))))
    if auto_pad == "VALID":
        return (0,) * (2 * len(spatial))
    begin, end = [], []
    for size, k, s, d in zip(spatial, kernel, strides, dilations):
        out = -(-size // s)
        total = max(0, (out - 1) * s + (k - 1) * d + 1 - size)
        small, large = total // 2, total - total // 2
        begin.append(small if auto_pad == "SAME_UPPER" else large)
        end.append(large if auto_pad == "SAME_UPPER" else small)
    return tuple(begin + end)


def pad(ctx, x: Act, pads, value: float, name: str) -> Act:
    """The NHWC activation `x` padded spatially by (top, left, bottom,
    right) with `value`."""
    top, left, bottom, right = pads
    if not any(pads):
        return x
    return Act(ctx.emitter.pad(x.value, (0, top, left, 0), (0, bottom, right, 0), value, name + ".pad",
                               ("%i", "%j", "%k", "%l")), True)


def axes_of(node, inputs, attrs, rank, index=1, added=False):
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


@register("Flatten")
def flatten(ctx, node, inputs, attrs):
    x = ctx.to_plain(ctx.act(node.input[0], node), node.name)
    axis = attrs.get("axis", 1)  # in [-rank, rank]: rank flattens to (size, 1)
    axis = axis + len(x.shape) if axis < 0 else axis
    shape = (int(np.prod(x.shape[:axis])), int(np.prod(x.shape[axis:])))
    return reshape(ctx, x, shape, node.name)


@register("Reshape", constant_inputs=(1,))
def reshape_op(ctx, node, inputs, attrs):
    x = ctx.to_plain(ctx.act(node.input[0], node), node.name)
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
    return reshape(ctx, x, tuple(shape), node.name)


@register("Unsqueeze", constant_inputs=(1,))
def unsqueeze(ctx, node, inputs, attrs):
    x = ctx.to_plain(ctx.act(node.input[0], node), node.name)
    axes = axes_of(node, inputs, attrs, len(x.shape), added=True)
    if axes is None:
        raise UnsupportedModelError(f"Unsqueeze node '{node.name}': no axes")
    shape = list(x.shape)
    for axis in axes:
        shape.insert(axis, 1)
    return reshape(ctx, x, tuple(shape), node.name)


@register("Squeeze", constant_inputs=(1,))
def squeeze(ctx, node, inputs, attrs):
    x = ctx.to_plain(ctx.act(node.input[0], node), node.name)
    axes = axes_of(node, inputs, attrs, len(x.shape))
    if axes is None:
        axes = [i for i, d in enumerate(x.shape) if d == 1]
    if any(x.shape[a] != 1 for a in axes):
        raise UnsupportedModelError(f"Squeeze node '{node.name}': an axis of {x.shape} is not 1")
    return reshape(ctx, x, tuple(d for i, d in enumerate(x.shape) if i not in axes), node.name)


@register("Slice", constant_inputs=(1, 2, 3, 4))
def slice_op(ctx, node, inputs, attrs):
    x = ctx.to_plain(ctx.act(node.input[0], node), node.name)
    rank = len(x.shape)
    if ctx.opset < 10:
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
    reversed_axes = []
    for start, end, axis, step in zip(starts, ends, axes, steps):
        axis %= rank
        if step == 0:
            raise UnsupportedModelError(f"Slice node '{node.name}': a step of 0")
        count = len(range(*slice(start, end, step).indices(x.shape[axis])))
        begin = slice(start, end, step).indices(x.shape[axis])[0]
        if step < 0 and count:
            # The same elements in increasing order, reversed below.
            begin, step = begin + (count - 1) * step, -step
            reversed_axes.append(axis)
        offsets[axis], strides[axis], sizes[axis] = begin, step, count
    if 0 in sizes:
        # (A start past the end, as ONNX allows: the result is empty.)
        raise UnsupportedModelError(f"Slice node '{node.name}': the result {tuple(sizes)} has no "
                                    "elements; zero-size tensors are not supported")
    if not reversed_axes:
        return Act(ctx.emitter.op(f"tensor.extract_slice {x.ssa}[{', '.join(map(str, offsets))}] "
                                  f"[{', '.join(map(str, sizes))}] [{', '.join(map(str, strides))}] : "
                                  f"{tensor_type(x.shape)} to {tensor_type(sizes)}", sizes, node.name))
    # Negative steps: a slice with positive ones, then a linalg.generic
    # reading those axes backwards (index size - 1 - i).
    sliced = _slice(ctx, x, offsets, sizes, node.name + ".slice", strides)
    reads = [f"-d{i} + {sizes[i] - 1}" if i in reversed_axes else i for i in range(rank)]
    return Act(ctx.emitter.generic([(sliced.value, reads)], tuple(sizes), lambda a: ([], a[0]), node.name))


@register("Dropout", constant_inputs=(1, 2))
def dropout(ctx, node, inputs, attrs):
    """The identity at inference; its mask output, if asked for, all true
    (a constant: nothing is dropped)."""
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
    x = ctx.act(node.input[0], node)  # inference: the identity
    if len(node.output) > 1 and node.output[1]:
        return [x, Const(np.ones(x.shape, bool))]
    return x


@register("Cast")
def cast(ctx, node, inputs, attrs):
    """Cast between FLOAT, FLOAT16, BOOL and the integer types, as ONNX
    (and NumPy) convert: an integer to the nearest float, a float to an
    integer toward zero (out of range: undefined in ONNX), to BOOL x != 0,
    between integers by two's complement wrapping or extension. FLOAT16
    values are held in f32: a Cast to FLOAT16 rounds to f16 (ties to even)
    and back, exactly; so are BFLOAT16 ones (`bfloat16_round`). DOUBLE is
    f64 (`cast_double`)."""
    to = attrs.get("to")
    x = ctx.act(node.input[0], node, integer=True, double=True)
    source = x.integer_type  # None: a float
    rank = len(x.shape)
    T = onnx.TensorProto

    def map_elements(lines, elem):
        return Act(ctx.emitter.generic([(x.value, list(range(rank)))], x.physical,
                                       lambda a: (lines(a[0]), "%r"), node.name, out_elem=elem),
                   x.nhwc, integer_type=None if elem == "f32" else to)

    if to in FOUR_BIT:
        return cast_4bit(ctx, node, ctx.to_plain(x, node.name), to)
    if T.DOUBLE in (source, to):
        return cast_double(ctx, node, ctx.to_plain(x, node.name), to)

    if to in (T.FLOAT, T.FLOAT16, T.BFLOAT16):
        if source is not None:
            # An integer input (images as UINT8, ids as INT64) converted
            # exactly as onnxruntime does: to the nearest float.
            convert = "arith.uitofp" if source in UNSIGNED_INPUTS else "arith.sitofp"
            x = map_elements(lambda a: [f"%r = {convert} {a} : {x.value.elem} to f32"], "f32")
        if to == T.FLOAT16:
            x = Act(ctx.emitter.generic([(x.value, list(range(rank)))], x.physical, lambda a: (
                [f"%h = arith.truncf {a[0]} : f32 to f16", "%r = arith.extf %h : f16 to f32"], "%r"),
                node.name + ".f16"), x.nhwc)
        if to == T.BFLOAT16:
            x = bfloat16_round(ctx, x, node.name + ".bf16")
        return x
    if to not in INTEGER_INPUTS:
        raise UnsupportedModelError(f"Cast node '{node.name}': to {T.DataType.Name(to)} is not supported on "
                                    "activations (FLOAT, FLOAT16, BFLOAT16, DOUBLE, BOOL and the 4- to 64-bit "
                                    "integer types are)")
    x = ctx.to_plain(x, node.name)
    elem = INTEGER_INPUTS[to]
    if source is None:
        if to == T.BOOL:
            return map_elements(lambda a: ["%zero = arith.constant 0.0 : f32",
                                           f"%r = arith.cmpf une, {a}, %zero : f32"], elem)
        convert = "arith.fptoui" if to in UNSIGNED_INPUTS else "arith.fptosi"
        return map_elements(lambda a: [f"%r = {convert} {a} : f32 to {elem}"], elem)
    have = x.value.elem
    if to == T.BOOL:
        return map_elements(lambda a: [f"%zero = arith.constant 0 : {have}",
                                       f"%r = arith.cmpi ne, {a}, %zero : {have}"], elem)
    if have == elem:
        return Act(x.value, x.nhwc, integer_type=to)  # the same bits, read with another sign
    if int(have[1:]) > int(elem[1:]):
        return map_elements(lambda a: [f"%r = arith.trunci {a} : {have} to {elem}"], elem)
    extend = "arith.extui" if source in UNSIGNED_INPUTS else "arith.extsi"
    return map_elements(lambda a: [f"%r = {extend} {a} : {have} to {elem}"], elem)


def bfloat16_bits(x: str) -> list[str]:
    """Body lines rounding the f32 `x` to BFLOAT16, to nearest, ties to
    even (a NaN to the quiet NaN 0x7FC0), as onnxruntime does (and
    onnx.helper.float32_to_bfloat16 by default; onnx's reference evaluator
    truncates), on its bits: the result's 16 bits in the high half of the
    i32 `%bf`. (Integer arithmetic, so denormals are rounded: arith.truncf
    to bf16 flushes them to zero in quant-opt's CPU pipeline.)"""
    return [f"%bits = arith.bitcast {x} : f32 to i32", "%c16 = arith.constant 16 : i32",
            "%c1 = arith.constant 1 : i32", "%c7fff = arith.constant 32767 : i32",
            "%low = arith.constant -65536 : i32", "%qnan = arith.constant 2143289344 : i32",
            "%hi = arith.shrui %bits, %c16 : i32", "%lsb = arith.andi %hi, %c1 : i32",
            "%bias = arith.addi %lsb, %c7fff : i32", "%sum = arith.addi %bits, %bias : i32",
            "%rounded = arith.andi %sum, %low : i32", f"%nan = arith.cmpf uno, {x}, {x} : f32",
            "%bf = arith.select %nan, %qnan, %rounded : i32"]


def bfloat16_round(ctx, x: Act, name: str) -> Act:
    """The float activation `x` rounded to BFLOAT16 values, held in f32
    (exactly: a BFLOAT16 is the high half of an f32)."""
    return Act(ctx.emitter.generic([(x.value, list(range(len(x.physical))))], x.physical, lambda a: (
        bfloat16_bits(a[0]) + ["%r = arith.bitcast %bf : i32 to f32"], "%r"), name), x.nhwc)


# INT4 / UINT4 -> their range (their values are held one per i8).
FOUR_BIT = {onnx.TensorProto.INT4: (-8, 7), onnx.TensorProto.UINT4: (0, 15)}


def cast_4bit(ctx, node, x: Act, to: int) -> Act:
    """A Cast to INT4 / UINT4, as ONNX's reference casts: saturated to the
    4-bit range, a float rounded to nearest, ties to even (NaN is
    undefined); the values held in an i8."""
    lo, hi = FOUR_BIT[to]
    source, have = x.integer_type, x.value.elem
    if source is None:
        def body(a):
            return [f"%lo = arith.constant {float(lo)} : f32", f"%hi = arith.constant {float(hi)} : f32",
                    f"%m = arith.maximumf {a[0]}, %lo : f32", "%n = arith.minimumf %m, %hi : f32",
                    "%e = math.roundeven %n : f32", "%r = arith.fptosi %e : f32 to i8"], "%r"
    elif source in INTEGER_INPUTS and source != onnx.TensorProto.BOOL:
        unsigned = source in UNSIGNED_INPUTS

        def body(a):
            lines = [f"%hi = arith.constant {hi} : {have}",
                     f"%n = arith.{'minui' if unsigned else 'minsi'} {a[0]}, %hi : {have}"]
            value = "%n"
            if not unsigned:
                lines += [f"%lo = arith.constant {lo} : {have}", f"%m = arith.maxsi %n, %lo : {have}"]
                value = "%m"
            if have != "i8":
                lines.append(f"%r = arith.trunci {value} : {have} to i8")
                value = "%r"
            return lines, value
    else:
        raise UnsupportedModelError(f"Cast node '{node.name}': to {onnx.TensorProto.DataType.Name(to)} from "
                                    f"{onnx.TensorProto.DataType.Name(source)} is not supported")
    return Act(ctx.emitter.generic([(x.value, list(range(len(x.shape))))], x.shape, body, node.name,
                                   out_elem="i8"), integer_type=to)


def cast_double(ctx, node, x: Act, to: int) -> Act:
    """A Cast from or to DOUBLE (f64) of the plain activation `x`: from
    FLOAT (and FLOAT16, held in f32) exactly, from an integer to the
    nearest double; to FLOAT or FLOAT16 rounded to nearest, ties to even
    (to FLOAT16 in one rounding, f64 to f16), to an integer toward zero,
    to BOOL x != 0."""
    T = onnx.TensorProto
    source = x.integer_type
    if source == to:
        return x
    rank = len(x.shape)
    have = x.value.elem
    if to == T.DOUBLE:
        if source is None:
            line = lambda a: f"%r = arith.extf {a} : f32 to f64"  # noqa: E731
        else:
            convert = "arith.uitofp" if source in UNSIGNED_INPUTS else "arith.sitofp"
            line = lambda a: f"%r = {convert} {a} : {have} to f64"  # noqa: E731
        lines, elem = (lambda a: [line(a)]), "f64"
    elif to == T.FLOAT:
        lines, elem = (lambda a: [f"%r = arith.truncf {a} : f64 to f32"]), "f32"
    elif to == T.FLOAT16:
        lines, elem = (lambda a: [f"%h = arith.truncf {a} : f64 to f16", "%r = arith.extf %h : f16 to f32"]), "f32"
    elif to == T.BOOL:
        lines, elem = (lambda a: ["%zero = arith.constant 0.0 : f64", f"%r = arith.cmpf une, {a}, %zero : f64"]), "i1"
    elif to in INTEGER_INPUTS:
        convert = "arith.fptoui" if to in UNSIGNED_INPUTS else "arith.fptosi"
        elem = INTEGER_INPUTS[to]
        lines = lambda a: [f"%r = {convert} {a} : f64 to {elem}"]  # noqa: E731
    else:
        raise UnsupportedModelError(f"Cast node '{node.name}': to {T.DataType.Name(to)} is not supported on "
                                    "activations (FLOAT, FLOAT16, BFLOAT16, DOUBLE, BOOL and the 4- to 64-bit "
                                    "integer types are)")
    kind = None if elem == "f32" else to
    return Act(ctx.emitter.generic([(x.value, list(range(rank)))], x.shape, lambda a: (lines(a[0]), "%r"),
                                   node.name, out_elem=elem), integer_type=kind)


@register("Transpose")
def transpose(ctx, node, inputs, attrs):
    x = ctx.act(node.input[0], node)
    perm = attrs.get("perm", list(range(len(x.shape)))[::-1])
    if x.nhwc:
        # Compose with the stored layout instead of transposing twice.
        return Act(ctx.emitter.transpose(x.value, [NHWC_AXIS[p] for p in perm], node.name))
    return Act(ctx.emitter.transpose(x.value, perm, node.name))


@register("Concat")
def concat(ctx, node, inputs, attrs):
    values = [v if isinstance(v, Act) else Act(ctx.emitter.constant(v.array)) for v in inputs]
    rank = len(values[0].shape)
    axis = attrs["axis"] % rank
    nhwc = rank == 4 and any(v.nhwc for v in values)
    values = [ctx.to_nhwc(v, node.name) if nhwc else ctx.to_plain(v, node.name) for v in values]
    shape = list(values[0].shape)
    shape[axis] = sum(v.shape[axis] for v in values)
    physical = physical_shape(shape, nhwc)
    dim = NHWC_AXIS[axis] if nhwc else axis
    return Act(ctx.emitter.op(f"tensor.concat dim({dim}) {', '.join(v.ssa for v in values)} : "
                              f"({', '.join(tensor_type(v.physical) for v in values)}) -> "
                              f"{tensor_type(physical)}", physical, node.name), nhwc)


@register("Split", constant_inputs=(1,))
def split(ctx, node, inputs, attrs):
    """Slices along one axis, in the stored layout (an NHWC activation stays
    NHWC). Sizes from the `split` input (opset 13+) or attribute, else equal
    parts (the last one smaller where opset 18's num_outputs does not
    divide)."""
    x = ctx.act(node.input[0], node)
    rank = len(x.shape)
    axis = attrs.get("axis", 0) % rank
    count = len(node.output)
    if len(node.input) > 1 and node.input[1]:
        if not isinstance(inputs[1], Const):
            raise UnsupportedModelError(f"Split node '{node.name}': the split sizes must be constant")
        sizes = [int(v) for v in inputs[1].array.reshape(-1)]
    elif "split" in attrs:
        sizes = [int(v) for v in attrs["split"]]
    else:
        chunk = -(-x.shape[axis] // count)
        sizes = [min(chunk, x.shape[axis] - k * chunk) for k in range(count)]
    if len(sizes) != count or sum(sizes) != x.shape[axis] or min(sizes) < 1:
        raise UnsupportedModelError(f"Split node '{node.name}': sizes {sizes} do not split axis {axis} "
                                    f"of {x.shape} into {count} non-empty parts")
    dim = NHWC_AXIS[axis] if x.nhwc else axis
    results, offset = [], 0
    for k, size in enumerate(sizes):
        offsets = [0] * rank
        offsets[dim] = offset
        shape = list(x.physical)
        shape[dim] = size
        results.append(Act(ctx.emitter.op(
            f"tensor.extract_slice {x.ssa}[{', '.join(map(str, offsets))}] [{', '.join(map(str, shape))}] "
            f"[{', '.join(['1'] * rank)}] : {tensor_type(x.physical)} to {tensor_type(shape)}",
            tuple(shape), f"{node.name}.{k}"), x.nhwc))
        offset += size
    return results


@register("Pad", constant_inputs=(1, 2, 3))
def pad_op(ctx, node, inputs, attrs):
    """Pad in its modes: constant (a tensor.pad; spatially on an NHWC
    activation, in its layout), and edge, reflect and wrap as
    concatenations of slices of the input, axis after axis (as NumPy pads),
    exact for floats and integers alike. Negative pads crop first. `axes`
    (opset 18) name the axes the pads are for."""
    mode = attrs.get("mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if mode not in ("constant", "edge", "reflect", "wrap"):
        raise UnsupportedModelError(f"Pad node '{node.name}': mode '{mode}' (constant, edge, reflect and "
                                    "wrap are supported)")
    x = ctx.act(node.input[0], node, integer=True)
    rank = len(x.shape)
    if ctx.opset < 11:
        given, value, axes = list(attrs["pads"]), float(attrs.get("value", 0.0)), list(range(rank))
    else:
        for index, what in ((1, "pads"), (2, "constant_value"), (3, "axes")):
            if len(inputs) > index and inputs[index] is not None and not isinstance(inputs[index], Const):
                raise UnsupportedModelError(f"Pad node '{node.name}': its {what} must be constant (here an "
                                            "activation computes them)")
        given = [int(p) for p in inputs[1].array.reshape(-1)]
        value = inputs[2].array.reshape(-1)[0] if len(inputs) > 2 and inputs[2] is not None and \
            inputs[2].array.size else 0
        value = value.item() if hasattr(value, "item") else value
        axes = [int(a) % rank for a in inputs[3].array.reshape(-1)] if len(inputs) > 3 and \
            inputs[3] is not None else list(range(rank))
    if len(given) != 2 * len(axes) or len(set(axes)) != len(axes):
        raise UnsupportedModelError(f"Pad node '{node.name}': {len(given)} pads for the axes {axes}")
    low, high = [0] * rank, [0] * rank
    for k, axis in enumerate(axes):
        low[axis], high[axis] = given[k], given[k + len(axes)]
    if not any(low + high):
        return x
    if min(low + high) < 0:
        # Negative pads remove elements.
        x = ctx.to_plain(x, node.name)
        offsets = [max(0, -p) for p in low]
        sizes = [d - max(0, -lo) - max(0, -hi) for d, lo, hi in zip(x.shape, low, high)]
        if min(sizes) < 1:
            raise UnsupportedModelError(f"Pad node '{node.name}': negative pads leave no elements of "
                                        f"{x.shape}")
        x = _slice(ctx, x, offsets, sizes, node.name + ".crop")
        low, high = [max(0, p) for p in low], [max(0, p) for p in high]
        if not any(low + high):
            return x
    if mode == "constant":
        if x.nhwc and low[0] == low[1] == high[0] == high[1] == 0:
            return pad(ctx, x, (low[2], low[3], high[2], high[3]), float(value), node.name)
        x = ctx.to_plain(x, node.name)
        return Act(ctx.emitter.pad(x.value, low, high, value, node.name), integer_type=x.integer_type)
    x = ctx.to_plain(x, node.name)
    padded = [axis for axis in range(rank) if low[axis] or high[axis]]
    for axis in padded:
        size = x.shape[axis]
        lo, hi = low[axis], high[axis]
        if (mode == "reflect" and max(lo, hi) > size - 1) or (mode == "wrap" and max(lo, hi) > size):
            raise UnsupportedModelError(f"Pad node '{node.name}': {mode} pads ({lo}, {hi}) larger than axis "
                                        f"{axis} of {x.shape} {'less one ' if mode == 'reflect' else ''}"
                                        "allows (the input reflected or wrapped more than once)")

        def part(start, count, k):
            offsets, sizes = [0] * rank, list(x.shape)
            offsets[axis], sizes[axis] = start, count
            return _slice(ctx, x, offsets, sizes, f"{node.name}.axis{axis}.{k}")
        if mode == "edge":
            first, last = part(0, 1, "first"), part(size - 1, 1, "last")
            before, after = [first] * lo, [last] * hi
        elif mode == "reflect":
            before = [part(i, 1, f"before{i}") for i in range(lo, 0, -1)]
            after = [part(size - 2 - i, 1, f"after{i}") for i in range(hi)]
        else:
            before = [part(size - lo, lo, "before")] if lo else []
            after = [part(0, hi, "after")] if hi else []
        parts = before + [x] + after
        shape = list(x.shape)
        shape[axis] += lo + hi
        x = Act(ctx.emitter.op(f"tensor.concat dim({axis}) {', '.join(v.ssa for v in parts)} : "
                               f"({', '.join(v.value.type for v in parts)}) -> "
                               f"{tensor_type(shape, x.value.elem)}", tuple(shape),
                               node.name if axis == padded[-1] else f"{node.name}.axis{axis}", x.value.elem),
                integer_type=x.integer_type)
    return x


def _slice(ctx, x: Act, offsets, sizes, name, strides=None) -> Act:
    """A tensor.extract_slice of the plain activation `x` (of any element
    type)."""
    strides = strides or [1] * len(sizes)
    elem = x.value.elem
    return Act(ctx.emitter.op(f"tensor.extract_slice {x.ssa}[{', '.join(map(str, offsets))}] "
                              f"[{', '.join(map(str, sizes))}] [{', '.join(map(str, strides))}] : "
                              f"{tensor_type(x.shape, elem)} to {tensor_type(sizes, elem)}", tuple(sizes), name,
                              elem), integer_type=x.integer_type)


def gather_slice(ctx, node, x: Act, indices: np.ndarray, axis: int) -> Act:
    """An activation at constant indices (ViT's class token, `x[:, 0]`): a
    scalar index, or indices in steps of one sign, is a slice (the moves
    quant-opt quantizes through), less the axis for a scalar."""
    x = ctx.to_plain(x, node.name)
    rank = len(x.shape)
    if not -rank <= axis < rank:
        raise UnsupportedModelError(f"Gather node '{node.name}': axis {axis} out of range for rank {rank}")
    axis %= rank
    size = x.shape[axis]
    flat = indices.reshape(-1).astype(np.int64)
    if indices.ndim > 1 or not len(flat) or flat.min() < -size or flat.max() >= size:
        raise UnsupportedModelError(f"Gather node '{node.name}': only a scalar or 1-D constant index "
                                    f"list within the axis (of size {size}) is supported")
    flat = flat % size
    step = int(flat[1] - flat[0]) if len(flat) > 1 else 1
    if step < 1 or np.any(np.diff(flat) != step):
        raise UnsupportedModelError(f"Gather node '{node.name}': constant indices {flat.tolist()} are not "
                                    "increasing in equal steps (a slice)")
    offsets, sizes, strides = [0] * rank, list(x.shape), [1] * rank
    offsets[axis], sizes[axis], strides[axis] = int(flat[0]), len(flat), step
    out = tuple(x.shape[:axis]) + tuple(indices.shape) + tuple(x.shape[axis + 1:])
    sliced = Act(ctx.emitter.op(
        f"tensor.extract_slice {x.ssa}[{', '.join(map(str, offsets))}] [{', '.join(map(str, sizes))}] "
        f"[{', '.join(map(str, strides))}] : {tensor_type(x.shape)} to {tensor_type(sizes)}", tuple(sizes),
        node.name if tuple(sizes) == out else node.name + ".slice"))
    return reshape(ctx, sliced, out, node.name)


@register("Gather")
def gather(ctx, node, inputs, attrs):
    """Gather along `axis`: an activation at constant indices that make a
    slice (gather_slice: ViT's class token, the moves quant-opt quantizes
    through), else `gather_elements` of a table (a constant or an
    activation, float or integer) at indices (constant or an integer
    activation; an embedding lookup)."""
    data, indices = inputs[0], inputs[1]
    axis = int(attrs.get("axis", 0))
    if isinstance(data, Act) and not data.integer_type and isinstance(indices, Const) and \
            is_slice(np.asarray(indices.array), data.shape, axis):
        return gather_slice(ctx, node, ctx.act(node.input[0], node), np.asarray(indices.array), axis)
    return gather_rows(ctx, node, data, indices, axis)


def is_slice(indices: np.ndarray, shape, axis: int) -> bool:
    """Whether constant `indices` along `axis` of a tensor of `shape` are a
    slice: a scalar, or a 1-D list in steps of one sign within the axis."""
    if not -len(shape) <= axis < len(shape) or indices.ndim > 1 or not indices.size:
        return False
    size, flat = shape[axis], indices.reshape(-1).astype(np.int64)
    if flat.min() < -size or flat.max() >= size:
        return False
    steps = np.diff(flat % size)
    return not len(steps) or bool(steps[0] >= 1 and np.all(steps == steps[0]))


def gather_rows(ctx, node, data, indices, axis: int) -> Act:
    """Gather of `data` (a constant or an activation, of any element type)
    at `indices` (a constant or an integer activation) along `axis`, as a
    linalg.generic over the result that reads data with tensor.extract.
    Negative indices count from the end, as in ONNX; indices out of range
    (an error in ONNX, which onnxruntime refuses) are clamped to the axis: a
    read outside the data is no option."""
    if isinstance(data, Const):
        array = np.asarray(data.array)
        if array.dtype.kind == "f":
            table, kind = ctx.emitter.constant(array), None
        elif array.dtype.kind in "biu" and (data.onnx_type or onnx.helper.np_dtype_to_tensor_dtype(
                array.dtype)) in INTEGER_INPUTS:
            kind = data.onnx_type or onnx.helper.np_dtype_to_tensor_dtype(array.dtype)
            table = integer.integer_constant(ctx, array, INTEGER_INPUTS[kind])
        else:
            raise UnsupportedModelError(f"Gather node '{node.name}': a constant table of type {array.dtype}")
        shape = array.shape
    else:
        a = ctx.to_plain(ctx.act(node.input[0], node, integer=True), node.name)
        table, kind, shape = a.value, a.integer_type, a.shape
    rank = len(shape)
    if not -rank <= axis < rank:
        raise UnsupportedModelError(f"Gather node '{node.name}': axis {axis} out of range for rank {rank}")
    axis %= rank
    if isinstance(indices, Const):
        ids_array = np.asarray(indices.array)
        if ids_array.dtype.kind not in "iu":
            raise UnsupportedModelError(f"Gather node '{node.name}': indices of type {ids_array.dtype}")
        ids = integer.integer_constant(ctx, ids_array.astype(np.int64), "i64")
        id_shape = ids_array.shape
    else:
        if not indices.integer_type or indices.integer_type == onnx.TensorProto.BOOL:
            raise UnsupportedModelError(f"Gather node '{node.name}': the indices must be INT32 or INT64, "
                                        "not a float activation")
        i = ctx.to_plain(ctx.act(node.input[1], node, integer=True), node.name)
        ids, id_shape = i.value, i.shape
    if 0 in id_shape or 0 in shape:
        raise UnsupportedModelError(f"Gather node '{node.name}': zero-size tensors are not supported")
    id_rank, size = len(id_shape), shape[axis]
    if isinstance(indices, Const) and ids_array.size and (ids_array.min() < -size or ids_array.max() >= size):
        raise UnsupportedModelError(f"Gather node '{node.name}': constant indices out of range for axis "
                                    f"{axis} of size {size} (an error in ONNX)")
    out = tuple(shape[:axis]) + tuple(id_shape) + tuple(shape[axis + 1:])
    elem = ids.elem
    out_elem = table.elem

    def body(a):
        lines = [f"%id = arith.index_cast {a[0]} : {elem} to index",
                 "%zero = arith.constant 0 : index", f"%size = arith.constant {size} : index",
                 f"%last = arith.constant {size - 1} : index",
                 "%wrapped = arith.addi %id, %size : index",
                 "%negative = arith.cmpi slt, %id, %zero : index",
                 "%from_end = arith.select %negative, %wrapped, %id : index",
                 "%low = arith.maxsi %from_end, %zero : index", "%at = arith.minsi %low, %last : index"]
        coordinates = []
        for d in range(rank):
            if d == axis:
                coordinates.append("%at")
                continue
            loop = d if d < axis else d - 1 + id_rank
            lines.append(f"%c{d} = linalg.index {loop} : index")
            coordinates.append(f"%c{d}")
        lines.append(f"%r = tensor.extract {table.ssa}[{', '.join(coordinates)}] : {table.type}")
        return lines, "%r"

    return Act(ctx.emitter.generic([(ids, [axis + k for k in range(id_rank)])], out, body, node.name,
                                   out_elem=out_elem), integer_type=kind)
