"""The ONNX importer: each supported op, imported, run with quant-run and
compared with onnxruntime; its errors."""

import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from quant_opt.execution import find_tool, run_module
from quant_opt.onnx_import import UnsupportedModelError, import_model

PYTHON_DIR = Path(__file__).resolve().parents[1]
BATCH = 2
C, H, W = 4, 6, 5  # the image every 4-D test starts from: N x C x H x W


def const(name, array, dtype=np.float32):
    return numpy_helper.from_array(np.asarray(array, dtype=dtype), name)


def weights(name, shape, seed, scale=0.5):
    return const(name, np.random.default_rng(seed).normal(0, scale, shape))


def make_model(nodes, inputs, outputs, initializers=(), opset=17):
    """A checked model; `inputs` maps names to shapes ("N" is the batch),
    output types are inferred."""
    graph = helper.make_graph(
        nodes, "test",
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape) for name, shape in inputs.items()],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in outputs],
        list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    onnx.checker.check_model(model, full_check=True)
    return model


def random_inputs(model, seed=0):
    rng = np.random.default_rng(seed)
    feeds = {}
    for inp in model.graph.input:
        shape = [d.dim_value if d.HasField("dim_value") else BATCH for d in inp.type.tensor_type.shape.dim]
        feeds[inp.name] = rng.normal(0, 1, shape).astype(np.float32)
    return feeds


# onnxruntime's integer contractions: the inputs of the weights (B, W) and of
# their zero points.
WEIGHT_INPUTS = {"QLinearConv": (3, 5), "QLinearMatMul": (3, 5), "QGemm": (3, 5),
                 "MatMulInteger": (1, 3), "ConvInteger": (1, 3)}


def with_unsigned_weights(model):
    """`model` with its int8 constant weights and their zero points shifted
    by 128 to uint8: the same (w - z_w) and so the same integer arithmetic,
    which onnxruntime's u8 x u8 kernels sum exactly on every CPU, where its
    u8 x s8 ones saturate pair sums in i16 on CPUs without VNNI
    (docs/Harness.md)."""
    model = onnx.shape_inference.infer_shapes(model)
    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}
    elem_types = {value.name: value.type.tensor_type.elem_type for value in [*graph.input, *graph.value_info]}

    def shifted(name, array):
        if name + ".u8" not in initializers:
            init = numpy_helper.from_array((array.astype(np.int16) + 128).astype(np.uint8), name + ".u8")
            graph.initializer.append(init)
            initializers[init.name] = init
        return name + ".u8"

    for node in graph.node:
        if node.op_type not in WEIGHT_INPUTS or node.input[WEIGHT_INPUTS[node.op_type][0]] not in initializers:
            continue
        w_index, z_index = WEIGHT_INPUTS[node.op_type]
        w = numpy_helper.to_array(initializers[node.input[w_index]])
        if w.dtype != np.int8 or elem_types.get(node.input[0]) != TensorProto.UINT8:
            continue  # only u8 x s8 saturates
        z_name = node.input[z_index] if len(node.input) > z_index else ""
        z = numpy_helper.to_array(initializers[z_name]) if z_name else np.zeros((), np.int8)
        while len(node.input) <= z_index:
            node.input.append("")
        node.input[w_index] = shifted(node.input[w_index], w)
        node.input[z_index] = shifted(z_name or node.name + ".w_zero_point", z)
    return model


def reference(model, feeds):
    """onnxruntime's outputs, of the model's form with uint8 weights: exact
    integer sums on every CPU, so the same expected values on every CPU."""
    session = ort.InferenceSession(with_unsigned_weights(model).SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def check(model, feeds=None, atol=1e-5, step=None):
    """Imports and runs `model`; asserts each output matches the reference
    within `atol` times the output's scale (at least 1), or within one
    quantization `step` (a float rounding just under a rounding boundary may
    move a quantized value by one). Returns the MLIR text and the max abs
    errors."""
    feeds = feeds or random_inputs(model)
    text = import_model(model, BATCH)
    results = run_module(text, list(feeds.values()))
    expected = reference(model, feeds)
    errors = []
    for out, result, ref in zip(model.graph.output, results, expected):
        assert result.shape == ref.shape, out.name
        error = float(np.abs(result - ref).max())
        errors.append(error)
        print(f"{out.name}: max abs error {error:.3g} (output max {np.abs(ref).max():.3g})")
        bound = step * 1.001 if step else atol * max(1.0, float(np.abs(ref).max()))
        assert error <= bound, out.name
    return text, errors


def conv_node(name, x, y, w, b=None, **attrs):
    return helper.make_node("Conv", [x, w] + ([b] if b else []), [y], name=name, **attrs)


IMAGE = {"x": ["N", C, H, W]}


# --- Conv, BatchNormalization, Gemm, MatMul -----------------------------------
@pytest.mark.parametrize("attrs,bias,out_channels,kernel", [
    ({"pads": [1, 1, 1, 1]}, True, 8, 3),
    ({"strides": [2, 2]}, False, 8, 3),
    ({"dilations": [2, 2], "pads": [0, 1, 2, 1]}, True, 5, 3),
    ({"auto_pad": "SAME_UPPER", "strides": [2, 2]}, True, 8, 4),
    ({"auto_pad": "SAME_LOWER"}, False, 3, 2),
    ({"group": C, "pads": [1, 1, 1, 1]}, True, C, 3),
    ({"group": C, "strides": [2, 2]}, False, C, 3),
    ({"pads": [1, 0, 1, 0], "strides": [1, 2]}, True, 6, (3, 1)),
    ({"group": C, "pads": [0, 1, 0, 1], "dilations": [1, 2]}, True, C, (1, 3)),
], ids=["pads", "strides-nobias", "dilations", "same-upper", "same-lower", "depthwise", "depthwise-strides",
        "rectangular", "depthwise-rectangular"])
def test_conv(attrs, bias, out_channels, kernel):
    cin = 1 if attrs.get("group", 1) > 1 else C
    kh, kw = kernel if isinstance(kernel, tuple) else (kernel, kernel)
    inits = [weights("w", (out_channels, cin, kh, kw), 1)] + ([weights("b", out_channels, 2)] if bias else [])
    model = make_model([conv_node("conv", "x", "y", "w", "b" if bias else None, **attrs)], IMAGE, ["y"], inits)
    text, _ = check(model)
    op = "linalg.depthwise_conv_2d_nhwc_hwc" if "group" in attrs else "linalg.conv_2d_nhwc_hwcf"
    assert op in text


@pytest.mark.parametrize("bias", [True, False])
def test_conv_batch_norm_folded(bias):
    rng = np.random.default_rng(3)
    inits = [weights("w", (8, C, 3, 3), 1), const("gamma", rng.uniform(0.5, 1.5, 8)),
             const("beta", rng.normal(0, 0.1, 8)), const("mean", rng.normal(0, 0.1, 8)),
             const("var", rng.uniform(0.5, 1.5, 8))] + ([weights("b", 8, 2)] if bias else [])
    model = make_model([conv_node("conv", "x", "c", "w", "b" if bias else None, pads=[1, 1, 1, 1]),
                        helper.make_node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["y"],
                                         name="bn", epsilon=1e-3)], IMAGE, ["y"], inits)
    text, _ = check(model)
    assert 'loc("bn")' not in text and text.count("linalg.generic") == 1  # the bias only


@pytest.mark.parametrize("attrs,c_shape", [
    ({"transB": 1}, (5,)),
    ({"transB": 1, "alpha": 0.5, "beta": 2.0}, (1, 5)),
    ({"alpha": 2.0}, (5,)),
    ({"transB": 1, "beta": 0.5}, (BATCH, 5)),
    ({"transA": 1, "transB": 1}, None),
    ({}, (BATCH, 1)),
], ids=["transB", "alpha-beta-row", "alpha", "full-c", "transA-no-c", "column-c"])
def test_gemm(attrs, c_shape):
    """(The column C has as many rows as B has columns: it is no bias.)"""
    n = BATCH if c_shape == (BATCH, 1) else 5
    b_shape = (n, 6) if attrs.get("transB") else (6, n)
    inits = [weights("b", b_shape, 1)] + ([weights("c", c_shape, 2)] if c_shape else [])
    a_shape = [6, "N"] if attrs.get("transA") else ["N", 6]
    node = helper.make_node("Gemm", ["a", "b"] + (["c"] if c_shape else []), ["y"], name="gemm", **attrs)
    check(make_model([node], {"a": a_shape}, ["y"], inits))


@pytest.mark.parametrize("shape", [["N", 6], ["N", 3, 6]])
def test_matmul_constant_weight(shape):
    model = make_model([helper.make_node("MatMul", ["x", "w"], ["y"], name="matmul")], {"x": shape}, ["y"],
                       [weights("w", (6, 5), 1)])
    check(model)


@pytest.mark.parametrize("shape", [["N", 6], ["N", 3, 6]])
def test_matmul_bias_folded(shape):
    """The bias is added before the MatMul's result is reshaped back."""
    model = make_model([helper.make_node("MatMul", ["x", "w"], ["m"], name="matmul"),
                        helper.make_node("Add", ["m", "b"], ["y"], name="add")], {"x": shape}, ["y"],
                       [weights("w", (6, 5), 1), weights("b", 5, 2)])
    text, _ = check(model)
    add = text.index('loc("add")')
    assert "linalg.matmul" in text[:add] and "expand_shape" not in text[:add]


def test_matmul_bias_not_folded():
    """A bias of higher rank than the MatMul (it broadcasts the result) and
    a MatMul of constants (evaluated at import) keep their Add."""
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"], name="matmul"),
             helper.make_node("Add", ["m", "b3"], ["y"], name="add"),
             helper.make_node("MatMul", ["k", "w"], ["km"], name="const_matmul"),
             helper.make_node("Add", ["km", "b"], ["kb"], name="const_add"),
             helper.make_node("Add", ["x2", "kb"], ["z"], name="add2")]
    inits = [weights("w", (6, 5), 1), weights("b3", (1, 1, 5), 2), weights("k", (3, 6), 3), weights("b", 5, 4)]
    check(make_model(nodes, {"x": ["N", 6], "x2": ["N", 3, 5]}, ["y", "z"], inits))


def test_matmul_attention():
    model = make_model([helper.make_node("MatMul", ["q", "k"], ["s"], name="scores"),
                        helper.make_node("MatMul", ["s", "v"], ["y"], name="context")],
                       {"q": ["N", 2, 5, 3], "k": ["N", 2, 3, 5], "v": [1, 2, 5, 4]}, ["s", "y"])
    text, _ = check(model)
    assert text.count("linalg.batch_matmul") == 2


# --- elementwise ------------------------------------------------------------
BROADCAST_CONSTANTS = {
    "scalar": (),
    "one": (1,),
    "per-channel": (1, 8, 1, 1),
    "channel-3d": (8, 1, 1),
    "width": (W,),
    "full": (1, 8, H, W),
    "chw": (8, H, W),
}


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div"])
def test_binary(op):
    """Each op between two activations (NHWC ones out of Convs, plain ones,
    a mix of both) and with constants of every broadcast shape on either side
    of a Conv's NHWC output."""
    rng = np.random.default_rng(4)
    nodes = [conv_node("conv1", "x", "c1", "w1", pads=[1, 1, 1, 1]),
             conv_node("conv2", "x", "c2", "w2", pads=[1, 1, 1, 1]),
             helper.make_node(op, ["c1", "c2" if op != "Div" else "p"], ["nhwc"], name="nhwc"),
             helper.make_node(op, ["a", "p"], ["plain"], name="plain"),
             helper.make_node(op, ["c1", "p"], ["mixed"], name="mixed"),
             helper.make_node(op, ["a", "row"], ["rows"], name="rows")]
    inits = [weights("w1", (8, C, 3, 3), 1), weights("w2", (8, C, 3, 3), 2)]
    outputs = ["nhwc", "plain", "mixed", "rows"]
    for i, (label, shape) in enumerate(BROADCAST_CONSTANTS.items()):
        value = rng.uniform(0.5, 1.5, shape) * rng.choice([-1, 1], shape)
        inits.append(const(f"k{i}", value))
        nodes.append(helper.make_node(op, ["c1", f"k{i}"], [label], name=label))
        nodes.append(helper.make_node(op, [f"k{i}", "c2" if op != "Div" else "p"], [label + "-first"],
                                      name=label + "-first"))
        outputs += [label, label + "-first"]
    model = make_model(nodes, {"x": ["N", C, H, W], "a": ["N", 8, H, W], "p": ["N", 8, H, W],
                               "row": ["N", 1, 1, W]}, outputs, inits)
    feeds = random_inputs(model)
    # Divisors away from zero.
    feeds["p"] = (rng.uniform(0.5, 2, feeds["p"].shape) * rng.choice([-1, 1], feeds["p"].shape)).astype(np.float32)
    feeds["row"] = (rng.uniform(0.5, 2, feeds["row"].shape)).astype(np.float32)
    check(model, feeds)


@pytest.mark.parametrize("op", ["Max", "Min", "Sum"])
def test_variadic(op):
    """One, two and three inputs: activations (NHWC and plain) and
    constants of broadcast shapes."""
    nodes = [conv_node("conv1", "x", "c1", "w1", pads=[1, 1, 1, 1]),
             conv_node("conv2", "x", "c2", "w2", pads=[1, 1, 1, 1]),
             helper.make_node(op, ["c1"], ["one"], name="one"),
             helper.make_node(op, ["c1", "c2"], ["two"], name="two"),
             helper.make_node(op, ["c1", "a", "k"], ["three"], name="three"),
             helper.make_node(op, ["row", "a"], ["rows"], name="rows")]
    inits = [weights("w1", (8, C, 3, 3), 1), weights("w2", (8, C, 3, 3), 2),
             const("k", np.linspace(-1, 1, 8).reshape(1, 8, 1, 1))]
    check(make_model(nodes, {"x": ["N", C, H, W], "a": ["N", 8, H, W], "row": ["N", 1, 1, W]},
                     ["one", "two", "three", "rows"], inits))


@pytest.mark.parametrize("slope", [(1,), (8, 1, 1)], ids=["scalar", "per-channel"])
def test_prelu(slope):
    nodes = [conv_node("conv", "x", "c", "w", pads=[1, 1, 1, 1]),
             helper.make_node("PRelu", ["c", "slope"], ["y"], name="prelu")]
    inits = [weights("w", (8, C, 3, 3), 1),
             const("slope", np.linspace(0.1, 0.8, int(np.prod(slope))).reshape(slope))]
    check(make_model(nodes, IMAGE, ["y"], inits))


@pytest.mark.parametrize("op,opset", [("ReduceSum", 13), ("ReduceMax", 18), ("ReduceMin", 18)])
@pytest.mark.parametrize("axes,keepdims", [([1], 1), ([2, 3], 0), ([-1], 1), (None, 0)],
                         ids=["channels", "spatial", "last", "all"])
def test_reductions(op, opset, axes, keepdims):
    """Over a Conv's NHWC output, by axes given as an input (opset 13 / 18)."""
    inputs = ["c"] + (["axes"] if axes is not None else [])
    nodes = [conv_node("conv", "x", "c", "w", pads=[1, 1, 1, 1]),
             helper.make_node(op, inputs, ["y"], name="reduce", keepdims=keepdims)]
    inits = [weights("w", (8, C, 3, 3), 1)] + ([const("axes", axes, np.int64)] if axes is not None else [])
    check(make_model(nodes, IMAGE, ["y"], inits, opset=opset))


def test_special_constants():
    """Infinities, NaN and -0.0 in constants, and a -0.0 among zeros (no
    splat), come through bit for bit."""
    nodes = [helper.make_node("Mul", ["x", "k"], ["special"], name="special"),
             helper.make_node("Mul", ["x", "z"], ["zeros"], name="zeros")]
    inits = [const("k", [np.inf, -np.inf, np.nan, -0.0]), const("z", [-0.0, 0.0, 0.0, 0.0])]
    model = make_model(nodes, {"x": ["N", 4]}, ["special", "zeros"], inits)
    feeds = {"x": np.random.default_rng(0).uniform(1, 2, (BATCH, 4)).astype(np.float32)}
    results = run_module(import_model(model, BATCH), [feeds["x"]])
    for result, expected in zip(results, reference(model, feeds)):
        np.testing.assert_array_equal(result, expected)
        assert np.array_equal(np.signbit(result), np.signbit(expected))


