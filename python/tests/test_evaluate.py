"""The accuracy harness end to end on the digits smoke model (seconds):
quant-eval's float accuracy against onnxruntime's on the same data, the
W8A8 drop, the per-layer report naming a layer broken on purpose, the
report files, and the clear errors."""

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest

from quant_opt import datasets
from quant_opt import reference as ref
from quant_opt.evaluate import (Config, EvaluationError, evaluate, macs_per_sample, main, markdown,
                                 model_bytes, opt_level_for)

ROOT = Path(__file__).resolve().parents[2]
DIGITS = ROOT / "models" / "digits-cnn" / "model.onnx"


def onnxruntime_top1(model_path, x, y) -> float:
    session = onnxruntime.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    logits = session.run(None, {session.get_inputs()[0].name: x})[0]
    return float(np.mean(logits.argmax(1) == y))


def test_digits_float_matches_onnxruntime_and_w8a8_keeps_accuracy(tmp_path):
    assert main([str(DIGITS), "--data", "digits", "--layer-samples", "100", "-o", str(tmp_path),
                 "-q"]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert "| top-1 (%) |" in (tmp_path / "report.md").read_text()
    x, y = datasets.load("digits", "test")
    # The float program quant-opt compiles gives what onnxruntime gives.
    assert report["samples"] == len(x) == 500
    assert report["float_top1"] == pytest.approx(onnxruntime_top1(DIGITS, x, y), abs=1e-12)
    assert report["float_top1"] > 0.9
    assert report["top1_drop"] <= 0.01
    assert report["top1_agreement"] >= 0.98
    assert report["output"]["sqnr_db"] > 30
    layers = report["layers"]
    ids = [layer["id"] for layer in layers]
    assert {"/relu1/Relu", "/relu2/Relu", "/fc/Gemm"} <= set(ids)
    by_id = {layer["id"]: layer for layer in layers}
    assert by_id["/relu2/Relu"]["ops"] == "Conv + Relu"
    # Sorted worst first by the layer's own (local) error.
    local = [float(layer["local"]["sqnr_db"]) for layer in layers]  # "inf" in JSON
    assert local == sorted(local)
    # Weights at 8 bits: about a quarter of the float model.
    assert report["quantized_weight_bytes"] < 0.3 * report["float_weight_bytes"]
    # Every fused layer of the lowered program equals the NumPy integer
    # reference on the sample.
    exact = report["bit_exactness"]
    assert exact["layers_checked"] == 3 and exact["not_checked"] == []
    assert exact["elements"] == 100 * (8 * 8 * 8 + 16 * 4 * 4 + 10)
    assert exact["mismatches"] == 0


def test_bit_exactness_check_can_fail(monkeypatch):
    """The same check with one layer's bias moved by about 0.6 of its
    quantization step (s_x * s_w, with s_w around 0.01): some channels round
    to another integer bias, and the check finds mismatches in that layer
    only."""
    import quant_opt.evaluate as evaluate_module

    real = evaluate_module.check_layers

    def with_wrong_bias(details, parameters, *args, **kwargs):
        layer = details["contractions"]["/conv2/Conv"]
        x_scale = float(parameters["activations"][layer["input"]].split(", ")[1].split(":")[0].rstrip(">"))
        layer["bias"] = layer["bias"] + np.float32(0.6 * x_scale * 0.01)
        # The layers are checked on threads: the same report as one by one.
        one_by_one = real(details, parameters, *args, **{**kwargs, "workers": 1})
        on_threads = real(details, parameters, *args, **{**kwargs, "workers": 3})
        assert one_by_one == on_threads
        return on_threads

    monkeypatch.setattr(evaluate_module, "check_layers", with_wrong_bias)
    report = evaluate(Config(model=DIGITS, data="digits", limit=100, layer_samples=100, verbose=False))
    by_layer = {layer["layer"]: layer["mismatches"] for layer in report["bit_exactness"]["layers"]}
    assert by_layer["/conv2/Conv"] > 0
    assert by_layer["/conv1/Conv"] == 0 and by_layer["/fc/Gemm"] == 0


def test_per_layer_report_names_the_broken_layer(tmp_path):
    """One output channel of conv2 scaled up 200x: with per-tensor weights the
    other 15 channels of conv2 lose almost all their levels, and conv2 is
    the layer the report puts first."""
    model = onnx.load(str(DIGITS))
    for init in model.graph.initializer:
        if init.name == "conv2.weight":
            w = onnx.numpy_helper.to_array(init).copy()
            w[0] *= 200.0
            init.CopyFrom(onnx.numpy_helper.from_array(w, init.name))
    broken = tmp_path / "broken.onnx"
    onnx.save(model, str(broken))
    report = evaluate(Config(model=broken, data="digits", options="weight-granularity=per_tensor",
                             layer_samples=100, verbose=False))
    assert report["layers"][0]["id"] == "/relu2/Relu"
    # Per channel, the outlier channel gets its own scale and conv2 improves
    # (SQNR over the whole tensor moves by a few dB only: the outlier channel
    # holds most of the signal's energy).
    fixed = evaluate(Config(model=broken, data="digits", layer_samples=100, verbose=False))
    by_id = {layer["id"]: layer for layer in fixed["layers"]}
    assert by_id["/relu2/Relu"]["local"]["sqnr_db"] > report["layers"][0]["local"]["sqnr_db"] + 3


def test_data_that_does_not_fit_the_model(tmp_path):
    data = tmp_path / "wrong.npz"
    np.savez(data, x=np.zeros((4, 1, 28, 28), np.float32), y=np.zeros(4, np.int64))
    with pytest.raises(EvaluationError, match=r"does not fit the model: its samples are \(1, 28, 28\), "
                                              r"but input 'input' is \?x1x8x8"):
        evaluate(Config(model=DIGITS, data=str(data), calibration_data=str(data), verbose=False))


def test_cli_errors(tmp_path, capsys):
    assert main([str(tmp_path / "missing.onnx"), "--data", "digits", "-q"]) == 1
    assert "cannot read ONNX model" in capsys.readouterr().err
    assert main([str(DIGITS), "--data", "no-such-set", "-q"]) == 1
    assert "no-such-set" in capsys.readouterr().err
    assert main([str(DIGITS), "--data", "digits", "--recipe", str(tmp_path / "r.json"), "-q"]) == 1
    assert "recipe" in capsys.readouterr().err


def test_model_bytes_counts_storage_width_and_parameters():
    text = """
    %0 = qnn.constant dense<1> : tensor<4x2xi4> -> tensor<4x2x!quant.uniform<i4:f32:1, {0.5,0.25}>>
    %1 = qnn.constant dense<1> : tensor<3xui8> -> tensor<3x!quant.uniform<u8:f32:0, {0.5:1,0.25:2,1.0:3}>>
    %cst = arith.constant dense<0.5> : tensor<2xf32>
    %s = arith.constant 2.0 : f32
    """
    # 8 x 4 bits + 2 scales; 3 bytes + 3 scales + 3 zero points; 2 floats.
    assert model_bytes(text) == (8 * 4 + 2 * 32) // 8 + (3 + 3 * 4 + 3) + 8


def test_opt_level_follows_the_run_work():
    """-O0 for runs of little work (the model's multiply-accumulates per
    sample, from the imported module, times the samples), -O3 beyond."""
    from quant_opt.onnx_import import import_model
    text = import_model(onnx.load(str(ROOT / "models" / "fashion-cnn" / "model.onnx")), 100)
    # 28x28x16 x 3x3x1, 14x14x32 x 3x3x16, 7x7x32 x 3x3x32, then the classifier.
    macs = macs_per_sample(text)
    assert macs >= 28 * 28 * 16 * 9 + 14 * 14 * 32 * 144 + 7 * 7 * 32 * 288
    # Its calibration (1000 samples) and per-layer runs (200) at -O0, the
    # 10 000 test images at -O3.
    assert opt_level_for(1000, macs) == 0 and opt_level_for(200, macs) == 0
    assert opt_level_for(10000, macs) == 3
    # A model of 100 times the work: -O3 even for its 1000 calibration samples.
    assert opt_level_for(1000, 100 * macs) == 3
    # Unknown work: by samples.
    assert macs_per_sample("func.func @main(%arg0: tensor<4xf32>) {}") is None
    assert opt_level_for(1999) == 0 and opt_level_for(2000) == 3


def test_recipe_reaches_the_named_layers(tmp_path):
    """Recipes name layers by their ONNX node names, through quant-eval's
    intermediate files: 4-bit per-tensor weights make conv2 the worst layer,
    and a skipped Gemm keeps float weights (so it is not checked as integer
    code)."""
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({"format": "quant-opt-recipe", "version": 1, "layers": [
        {"id": "/conv2/Conv", "weights": {"bits": 4, "granularity": "per_tensor"}},
        {"id": "/fc/Gemm", "skip": True}]}))
    report = evaluate(Config(model=DIGITS, data="digits", recipe=recipe, layer_samples=100, verbose=False))
    assert report["layers"][0]["id"] == "/relu2/Relu"
    exact = report["bit_exactness"]
    assert [u["layer"] for u in exact["not_checked"]] == ["/fc/Gemm"]
    assert exact["layers_checked"] == 2 and exact["mismatches"] == 0


