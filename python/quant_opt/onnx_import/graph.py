"""Model-level work on the ONNX graph before and around the node-by-node
import: reading attributes and Constant nodes, the support check, constant
evaluation (onnx's reference evaluator), GELU and LayerNorm fusion, BatchNormalization
folding and the MatMul biases imported with their MatMul."""

from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import numpy_helper

from .registry import UNSUPPORTED_REASONS, constant_only_ops, op_domain, register_constant_only, supported_ops
from .values import Const, UnsupportedModelError

register_constant_only("ConstantOfShape", constant_inputs=(0,))
register_constant_only("Range", constant_inputs=(0, 1, 2))


def attrs(node) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def initializer_array(tensor) -> np.ndarray:
    """A tensor's values; 4-bit integers (which onnx reads as float32 or a
    wider integer type) as int8 / uint8."""
    array = numpy_helper.to_array(tensor)
    if tensor.data_type == onnx.TensorProto.INT4:
        return array.astype(np.int8)
    if tensor.data_type == onnx.TensorProto.UINT4:
        return array.astype(np.uint8)
    return array


def constant_node_value(node) -> np.ndarray:
    values = attrs(node)
    if "value" in values:
        return initializer_array(values["value"])
    for key in ("value_float", "value_int"):
        if key in values:
            return np.array(values[key])
    for key in ("value_floats", "value_ints"):
        if key in values:
            return np.array(values[key])
    raise UnsupportedModelError(f"Constant node '{node.name}': unsupported value attribute")


def name_unnamed_nodes(graph) -> None:
    """Gives every node without a name (ONNX allows them; onnx.helper.make_node
    leaves the name empty) one, OpType_index (Conv_0), unique. Layers,
    statistics and reports are named by node, so an empty name would name
    nothing. (Not the output's name: the harness tells nodes and tensors
    apart by name.)"""
    taken = {n.name for n in graph.node if n.name}
    for index, node in enumerate(graph.node):
        if node.name:
            continue
        name, suffix = f"{node.op_type}_{index}", 1
        while name in taken:
            name, suffix = f"{node.op_type}_{index}_{suffix}", suffix + 1
        node.name = name
        taken.add(name)


def check_supported(graph) -> None:
    """Raises an error listing every unsupported op of the graph at once."""
    supported, constant_only = supported_ops(), constant_only_ops()
    unsupported = {}
    for node in graph.node:
        domain = "" if node.domain in ("", "ai.onnx") else node.domain
        if domain == op_domain(node.op_type) and (node.op_type in supported or node.op_type in constant_only):
            continue
        # Custom ops are supported only where registered with their domain.
        op = f"{node.domain}.{node.op_type}" if domain else node.op_type
        unsupported.setdefault(op, []).append(node.name or "(unnamed)")
    if unsupported:
        listing = "; ".join(f"{op} ({len(names)}: {', '.join(names[:3])}"
                            f"{', ...' if len(names) > 3 else ''})"
                            for op, names in sorted(unsupported.items()))
        reasons = "".join(f"; {op}: {UNSUPPORTED_REASONS[op]}" for op in sorted(unsupported)
                          if op in UNSUPPORTED_REASONS)
        raise UnsupportedModelError(
            f"{len(unsupported)} unsupported op type(s) in the model: {listing}{reasons}")


def evaluate(node, inputs, model) -> list:
    """Evaluates a node of constant inputs with onnx's reference evaluator."""
    from onnx.reference import ReferenceEvaluator
    names = [f"i{k}" if n else "" for k, n in enumerate(node.input)]
    feeds = {name: v.array for name, v in zip(names, inputs) if name}
    single = onnx.helper.make_node(node.op_type, names, [f"o{k}" for k in range(len(node.output))],
                                   domain=node.domain)
    single.attribute.extend(node.attribute)
    graph = onnx.helper.make_graph(
        [single], "fold",
        [onnx.helper.make_tensor_value_info(n, onnx.helper.np_dtype_to_tensor_dtype(feeds[n].dtype), None)
         for n in names if n],
        [onnx.helper.make_tensor_value_info(f"o{k}", onnx.TensorProto.UNDEFINED, None)
         for k in range(len(node.output))])
    folded = onnx.helper.make_model(graph, opset_imports=model.opset_import)
    return ReferenceEvaluator(folded).run(None, feeds)


