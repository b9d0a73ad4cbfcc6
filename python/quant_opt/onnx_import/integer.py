"""Integer and bool activations: a model's integer or bool input, or a Cast
to an integer type, computed on as such (token ids, counters, masks).

They stay in their ONNX element type (signless in MLIR; the ONNX type, kept
on the `Act`, says whether an op is signed or unsigned) until a Cast to
FLOAT. The ops below take them with ONNX's broadcasting, as ONNX computes
them on integers: Add, Sub and Mul wrap around modulo 2^N, Div truncates
toward zero (a division by zero is refused by the run, not defined by
ONNX), Max and Min compare signed or unsigned. Clip, ReduceMax,
ReduceMin and ReduceSum (`clip`, `reduce`), Where (`where`: a bool
condition, integer or float values), MaxPool (pooling.generic_pool), Pad,
Identity and Cast take them too; Gather reads them as data or indices.
Equal, Greater, Less, GreaterOrEqual and LessOrEqual (`compare`) compare
floats or integers of one type into bools; And, Or, Xor and Not
(`logical`) take bools. Another op reading an integer activation is
refused by name (`Importer.act`).
"""

from __future__ import annotations

import numpy as np
import onnx

from .emitter import literal, tensor_type
from .values import INTEGER_INPUTS, UNSIGNED_INPUTS, Act, Const, UnsupportedModelError

# Op -> (signed op, unsigned op), arith ops on two integers.
BINARY = {"Add": ("addi", "addi"), "Sub": ("subi", "subi"), "Mul": ("muli", "muli"),
          "Div": ("divsi", "divui"), "Max": ("maxsi", "maxui"), "Min": ("minsi", "minui")}
VARIADIC = ("Max", "Min")
# The same ops on DOUBLE activations (f64), as float ops.
DOUBLE_BINARY = {"Add": "addf", "Sub": "subf", "Mul": "mulf", "Div": "divf", "Max": "maximumf",
                 "Min": "minimumf"}


def reads_integers(node, inputs) -> bool:
    """Whether `node` is an op computed here: one of BINARY reading an
    integer (or bool) activation."""
    return node.op_type in BINARY and any(isinstance(v, Act) and v.integer_type for v in inputs)


def integer_constant(ctx, array: np.ndarray, elem: str):
    """An integer (or bool) tensor constant of MLIR type `elem`."""
    values = np.asarray(array).astype(np.int64)
    if elem == "i1":
        text = str(values.astype(bool).tolist()).replace("True", "true").replace("False", "false")
    else:
        text = str(values.tolist())
    return ctx.emitter.op(f"arith.constant dense<{text}> : {tensor_type(values.shape, elem)}", values.shape,
                          elem=elem)


def limits(kind: int) -> tuple[int, int]:
    """The lowest and highest value of the ONNX integer or bool type `kind`."""
    if kind == onnx.TensorProto.BOOL:
        return 0, 1
    if kind in (onnx.TensorProto.INT4, onnx.TensorProto.UINT4):
        return (-8, 7) if kind == onnx.TensorProto.INT4 else (0, 15)
    info = np.iinfo(onnx.helper.tensor_dtype_to_np_dtype(kind))
    return int(info.min), int(info.max)


def convert_double(ctx, node, operands) -> Act:
    """Add, Sub, Mul, Div, Max, Min of DOUBLE activations and constants,
    broadcast, in f64 (Max and Min propagate NaN, as ONNX's)."""
    if node.op_type not in VARIADIC and len(operands) != 2:
        raise UnsupportedModelError(f"{node.op_type} node '{node.name}': expected 2 inputs")
    values = []
    for name, v in zip([n for n in node.input if n], operands):
        if isinstance(v, Const):
            if np.asarray(v.array).dtype != np.float64:
                raise UnsupportedModelError(f"{node.op_type} node '{node.name}': the constant '{name}' has "
                                            f"type {np.asarray(v.array).dtype}, its other operands float64")
            value = f64_constant(ctx, v.array)
            values.append((value, value.shape))
            continue
        a = ctx.act(name, node, double=True)
        if a.integer_type != onnx.TensorProto.DOUBLE:
            raise UnsupportedModelError(f"{node.op_type} node '{node.name}': operands of one type are "
                                        f"supported, '{name}' is not DOUBLE")
        values.append((ctx.to_plain(a, node.name).value, a.shape))
    out, ins = broadcast_operands(values)
    op = DOUBLE_BINARY[node.op_type]

    def body(args):
        lines, result = [], args[0]
        for k, arg in enumerate(args[1:len(ins)]):
            lines.append(f"%f{k} = arith.{op} {result}, {arg} : f64")
            result = f"%f{k}"
        return lines, result

    return Act(ctx.emitter.generic(ins, out, body, node.name, out_elem="f64"), integer_type=onnx.TensorProto.DOUBLE)