def test_qdq_model_is_evaluated_as_it_is(tmp_path):
    """A model ONNX Runtime's quantizer made (QDQ format, per channel):
    nothing is calibrated; the integer program quant-opt fuses from it is
    compared with its QDQ program simulated in float and with ONNX Runtime
    running the same model. --options do not apply to it.

    Only quant-opt's own numbers are asserted. ONNX Runtime's are measured
    and reported, not asserted: its int8 kernels depend on the CPU (on AVX2
    without VNNI they sum u8 x s8 pairs in i16 with saturation, and its
    SQNR against the exact program falls to ~23 dB; docs/Harness.md)."""
    from quant_opt.ort_quantize import quantize_with_onnxruntime

    calibration, _ = datasets.load("digits", "calibration")
    qdq = tmp_path / "digits-qdq.onnx"
    quantize_with_onnxruntime(DIGITS, calibration, qdq, batch=50, work=tmp_path)
    report = evaluate(Config(model=qdq, data="digits", verbose=False))
    assert report["mode"] == "qdq" and report["calibration_samples"] == 0 and "layers" not in report
    assert report["top1_agreement"] >= 0.98 and report["output"]["sqnr_db"] > 30
    peer = report["onnxruntime"]
    assert 0 <= peer["top1_agreement"] <= 1 and 0 <= peer["top1"] <= 1
    assert isinstance(peer["output"]["sqnr_db"], (float, str))
    with pytest.raises(EvaluationError, match="already quantized"):
        evaluate(Config(model=qdq, data="digits", options="weight-bits=4", verbose=False))


