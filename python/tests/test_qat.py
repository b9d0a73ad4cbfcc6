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
