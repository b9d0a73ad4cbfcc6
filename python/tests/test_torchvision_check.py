"""One torchvision architecture end to end through quant_opt.torchvision_check
(docs/Harness.md, "torchvision architectures"): exported at opset 13,
imported, the float program against ONNX Runtime, quantized, every fused
layer bit-exact. Skipped where torchvision is not installed (it is not in
scripts/setup.sh's default set: scripts/install-torchvision.sh)."""

import pytest

pytest.importorskip("torch", reason="torch is not installed (scripts/install-torchvision.sh)")
pytest.importorskip("torchvision", reason="torchvision is not installed (scripts/install-torchvision.sh)")

from quant_opt.torchvision_check import check_one, contraction_counts, passed, table  # noqa: E402


def test_squeezenet_imports_matches_onnxruntime_and_is_bit_exact(tmp_path):
    result = check_one("squeezenet1_1", 13, size=32, batch=2, samples=4, calibration=4, layer_samples=2,
                       seed=0, work=tmp_path)
    assert "error" not in result, result["error"]
    assert result["imported"]
    assert result["float_match"], result
    assert result["float_relative_error"] < 1e-4
    exact = result["bit_exactness"]
    assert exact["layers_checked"] >= 20
    assert exact["mismatches"] == 0
    # SqueezeNet's 26 convolutions all run in integers.
    assert result["float_contractions"] == 26
    assert result["fused"] == {**result["fused"], "integer": 26, "float": 0}
    assert passed(result)
    assert "| squeezenet1_1 | 13 | yes |" in table([result])


def test_contraction_counts_tell_integer_from_float():
    text = """
    %0 = linalg.matmul ins(%a, %b : tensor<4x8xf32>, tensor<8x2xf32>) outs(%c : tensor<4x2xf32>) -> tensor<4x2xf32>
    %1 = linalg.generic {indexing_maps = [#m0, #m1, #m2], iterator_types = ["parallel", "reduction"]} ins(%x, %w : tensor<4x8xi8>, tensor<8xi8>) outs(%o : tensor<4xi32>) {
    ^bb0(%in: i8, %in_0: i8, %out: i32):
      %5 = arith.muli %in, %in_0 : i32
      linalg.yield %5 : i32
    } -> tensor<4xi32>
    %2 = qnn.rescale %1 multipliers [1] shifts [1] : tensor<4xi32> -> tensor<4xi8>
    %3 = linalg.generic {indexing_maps = [#m0, #m1, #m1], iterator_types = ["parallel", "reduction"]} ins(%x, %m : tensor<4x8xf32>, tensor<4xf32>) outs(%o : tensor<4xf32>) attrs =  {qnn.internal} {
    ^bb0(%in: f32, %in_0: f32, %out: f32):
      %5 = arith.subf %in, %in_0 : f32
      %6 = arith.mulf %5, %5 : f32
      linalg.yield %6 : f32
    } -> tensor<4xf32>
    """
    counts = contraction_counts(text)  # (a LayerNormalization's variance is no contraction)
    assert (counts["integer"], counts["float"], counts["rescale"]) == (1, 1, 1)