def test_qoperator_model_is_evaluated_like_the_qdq_one(tmp_path):
    """The bundled Fashion-MNIST CNN quantized by ONNX Runtime in its
    QOperator format (QLinearConv, QGemm, QLinearAveragePool, MaxPool on
    uint8) on 300 calibration images: quant-eval takes it as already
    quantized, as the QDQ form of the same quantization, and its integer
    program is as close to its QDQ program simulated in float."""
    from quant_opt.ort_quantize import quantize_with_onnxruntime

    fashion = ROOT / "models" / "fashion-cnn" / "model.onnx"
    calibration, _ = datasets.load("fashion-mnist", "calibration")
    reports = {}
    for form in ("QOperator", "QDQ"):
        path = tmp_path / f"fashion-{form}.onnx"
        quantize_with_onnxruntime(fashion, calibration[:300], path, batch=100, work=tmp_path, quant_format=form)
        ops = {n.op_type for n in onnx.load(path).graph.node}
        assert ("QLinearConv" in ops) == (form == "QOperator"), ops
        reports[form] = evaluate(Config(model=path, data="fashion-mnist", limit=500, verbose=False))
    qop, qdq = reports["QOperator"], reports["QDQ"]
    assert qop["mode"] == "qdq" and qop["calibration_samples"] == 0 and "layers" not in qop
    assert qop["top1_agreement"] >= 0.98 and qop["output"]["sqnr_db"] > 30
    assert abs(qop["quantized_top1"] - qdq["quantized_top1"]) <= 0.02
    assert abs(qop["float_top1"] - qdq["float_top1"]) <= 0.02
    with pytest.raises(EvaluationError, match="already quantized"):
        evaluate(Config(model=tmp_path / "fashion-QOperator.onnx", data="fashion-mnist",
                        options="weight-bits=4", verbose=False))