def clip(ctx, node, x: Act, lo, hi) -> Act:
    """Clip of the integer activation `x` to the constant bounds `lo`, `hi`
    (None where absent), compared signed or unsigned as x's type."""
    x = ctx.to_plain(x, node.name)
    elem = x.value.elem
    unsigned = x.integer_type in UNSIGNED_INPUTS

    def body(a):
        lines, r = [], a[0]
        for bound, op, name in ((lo, "maxui" if unsigned else "maxsi", "lo"),
                                (hi, "minui" if unsigned else "minsi", "hi")):
            if bound is not None:
                lines += [f"%{name} = arith.constant {literal(bound, elem)} : {elem}",
                          f"%{name}r = arith.{op} {r}, %{name} : {elem}"]
                r = f"%{name}r"
        return lines, r
    rank = len(x.shape)
    return Act(ctx.emitter.generic([(x.value, list(range(rank)))], x.shape, body, node.name, out_elem=elem),
               integer_type=x.integer_type)


# ReduceX -> (signed op, unsigned op, identity as (lowest, highest) index or 0)
REDUCTIONS = {"ReduceMax": ("maxsi", "maxui"), "ReduceMin": ("minsi", "minui"), "ReduceSum": ("addi", "addi")}


def reduce(ctx, node, x: Act, axes, keepdims) -> Act:
    """ReduceMax / ReduceMin / ReduceSum of the integer (or bool) activation
    `x` over `axes` (a sum wraps around, as ONNX's integers do)."""
    from .shape import reshape
    x = ctx.to_plain(x, node.name)
    if x.integer_type == onnx.TensorProto.BOOL and node.op_type == "ReduceSum":
        raise UnsupportedModelError(f"ReduceSum node '{node.name}': a sum of bools")
    elem, rank = x.value.elem, len(x.shape)
    unsigned = x.integer_type in UNSIGNED_INPUTS
    op = REDUCTIONS[node.op_type][1 if unsigned else 0]
    lowest, highest = limits(x.integer_type)
    init = {"ReduceMax": lowest, "ReduceMin": highest, "ReduceSum": 0}[node.op_type]
    out = tuple(d for i, d in enumerate(x.shape) if i not in axes)
    result = Act(ctx.emitter.generic([(x.value, list(range(rank)))], out,
                                     lambda a: ([f"%r = arith.{op} {a[0]}, {a[1]} : {elem}"], "%r"), node.name,
                                     reduce_dims=tuple(axes), init_value=init, out_elem=elem),
                 integer_type=x.integer_type)
    if keepdims:
        result = reshape(ctx, result, tuple(1 if i in axes else d for i, d in enumerate(x.shape)),
                         node.name + ".keepdims")
    return result


def where(ctx, node, inputs) -> Act:
    """Where with a bool activation as condition, or integer values: a
    select of the broadcast operands, in the values' type (integers of one
    type, or floats)."""
    names = list(node.input)
    values = inputs[1:]
    kinds = {v.integer_type if isinstance(v, Act) else v.onnx_type for v in values}
    float_values = all(isinstance(v, Act) and not v.integer_type or isinstance(v, Const) and
                       np.asarray(v.array).dtype.kind == "f" for v in values)
    if float_values:
        elem, kind = "f32", None
    elif len(kinds - {None}) == 1 and all(not isinstance(v, Act) or v.integer_type for v in values):
        kind = next(iter(kinds - {None}))
        elem = INTEGER_INPUTS[kind]
    else:
        raise UnsupportedModelError(f"Where node '{node.name}': values of one type (float, or one integer "
                                    "type) are supported")
    operands = []
    for k, (name, v) in enumerate(zip(names, inputs)):
        want = "i1" if k == 0 else elem
        if isinstance(v, Const):
            array = np.asarray(v.array)
            value = ctx.emitter.constant(array) if want == "f32" else integer_constant(ctx, array, want)
            operands.append((value, value.shape))  # (a scalar's f32 constant has shape (1,))
        else:
            a = ctx.to_plain(ctx.act(name, node, integer=True), node.name)
            if a.value.elem != want:
                raise UnsupportedModelError(f"Where node '{node.name}': '{name}' has element type "
                                            f"{a.value.elem}, expected {want}")
            operands.append((a.value, a.shape))
    out, ins = broadcast_operands(operands)
    return Act(ctx.emitter.generic(ins, out, lambda a: ([f"%r = arith.select {a[0]}, {a[1]}, {a[2]} : {elem}"],
                                                        "%r"), node.name, out_elem=elem), integer_type=kind)