# --- activations --------------------------------------------------------------
# Erf runs through qnn-approximate-math (MLIR's polynomial approximation,
# since LLVM has no erf intrinsic): within 2e-6 of onnxruntime's erf here.
UNARY = {
    "Relu": ([], {}),
    "Clip": (["lo", "hi"], {}),
    "Clip-max": (["", "hi"], {}),
    "Clip-min": (["lo"], {}),
    "Sigmoid": ([], {}),
    "Tanh": ([], {}),
    "Erf": ([], {}),
}


# Float functions and smooth activations: on a Conv's NHWC output (its
# magnitude plus 0.5 for Log, Sqrt and Reciprocal, whose domain is positive)
# and on the plain input; libm / MLIR's approximations against
# onnxruntime's, relative to the output's scale.
FLOAT_UNARY = {"Exp": {}, "Log": {}, "Neg": {}, "Abs": {}, "Sqrt": {}, "Reciprocal": {},
               "Softplus": {}, "Softsign": {}, "Mish": {}, "Elu": {"alpha": 0.7}}


@pytest.mark.parametrize("op", list(FLOAT_UNARY))
def test_float_unary(op):
    positive = op in ("Log", "Sqrt", "Reciprocal")
    nodes = [conv_node("conv", "x", "c", "w", pads=[1, 1, 1, 1]),
             helper.make_node("Abs", ["c"], ["ca"], name="abs_c"),
             helper.make_node("Add", ["ca", "half"], ["cp"], name="pos_c"),
             helper.make_node("Abs", ["x"], ["xa"], name="abs_x"),
             helper.make_node("Add", ["xa", "half"], ["xp"], name="pos_x"),
             helper.make_node(op, ["cp" if positive else "c"], ["nhwc"], name="nhwc", **FLOAT_UNARY[op]),
             helper.make_node(op, ["xp" if positive else "x"], ["plain"], name="plain", **FLOAT_UNARY[op])]
    inits = [weights("w", (8, C, 3, 3), 1), const("half", 0.5)]
    check(make_model(nodes, IMAGE, ["plain", "nhwc"], inits, opset=18 if op == "Mish" else 17), atol=5e-6)


def test_where_with_a_constant_mask_and_expand():
    """An attention-style mask: Where(constant condition, scores, -1e4) on a
    conv output, and an activation expanded along a new leading dim and a
    size-1 dim."""
    mask = np.tril(np.ones((H, W), bool))
    nodes = [conv_node("conv", "x", "c", "w", pads=[1, 1, 1, 1]),
             helper.make_node("Where", ["mask", "c", "low"], ["masked"], name="mask"),
             helper.make_node("Expand", ["row", "shape"], ["wide"], name="expand")]
    inits = [weights("w", (8, C, 3, 3), 1), numpy_helper.from_array(mask, "mask"), const("low", -1e4),
             const("shape", [3, 1, 4, W], np.int64)]
    check(make_model(nodes, IMAGE | {"row": ["N", 1, W]}, ["masked", "wide"], inits))
    # A computed condition (Greater of an activation: a bool activation).
    nodes = [helper.make_node("Greater", ["x", "zero"], ["cond"], name="gt"),
             helper.make_node("Where", ["cond", "x", "zero"], ["y"], name="relu_by_where")]
    check(make_model(nodes, IMAGE, ["y"], [const("zero", 0.0)]), atol=0)


@pytest.mark.parametrize("exponent", [2.0, 3.0, 0.5])
def test_pow(exponent):
    nodes = [conv_node("conv", "x", "c", "w", pads=[1, 1, 1, 1]),
             helper.make_node("Abs", ["c"], ["a"], name="abs"),
             helper.make_node("Pow", ["a", "e"], ["y"], name="pow")]
    check(make_model(nodes, IMAGE, ["y"], [weights("w", (8, C, 3, 3), 1), const("e", exponent)]),
          atol=5e-6)


def test_layer_norm_exported_below_opset_17():
    """torch's LayerNorm at opset 13: mean, centred, squared, mean, + eps,
    sqrt, divide, scale and shift."""
    hidden = 6
    nodes = [helper.make_node("ReduceMean", ["x"], ["m"], name="mean", axes=[-1]),
             helper.make_node("Sub", ["x", "m"], ["d"], name="centre"),
             helper.make_node("Pow", ["d", "two"], ["d2"], name="square"),
             helper.make_node("ReduceMean", ["d2"], ["v"], name="var", axes=[-1]),
             helper.make_node("Add", ["v", "eps"], ["ve"], name="add_eps"),
             helper.make_node("Sqrt", ["ve"], ["sd"], name="sqrt"),
             helper.make_node("Div", ["d", "sd"], ["n"], name="normalize"),
             helper.make_node("Mul", ["n", "gamma"], ["g"], name="scale"),
             helper.make_node("Add", ["g", "beta"], ["y"], name="shift")]
    inits = [const("two", 2.0), const("eps", 1e-5), const("gamma", np.linspace(0.5, 1.5, hidden)),
             const("beta", np.linspace(-0.2, 0.2, hidden))]
    check(make_model(nodes, {"x": ["N", 5, hidden]}, ["y"], inits, opset=13), atol=5e-6)


@pytest.mark.parametrize("op", list(UNARY))
def test_unary(op):
    """On a plain activation and on a Conv's NHWC output."""
    extra, attrs = UNARY[op]
    op_type = op.split("-")[0]
    nodes = [conv_node("conv", "x", "c", "w", pads=[1, 1, 1, 1]),
             helper.make_node(op_type, ["x"] + extra, ["plain"], name="plain", **attrs),
             helper.make_node(op_type, ["c"] + extra, ["nhwc"], name="nhwc", **attrs)]
    inits = [weights("w", (8, C, 3, 3), 1), const("lo", -0.5), const("hi", 0.7)]
    model = make_model(nodes, IMAGE, ["plain", "nhwc"], inits)
    check(model, atol=1e-6 if op_type in ("Relu", "Clip") else 2e-6)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu(approximate):
    model = make_model([helper.make_node("Gelu", ["x"], ["y"], name="gelu", approximate=approximate)],
                       {"x": ["N", 3, 16]}, ["y"], opset=20)
    feeds = {"x": np.random.default_rng(0).normal(0, 3, (BATCH, 3, 16)).astype(np.float32)}
    check(model, feeds, atol=2e-6)


def gelu_erf_subgraph(half_first, shared_div=False):
    """The erf form torch exports: x * 0.5 * (1 + erf(x / sqrt 2)); with
    `shared_div`, a Relu reads x / sqrt 2 too."""
    nodes = [helper.make_node("Div", ["x", "sqrt2"], ["d"], name="div"),
             helper.make_node("Erf", ["d"], ["e"], name="erf"),
             helper.make_node("Add", ["one", "e"], ["e1"], name="add")]
    if half_first:
        nodes += [helper.make_node("Mul", ["half", "x"], ["hx"], name="half"),
                  helper.make_node("Mul", ["hx", "e1"], ["y"], name="mul")]
    else:
        nodes += [helper.make_node("Mul", ["x", "e1"], ["xe"], name="mul"),
                  helper.make_node("Mul", ["xe", "half"], ["y"], name="half")]
    if shared_div:
        nodes.append(helper.make_node("Relu", ["d"], ["r"], name="relu"))
    inits = [const("sqrt2", math.sqrt(2)), const("one", 1.0), const("half", 0.5)]
    return make_model(nodes, {"x": ["N", 3, 16]}, ["y", "r"] if shared_div else ["y"], inits)


@pytest.mark.parametrize("half_first", [False, True], ids=["torch-order", "half-first"])
def test_gelu_erf_subgraph_fused(half_first):
    text = import_model(gelu_erf_subgraph(half_first), BATCH)
    assert text.count("math.erf") == 1 and text.count("linalg.generic") == 1
    assert 'loc("div")' not in text and "linalg.div" not in text


def test_gelu_erf_subgraph_shared_not_fused():
    """x / sqrt 2 is read by another node too: no fusion."""
    text = import_model(gelu_erf_subgraph(False, shared_div=True), BATCH)
    assert 'loc("div")' in text and 'loc("erf")' in text


@pytest.mark.parametrize("shared", [False, True], ids=["own-weights", "identity-weights"])
def test_layer_norm_subgraph_fused(shared):
    """torch's LayerNorm below opset 17 (ReduceMean, Sub, Pow, ReduceMean,
    Add eps, Sqrt, Div, Mul, Add; weights shared through Identity nodes, as
    torch exports equal ones) becomes one LayerNormalization, computed as
    onnxruntime computes the subgraph; a Sub whose difference has another
    reader is left alone."""
    from quant_opt.onnx_import.graph import fuse_layer_norm

    rng = np.random.default_rng(5)
    hidden = 16
    inits = [const("two", 2.0), const("eps", 1e-5), const("gamma", rng.uniform(0.5, 1.5, hidden)),
             const("beta", rng.normal(0, 0.1, hidden))]
    nodes = []
    gamma, beta = "gamma", "beta"
    if shared:
        nodes += [helper.make_node("Identity", ["gamma"], ["g1"], name="id_g"),
                  helper.make_node("Identity", ["beta"], ["b1"], name="id_b")]
        gamma, beta = "g1", "b1"
    nodes += [helper.make_node("ReduceMean", ["x"], ["mean"], name="ln/ReduceMean", axes=[-1]),
              helper.make_node("Sub", ["x", "mean"], ["d"], name="ln/Sub"),
              helper.make_node("Pow", ["d", "two"], ["p"], name="ln/Pow"),
              helper.make_node("ReduceMean", ["p"], ["var"], name="ln/ReduceMean_1", axes=[-1]),
              helper.make_node("Add", ["var", "eps"], ["ve"], name="ln/Add"),
              helper.make_node("Sqrt", ["ve"], ["s"], name="ln/Sqrt"),
              helper.make_node("Div", ["d", "s"], ["n"], name="ln/Div"),
              helper.make_node("Mul", ["n", gamma], ["m"], name="ln/Mul"),
              helper.make_node("Add", ["m", beta], ["y"], name="ln/Add_1")]
    model = make_model(nodes, {"x": ["N", 5, hidden]}, ["y"], inits, opset=13)
    fused = onnx.ModelProto.FromString(model.SerializeToString())
    fuse_layer_norm(fused)
    assert [n.op_type for n in fused.graph.node] == ["Identity"] * (2 * shared) + ["LayerNormalization"]
    check(model)
    # The difference read elsewhere too: not a LayerNorm to fuse.
    model.graph.output.append(helper.make_tensor_value_info("d", TensorProto.FLOAT, None))
    fuse_layer_norm(model)
    assert "Pow" in [n.op_type for n in model.graph.node]


@pytest.mark.parametrize("half_first", [False, True], ids=["torch-order", "half-first"])
def test_gelu_erf_subgraph_runs(half_first):
    feeds = {"x": np.random.default_rng(0).normal(0, 3, (BATCH, 3, 16)).astype(np.float32)}
    check(gelu_erf_subgraph(half_first), feeds, atol=2e-6)


# --- pooling and shapes -------------------------------------------------------
@pytest.mark.parametrize("op,attrs", [
    ("MaxPool", {"kernel_shape": [2, 2], "strides": [2, 2]}),
    ("MaxPool", {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}),
    ("AveragePool", {"kernel_shape": [2, 2], "strides": [2, 2]}),
    ("AveragePool", {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1], "count_include_pad": 1}),
    ("AveragePool", {"kernel_shape": [3, 2], "strides": [1, 2], "pads": [0, 1, 1, 0], "count_include_pad": 1}),
    ("GlobalAveragePool", {}),
    ("GlobalMaxPool", {}),
    ("AveragePool", {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}),  # ONNX default: 0
    ("AveragePool", {"kernel_shape": [3, 2], "strides": [1, 2], "pads": [0, 1, 2, 0], "count_include_pad": 0}),
    # ceil_mode: one more window at the end (SqueezeNet 1.0, GoogLeNet).
    ("MaxPool", {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}),
    ("MaxPool", {"kernel_shape": [2, 3], "strides": [3, 2], "pads": [1, 0, 1, 1], "ceil_mode": 1}),
    ("AveragePool", {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 0, 0, 1], "ceil_mode": 1}),
    ("AveragePool", {"kernel_shape": [2, 3], "strides": [2, 2], "pads": [1, 1, 1, 1], "ceil_mode": 1,
                     "count_include_pad": 1}),
    ("MaxPool", {"kernel_shape": [2, 3], "dilations": [2, 3], "pads": [1, 2, 1, 0]}),
    ("AveragePool", {"kernel_shape": [2, 2], "strides": [1, 2], "dilations": [2, 2], "pads": [1, 1, 1, 1]}),
    ("AveragePool", {"kernel_shape": [3, 2], "dilations": [2, 1], "pads": [2, 0, 2, 0],
                     "count_include_pad": 1}),
], ids=["max-k2s2", "max-k3s2p1", "avg-k2s2", "avg-k3s2p1", "avg-asymmetric", "global-avg", "global-max",
        "avg-exclude-pad", "avg-exclude-pad-asymmetric", "max-ceil", "max-ceil-asymmetric", "avg-ceil",
        "avg-ceil-include-pad", "max-dilated", "avg-dilated-exclude-pad", "avg-dilated-include-pad"])
def test_pool(op, attrs):
    """On the (NCHW) input and on a Conv's NHWC output."""
    nodes = [conv_node("conv", "x", "c", "w", pads=[1, 1, 1, 1]),
             helper.make_node(op, ["x"], ["plain"], name="plain", **attrs),
             helper.make_node(op, ["c"], ["nhwc"], name="nhwc", **attrs)]
    # (opset 19: AveragePool's dilations)
    check(make_model(nodes, IMAGE, ["plain", "nhwc"], [weights("w", (8, C, 3, 3), 1)], opset=19))



@pytest.mark.parametrize("op, shape, attrs", [
    ("MaxPool", (2, 3, 11), {"kernel_shape": [3], "strides": [2], "pads": [1, 1], "ceil_mode": 1}),
    ("AveragePool", (2, 3, 11), {"kernel_shape": [4], "dilations": [2], "pads": [2, 1]}),
    ("MaxPool", (1, 2, 5, 6, 7), {"kernel_shape": [2, 3, 2], "strides": [2, 1, 2], "pads": [1, 0, 1, 0, 1, 1]}),
    ("AveragePool", (1, 2, 5, 6, 7), {"kernel_shape": [2, 2, 3], "strides": [2, 2, 1], "pads": [1, 1, 1, 0, 0, 1],
                                      "ceil_mode": 1}),
], ids=["max-1d", "avg-1d-dilated", "max-3d", "avg-3d-ceil"])
def test_pool_1d_3d(op, shape, attrs):
    """1-D pooling (as 2-D with a unit axis) and 3-D pooling (one
    linalg.generic), against onnxruntime."""
    check(make_model([helper.make_node(op, ["x"], ["y"], name="pool", **attrs)], {"x": shape}, ["y"], opset=19))


def test_max_pool_ceil_mode_drops_a_window_starting_in_the_end_padding():
    """ONNX's MaxPool (and torch's): with ceil_mode, a window that would
    start in the end padding is not computed. W = 5, pads 1, kernel 2,
    stride 2: 3 columns, as ONNX's shape inference and reference evaluator
    say (onnxruntime 1.19 computes a 4th, of padding only)."""
    from onnx.reference import ReferenceEvaluator

    model = make_model([helper.make_node("MaxPool", ["x"], ["y"], name="pool", kernel_shape=[2, 2],
                                         strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1)], IMAGE, ["y"])
    assert [d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim][2:] == [4, 3]
    feeds = random_inputs(model)
    result = run_module(import_model(model, BATCH), list(feeds.values()))[0]
    expected = ReferenceEvaluator(model).run(None, feeds)[0]
    assert result.shape == expected.shape == (BATCH, C, 4, 3)
    np.testing.assert_array_equal(result, expected)

@pytest.mark.parametrize("axis", [1, 2, 0, 4])
def test_flatten(axis):
    """Of a Conv's NHWC output: the ONNX (NCHW) order comes back first."""
    nodes = [conv_node("conv", "x", "c", "w", pads=[1, 1, 1, 1]),
             helper.make_node("Flatten", ["c"], ["y"], name="flatten", axis=axis)]
    check(make_model(nodes, IMAGE, ["y"], [weights("w", (8, C, 3, 3), 1)]))