def test_dynamic_model_is_evaluated_against_onnxruntime(tmp_path):
    """The bundled Fashion-MNIST transformer quantized by ONNX Runtime's
    quantize_dynamic (DynamicQuantizeLinear, MatMulInteger): quant-eval takes
    it as it is; its fused integer program agrees with ONNX Runtime's run of
    the model (each layer bit for bit given the same input; the float ops
    between them round differently in the last place, docs/Harness.md).
    Where ONNX Runtime's u8 x s8 kernels saturate (no VNNI), the report says
    so, and the model gets uint8 weights, which it sums exactly."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from quant_opt.ort_quantize import onnxruntime_int8_is_exact

    exact = onnxruntime_int8_is_exact()
    path = tmp_path / "fashion-transformer-dynamic.onnx"
    quantize_dynamic(str(ROOT / "models" / "fashion-transformer" / "model.onnx"), str(path),
                     weight_type=QuantType.QInt8 if exact else QuantType.QUInt8)
    report = evaluate(Config(model=path, data="fashion-mnist", limit=500, verbose=False))
    assert report["mode"] == "qdq" and report["calibration_samples"] == 0 and "layers" not in report
    peer = report["onnxruntime"]
    assert peer["int8_exact"] is exact
    assert ("int8 kernels saturate on this CPU" in markdown(report)) is not exact
    assert peer["top1_agreement"] >= 0.99 and peer["output"]["sqnr_db"] > 50
    assert abs(peer["top1"] - report["quantized_top1"]) <= 0.01
    assert "DynamicQuantizeLinear" in markdown(report)


def test_normalize_feeds_normalized_images_to_both_programs(tmp_path, capsys):
    """--normalize MEAN,STD: evaluation and calibration images become
    (x - MEAN) / STD before either program sees them (a model trained on
    normalized images can use a named data set). The float top-1 equals
    onnxruntime's on the same normalized images, and differs from the
    un-normalized run; bad values are one-line errors."""
    x, y = datasets.load("digits", "test")
    x, y = x[:200], y[:200]
    mean, std = 0.3, 0.6
    assert main([str(DIGITS), "--data", "digits", "--limit", "200", "--layer-samples", "50",
                 "--normalize", f"{mean},{std}", "-o", str(tmp_path), "-q"]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["normalize"] == [mean, std]
    normalized = (x - np.float32(mean)) / np.float32(std)
    assert report["float_top1"] == pytest.approx(onnxruntime_top1(DIGITS, normalized, y), abs=1e-12)
    assert report["float_top1"] != pytest.approx(onnxruntime_top1(DIGITS, x, y), abs=1e-12)
    assert report["bit_exactness"]["mismatches"] == 0
    capsys.readouterr()
    for bad in ("0.5", "0.5,0", "a,b", "0.5,-1", "nan,1"):
        with pytest.raises(SystemExit):
            main([str(DIGITS), "--data", "digits", "--normalize", bad])
        assert "--normalize" in capsys.readouterr().err


def test_qdq_model_with_a_concat_of_two_scales(tmp_path):
    """ONNX Runtime's QDQ form of a CNN whose branches meet in a Concat: each
    branch is dequantized with its own scale and the Concat quantized with a
    third. quant-eval fuses it (each branch requantized to the Concat's type)
    and its integer program stays close to the QDQ program simulated in
    float. (It used to stop at "quant-opt failed" with nothing said.)"""
    from onnx import TensorProto, helper, numpy_helper
    from quant_opt.ort_quantize import quantize_with_onnxruntime

    rng = np.random.default_rng(5)
    inits = [numpy_helper.from_array(rng.normal(0, 0.5, shape).astype(np.float32), name)
             for name, shape in [("w1", (4, 1, 3, 3)), ("w2", (4, 1, 3, 3)), ("fc", (8, 10))]]
    inits[1] = numpy_helper.from_array(numpy_helper.to_array(inits[1]) * 3, "w2")  # other range
    nodes = [helper.make_node("Conv", ["input", "w1"], ["a"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["a"], ["ra"], name="relu1"),
             helper.make_node("Conv", ["input", "w2"], ["b"], name="conv2", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["b"], ["rb"], name="relu2"),
             helper.make_node("Concat", ["ra", "rb"], ["cat"], name="concat", axis=1),
             helper.make_node("GlobalAveragePool", ["cat"], ["pool"], name="pool"),
             helper.make_node("Flatten", ["pool"], ["flat"], name="flatten"),
             helper.make_node("MatMul", ["flat", "fc"], ["logits"], name="fc")]
    graph = helper.make_graph(
        nodes, "concat-cnn",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    float_path, qdq = tmp_path / "concat.onnx", tmp_path / "concat-qdq.onnx"
    onnx.save(model, str(float_path))
    calibration, _ = datasets.load("digits", "calibration")
    quantize_with_onnxruntime(float_path, calibration, qdq, batch=50, work=tmp_path)
    scales = {init.name: float(numpy_helper.to_array(init)) for init in onnx.load(str(qdq)).graph.initializer
              if init.name.endswith("_scale") and numpy_helper.to_array(init).size == 1}
    # The branches carry different scales; the Concat takes the wider one.
    assert scales["ra_scale"] != scales["rb_scale"], scales
    report = evaluate(Config(model=qdq, data="digits", limit=200, verbose=False))
    assert report["mode"] == "qdq"
    assert report["top1_agreement"] >= 0.98 and report["output"]["sqnr_db"] > 30


TRANSFORMER = ROOT / "models" / "fashion-transformer" / "model.onnx"


@pytest.mark.parametrize("granularity", ["per_row", "per_tensor"])
def test_dynamic_quantization_is_checked_bit_for_bit(tmp_path, monkeypatch, granularity):
    """Dynamic quantization of the transformer's MatMuls / Gemm and attention: every one
    is checked against the NumPy reference of docs/Semantics.md from the
    program's float input (per-row or per-call scales), 0 mismatches; a bias
    moved by one f32 step makes that layer mismatch."""
    import quant_opt.evaluate as evaluate_module

    recipe = tmp_path / "dynamic.json"
    activations = {"dynamic": granularity}
    if granularity == "per_row":
        activations.update(signed=True, symmetric=True)
    recipe.write_text(json.dumps({"format": "quant-opt-recipe", "version": 1, "activations": activations}))
    config = Config(model=TRANSFORMER, data="fashion-mnist", limit=300, layer_samples=60, recipe=recipe,
                    verbose=False)
    report = evaluate(config)
    exactness = report["bit_exactness"]
    assert exactness["layers_checked"] == 18 and exactness["mismatches"] == 0  # 14 weights, 4 attention
    assert abs(report["top1_drop"]) < 0.02
    if granularity != "per_row":
        return

    real = evaluate_module.check_layers

    def with_moved_bias(details, parameters, *args, **kwargs):
        layer = details["contractions"]["/blocks.0/fc1/MatMul"]
        layer["bias"] = np.nextafter(layer["bias"], np.float32(np.inf))
        return real(details, parameters, *args, **kwargs)

    monkeypatch.setattr(evaluate_module, "check_layers", with_moved_bias)
    by_layer = {layer["layer"]: layer["mismatches"] for layer in evaluate(config)["bit_exactness"]["layers"]}
    assert by_layer["/blocks.0/fc1/MatMul"] > 0
    assert sum(by_layer.values()) == by_layer["/blocks.0/fc1/MatMul"]

def test_static_attention_is_checked_bit_for_bit(monkeypatch):
    """Static quantization of the transformer: attention's four matmuls of two
    activations are integer contractions (docs/Semantics.md, "Two
    activations"), checked with the 14 weight contractions and 4 residual
    Adds from the program's stored inputs, 0 mismatches; the same check
    told one input's zero point is one more finds mismatches in that layer
    only."""
    import quant_opt.bitexact as bitexact

    config = Config(model=TRANSFORMER, data="fashion-mnist", limit=100, layer_samples=30, verbose=False)
    exactness = evaluate(config)["bit_exactness"]
    checked = [layer["layer"] for layer in exactness["layers"]]
    attention = [f"/blocks.{b}/attn/{m}" for b in (0, 1) for m in ("MatMul", "MatMul_1")]
    assert exactness["layers_checked"] == 22 and exactness["mismatches"] == 0, exactness
    assert set(attention) <= set(checked) and not exactness["not_checked"], exactness

    real = bitexact.check_static_activation_matmul

    def with_shifted_zero_point(name, out_id, a, a_type, *args):
        if name == attention[0]:
            a_type = ref.parse_quant_type(ref.format_quant_type(a_type).replace(
                f":{int(a_type.zero_points)}>", f":{int(a_type.zero_points) + 1}>"))
        return real(name, out_id, a, a_type, *args)

    monkeypatch.setattr(bitexact, "check_static_activation_matmul", with_shifted_zero_point)
    by_layer = {layer["layer"]: layer["mismatches"] for layer in evaluate(config)["bit_exactness"]["layers"]}
    assert by_layer[attention[0]] > 0
    assert sum(by_layer.values()) == by_layer[attention[0]]


def dilated_pool_model(path):
    """Conv + Relu, a 2x2 AveragePool dilated by 2 (fused into integers:
    each window holds 4 elements), Flatten, MatMul: digits-sized."""
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(11)
    inits = [numpy_helper.from_array(rng.normal(0, 0.5, (6, 1, 3, 3)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.normal(0, 0.1, 6).astype(np.float32), "b"),
             numpy_helper.from_array(rng.normal(0, 0.3, (6 * 6 * 6, 10)).astype(np.float32), "fc")]
    nodes = [helper.make_node("Conv", ["input", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("AveragePool", ["r"], ["pool"], name="pool", kernel_shape=[2, 2],
                              dilations=[2, 2]),
             helper.make_node("Flatten", ["pool"], ["flat"], name="flatten"),
             helper.make_node("MatMul", ["flat", "fc"], ["logits"], name="fc")]
    graph = helper.make_graph(nodes, "dilated-pool",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 8, 8])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)]), str(path))
    return path


def test_bit_exactness_of_a_dilated_average_pool(tmp_path, monkeypatch):
    """A dilated AveragePool is checked against the NumPy reference with its
    dilations (0 mismatches); the same check told the pooling has none
    finds mismatches in that layer."""
    import quant_opt.evaluate as evaluate_module

    model = dilated_pool_model(tmp_path / "dilated.onnx")
    report = evaluate(Config(model=model, data="digits", limit=100, layer_samples=100, verbose=False))
    exact = report["bit_exactness"]
    by_layer = {layer["layer"]: layer for layer in exact["layers"]}
    assert "pool" in by_layer and not any(u["layer"] == "pool" for u in exact["not_checked"]), exact
    assert by_layer["pool"]["elements"] == 100 * 6 * 6 * 6 and by_layer["pool"]["mismatches"] == 0

    real = evaluate_module.check_layers

    def without_dilations(details, *args, **kwargs):
        details["average_pools"]["pool"]["dilations"] = [1, 1]
        return real(details, *args, **kwargs)

    monkeypatch.setattr(evaluate_module, "check_layers", without_dilations)
    report = evaluate(Config(model=model, data="digits", limit=100, layer_samples=100, verbose=False))
    by_layer = {layer["layer"]: layer for layer in report["bit_exactness"]["layers"]}
    assert by_layer["pool"]["mismatches"] > 0


def test_fallback_16bit_requantizes_the_worst_activations(tmp_path):
    """--fallback-16bit-below: the activations under the threshold in the
    per-layer table get 16-bit storage (their SQNR rises), the others keep
    8 bits; the report names them and keeps the first run's numbers."""
    config = Config(model=DIGITS, data="digits", limit=200, layer_samples=100, verbose=False,
                    fallback_sqnr=200.0)  # every finite one
    report = evaluate(config)
    chosen = report["fallback_16bit"]["layers"]
    first = report["fallback_16bit"]["before"]
    assert "/fc/Gemm" in chosen and "/relu1/Relu" in chosen
    assert report["output"]["sqnr_db"] > first["output"]["sqnr_db"] + 3  # 8-bit weights bound it
    none = evaluate(Config(model=DIGITS, data="digits", limit=200, layer_samples=100, verbose=False,
                           fallback_sqnr=-100.0))
    assert none["fallback_16bit"]["layers"] == []
    assert "16-bit fallback" in markdown(report) and "none needed" in markdown(none)
