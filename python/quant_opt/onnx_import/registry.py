"""ONNX op types to the functions that import them.

Each family module registers its ops when imported; the supported op types
are exactly the registered ones. Three kinds of registration:

- `@register("Conv")`: a converter, `(importer, node, inputs, attrs) ->
  Act | list`, called for a node that reads at least one activation, once
  every input is known. `inputs` holds an `Act` or `Const` per ONNX input
  (None where absent), `attrs` the node's attributes as Python values.
  Unless registered with `reads_quantized=True`, the node is rejected before
  the call if an input is a quantized activation.
- `@register_fold("Identity")`: a fold, tried before anything else: it
  computes the node's outputs from its input values without emitting
  (Constant, Identity, Shape, QDQ of constants), returning the list of
  output values, or None where it does not apply (the node is then
  evaluated, if its inputs are all constant, or converted).
- `register_constant_only("Range", constant_inputs=(0, 1, 2))`: op types
  only accepted when all their inputs are constants (shape arithmetic the
  exporter left behind); onnx's reference evaluator computes them at
  import time. Their `constant_inputs` are the inputs they read (all of
  them, but for optional ones absent from the op).

A converter declares the inputs it needs constant (`constant_inputs`: a
Conv's weights, a Reshape's shape, a reduction's axes, a QuantizeLinear's
scale and zero point): `constant_inputs(op_type)` says which, so that a
caller holding values for graph inputs in those places (`import_model`'s
`constants`, onnx's backend tests) knows which to pass as constants.

Ops of another domain than ONNX's own (ONNX Runtime's `com.microsoft`
QLinear ops) are registered with their `domain`; a node is supported when
its op type and domain are both those registered. `register_unsupported`
gives the reason an op cannot be imported, said with the list of
unsupported ops.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Converter:
    function: Callable
    reads_quantized: bool = False
    # The positions of the ONNX inputs the op needs constant.
    constant_inputs: frozenset = frozenset()


CONVERTERS: dict[str, Converter] = {}
FOLDS: dict[str, Callable] = {}
# Op type -> the positions of its inputs (all needed constant).
CONSTANT_ONLY: dict[str, frozenset] = {}
# Op type -> its domain, for ops outside ONNX's default domain.
DOMAINS: dict[str, str] = {}
# Op type -> why it is not supported.
UNSUPPORTED_REASONS: dict[str, str] = {}


def _claim(table, op_types, entry) -> None:
    for op_type in op_types:
        if op_type in table:
            raise ValueError(f"ONNX op {op_type} is registered twice")
        table[op_type] = entry


def register(*op_types: str, reads_quantized: bool = False, domain: str = "", constant_inputs=()):
    """Registers the decorated function as the converter of `op_types` (of
    `domain`, ONNX's own by default); `constant_inputs`: the positions of
    the inputs it needs constant (it refuses an activation there)."""
    def decorate(function):
        _claim(CONVERTERS, op_types, Converter(function, reads_quantized, frozenset(constant_inputs)))
        if domain:
            DOMAINS.update(dict.fromkeys(op_types, domain))
        return function
    return decorate


def register_fold(*op_types: str):
    """Registers the decorated function as the fold of `op_types`."""
    def decorate(function):
        _claim(FOLDS, op_types, function)
        return function
    return decorate


def register_constant_only(*op_types: str, constant_inputs=()) -> None:
    """`op_types` are only evaluated on constants; `constant_inputs`: the
    positions of their inputs (every one of them needs a constant)."""
    CONSTANT_ONLY.update(dict.fromkeys(op_types, frozenset(constant_inputs)))


def register_unsupported(op_type: str, reason: str) -> None:
    UNSUPPORTED_REASONS[op_type] = reason


def op_domain(op_type: str) -> str:
    """The domain `op_type` is registered in ("" for ONNX's own)."""
    return DOMAINS.get(op_type, "")


def supported_ops() -> frozenset:
    """Every op type the importer takes on activations (a converter or a
    fold)."""
    return frozenset(CONVERTERS) | frozenset(FOLDS)


def constant_inputs(op_type: str) -> frozenset:
    """The positions of the inputs `op_type` needs constant (every input of
    an op evaluated on constants only; none for a fold)."""
    converter = CONVERTERS.get(op_type)
    return converter.constant_inputs if converter else CONSTANT_ONLY.get(op_type, frozenset())


def constant_only_ops() -> frozenset:
    return frozenset(CONSTANT_ONLY)
