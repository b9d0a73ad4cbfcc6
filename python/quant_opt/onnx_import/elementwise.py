"""Elementwise ops: Add / Sub / Mul / Div with ONNX broadcasting, the unary
activations (Relu, Clip, Sigmoid, Tanh, Erf, Gelu, LeakyRelu, HardSigmoid,
HardSwish, Elu, Softplus, Softsign, Mish, PRelu), float functions (Exp,
Log, Neg, Abs, Sqrt, Reciprocal, Pow), Max / Min / Sum of any
number of inputs, the comparisons and logical ops (computed in `integer`),
and the `elementwise` helper other families build on.

An elementwise op keeps NHWC when one of its 4-D operands is stored NHWC.
Relu and Clip record their bounds (`clamps`) for quant-eval's reference."""

from __future__ import annotations

import math

import numpy as np

from . import integer
from .emitter import f32_literal, tensor_type
from .registry import register
from .values import NCHW_TO_NHWC, NHWC_AXIS, Act, Const, UnsupportedModelError

# Ops of two same-shaped activations written as linalg's named ops.
NAMED = {"addf": "linalg.add", "subf": "linalg.sub", "mulf": "linalg.mul", "divf": "linalg.div"}


def elementwise(ctx, node, op, operands) -> Act:
    """An elementwise op of activations and constants with ONNX
    broadcasting; `op` is an arith op name or a function of the block
    arguments returning (lines, result)."""
    e = ctx.emitter
    for name in node.input:
        if any(ctx.values.get(name) is v for v in operands if isinstance(v, Act)):
            # Refuses an integer activation (`act` says why): the ops below
            # are float ones.
            ctx.act(name, node)
    acts = [v for v in operands if isinstance(v, Act)]
    shapes = [v.shape if isinstance(v, Act) else v.array.shape for v in operands]
    out = tuple(np.broadcast_shapes(*shapes))
    nhwc = len(out) == 4 and any(a.nhwc for a in acts)
    phys = (out[0], out[2], out[3], out[1]) if nhwc else out
    rank = len(out)
    if (len(operands) == 2 and len(acts) == 2 and op in NAMED and shapes[0] == shapes[1]
            and acts[0].nhwc == acts[1].nhwc):
        init = e.init(acts[0].physical, None)
        t = tensor_type(acts[0].physical)
        if op == "addf":
            ctx.adds[node.name] = {"inputs": [a.value.reference for a in acts]}
        return Act(e.op(f"{NAMED[op]} ins({acts[0].ssa}, {acts[1].ssa} : {t}, {t}) outs({init.ssa} : {t}) "
                        f"-> {t}", acts[0].physical, node.name), acts[0].nhwc)
    ins, scalars = [], []
    for v in operands:
        if isinstance(v, Act):
            if nhwc and len(v.shape) == 4:
                v = ctx.to_nhwc(v, node.name)
            elif len(v.shape) == 4 and v.nhwc:
                v = ctx.to_plain(v, node.name)
            off = rank - len(v.shape)
            dims = []
            for i, d in enumerate(v.shape):
                logical = i + off
                dims.append("0" if d == 1 and out[logical] != 1 else
                            (NHWC_AXIS[logical] if nhwc else logical))
            if nhwc and len(v.shape) == 4:
                dims = [dims[j] for j in NCHW_TO_NHWC]
            ins.append((v.value, dims))
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
        ins.append((e.constant(squeezed), dims))
        scalars.append(None)
    operands_in = [i for i in ins if i is not None]

    def body(args):
        lines, names, k = [], [], 0
        for i, s in enumerate(scalars):
            if s is None:
                names.append(args[k])
                k += 1
            else:
                lines.append(f"%c{i} = arith.constant {f32_literal(s)} : f32")
                names.append(f"%c{i}")
        if callable(op):
            more, result = op(names)
            return lines + more, result
        return lines + [f"%r = arith.{op} {names[0]}, {names[1]} : f32"], "%r"

    return Act(e.generic(operands_in, phys, body, node.name, rank=rank), nhwc)


def unary(ctx, node, body) -> Act:
    """`body(x)` (the lines and the result) applied to every element of the
    node's first input."""
    x = ctx.act(node.input[0], node)
    return elementwise(ctx, node, lambda a: body(a[0]), [x])