@pytest.mark.parametrize("source,shape", [
    ("x", [0, -1]),             # collapse
    ("x", [0, 2, 2, 6]),        # expand
    ("x", [0, 3, 8]),           # neither: collapse, then expand
    ("x", [-1, 6]),
    ("x", [0, 4, 6, 1]),        # a unit dim
    ("c", [0, 8, -1]),          # of an NHWC Conv output
    ("c", [0, 0, 5, -1]),
], ids=["collapse", "expand", "general", "minus-one-first", "unit", "nhwc-collapse", "nhwc-general"])
def test_reshape(source, shape):
    nodes = [conv_node("conv", "img", "c", "w", pads=[1, 1, 1, 1]),
             helper.make_node("Reshape", [source, "shape"], ["y"], name="reshape")]
    inits = [weights("w", (8, C, 3, 3), 1), const("shape", shape, np.int64)]
    check(make_model(nodes, {"x": ["N", 4, 6], "img": ["N", C, H, W]}, ["y"], inits))


@pytest.mark.parametrize("shape_attrs", [{}, {"end": 1}, {"start": -3, "end": -2}], ids=["gather", "end", "negative"])
def test_reshape_computed_shape(shape_attrs):
    """The shape arithmetic torch exports for a flatten, folded at import."""
    nodes = [helper.make_node("Shape", ["x"], ["s"], name="shape", **shape_attrs),
             helper.make_node("Constant", [], ["minus1"], name="minus1", value_ints=[-1])]
    if shape_attrs:
        nodes.append(helper.make_node("Identity", ["s"], ["n"], name="identity"))
    else:
        nodes += [helper.make_node("Gather", ["s", "zero"], ["s0"], name="gather", axis=0),
                  helper.make_node("Unsqueeze", ["s0", "axes"], ["n"], name="unsqueeze")]
    nodes += [helper.make_node("Concat", ["n", "minus1"], ["target"], name="concat", axis=0),
              helper.make_node("Reshape", ["x", "target"], ["y"], name="reshape")]
    inits = [const("zero", 0, np.int64), const("axes", [0], np.int64)]
    text, _ = check(make_model(nodes, {"x": ["N", 4, 6]}, ["y"], inits))
    assert "tensor.collapse_shape" in text


# --- ops user models bring along ----------------------------------------------


def conv_then(node):
    """A Conv (so the input is NHWC inside) followed by `node` reading it."""
    return [conv_node("conv", "x", "c", "w", pads=[1, 1, 1, 1]), node]


CONV_W = [weights("w", (8, C, 3, 3), 1)]


@pytest.mark.parametrize("axes,keepdims", [([2, 3], 1), ([2, 3], 0), ([1], 1), ([-1], 0), (None, 0)],
                         ids=["global-keep", "global", "channels", "last", "all"])
def test_reduce_mean(axes, keepdims):
    """Over H and W it is a global average pooling (fused by quant-opt);
    other axes are a float reduction."""
    attrs = {"keepdims": keepdims} | ({"axes": axes} if axes else {})
    model = make_model(conv_then(helper.make_node("ReduceMean", ["c"], ["y"], name="mean", **attrs)), IMAGE, ["y"],
                       CONV_W, opset=13)
    text, _ = check(model)
    assert ("linalg.pooling_nhwc_sum" in text) == (axes == [2, 3])


@pytest.mark.parametrize("op,inputs,attrs,opset", [
    ("Unsqueeze", ["x", "ax01"], {}, 13),
    ("Squeeze", ["one", "ax0"], {}, 13),
    ("Squeeze", ["one"], {}, 13),
    ("Slice", ["c", "starts", "ends", "axes", "steps"], {}, 13),
    ("Slice", ["x", "starts", "ends"], {}, 13),
    ("LeakyRelu", ["c"], {"alpha": 0.1}, 13),
    ("HardSigmoid", ["c"], {}, 13),
    ("HardSwish", ["c"], {}, 14),
    ("Dropout", ["c"], {}, 13),
    ("Cast", ["c"], {"to": TensorProto.FLOAT}, 13),
], ids=["unsqueeze", "squeeze-axes", "squeeze-all", "slice-nhwc-strided", "slice-plain", "leaky-relu",
        "hard-sigmoid", "hard-swish", "dropout", "cast"])
def test_user_model_ops(op, inputs, attrs, opset):
    nodes = conv_then(helper.make_node(op, inputs, ["y"], name="op", **attrs))
    inits = CONV_W + [const("ax01", [0, -1], np.int64), const("ax0", [0], np.int64),
                      const("starts", [1, -4], np.int64), const("ends", [3, 100], np.int64),
                      const("axes", [1, 3], np.int64), const("steps", [1, 2], np.int64)]
    check(make_model(nodes, IMAGE | {"one": [1, 3, 5]}, ["y"], inits, opset=opset))


@pytest.mark.parametrize("source,perm", [
    ("m", None), ("m", [1, 0]),
    ("c", [0, 2, 3, 1]), ("c", [0, 3, 1, 2]), ("c", [3, 1, 0, 2]),
    ("x", [0, 2, 1, 3]), ("x", None), ("t", [1, 2, 0]),
], ids=["2d-default", "2d", "nhwc-identity", "nhwc", "nhwc-any", "plain-4d", "plain-4d-default", "3d"])
def test_transpose(source, perm):
    nodes = [conv_node("conv", "x", "c", "w", pads=[1, 1, 1, 1]),
             helper.make_node("Transpose", [source], ["y"], name="transpose",
                              **({"perm": perm} if perm else {}))]
    check(make_model(nodes, {"x": ["N", C, H, W], "m": ["N", 6], "t": ["N", 3, 5]}, ["y"],
                     [weights("w", (8, C, 3, 3), 1)]))


@pytest.mark.parametrize("axis,sizes,opset", [(1, [3, 5], 17), (2, [1, 2, 3], 17), (1, None, 17),
                                              (3, None, 18)],
                         ids=["channels", "rows", "equal", "num-outputs-uneven"])
def test_split(axis, sizes, opset):
    """Of a Conv's NHWC output, each part read by an op."""
    count = len(sizes) if sizes else (2 if opset == 17 else 3)
    outputs = [f"s{k}" for k in range(count)]
    extra = ["sizes"] if sizes else []
    attrs = {"num_outputs": count} if opset >= 18 and not sizes else {}
    nodes = [conv_node("conv", "x", "c", "w", pads=[1, 1, 1, 1]),
             helper.make_node("Split", ["c"] + extra, outputs, name="split", axis=axis, **attrs)]
    nodes += [helper.make_node("Relu", [o], [f"r{k}"], name=f"relu{k}") for k, o in enumerate(outputs)]
    inits = [weights("w", (8, C, 3, 3), 1)] + ([const("sizes", sizes, np.int64)] if sizes else [])
    check(make_model(nodes, IMAGE, [f"r{k}" for k in range(count)], inits, opset=opset))


def test_concat():
    nodes = [conv_node("conv1", "x", "c1", "w1", pads=[1, 1, 1, 1]),
             conv_node("conv2", "x", "c2", "w2", pads=[1, 1, 1, 1]),
             conv_node("conv3", "x", "c3", "w3", pads=[1, 1, 1, 1]),
             helper.make_node("Concat", ["c1", "c3"], ["channels"], name="channels", axis=1),
             helper.make_node("Concat", ["c1", "x"], ["mixed"], name="mixed", axis=1),
             helper.make_node("Concat", ["c1", "c2"], ["width"], name="width", axis=-1),
             helper.make_node("Concat", ["a", "b", "k"], ["last"], name="last", axis=-1)]
    inits = [weights("w1", (8, C, 3, 3), 1), weights("w2", (8, C, 3, 3), 2), weights("w3", (3, C, 3, 3), 3),
             weights("k", (BATCH, 4, 2), 4)]
    model = make_model(nodes, {"x": ["N", C, H, W], "a": ["N", 4, 3], "b": ["N", 4, 5]},
                       ["channels", "mixed", "width", "last"], inits)
    check(model)


def test_no_ir_that_upstream_mlir_crashes_on():
    """MLIR 22 itself segfaults on `tensor.concat dim(-1)` (ConcatOp::verify)
    and on a non-integer in `linalg.transpose ... permutation` (the parser);
    docs/Testing.md. The importer writes neither: negative ONNX axes are
    normalized, and permutations are integers."""
    nodes = [helper.make_node("Concat", ["a", "b"], ["cat"], name="cat", axis=-1),
             helper.make_node("Concat", ["a", "b"], ["cat2"], name="cat2", axis=-2),
             helper.make_node("Transpose", ["cat"], ["t"], name="t", perm=[0, 2, 1])]
    model = make_model(nodes, {"a": ["N", 4, 3], "b": ["N", 4, 3]}, ["cat2", "t"])
    text = import_model(model, BATCH)
    dims = [int(d) for d in re.findall(r"tensor\.concat dim\((-?\d+)\)", text)]
    assert dims == [2, 1]
    for perm in re.findall(r"permutation = \[([^\]]*)\]", text):
        assert all(re.fullmatch(r"\d+", p.strip()) for p in perm.split(",")), perm
    check(model)


@pytest.mark.parametrize("shape", [["N", C, H, W], ["N", C]])
def test_batch_norm_standalone(shape):
    rng = np.random.default_rng(3)
    inits = [const("gamma", rng.uniform(0.5, 1.5, C)), const("beta", rng.normal(0, 0.1, C)),
             const("mean", rng.normal(0, 0.1, C)), const("var", rng.uniform(0.5, 1.5, C))]
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("BatchNormalization", ["r", "gamma", "beta", "mean", "var"], ["y"], name="bn")]
    text, _ = check(make_model(nodes, {"x": shape}, ["y"], inits))
    # Of an image, a 1x1 depthwise Conv (the layer quant-opt fuses into
    # integers); else a per-channel scale and shift.
    assert ("linalg.depthwise_conv_2d_nhwc_hwc" in text) == (len(shape) == 4)


@pytest.mark.parametrize("opset,axis,shape", [
    (17, -1, ["N", 4, 7]), (17, 2, ["N", 4, 7]), (17, -1, ["N", 7]), (11, 1, ["N", 4, 7]),
    (17, 1, ["N", 4, 7]), (17, 0, ["N", 7]), (17, -3, ["N", 3, 4, 5]),
], ids=["last", "last-positive", "2d", "opset11-flattens", "middle", "batch", "negative-middle"])
def test_softmax(opset, axis, shape):
    model = make_model([helper.make_node("Softmax", ["x"], ["y"], name="softmax", axis=axis)],
                       {"x": shape}, ["y"], opset=opset)
    feeds = {"x": np.random.default_rng(0).normal(0, 3, [BATCH] + shape[1:]).astype(np.float32)}
    check(model, feeds, atol=2e-6)


@pytest.mark.parametrize("bias,axis", [(True, -1), (False, -1), (True, 1)])
def test_layer_norm(bias, axis):
    rng = np.random.default_rng(5)
    norm_shape = (4, 8) if axis == 1 else (8,)
    inits = [const("scale", rng.uniform(0.5, 1.5, norm_shape))] + (
        [const("bias", rng.normal(0, 0.3, norm_shape))] if bias else [])
    node = helper.make_node("LayerNormalization", ["x", "scale"] + (["bias"] if bias else []), ["y"],
                            name="ln", axis=axis, epsilon=1e-5)
    model = make_model([node], {"x": ["N", 4, 8]}, ["y"], inits)
    feeds = {"x": (np.random.default_rng(0).normal(2, 3, (BATCH, 4, 8))).astype(np.float32)}
    check(model, feeds, atol=1e-5)


# --- QuantizeLinear / DequantizeLinear ----------------------------------------
@pytest.mark.parametrize("dtype,zero_point", [(np.uint8, 128), (np.int8, -3), (np.uint8, None)])
def test_qdq_activation(dtype, zero_point):
    """Per-tensor Q/DQ of activations, on a plain tensor and a Conv's NHWC
    output; values outside the range saturate."""
    qparams = [const("s", 0.02)] + ([const("z", zero_point, dtype)] if zero_point is not None else [])
    names = [q.name for q in qparams]
    nodes = [conv_node("conv", "x", "c", "w", pads=[1, 1, 1, 1])]
    for source, out in (("x", "plain"), ("c", "nhwc")):
        nodes += [helper.make_node("QuantizeLinear", [source] + names, [out + "_q"], name=out + "_q"),
                  helper.make_node("DequantizeLinear", [out + "_q"] + names, [out], name=out)]
    model = make_model(nodes, IMAGE, ["plain", "nhwc"], [weights("w", (8, C, 3, 3), 1)] + qparams)
    feeds = {"x": np.random.default_rng(0).normal(0, 1.5, (BATCH, C, H, W)).astype(np.float32)}
    text, _ = check(model, feeds, step=0.02)
    assert "qnn.quantize" in text and "qnn.dequantize" in text


def test_qdq_per_channel_activation():
    """Per-channel (axis 1) Q/DQ of a Conv's NHWC output: the axis is C's
    NHWC position."""
    scales = np.random.default_rng(9).uniform(0.01, 0.03, 8)
    inits = [weights("w", (8, C, 3, 3), 1), const("s", scales), const("z", np.full(8, 3), np.int8)]
    nodes = [conv_node("conv", "x", "c", "w", pads=[1, 1, 1, 1]),
             helper.make_node("QuantizeLinear", ["c", "s", "z"], ["q"], name="q", axis=1),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], name="dq", axis=1)]
    text, _ = check(make_model(nodes, IMAGE, ["y"], inits), step=scales.max())
    assert "!quant.uniform<i8:f32:3," in text


def test_qdq_mismatched_dequantize_rejected():
    nodes = [helper.make_node("QuantizeLinear", ["x", "s"], ["q"], name="q"),
             helper.make_node("DequantizeLinear", ["q", "s2"], ["y"], name="dq")]
    model = make_model(nodes, IMAGE, ["y"], [const("s", 0.02), const("s2", 0.04)])
    with pytest.raises(UnsupportedModelError, match="DequantizeLinear node 'dq': its scale and zero point"):
        import_model(model)


def onnx_reference(model, feeds):
    """ONNX's own definition of the model's ops (onnx's reference
    evaluator)."""
    from onnx.reference import ReferenceEvaluator
    return ReferenceEvaluator(model).run(None, feeds)


@pytest.mark.parametrize("axis,block,dtype", [(1, 2, np.uint8), (-1, 4, np.int8), (0, 3, np.int16)],
                         ids=["axis1-u8", "last-axis-i8", "axis0-i16"])
def test_blocked_qdq_activation(axis, block, dtype):
    """Opset 21's blocked QuantizeLinear / DequantizeLinear of an activation
    (a sub-channel type): the integers and the dequantized values bit for
    bit as ONNX defines them, halves (ties to even) and saturation
    included."""
    shape = (3, 6, 4) if axis != -1 else (2, 3, 8)
    rng = np.random.default_rng(11)
    scale_shape = list(shape)
    scale_shape[axis] //= block
    scales = rng.uniform(0.05, 0.2, scale_shape).astype(np.float32)
    info = np.iinfo(dtype)
    zps = rng.integers(max(info.min, -20), min(info.max, 20) + 1, scale_shape).astype(dtype)
    blocks_of = lambda a: np.repeat(a, block, axis=axis)  # noqa: E731
    # Halves of the scale (ties), values far outside the range, and noise.
    x = (rng.integers(-300, 300, shape) + 0.5 * rng.integers(0, 2, shape)) * blocks_of(scales) \
        + rng.normal(0, 0.01, shape) * rng.integers(0, 2, shape)
    x = x.astype(np.float32)
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], name="q", axis=axis, block_size=block),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], name="dq", axis=axis, block_size=block)]
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    graph = helper.make_graph(nodes, "test", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("q", elem, shape),
                               helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)],
                              [const("s", scales), const("z", zps, dtype)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    onnx.checker.check_model(model, full_check=True)
    text = import_model(model)
    assert f"!quant.uniform<{'u' if dtype == np.uint8 else 'i'}{np.dtype(dtype).itemsize * 8}:f32:{{" in text
    q, y = run_module(text, [x])
    want_q, want_y = onnx_reference(model, {"x": x})
    assert q.dtype == want_q.dtype and np.array_equal(q, want_q)
    assert np.array_equal(y, want_y)
    # DequantizeLinear of an integer model input in blocks.
    dq = helper.make_graph([nodes[1]], "test", [helper.make_tensor_value_info("q", elem, shape)],
                           [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)],
                           [const("s", scales), const("z", zps, dtype)])
    dq = helper.make_model(dq, opset_imports=[helper.make_opsetid("", 21)])
    y, = run_module(import_model(dq), [want_q])
    assert np.array_equal(y, want_y)


