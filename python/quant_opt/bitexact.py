"""Bit-exactness of a model's lowered integer program against the NumPy
integer reference, layer by layer, on a sample.

quant-eval runs the quantized program with every activation exposed
(qnn-expose-activations): each is the dequantized value the integer code
computed, from which the stored integers are recovered exactly (the check
fails if dequantizing them does not give the same floats back). For each
fused contraction (Conv, depthwise Conv, Gemm, MatMul of constant weights,
with its bias and Relu / Clip), residual Add (qnn.add) and average pooling,
the reference computes the stored output
from the program's own stored input by docs/Semantics.md
(quant_opt.fusion_check.contraction_reference, written from the spec): the
weights are quantized by NumPy with the types qnn-insert-qdq chose
(`parameters=`), the bias, zero points and multipliers are derived as the
spec says. Dynamically quantized MatMul / Gemm layers and matmuls of two
activations (attention; docs/Semantics.md, "Dynamic quantization") are
checked from the program's own float inputs: the reference quantizes them at
run time as qnn.dynamic_quantize does and computes the float epilogue.
Statically quantized matmuls of two activations are checked from the
program's own stored inputs (the exact sum and the rescale). Every
output element must match: mismatches are reported, not tolerated. Layers of
other kinds are listed as not checked, with the reason.
"""

from __future__ import annotations

import concurrent.futures
import json
import math
import re
import threading

import numpy as np

from . import reference as ref
from .fusion_check import Layer, clamp_for_bounds, contraction_reference


def recover_stored(values: np.ndarray, qtype: ref.QuantType) -> np.ndarray | None:
    """The stored integers whose dequantization is `values` (per-tensor
    types), or None if no integers give exactly these floats."""
    scale, zero_point = float(qtype.scales), int(qtype.zero_points)
    stored = np.rint(values.astype(np.float64) / scale).astype(np.int64) + zero_point
    if stored.min() < qtype.qmin or stored.max() > qtype.qmax:
        return None
    back = ref.dequantize(stored, qtype)
    if not np.array_equal(ref.to_bits(back.astype(np.float32)), ref.to_bits(values.astype(np.float32))):
        return None
    return stored


_LOC_ALIAS = re.compile(r'^(#loc\d+) = loc\("((?:[^"\\]|\\.)*)"\)', re.M)
_RESOURCE = re.compile(r'^\s*([\w.$-]+): "0x([0-9A-Fa-f]+)"', re.M)
_CONSTANT = re.compile(r'^\s*(%[\w.$-]+) = arith\.constant (dense(?:_resource)?)<(.*?)> : tensor<([0-9x]*)f32>', re.M)
_CONTRACTION = re.compile(
    r'^\s*(%[\w.$-]+) = linalg\.(?:conv_2d_nhwc_hwcf|depthwise_conv_2d_nhwc_hwc|matmul|batch_matmul)\b'
    r'.*? ins\((%[\w.$-]+), (%[\w.$-]+) :.*loc\((#loc\d+|"(?:[^"\\]|\\.)*")\)\s*$', re.M)
_BIAS_ADD = re.compile(r'^\s*%[\w.$-]+ = linalg\.generic .*? ins\((%[\w.$-]+), (%[\w.$-]+) :', re.M)


_QCONSTANT = re.compile(r'^\s*(%[\w.$-]+) = qnn\.constant dense<(.*?)> : tensor<([0-9x]*)(i\d+)> -> '
                        r'tensor<[0-9x]*(!quant\.uniform<.*?\}>)>', re.M)
_DEQUANTIZE = re.compile(r'^\s*(%[\w.$-]+) = qnn\.dequantize (%[\w.$-]+) :', re.M)