ARITH = {"Add": "addf", "Sub": "subf", "Mul": "mulf", "Div": "divf"}


@register(*ARITH)
def binary(ctx, node, inputs, attrs):
    return elementwise(ctx, node, ARITH[node.op_type], inputs)


# Variadic elementwise ops (ONNX broadcasting over every input).
VARIADIC = {"Max": "maximumf", "Min": "minimumf", "Sum": "addf"}


@register(*VARIADIC)
def variadic(ctx, node, inputs, attrs):
    operands = [v for v in inputs if v is not None]

    def body(names):
        lines, result = [], names[0]
        for k, name in enumerate(names[1:]):
            lines.append(f"%fold{k} = arith.{VARIADIC[node.op_type]} {result}, {name} : f32")
            result = f"%fold{k}"
        return lines, result

    return elementwise(ctx, node, body, operands)


@register("PRelu")
def prelu(ctx, node, inputs, attrs):
    # max(x, 0) + slope * min(x, 0), the slope broadcast to x.
    return elementwise(ctx, node, lambda a: ([
        "%zero = arith.constant 0.0 : f32", f"%p = arith.maximumf {a[0]}, %zero : f32",
        f"%n = arith.minimumf {a[0]}, %zero : f32", f"%sn = arith.mulf {a[1]}, %n : f32",
        "%r = arith.addf %p, %sn : f32"], "%r"), inputs[:2])


@register("Relu")
def relu(ctx, node, inputs, attrs):
    ctx.clamps[node.name] = (0.0, math.inf)
    return unary(ctx, node, lambda x: (["%zero = arith.constant 0.0 : f32",
                                        f"%r = arith.maximumf {x}, %zero : f32"], "%r"))


@register("Clip", constant_inputs=(1, 2))
def clip(ctx, node, inputs, attrs):
    if isinstance(inputs[0], Act) and inputs[0].integer_type:
        bounds = []
        for index, which in ((1, "min"), (2, "max")):
            bound = inputs[index] if len(inputs) > index else None
            if bound is not None and not isinstance(bound, Const):
                raise UnsupportedModelError(f"Clip node '{node.name}': {which} must be constant")
            bounds.append(None if bound is None else int(np.asarray(bound.array).reshape(-1)[0]))
        return integer.clip(ctx, node, inputs[0], *bounds)
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

    ctx.clamps[node.name] = (lo, hi)

    def body(x):
        lines, r = [], x
        if lo != -math.inf:
            lines += [f"%lo = arith.constant {f32_literal(lo)} : f32", f"%m = arith.maximumf {r}, %lo : f32"]
            r = "%m"
        if hi != math.inf:
            lines += [f"%hi = arith.constant {f32_literal(hi)} : f32", f"%n = arith.minimumf {r}, %hi : f32"]
            r = "%n"
        return lines, r
    return unary(ctx, node, body)


@register("Sigmoid")
def sigmoid(ctx, node, inputs, attrs):
    return unary(ctx, node, lambda x: (["%one = arith.constant 1.0 : f32", f"%n = arith.negf {x} : f32",
                                        "%e = math.exp %n : f32", "%d = arith.addf %one, %e : f32",
                                        "%r = arith.divf %one, %d : f32"], "%r"))


@register("Tanh")
def tanh(ctx, node, inputs, attrs):
    return unary(ctx, node, lambda x: ([f"%r = math.tanh {x} : f32"], "%r"))


@register("Erf")
def erf(ctx, node, inputs, attrs):
    return unary(ctx, node, lambda x: ([f"%r = math.erf {x} : f32"], "%r"))


