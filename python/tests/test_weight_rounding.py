"""qnn-round-weights-gptq and qnn-correct-bias against the NumPy reference
(quant_opt.weight_rounding): on a small module with a convolution, a
depthwise convolution and a matmul, the pass's integers are GPTQ's (and
round-to-nearest's for bias correction), its biases the corrected ones to
f32 rounding; and GPTQ reduces the layer's output error on the data it was
calibrated on."""

import subprocess

import numpy as np
import pytest

from quant_opt import weight_rounding as wr
from quant_opt.bitexact import module_weights
from quant_opt.execution import ToolNotFoundError, find_tool

try:
    QUANT_OPT = find_tool("quant-opt")
except ToolNotFoundError:
    QUANT_OPT = None
pytestmark = pytest.mark.skipif(QUANT_OPT is None, reason="quant-opt is not built")


def _dense(a: np.ndarray) -> str:
    return "dense<" + np.array2string(a.astype(np.float32), separator=", ", threshold=10**9,
                                      floatmode="unique").replace("\n", "") + ">"


def _module(rng):
    """(MLIR text, {layer: (kind, weight, bias, input)})."""
    x = rng.normal(0.5, 1.0, (6, 6, 6, 4)).astype(np.float32)
    x[..., 3] = 0.0  # a dead input channel: H's diagonal is 0 there
    conv_w = rng.normal(0, 0.3, (3, 3, 4, 5)).astype(np.float32)
    dw_w = rng.normal(0, 0.3, (3, 3, 5)).astype(np.float32)
    fc_w = rng.normal(0, 0.3, (20, 6)).astype(np.float32)
    biases = [rng.normal(0, 0.1, n).astype(np.float32) for n in (5, 5, 6)]
    h = rng.normal(0, 1, (6, 4, 4, 5)).astype(np.float32)
    m = rng.normal(0.2, 1, (6, 20)).astype(np.float32)
    bias_map = "affine_map<(d0, d1, d2, d3) -> (d3)>"
    id4 = "affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>"
    text = f"""
func.func @main(%x: tensor<6x6x6x4xf32>, %h: tensor<6x4x4x5xf32>, %m: tensor<6x20xf32>)
    -> (tensor<6x4x4x5xf32>, tensor<6x2x2x5xf32>, tensor<6x6xf32>) {{
  %zero = arith.constant 0.0 : f32
  %cw = arith.constant {_dense(conv_w)} : tensor<3x3x4x5xf32>
  %cb = arith.constant {_dense(biases[0])} : tensor<5xf32>
  %e1 = tensor.empty() : tensor<6x4x4x5xf32>
  %f1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<6x4x4x5xf32>) -> tensor<6x4x4x5xf32>
  %c = linalg.conv_2d_nhwc_hwcf {{dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}}
      ins(%x, %cw : tensor<6x6x6x4xf32>, tensor<3x3x4x5xf32>) outs(%f1 : tensor<6x4x4x5xf32>) -> tensor<6x4x4x5xf32> loc("conv")
  %c2 = linalg.generic {{indexing_maps = [{id4}, {bias_map}, {id4}],
      iterator_types = ["parallel", "parallel", "parallel", "parallel"]}}
      ins(%c, %cb : tensor<6x4x4x5xf32>, tensor<5xf32>) outs(%e1 : tensor<6x4x4x5xf32>) {{
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  }} -> tensor<6x4x4x5xf32> loc("conv.bias")
  %dw = arith.constant {_dense(dw_w)} : tensor<3x3x5xf32>
  %db = arith.constant {_dense(biases[1])} : tensor<5xf32>
  %e2 = tensor.empty() : tensor<6x2x2x5xf32>
  %f2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<6x2x2x5xf32>) -> tensor<6x2x2x5xf32>
  %d = linalg.depthwise_conv_2d_nhwc_hwc {{dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}}
      ins(%h, %dw : tensor<6x4x4x5xf32>, tensor<3x3x5xf32>) outs(%f2 : tensor<6x2x2x5xf32>) -> tensor<6x2x2x5xf32> loc("dw")
  %d2 = linalg.generic {{indexing_maps = [{id4}, {bias_map}, {id4}],
      iterator_types = ["parallel", "parallel", "parallel", "parallel"]}}
      ins(%d, %db : tensor<6x2x2x5xf32>, tensor<5xf32>) outs(%e2 : tensor<6x2x2x5xf32>) {{
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  }} -> tensor<6x2x2x5xf32> loc("dw.bias")
  %fw = arith.constant {_dense(fc_w)} : tensor<20x6xf32>
  %fb = arith.constant {_dense(biases[2])} : tensor<6xf32>
  %e3 = tensor.empty() : tensor<6x6xf32>
  %f3 = linalg.fill ins(%zero : f32) outs(%e3 : tensor<6x6xf32>) -> tensor<6x6xf32>
  %mm = linalg.matmul ins(%m, %fw : tensor<6x20xf32>, tensor<20x6xf32>) outs(%f3 : tensor<6x6xf32>) -> tensor<6x6xf32> loc("fc")
  %m2 = linalg.generic {{indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>,
      affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}}
      ins(%mm, %fb : tensor<6x6xf32>, tensor<6xf32>) outs(%e3 : tensor<6x6xf32>) {{
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  }} -> tensor<6x6xf32> loc("fc.bias")
  return %c2, %d2, %m2 : tensor<6x4x4x5xf32>, tensor<6x2x2x5xf32>, tensor<6x6xf32>
}}
"""
    layers = {"conv": ("nhwc", conv_w, biases[0], x), "dw": ("depthwise", dw_w, biases[1], h),
              "fc": ("matmul", fc_w, biases[2], m)}
    return text, layers


