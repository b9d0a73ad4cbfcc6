"""quant-qat (python/quant_opt/qat.py): its fake quantization against the
NumPy reference of docs/Semantics.md, the QDQ export against onnxruntime and
against quant-opt's integer program, a short fine-tune, and its errors.
Needs PyTorch (Debian's python3-torch, scripts/install-torchvision.sh)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

torch = pytest.importorskip("torch")

from quant_opt import datasets, qat, reference  # noqa: E402
from quant_opt.evaluate import Config, Evaluation  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DIGITS = ROOT / "models" / "digits-cnn" / "model.onnx"
MOBILENET = ROOT / "models" / "fashion-mobilenet" / "model.onnx"


@pytest.mark.parametrize("storage,zero_point", [((0, 255), 128), ((0, 255), 0), ((-7, 7), 0)])
def test_fake_quantize_is_quantize_then_dequantize(storage, zero_point):
    """Bit for bit the reference's quantize followed by dequantize (f32, half
    to even, saturating), on values that include exact ties and far
    outliers."""
    rng = np.random.default_rng(0)
    scale = np.float32(0.0371)
    x = np.concatenate([rng.normal(0, 3, 5000), (np.arange(-300, 300) + 0.5) * scale,
                        [1e6, -1e6, 0.0]]).astype(np.float32)
    qmin, qmax = storage
    qtype = reference.QuantType(storage_bits=8 if qmax > 7 else 4, signed=qmin < 0, expressed="f32",
                                scales=float(scale), zero_points=zero_point, qmin=qmin, qmax=qmax)
    expected = reference.dequantize(reference.quantize(x, qtype), qtype)
    got = qat.fake_quantize(torch.from_numpy(x), torch.tensor(scale), float(zero_point), qmin, qmax).numpy()
    assert np.array_equal(got.view(np.uint32), expected.astype(np.float32).view(np.uint32))


def test_straight_through_gradients():
    """The rounding passes its gradient through inside the range; clamped
    values get none; the scale gets one (LSQ)."""
    x = torch.tensor([0.26, -5.0, 9.0], requires_grad=True)
    scale = torch.tensor(1.0, requires_grad=True)
    qat.fake_quantize(x, scale, 0.0, -7, 7).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 0.0]
    assert scale.grad is not None and scale.grad.item() != 0.0


def test_plan_names_weights_and_activations():
    layers, points = qat.plan(onnx.load(str(MOBILENET)))
    assert len(layers) == 8 and all(layer.axis == 0 for layer in layers)
    # Inputs, each Clip (ReLU6) after a conv, the residual Add, the pool and
    # the logits; no raw conv output that only a Clip reads.
    assert points[0] == "input" and points[-1] == "logits"
    assert sum("Clip" in p for p in points) == 7 and sum("Add" in p for p in points) == 1
    assert not any(p.endswith("Conv_output_0") for p in points)


@pytest.fixture(scope="module")
def digits_qdq(tmp_path_factory):
    """digits-cnn with 4-bit weights, ranges calibrated, no training: the
    torch module and its export."""
    model = onnx.load(str(DIGITS))
    module, _ = qat.fine_tune(model, "digits", 4, 0, verbose=False)
    path = tmp_path_factory.mktemp("qat") / "model-qat.onnx"
    onnx.save(qat.export_qdq(model, module, 4), str(path))
    return module, path


def test_export_stores_4_bit_integers(digits_qdq):
    module, path = digits_qdq
    model = onnx.load(str(path))
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 21
    weights = [i for i in model.graph.initializer if i.name.endswith("_quantized")]
    assert len(weights) == 3 and all(w.data_type == onnx.TensorProto.INT4 for w in weights)
    for w in weights:
        name = w.name[:-len("_quantized")]
        q = numpy_helper.to_array(w)
        scale = module.weight_scales[module.keys[name]].detach().numpy()
        original = module.values[module.keys[name]].detach().numpy()
        shape = (-1,) + (1,) * (original.ndim - 1)
        assert np.array_equal(q, np.clip(np.rint(original / scale.reshape(shape)), -7, 7))


def test_export_runs_like_the_fake_quantized_module(digits_qdq):
    """onnxruntime on the exported QDQ model computes what the module
    computed in training (one activation step apart at most where the two
    order a rounding differently)."""
    import onnxruntime
    module, path = digits_qdq
    x, _ = datasets.load("digits", "test")
    with torch.no_grad():
        ours = module(torch.from_numpy(x))[0].numpy()
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    theirs = session.run(None, {"input": x})[0]
    logit_step = float(module.act_scale("logits").detach())
    assert np.abs(ours - theirs).max() <= logit_step * 1.01
    assert np.mean(ours.argmax(1) == theirs.argmax(1)) >= 0.99


def test_quant_eval_fuses_the_export_into_integers(digits_qdq, tmp_path):
    """quant-eval takes the export as a QDQ model: every contraction is
    integer code, and its top-1 is the QDQ program's within a sample."""
    _, path = digits_qdq
    evaluation = Evaluation(Config(model=path, data="digits", verbose=False, layer_samples=0), tmp_path)
    evaluation.prepare()
    report = evaluation.run_qdq()
    assert report["mode"] == "qdq"
    assert report["output"]["sqnr_db"] > 30
    assert abs(report["quantized_top1"] - report["float_top1"]) <= 1 / 500 + 1e-9
    fused = (tmp_path / "quantized.mlir").read_text()
    # Three contractions, each an integer kernel with its rescale, reading
    # 4-bit integer weights.
    assert fused.count("qnn.rescale") == 3
    assert len(set(re.findall(r"arith.constant dense<.*> : (tensor<[0-9x]+xi4>)", fused))) == 3