# Unary functions of one activation that stay in float (quant-opt quantizes
# around them, not through them): the body lines of each, applied to `x`.
FLOAT_UNARY = {
    "Exp": lambda x: [f"%r = math.exp {x} : f32"],
    "Log": lambda x: [f"%r = math.log {x} : f32"],
    "Neg": lambda x: [f"%r = arith.negf {x} : f32"],
    "Abs": lambda x: [f"%r = math.absf {x} : f32"],
    "Sqrt": lambda x: [f"%r = math.sqrt {x} : f32"],
    "Reciprocal": lambda x: ["%one = arith.constant 1.0 : f32", f"%r = arith.divf %one, {x} : f32"],
    # log(1 + exp(x)), as onnxruntime computes it.
    "Softplus": lambda x: ["%one = arith.constant 1.0 : f32", f"%e = math.exp {x} : f32",
                           "%e1 = arith.addf %e, %one : f32", "%r = math.log %e1 : f32"],
    "Softsign": lambda x: ["%one = arith.constant 1.0 : f32", f"%a = math.absf {x} : f32",
                           "%d = arith.addf %one, %a : f32", f"%r = arith.divf {x}, %d : f32"],
    # x * tanh(softplus(x)).
    "Mish": lambda x: ["%one = arith.constant 1.0 : f32", f"%e = math.exp {x} : f32",
                       "%e1 = arith.addf %e, %one : f32", "%sp = math.log %e1 : f32",
                       "%t = math.tanh %sp : f32", f"%r = arith.mulf {x}, %t : f32"],
}


@register(*FLOAT_UNARY)
def float_unary(ctx, node, inputs, attrs):
    return unary(ctx, node, lambda x: (FLOAT_UNARY[node.op_type](x), "%r"))


@register("Where")
def where(ctx, node, inputs, attrs):
    """select(condition, x, y), broadcast as ONNX does: with a constant
    condition (an attention mask the exporter computed from constants) on
    floats as other elementwise ops, else `integer.where`."""
    condition = inputs[0]
    if not isinstance(condition, Const) or any(isinstance(v, Act) and v.integer_type for v in inputs[1:]):
        # A bool activation as condition, or integer values.
        return integer.where(ctx, node, inputs)
    flags = Const(condition.array.astype(np.float32))
    return elementwise(ctx, node, lambda a: ([
        "%zero = arith.constant 0.0 : f32", f"%flag = arith.cmpf une, {a[0]}, %zero : f32",
        f"%r = arith.select %flag, {a[1]}, {a[2]} : f32"], "%r"), [flags, inputs[1], inputs[2]])


@register("Expand", constant_inputs=(1,))
def expand(ctx, node, inputs, attrs):
    """x broadcast to a constant shape (ONNX broadcasting both ways: the
    result has the broadcast of x's shape and the given one)."""
    shape = inputs[1]
    if not isinstance(shape, Const):
        raise UnsupportedModelError(f"Expand node '{node.name}': the shape must be constant")
    x = ctx.act(node.input[0], node)
    target = np.broadcast_shapes(tuple(x.shape), tuple(int(d) for d in shape.array.reshape(-1)))
    if target == tuple(x.shape):
        return x
    # A zero of the target shape (a splat constant) gives the broadcast; the
    # body yields x.
    return elementwise(ctx, node, lambda a: ([], a[0]), [x, Const(np.zeros(target, np.float32))])


@register("Pow")
def power(ctx, node, inputs, attrs):
    """Pow, the result of the base's type (ONNX's rule): a float activation
    to a constant scalar power is x * x for 2 (LayerNorm exported below
    opset 17 squares this way), math.powf otherwise; any other operands
    (an activation exponent, a tensor of exponents, integers) are
    `integer.power`."""
    base, exponent = inputs[0], inputs[1]
    if isinstance(base, Act) and not base.integer_type and isinstance(exponent, Const) and \
            exponent.array.size == 1 and np.asarray(exponent.array).dtype.kind in "fiu":
        value = float(exponent.array.reshape(-1)[0])
        if value == 2.0:
            return unary(ctx, node, lambda x: ([f"%r = arith.mulf {x}, {x} : f32"], "%r"))
        return unary(ctx, node, lambda x: ([f"%e = arith.constant {f32_literal(value)} : f32",
                                            f"%r = math.powf {x}, %e : f32"], "%r"))
    return integer.power(ctx, node, inputs)


