"""Non-uniform (codebook) weights: qnn.lookup executed against the NumPy
reference (docs/Semantics.md), qnn-cluster-weights' codes and tables, and
the fused integer contraction that reads them bit-exact against the
reference of "Fused integer contractions"."""

import re
from pathlib import Path

import numpy as np
import pytest

from quant_opt import reference as ref
from quant_opt.bitexact import module_codebook_weights
from quant_opt.evaluate import Config, evaluate
from quant_opt.execution import find_tool, run_command, run_module
from quant_opt.fusion_check import Layer, contraction_reference


def quant_opt(text: str, *passes: str) -> str:
    return run_command([find_tool("quant-opt"), "-", *passes], stdin=text)


def dense(values: np.ndarray) -> str:
    return np.array2string(np.asarray(values), separator=", ", threshold=1 << 30,
                           max_line_width=1 << 30, floatmode="unique")


def test_reference_lookup():
    codes = np.array([[0, 3], [-1, 1], [2, -2]], np.int8)  # -1, -2: the bits of 3, 2
    table = np.array([[10, 11, 12, 13], [20, 21, 22, 23]])
    assert ref.lookup(codes, table, axis=1, bits=2).tolist() == [[10, 23], [13, 21], [12, 22]]
    with pytest.raises(ValueError):
        ref.lookup(codes, table[:, :3], axis=1, bits=2)
    with pytest.raises(ValueError):
        ref.lookup(codes, table, axis=0, bits=2)


@pytest.mark.parametrize("bits", [1, 3, 4])
def test_lookup_of_constants_executed(bits):
    """The lowering (a linalg.generic extracting from the table) against the
    reference, for constant codes and an int8 per-axis table."""
    rng = np.random.default_rng(bits)
    codes = rng.integers(0, 2 ** bits, size=(5, 3, 4))
    signed_codes = np.where(codes >= 2 ** (bits - 1), codes - 2 ** bits, codes)  # as iK prints them
    table = rng.integers(-127, 128, size=(3, 2 ** bits))
    qtype = "!quant.uniform<i8<-127:127>:f32:{axis}, {{5.000000e-01,3.125000e-02,2.500000e-01}}>"
    text = f"""
func.func @main(%x: tensor<5x3x4xf32>) -> tensor<5x3x4xf32> {{
  %c = arith.constant dense<{dense(signed_codes)}> : tensor<5x3x4xi{bits}>
  %t = qnn.constant dense<{dense(table)}> : tensor<3x{2 ** bits}xi8> -> tensor<3x{2 ** bits}x{qtype.format(axis=0)}>
  %l = qnn.lookup %c, %t axis 1 : tensor<5x3x4xi{bits}>, tensor<3x{2 ** bits}x{qtype.format(axis=0)}>
      -> tensor<5x3x4x{qtype.format(axis=1)}>
  %w = qnn.dequantize %l : tensor<5x3x4x{qtype.format(axis=1)}> -> tensor<5x3x4xf32>
  %e = tensor.empty() : tensor<5x3x4xf32>
  %y = linalg.add ins(%x, %w : tensor<5x3x4xf32>, tensor<5x3x4xf32>) outs(%e : tensor<5x3x4xf32>) -> tensor<5x3x4xf32>
  return %y : tensor<5x3x4xf32>
}}"""
    (got,) = run_module(text, [np.zeros((5, 3, 4), np.float32)])
    stored = ref.lookup(signed_codes, table, axis=1, bits=bits)
    want = ref.dequantize(stored, ref.parse_quant_type(qtype.format(axis=1), shape=(5, 3, 4)))
    assert np.array_equal(ref.to_bits(got), ref.to_bits(want.astype(np.float32)))


def test_lookup_of_runtime_codes_and_float_table():
    """8-bit codes read at run time (a function argument), float entries."""
    rng = np.random.default_rng(8)
    codes = rng.integers(-128, 128, size=(6, 2)).astype(np.int8)
    table = rng.standard_normal((2, 256)).astype(np.float32)
    text = f"""
func.func @main(%c: tensor<6x2xi8>) -> tensor<6x2xf32> {{
  %t = arith.constant dense<{dense(table)}> : tensor<2x256xf32>
  %y = qnn.lookup %c, %t axis 1 : tensor<6x2xi8>, tensor<2x256xf32> -> tensor<6x2xf32>
  return %y : tensor<6x2xf32>
}}"""
    (got,) = run_module(text, [codes])
    assert np.array_equal(ref.to_bits(got), ref.to_bits(ref.lookup(codes, table, axis=1, bits=8)))


def _parse_dense(text: str, pattern: str) -> np.ndarray:
    match = re.search(pattern + r" dense<(\[.*?\]|-?\d+)> : tensor<([0-9x]+)x?i\d+>", text)
    assert match, pattern
    shape = [int(d) for d in match.group(2).split("x") if d]
    return np.array(eval(match.group(1)), np.int64).reshape(shape)