def broadcast_operands(operands):
    """The broadcast shape of `operands` ((value, shape) pairs, numpy
    rules) and each value with its indexing dims for emitter.generic: a
    size-1 axis that broadcasts reads index 0."""
    out = tuple(np.broadcast_shapes(*(shape for _, shape in operands)))
    ins = []
    for value, shape in operands:
        off = len(out) - len(shape)
        ins.append((value, ["0" if d == 1 and out[i + off] != 1 else i + off for i, d in enumerate(shape)]))
    return out, ins


def f64_constant(ctx, array: np.ndarray):
    """A DOUBLE tensor constant (its bytes, little-endian, as a hex
    string: every bit kept)."""
    values = np.ascontiguousarray(array, dtype="<f8")
    return ctx.emitter.op(f'arith.constant dense<"0x{values.tobytes().hex().upper()}"> : '
                          f'{tensor_type(values.shape, "f64")}', values.shape, elem="f64")


def convert(ctx, node, inputs, attrs) -> Act:
    """`node` (an op of BINARY) on integer operands of one ONNX type, or
    on DOUBLE ones (f64 float ops)."""
    operands = [v for v in inputs if v is not None]
    types = {v.integer_type if isinstance(v, Act) else v.onnx_type for v in operands}
    types.discard(None)
    kind = next(iter(types)) if len(types) == 1 else None
    if kind == onnx.TensorProto.DOUBLE:
        return convert_double(ctx, node, operands)
    if kind is None or kind not in INTEGER_INPUTS or kind == onnx.TensorProto.BOOL:
        names = ", ".join(sorted(onnx.TensorProto.DataType.Name(t) for t in types if t))
        raise UnsupportedModelError(f"{node.op_type} node '{node.name}': integer operands of one integer "
                                    f"type are supported, got {names or 'untyped constants'}")
    if node.op_type not in VARIADIC and len(operands) != 2:
        raise UnsupportedModelError(f"{node.op_type} node '{node.name}': expected 2 inputs")
    elem = INTEGER_INPUTS[kind]
    dtype = onnx.helper.tensor_dtype_to_np_dtype(kind)
    values = []
    for name, v in zip([n for n in node.input if n], operands):
        if isinstance(v, Const):
            array = np.asarray(v.array)
            if array.dtype != dtype:
                raise UnsupportedModelError(f"{node.op_type} node '{node.name}': the constant '{name}' has "
                                            f"type {array.dtype}, its other operands {dtype}")
            values.append((integer_constant(ctx, array, elem), array.shape))
        else:
            values.append((ctx.to_plain(ctx.act(name, node, integer=True), node.name).value, v.shape))
    out, ins = broadcast_operands(values)
    op = BINARY[node.op_type][1 if kind in UNSIGNED_INPUTS else 0]

    def body(args):
        lines, result = [], args[0]
        for k, arg in enumerate(args[1:len(ins)]):
            lines.append(f"%i{k} = arith.{op} {result}, {arg} : {elem}")
            result = f"%i{k}"
        return lines, result

    return Act(ctx.emitter.generic(ins, out, body, node.name, out_elem=elem), integer_type=kind)


# Comparison -> (float predicate, signed predicate, unsigned predicate).
COMPARISONS = {"Equal": ("oeq", "eq", "eq"), "Greater": ("ogt", "sgt", "ugt"), "Less": ("olt", "slt", "ult"),
               "GreaterOrEqual": ("oge", "sge", "uge"), "LessOrEqual": ("ole", "sle", "ule")}
# Logical op on bools -> its arith op.
LOGICAL = {"And": "andi", "Or": "ori", "Xor": "xori"}