def _statistics(layers, path):
    stats = {}
    for name, (kind, w, _, x) in layers.items():
        acc = wr.Accumulator(kind, w.shape)
        acc.add(wr.patches(x, kind, w.shape[:2], (1, 1), (1, 1)))
        stats[name] = acc.result()
    wr.write_statistics(path, stats)
    return wr.read_statistics(path)


def _opt(tmp_path, text, args):
    source = tmp_path / "in.mlir"
    source.write_text(text)
    result = subprocess.run([QUANT_OPT, str(source), *args, "--mlir-print-debuginfo"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return module_weights(result.stdout)


def test_gptq_matches_the_reference_and_lowers_the_output_error(tmp_path):
    rng = np.random.default_rng(7)
    text, layers = _module(rng)
    stats = _statistics(layers, tmp_path / "stats.json")
    got = _opt(tmp_path, text, [f"--qnn-round-weights-gptq=statistics={tmp_path / 'stats.json'} bits=4"])
    for name, (kind, w, b, x) in layers.items():
        q, scales = wr.gptq(w, kind, stats[name]["second_moment"], bits=4)
        want = wr.dequantize(q, scales, kind)
        weight, bias = got[name]
        np.testing.assert_array_equal(weight, want, err_msg=name)
        np.testing.assert_array_equal(bias, b)  # no correct-bias
        # Output error on the calibration rows: GPTQ's below nearest rounding's.
        rows = wr.patches(x, kind, w.shape[:2], (1, 1), (1, 1)).astype(np.float64)
        rtn = wr.dequantize(*wr.round_to_nearest(w, kind, 4), kind)

        def error(wq):
            if kind == "depthwise":
                r = rows.reshape(len(rows), -1, w.shape[2])
                return np.sum(np.einsum("pkc,kc->pc", r, (wq - w).reshape(-1, w.shape[2])) ** 2)
            return np.sum((rows @ (wq - w).reshape(-1, w.shape[-1])) ** 2)
        assert error(want) < error(rtn), name


def test_bias_correction_matches_the_reference(tmp_path):
    rng = np.random.default_rng(11)
    text, layers = _module(rng)
    stats = _statistics(layers, tmp_path / "stats.json")
    for bits in (4, 8):
        got = _opt(tmp_path, text, [f"--qnn-correct-bias=statistics={tmp_path / 'stats.json'} bits={bits}"])
        for name, (kind, w, b, x) in layers.items():
            wq = wr.dequantize(*wr.round_to_nearest(w, kind, bits), kind)
            weight, bias = got[name]
            np.testing.assert_array_equal(weight, wq, err_msg=name)
            want = wr.correct_bias(b, w, wq, kind, stats[name]["mean"])
            np.testing.assert_allclose(bias, want, rtol=1e-6, atol=1e-7, err_msg=name)
            # The corrected layer's mean output on its calibration rows is the float one's.
            rows = wr.patches(x, kind, w.shape[:2], (1, 1), (1, 1)).astype(np.float64)
            if kind != "depthwise":
                shift = (rows @ (wq - w).reshape(-1, w.shape[-1])).mean(0) + (bias - b)
                np.testing.assert_allclose(shift, 0, atol=1e-5)


def test_quant_eval_gptq_on_fashion_cnn_is_bit_exact():
    """quant-eval --float-passes 'qnn-round-weights-gptq{bits=4}': the
    statistics are computed from the calibration split, the weights GPTQ
    stored reach the integer program unchanged (every fused layer matches
    the NumPy reference, which reads them from the rewritten model)."""
    from pathlib import Path

    from quant_opt.evaluate import Config, evaluate
    model = Path(__file__).resolve().parents[2] / "models" / "fashion-cnn" / "model.onnx"
    report = evaluate(Config(model=model, data="fashion-mnist", limit=200, calibration_limit=200,
                             options="weight-bits=4", layer_samples=50, verbose=False,
                             float_passes="qnn-round-weights-gptq{bits=4}"))
    exact = report["bit_exactness"]
    assert exact["layers_checked"] == 5 and exact["mismatches"] == 0, exact
    assert not exact["not_checked"], exact


def test_statistics_record_the_largest_magnitude_of_each_column(tmp_path):
    """max_abs (SmoothQuant's activation maxima) over every batch added, and
    through the file."""
    from quant_opt.weight_rounding import Accumulator, read_statistics, write_statistics
    acc = Accumulator("matmul", (3, 2))
    acc.add(np.array([[1.0, -5.0, 0.5], [-2.0, 1.0, 0.0]]))
    acc.add(np.array([[0.5, 4.0, -3.0]]))
    assert acc.result()["max_abs"].tolist() == [2.0, 5.0, 3.0]
    write_statistics(tmp_path / "s.json", {"fc": acc.result()})
    assert read_statistics(tmp_path / "s.json")["fc"]["max_abs"].tolist() == [2.0, 5.0, 3.0]