def test_fine_tuning_lowers_the_loss(tmp_path):
    """A short fine-tune on digits (8x8, seconds) through the command line:
    the files, a finite and falling loss."""
    out = tmp_path / "qat"
    result = subprocess.run([sys.executable, "-m", "quant_opt.qat", str(DIGITS), "--data", "digits",
                             "--weight-bits", "4", "--epochs", "3", "--lr", "1e-3", "-o", str(out), "-q"],
                            capture_output=True, text=True, env={"PYTHONPATH": str(ROOT / "python")})
    assert result.returncode == 0, result.stderr
    log = json.loads((out / "qat.json").read_text())["log"]
    assert len(log) == 3 and all(np.isfinite(e["loss"]) for e in log)
    assert log[-1]["loss"] < log[0]["loss"]
    onnx.checker.check_model(onnx.load(str(out / "model-qat.onnx")), full_check=True)


def _run(*args):
    return subprocess.run([sys.executable, "-m", "quant_opt.qat", *args], capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT / "python")})


def test_errors_name_the_problem(tmp_path):
    result = _run(str(DIGITS), "--data", "digits", "--weight-bits", "9", "-o", str(tmp_path))
    assert result.returncode == 1 and "--weight-bits must be between 2 and 8, got 9" in result.stderr
    result = _run(str(tmp_path / "missing.onnx"), "--data", "digits", "-o", str(tmp_path))
    assert result.returncode == 1 and "missing.onnx' does not exist" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    graph = helper.make_graph([helper.make_node("Softmax", ["x"], ["y"], name="s")], "g",
                              [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 4])])
    with pytest.raises(qat.QatError, match="does not implement: Softmax"):
        qat.plan(helper.make_model(graph))