def _dense_ints(body: str, shape: tuple, bits: int) -> np.ndarray | None:
    """The signed integers of a printed `dense<...>` of `i<bits>` elements
    (hex: one byte per element up to 8 bits, as MLIR stores them)."""
    if body.startswith('"0x'):
        if bits > 8:
            return None
        data = np.frombuffer(bytes.fromhex(body[3:-1]), np.uint8).astype(np.int64) & ((1 << bits) - 1)
        data = np.where(data >= 1 << (bits - 1), data - (1 << bits), data)
        return np.broadcast_to(data, shape).copy() if data.size == 1 else data.reshape(shape)
    try:
        values = np.array(json.loads(body.replace("true", "1").replace("false", "0")), dtype=np.int64)
    except ValueError:
        return None
    return np.broadcast_to(values, shape).copy() if values.ndim == 0 else values.reshape(shape)


def _dense_values(kind: str, body: str, shape: tuple, resources: dict) -> np.ndarray | None:
    """The f32 values of a printed `dense<...>` / `dense_resource<...>`."""
    if kind == "dense_resource":
        blob = resources.get(body)
        # A resource blob starts with its 4-byte alignment.
        return None if blob is None else np.frombuffer(blob[4:], "<f4").reshape(shape)
    if body.startswith('"0x'):
        data = np.frombuffer(bytes.fromhex(body[3:-1]), "<f4")
        return np.broadcast_to(data, shape).copy() if data.size == 1 else data.reshape(shape)
    try:
        values = np.array(json.loads(body), dtype=np.float32)
    except ValueError:
        return None
    return np.broadcast_to(values, shape).copy() if values.ndim == 0 else values.reshape(shape)


def module_weights(module_text: str) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """The constant weights (and the 1-D bias added right after, if any) of
    each contraction of a float module as quant-opt printed it (with
    --mlir-print-debuginfo), by the layer name of its location: the values
    the quantized program was made from, after any rewrite of the float
    model (qnn-equalize-cross-layer changes weights and biases)."""
    aliases = dict(_LOC_ALIAS.findall(module_text))
    resources = {name: bytes.fromhex(data) for name, data in _RESOURCE.findall(module_text)}
    constants = {}
    for ssa, kind, body, dims in _CONSTANT.findall(module_text):
        shape = tuple(int(d) for d in dims.split("x") if d)
        values = _dense_values(kind, body, shape, resources)
        if values is not None:
            constants[ssa] = values
    # Weights already quantized by a rewrite (qnn-round-weights-gptq,
    # qnn-correct-bias): their dequantized values, from which the reference
    # quantizes back exactly the same integers.
    quantized = {}
    for ssa, body, dims, storage, qtype in _QCONSTANT.findall(module_text):
        shape = tuple(int(d) for d in dims.split("x") if d)
        stored = _dense_ints(body, shape, int(storage[1:]))
        if stored is not None:
            quantized[ssa] = ref.dequantize(stored, ref.parse_quant_type(qtype, shape=shape))
    for result, source in _DEQUANTIZE.findall(module_text):
        if source in quantized:
            constants[result] = np.asarray(quantized[source], np.float32)
    biases = {x: constants[b] for x, b in _BIAS_ADD.findall(module_text) if b in constants
              and constants[b].ndim == 1}
    weights = {}
    for result, _, w, loc in _CONTRACTION.findall(module_text):
        name = aliases.get(loc, loc.strip('"')) if loc.startswith("#") else loc.strip('"')
        if w in constants:
            weights[name] = (constants[w], biases.get(result))
    return weights


_INT_CONSTANT = re.compile(r'^\s*(%[\w.$-]+) = (?:arith|qnn)\.constant dense<(.*?)> : tensor<([0-9x]*)i(\d+)>', re.M)
_LOOKUP = re.compile(r'^\s*(%[\w.$-]+) = qnn\.lookup (%[\w.$-]+), (%[\w.$-]+) axis (\d+) : '
                     r'tensor<[0-9x]*i(\d+)>, .*? -> tensor<[0-9x]*x(!quant\.uniform<.*?\}>)>', re.M)
