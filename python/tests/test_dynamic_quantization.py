"""Dynamic quantization (docs/Semantics.md, "Dynamic quantization"):
qnn.dynamic_quantize / qnn.dynamic_dequantize lowered and run through the CPU
pipeline, bit for bit against the NumPy reference; the reference itself
against hand-worked values and ONNX's DynamicQuantizeLinear."""

import numpy as np
import pytest

from quant_opt import native
from quant_opt import reference as ref

needs_native = pytest.mark.skipif(not native.available(),
                                  reason="the extension _quant_opt is not built")


def test_reference_hand_worked():
    # u8 asymmetric per tensor: lo = -1, hi = 3 -> s = 4/255, z = round(0 + 1/s)
    # = round(63.75) = 64; 3 / s = 191.25 -> 191 + 64 = 255; -1 / s = -63.75 ->
    # -64 + 64 = 0; 0.5 / s = 31.875 -> 32 + 64 = 96.
    x = np.array([[-1.0, 3.0, 0.5]], dtype=np.float32)
    q, s, z = ref.dynamic_quantize(x, (1, 1), 8, signed=False)
    assert s.dtype == np.float32 and s[0, 0] == np.float32(4.0) / np.float32(255.0)
    assert z[0, 0] == 64 and q.tolist() == [[0, 255, 96]]
    # i8 symmetric per row: row max |x| = 2 -> s = 2/127; -2 -> -127; 1 -> 63.5 -> 64
    # (63.5 rounds to the even 64); an all-zero row gets s = 1.
    x = np.array([[-2.0, 1.0], [0.0, 0.0]], dtype=np.float32)
    q, s, z = ref.dynamic_quantize(x, (2, 1), 8, signed=True, symmetric=True)
    assert s[1, 0] == 1.0 and z.tolist() == [[0], [0]]
    assert q.tolist() == [[-127, 64], [0, 0]]
    # Non-finite elements do not enter the range; they saturate or give z.
    x = np.array([[np.inf, -np.inf, np.nan, 1.0]], dtype=np.float32)
    q, s, z = ref.dynamic_quantize(x, (1, 1), 8, signed=False)
    assert s[0, 0] == np.float32(1.0) / np.float32(255.0) and z[0, 0] == 0
    assert q.tolist() == [[255, 0, 0, 255]]


def test_reference_matches_onnx_dynamicquantizelinear():
    onnx = pytest.importorskip("onnx")
    from onnx.reference import ReferenceEvaluator

    node = onnx.helper.make_node("DynamicQuantizeLinear", ["x"], ["y", "s", "z"])
    graph = onnx.helper.make_graph(
        [node], "g", [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [None])],
        [onnx.helper.make_tensor_value_info(n, t, None) for n, t in
         (("y", onnx.TensorProto.UINT8), ("s", onnx.TensorProto.FLOAT), ("z", onnx.TensorProto.UINT8))])
    evaluator = ReferenceEvaluator(onnx.helper.make_model(graph))
    rng = np.random.default_rng(3)
    for trial in range(50):
        x = (rng.standard_normal(rng.integers(1, 40)) * rng.choice([0.01, 1, 100])
             + rng.choice([-5, 0, 5])).astype(np.float32)
        y, s, z = evaluator.run(None, {"x": x})
        q, rs, rz = ref.dynamic_quantize(x.reshape(1, -1), (1, 1), 8, signed=False)
        assert np.float32(s) == rs[0, 0], trial
        assert int(z) == rz[0, 0], trial
        assert np.array_equal(y.astype(np.int64), q.reshape(-1)), trial


# A program cannot return 4-bit tensors: those cases return the dequantized
# values, which with (s, z) equal determine q.
MODULE = """
func.func @main(%x: tensor<{shape}xf32>) -> ({qtype}tensor<{pshape}xf32>, tensor<{pshape}xi32>, tensor<{shape}xf32>) {{
  %q, %s, %z = qnn.dynamic_quantize %x {attrs} : tensor<{shape}xf32> -> tensor<{shape}x{st}>, tensor<{pshape}xf32>, tensor<{pshape}xi32>
  %d = qnn.dynamic_dequantize %q, %s, %z {uns} : tensor<{shape}x{st}>, tensor<{pshape}xf32>, tensor<{pshape}xi32> -> tensor<{shape}xf32>
  return {qvalue}%s, %z, %d : {qtype}tensor<{pshape}xf32>, tensor<{pshape}xi32>, tensor<{shape}xf32>
}}
"""


@needs_native
def test_lowering_bit_exact_against_reference():
    rng = np.random.default_rng(11)
    checked = 0
    for case in range(24):
        rank = int(rng.integers(1, 4))
        shape = tuple(int(n) for n in rng.integers(1, 9, rank))
        pshape = tuple(1 if rng.random() < 0.5 else n for n in shape)
        bits = int(rng.choice([4, 8, 16]))
        signed = bool(rng.random() < 0.5)
        symmetric = signed and bool(rng.random() < 0.5)
        attrs = ("unsigned" if not signed else "") + (" symmetric" if symmetric else "")
        text = MODULE.format(shape="x".join(map(str, shape)), pshape="x".join(map(str, pshape)),
                             st=f"i{bits}", attrs=attrs, uns="" if signed else "unsigned",
                             qtype=f"tensor<{'x'.join(map(str, shape))}xi{bits}>, " if bits >= 8 else "",
                             qvalue="%q, " if bits >= 8 else "")
        program = native.compile(text)
        x = (rng.standard_normal(shape) * rng.choice([1e-3, 1.0, 50.0])
             + rng.choice([0.0, 2.0])).astype(np.float32)
        flat = x.reshape(-1)
        for special in (np.nan, np.inf, -np.inf, 0.0):
            if rng.random() < 0.3:
                flat[rng.integers(flat.size)] = special
        if rng.random() < 0.15:
            x[...] = 0.0
        outputs = program(x)
        rq, rs, rz = ref.dynamic_quantize(x, pshape, bits, signed, symmetric)
        if bits >= 8:
            stored = outputs.pop(0).astype(np.int64)
            if not signed:
                stored &= (1 << bits) - 1
            assert np.array_equal(stored, rq), (case, shape, pshape, bits, signed, symmetric)
        s, z, d = outputs
        assert np.array_equal(s.view(np.uint32), rs.view(np.uint32)), case
        assert np.array_equal(z.astype(np.int64), rz), case
        rd = ref.dynamic_dequantize(rq, rs, rz)
        assert np.array_equal(d.view(np.uint32), rd.view(np.uint32)), case
        checked += x.size
    assert checked > 500