def test_blocked_qdq_refusals():
    """A partial last block (ONNX allows it, a sub-channel type does not)
    and blocked weights of a contraction are refused by name."""
    nodes = [helper.make_node("QuantizeLinear", ["x", "s"], ["q"], name="q5", axis=1, block_size=2),
             helper.make_node("DequantizeLinear", ["q", "s"], ["y"], name="dq5", axis=1, block_size=2)]
    graph = helper.make_graph(nodes, "test", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 5])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 5])],
                              [const("s", np.full((2, 3), 0.1))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    with pytest.raises(UnsupportedModelError, match=r"QuantizeLinear node 'q5': block_size 2 with scales of "
                                                    r"shape \(2, 3\) does not tile a tensor of shape \(2, 5\)"):
        import_model(model)
    nodes = [helper.make_node("DequantizeLinear", ["wq", "s"], ["w"], name="w_dq", axis=0, block_size=2),
             helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")]
    graph = helper.make_graph(nodes, "test", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
                              [const("wq", np.ones((4, 3)), np.int8), const("s", np.full((2, 3), 0.1))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    with pytest.raises(UnsupportedModelError, match="quantized in blocks"):
        import_model(model)


@pytest.mark.parametrize("weight_form", ["int8", "int8-no-zero-point", "float-q"])
def test_qdq_per_channel_conv_weights(weight_form):
    """Per-channel (axis 0) int8 Conv weights: an int8 initializer read by
    DequantizeLinear, or a float one through QuantizeLinear (QAT exports)."""
    rng = np.random.default_rng(6)
    scales = rng.uniform(0.005, 0.02, 8).astype(np.float32)
    q = rng.integers(-127, 128, (8, C, 3, 3)).astype(np.int8)
    inits = [const("ws", scales), const("wz", np.zeros(8), np.int8), const("b", rng.normal(0, 0.1, 8))]
    dq_inputs = ["wq", "ws"] if weight_form == "int8-no-zero-point" else ["wq", "ws", "wz"]
    nodes = [helper.make_node("DequantizeLinear", dq_inputs, ["w"], name="w_dq", axis=0),
             conv_node("conv", "x", "y", "w", "b", pads=[1, 1, 1, 1])]
    if weight_form.startswith("int8"):
        inits.append(const("wq", q, np.int8))
    else:
        inits.append(const("wf", q.astype(np.float32) * scales.reshape(-1, 1, 1, 1)))
        nodes.insert(0, helper.make_node("QuantizeLinear", ["wf", "ws", "wz"], ["wq"], name="w_q", axis=0))
    text, _ = check(make_model(nodes, IMAGE, ["y"], inits))
    assert "!quant.uniform<i8:f32:3," in text


def int4(name, array, signed=True):
    """An INT4 / UINT4 initializer (onnx packs two values per byte)."""
    values = np.asarray(array, dtype=np.int64)
    return helper.make_tensor(name, TensorProto.INT4 if signed else TensorProto.UINT4,
                              values.shape, values.flatten().tolist())


@pytest.mark.parametrize("weight_form", ["int4", "int4-no-zero-point", "uint4", "float-q"])
def test_qdq_int4_conv_weights(weight_form):
    """4-bit per-channel Conv weights (opset 21; QAT exports of W4 models):
    the storage type is i4 / u4 (saturating at [-8, 7] / [0, 15]), not
    the int8 NumPy holds them in."""
    rng = np.random.default_rng(6)
    scales = rng.uniform(0.05, 0.2, 8).astype(np.float32)
    signed = weight_form != "uint4"
    q = rng.integers(-8, 8, (8, C, 3, 3)) + (0 if signed else 8)
    zero = np.zeros(8) if signed else np.full(8, 8)
    inits = [const("ws", scales), int4("wz", zero, signed), const("b", rng.normal(0, 0.1, 8))]
    dq_inputs = ["wq", "ws"] if weight_form == "int4-no-zero-point" else ["wq", "ws", "wz"]
    nodes = [helper.make_node("DequantizeLinear", dq_inputs, ["w"], name="w_dq", axis=0),
             conv_node("conv", "x", "y", "w", "b", pads=[1, 1, 1, 1])]
    if weight_form == "float-q":
        # Out-of-range values saturate at the INT4 limits.
        wf = q.astype(np.float32) * scales.reshape(-1, 1, 1, 1)
        wf[0, 0, 0, :2] = [100.0, -100.0]
        inits.append(const("wf", wf))
        nodes.insert(0, helper.make_node("QuantizeLinear", ["wf", "ws", "wz"], ["wq"], name="w_q", axis=0))
    else:
        inits.append(int4("wq", q, signed))
    text, _ = check(make_model(nodes, IMAGE, ["y"], inits, opset=21))
    assert f"!quant.uniform<{'i4' if signed else 'u4'}:f32:3," in text


def test_qdq_int4_activation():
    """Q/DQ of an activation to INT4 (opset 21's output_dtype, no zero
    point): saturates at [-8, 7]."""
    nodes = [helper.make_node("QuantizeLinear", ["x", "s"], ["q"], name="q",
                              output_dtype=TensorProto.INT4),
             helper.make_node("DequantizeLinear", ["q", "s"], ["y"], name="dq")]
    model = make_model(nodes, IMAGE, ["y"], [const("s", 0.25)], opset=21)
    feeds = {"x": np.random.default_rng(0).normal(0, 2, (BATCH, C, H, W)).astype(np.float32)}
    text, _ = check(model, feeds, step=0.25)
    assert "!quant.uniform<i4:f32, 0.25:0>" in text


def _quantize_static(tmp_path):
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                          quantize_static)
    rng = np.random.default_rng(7)
    nodes = [conv_node("conv1", "x", "c1", "w1", "b1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             conv_node("conv2", "r1", "c2", "w2", "b2", strides=[2, 2]),
             helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
             helper.make_node("GlobalAveragePool", ["r2"], ["gap"], name="gap"),
             helper.make_node("Flatten", ["gap"], ["f"], name="flatten"),
             helper.make_node("Gemm", ["f", "wf", "bf"], ["logits"], name="fc", transB=1)]
    inits = [weights("w1", (8, C, 3, 3), 1), weights("b1", 8, 2, 0.1), weights("w2", (8, 8, 3, 3), 3),
             weights("b2", 8, 4, 0.1), weights("wf", (10, 8), 5), weights("bf", 10, 6, 0.1)]
    model = make_model(nodes, IMAGE, ["logits"], inits)
    float_path, quant_path = tmp_path / "float.onnx", tmp_path / "quant.onnx"
    onnx.save(model, float_path)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{"x": rng.normal(0, 1, (BATCH, C, H, W)).astype(np.float32)}
                                 for _ in range(8)])

        def get_next(self):
            return next(self.batches, None)

    quantize_static(str(float_path), str(quant_path), Reader(), quant_format=QuantFormat.QDQ,
                    per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    return onnx.load(quant_path)


def test_qdq_quantize_static(tmp_path):
    """ONNX Runtime's QDQ model, run as its unfused float QDQ program, is
    within one quantization step of the output of onnxruntime's integer
    kernels."""
    model = _quantize_static(tmp_path)
    last = next(n for n in model.graph.node if n.output[0] == "logits")
    assert last.op_type == "DequantizeLinear"
    step = float(numpy_helper.to_array(next(i for i in model.graph.initializer if i.name == last.input[1])))
    feeds = {"x": np.random.default_rng(8).normal(0, 1, (BATCH, C, H, W)).astype(np.float32)}
    text = import_model(model, BATCH)
    result = run_module(text, [feeds["x"]])[0]
    expected = reference(model, feeds)[0]
    error = float(np.abs(result - expected).max())
    print(f"logits: max abs error {error:.3g} (step {step:.3g})")
    assert error <= step * 1.001
    assert "!quant.uniform<i8:f32:3," in text and "!quant.uniform<u8:f32," in text


# --- QOperator format ----------------------------------------------------------
# QLinear ops are imported as their QDQ form; quant-opt fuses that into
# integer code. onnxruntime requantizes its int32 accumulators with a float
# multiplier, quant-opt with the fixed-point one of docs/Semantics.md ("Fused
# integer contractions", "qnn.add", "Average pooling"): they can differ by
# one quantization step where the exact value lies near a rounding boundary,
# and by no more. The unfused QDQ program (float contraction, one quantize)
# has the same bound. Where ONNX's definition is exactly what quant-opt
# computes (MatMulInteger / ConvInteger: integers), the results are equal.
U8, I8, I32 = TensorProto.UINT8, TensorProto.INT8, TensorProto.INT32
NP = {U8: np.uint8, I8: np.int8, I32: np.int32}


def qop_model(nodes, inputs, initializers=(), microsoft=False):
    """A model of typed inputs (`inputs`: name -> (ONNX type, shape)) whose
    outputs are the last node's, of types left to onnxruntime to infer."""
    graph = helper.make_graph(
        nodes, "test", [helper.make_tensor_value_info(name, elem, shape) for name, (elem, shape) in inputs.items()],
        [onnx.ValueInfoProto(name=name) for name in nodes[-1].output],
        list(initializers))
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid("com.microsoft", 1)] if microsoft else [])
    # (onnxruntime, which runs each, checks it.)
    return helper.make_model(graph, opset_imports=opsets)


def qop_inputs(model, seed=0):
    """Random feeds: integers over their type's range, floats N(0, 1)."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for inp in model.graph.input:
        shape = [d.dim_value if d.HasField("dim_value") else BATCH for d in inp.type.tensor_type.shape.dim]
        elem = inp.type.tensor_type.elem_type
        if elem in NP:
            info = np.iinfo(NP[elem])
            feeds[inp.name] = rng.integers(info.min, info.max + 1, shape).astype(NP[elem])
        else:
            feeds[inp.name] = rng.normal(0, 1, shape).astype(np.float32)
    return feeds


def check_qop(model, feeds=None, bound=1, fused_ops=()):
    """Runs `model` imported, unfused (its QDQ program) and fused
    (--qnn-fuse-quantized-ops) against onnxruntime; asserts both are within
    `bound` of it in the quantized domain and that the fused program has
    `fused_ops`. Returns the imported and fused texts."""
    from quant_opt.execution import run_command
    feeds = feeds or qop_inputs(model)
    text = import_model(model, BATCH)
    fused = run_command([find_tool("quant-opt"), "--canonicalize", "--qnn-fuse-quantized-ops", "--canonicalize"],
                        text)
    expected = reference(model, feeds)
    for program, module in (("qdq", text), ("fused", fused)):
        for out, result, ref in zip(model.graph.output, run_module(module, list(feeds.values())), expected):
            assert result.dtype == ref.dtype and result.shape == ref.shape, (program, out.name)
            diff = np.abs(result.astype(np.float64) - ref.astype(np.float64))
            print(f"{program} {out.name}: max |diff| {diff.max()}, {np.mean(diff != 0):.3%} differ")
            assert diff.max() <= bound, (program, out.name)
    for op in fused_ops:
        assert op in fused, op
    return text, fused


def qparams_inits(prefix, scale, zero_point, elem):
    return [const(prefix + "_s", scale), const(prefix + "_z", zero_point, NP[elem])]


@pytest.mark.parametrize("x_elem,per_channel,bias,attrs", [
    (U8, False, False, {}),
    (U8, True, True, {"strides": [2, 2]}),
    (U8, True, True, {"dilations": [2, 1]}),
    (U8, True, False, {"auto_pad": "SAME_UPPER", "strides": [2, 2]}),
    (U8, True, True, {"group": C}),
    (U8, True, True, {"pads": [1, 1, 1, 1]}),
], ids=["per-tensor", "per-channel-bias", "dilations", "same-upper", "depthwise", "pads"])
def test_qlinear_conv(x_elem, per_channel, bias, attrs):
    """A UINT8 graph input read by QLinearConv directly (int8 weights), its
    uint8 output a graph output. (onnxruntime 1.19's CPU QLinearConv and
    QLinearMatMul have no INT8 activations at opset 10; INT8 ones are
    tested through MatMulInteger.)"""
    rng = np.random.default_rng(1)
    out_channels = C if "group" in attrs else 8
    cin = 1 if "group" in attrs else C
    w = rng.integers(-127, 128, (out_channels, cin, 3, 3)).astype(np.int8)
    w_scale = rng.uniform(0.002, 0.01, out_channels) if per_channel else 0.005
    w_zp = np.zeros(out_channels if per_channel else (), np.int8)
    x_zp = 128 if x_elem == U8 else -5
    inits = (qparams_inits("x", 0.02, x_zp, x_elem) + [const("w", w, np.int8), const("w_s", w_scale),
                                                       const("w_z", w_zp, np.int8)]
             + qparams_inits("y", 0.03, 100, U8))
    names = ["x", "x_s", "x_z", "w", "w_s", "w_z", "y_s", "y_z"]
    if bias:
        inits.append(const("b", rng.integers(-2000, 2000, out_channels), np.int32))
        names.append("b")
    model = qop_model([helper.make_node("QLinearConv", names, ["y"], name="conv", **attrs)],
                      {"x": (x_elem, ["N", C, H, W])}, inits)
    text, fused = check_qop(model, fused_ops=("qnn.rescale",))
    assert "quant.scast" in text and "qnn.quantize" in text
    # No float convolution is left.
    assert "linalg.conv" not in fused and "linalg.depthwise" not in fused


def test_qlinear_conv_after_quantize_linear():
    """A float input quantized by QuantizeLinear, then QLinearConv, then
    DequantizeLinear: ONNX Runtime's QOperator form of a float model."""
    rng = np.random.default_rng(2)
    inits = (qparams_inits("x", 0.02, 128, U8) + qparams_inits("y", 0.05, 0, U8)
             + [const("w", rng.integers(-127, 128, (8, C, 3, 3)), np.int8),
                const("w_s", rng.uniform(0.002, 0.01, 8)), const("w_z", np.zeros(8), np.int8),
                const("b", rng.integers(-500, 500, 8), np.int32)])
    nodes = [helper.make_node("QuantizeLinear", ["x", "x_s", "x_z"], ["xq"], name="q"),
             helper.make_node("QLinearConv", ["xq", "x_s", "x_z", "w", "w_s", "w_z", "y_s", "y_z", "b"], ["yq"],
                              name="conv", strides=[2, 2]),
             helper.make_node("DequantizeLinear", ["yq", "y_s", "y_z"], ["y"], name="dq")]
    model = qop_model(nodes, {"x": (TensorProto.FLOAT, ["N", C, H, W])}, inits)
    # A float output: one step of y is 0.05.
    check_qop(model, bound=0.05 * 1.001, fused_ops=("qnn.rescale",))


@pytest.mark.parametrize("a_elem,per_column,shape", [(U8, False, ["N", 6]), (U8, True, ["N", 6]),
                                                     (U8, True, ["N", 3, 6])],
                         ids=["per-tensor", "per-column", "3d"])
def test_qlinear_matmul(a_elem, per_column, shape):
    rng = np.random.default_rng(3)
    b_scale = rng.uniform(0.002, 0.01, 5) if per_column else 0.004
    inits = (qparams_inits("a", 0.03, 120 if a_elem == U8 else 3, a_elem)
             + [const("b", rng.integers(-127, 128, (6, 5)), np.int8), const("b_s", b_scale),
                const("b_z", np.zeros(5 if per_column else ()), np.int8)] + qparams_inits("y", 0.02, 128, U8))
    model = qop_model([helper.make_node("QLinearMatMul", ["a", "a_s", "a_z", "b", "b_s", "b_z", "y_s", "y_z"],
                                        ["y"], name="matmul")], {"a": (a_elem, shape)}, inits)
    check_qop(model, fused_ops=("qnn.rescale",))


def test_qlinear_matmul_of_two_activations():
    """Both operands quantized activations: a batch matmul, left in float
    (quant-opt fuses only constant weights), within the bound."""
    inits = qparams_inits("a", 0.03, 128, U8) + qparams_inits("b", 0.02, 128, U8) + qparams_inits("y", 0.5, 128, U8)
    model = qop_model([helper.make_node("QLinearMatMul", ["a", "a_s", "a_z", "b", "b_s", "b_z", "y_s", "y_z"],
                                        ["y"], name="matmul")], {"a": (U8, ["N", 3, 4]), "b": (U8, ["N", 4, 5])},
                      inits)
    check_qop(model)


@pytest.mark.parametrize("trans_b,with_y", [(1, True), (0, True), (1, False)],
                         ids=["transB", "B", "float-output"])
def test_qgemm(trans_b, with_y):
    """com.microsoft QGemm (what ONNX Runtime's quantizer makes of Gemm):
    per-channel B, int32 bias; without y_scale its output is float."""
    rng = np.random.default_rng(4)
    b = rng.integers(-127, 128, (5, 6) if trans_b else (6, 5)).astype(np.int8)
    inits = (qparams_inits("a", 0.03, 128, U8)
             + [const("b", b, np.int8), const("b_s", rng.uniform(0.002, 0.01, 5)), const("b_z", np.zeros(5), np.int8),
                const("c", rng.integers(-3000, 3000, 5), np.int32)]
             + (qparams_inits("y", 0.02, 128, U8) if with_y else []))
    names = ["a", "a_s", "a_z", "b", "b_s", "b_z", "c"] + (["y_s", "y_z"] if with_y else [])
    model = qop_model([helper.make_node("QGemm", names, ["y"], name="gemm", domain="com.microsoft", transB=trans_b)],
                      {"a": (U8, ["N", 6])}, inits, microsoft=True)
    if with_y:
        check_qop(model, fused_ops=("qnn.rescale",))
    else:
        feeds = qop_inputs(model)
        result = run_module(import_model(model, BATCH), [feeds["a"]])[0]
        np.testing.assert_allclose(result, reference(model, feeds)[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("op", ["QLinearAdd", "QLinearMul"])
def test_qlinear_add_mul(op):
    """Two activations of one shape (one of them NHWC, after a
    QLinearConv's quantize) through com.microsoft QLinearAdd / QLinearMul;
    quant-opt fuses them into qnn.add / an integer product."""
    inits = (qparams_inits("a", 0.03, 128, U8) + qparams_inits("b", 0.02, 100, U8)
             + qparams_inits("y", 0.04 if op == "QLinearAdd" else 0.5, 110, U8))
    nodes = [helper.make_node(op, ["a", "a_s", "a_z", "b", "b_s", "b_z", "y_s", "y_z"], ["y"], name="op",
                              domain="com.microsoft")]
    model = qop_model(nodes, {"a": (U8, ["N", C, H, W]), "b": (U8, ["N", C, H, W])}, inits, microsoft=True)
    check_qop(model, fused_ops=("qnn.add",) if op == "QLinearAdd" else ("qnn.rescale",))


@pytest.mark.parametrize("op,attrs", [
    ("QLinearAveragePool", {"kernel_shape": [2, 2], "strides": [2, 2]}),
    ("QLinearAveragePool", {"kernel_shape": [3, 3], "strides": [1, 1]}),
    ("QLinearGlobalAveragePool", {}),
], ids=["avg-2x2", "avg-3x3", "global"])
def test_qlinear_average_pool(op, attrs):
    """(With s_x / s_y = 1.5, a 3x3 average is the integer sum / 6: one
    value in six is an exact tie, which quant-opt rounds to even and
    onnxruntime's float arithmetic either way; about 14% differ, by one.)"""
    inits = qparams_inits("x", 0.03, 128, U8) + qparams_inits("y", 0.02, 120, U8)
    model = qop_model([helper.make_node(op, ["x", "x_s", "x_z", "y_s", "y_z"], ["y"], name="pool",
                                        domain="com.microsoft", **attrs)],
                      {"x": (U8, ["N", C, H, W])}, inits, microsoft=True)
    check_qop(model, fused_ops=("qnn.rescale",))


@pytest.mark.parametrize("op,attrs", [("QLinearSigmoid", {}), ("QLinearLeakyRelu", {"alpha": 0.1})])
def test_qlinear_sigmoid_leaky_relu(op, attrs):
    """Left in float by quant-opt (dequantize, the float function,
    quantize); onnxruntime computes a 256-entry table in float: one step."""
    inits = qparams_inits("x", 0.05, 128, U8) + qparams_inits("y", 1 / 256 if op == "QLinearSigmoid" else 0.04,
                                                              0 if op == "QLinearSigmoid" else 60, U8)
    model = qop_model([helper.make_node(op, ["x", "x_s", "x_z", "y_s", "y_z"], ["y"], name="act",
                                        domain="com.microsoft", **attrs)],
                      {"x": (U8, ["N", C, H, W])}, inits, microsoft=True)
    check_qop(model)


def test_quantized_ops_on_stored_values():
    """MaxPool and Flatten read a QLinearConv's quantized output
    directly (as ONNX Runtime runs them on uint8): exact data movement, the
    result still quantized."""
    rng = np.random.default_rng(5)
    inits = (qparams_inits("x", 0.02, 128, U8) + qparams_inits("y", 0.03, 90, U8)
             + [const("w", rng.integers(-127, 128, (8, C, 3, 3)), np.int8), const("w_s", 0.004),
                const("w_z", 0, np.int8)])
    nodes = [helper.make_node("QLinearConv", ["x", "x_s", "x_z", "w", "w_s", "w_z", "y_s", "y_z"], ["c"],
                              name="conv"),
             helper.make_node("MaxPool", ["c"], ["p"], name="pool", kernel_shape=[2, 2]),
             helper.make_node("Flatten", ["p"], ["y"], name="flatten")]
    check_qop(qop_model(nodes, {"x": (U8, ["N", C, H, W])}, inits), fused_ops=("qnn.rescale",))


@pytest.mark.parametrize("op,elem,zero_point", [("MatMulInteger", U8, 128), ("MatMulInteger", I8, -3),
                                                ("ConvInteger", U8, 128)])
def test_integer_contractions_are_exact(op, elem, zero_point):
    """MatMulInteger (int8 weights, per-column zero points) / ConvInteger
    (uint8 weights: onnxruntime's CPU ConvInteger takes only those, and pads
    with the zero point): the int32 (x - z_x) * (w - z_w) sums, equal to
    onnxruntime's (the result is a graph output, and a Cast to FLOAT reads
    it)."""
    rng = np.random.default_rng(6)
    attrs = {}
    if op == "MatMulInteger":
        inits = [const("w", rng.integers(-128, 128, (6, 5)), np.int8), const("w_z", rng.integers(-3, 4, 5), np.int8)]
        shape = ["N", 6]
    else:
        inits = [const("w", rng.integers(0, 256, (8, C, 3, 3)), np.uint8), const("w_z", 130, np.uint8)]
        shape, attrs = ["N", C, H, W], {"pads": [1, 1, 1, 1]}
    inits.append(const("x_z", zero_point, NP[elem]))
    nodes = [helper.make_node(op, ["x", "w", "x_z", "w_z"], ["y"], name="op", **attrs),
             helper.make_node("Cast", ["y"], ["f"], name="cast", to=TensorProto.FLOAT)]
    model = qop_model(nodes, {"x": (elem, shape)}, inits)
    model.graph.output.insert(0, onnx.ValueInfoProto(name="y"))
    feeds = qop_inputs(model)
    text = import_model(model, BATCH)
    expected = reference(model, feeds)
    from quant_opt.execution import run_command
    fused = run_command([find_tool("quant-opt"), "--canonicalize", "--qnn-fuse-quantized-ops", "--canonicalize"],
                        text)
    assert "!quant.uniform<i32:f32, 1.0:0>" in text and "qnn.rescale" in fused
    for module in (text, fused):
        y, f = run_module(module, [feeds["x"]])
        assert y.dtype == np.int32
        np.testing.assert_array_equal(y, expected[0])
        np.testing.assert_array_equal(f, expected[1])


def test_integer_contraction_beyond_exact_range_refused():
    """Where the int32 sums can reach 2^24, the float program stops being
    exact: refused, naming the limit."""
    inits = [const("w", np.full((700, 4), 127), np.int8)]
    model = qop_model([helper.make_node("MatMulInteger", ["x", "w"], ["y"], name="mm")],
                      {"x": (U8, ["N", 700])}, inits)
    with pytest.raises(UnsupportedModelError, match=r"MatMulInteger node 'mm': its int32 sums can reach 22669500 .*"
                                                    r"beyond 2\^24"):
        import_model(model)


def test_qoperator_refusals_name_node_op_and_limit():
    rng = np.random.default_rng(7)
    w = const("w", rng.integers(-127, 128, (8, C, 3, 3)), np.int8)
    names = ["x", "x_s", "x_z", "w", "w_s", "w_z", "y_s", "y_z"]
    base = qparams_inits("x", 0.02, 128, U8) + qparams_inits("y", 0.03, 0, U8) + [w, const("w_z", 0, np.int8)]

    def conv_model(inits, inputs=()):
        return qop_model([helper.make_node("QLinearConv", names, ["y"], name="conv")],
                         {"x": (U8, ["N", C, H, W]), **dict(inputs)}, inits)
    # A scale that is not a constant.
    model = conv_model(base, {"w_s": (TensorProto.FLOAT, [])})
    with pytest.raises(UnsupportedModelError, match="QLinearConv node 'conv': the scale and zero point of w must "
                                                    "be constants"):
        import_model(model)
    # INT4 weights.
    int4 = helper.make_tensor("w", TensorProto.INT4, (8, C, 3, 3), rng.integers(-8, 8, 8 * C * 9).tolist())
    model = conv_model([i for i in base if i.name != "w"] + [int4, const("w_s", 0.004)])
    with pytest.raises(UnsupportedModelError, match="QLinearConv node 'conv': the weights have type INT4; only "
                                                    "INT8 and UINT8"):
        import_model(model)
    # Per-row scales of QLinearMatMul's a.
    inits = [const("a_s", [0.1, 0.2]), const("a_z", [0, 0], np.uint8), const("b", np.ones((3, 2)), np.int8),
             const("b_s", 0.1), const("b_z", 0, np.int8)] + qparams_inits("y", 0.1, 0, U8)
    model = qop_model([helper.make_node("QLinearMatMul", ["a", "a_s", "a_z", "b", "b_s", "b_z", "y_s", "y_z"],
                                        ["y"], name="mm")], {"a": (U8, [2, 3])}, inits)
    with pytest.raises(UnsupportedModelError, match="QLinearMatMul node 'mm': a takes a per-tensor scale and zero "
                                                    "point only"):
        import_model(model)
    # A float tensor where a quantized one is read.
    model = qop_model([helper.make_node("QLinearConv", names, ["y"], name="conv")],
                      {"x": (TensorProto.FLOAT, ["N", C, H, W])}, base + [const("w_s", 0.004)])
    with pytest.raises(UnsupportedModelError, match="QLinearConv node 'conv': reads the float tensor 'x'"):
        import_model(model)


@pytest.mark.parametrize("shape,fill", [([2, 3], None), ([2, 4, 5], None), ([3, 2], 0.0), ([4], 2.5)])
def test_dynamic_quantize_linear(shape, fill):
    """DynamicQuantizeLinear: y (UINT8), the scalar y_scale and y_zero_point
    equal to onnxruntime's (an all-zero input has scale 1; an all-positive
    one, zero point 0)."""
    nodes = [helper.make_node("DynamicQuantizeLinear", ["x"], ["y", "s", "z"], name="dql")]
    model = typed_model(nodes, {"x": (TensorProto.FLOAT, shape)},
                        {"y": (U8, shape), "s": (TensorProto.FLOAT, []), "z": (U8, [])})
    x = np.random.default_rng(3).normal(0, 2, shape).astype(np.float32) if fill is None else \
        np.full(shape, fill, np.float32)
    check_exact(model, {"x": x})


def dynamic_model(tmp_path, shape, **options):
    """A float MatMul + bias, ReLU, Gemm + bias network quantized by
    onnxruntime's quantize_dynamic (QOperator: DynamicQuantizeLinear,
    MatMulInteger, Cast, Mul, Add)."""
    from onnxruntime.quantization import quantize_dynamic
    k = shape[-1]
    inits = [weights("w1", (k, 24), 12, 0.3), weights("b1", (24,), 13), weights("w2", (24, 10), 14, 0.3),
             weights("b2", (10,), 15)]
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"], name="fc1"),
             helper.make_node("Add", ["h", "b1"], ["hb"], name="fc1_bias"),
             helper.make_node("Relu", ["hb"], ["r"], name="relu")]
    if len(shape) == 2:
        nodes.append(helper.make_node("Gemm", ["r", "w2", "b2"], ["y"], name="fc2"))
    else:
        nodes += [helper.make_node("MatMul", ["r", "w2"], ["m"], name="fc2"),
                  helper.make_node("Add", ["b2", "m"], ["y"], name="fc2_bias")]
    path, quantized = tmp_path / "float.onnx", tmp_path / "dynamic.onnx"
    onnx.save(make_model(nodes, {"x": shape}, ["y"], inits), str(path))
    quantize_dynamic(str(path), str(quantized), **options)
    return onnx.load(str(quantized))


@pytest.mark.parametrize("shape,options", [
    (["N", 20], {}),
    (["N", 20], {"per_channel": True}),
    (["N", 7, 20], {"weight_type": "QUInt8"}),
    (["N", 3, 7, 20], {"per_channel": True, "weight_type": "QUInt8"})])
def test_quantize_dynamic_matmul(tmp_path, shape, options):
    """onnxruntime's quantize_dynamic layers: imported as
    matmul(dynamic_dequantize(x), dequantize(w)), fused into an integer
    contraction and the epilogue f32(acc) * (s_x * s_w), the float operations
    onnxruntime does in its order: its outputs, bit for bit. (The unfused
    program, a float matmul of the dequantized values, is within f32
    rounding.)"""
    from onnxruntime.quantization import QuantType
    from quant_opt.execution import run_command
    if "weight_type" in options:
        options = dict(options, weight_type=getattr(QuantType, options["weight_type"]))
    model = dynamic_model(tmp_path, shape, **options)
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("DynamicQuantizeLinear") == 2 and ops.count("MatMulInteger") == 2
    text = import_model(model, BATCH)
    assert text.count("qnn.dynamic_dequantize") == 2
    fused = run_command([find_tool("quant-opt"), "--canonicalize", "--qnn-fuse-quantized-ops", "--canonicalize"],
                        text)
    assert "linalg.matmul" not in fused and "dynamic_dequantize" not in fused
    dims = [BATCH if d == "N" else d for d in shape]
    feeds = {"x": np.random.default_rng(2).normal(0, 1, dims).astype(np.float32)}
    (expected,) = reference(model, feeds)
    (got,) = run_module(fused, [feeds["x"]])
    np.testing.assert_array_equal(got, expected)
    (unfused,) = run_module(text, [feeds["x"]])
    assert np.abs(unfused - expected).max() <= 1e-5 * np.abs(expected).max()


@pytest.mark.parametrize("attrs", [{"pads": [1, 0, 2, 1], "strides": [2, 1]}, {"auto_pad": "SAME_UPPER"},
                                   {"dilations": [2, 1]}])
def test_quantize_dynamic_conv(tmp_path, attrs):
    """quantize_dynamic's convolutions (ConvInteger; uint8 weights, the ones
    onnxruntime's CPU ConvInteger takes): the stored values transposed to
    NHWC and padded with the run-time zero point, fused into an integer
    convolution and onnxruntime's epilogue: its outputs, bit for bit."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from quant_opt.execution import run_command
    nodes = [conv_node("conv1", "x", "c1", "w1", "b1", **attrs), helper.make_node("Relu", ["c1"], ["r"], name="relu"),
             conv_node("conv2", "r", "y", "w2", "b2", pads=[1, 1, 1, 1])]
    inits = [weights("w1", (6, C, 3, 3), 21, 0.3), weights("b1", (6,), 22), weights("w2", (5, 6, 3, 3), 23, 0.3),
             weights("b2", (5,), 24)]
    path, quantized = tmp_path / "float.onnx", tmp_path / "dynamic.onnx"
    onnx.save(make_model(nodes, IMAGE, ["y"], inits), str(path))
    quantize_dynamic(str(path), str(quantized), weight_type=QuantType.QUInt8)
    model = onnx.load(str(quantized))
    assert [n.op_type for n in model.graph.node].count("ConvInteger") == 2
    text = import_model(model, BATCH)
    fused = run_command([find_tool("quant-opt"), "--canonicalize", "--qnn-fuse-quantized-ops", "--canonicalize"],
                        text)
    assert "linalg.conv_2d" not in fused and "dynamic_dequantize" not in fused
    feeds = random_inputs(model)
    (expected,) = reference(model, feeds)
    (got,) = run_module(fused, list(feeds.values()))
    np.testing.assert_array_equal(got, expected)


def test_quantize_dynamic_transformer(tmp_path):
    """models/fashion-transformer quantized by quantize_dynamic (14
    MatMulInteger layers): every layer is onnxruntime's bit for bit on the
    same input, but the float ops between them (LayerNormalization, Softmax,
    Erf) round differently from onnxruntime's in the last place, which can
    move a value of the next DynamicQuantizeLinear by one step: the logits
    agree closely, not exactly (quant-eval on the 10000 test images: top-1
    agreement 99.99%, max |difference| 0.071)."""
    from onnxruntime.quantization import quantize_dynamic
    from quant_opt.execution import run_command
    source = PYTHON_DIR.parent / "models" / "fashion-transformer" / "model.onnx"
    quantize_dynamic(str(source), str(tmp_path / "dynamic.onnx"))
    model = onnx.load(str(tmp_path / "dynamic.onnx"))
    assert [n.op_type for n in model.graph.node].count("MatMulInteger") == 14
    x = np.random.default_rng(4).uniform(0, 1, (8, 1, 28, 28)).astype(np.float32)
    text = import_model(model, 8)
    fused = run_command([find_tool("quant-opt"), "--canonicalize", "--qnn-fuse-quantized-ops", "--canonicalize"],
                        text)
    assert "linalg.matmul" not in fused and "dynamic_dequantize" not in fused
    (expected,) = reference(model, {"input": x})
    (got,) = run_module(fused, [x])
    assert np.abs(got - expected).max() <= 0.05 and np.array_equal(got.argmax(1), expected.argmax(1))


def test_dynamic_quantize_linear_refusals():
    """A MatMulInteger or ConvInteger of a DynamicQuantizeLinear's output
    outside the chain quantize_dynamic writes (here: its int32 result a
    graph output) is refused, naming it."""
    rng = np.random.default_rng(5)
    inits = [const("w", rng.integers(-127, 128, (6, 4)), np.int8), const("w_z", 0, np.int8)]
    nodes = [helper.make_node("DynamicQuantizeLinear", ["x"], ["q", "s", "z"], name="dql"),
             helper.make_node("MatMulInteger", ["q", "w", "z", "w_z"], ["y"], name="mm")]
    model = qop_model(nodes, {"x": (TensorProto.FLOAT, [2, 6])}, inits)
    with pytest.raises(UnsupportedModelError, match="MatMulInteger node 'mm': reads the output of a "
                                                    "DynamicQuantizeLinear; supported as ONNX Runtime's"):
        import_model(model)
    inits = [const("w", rng.integers(0, 256, (8, C, 3, 3)), np.uint8), const("w_z", 128, np.uint8)]
    nodes = [helper.make_node("DynamicQuantizeLinear", ["x"], ["q", "s", "z"], name="dql"),
             helper.make_node("ConvInteger", ["q", "w", "z", "w_z"], ["y"], name="conv")]
    model = qop_model(nodes, {"x": (TensorProto.FLOAT, [1, C, H, W])}, inits)
    with pytest.raises(UnsupportedModelError, match="ConvInteger node 'conv': reads the output of a "
                                                    "DynamicQuantizeLinear; supported as ONNX Runtime's"):
        import_model(model)


def test_unregistered_microsoft_op_listed():
    nodes = [helper.make_node("QLinearConcat", ["x"], ["y"], name="cat", domain="com.microsoft"),
             helper.make_node("QGemm", ["x"], ["z"], name="gemm")]  # QGemm is not an ONNX op
    graph = helper.make_graph(nodes, "test", [helper.make_tensor_value_info("x", TensorProto.UINT8, [2, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.UINT8, [2, 3])])
    with pytest.raises(UnsupportedModelError, match=r"2 unsupported op type\(s\) in the model: QGemm \(1: gemm\); "
                                                    r"com.microsoft.QLinearConcat \(1: cat\)"):
        import_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))


# --- errors -------------------------------------------------------------------
def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "quant_opt.onnx_import", *map(str, args)],
                          cwd=PYTHON_DIR, capture_output=True, text=True)


def unsupported_model():
    nodes = [helper.make_node("LSTM", ["s", "lw", "lr"], ["h"], name="lstm", hidden_size=2),
             helper.make_node("NonMaxSuppression", ["boxes", "scores"], ["keep1"], name="nms1"),
             helper.make_node("NonMaxSuppression", ["boxes", "scores"], ["keep2"], name="nms2")]
    graph = helper.make_graph(
        nodes, "bad",
        [helper.make_tensor_value_info("s", TensorProto.FLOAT, [3, "N", 4]),
         helper.make_tensor_value_info("boxes", TensorProto.FLOAT, ["N", 5, 4]),
         helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 1, 5])],
        [helper.make_tensor_value_info("h", TensorProto.FLOAT, [3, 1, "N", 2]),
         helper.make_tensor_value_info("keep1", TensorProto.INT64, ["K1", 3]),
         helper.make_tensor_value_info("keep2", TensorProto.INT64, ["K2", 3])],
        [weights("lw", (1, 8, 4), 1), weights("lr", (1, 8, 2), 2)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model


def test_unsupported_ops_listed():
    with pytest.raises(UnsupportedModelError) as error:
        import_model(unsupported_model())
    message = str(error.value)
    assert "LSTM (1: lstm)" in message and "NonMaxSuppression (2: nms1, nms2)" in message, message


def test_custom_domain_unsupported():
    """Listed with their domain, once, even when the default domain has an
    op of that name."""
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu", domain="com.example"),
             helper.make_node("Fused", ["r"], ["f"], name="fused", domain="com.example"),
             helper.make_node("Relu", ["f"], ["y"], name="relu2")]
    graph = helper.make_graph(nodes, "test", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.example", 1)])
    with pytest.raises(UnsupportedModelError) as error:
        import_model(model)
    assert str(error.value) == ("2 unsupported op type(s) in the model: com.example.Fused (1: fused); "
                                "com.example.Relu (1: relu)")


def test_cli_unsupported(tmp_path):
    path = tmp_path / "bad.onnx"
    onnx.save(unsupported_model(), path)
    result = run_cli(path, "-o", tmp_path / "bad.mlir")
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: {path}: ") and "LSTM" in result.stderr, result.stderr
    assert "NonMaxSuppression" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "bad.mlir").exists()


@pytest.mark.parametrize("content", [b"not an onnx model", b"", None], ids=["garbage", "empty", "missing"])
def test_cli_unreadable(tmp_path, content):
    path = tmp_path / "model.onnx"
    if content is not None:
        path.write_bytes(content)
    result = run_cli(path)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("error: ") and str(path) in result.stderr, result.stderr


def test_unnamed_nodes_named_by_op_type_and_index():
    """ONNX allows nodes without names (onnx.helper.make_node's default):
    each becomes OpType_index, unique next to the named ones, so that every
    layer, activation and statistic has a name."""
    nodes = [conv_node("", "x", "c", "w", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("Relu", ["r"], ["y"], name="Relu_1")]
    model = make_model(nodes, IMAGE, ["y"], [weights("w", (3, C, 3, 3), 1)])
    text, _ = check(model)
    assert 'loc("")' not in text
    assert 'loc("Conv_0")' in text and 'loc("Relu_1_1")' in text and 'loc("Relu_1")' in text, text
    assert [n.name for n in model.graph.node] == ["", "", "Relu_1"]  # the caller's model unchanged


@pytest.mark.parametrize("batch,function,message", [
    (0, "main", "the batch size must be a positive integer, not 0"),
    (-3, "main", "the batch size must be a positive integer, not -3"),
    (1, "1bad", "the function name '1bad' is not an MLIR identifier"),
    (1, 'a"b', "the function name 'a\"b' is not an MLIR identifier"),
], ids=["batch-0", "batch-negative", "function-digit", "function-quote"])
def test_bad_arguments(batch, function, message):
    model = make_model([helper.make_node("Relu", ["x"], ["y"], name="relu")], IMAGE, ["y"])
    with pytest.raises(UnsupportedModelError) as error:
        import_model(model, batch, function)
    assert str(error.value).startswith(message), str(error.value)


def test_cli_bad_batch(tmp_path):
    path = tmp_path / "model.onnx"
    onnx.save(make_model([helper.make_node("Relu", ["x"], ["y"], name="relu")], IMAGE, ["y"]), path)
    result = run_cli(path, "--batch", -3)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "the batch size must be a positive integer, not -3" in result.stderr, result.stderr


def test_grouped_conv_rejected():
    model = make_model([conv_node("conv", "x", "y", "w", group=2)], IMAGE, ["y"], [weights("w", (4, 2, 3, 3), 1)])
    with pytest.raises(UnsupportedModelError, match="Conv node 'conv': groups=2"):
        import_model(model)


def test_reshape_non_constant_shape():
    """A shape computed from activation values, and one fed as an input."""
    nodes = [helper.make_node("Cast", ["s"], ["si"], name="cast", to=TensorProto.INT64),
             helper.make_node("Reshape", ["x", "si"], ["y"], name="reshape")]
    model = make_model(nodes, {"x": ["N", 4, 6], "s": [3]}, ["y"])
    with pytest.raises(UnsupportedModelError, match="Reshape node 'reshape': the shape must be constant"):
        import_model(model)
    graph = helper.make_graph([helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape")], "test",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, 6]),
                               helper.make_tensor_value_info("shape", TensorProto.INT64, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    with pytest.raises(UnsupportedModelError, match="Reshape node 'reshape': the shape must be constant"):
        import_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))


def test_graph_inputs_bound_to_constants(tmp_path):
    """Weights and a shape given as graph inputs (as onnx's backend tests
    and some exporters do), bound to values with `constants`: the model
    then imports as with initializers, and computes what onnxruntime
    computes with those values fed; the bound inputs are not arguments."""
    nodes = [conv_node("conv", "x", "c", "w", "b", pads=[1, 1, 1, 1]),
             helper.make_node("Reshape", ["c", "shape"], ["y"], name="reshape")]
    graph = helper.make_graph(nodes, "test",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [BATCH, C, H, W]),
                               helper.make_tensor_value_info("w", TensorProto.FLOAT, [8, C, 3, 3]),
                               helper.make_tensor_value_info("b", TensorProto.FLOAT, [8]),
                               helper.make_tensor_value_info("shape", TensorProto.INT64, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    rng = np.random.default_rng(5)
    feeds = {"x": rng.normal(0, 1, (BATCH, C, H, W)).astype(np.float32),
             "w": rng.normal(0, 0.5, (8, C, 3, 3)).astype(np.float32),
             "b": rng.normal(0, 0.5, 8).astype(np.float32), "shape": np.array([BATCH, -1], np.int64)}
    with pytest.raises(UnsupportedModelError, match="Conv node 'conv': weights must be constant"):
        import_model(model)
    constants = {k: v for k, v in feeds.items() if k != "x"}
    text = import_model(model, constants=constants)
    assert text.count("%arg") == text.count("%arg0")  # x is the only argument
    result, = run_module(text, [feeds["x"]])
    np.testing.assert_allclose(result, reference(model, feeds)[0], rtol=1e-5, atol=1e-5)
    # The command line: --constant NAME=FILE.npy.
    onnx.save(model, tmp_path / "m.onnx")
    args = [str(tmp_path / "m.onnx"), "-o", str(tmp_path / "m.mlir")]
    for name, array in constants.items():
        np.save(tmp_path / f"{name}.npy", array)
        args += ["--constant", f"{name}={tmp_path / name}.npy"]
    assert run_cli(*args).returncode == 0
    assert (tmp_path / "m.mlir").read_text() == text
    # A value of another type or shape than declared, or for no input.
    with pytest.raises(UnsupportedModelError, match=r"input 'shape' is given as a constant of type int32; "
                                                    "the model declares INT64"):
        import_model(model, constants={**constants, "shape": np.array([BATCH, -1], np.int32)})
    with pytest.raises(UnsupportedModelError, match=r"input 'b' is given as a constant of shape \(4,\); "
                                                    r"the model declares \(8,\)"):
        import_model(model, constants={**constants, "b": np.zeros(4, np.float32)})
    with pytest.raises(UnsupportedModelError, match="constants given for bias, which are not inputs"):
        import_model(model, constants={**constants, "bias": np.zeros(8, np.float32)})


@pytest.mark.parametrize("elem,low,high", [
    (TensorProto.UINT8, 0, 256), (TensorProto.INT8, -128, 128), (TensorProto.UINT16, 0, 65536),
    (TensorProto.INT32, -2**31, 2**31), (TensorProto.INT64, -2**40, 2**40)],
    ids=["uint8", "int8", "uint16", "int32", "int64"])
def test_integer_input_cast_to_float(elem, low, high):
    """Images as UINT8 (or any integer input) through a Cast to FLOAT, then
    the usual float model: as onnxruntime converts them (nearest float)."""
    nodes = [helper.make_node("Cast", ["x"], ["f"], name="cast", to=TensorProto.FLOAT),
             helper.make_node("Mul", ["f", "k"], ["s"], name="scale"),
             conv_node("conv", "s", "y", "w", pads=[1, 1, 1, 1])]
    graph = helper.make_graph(nodes, "test", [helper.make_tensor_value_info("x", elem, ["N", C, H, W])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(np.array(1.0 / (high - low), np.float32), "k"),
                               numpy_helper.from_array(np.random.default_rng(1).normal(
                                   0, 0.5, (8, C, 3, 3)).astype(np.float32), "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    onnx.checker.check_model(model, full_check=True)
    dtype = onnx.helper.tensor_dtype_to_np_dtype(elem)
    x = np.random.default_rng(2).integers(low, high, (BATCH, C, H, W)).astype(dtype)
    text, _ = check(model, {"x": x})
    convert = "uitofp" if elem in (TensorProto.UINT8, TensorProto.UINT16) else "sitofp"
    assert f"arith.{convert}" in text


def typed_model(nodes, inputs, outputs, initializers=()):
    """A model of typed inputs and outputs: name -> (ONNX type, shape)."""
    graph = helper.make_graph(nodes, "test", [helper.make_tensor_value_info(n, t, s) for n, (t, s) in inputs.items()],
                              [helper.make_tensor_value_info(n, t, s) for n, (t, s) in outputs.items()],
                              list(initializers))
    return onnx.shape_inference.infer_shapes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
                                             strict_mode=True)


def check_exact(model, feeds, evaluator="onnxruntime"):
    """Imports and runs `model`; every output equal to onnxruntime's (or
    onnx's reference evaluator's, for what onnxruntime does not implement),
    in the declared type (MLIR integers are signless: read as that type)."""
    results = run_module(import_model(model), list(feeds.values()))
    if evaluator == "onnxruntime":
        expected = reference(model, feeds)
    else:
        from onnx.reference import ReferenceEvaluator
        expected = ReferenceEvaluator(model).run(None, feeds)
    for out, got, want in zip(model.graph.output, results, expected):
        got = got.view(want.dtype) if got.dtype.kind in "iu" and want.dtype.kind in "iu" else got
        assert got.dtype == want.dtype and np.array_equal(got, want, equal_nan=want.dtype.kind == "f"), out.name


@pytest.mark.parametrize("elem", [TensorProto.INT32, TensorProto.INT64])
def test_integer_elementwise_on_activations(elem):
    """Add, Sub, Mul (wrapping), Div (toward zero), Max, Min of integer
    activations and constants with broadcasting, then Casts to INT8
    (wrapping), BOOL and FLOAT: as onnxruntime computes them."""
    dtype = helper.tensor_dtype_to_np_dtype(elem)
    nodes = [helper.make_node("Add", ["a", "b"], ["s"], name="add"),
             helper.make_node("Mul", ["s", "k"], ["m"], name="mul"),
             helper.make_node("Sub", ["m", "b"], ["d"], name="sub"),
             helper.make_node("Div", ["d", "k"], ["q"], name="div"),
             helper.make_node("Max", ["q", "a", "b"], ["hi"], name="max"),
             helper.make_node("Min", ["q", "b"], ["lo"], name="min"),
             helper.make_node("Cast", ["hi"], ["hi8"], name="to_i8", to=TensorProto.INT8),
             helper.make_node("Cast", ["lo"], ["nz"], name="to_bool", to=TensorProto.BOOL),
             helper.make_node("Cast", ["nz"], ["nzi"], name="bool_to_int", to=TensorProto.INT32),
             helper.make_node("Cast", ["lo"], ["f"], name="to_float", to=TensorProto.FLOAT)]
    model = typed_model(nodes, {"a": (elem, [BATCH, 3, 4]), "b": (elem, [4])},
                        {"hi8": (TensorProto.INT8, None), "nzi": (TensorProto.INT32, None),
                         "f": (TensorProto.FLOAT, None), "q": (elem, None)},
                        [numpy_helper.from_array(np.array([3, -2, 7, 1], dtype), "k")])
    rng = np.random.default_rng(12)
    check_exact(model, {"a": rng.integers(-1000, 1000, (BATCH, 3, 4)).astype(dtype),
                        "b": np.array([0, -5, 17, 300], dtype)})


def test_float16_and_casts_on_activations():
    """A FLOAT16 input computed on (held in f32, exact) and a FLOAT16
    output rounded to f16; a float Cast to FLOAT16 (rounding), to integers
    (toward zero; in range: ONNX leaves the rest undefined) and to BOOL; a
    BOOL input cast to FLOAT: as onnxruntime."""
    nodes = [helper.make_node("Cast", ["h"], ["hf"], name="h_to_f", to=TensorProto.FLOAT),
             helper.make_node("Mul", ["hf", "x"], ["p"], name="mul"),
             helper.make_node("Cast", ["p"], ["p16"], name="to_f16", to=TensorProto.FLOAT16),
             helper.make_node("Cast", ["p"], ["pi"], name="to_i32", to=TensorProto.INT32),
             helper.make_node("Cast", ["p"], ["pb"], name="to_bool", to=TensorProto.BOOL),
             helper.make_node("Cast", ["m"], ["mf"], name="mask_to_f", to=TensorProto.FLOAT),
             helper.make_node("Mul", ["mf", "x"], ["masked"], name="masked"),
             helper.make_node("Cast", ["masked"], ["pu"], name="to_u8", to=TensorProto.UINT8)]
    model = typed_model(nodes, {"h": (TensorProto.FLOAT16, [2, 8]), "x": (TensorProto.FLOAT, [2, 8]),
                                "m": (TensorProto.BOOL, [2, 8])},
                        {"p16": (TensorProto.FLOAT16, None), "pi": (TensorProto.INT32, None),
                         "pu": (TensorProto.UINT8, None), "pb": (TensorProto.BOOL, None),
                         "masked": (TensorProto.FLOAT, None)})
    rng = np.random.default_rng(13)
    x = rng.uniform(0, 60, (2, 8)).astype(np.float32)
    x[0, :3] = 0.0
    check_exact(model, {"h": (rng.normal(0, 2, (2, 8)) * (np.arange(8) % 2 * 2 - 1)).astype(np.float16),
                        "x": x, "m": rng.integers(0, 2, (2, 8)).astype(bool)})
    # A FLOAT16 input read directly, a FLOAT16 output.
    model = typed_model([helper.make_node("Relu", ["h"], ["r"], name="relu")],
                        {"h": (TensorProto.FLOAT16, [2, 8])}, {"r": (TensorProto.FLOAT16, None)})
    check_exact(model, {"h": rng.normal(0, 2, (2, 8)).astype(np.float16)})


@pytest.mark.parametrize("elem", [TensorProto.INT64, TensorProto.INT32])
def test_embedding_lookup(elem):
    """Token ids in, rows of a constant table out (with negative ids counting
    from the end), then a float op: as onnxruntime computes it."""
    vocab, hidden = 50, 6
    table = np.random.default_rng(3).normal(0, 1, (vocab, hidden)).astype(np.float32)
    nodes = [helper.make_node("Gather", ["table", "ids"], ["e"], name="embed"),
             helper.make_node("Relu", ["e"], ["y"], name="relu")]
    graph = helper.make_graph(nodes, "test", [helper.make_tensor_value_info("ids", elem, ["N", 7])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(table, "table")])
    model = onnx.shape_inference.infer_shapes(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), strict_mode=True)
    ids = np.random.default_rng(4).integers(-vocab, vocab, (BATCH, 7)).astype(
        onnx.helper.tensor_dtype_to_np_dtype(elem))
    check(model, {"ids": ids}, atol=0)
    # A lookup of an activation table (ids out of range are ONNX errors:
    # within range here).
    nodes = [helper.make_node("Gather", ["x", "ids"], ["y"], name="gather_x")]
    model = typed_model(nodes, {"x": (TensorProto.FLOAT, [4, 3]), "ids": (elem, [2, 5])},
                        {"y": (TensorProto.FLOAT, None)})
    check_exact(model, {"x": np.random.default_rng(5).normal(0, 1, (4, 3)).astype(np.float32),
                        "ids": np.random.default_rng(6).integers(-4, 4, (2, 5)).astype(ids.dtype)})


@pytest.mark.parametrize("data,axis", [(TensorProto.FLOAT, 1), (TensorProto.INT32, -1), (TensorProto.UINT8, 0),
                                       (TensorProto.BOOL, 2)], ids=["float", "int32", "uint8", "bool"])
def test_gather_of_an_activation_at_activation_indices(data, axis):
    """Gather of an activation of any type at INT64 indices (an activation,
    negative ones counting from the end), along any axis: as onnxruntime
    computes it."""
    rng = np.random.default_rng(7)
    dtype = helper.tensor_dtype_to_np_dtype(data)
    shape = (3, 4, 5)
    nodes = [helper.make_node("Gather", ["x", "ids"], ["y"], name="gather", axis=axis)]
    model = typed_model(nodes, {"x": (data, list(shape)), "ids": (TensorProto.INT64, [2, 3])},
                        {"y": (data, None)})
    size = shape[axis]
    x = rng.normal(0, 50, shape).astype(dtype) if dtype != bool else rng.integers(0, 2, shape).astype(bool)
    check_exact(model, {"x": x, "ids": rng.integers(-size, size, (2, 3)).astype(np.int64)})


@pytest.mark.parametrize("source,indices,axis", [
    ("t", np.array(0), 1),               # ViT's class token: x[:, 0] of (N, tokens, hidden)
    ("t", np.array(-1), 2),              # a negative scalar index counts from the end
    ("c", np.array([1, 3, 5]), 1),       # channels in steps of 2, of a Conv's NHWC output
    ("c", np.array([4]), -1),            # a 1-D list of one index keeps the axis
], ids=["scalar", "negative", "steps", "one"])
def test_gather_of_an_activation_at_constant_indices(source, indices, axis):
    """A slice (less the axis for a scalar index), as onnxruntime computes
    it; then a Relu on it."""
    nodes = [conv_node("conv", "x", "c", "w", pads=[1, 1, 1, 1]),
             helper.make_node("Reshape", ["c", "tokens"], ["t"], name="tokens"),
             helper.make_node("Gather", [source, "indices"], ["g"], name="gather", axis=axis),
             helper.make_node("Relu", ["g"], ["y"], name="relu")]
    model = make_model(nodes, IMAGE, ["y"], [weights("w", (8, C, 3, 3), 1),
                                             const("tokens", [BATCH, 8, H * W], np.int64),
                                             const("indices", indices, np.int64)])
    check(model)


def test_gather_of_an_activation_at_unordered_indices():
    """Constant indices that are no slice (unordered, repeated, 2-D): read
    element by element, as onnxruntime computes it."""
    for indices in ([2, 0], [1, 1, -1], [[0, 3], [2, 2]]):
        nodes = [helper.make_node("Gather", ["x", "indices"], ["y"], name="shuffle", axis=1)]
        check(make_model(nodes, IMAGE, ["y"], [const("indices", indices, np.int64)]), atol=0)


@pytest.mark.parametrize("elem", [TensorProto.FLOAT, TensorProto.INT32, TensorProto.UINT32])
def test_comparisons_on_activations(elem):
    """Equal, Greater, Less, GreaterOrEqual, LessOrEqual of activations and
    a constant with broadcasting (unsigned compared as unsigned, NaN
    unordered), then Not, And, Or, Xor of the bools: as onnxruntime
    computes them."""
    rng = np.random.default_rng(8)
    dtype = helper.tensor_dtype_to_np_dtype(elem)
    ops = ["Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual"]
    nodes = [helper.make_node(op, ["a", "b"], [op], name=op) for op in ops]
    nodes += [helper.make_node("Less", ["a", "k"], ["below"], name="below"),
              helper.make_node("Not", ["Equal"], ["ne"], name="not"),
              helper.make_node("And", ["ne", "below"], ["and"], name="and"),
              helper.make_node("Or", ["Greater", "Equal"], ["or"], name="or"),
              helper.make_node("Xor", ["GreaterOrEqual", "LessOrEqual"], ["xor"], name="xor")]
    outputs = ops + ["below", "ne", "and", "or", "xor"]
    k = np.array([3, 200, 40000], dtype)[None, :] if dtype != np.float32 else np.array([[0.5, -1, 2]], dtype)
    model = typed_model(nodes, {"a": (elem, [4, 3]), "b": (elem, [1, 3])},
                        {o: (TensorProto.BOOL, None) for o in outputs}, [numpy_helper.from_array(k, "k")])
    if dtype == np.float32:
        a, b = rng.normal(0, 1, (4, 3)).astype(dtype), rng.normal(0, 1, (1, 3)).astype(dtype)
        a[0, 0], b[0, 1], a[1, 2] = np.nan, np.nan, b[0, 2]
    else:
        info = np.iinfo(dtype)
        a = rng.integers(info.min, info.max, (4, 3), endpoint=True).astype(dtype)
        b = rng.integers(info.min, info.max, (1, 3), endpoint=True).astype(dtype)
        a[1] = b[0]
    # (onnxruntime has no Equal of unsigned integers.)
    check_exact(model, {"a": a, "b": b}, "onnxruntime" if elem != TensorProto.UINT32 else "onnx")


def test_comparison_of_mixed_types_refused():
    nodes = [helper.make_node("Equal", ["a", "b"], ["y"], name="eq")]
    model = helper.make_model(helper.make_graph(
        nodes, "test", [helper.make_tensor_value_info("a", TensorProto.FLOAT, [3]),
                        helper.make_tensor_value_info("b", TensorProto.INT32, [3])],
        [helper.make_tensor_value_info("y", TensorProto.BOOL, [3])]), opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(UnsupportedModelError, match="Equal node 'eq': a comparison of a float and an integer "
                                                    "activation"):
        import_model(model)


def test_integer_input_read_by_anything_else_refused():
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="relu")]
    graph = helper.make_graph(nodes, "test", [helper.make_tensor_value_info("x", TensorProto.INT32, ["N", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.INT32, ["N", 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(UnsupportedModelError, match="Relu node 'relu' reads 'x', an activation of type INT32: "
                                                    "integer and bool activations are only read by Cast"):
        import_model(model)
    graph = helper.make_graph(nodes, "test", [helper.make_tensor_value_info("x", TensorProto.DOUBLE, ["N", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.DOUBLE, ["N", 4])])
    with pytest.raises(UnsupportedModelError, match="Relu node 'relu' reads 'x', an activation of type DOUBLE: "
                                                    "DOUBLE activations are only read by Cast, Identity and Add"):
        import_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    graph = helper.make_graph(nodes, "test", [helper.make_tensor_value_info("x", TensorProto.FLOAT8E4M3FN,
                                                                            ["N", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])])
    with pytest.raises(UnsupportedModelError, match="input 'x' has element type FLOAT8E4M3FN; inputs must be FLOAT, "
                                                    "FLOAT16, BFLOAT16, DOUBLE, or an integer or bool type"):
        import_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))


def test_messages_name_the_node_and_the_limit():
    """The messages that named neither op nor limit, or only a type
    number."""
    # A 4-D pooling: the op, the node and what it takes.
    pool = make_model([helper.make_node("MaxPool", ["x"], ["y"], name="pool4d", kernel_shape=[2, 2, 2, 2])],
                      {"x": ["N", 3, 4, 4, 4, 4]}, ["y"])
    with pytest.raises(UnsupportedModelError,
                       match=r"MaxPool node 'pool4d': a 6-D input \(1-, 2- and 3-D pooling"):
        import_model(pool, BATCH)
    # An input whose element type the model does not declare.
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="relu")], "test",
                              [helper.make_tensor_value_info("x", TensorProto.UNDEFINED, ["N", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])])
    undeclared = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(UnsupportedModelError, match="input 'x' has no element type"):
        import_model(undeclared)
    # A FLOAT8 zero point (NumPy reads it as float32): the ONNX type named.
    zero = helper.make_tensor("z", TensorProto.FLOAT8E4M3FN, [], [0.0])
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], name="q8"),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], name="dq8")]
    graph = helper.make_graph(nodes, "test", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
                              [numpy_helper.from_array(np.array(0.5, np.float32), "s"), zero])
    float8 = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    with pytest.raises(UnsupportedModelError,
                       match=r"QuantizeLinear node 'q8': a zero point of NumPy type float32 \(ONNX "
                             r"FLOAT8E4M3FN\); the quantized types supported are INT8"):
        import_model(float8)


# --- the command line -----------------------------------------------------------
def test_cli_output_parses(tmp_path):
    """Weights above 16 elements are dense_resource blobs."""
    nodes = [conv_node("conv", "x", "c", "w", "b", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("Flatten", ["r"], ["f"], name="flatten"),
             helper.make_node("Gemm", ["f", "wf"], ["y"], name="fc", transB=1)]
    inits = [weights("w", (8, C, 3, 3), 1), weights("b", 8, 2), weights("wf", (3, 8 * H * W), 3)]
    path = tmp_path / "model.onnx"
    onnx.save(make_model(nodes, IMAGE, ["y"], inits), path)
    result = run_cli(path, "-o", tmp_path / "model.mlir", "--batch", 3)
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "model.mlir").read_text()
    assert "dense_resource<" in text and "tensor<3x4x6x5xf32>" in text
    parsed = subprocess.run([find_tool("quant-opt"), str(tmp_path / "model.mlir"), "-o", "/dev/null"],
                            capture_output=True, text=True)
    assert parsed.returncode == 0, parsed.stderr


def test_training_modes_refused_not_imported_as_inference():
    """BatchNormalization with training_mode=1 normalizes with the batch's
    statistics and Dropout with training_mode=true drops at random: neither
    is the inference op, so both are refused by name (they were imported as
    the inference ops, silently wrong)."""
    c = 4
    params = [const("scale", np.ones(c)), const("bias", np.zeros(c)), const("mean", np.zeros(c)),
              const("var", np.ones(c))]
    bn = helper.make_node("BatchNormalization", ["x", "scale", "bias", "mean", "var"],
                          ["y", "running_mean", "running_var"], name="bn", training_mode=1)
    model = make_model([bn], {"x": ["N", c, 5, 5]}, ["y"], params, opset=15)
    with pytest.raises(UnsupportedModelError, match="BatchNormalization node 'bn': training_mode=1"):
        import_model(model)
    # After a Conv, where inference BN is folded into the weights.
    conv = conv_node("conv", "x", "h", "w")
    bn = helper.make_node("BatchNormalization", ["h", "scale", "bias", "mean", "var"],
                          ["y", "running_mean", "running_var"], name="bn", training_mode=1)
    model = make_model([conv, bn], IMAGE, ["y"], [weights("w", (4, 2, 3, 3), 1)] + params, opset=15)
    with pytest.raises(UnsupportedModelError, match="BatchNormalization node 'bn': training_mode=1"):
        import_model(model)

    dropout = helper.make_node("Dropout", ["x", "ratio", "training"], ["y"], name="drop")
    model = make_model([dropout], {"x": ["N", 4]}, ["y"],
                       [const("ratio", np.array(0.5)), numpy_helper.from_array(np.array(True), "training")])
    with pytest.raises(UnsupportedModelError, match="Dropout node 'drop': training_mode=true"):
        import_model(model)
    # training_mode false is inference: the identity.
    dropout = helper.make_node("Dropout", ["x", "ratio", "training"], ["y"], name="drop")
    model = make_model([dropout], {"x": ["N", 4]}, ["y"],
                       [const("ratio", np.array(0.5)), numpy_helper.from_array(np.array(False), "training")])
    assert "func.func @main" in import_model(model)


def test_shape_output_is_int64():
    """Shape's output is int64 in ONNX (it was returned as float32)."""
    model = make_model([helper.make_node("Shape", ["x"], ["s"], name="shape"),
                        helper.make_node("Relu", ["x"], ["y"], name="relu")],
                       IMAGE, ["y"])
    graph = model.graph
    graph.output.append(helper.make_tensor_value_info("s", TensorProto.INT64, [4]))
    text = import_model(model, batch=2)
    assert f"-> (tensor<2x{C}x{H}x{W}xf32>, tensor<4xi64>)" in text, text
    assert f"arith.constant dense<[2, {C}, {H}, {W}]> : tensor<4xi64>" in text


def test_reduce_over_all_axes_with_keepdims():
    """ReduceMean over every axis with keepdims=1 (a scalar reshaped to all
    ones: it recursed without end); and a reshape of a zero-size tensor is
    refused by name instead."""
    model = make_model([helper.make_node("ReduceMean", ["x"], ["y"], name="mean", keepdims=1)],
                       {"x": ["N", 3, 4]}, ["y"])
    text, _ = check(model)
    assert "tensor.expand_shape" in text and "[] output_shape [1, 1, 1]" in text
    importer_input = make_model([helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape",
                                                  allowzero=1)],
                                {"x": ["N", 0, 4]}, ["y"], [const("shape", [4, 0, 1], np.int64)])
    with pytest.raises(UnsupportedModelError, match="a reshape of a zero-size tensor"):
        import_model(importer_input)


def test_slice_past_the_end_refused_by_name():
    """A start beyond the dimension (ONNX clamps it: an empty result) is
    refused with the node named, not imported as IR that fails to lower."""
    model = make_model([helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["y"], name="cut")],
                       {"x": ["N", 20, 5]}, ["y"],
                       [const("starts", [1000], np.int64), const("ends", [1001], np.int64),
                        const("axes", [1], np.int64)])
    with pytest.raises(UnsupportedModelError,
                       match=r"Slice node 'cut': the result \(2, 0, 5\) has no elements"):
        import_model(model, BATCH)