_DEQUANTIZE = re.compile(r'^\s*(%[\w.$-]+) = qnn\.dequantize (%[\w.$-]+) :', re.M)


def _dense_integers(body: str, shape: tuple, bits: int) -> np.ndarray | None:
    """The bits of a printed integer `dense<...>` (signless: two's
    complement), as int64 sign-extended from `bits`; None for what it cannot
    read (bit-packed i1 hex)."""
    if body.startswith('"0x'):
        width = -(-bits // 8)
        if bits == 1 or width > 8:
            return None
        raw = np.frombuffer(bytes.fromhex(body[3:-1]), np.uint8).reshape(-1, width).astype(np.int64)
        data = (raw << (8 * np.arange(width))).sum(axis=1)
    else:
        try:
            data = np.array(json.loads(body), dtype=np.int64)
        except ValueError:
            return None
    data = data & ((1 << bits) - 1)
    data = np.where(data >= 1 << (bits - 1), data - (1 << bits), data)
    return np.broadcast_to(data, shape).copy() if data.size == 1 else data.reshape(shape)


def module_codebook_weights(module_text: str) -> dict[str, tuple[np.ndarray, str, np.ndarray | None]]:
    """The codebook weights (qnn.dequantize of a qnn.lookup of constants,
    qnn-cluster-weights) of each contraction of a printed float module, by
    layer name: their stored values (reference.lookup of the codes and the
    table), their quantized type, and the 1-D bias added right after."""
    aliases = dict(_LOC_ALIAS.findall(module_text))
    integers = {}
    for ssa, body, dims, bits in _INT_CONSTANT.findall(module_text):
        values = _dense_integers(body, tuple(int(d) for d in dims.split("x") if d), int(bits))
        if values is not None:
            integers[ssa] = values
    lookups = {}
    for ssa, codes, table, axis, bits, type_text in _LOOKUP.findall(module_text):
        if codes in integers and table in integers:
            lookups[ssa] = (ref.lookup(integers[codes], integers[table], int(axis), int(bits)), type_text)
    dequantized = {w: lookups[l] for w, l in _DEQUANTIZE.findall(module_text) if l in lookups}
    constants = {}
    for ssa, kind, body, dims in _CONSTANT.findall(module_text):
        values = _dense_values(kind, body, tuple(int(d) for d in dims.split("x") if d), {})
        if values is not None and values.ndim == 1:
            constants[ssa] = values
    biases = {x: constants[b] for x, b in _BIAS_ADD.findall(module_text) if b in constants}
    weights = {}
    for result, _, w, loc in _CONTRACTION.findall(module_text):
        name = aliases.get(loc, loc.strip('"')) if loc.startswith("#") else loc.strip('"')
        if w in dequantized:
            weights[name] = (*dequantized[w], biases.get(result))
    return weights


_GENERIC = re.compile(r'= linalg\.generic [^\n]*\n(.*?)\n\s*\} -> [^\n]*loc\((#loc\d+|"(?:[^"\\]|\\.)*")\)', re.S)
_SCALAR = re.compile(r'(%[\w.$-]+) = arith\.constant ([-+0-9.eE]+|0x[0-9A-Fa-f]+) : f32')
_MINMAX = re.compile(r'arith\.(maximumf|minimumf|maxnumf|minnumf) (%[\w.$-]+), (%[\w.$-]+)')


def module_clamps(module_text: str) -> dict[str, tuple[float, float]]:
    """The clamp bounds of each elementwise linalg.generic of a printed
    module (max / min with f32 constants), by the layer name of its
    location: what a rewrite of the float model left of each activation
    (qnn-equalize-cross-layer turns ReLU6 into ReLU)."""
    aliases = dict(_LOC_ALIAS.findall(module_text))

    def scalars_in(text):
        return {ssa: (np.frombuffer(bytes.fromhex(value[2:]), ">f4")[0].item() if value.startswith("0x")
                      else float(value)) for ssa, value in _SCALAR.findall(text)}
    # Names repeat from one body to the next: a body's own constants first.
    outer = scalars_in(module_text)
    clamps = {}
    for body, loc in _GENERIC.findall(module_text):
        scalars = {**outer, **scalars_in(body)}
        lo, hi = -math.inf, math.inf
        for kind, a, b in _MINMAX.findall(body):
            value = scalars.get(b, scalars.get(a))
            if value is None:
                continue
            if kind.startswith("max"):
                lo = max(lo, value)
            else:
                hi = min(hi, value)
        name = aliases.get(loc, loc.strip('"')) if loc.startswith("#") else loc.strip('"')
        clamps[name] = (lo, hi)
    return clamps


def _bounds(segment_nodes, clamps) -> tuple | None:
    """The clamp of the Relu / Clip nodes fused into the layer, as fusion_check
    takes it: (lo, hi or None)."""
    lo, hi = -math.inf, math.inf
    found = False
    for node in segment_nodes:
        if node.name in clamps:
            found = True
            a, b = clamps[node.name]
            lo, hi = max(lo, a), min(hi, b)
    if not found:
        return None
    return (lo, None if hi == math.inf else hi)


def check_dynamic_matmul(name: str, out_id: str, x: np.ndarray, y: np.ndarray, calls: int,
                         config: dict, w: np.ndarray, w_type: ref.QuantType, bias, bounds) -> dict:
    """A dynamically quantized MatMul / Gemm (docs/Semantics.md, "Dynamically
    quantized contractions"): from the program's own float input `x` (rows
    along the last axis; `calls` program calls stacked along axis 0, each
    its own group for per-tensor scales), qnn.dynamic_quantize, the exact
    integer sum, the epilogue, the bias add and the clamp, all in f32 as
    the spec says, against the program's float output `y`."""
    k, n = w.shape
    rows = x.reshape(-1, k)
    want = np.empty((rows.shape[0], n), np.float32)
    w_stored = ref.quantize(w, w_type).astype(np.int64)
    w_scales = np.broadcast_to(np.asarray(w_type.scales, np.float64), (n,))
    w_zero = np.broadcast_to(np.asarray(w_type.zero_points, np.int64), (n,))
    per_row = config["granularity"] == "per_row"
    for chunk in np.split(np.arange(rows.shape[0]), 1 if per_row else calls):
        q, s, z = ref.dynamic_quantize(rows[chunk], (len(chunk), 1) if per_row else (1, 1), config["bits"],
                                       config["signed"], config["symmetric"])
        acc = (q - z) @ (w_stored - w_zero)
        init = np.zeros(acc.shape, np.float32) if bias is None else np.broadcast_to(bias, acc.shape)
        want[chunk] = ref.dynamic_contraction_epilogue(acc, np.broadcast_to(s, acc.shape), w_scales, init)
    if bounds is not None:
        lo, hi = bounds
        want = np.maximum(want, np.float32(lo))
        if hi is not None:
            want = np.minimum(want, np.float32(hi))
    got = y.reshape(-1, n).astype(np.float32)
    if want.shape != got.shape:
        return {"layer": name, "output": out_id, "elements": int(got.size), "mismatches": int(got.size),
                "note": f"reference shape {want.shape}, program shape {got.shape}"}
    return {"layer": name, "output": out_id, "elements": int(want.size),
            "mismatches": int(np.count_nonzero(ref.to_bits(want) != ref.to_bits(got)))}


def check_dynamic_activation_matmul(name: str, out_id: str, a: np.ndarray, b: np.ndarray, y: np.ndarray,
                                    calls: int, config: dict) -> dict:
    """A batch matmul of two dynamically quantized activations (docs/Semantics.md,
    "Dynamically quantized contractions"): from the program's own float
    inputs `a` (batch, M, K) and `b` (batch, K, N), `calls` program calls
    stacked along axis 0, both quantized at run time (per row of `a` and per
    column of `b`, or per call), the exact integer sum and 0 + f32(acc) ·
    (s_a · s_b), against the program's float output `y`."""
    per_row = config["granularity"] == "per_row"
    bits, signed, symmetric = config["bits"], config["signed"], config["symmetric"]
    want = np.empty((a.shape[0], a.shape[1], b.shape[2]), np.float32)
    for chunk in np.split(np.arange(a.shape[0]), 1 if per_row else calls):
        qa, sa, za = ref.dynamic_quantize(a[chunk], (len(chunk), a.shape[1], 1) if per_row else (1, 1, 1),
                                          bits, signed, symmetric)
        qb, sb, zb = ref.dynamic_quantize(b[chunk], (len(chunk), 1, b.shape[2]) if per_row else (1, 1, 1),
                                          bits, signed, symmetric)
        acc = np.matmul(qa - za, qb - zb)
        want[chunk] = ref.dynamic_contraction_epilogue(acc, np.broadcast_to(sa * sb, acc.shape), 1.0)
    got = y.reshape(want.shape).astype(np.float32) if y.size == want.size else y
    if want.shape != got.shape:
        return {"layer": name, "output": out_id, "elements": int(got.size), "mismatches": int(got.size),
                "note": f"reference shape {want.shape}, program shape {got.shape}"}
    return {"layer": name, "output": out_id, "elements": int(want.size),
            "mismatches": int(np.count_nonzero(ref.to_bits(want) != ref.to_bits(got)))}


def check_static_activation_matmul(name: str, out_id: str, a: np.ndarray, a_type: ref.QuantType,
                                   b: np.ndarray, b_type: ref.QuantType, y: np.ndarray,
                                   y_type: ref.QuantType) -> dict:
    """A batch matmul of two statically quantized activations (docs/Semantics.md,
    "Fused integer contractions", two activations): from the program's own
    stored inputs `a` (batch, M, K) and `b` (batch, K, N), the exact sum of
    (a - z_a)·(b - z_b) and qnn.rescale by s_a · s_b / s_y, against the
    program's stored output `y`."""
    acc = np.matmul(a - int(a_type.zero_points), b - int(b_type.zero_points))
    m, n = ref.quantize_multiplier(float(a_type.scales) * float(b_type.scales) / float(y_type.scales))
    want = ref.rescale(acc, m, n, y_type)
    got = y.reshape(want.shape) if y.size == want.size else y
    if want.shape != got.shape:
        return {"layer": name, "output": out_id, "elements": int(got.size), "mismatches": int(got.size),
                "note": f"reference shape {want.shape}, program shape {got.shape}"}
    return {"layer": name, "output": out_id, "elements": int(want.size),
            "mismatches": int(np.count_nonzero(want != got))}


def check_layers(details: dict, parameters: dict, segments: dict,
                 activations: dict[str, np.ndarray], calls: dict[str, tuple[np.ndarray, int]] | None = None,
                 workers: int = 1) -> dict:
    """Checks each fused contraction; `segments` maps an exposed id to the
    ONNX nodes that end in it, `activations` an id to the quantized
    program's (dequantized) values on the sample. `calls` gives, by id, the
    values of whole program calls and how many calls they stack (the
    groups of per-tensor dynamic scales). The layers are independent:
    `workers` threads check them (NumPy lets go of the GIL in its array
    operations); the report lists them in the same order either way."""
    owner = {node.name: id_ for id_, nodes in segments.items() for node in nodes}
    dynamic = parameters.get("dynamic_activations", {})
    stored = _StoredActivations(activations)

    def skip(name, reason):
        return {"layer": name, "reason": reason}, None

    def contraction(name, layer):
        out_id = owner.get(name)
        in_id = layer["input"]
        if out_id is None or in_id not in activations:
            return skip(name, "its input or output is not an exposed activation")
        if name in dynamic and name in parameters["weights"]:
            if layer["kind"] != "matmul":
                return skip(name, "a dynamically quantized convolution: not in the reference")
            if calls is None or in_id not in calls or out_id not in calls:
                return skip(name, "dynamic: the program calls' values are not given")
            w = layer["weight"]
            w_type = ref.parse_quant_type(parameters["weights"][name], shape=w.shape)
            if w_type.kind == "sub_channel":
                # qnn-fuse-quantized-ops leaves these float, with a remark.
                return skip(name, "dynamic activations with per-group weights are not fused")
            (x, count), (y, _) = calls[in_id], calls[out_id]
            return None, check_dynamic_matmul(name, out_id, x, y, count, dynamic[name], w, w_type,
                                              layer["bias"], _bounds(segments[out_id], details["clamps"]))
        # Codebook weights (qnn-cluster-weights) are quantized in the float
        # model already: their stored values and type come with the layer.
        codebook = layer.get("codebook")
        if name not in parameters["weights"] and codebook is None:
            return skip(name, "its weights are not quantized (skipped by the recipe, or weight-only)")
        if in_id not in parameters["activations"] or out_id not in parameters["activations"]:
            return skip(name, "its input or output is not quantized")
        if layer["dilations"] != [1, 1] or layer["strides"][0] != layer["strides"][1]:
            return skip(name, "dilated or unequal strides: not in the reference")
        x_type = ref.parse_quant_type(parameters["activations"][in_id])
        y_type = ref.parse_quant_type(parameters["activations"][out_id])
        w = layer["weight"]
        w_type = ref.parse_quant_type(codebook[1] if codebook else parameters["weights"][name], shape=w.shape)
        if x_type.kind != "per_tensor" or y_type.kind != "per_tensor":
            return skip(name, "per-axis activations")
        x_stored = stored.get(in_id, parameters["activations"][in_id], x_type)
        y_stored = stored.get(out_id, parameters["activations"][out_id], y_type)
        if x_stored is None or y_stored is None:
            return None, _unrecoverable(name, out_id, activations[out_id])
        w_stored = codebook[0] if codebook else ref.quantize(w, w_type).astype(np.int64)
        spec = Layer(kind=layer["kind"], x_shape=x_stored.shape[1:], w=w, bias=layer["bias"],
                     activation="none", strides=int(layer["strides"][0]))
        want = contraction_reference(spec, x_stored, x_type, w_stored, w_type, y_type,
                                     _bounds(segments[out_id], details["clamps"]))
        return None, _compare(name, out_id, want, y_stored)

    def activation_matmul(name, matmul):
        ids = matmul["inputs"] + [name]
        if calls is None or any(i not in calls for i in ids):
            return skip(name, "its inputs or output are not exposed activations")
        (a, count), (b, _), (y, _) = (calls[i] for i in ids)
        return None, check_dynamic_activation_matmul(name, name, a, b, y, count, dynamic[name])

    def static_activation_matmul(name, matmul):
        ids = matmul["inputs"] + [owner.get(name, name)]
        types = [parameters["activations"].get(i) for i in ids]
        if any(i not in activations for i in ids) or None in types:
            return skip(name, "its inputs or output are not quantized activations")
        a_type, b_type, y_type = (ref.parse_quant_type(t) for t in types)
        if any(t.kind != "per_tensor" for t in (a_type, b_type, y_type)):
            return skip(name, "per-axis activations")
        a, b, y = (stored.get(i, text, t) for i, text, t in zip(ids, types, (a_type, b_type, y_type)))
        if a is None or b is None or y is None:
            return None, _unrecoverable(name, ids[2], activations[ids[2]])
        return None, check_static_activation_matmul(name, ids[2], a, a_type, b, b_type, y, y_type)

    def add(name, add):
        out_id = owner.get(name)
        ins = add["inputs"]
        types = [parameters["activations"].get(i) for i in ins + [out_id]]
        if out_id is None or any(i not in activations for i in ins) or None in types:
            return skip(name, "its inputs or output are not quantized activations")
        a_type, b_type, y_type = (ref.parse_quant_type(t) for t in types)
        a, b, y = (stored.get(i, text, t) for i, text, t in zip(ins + [out_id], types, (a_type, b_type, y_type)))
        if a is None or b is None or y is None:
            return None, _unrecoverable(name, out_id, activations[out_id])
        m_a, m_b, n = ref.add_parameters(float(a_type.scales), float(b_type.scales), float(y_type.scales))
        want = ref.add(a, a_type, b, b_type, (m_a, m_b), n, y_type,
                       clamp=clamp_for_bounds(_bounds(segments[out_id], details["clamps"]), y_type))
        return None, _compare(name, out_id, want, y)

    def average_pool(name, pool):
        out_id = owner.get(name)
        types = [parameters["activations"].get(i) for i in (pool["input"], out_id)]
        if out_id is None or pool["input"] not in activations or None in types:
            return skip(name, "its input or output is not a quantized activation")
        x_type, y_type = (ref.parse_quant_type(t) for t in types)
        x = stored.get(pool["input"], types[0], x_type)
        y = stored.get(out_id, types[1], y_type)
        if x is None or y is None:
            return None, _unrecoverable(name, out_id, activations[out_id])
        want = ref.average_pool_nhwc(x, x_type, tuple(pool["kernel"]), tuple(pool["strides"]), divisor=None,
                                     factor=pool["factor"], out_type=y_type,
                                     dilations=tuple(pool.get("dilations", (1, 1))))
        return None, _compare(name, out_id, want, y)

    jobs = [(contraction, name, layer) for name, layer in details["contractions"].items()]
    jobs += [(activation_matmul if name in dynamic else static_activation_matmul, name, matmul)
             for name, matmul in details.get("activation_matmuls", {}).items()]
    jobs += [(add, name, op) for name, op in details.get("adds", {}).items()]
    jobs += [(average_pool, name, pool) for name, pool in details.get("average_pools", {}).items()]
    if workers > 1 and len(jobs) > 1:
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            results = list(pool.map(lambda job: job[0](job[1], job[2]), jobs))
    else:
        results = [check(name, item) for check, name, item in jobs]
    checked = [result for _, result in results if result is not None]
    unchecked = [reason for reason, _ in results if reason is not None]
    return {"layers_checked": len(checked), "elements": sum(c["elements"] for c in checked),
            "mismatches": sum(c["mismatches"] for c in checked),
            "layers": checked, "not_checked": unchecked}


class _StoredActivations:
    """recover_stored of each exposed activation under its type, computed
    once: an activation is one layer's output and the next one's input."""

    def __init__(self, activations: dict[str, np.ndarray]):
        self._activations = activations
        self._stored: dict[tuple[str, str], concurrent.futures.Future] = {}
        self._lock = threading.Lock()

    def get(self, id_: str, type_text: str, qtype: ref.QuantType) -> np.ndarray | None:
        with self._lock:
            future = self._stored.get((id_, type_text))
            owner = future is None
            if owner:
                future = self._stored[id_, type_text] = concurrent.futures.Future()
        if owner:
            try:
                future.set_result(recover_stored(self._activations[id_], qtype))
            except BaseException as error:
                future.set_exception(error)
        return future.result()


def _compare(name, out_id, want, got) -> dict:
    if want.shape != got.shape:
        return {"layer": name, "output": out_id, "elements": int(got.size), "mismatches": int(got.size),
                "note": f"reference shape {want.shape}, program shape {got.shape}"}
    return {"layer": name, "output": out_id, "elements": int(want.size),
            "mismatches": int(np.count_nonzero(want != got))}


def _unrecoverable(name, out_id, values) -> dict:
    return {"layer": name, "output": out_id, "elements": int(values.size), "mismatches": int(values.size),
            "note": "the exposed values are not dequantized integers"}
