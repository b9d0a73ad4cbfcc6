"""ONNX's own backend node tests (onnx/backend/test/data/node), as shipped:
each model imported, run on its input_N.pb and compared with its
output_N.pb.

The tests run are those whose every node is an op the importer registers
(`supported_ops`, `constant_only_ops`: adding an op adds its tests, the
`_expanded` decompositions included where all their ops are registered)
plus every test of the quantized ops (QUANTIZED_OPS). Each ends as:

- a pass: every output of the expected shape and type, floats within
  RTOL / ATOL (onnx's backend runner's defaults), integers exact;
- an expected refusal, listed under "refused" in onnx_backend_expected.json
  with (a part of) the importer's UnsupportedModelError message: the import
  must raise exactly that. A listed test that imports fails ("remove it
  from the list"), so the list stays true;
- a known wrong result, listed under "known_wrong" with the error measured:
  reported as xfail while still wrong, a failure once it is right.

"spec" in that file lists tests whose shipped expected outputs contradict
the ONNX specification (onnx issue 6169: the int8 QLinearMatMul reference
wraps around instead of saturating) or, where it says nothing, onnxruntime
(onnx's reference truncates FLOAT to BFLOAT16, onnxruntime rounds to
nearest even); they are compared with outputs computed from the
specification (or as onnxruntime computes them) here instead.

Anything else (a crash, another exception, invalid IR, a wrong result) is
a failure.

The backend tests pass weights, shapes, axes, scales and zero points as
graph inputs with test data, where an exporter writes initializers. A graph
input read only in places its readers need constant (`constant_inputs`
declared by each op's converter: a Conv's W and B, a Reshape's shape, a
reduction's axes, a QuantizeLinear's scale and zero point, ...) is passed
to the import as a constant with its test data (`import_model`'s
`constants`), as the model specialized to it; every other input stays an
argument of the function and is fed at run time (`constant_graph_inputs`).

Runs in process through quant_opt.native where the extension is built,
else with quant-run.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from quant_opt.onnx_import import CONSTANT_ONLY_OPS, SUPPORTED_OPS, UnsupportedModelError, import_model
from quant_opt.onnx_import.registry import constant_inputs, op_domain

NODE_TESTS = Path(onnx.__file__).resolve().parent / "backend" / "test" / "data" / "node"
EXPECTED = Path(__file__).resolve().parent / "onnx_backend_expected.json"
QUANTIZED_OPS = frozenset({"QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul",
                           "MatMulInteger", "ConvInteger", "DynamicQuantizeLinear"})
# onnx.backend.test.runner's defaults.
RTOL, ATOL = 1e-3, 1e-7


def _test_ops(model: onnx.ModelProto) -> list[tuple[str, str]]:
    return [("" if n.domain == "ai.onnx" else n.domain, n.op_type) for n in model.graph.node]


def selected(model: onnx.ModelProto) -> bool:
    """Whether the test of `model` is run: every node (Constants aside) is an
    op the importer registers, or a quantized op."""
    known = SUPPORTED_OPS | CONSTANT_ONLY_OPS | QUANTIZED_OPS
    ops = [(d, o) for d, o in _test_ops(model) if (d, o) != ("", "Constant")]
    return bool(ops) and all(o in known and d == op_domain(o) for d, o in ops)


def discover() -> list[str]:
    if not NODE_TESTS.is_dir():
        return []
    names = []
    for directory in sorted(NODE_TESTS.iterdir()):
        path = directory / "model.onnx"
        if path.is_file() and selected(onnx.load(str(path), load_external_data=False)):
            names.append(directory.name)
    return names


TESTS = discover()


@lru_cache(maxsize=None)
def expected_outcomes() -> dict:
    return json.loads(EXPECTED.read_text())


def read_tensors(directory: Path, prefix: str) -> list[np.ndarray]:
    paths = sorted(directory.glob(f"{prefix}_*.pb"), key=lambda p: int(p.stem.split("_")[-1]))
    tensors = []
    for path in paths:
        tensor = onnx.TensorProto()
        tensor.ParseFromString(path.read_bytes())
        tensors.append(numpy_helper.to_array(tensor))
    return tensors


# onnx reads INT4 / UINT4 tensors as float32 values (onnx 1.16); the
# importer takes and returns them one value per int8 / uint8.
FOUR_BIT = {onnx.TensorProto.INT4: np.int8, onnx.TensorProto.UINT4: np.uint8}


def four_bit_as_bytes(values: list[np.ndarray], infos) -> list[np.ndarray]:
    """`values` of the graph inputs or outputs `infos`, the INT4 / UINT4
    ones as int8 / uint8."""
    return [a.astype(FOUR_BIT[i.type.tensor_type.elem_type]) if i.type.tensor_type.elem_type in FOUR_BIT else a
            for a, i in zip(values, infos)]


def run(text: str, inputs: list[np.ndarray]) -> list[np.ndarray]:
    from quant_opt import native
    if native.available():
        return list(native.compile(text, "main", opt_level=0)(*inputs))
    from quant_opt.execution import run_module
    return run_module(text, inputs)


def qlinear_matmul_spec(a, a_scale, a_zero, b, b_scale, b_zero, y_scale, y_zero) -> np.ndarray:
    """QLinearMatMul as the specification says: the integer product rescaled
    by a_scale * b_scale / y_scale, rounded half to even, plus y_zero_point,
    saturated to y's type."""
    acc = np.matmul(a.astype(np.int64) - a_zero.astype(np.int64), b.astype(np.int64) - b_zero.astype(np.int64))
    scale = a_scale.astype(np.float64) * b_scale.astype(np.float64) / y_scale.astype(np.float64)
    y = np.rint(acc * scale) + y_zero.astype(np.int64)
    info = np.iinfo(y_zero.dtype)
    return np.clip(y, info.min, info.max).astype(y_zero.dtype)