@pytest.mark.parametrize("base,exponent", [
    (TensorProto.FLOAT, TensorProto.FLOAT), (TensorProto.FLOAT, TensorProto.INT32),
    (TensorProto.FLOAT, TensorProto.INT64), (TensorProto.INT32, TensorProto.FLOAT),
    (TensorProto.INT64, TensorProto.FLOAT), (TensorProto.INT32, TensorProto.INT32),
    (TensorProto.INT64, TensorProto.INT64), (TensorProto.INT32, TensorProto.INT64)])
def test_pow_of_activations(base, exponent):
    """Pow of an activation base and an activation exponent (broadcast), the
    result of the base's type: negative bases to integral powers, negative
    integer exponents (toward zero): as onnxruntime computes them (results
    within the base's range); integer powers out of range wrap around as
    onnx's reference computes them (onnxruntime converts from double)."""
    rng = np.random.default_rng(9)
    bt, et = helper.tensor_dtype_to_np_dtype(base), helper.tensor_dtype_to_np_dtype(exponent)
    nodes = [helper.make_node("Pow", ["x", "y"], ["z"], name="pow")]
    model = typed_model(nodes, {"x": (base, [4, 6]), "y": (exponent, [6])}, {"z": (base, None)})
    if bt == np.float32:
        x = rng.normal(0, 2, (4, 6)).astype(bt)
        y = np.array([2, 3, -1, 0, 5, -2], et) if et != np.float32 else rng.normal(0, 1.5, 6).astype(et)
        if et == np.float32:
            x = np.abs(x)
            x[0, :2], y[:2] = -2.0, [3.0, -2.0]
        check(model, {"x": x, "y": y}, atol=1e-5)
        return
    if et == np.float32:
        x = rng.integers(0, 40, (4, 6)).astype(bt)
        x[0, :3] = [-2, -3, -5]
        y = np.array([3, 2, 3, 0.5, 1.5, 2.5], et)
    else:
        x = rng.integers(-9, 10, (4, 6)).astype(bt)
        x[x == 0] = 1
        x[0, :3] = [1, -1, -1]
        y = np.array([-3, -3, -2, 9, 1, 0], et)
        if bt == np.int64:
            x[3, 3] = 7
    check_exact(model, {"x": x, "y": y})
    if et != np.float32:
        x[1:] = rng.integers(-99, 100, (3, 6)).astype(bt)
        y = np.array([3, 63, 40, 77, 31, 1000], et)
        check_exact(model, {"x": x, "y": y}, "onnx")