def typed_operands(ctx, node, inputs, what: str):
    """The operands of `node` (activations of any type, constants) in one
    element type: floats (f32, an f16 input extended) if any operand is
    one, else integers or bools of one ONNX type. Returns (elem, ONNX type
    or None for floats, [(value, shape)])."""
    names = [n for n in node.input if n]
    operands = [v for v in inputs if v is not None]
    floating = any(isinstance(v, Act) and not v.integer_type or
                   isinstance(v, Const) and np.asarray(v.array).dtype.kind == "f" for v in operands)
    kinds = {v.integer_type if isinstance(v, Act) else v.onnx_type for v in operands}
    kinds.discard(None)
    if floating:
        if any(isinstance(v, Act) and v.integer_type for v in operands):
            raise UnsupportedModelError(f"{node.op_type} node '{node.name}': {what} of a float and an "
                                        "integer activation (ONNX requires one type)")
        elem, kind = "f32", None
    elif len(kinds) == 1 and next(iter(kinds)) in INTEGER_INPUTS:
        kind = next(iter(kinds))
        elem = INTEGER_INPUTS[kind]
    else:
        names_ = ", ".join(sorted(onnx.TensorProto.DataType.Name(t) for t in kinds))
        raise UnsupportedModelError(f"{node.op_type} node '{node.name}': {what} of operands of one float, "
                                    f"integer or bool type, got {names_ or 'untyped constants'}")
    values = []
    for name, v in zip(names, operands):
        if isinstance(v, Const):
            array = np.asarray(v.array)
            value = ctx.emitter.constant(array) if elem == "f32" else integer_constant(ctx, array, elem)
            values.append((value, value.shape))  # (a scalar's f32 constant has shape (1,))
        else:
            a = ctx.to_plain(ctx.act(name, node, integer=True), node.name)
            values.append((a.value, a.shape))
    return elem, kind, values


def compare(ctx, node, inputs) -> Act:
    """Equal, Greater, Less, GreaterOrEqual, LessOrEqual of two operands of
    one type (floats ordered: NaN compares false), broadcast: a bool."""
    elem, kind, values = typed_operands(ctx, node, inputs, "a comparison")
    floating, signed, unsigned = COMPARISONS[node.op_type]
    if elem == "f32":
        line = lambda a: f"%r = arith.cmpf {floating}, {a[0]}, {a[1]} : f32"  # noqa: E731
    else:
        predicate = unsigned if kind in UNSIGNED_INPUTS else signed
        line = lambda a: f"%r = arith.cmpi {predicate}, {a[0]}, {a[1]} : {elem}"  # noqa: E731
    out, ins = broadcast_operands(values)
    return Act(ctx.emitter.generic(ins, out, lambda a: ([line(a)], "%r"), node.name, out_elem="i1"),
               integer_type=onnx.TensorProto.BOOL)


def logical(ctx, node, inputs) -> Act:
    """And, Or, Xor of two bools, broadcast; Not of one."""
    elem, kind, values = typed_operands(ctx, node, inputs, "a logical op")
    if kind != onnx.TensorProto.BOOL:
        raise UnsupportedModelError(f"{node.op_type} node '{node.name}': takes bools")
    if node.op_type == "Not":
        body = lambda a: (["%true = arith.constant true", f"%r = arith.xori {a[0]}, %true : i1"], "%r")  # noqa
    else:
        body = lambda a: ([f"%r = arith.{LOGICAL[node.op_type]} {a[0]}, {a[1]} : i1"], "%r")  # noqa: E731
    out, ins = broadcast_operands(values)
    return Act(ctx.emitter.generic(ins, out, body, node.name, out_elem="i1"), integer_type=kind)


def operand(ctx, node, name: str, v):
    """The input `name` of `node` as (value, shape, ONNX type or None for a
    float), in its own element type: a float (f32) or integer constant, or
    an activation in the ONNX layout."""
    if isinstance(v, Const):
        array = np.asarray(v.array)
        if array.dtype.kind == "f":
            value = ctx.emitter.constant(array)
            return value, value.shape, None  # (a scalar's has shape (1,))
        kind = v.onnx_type or onnx.helper.np_dtype_to_tensor_dtype(array.dtype)
        if kind not in INTEGER_INPUTS:
            raise UnsupportedModelError(f"{node.op_type} node '{node.name}': '{name}' is a constant of "
                                        f"type {array.dtype}")
        return integer_constant(ctx, array, INTEGER_INPUTS[kind]), array.shape, kind
    a = ctx.to_plain(ctx.act(name, node, integer=True), node.name)
    return a.value, a.shape, a.integer_type


