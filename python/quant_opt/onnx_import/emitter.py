"""The MLIR text builder: fresh SSA names, constants and their resource
blobs, `tensor.empty` / `linalg.fill` inits, `linalg.generic`, transposes,
pads and the enclosing `func.func`.

Every method returns a `Value`: its SSA name, its type and the location name
of the op that defined it, so that whoever needs to know where a value comes
from (quant-eval's reference, through `Value.reference`) reads it from the
value instead of from the emitted text.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RESOURCE_THRESHOLD = 16  # constants with more elements become dense_resource


def f32_literal(x: float) -> str:
    """An f32 value written so that MLIR reads back the same float."""
    x = np.float32(x)
    if not np.isfinite(x):  # MLIR has no literal for these: their bits
        return f"0x{x.view(np.uint32):08X}"
    return repr(float(x))


def literal(value, elem: str = "f32") -> str:
    """`value` as an MLIR literal of the scalar type `elem`: an f32, or an
    integer written as the signed value of its bits (MLIR's integers are
    signless; an i1 as 0 or 1, followed by its type as the others)."""
    if elem == "f32":
        return f32_literal(value)
    if elem == "i1":
        return "1" if int(value) else "0"
    bits = int(elem[1:])
    value = int(value) % (1 << bits)
    return str(value - (1 << bits) if value >= 1 << (bits - 1) else value)


def tensor_type(shape, elem="f32") -> str:
    return "tensor<" + "".join(f"{d}x" for d in shape) + elem + ">"


def affine_map(rank: int, dims) -> str:
    ds = ", ".join(f"d{i}" for i in range(rank))
    res = ", ".join(d if isinstance(d, str) else f"d{d}" for d in dims)
    return f"affine_map<({ds}) -> ({res})>"


def escape(name: str) -> str:
    return name.replace("\\", "\\\\").replace('"', '\\"')


def location(name: str) -> str:
    return f'loc("{escape(name)}")'


@dataclass(frozen=True)
class Value:
    """An SSA value the emitter defined.

    `shape` is the stored shape (None for a scalar of type `elem`); `loc`
    the location name of the op that defines it, None for helper ops written
    without one (constants, `tensor.empty`, `linalg.fill`, a weight's
    quantize / dequantize pair). `reference` is the name quant-eval's
    independent reference knows the value by: the location as written in the
    text (escaped) for an op, the ONNX input name for a function argument,
    the SSA name for a value without a location."""
    ssa: str
    shape: tuple | None
    elem: str = "f32"
    loc: str | None = None
    reference: str = ""

    @property
    def type(self) -> str:
        return self.elem if self.shape is None else tensor_type(self.shape, self.elem)


class Emitter:
    def __init__(self):
        self.lines: list[str] = []
        self.arguments: list[str] = []
        self.resources: dict[str, np.ndarray] = {}
        self.counter = 0

    def fresh(self) -> str:
        self.counter += 1
        return f"%v{self.counter}"

    def emit(self, text: str) -> None:
        self.lines.append("  " + text)

    def op(self, text: str, shape, loc: str | None = None, elem: str = "f32") -> Value:
        """Emits `%vN = <text>`, followed by the location `loc` if given; the
        result has the type `shape` x `elem` that `text` must end with."""
        ssa = self.fresh()
        self.emit(f"{ssa} = {text}" + ("" if loc is None else f" {location(loc)}"))
        return Value(ssa, None if shape is None else tuple(shape), elem, loc,
                     ssa if loc is None else escape(loc))

    def argument(self, name: str, shape, elem: str = "f32") -> Value:
        """The next argument of the function, the ONNX graph input `name`."""
        ssa = f"%arg{len(self.arguments)}"
        self.arguments.append(f"{ssa}: {tensor_type(shape, elem)} {location(name)}")
        return Value(ssa, tuple(shape), elem, name, name)

    def constant(self, array: np.ndarray) -> Value:
        """An f32 tensor constant."""
        array = np.ascontiguousarray(array, dtype=np.float32)
        ttype = tensor_type(array.shape)
        flat = array.reshape(-1)
        bits = flat.view(np.uint32)  # a splat must not mix 0.0 and -0.0
        if flat.size > 0 and np.all(bits == bits[0]):
            attr = f"dense<{f32_literal(flat[0])}>"
        elif flat.size <= RESOURCE_THRESHOLD:
            attr = f"dense<{_nested(array)}>"
        else:
            name = f"w{len(self.resources)}"
            self.resources[name] = array
            attr = f"dense_resource<{name}>"
        return self.op(f"arith.constant {attr} : {ttype}", array.shape)

    def scalar(self, value: float) -> Value:
        return self.op(f"arith.constant {f32_literal(value)} : f32", None)

    def init(self, shape, value: float | None = 0.0, elem: str = "f32") -> Value:
        empty = self.op(f"tensor.empty() : {tensor_type(shape, elem)}", shape, elem=elem)
        if value is None:
            return empty
        scalar = self.scalar(value) if elem == "f32" else \
            self.op(f"arith.constant {literal(value, elem)} : {elem}", None, elem=elem)
        return self.op(f"linalg.fill ins({scalar.ssa} : {elem}) outs({empty.ssa} : {empty.type}) -> "
                       f"{empty.type}", shape, elem=elem)

    def generic(self, inputs, out_shape, body, name, reduce_dims=(), init_value=None,
                internal=False, rank=None, out_elem="f32") -> Value:
        """A linalg.generic: `inputs` are (value, dims) with dims the loop
        indices (or "0") each of the input's dims reads; the output reads the
        loops not in `reduce_dims`. `body(args)` returns the body lines and
        the value to yield, given the block argument names. The output is
        f32 unless `out_elem` says otherwise (an integer or bool result,
        whose `init_value` is an integer)."""
        rank = rank if rank is not None else len(out_shape) + len(reduce_dims)
        out_dims = [d for d in range(rank) if d not in reduce_dims]
        maps = [affine_map(rank, dims) for _, dims in inputs] + [affine_map(rank, out_dims)]
        iters = ", ".join('"reduction"' if d in reduce_dims else '"parallel"' for d in range(rank))
        out = self.init(out_shape, init_value) if out_elem == "f32" else self.init(out_shape, init_value, out_elem)
        args = [f"%a{i}" for i in range(len(inputs))] + ["%acc"]
        # Integer, bool, f16 and f64 inputs (a model's input of that type,
        # an integer activation) keep their element type in the block;
        # everything else is f32.
        elems = [v.elem if v.elem in ("i1", "i4", "i8", "i16", "i32", "i64", "f16", "f64") else "f32"
                 for v, _ in inputs] + [out_elem]
        block = ", ".join(f"{a}: {elem}" for a, elem in zip(args, elems))
        lines, result = body(args)
        ins = ", ".join(v.ssa for v, _ in inputs)
        ins_types = ", ".join(v.type for v, _ in inputs)
        # The marker goes in the leading attribute dictionary: after outs(),
        # a `{` starts the region.
        marker = ", qnn.internal" if internal else ""
        text = (f"linalg.generic {{indexing_maps = [{', '.join(maps)}], "
                f"iterator_types = [{iters}]{marker}}} ins({ins} : {ins_types}) "
                f"outs({out.ssa} : {out.type}) {{\n"
                f"  ^bb0({block}):\n")
        for line in lines:
            text += f"    {line}\n"
        text += f"    linalg.yield {result} : {out_elem}\n  }} -> {out.type}"
        return self.op(text, out_shape, name, out_elem)

    def transpose(self, value: Value, perm, name: str) -> Value:
        out_shape = tuple(value.shape[p] for p in perm)
        empty = self.init(out_shape, None)
        return self.op(f"linalg.transpose ins({value.ssa} : {value.type}) outs({empty.ssa} : "
                       f"{empty.type}) permutation = [{', '.join(map(str, perm))}]", out_shape, name)

    def pad(self, value: Value, low, high, pad_value: float, name: str, indices=None) -> Value:
        """A tensor.pad with the constant `pad_value` (of `value`'s element
        type); `indices` names the region's block arguments (%i0, %i1, ...
        by default)."""
        shape = tuple(d + lo + hi for d, lo, hi in zip(value.shape, low, high))
        indices = indices or [f"%i{k}" for k in range(len(shape))]
        return self.op(f"tensor.pad {value.ssa} low[{', '.join(map(str, low))}] "
                       f"high[{', '.join(map(str, high))}] {{\n"
                       f"  ^bb0({', '.join(f'{i}: index' for i in indices)}):\n"
                       f"    %p = arith.constant {literal(pad_value, value.elem)} : {value.elem}\n"
                       f"    tensor.yield %p : {value.elem}\n"
                       f"  }} : {value.type} to {tensor_type(shape, value.elem)}", shape, name, value.elem)

    def function(self, name: str, results: list[Value]) -> str:
        """The whole text: the function returning `results`, then the
        resource blobs of the large constants."""
        types = [r.type for r in results]
        text = [f"func.func @{name}({', '.join(self.arguments)}) -> ({', '.join(types)}) {{"]
        text += self.lines
        text.append(f"  return {', '.join(r.ssa for r in results)} : {', '.join(types)}")
        text.append("}")
        if self.resources:
            text.append("{-#\n  dialect_resources: {\n    builtin: {")
            entries = []
            for key, array in self.resources.items():
                data = np.ascontiguousarray(array, dtype=np.float32).astype("<f4").tobytes()
                entries.append(f'      {key}: "0x04000000{data.hex().upper()}"')
            text.append(",\n".join(entries))
            text.append("    }\n  }\n#-}")
        return "\n".join(text) + "\n"


def _nested(array: np.ndarray) -> str:
    if array.ndim == 0:
        return f32_literal(array)
    return "[" + ", ".join(_nested(a) for a in array) + "]"