@pytest.mark.parametrize("shape,attrs", [
    ((2, 3, 7, 6), dict(kernel_shape=[3, 2], strides=[2, 1], pads=[1, 0, 1, 1])),
    ((2, 3, 7, 6), dict(kernel_shape=[3, 2], strides=[2, 2], pads=[1, 1, 0, 0], storage_order=1)),
    ((2, 3, 8, 8), dict(kernel_shape=[2, 2], dilations=[2, 2])),
    ((2, 3, 9), dict(kernel_shape=[3], strides=[2], pads=[1, 1])),
    ((2, 2, 5, 4, 6), dict(kernel_shape=[2, 2, 3], strides=[1, 2, 2], storage_order=1)),
], ids=["pads", "column-major", "dilations", "1d", "3d-column-major"])
def test_max_pool_indices(shape, attrs):
    """MaxPool's Indices output (flat indices into the input, batch and
    channel included, row- or column-major; ties, from small integers, at
    the first in the window): as onnxruntime computes it."""
    nodes = [helper.make_node("MaxPool", ["x"], ["y", "i"], name="pool", **attrs)]
    model = typed_model(nodes, {"x": (TensorProto.FLOAT, list(shape))},
                        {"y": (TensorProto.FLOAT, None), "i": (TensorProto.INT64, None)})
    x = np.random.default_rng(10).integers(-3, 4, shape).astype(np.float32)
    check_exact(model, {"x": x})