def to_float(x: str, elem: str, kind, target: str, name: str) -> tuple[list[str], str]:
    """The lines converting the scalar `x` (of MLIR type `elem`, ONNX type
    `kind`, None for f32) to the float type `target` as `name`, and the
    converted value's name."""
    if kind is None:
        return ([f"{name} = arith.extf {x} : f32 to {target}"], name) if target != "f32" else ([], x)
    op = "uitofp" if kind in UNSIGNED_INPUTS else "sitofp"
    return [f"{name} = arith.{op} {x} : {elem} to {target}"], name


def power(ctx, node, inputs) -> Act:
    """Pow of a base and an exponent of any types (activations or
    constants, broadcast), the result of the base's type (ONNX's rule):
    - a float base: math.powf in f32, an integer exponent converted;
    - an integer base, a float exponent: math.powf in f64 (exact for
      every integer up to 2^53), then toward zero to the base's type
      (as numpy and onnxruntime do);
    - integers: exponentiation by squaring over the exponent's bits,
      wrapping modulo 2^N as numpy's integers (and ONNX's reference); a
      negative exponent gives the real result toward zero (1 for a base
      of 1, -1 or 1 for -1, else 0; onnxruntime's for every base but 0)."""
    (b, b_shape, b_kind), (e, e_shape, e_kind) = (operand(ctx, node, n, v)
                                                  for n, v in zip(node.input[:2], inputs[:2]))
    if onnx.TensorProto.BOOL in (b_kind, e_kind):
        raise UnsupportedModelError(f"Pow node '{node.name}': a bool operand")
    out, ins = broadcast_operands([(b, b_shape), (e, e_shape)])
    be, ee = b.elem, e.elem
    if b_kind is None:
        def body(a):
            lines, x = to_float(a[1], ee, e_kind, "f32", "%e")
            return lines + [f"%r = math.powf {a[0]}, {x} : f32"], "%r"
    elif e_kind is None:
        def body(a):
            lines = to_float(a[0], be, b_kind, "f64", "%b")[0] + to_float(a[1], ee, None, "f64", "%e")[0]
            op = "fptoui" if b_kind in UNSIGNED_INPUTS else "fptosi"
            return lines + ["%p = math.powf %b, %e : f64", f"%r = arith.{op} %p : f64 to {be}"], "%r"
    else:
        bits = int(ee[1:])
        signed = e_kind not in UNSIGNED_INPUTS

        def body(a):
            lines = [f"%one = arith.constant 1 : {be}", f"%eone = arith.constant 1 : {ee}",
                     f"%ezero = arith.constant 0 : {ee}"]
            result, square = "%one", a[0]
            for k in range(bits - (1 if signed else 0)):
                lines += [f"%k{k} = arith.constant {k} : {ee}", f"%s{k} = arith.shrui {a[1]}, %k{k} : {ee}",
                          f"%t{k} = arith.andi %s{k}, %eone : {ee}",
                          f"%bit{k} = arith.cmpi ne, %t{k}, %ezero : {ee}",
                          f"%m{k} = arith.muli {result}, {square} : {be}",
                          f"%r{k} = arith.select %bit{k}, %m{k}, {result} : {be}",
                          f"%q{k} = arith.muli {square}, {square} : {be}"]
                result, square = f"%r{k}", f"%q{k}"
            if not signed:
                return lines, result
            # A negative exponent: 1 / b^|e| toward zero.
            lines += [f"%minus = arith.constant -1 : {be}", f"%zero = arith.constant 0 : {be}",
                      f"%isone = arith.cmpi eq, {a[0]}, %one : {be}",
                      f"%isminus = arith.cmpi eq, {a[0]}, %minus : {be}",
                      f"%odd = arith.cmpi ne, %t0, %ezero : {ee}",
                      f"%sign = arith.select %odd, %minus, %one : {be}",
                      f"%unit = arith.select %isminus, %sign, %zero : {be}",
                      f"%inverse = arith.select %isone, %one, %unit : {be}",
                      f"%negative = arith.cmpi slt, {a[1]}, %ezero : {ee}",
                      f"%r = arith.select %negative, %inverse, {result} : {be}"]
            return lines, "%r"
    return Act(ctx.emitter.generic(ins, out, body, node.name, out_elem=be), integer_type=b_kind)