def bfloat16_spec(x, *unused) -> np.ndarray:
    """A Cast of FLOAT to BFLOAT16 rounded to nearest, ties to even (NaN to
    0x7FC0), as onnxruntime casts and onnx.helper.float32_to_bfloat16 does
    by default; its bits as uint16 (as onnx reads BFLOAT16)."""
    return np.array([onnx.helper.float32_to_bfloat16(float(v)) for v in np.asarray(x, np.float32).ravel()],
                    np.uint16).reshape(np.shape(x))


SPEC_REFERENCES = {"QLinearMatMul": qlinear_matmul_spec, "Cast": bfloat16_spec}


def mismatch(name: str, results: list[np.ndarray], expected: list[np.ndarray]) -> str | None:
    """Why `results` are not `expected` (None where they are)."""
    if len(results) != len(expected):
        return f"{len(results)} outputs, expected {len(expected)}"
    for i, (got, want) in enumerate(zip(results, expected)):
        got = np.asarray(got)
        if got.dtype.kind in "iu" and want.dtype.kind in "iu" and got.dtype.itemsize == want.dtype.itemsize:
            # MLIR's integers are signless: read them as the ONNX type.
            got = got.view(want.dtype)
        if got.shape != want.shape:
            return f"output {i}: shape {got.shape}, expected {want.shape}"
        if got.dtype != want.dtype:
            return f"output {i}: type {got.dtype}, expected {want.dtype}"
        if want.dtype.kind == "f":
            if not np.allclose(got, want, rtol=RTOL, atol=ATOL, equal_nan=True):
                with np.errstate(invalid="ignore"):
                    error = np.abs(got.astype(np.float64) - want.astype(np.float64))
                return (f"output {i}: max abs error {np.nanmax(error) if error.size else 0:.3g} "
                        f"(max abs expected {np.abs(want).max() if want.size else 0:.3g}; "
                        f"rtol {RTOL}, atol {ATOL})")
        elif not np.array_equal(got, want):
            differing = int(np.count_nonzero(got != want))
            error = int(np.abs(got.astype(np.int64) - want.astype(np.int64)).max())
            return f"output {i}: {differing} of {want.size} values differ, by up to {error}"
    return None


# Ops whose output depends on their input's shape only, not its values.
SHAPE_ONLY = frozenset({"Shape", "Size"})


def constant_graph_inputs(model: onnx.ModelProto) -> set[str]:
    """The graph inputs every reader of which reads in a place its op needs
    constant (`constant_inputs`), or computes only values needed constant
    (shape arithmetic, as a CenterCropPad decomposition computes its pads
    and slice bounds from its `shape` input)."""
    readers: dict[str, list[tuple]] = {}
    for node in model.graph.node:
        needed = constant_inputs(node.op_type) if node.domain in ("", "ai.onnx", op_domain(node.op_type)) \
            else frozenset()
        for k, name in enumerate(node.input):
            if name:
                readers.setdefault(name, []).append((node, k in needed))
    outputs = {o.name for o in model.graph.output}

    @lru_cache(maxsize=None)
    def needs_constant(name: str) -> bool:
        if name in outputs or not readers.get(name):
            return False
        return all(place or (node.op_type not in SHAPE_ONLY and any(node.output)
                             and all(needs_constant(o) for o in node.output if o))
                   for node, place in readers[name])

    initializers = {i.name for i in model.graph.initializer}
    return {i.name for i in model.graph.input if i.name not in initializers and needs_constant(i.name)}