def fold_batch_norms(values: dict, graph, nodes: list) -> list:
    """Folds each BatchNormalization that is the only reader of a Conv's
    output into the Conv's weights and bias (new constants in `values`, the
    Conv rewired to them); returns the nodes left."""
    readers = {}
    for node in nodes:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    producers = {out: node for node in nodes for out in node.output}
    folded = set()
    for node in nodes:
        if node.op_type != "BatchNormalization" or attrs(node).get("training_mode", 0):
            continue
        conv = producers.get(node.input[0])
        if (conv is None or conv.op_type != "Conv" or len(readers.get(conv.output[0], [])) != 1
                or conv.output[0] in {o.name for o in graph.output}):
            continue
        # BN's four parameters, the Conv's weights and bias if it has one.
        consts = [values.get(n) for n in list(node.input[1:5]) + [i for i in conv.input[1:] if i]]
        if not all(isinstance(c, Const) and c.qparams is None for c in consts):
            continue
        gamma, beta, mean, var, w = (c.array.astype(np.float64) for c in consts[:5])
        b = consts[5].array.astype(np.float64) if len(consts) > 5 else np.zeros(w.shape[0])
        eps = attrs(node).get("epsilon", 1e-5)
        factor = gamma / np.sqrt(var + eps)
        new_w = (w * factor.reshape(-1, *[1] * (w.ndim - 1))).astype(np.float32)
        new_b = ((b - mean) * factor + beta).astype(np.float32)
        wname, bname = conv.name + ".folded_weight", conv.name + ".folded_bias"
        values[wname] = Const(new_w)
        values[bname] = Const(new_b)
        source = conv.input[0]
        del conv.input[:]
        conv.input.extend([source, wname, bname])
        conv.output[0] = node.output[0]
        folded.add(id(node))
    return [n for n in nodes if id(n) not in folded]


def find_matmul_biases(values: dict, graph) -> dict:
    """Finds each Add of a constant bias (N values along the last axis)
    that is the only reader of a MatMul of constant 2-D weights, so that
    the MatMul adds the bias before its result is reshaped back (where
    quant-opt fuses it). Returns the MatMul's output -> (the Add, the
    bias)."""
    biases = {}
    readers = {}
    for n in graph.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)
    outputs = {o.name for o in graph.output}
    for n in graph.node:
        if n.op_type != "MatMul" or n.output[0] in outputs:
            continue
        weight = values.get(n.input[1])
        users = readers.get(n.output[0], [])
        if not isinstance(weight, Const) or weight.array.ndim != 2 or len(users) != 1 \
                or users[0].op_type != "Add":
            continue
        add = users[0]
        bias = values.get(add.input[1] if add.input[0] == n.output[0] else add.input[0])
        if isinstance(bias, Const) and bias.qparams is None and bias.array.size == weight.array.shape[1] \
                and bias.array.shape[-1:] == (weight.array.shape[1],):
            biases[n.output[0]] = (add, bias)
    return biases


def _replace_nodes(graph: onnx.GraphProto, removed: set, new_nodes: dict) -> None:
    """Drops the nodes whose id() is in `removed`, except those `new_nodes`
    maps (by id()) to the node that takes their place."""
    if not removed:
        return
    nodes = [new_nodes.get(id(n), n) for n in graph.node if id(n) in new_nodes or id(n) not in removed]
    del graph.node[:]
    graph.node.extend(nodes)


def fuse_gelu(model: onnx.ModelProto) -> None:
    """Rewrites the erf form torch exports for GELU (x * 0.5 * (1 + erf(x /
    sqrt 2)), in any order of the products) into one Gelu node, so that its
    inner values are not quantized one by one."""
    graph = model.graph
    consts = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            consts[node.output[0]] = constant_node_value(node)
    producers = {o: n for n in graph.node for o in n.output}
    readers = {}
    for n in graph.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)

    def const_value(name):
        return float(consts[name].reshape(-1)[0]) if name in consts and consts[name].size == 1 else None

    def other(node, name):
        return node.input[1] if node.input[0] == name else node.input[0]

    outputs = {o.name for o in graph.output}

    def only_reader(name, op_type):
        """The one node reading `name` if it is an `op_type` (the fused
        values must have no other use)."""
        users = readers.get(name, [])
        if name in outputs or len(users) != 1 or users[0].op_type != op_type:
            return None
        return users[0]

    removed, new_nodes = set(), {}
    for erf in graph.node:
        if erf.op_type != "Erf":
            continue
        div = producers.get(erf.input[0])
        if div is None or div.op_type != "Div" or only_reader(div.output[0], "Erf") is None \
                or not math.isclose(const_value(div.input[1]) or 0, math.sqrt(2), rel_tol=1e-6):
            continue
        x = div.input[0]
        add = only_reader(erf.output[0], "Add")
        if add is None or const_value(other(add, erf.output[0])) != 1.0:
            continue
        mul = only_reader(add.output[0], "Mul")
        if mul is None:
            continue
        if other(mul, add.output[0]) == x:  # (x * (1 + erf)) * 0.5
            last = only_reader(mul.output[0], "Mul")
            if last is None or const_value(other(last, mul.output[0])) != 0.5:
                continue
            chain = [div, erf, add, mul, last]
        else:  # (x * 0.5) * (1 + erf)
            half, last = producers.get(other(mul, add.output[0])), mul
            if half is None or half.op_type != "Mul" or x not in half.input or \
                    const_value(other(half, x)) != 0.5 or only_reader(half.output[0], "Mul") is None:
                continue
            chain = [half, div, erf, add, mul]
        removed.update(id(n) for n in chain)
        new_nodes[id(last)] = onnx.helper.make_node("Gelu", [x], [last.output[0]], name=last.name)
    _replace_nodes(graph, removed, new_nodes)