def test_double_activations():
    """DOUBLE inputs and outputs, computed in f64: Add, Mul, Div, Max, Min
    (NaN propagating) of activations and a constant, Casts from DOUBLE to
    FLOAT, FLOAT16 (one rounding: values where rounding through f32 first
    would differ), INT32, BOOL, and to DOUBLE from FLOAT and INT64: as
    onnx's reference computes them (NumPy's casts), bit for bit, and as
    onnxruntime but for the FLOAT16 it rounds through f32."""
    k = np.array([1.0 + 2.0 ** -40, -3.0, 0.1], np.float64)
    nodes = [helper.make_node("Add", ["a", "b"], ["s"], name="add"),
             helper.make_node("Mul", ["s", "k"], ["m"], name="mul"),
             helper.make_node("Div", ["m", "b"], ["q"], name="div"),
             helper.make_node("Max", ["q", "a", "b"], ["hi"], name="max"),
             helper.make_node("Min", ["q", "b"], ["lo"], name="min"),
             helper.make_node("Cast", ["a"], ["f"], name="to_f32", to=TensorProto.FLOAT),
             helper.make_node("Cast", ["a"], ["h"], name="to_f16", to=TensorProto.FLOAT16),
             helper.make_node("Cast", ["c"], ["i"], name="to_i32", to=TensorProto.INT32),
             helper.make_node("Cast", ["b"], ["z"], name="to_bool", to=TensorProto.BOOL),
             helper.make_node("Cast", ["x"], ["xd"], name="from_f32", to=TensorProto.DOUBLE),
             helper.make_node("Cast", ["n"], ["nd"], name="from_i64", to=TensorProto.DOUBLE),
             helper.make_node("Add", ["xd", "nd"], ["sum"], name="add_cast")]
    model = typed_model(nodes, {"a": (TensorProto.DOUBLE, [4, 3]), "b": (TensorProto.DOUBLE, [3]),
                                "c": (TensorProto.DOUBLE, [5]), "x": (TensorProto.FLOAT, [4, 3]),
                                "n": (TensorProto.INT64, [4, 3])},
                        {o: (t, None) for o, t in [("hi", TensorProto.DOUBLE), ("lo", TensorProto.DOUBLE),
                                                   ("f", TensorProto.FLOAT), ("h", TensorProto.FLOAT16),
                                                   ("i", TensorProto.INT32), ("z", TensorProto.BOOL),
                                                   ("sum", TensorProto.DOUBLE)]},
                        [numpy_helper.from_array(k, "k")])
    rng = np.random.default_rng(12)
    a = rng.normal(0, 100, (4, 3))
    # Just above an f16 tie: f64 -> f16 rounds up, f64 -> f32 -> f16 would
    # round to the tie first, then to even (down).
    a[0, 0] = 1.0 + 2.0 ** -11 + 2.0 ** -40
    a[0, 1] = np.nan
    b = np.array([0.5, -2.0, 0.0])
    assert np.float16(a[0, 0]) != np.float16(np.float32(a[0, 0]))
    check_exact(model, {"a": a, "b": b, "c": np.array([-1e9, -2.5, -0.7, 0.99, 3e5]),
                        "x": rng.normal(0, 1, (4, 3)).astype(np.float32),
                        "n": rng.integers(-2 ** 60, 2 ** 60, (4, 3))}, "onnx")
    del model.graph.output[3]
    check_exact(model, {"a": a, "b": b, "c": np.array([-1e9, -2.5, -0.7, 0.99, 3e5]),
                        "x": rng.normal(0, 1, (4, 3)).astype(np.float32),
                        "n": rng.integers(-2 ** 60, 2 ** 60, (4, 3))})


