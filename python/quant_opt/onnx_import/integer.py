"""Integer and bool activations: a model's integer or bool input, or a Cast
to an integer type, computed on as such (token ids, counters, masks).

They stay in their ONNX element type (signless in MLIR; the ONNX type, kept
on the `Act`, says whether an op is signed or unsigned) until a Cast to
FLOAT. The ops below take them with ONNX's broadcasting, as ONNX computes
them on integers: Add, Sub and Mul wrap around modulo 2^N, Div truncates
toward zero (a division by zero is refused by the run, not defined by
ONNX), Max and Min compare signed or unsigned. Another op reading an
integer activation is refused by name (`Importer.act`).
"""

from __future__ import annotations

import numpy as np
import onnx

from .emitter import tensor_type
from .values import INTEGER_INPUTS, UNSIGNED_INPUTS, Act, Const, UnsupportedModelError

# Op -> (signed op, unsigned op), arith ops on two integers.
BINARY = {"Add": ("addi", "addi"), "Sub": ("subi", "subi"), "Mul": ("muli", "muli"),
          "Div": ("divsi", "divui"), "Max": ("maxsi", "maxui"), "Min": ("minsi", "minui")}
VARIADIC = ("Max", "Min")


def reads_integers(node, inputs) -> bool:
    """Whether `node` is an op computed here: one of BINARY reading an
    integer (or bool) activation."""
    return node.op_type in BINARY and any(isinstance(v, Act) and v.integer_type for v in inputs)


def integer_constant(ctx, array: np.ndarray, elem: str):
    """An integer tensor constant of MLIR type `elem`."""
    literal = array.astype(np.int64).tolist()
    return ctx.emitter.op(f"arith.constant dense<{literal}> : {tensor_type(array.shape, elem)}", array.shape,
                          elem=elem)


def convert(ctx, node, inputs, attrs) -> Act:
    """`node` (an op of BINARY) on integer operands of one ONNX type."""
    operands = [v for v in inputs if v is not None]
    types = {v.integer_type if isinstance(v, Act) else v.onnx_type for v in operands}
    types.discard(None)
    kind = next(iter(types)) if len(types) == 1 else None
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
    out = tuple(np.broadcast_shapes(*(s for _, s in values)))
    rank = len(out)
    ins = []
    for value, shape in values:
        off = rank - len(shape)
        ins.append((value, ["0" if d == 1 and out[i + off] != 1 else i + off for i, d in enumerate(shape)]))
    op = BINARY[node.op_type][1 if kind in UNSIGNED_INPUTS else 0]

    def body(args):
        lines, result = [], args[0]
        for k, arg in enumerate(args[1:len(ins)]):
            lines.append(f"%i{k} = arith.{op} {result}, {arg} : {elem}")
            result = f"%i{k}"
        return lines, result

    return Act(ctx.emitter.generic(ins, out, body, node.name, out_elem=elem), integer_type=kind)