def _integer_reference(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    """quant-qat's export of a plain CNN (Conv, Gemm, Relu/Clip, MaxPool,
    AveragePool, Flatten between QuantizeLinear / DequantizeLinear pairs)
    computed in integers from docs/Semantics.md with reference.py: each
    contraction with its bias and activation is one fused contraction
    (fusion_check.contraction_reference), max pooling and flattening run on
    the stored values, average pooling is reference.average_pool_nhwc."""
    from quant_opt.fusion_check import Layer, contraction_reference
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}

    def qtype(node):
        scale = inits[node.input[1]].astype(np.float64)
        zero = inits[node.input[2]] if len(node.input) > 2 else np.zeros_like(scale)
        declared = next(i.data_type for i in model.graph.initializer if i.name == node.input[2])
        bits = 4 if declared == onnx.TensorProto.INT4 else 8
        signed = declared in (onnx.TensorProto.INT4, onnx.TensorProto.INT8)
        axis = {a.name: a.i for a in node.attribute}.get("axis", 1) if scale.ndim else None
        return reference.QuantType(storage_bits=bits, signed=signed, expressed="f32", axis=axis,
                                   scales=scale, zero_points=zero.astype(np.int64))

    def compute(op, yt):
        """A contraction (with its activation) or an average pool whose
        output type is now known."""
        if op[0] == "contraction":
            _, layer, xq, xt, wq, wt, bounds = op
            return contraction_reference(layer, xq, xt, wq, wt, yt, bounds)
        _, xq, xt, k, s = op
        return reference.average_pool_nhwc(xq.transpose(0, 2, 3, 1), xt, tuple(k), tuple(s),
                                           divisor=float(k[0] * k[1]), factor=None,
                                           out_type=yt).transpose(0, 3, 1, 2)

    stored, weights, pending = {}, {}, {}
    floats = {model.graph.input[0].name: x}
    for node in model.graph.node:
        op, ins, out = node.op_type, list(node.input), node.output[0]
        a = {attr.name: helper.get_attribute_value(attr) for attr in node.attribute}
        if op == "DequantizeLinear" and ins[0] in inits:
            weights[out] = (inits[ins[0]].astype(np.int64), qtype(node))
        elif op == "DequantizeLinear":
            stored[out] = stored[ins[0]]
        elif op == "QuantizeLinear":
            t = qtype(node)
            if ins[0] in floats:
                stored[out] = (reference.quantize(floats[ins[0]], t).astype(np.int64), t)
            elif ins[0] in stored:  # after a MaxPool: its input's parameters
                q, qt = stored[ins[0]]
                stored[out] = (reference.requantize(q, qt, t).astype(np.int64), t)
            else:
                stored[out] = (compute(pending.pop(ins[0]), t), t)
        elif op in ("Conv", "Gemm"):
            xq, xt = stored[ins[0]]
            wq, wt = weights[ins[1]]
            bias = inits[ins[2]] if len(ins) > 2 else None
            if op == "Conv":
                assert a.get("group", 1) == 1 and a.get("dilations", [1, 1]) == [1, 1]
                p = a.get("pads", [0, 0, 0, 0])
                xq = np.pad(xq, [(0, 0), (0, 0), (p[0], p[2]), (p[1], p[3])],
                            constant_values=int(xt.zero_points))
                layer = Layer("nchw", xq.shape[1:], wq, bias, "none", a.get("strides", [1, 1])[0])
            else:
                assert a.get("transB", 0) == 1
                wt = reference.QuantType(storage_bits=wt.storage_bits, signed=wt.signed, expressed="f32",
                                         axis=1, scales=wt.scales, zero_points=wt.zero_points)
                wq = wq.T
                layer = Layer("matmul", xq.shape[1:], wq, bias, "none", 1)
            pending[out] = ("contraction", layer, xq, xt, wq, wt, None)
        elif op in ("Relu", "Clip"):
            kind, layer, xq, xt, wq, wt, _ = pending.pop(ins[0])
            lo = 0.0 if op == "Relu" else float(inits[ins[1]]) if len(ins) > 1 and ins[1] else None
            hi = None if op == "Relu" else float(inits[ins[2]]) if len(ins) > 2 and ins[2] else None
            pending[out] = (kind, layer, xq, xt, wq, wt, (lo, hi))
        elif op == "MaxPool":
            xq, xt = stored[ins[0]]
            k, s = a["kernel_shape"], a.get("strides", a["kernel_shape"])
            assert a.get("pads", [0, 0, 0, 0]) == [0, 0, 0, 0]
            oh, ow = (xq.shape[2] - k[0]) // s[0] + 1, (xq.shape[3] - k[1]) // s[1] + 1
            windows = [xq[:, :, i:i + s[0] * oh:s[0], j:j + s[1] * ow:s[1]]
                       for i in range(k[0]) for j in range(k[1])]
            stored[out] = (np.max(windows, axis=0), xt)
        elif op == "AveragePool":
            xq, xt = stored[ins[0]]
            k, s = a["kernel_shape"], a.get("strides", a["kernel_shape"])
            assert a.get("pads", [0, 0, 0, 0]) == [0, 0, 0, 0]
            pending[out] = ("average_pool", xq, xt, k, s)
        elif op == "Flatten":
            xq, xt = stored[ins[0]]
            stored[out] = (xq.reshape(xq.shape[0], -1), xt)
        else:
            raise NotImplementedError(op)
    qy, ty = stored[model.graph.output[0].name]
    return reference.dequantize(qy, ty)


@pytest.mark.parametrize("name,data,bits", [("digits-cnn", "digits", 4), ("fashion-cnn", "fashion-mnist", 4),
                                            ("fashion-cnn", "fashion-mnist", 8)])
def test_export_integer_program_is_bit_exact(name, data, bits, tmp_path):
    """quant-opt's integer program for a QAT export (ranges calibrated, no
    training: the integer path is the same after it) equals, bit for bit,
    the same model computed layer by layer from docs/Semantics.md with the
    NumPy reference."""
    model = onnx.load(str(ROOT / "models" / name / "model.onnx"))
    module, _ = qat.fine_tune(model, data, bits, 0, verbose=False, calibration_limit=200)
    exported = qat.export_qdq(model, module, bits)
    path = tmp_path / "model-qat.onnx"
    onnx.save(exported, str(path))
    evaluation = Evaluation(Config(model=path, data=data, verbose=False, layer_samples=0, limit=200), tmp_path)
    evaluation.prepare()
    fused = evaluation.tools.opt(evaluation.float_mlir, ["--canonicalize", "--qnn-fuse-quantized-ops",
                                                         "--canonicalize"], tmp_path / "fused.mlir")
    assert fused.read_text().count("qnn.rescale") >= 3
    x = evaluation.x_eval
    got = evaluation.tools.run(fused, [evaluation.x_padded], evaluation.num_outputs, "integer")[0][:len(x)]
    want = _integer_reference(exported, x)
    assert np.array_equal(got.view(np.uint32), want.astype(np.float32).view(np.uint32)), \
        f"{np.sum(got != want)} of {got.size} outputs differ"