def outcome(name: str) -> tuple[str, str]:
    """How the test `name` ends: ("pass" | "refused" | "known wrong" |
    "fail", why). An exception other than UnsupportedModelError (a crash,
    invalid IR) propagates."""
    outcomes = expected_outcomes()
    refused = outcomes["refused"].get(name)
    known_wrong = outcomes["known_wrong"].get(name)
    directory = NODE_TESTS / name
    model = onnx.load(str(directory / "model.onnx"))
    data = directory / "test_data_set_0"
    frozen = constant_graph_inputs(model)
    names = [i.name for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
    # (Read only where needed before the import: some refused tests'
    # inputs are sequences, which read_tensors does not read.)
    inputs = read_tensors(data, "input") if frozen else None
    constants = {n: a for n, a in zip(names, inputs) if n in frozen} if frozen else {}
    try:
        text = import_model(model, constants=constants)
    except UnsupportedModelError as error:
        if refused is None:
            return "fail", f"refused, and not listed as refused: {error}"
        if refused not in str(error):
            return "fail", f"refused with another message than listed ({refused}): {error}"
        return "refused", str(error)
    if refused is not None:
        return "fail", f"listed as refused ({refused}) but imports: remove it from the list"
    inputs = inputs if inputs is not None else read_tensors(data, "input")
    inputs = four_bit_as_bytes(inputs, [i for i in model.graph.input if i.name in names])
    expected = four_bit_as_bytes(read_tensors(data, "output"), model.graph.output)
    if name in outcomes["spec"]:
        expected = [SPEC_REFERENCES[model.graph.node[0].op_type](*inputs)]
    problem = mismatch(name, run(text, [a for n, a in zip(names, inputs) if n not in frozen]), expected)
    if known_wrong is not None:
        if problem is None:
            return "fail", f"listed as known wrong ({known_wrong}) but right: remove it from the list"
        return "known wrong", problem
    return ("pass", "") if problem is None else ("fail", problem)


@pytest.mark.parametrize("name", TESTS)
def test_backend_node(name):
    kind, why = outcome(name)
    if kind == "known wrong":
        pytest.xfail(f"known wrong: {why}")
    assert kind in ("pass", "refused"), why


# Tests that as shipped are refused for a graph input the op needs constant,
# run once more with every input but the first made an initializer (the
# models as an exporter would write them): what the importer must then do,
# pass (None) or refuse with that message. Regression tests of errors
# hidden behind those refusals (issue 14: RecursionErrors of ReduceMean
# over all axes and of Reshape to a zero-size dim, Slice from out of
# bounds, a finite ReduceMin over an empty set, training modes).
WITH_CONSTANT_INPUTS = {
    "test_reduce_mean_default_axes_keepdims_example": None,
    "test_reduce_mean_default_axes_keepdims_random": None,
    "test_reduce_min_empty_set": None,
    "test_reduce_sum_empty_set": None,
    "test_reshape_zero_dim": None,
    "test_reshape_zero_and_negative_dim": None,
    "test_slice_end_out_of_bounds": None,
    "test_slice_start_out_of_bounds": "has no elements; zero-size tensors are not supported",
    "test_batchnorm_epsilon": None,
    "test_batchnorm_epsilon_training_mode": "training_mode=1",
    "test_training_dropout": "training_mode=true (random dropping) is not inference",
    "test_training_dropout_zero_ratio": "training_mode=true (random dropping) is not inference",
    "test_qlinearmatmul_2D_int8_float32": None,
    "test_qlinearmatmul_3D_int8_float16": None,
    "test_qlinearmatmul_3D_uint8_float32": None,
    "test_layer_normalization_2d_axis0": None,
    "test_gemm_all_attributes": None,
    "test_conv_with_strides_and_asymmetric_padding": None,
}


@pytest.mark.parametrize("name", sorted(WITH_CONSTANT_INPUTS))
def test_backend_node_with_constant_inputs(name):
    directory = NODE_TESTS / name
    if not directory.is_dir():
        pytest.skip("onnx's backend node test data is not installed")
    model = onnx.load(str(directory / "model.onnx"))
    inputs = read_tensors(directory / "test_data_set_0", "input")
    for inp, array in list(zip(model.graph.input, inputs))[1:]:
        model.graph.initializer.append(numpy_helper.from_array(array, inp.name))
    del model.graph.input[1:]
    refusal = WITH_CONSTANT_INPUTS[name]
    if refusal is not None:
        with pytest.raises(UnsupportedModelError, match=re.escape(refusal)):
            import_model(model)
        return
    text = import_model(model)
    expected = read_tensors(directory / "test_data_set_0", "output")
    if name in expected_outcomes()["spec"]:
        expected = [SPEC_REFERENCES[model.graph.node[0].op_type](*inputs)]
    problem = mismatch(name, run(text, inputs[:1]), expected)
    assert problem is None, problem


def test_expected_list_names_selected_tests():
    """Every test the expectations name is one that is run (a renamed or
    deselected test leaves no stale entry)."""
    outcomes = expected_outcomes()
    if not TESTS:
        pytest.skip("onnx's backend node test data is not installed")
    listed = set(outcomes["refused"]) | set(outcomes["known_wrong"]) | set(outcomes["spec"])
    assert set(outcomes) == {"_about", "refused", "known_wrong", "spec"}, sorted(outcomes)
    assert not listed - set(TESTS), sorted(listed - set(TESTS))
    assert not set(outcomes["refused"]) & set(outcomes["known_wrong"])


@pytest.mark.parametrize("name", [f"test_qlinearmatmul_{rank}_{kind}_{scale}" for rank in ("2D", "3D")
                                  for kind in ("int8", "uint8") for scale in ("float16", "float32")])
def test_qlinear_matmul_spec_reference(name):
    """The specification's QLinearMatMul gives the shipped outputs, but
    where the int8 ones wrap around (onnx issue 6169): there it saturates."""
    directory = NODE_TESTS / name / "test_data_set_0"
    if not directory.is_dir():
        pytest.skip("onnx's backend node test data is not installed")
    inputs = read_tensors(directory, "input")
    shipped, = read_tensors(directory, "output")
    spec = qlinear_matmul_spec(*inputs)
    listed = name in expected_outcomes()["spec"]
    assert listed == (shipped.dtype == np.int8)
    differ = spec != shipped
    assert differ.any() == listed
    info = np.iinfo(spec.dtype)
    # Where they differ, the specification saturated and onnx's reference
    # kept the low 8 bits of the same value.
    assert np.isin(spec[differ], [info.min, info.max]).all()


@pytest.mark.parametrize("name", ["test_cast_FLOAT_to_BFLOAT16", "test_castlike_FLOAT_to_BFLOAT16_expanded"])
def test_bfloat16_spec_reference(name):
    """The shipped BFLOAT16 outputs of a Cast from FLOAT truncate (onnx's
    reference evaluator casts with truncate=True) where onnxruntime rounds
    to nearest even: listed under "spec" and compared with the rounded
    values, which differ from the shipped ones exactly where the dropped
    bits are more than half."""
    directory = NODE_TESTS / name / "test_data_set_0"
    if not directory.is_dir():
        pytest.skip("onnx's backend node test data is not installed")
    x = read_tensors(directory, "input")[0]
    shipped, = read_tensors(directory, "output")
    assert name in expected_outcomes()["spec"]
    bits = x.view(np.uint32)
    assert np.array_equal(shipped, (bits >> 16).astype(np.uint16))
    rounded = bfloat16_spec(x)
    assert np.array_equal(rounded != shipped, (bits & 0xFFFF) > 0x8000) and (rounded != shipped).any()


def op_of(name: str) -> str:
    """The op a test is grouped under in the table: its node's op type, or
    "decompositions" for a graph of several ops (the _expanded tests)."""
    model = onnx.load(str(NODE_TESTS / name / "model.onnx"), load_external_data=False)
    ops = {o for d, o in _test_ops(model) if (d, o) != ("", "Constant")}
    return ops.pop() if len(ops) == 1 else "(decompositions)"


def coverage_table() -> str:
    """The markdown table of outcomes per op (what docs/Harness.md shows)."""
    import collections
    kinds = ("pass", "refused", "known wrong", "fail")
    counts: dict = collections.defaultdict(collections.Counter)
    for name in TESTS:
        try:
            kind, _ = outcome(name)
        except Exception:  # a crash counts as a failure
            kind = "fail"
        counts[op_of(name)][kind] += 1
    total = collections.Counter()
    lines = ["| op | tests | pass | expected refusal | known wrong | fail |", "|---|---|---|---|---|---|"]
    for op in sorted(counts):
        c = counts[op]
        total.update(c)
        lines.append(f"| {op} | {sum(c.values())} | " + " | ".join(str(c[k]) for k in kinds) + " |")
    lines.append(f"| **all** | {sum(total.values())} | " + " | ".join(str(total[k]) for k in kinds) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    # PYTHONPATH=python python python/tests/test_onnx_backend_nodes.py
    print(coverage_table())