@register("Elu")
def elu(ctx, node, inputs, attrs):
    # max(x, 0) + alpha * (exp(min(x, 0)) - 1): x above 0, alpha (e^x - 1)
    # below, without a select.
    alpha = attrs.get("alpha", 1.0)
    return unary(ctx, node, lambda x: ([
        "%zero = arith.constant 0.0 : f32", "%one = arith.constant 1.0 : f32",
        f"%alpha = arith.constant {f32_literal(alpha)} : f32",
        f"%p = arith.maximumf {x}, %zero : f32", f"%n = arith.minimumf {x}, %zero : f32",
        "%e = math.exp %n : f32", "%em1 = arith.subf %e, %one : f32",
        "%an = arith.mulf %alpha, %em1 : f32", "%r = arith.addf %p, %an : f32"], "%r"))


@register("Gelu")
def gelu(ctx, node, inputs, attrs):
    approximate = attrs.get("approximate", b"none")
    approximate = approximate.decode() if isinstance(approximate, bytes) else approximate
    if approximate == "tanh":
        return unary(ctx, node, lambda x: ([
            "%half = arith.constant 0.5 : f32", "%one = arith.constant 1.0 : f32",
            f"%k = arith.constant {f32_literal(math.sqrt(2 / math.pi))} : f32",
            "%c = arith.constant 0.044715 : f32",
            f"%x2 = arith.mulf {x}, {x} : f32", f"%x3 = arith.mulf %x2, {x} : f32",
            "%cx3 = arith.mulf %c, %x3 : f32", f"%in = arith.addf {x}, %cx3 : f32",
            "%kin = arith.mulf %k, %in : f32", "%t = math.tanh %kin : f32",
            "%t1 = arith.addf %one, %t : f32", f"%hx = arith.mulf %half, {x} : f32",
            "%r = arith.mulf %hx, %t1 : f32"], "%r"))
    return unary(ctx, node, _gelu_erf)


def _gelu_erf(x):
    return (["%half = arith.constant 0.5 : f32", "%one = arith.constant 1.0 : f32",
             f"%s = arith.constant {f32_literal(math.sqrt(2.0))} : f32",
             f"%d = arith.divf {x}, %s : f32", "%e = math.erf %d : f32",
             "%e1 = arith.addf %e, %one : f32", f"%hx = arith.mulf {x}, %half : f32",
             "%r = arith.mulf %hx, %e1 : f32"], "%r")


@register("LeakyRelu")
def leaky_relu(ctx, node, inputs, attrs):
    alpha = attrs.get("alpha", 0.01)
    return unary(ctx, node, lambda x: ([
        "%zero = arith.constant 0.0 : f32", f"%alpha = arith.constant {f32_literal(alpha)} : f32",
        f"%p = arith.maximumf {x}, %zero : f32", f"%n = arith.minimumf {x}, %zero : f32",
        "%an = arith.mulf %n, %alpha : f32", "%r = arith.addf %p, %an : f32"], "%r"))


def _hard_sigmoid(x, alpha, beta):
    """The lines computing max(0, min(1, alpha * x + beta)) into %h."""
    return [f"%alpha = arith.constant {f32_literal(alpha)} : f32",
            f"%beta = arith.constant {f32_literal(beta)} : f32",
            "%zero = arith.constant 0.0 : f32", "%one = arith.constant 1.0 : f32",
            f"%ax = arith.mulf {x}, %alpha : f32", "%axb = arith.addf %ax, %beta : f32",
            "%lo = arith.maximumf %axb, %zero : f32", "%h = arith.minimumf %lo, %one : f32"]


@register("HardSigmoid")
def hard_sigmoid(ctx, node, inputs, attrs):
    return unary(ctx, node, lambda x: (_hard_sigmoid(x, attrs.get("alpha", 0.2), attrs.get("beta", 0.5)), "%h"))


@register("HardSwish")
def hard_swish(ctx, node, inputs, attrs):
    return unary(ctx, node, lambda x: (_hard_sigmoid(x, 1.0 / 6.0, 0.5) + [f"%r = arith.mulf {x}, %h : f32"],
                                       "%r"))


@register(*integer.COMPARISONS)
def comparison(ctx, node, inputs, attrs):
    """Equal, Greater, Less, GreaterOrEqual, LessOrEqual: a bool
    (`integer.compare`)."""
    return integer.compare(ctx, node, inputs)


@register("And", "Or", "Xor", "Not")
def logical(ctx, node, inputs, attrs):
    return integer.logical(ctx, node, inputs)