@pytest.mark.parametrize("bits", [2, 3, 4])
def test_cluster_weights_then_fused_integer_matmul_is_bit_exact(bits):
    """qnn-cluster-weights on a QDQ matmul: each weight gets the code of its
    nearest (dequantized) entry, at most 2^bits values per channel; fusion
    then reads the looked-up int8 weights per channel, and the executed
    integer program equals the reference of docs/Semantics.md."""
    rng = np.random.default_rng(bits)
    k, n, m = 24, 5, 7
    w = (rng.standard_normal((k, n)) * np.array([0.05, 0.2, 1.0, 0.01, 0.5])).astype(np.float32)
    x_type = "!quant.uniform<u8:f32, 2.000000e-02:128>"
    y_type = "!quant.uniform<u8:f32, 5.000000e-02:120>"
    text = f"""
func.func @main(%x: tensor<{m}x{k}xf32>) -> tensor<{m}x{n}xf32> {{
  %q = qnn.quantize %x : tensor<{m}x{k}xf32> -> tensor<{m}x{k}x{x_type}>
  %xd = qnn.dequantize %q : tensor<{m}x{k}x{x_type}> -> tensor<{m}x{k}xf32>
  %w = arith.constant dense<{dense(w)}> : tensor<{k}x{n}xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<{m}x{n}xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<{m}x{n}xf32>) -> tensor<{m}x{n}xf32>
  %y = linalg.matmul ins(%xd, %w : tensor<{m}x{k}xf32>, tensor<{k}x{n}xf32>) outs(%f : tensor<{m}x{n}xf32>) -> tensor<{m}x{n}xf32> loc("fc")
  %yq = qnn.quantize %y : tensor<{m}x{n}xf32> -> tensor<{m}x{n}x{y_type}>
  %yd = qnn.dequantize %yq : tensor<{m}x{n}x{y_type}> -> tensor<{m}x{n}xf32>
  return %yd : tensor<{m}x{n}xf32>
}}"""
    clustered = quant_opt(text, f"--qnn-cluster-weights=bits={bits}", "--mlir-print-elementsattrs-with-hex-if-larger=-1")
    codes = _parse_dense(clustered, r"= arith\.constant")
    table = _parse_dense(clustered, r"= qnn\.constant")
    assert codes.shape == (k, n) and table.shape == (n, 2 ** bits)
    w_type_text = re.search(r"qnn\.lookup .* -> tensor<\d+x\d+x(!quant\.uniform<.*?\}>)>", clustered).group(1)
    w_type = ref.parse_quant_type(w_type_text, shape=(k, n))
    assert w_type.axis == 1 and w_type.qmin == -127
    w_stored = ref.lookup(codes, table, axis=1, bits=bits)
    # The nearest entry of the channel's row (dequantized), ties to the lower code.
    entries = ref.dequantize(table, ref.parse_quant_type(w_type_text.replace(":f32:1,", ":f32:0,"),
                                                         shape=table.shape)).astype(np.float64)
    distance = np.abs(w.astype(np.float64)[:, :, None] - entries[None, :, :])
    assert np.array_equal(codes & (2 ** bits - 1), distance.argmin(axis=2))
    # The clustered weights stay close to the float ones: within the channel's range / 2^bits.
    w_clustered = ref.dequantize(w_stored, w_type)
    spread = np.ptp(w, axis=0)
    assert np.all(np.abs(w_clustered - w) <= spread / 2 ** bits + np.abs(w).max(0) / 127)

    # quant-eval's bit-exactness reference reads the same stored weights
    # from the printed model (hex form included).
    for flags in ((), ("--mlir-print-elementsattrs-with-hex-if-larger=1",)):
        printed = quant_opt(text, f"--qnn-cluster-weights=bits={bits}", "--mlir-print-debuginfo", *flags)
        stored, type_text, bias = module_codebook_weights(printed)["fc"]
        assert np.array_equal(stored, w_stored) and type_text == w_type_text and bias is None

    fused = quant_opt(clustered, "--canonicalize", "--qnn-fuse-quantized-ops", "--canonicalize")
    assert "qnn.lookup" not in fused and "qnn.rescale" in fused
    x = (rng.standard_normal((m, k)) * 1.5).astype(np.float32)
    (got,) = run_module(fused, [x])
    xq_type = ref.parse_quant_type(x_type)
    yq_type = ref.parse_quant_type(y_type)
    xq = ref.quantize(x, xq_type)
    layer = Layer(kind="matmul", x_shape=(k,), w=w, bias=None, activation="none", strides=1)
    want = contraction_reference(layer, xq, xq_type, w_stored, w_type, yq_type, None)
    assert np.array_equal(ref.to_bits(got), ref.to_bits(ref.dequantize(want, yq_type).astype(np.float32)))


def test_quant_eval_codebook_model_is_bit_exact():
    """quant-eval --float-passes qnn-cluster-weights=bits=3 on the digits
    CNN: every fused contraction (its codebook weights read from the
    rewritten model) matches the integer reference."""
    model = Path(__file__).resolve().parents[2] / "models" / "digits-cnn" / "model.onnx"
    report = evaluate(Config(model=model, data="digits", limit=300, layer_samples=100, verbose=False,
                             float_passes="qnn-cluster-weights=bits=3"))
    exact = report["bit_exactness"]
    assert exact["layers_checked"] >= 3 and exact["mismatches"] == 0 and not exact["not_checked"], exact