def fuse_layer_norm(model: onnx.ModelProto) -> None:
    """Rewrites the form torch exports for LayerNorm below opset 17
    (ReduceMean, Sub, Pow 2, ReduceMean, Add eps, Sqrt, Div, Mul by a
    constant scale, Add of a constant bias, over the last axis) into one
    LayerNormalization node, so that its inner values are not quantized one
    by one (as at opset 17, where torch exports LayerNormalization)."""
    graph = model.graph
    consts = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            consts[node.output[0]] = constant_node_value(node)
        elif node.op_type == "Identity" and node.input[0] in consts:  # torch's shared weights
            consts[node.output[0]] = consts[node.input[0]]
    producers = {o: n for n in graph.node for o in n.output}
    readers = {}
    for n in graph.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)
    outputs = {o.name for o in graph.output}

    def readers_of(name, *op_types):
        """The nodes reading `name` if they are exactly of `op_types` (in
        any order) and `name` is no graph output."""
        users = readers.get(name, [])
        if name in outputs or sorted(u.op_type for u in users) != sorted(op_types):
            return None
        return users

    def last_axis_mean(node):
        if node is None or node.op_type != "ReduceMean" or len(node.input) > 1:
            return False
        a = attrs(node)
        return a.get("axes") == [-1] and a.get("keepdims", 1) == 1

    def const_of(node, name):
        other = node.input[1] if node.input[0] == name else node.input[0]
        return other, consts.get(other)

    removed, new_nodes = set(), {}
    for sub in graph.node:
        if sub.op_type != "Sub":
            continue
        x, mean = sub.input
        if not last_axis_mean(producers.get(mean)) or producers[mean].input[0] != x \
                or readers_of(mean, "Sub") is None:
            continue
        users = readers_of(sub.output[0], "Pow", "Div")
        if users is None:
            continue
        pow_, div = sorted(users, key=lambda u: u.op_type != "Pow")
        exponent = consts.get(pow_.input[1])
        if pow_.input[0] != sub.output[0] or div.input[0] != sub.output[0] or exponent is None \
                or exponent.size != 1 or float(exponent.reshape(-1)[0]) != 2.0:
            continue
        var = readers_of(pow_.output[0], "ReduceMean")
        if var is None or not last_axis_mean(var[0]):
            continue
        add_eps = readers_of(var[0].output[0], "Add")
        if add_eps is None:
            continue
        _, eps = const_of(add_eps[0], var[0].output[0])
        sqrt = readers_of(add_eps[0].output[0], "Sqrt")
        if eps is None or eps.size != 1 or sqrt is None or div.input[1] != sqrt[0].output[0] \
                or readers_of(sqrt[0].output[0], "Div") is None:
            continue
        mul = readers_of(div.output[0], "Mul")
        if mul is None:
            continue
        scale_name, scale = const_of(mul[0], div.output[0])
        add = readers_of(mul[0].output[0], "Add")
        if scale is None or scale.ndim != 1 or add is None:
            continue
        bias_name, bias = const_of(add[0], mul[0].output[0])
        if bias is None or bias.ndim != 1 or bias.shape != scale.shape:
            continue
        chain = [producers[mean], sub, pow_, var[0], add_eps[0], sqrt[0], div, mul[0], add[0]]
        removed.update(id(n) for n in chain)
        new_nodes[id(add[0])] = onnx.helper.make_node(
            "LayerNormalization", [x, scale_name, bias_name], [add[0].output[0]], name=add[0].name,
            axis=-1, epsilon=float(eps.reshape(-1)[0]))
    _replace_nodes(graph, removed, new_nodes)
