"""qnn-equalize-cross-layer (cross-layer equalization, Nagel et al. 2019):
its weights against the formula computed here with NumPy, the function of
a ReLU model kept, and quant-eval's per-tensor W8A8 on the equalized
MobileNet bit-exact."""

from pathlib import Path

import numpy as np
import onnx
import pytest

from quant_opt import datasets, native
from quant_opt.bitexact import module_clamps, module_weights
from quant_opt.evaluate import Config, evaluate
from quant_opt.onnx_import import import_model

ROOT = Path(__file__).resolve().parents[2]
MOBILENET = ROOT / "models" / "fashion-mobilenet" / "model.onnx"
CNN = ROOT / "models" / "fashion-cnn" / "model.onnx"

pytestmark = pytest.mark.skipif(not native.available(), reason="the in-process extension is not built")


def equalized(model: Path, batch: int = 1, passes=("--qnn-equalize-cross-layer",)) -> tuple[str, str]:
    text = native.opt(import_model(onnx.load(str(model)), batch), [])
    return text, native.opt(text, list(passes))


def test_depthwise_pointwise_pairs_follow_the_formula():
    """Each MobileNet block: depthwise channel c divided by s_c, its bias
    too, pointwise input channel c multiplied by it, s = sqrt(r1 r2) / r2;
    then both channel ranges are sqrt(r1 r2). The stem (whose reader is a
    depthwise convolution) and the classifier are left alone."""
    before_text, after_text = equalized(MOBILENET)
    before, after = module_weights(before_text), module_weights(after_text)
    for block in ("block1", "block2", "block3"):
        (dw, dw_bias), (pw, _) = before[f"/{block}/dw/conv/Conv"], before[f"/{block}/pw/conv/Conv"]
        r1 = np.abs(dw.astype(np.float64)).reshape(-1, dw.shape[-1]).max(0)        # HWC: channel last
        r2 = np.abs(pw.astype(np.float64)).transpose(2, 0, 1, 3).reshape(pw.shape[2], -1).max(1)  # HWCF
        s = np.sqrt(r1 * r2) / r2
        new_dw, new_bias = after[f"/{block}/dw/conv/Conv"]
        new_pw, _ = after[f"/{block}/pw/conv/Conv"]
        np.testing.assert_allclose(new_dw, (dw / s).astype(np.float32), rtol=1e-6)
        np.testing.assert_allclose(new_bias, (dw_bias / s).astype(np.float32), rtol=1e-6)
        np.testing.assert_allclose(new_pw, (pw * s[None, None, :, None]).astype(np.float32), rtol=1e-6)
        np.testing.assert_allclose(np.abs(new_dw).reshape(-1, dw.shape[-1]).max(0),
                                   np.abs(new_pw).transpose(2, 0, 1, 3).reshape(pw.shape[2], -1).max(1),
                                   rtol=1e-6)
        # The ReLU6 between them is a ReLU now; the pointwise one keeps its 6.
        clamps = module_clamps(after_text)
        assert clamps[f"/{block}/dw/relu6/Clip"] == (0.0, np.inf)
        assert clamps[f"/{block}/pw/relu6/Clip"] == (0.0, 6.0)
    for layer in ("/stem/conv/Conv", "/fc/Gemm"):
        np.testing.assert_array_equal(after[layer][0], before[layer][0])
    # relu6=skip: MobileNet's pairs all have a ReLU6 between them.
    _, skipped = equalized(MOBILENET, passes=("--qnn-equalize-cross-layer=relu6=skip",))
    for layer, (weights, _) in module_weights(skipped).items():
        np.testing.assert_array_equal(weights, before[layer][0])


def test_relu_model_computes_the_same_function():
    """fashion-cnn (conv, ReLU, max pooling, zero padding, conv, ...): a
    chain of three equalized convolutions, the same outputs up to f32
    rounding of the new weights."""
    before_text, after_text = equalized(CNN, batch=100)
    before, after = module_weights(before_text), module_weights(after_text)
    assert all(not np.array_equal(before[f"/conv{i}/Conv"][0], after[f"/conv{i}/Conv"][0]) for i in (1, 2, 3))
    x, _ = datasets.load("fashion-mnist", "calibration")
    x = x[:200]
    want = native.compile(before_text).run_dataset([x])[0]
    got = native.compile(after_text).run_dataset([x])[0]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
    assert np.array_equal(got.argmax(1), want.argmax(1))


def test_per_tensor_w8a8_on_equalized_mobilenet_is_bit_exact_and_closer():
    """quant-eval --float-passes qnn-equalize-cross-layer: the bit-exactness
    reference reads the equalized weights and the relaxed clamps from the
    rewritten model, and every fused layer matches; per-tensor weights lose
    less than without equalization."""
    common = dict(model=MOBILENET, data="fashion-mnist", limit=2000, options="weight-granularity=per_tensor",
                  verbose=False)
    plain = evaluate(Config(**common, layer_samples=0))
    report = evaluate(Config(**common, layer_samples=100, float_passes="qnn-equalize-cross-layer"))
    exact = report["bit_exactness"]
    assert exact["layers_checked"] >= 8 and exact["mismatches"] == 0, exact
    assert report["float_passes"] == "qnn-equalize-cross-layer"
    assert report["top1_drop"] < plain["top1_drop"]
    assert report["output"]["sqnr_db"] > plain["output"]["sqnr_db"] + 3