def test_bfloat16_casts():
    """FLOAT to BFLOAT16 and back: rounded to nearest, ties to even (ties
    both ways, denormals, a NaN, the overflow to infinity), as onnxruntime
    casts (onnx's reference truncates instead)."""
    nodes = [helper.make_node("Cast", ["x"], ["b"], name="to_bf16", to=TensorProto.BFLOAT16),
             helper.make_node("Cast", ["b"], ["y"], name="to_f32", to=TensorProto.FLOAT)]
    model = typed_model(nodes, {"x": (TensorProto.FLOAT, [14])}, {"y": (TensorProto.FLOAT, None)})
    x = np.array([1 + 2 ** -8, 1 + 3 * 2 ** -8, -(1 + 2 ** -8 + 2 ** -20), 1 + 2 ** -8 - 2 ** -20, 1e-40, -3e-39,
                  np.nan, 3.4e38, -3.39e38, 0.0, -0.0, np.inf, 0.1, 65504.0], np.float32)
    check_exact(model, {"x": x})


def test_4bit_casts():
    """Casts to INT4 / UINT4 (saturated, floats rounded half to even) and
    back, of floats and integers, and of a 4-bit input (one value per
    byte): as onnx's reference computes them."""
    nodes = [helper.make_node("Cast", ["x"], ["x4"], name="f_to_i4", to=TensorProto.INT4),
             helper.make_node("Cast", ["x4"], ["y"], name="i4_to_f", to=TensorProto.FLOAT),
             helper.make_node("Cast", ["x"], ["u4"], name="f_to_u4", to=TensorProto.UINT4),
             helper.make_node("Cast", ["u4"], ["z"], name="u4_to_i32", to=TensorProto.INT32),
             helper.make_node("Cast", ["n"], ["n4"], name="i32_to_i4", to=TensorProto.INT4),
             helper.make_node("Cast", ["n4"], ["m"], name="i4_to_i64", to=TensorProto.INT64),
             helper.make_node("Cast", ["n"], ["k4"], name="i32_to_u4", to=TensorProto.UINT4),
             helper.make_node("Cast", ["k4"], ["k"], name="u4_to_f16", to=TensorProto.FLOAT16),
             helper.make_node("Cast", ["q"], ["q8"], name="in_i4_to_i8", to=TensorProto.INT8)]
    model = typed_model(nodes, {"x": (TensorProto.FLOAT, [12]), "n": (TensorProto.INT32, [8]),
                                "q": (TensorProto.INT4, [4])},
                        {o: (t, None) for o, t in [("y", TensorProto.FLOAT), ("z", TensorProto.INT32),
                                                   ("m", TensorProto.INT64), ("k", TensorProto.FLOAT16),
                                                   ("q8", TensorProto.INT8)]})
    x = np.array([-9.5, -8.5, -7.5, -2.5, -0.5, 0.5, 1.5, 2.5, 6.5, 7.5, 14.5, 15.5], np.float32)
    n = np.array([-100, -9, -8, -1, 0, 7, 8, 1000], np.int32)
    q = np.array([-8, -1, 0, 7], np.int8)
    from onnx.reference import ReferenceEvaluator
    expected = ReferenceEvaluator(model).run(None, {"x": x, "n": n, "q": q})
    results = run_module(import_model(model), [x, n, q])
    for out, got, want in zip(model.graph.output, results, expected):
        got = got.view(want.dtype) if got.dtype.kind in "iu" and want.dtype.kind in "iu" else got
        assert got.dtype == want.dtype and np.array_equal(got, want), (out.name, got, want)


def test_dropout_mask_at_inference():
    """Dropout at inference: the identity, and a mask of all true: as
    onnxruntime computes them."""
    nodes = [helper.make_node("Dropout", ["x", "ratio"], ["y", "mask"], name="dropout"),
             helper.make_node("Relu", ["y"], ["r"], name="relu")]
    model = typed_model(nodes, {"x": (TensorProto.FLOAT, [2, 3, 4])},
                        {"r": (TensorProto.FLOAT, None), "mask": (TensorProto.BOOL, None)},
                        [numpy_helper.from_array(np.array(0.3, np.float32), "ratio")])
    check_exact(model, {"x": np.random.default_rng(13).normal(0, 1, (2, 3, 4)).astype(np.float32)})


def test_double_outputs_in_their_declared_type():
    """A constant DOUBLE output keeps every bit (f64); an output computed in
    another type than declared is refused by name."""
    value = np.array([0.1, 1 / 3, 2.0 ** -1074], np.float64)
    nodes = [helper.make_node("Constant", [], ["c"], name="c", value=numpy_helper.from_array(value)),
             helper.make_node("Relu", ["x"], ["y"], name="relu")]
    model = typed_model(nodes, {"x": (TensorProto.FLOAT, [3])},
                        {"c": (TensorProto.DOUBLE, [3]), "y": (TensorProto.FLOAT, [3])})
    got = run_module(import_model(model), [np.zeros(3, np.float32)])[0]
    assert got.dtype == np.float64 and np.array_equal(got, value)
    nodes = [helper.make_node("Cast", ["x"], ["y"], name="to_double", to=TensorProto.DOUBLE)]
    graph = helper.make_graph(nodes, "test", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])])
    with pytest.raises(UnsupportedModelError, match="graph output 'y' is declared FLOAT; it is computed as DOUBLE"):
        import_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))


def test_gather_at_constant_indices_out_of_range_refused():
    nodes = [helper.make_node("Gather", ["x", "indices"], ["y"], name="gather", axis=2)]
    model = make_model(nodes, IMAGE, ["y"], [const("indices", [[0, H]], np.int64)])
    with pytest.raises(UnsupportedModelError, match=f"Gather node 'gather': constant indices out of range for "
                                                    f"axis 2 of size {H}"):
        import_model(model, BATCH)


def test_scalar_constants_with_activations():
    """Scalar constants (a 0-d tensor) beside activations: 2 ** x, x == 0.5,
    a DOUBLE y + 0.25: as onnxruntime computes them."""
    nodes = [helper.make_node("Pow", ["two", "x"], ["p"], name="pow"),
             helper.make_node("Equal", ["x", "half"], ["e"], name="eq"),
             helper.make_node("Add", ["y", "quarter"], ["s"], name="add")]
    model = typed_model(nodes, {"x": (TensorProto.FLOAT, [2, 3]), "y": (TensorProto.DOUBLE, [3])},
                        {"p": (TensorProto.FLOAT, None), "e": (TensorProto.BOOL, None),
                         "s": (TensorProto.DOUBLE, None)},
                        [numpy_helper.from_array(np.array(2.0, np.float32), "two"),
                         numpy_helper.from_array(np.array(0.5, np.float32), "half"),
                         numpy_helper.from_array(np.array(0.25), "quarter")])
    x = np.array([[0.5, -1.0, 3.0], [0.5, 10.0, -0.25]], np.float32)
    feeds = {"x": x, "y": np.array([1.0, -2.5, 1e300])}
    results = run_module(import_model(model), list(feeds.values()))
    for got, want in zip(results, reference(model, feeds)):
        assert got.shape == want.shape and np.allclose(got.view(want.dtype) if want.dtype == bool else got, want,
                                                       rtol=1e-6)
