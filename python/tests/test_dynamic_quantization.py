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


def _rows_at_extreme_ranges(rng, bits, signed, symmetric, columns=96):
    """One row per range, from subnormal data (scale 0, or below 2^-60) to
    f32's largest (scale above 2^60, or +Inf when hi - lo overflows); each row
    holds its range's two ends, values next to every rounding boundary
    (k + 1/2) * s and the specials."""
    qmin, qmax = ref._storage_range(bits, signed)
    rows = []
    for exponent in (-149, -140, -126, -100, -75, -62, -58, -20, 0, 20, 58, 62, 75, 100, 120, 127):
        magnitude = np.float32(np.ldexp(1.0, exponent) * rng.uniform(1.0, 1.49))
        if exponent >= -140:
            magnitude = np.float32(magnitude * (1 + rng.integers(1, 2**10) * 2.0**-23))
        hi = magnitude
        lo = -magnitude if symmetric else np.float32(-magnitude * rng.uniform(0.0, 1.0))
        row = np.zeros(columns, np.float32)
        row[0], row[1] = hi, lo
        _, s, z = ref.dynamic_quantize(row, (1,), bits, signed, symmetric)
        s = np.float32(s.reshape(()))
        # (k + 1/2) * s in float64, then the f32 values on both sides of it.
        k = rng.integers(qmin - int(z[0]), qmax - int(z[0]), columns - 6)
        middle = ((k + 0.5) * np.float64(s)).astype(np.float32)
        toward = np.where(rng.random(columns - 6) < 0.5, np.float32(np.inf), np.float32(-np.inf))
        candidates = np.where(rng.random(columns - 6) < 0.3, middle, np.nextafter(middle, toward))
        row[2:columns - 4] = np.clip(candidates, lo, hi)
        row[columns - 4:] = (np.nan, np.inf, -np.inf, 0.0)
        rows.append(row)
    widest = np.zeros(columns, np.float32)  # hi - lo rounds to +Inf: s = +Inf
    widest[:4] = (np.finfo(np.float32).max, -np.finfo(np.float32).max, np.inf, 1.0)
    if not symmetric:
        rows.append(widest)
    return np.stack(rows)


@needs_native
@pytest.mark.parametrize("bits,signed,symmetric", [(8, False, False), (8, True, True), (16, True, False),
                                                   (4, True, True)])
@pytest.mark.parametrize("target", ["host", "x86-64-v3", "reference"])
def test_lowering_bit_exact_at_extreme_ranges(bits, signed, symmetric, target):
    """The quantization loop divides by no run-time scale (docs/Semantics.md,
    "Without a division"): per row, ranges whose scale lies outside [2^-60,
    2^60] (brought inside by 2^100 or 2^-100) or is +Inf, and inputs next
    to every rounding boundary, bit for bit against the reference's
    division."""
    rng = np.random.default_rng(bits * 4 + signed * 2 + symmetric)
    x = _rows_at_extreme_ranges(rng, bits, signed, symmetric)
    shape, pshape = x.shape, (x.shape[0], 1)
    attrs = ("unsigned" if not signed else "") + (" symmetric" if symmetric else "")
    text = MODULE.format(shape="x".join(map(str, shape)), pshape="x".join(map(str, pshape)),
                         st=f"i{bits}", attrs=attrs, uns="" if signed else "unsigned",
                         qtype=f"tensor<{'x'.join(map(str, shape))}xi{bits}>, " if bits >= 8 else "",
                         qvalue="%q, " if bits >= 8 else "")
    program = native.compile(text, reference=target == "reference",
                             cpu="x86-64-v3" if target == "x86-64-v3" else "")
    outputs = program(x)
    rq, rs, rz = ref.dynamic_quantize(x, pshape, bits, signed, symmetric)
    scales = rs.reshape(-1)
    assert (scales == 0).sum() >= 1 and (scales < 2.0**-60).sum() >= 4 and (scales > 2.0**60).sum() >= 4
    assert symmetric or np.isinf(scales).sum() >= 1
    if bits >= 8:
        stored = outputs.pop(0).astype(np.int64)
        if not signed:
            stored &= (1 << bits) - 1
        assert np.array_equal(stored, rq), np.argwhere(stored != rq)[:8]
    s, z, d = outputs
    assert np.array_equal(s.view(np.uint32), rs.view(np.uint32))
    assert np.array_equal(z.astype(np.int64), rz)
    with np.errstate(invalid="ignore"):  # 0 * Inf where s = +Inf
        rd = ref.dynamic_dequantize(rq, rs, rz)
    assert np.array_equal(d.view(np.uint32), rd.view(np.uint32))
    # The inputs reach both neighbours of many rounding boundaries.
    assert len(np.unique(rq)) > 8


# A dynamically quantized contraction (docs/Semantics.md, "Dynamically
# quantized contractions"), quantized, fused and lowered by quant-opt, against
# the NumPy reference computed from the spec: dynamic_quantize, the exact
# integer sum, then c + f32(acc) * (s_x * f32(s_w)) and the float ops after it.

def _float_literal(array) -> str:
    return "dense<" + np.array2string(np.asarray(array, np.float32), separator=", ", threshold=10**9,
                                      floatmode="unique").replace("\n", "") + ">"


def _matmul_module(kind, x_shape, w, bias_init):
    """A matmul / batch_matmul of `x` (argument) and constant `w`, from zero or
    from a broadcast bias (the contraction's init), then a ReLU."""
    out_shape = x_shape[:-1] + (w.shape[-1],)
    xs, ws, os_ = ("x".join(map(str, s)) for s in (x_shape, w.shape, out_shape))
    rank = len(out_shape)
    dims = ", ".join(f"d{i}" for i in range(rank))
    if bias_init is not None:
        init = f"""%b = arith.constant {_float_literal(bias_init)} : tensor<{w.shape[-1]}xf32>
  %init = linalg.generic {{indexing_maps = [affine_map<({dims}) -> (d{rank - 1})>, affine_map<({dims}) -> ({dims})>], iterator_types = [{", ".join(['"parallel"'] * rank)}]}} ins(%b : tensor<{w.shape[-1]}xf32>) outs(%e : tensor<{os_}xf32>) {{
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  }} -> tensor<{os_}xf32>"""
    else:
        init = f"%init = linalg.fill ins(%zero : f32) outs(%e : tensor<{os_}xf32>) -> tensor<{os_}xf32>"
    return f"""
func.func @main(%x: tensor<{xs}xf32>) -> tensor<{os_}xf32> {{
  %w = arith.constant {_float_literal(w)} : tensor<{ws}xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<{os_}xf32>
  {init}
  %m = linalg.{kind} ins(%x, %w : tensor<{xs}xf32>, tensor<{ws}xf32>) outs(%init : tensor<{os_}xf32>) -> tensor<{os_}xf32> loc("layer")
  %r = linalg.generic {{indexing_maps = [affine_map<({dims}) -> ({dims})>, affine_map<({dims}) -> ({dims})>], iterator_types = [{", ".join(['"parallel"'] * rank)}]}} ins(%m : tensor<{os_}xf32>) outs(%e : tensor<{os_}xf32>) {{
  ^bb0(%in: f32, %out: f32):
    %v = arith.maximumf %in, %zero : f32
    linalg.yield %v : f32
  }} -> tensor<{os_}xf32>
  return %r : tensor<{os_}xf32>
}}
"""


@needs_native
@pytest.mark.parametrize("granularity,signed,symmetric,weights",
                         [("per_row", True, True, "per_channel"), ("per_row", False, False, "per_channel"),
                          ("per_tensor", False, False, "per_tensor"), ("per_tensor", True, False, "asymmetric")])
def test_fused_matmul_bit_exact(tmp_path, granularity, signed, symmetric, weights):
    rng = np.random.default_rng(hash((granularity, signed, symmetric, weights)) % 2**32)
    checked = 0
    for case, kind in enumerate(["matmul", "batch_matmul", "matmul", "batch_matmul"]):
        batch = (int(rng.integers(1, 4)),) if kind == "batch_matmul" else ()
        m, k, n = (int(v) for v in rng.integers(1, 24, 3))
        w = (rng.standard_normal(batch + (k, n)) * 0.5).astype(np.float32)
        bias = (rng.standard_normal(n) * 0.3).astype(np.float32) if case % 2 == 0 else None
        text = _matmul_module(kind, batch + (m, k), w, bias)
        options = (f"activation-dynamic={granularity} activation-signed={str(signed).lower()} "
                   f"activation-symmetric={str(symmetric).lower()} parameters={tmp_path / 'p.json'} "
                   + {"per_channel": "", "per_tensor": "weight-granularity=per_tensor",
                      "asymmetric": "weight-symmetric=false weight-narrow-range=false"}[weights])
        quantized = native.opt(text, f"qnn-insert-observers,qnn-quantize-pipeline{{{options}}}")
        assert "linalg.matmul" not in quantized and "linalg.batch_matmul" not in quantized, quantized
        assert "qnn.dynamic_dequantize" not in quantized  # fused
        program = native.compile(quantized)
        import json
        parameters = json.loads((tmp_path / "p.json").read_text())
        w_type = ref.parse_quant_type(parameters["weights"]["layer"], shape=w.shape)
        assert parameters["dynamic_activations"]["layer"]["granularity"] == granularity
        w_stored = ref.quantize(w, w_type)
        # The weights' channel is their last axis: one (s, z) per output column.
        w_scales = np.broadcast_to(np.asarray(w_type.scales, np.float64), (n,))
        w_zero = np.broadcast_to(np.asarray(w_type.zero_points, np.int64), (n,))
        for trial in range(3):
            x = (rng.standard_normal(batch + (m, k)) * rng.choice([0.1, 3.0]) + rng.choice([0.0, 1.0])
                 ).astype(np.float32)
            if trial == 2:
                x[..., 0, :] = 0.0  # an all-zero row: s = 1
            got = program(x)[0]
            pshape = x.shape[:-1] + (1,) if granularity == "per_row" else (1,) * x.ndim
            q, s, z = ref.dynamic_quantize(x, pshape, 8, signed, symmetric)
            acc = np.matmul(q - z, w_stored - w_zero)  # exact in int64
            init = np.zeros(acc.shape, np.float32) if bias is None else np.broadcast_to(bias, acc.shape)
            y = ref.dynamic_contraction_epilogue(acc, np.broadcast_to(s, acc.shape), w_scales, init)
            want = np.maximum(y, np.float32(0))
            assert np.array_equal(got.view(np.uint32), want.view(np.uint32)), (case, kind, trial)
            checked += got.size
    assert checked > 100


ATTENTION = """
func.func @main(%a: tensor<{b}x{m}x{k}xf32>, %c: tensor<{b}x{k}x{n}xf32>) -> tensor<{b}x{m}x{n}xf32> {{
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<{b}x{m}x{n}xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<{b}x{m}x{n}xf32>) -> tensor<{b}x{m}x{n}xf32>
  %y = linalg.batch_matmul ins(%a, %c : tensor<{b}x{m}x{k}xf32>, tensor<{b}x{k}x{n}xf32>) outs(%init : tensor<{b}x{m}x{n}xf32>) -> tensor<{b}x{m}x{n}xf32>
  return %y : tensor<{b}x{m}x{n}xf32>
}}
"""


@needs_native
@pytest.mark.parametrize("granularity,signed,symmetric",
                         [("per_row", True, True), ("per_row", False, False), ("per_tensor", False, False)])
def test_fused_activation_matmul_bit_exact(granularity, signed, symmetric):
    """Attention's matmul of two activations, both quantized at run time
    (per row of the left operand and per column of the right one, or per
    tensor), fused to (a - z_a)(b - z_b) in i32 and c + f32(acc) (s_a s_b)."""
    rng = np.random.default_rng(5)
    options = (f"activation-dynamic={granularity} activation-signed={str(signed).lower()} "
               f"activation-symmetric={str(symmetric).lower()}")
    for case in range(3):
        b, m, k, n = (int(v) for v in rng.integers(1, 12, 4))
        quantized = native.opt(ATTENTION.format(b=b, m=m, k=k, n=n),
                               f"qnn-insert-observers,qnn-quantize-pipeline{{{options}}}")
        assert "linalg.batch_matmul" not in quantized and "qnn.dynamic_dequantize" not in quantized
        program = native.compile(quantized)
        a = (rng.standard_normal((b, m, k)) * 2 + 0.5).astype(np.float32)
        c = (rng.standard_normal((b, k, n)) - 0.3).astype(np.float32)
        got = program(a, c)[0]
        per_row = granularity == "per_row"
        qa, sa, za = ref.dynamic_quantize(a, (b, m, 1) if per_row else (1, 1, 1), 8, signed, symmetric)
        qc, sc, zc = ref.dynamic_quantize(c, (b, 1, n) if per_row else (1, 1, 1), 8, signed, symmetric)
        acc = np.matmul(qa - za, qc - zc)
        want = (np.float32(0) + acc.astype(np.float32) * (sa * sc)).astype(np.float32)
        assert np.array_equal(got.view(np.uint32), want.view(np.uint32)), case



@needs_native
@pytest.mark.parametrize("k", [49, 258, 300])
@pytest.mark.parametrize("granularity,signed", [("per_tensor", False), ("per_row", True)])
def test_fused_activation_matmul_long_bit_exact(k, granularity, signed):
    """The same over reductions where the zero points' bounds decide the
    code: their run-time values lie in the storage range (dynamic_quantize
    clamps them), so qnn-integer-contractions-in-f32 subtracts them before
    the f32 products, exact for every value up to 258 steps, and sums 300
    steps in exact chunks; on this CPU's code and the AVX2 code, bit for bit
    the NumPy reference."""
    rng = np.random.default_rng(k + signed)
    options = (f"activation-dynamic={granularity} activation-signed={str(signed).lower()} "
               f"activation-symmetric=false")
    b, m, n = 2, 5, 7
    quantized = native.opt(ATTENTION.format(b=b, m=m, k=k, n=n),
                           f"qnn-insert-observers,qnn-quantize-pipeline{{{options}}}")
    # Skewed ranges: zero points far from the middle of the storage range.
    a = (rng.standard_normal((b, m, k)) * 2 + 1.5).astype(np.float32)
    c = (rng.standard_normal((b, k, n)) - 2.0).astype(np.float32)
    per_row = granularity == "per_row"
    qa, sa, za = ref.dynamic_quantize(a, (b, m, 1) if per_row else (1, 1, 1), 8, signed, False)
    qc, sc, zc = ref.dynamic_quantize(c, (b, 1, n) if per_row else (1, 1, 1), 8, signed, False)
    acc = np.matmul(qa - za, qc - zc)
    want = (np.float32(0) + acc.astype(np.float32) * (sa * sc)).astype(np.float32)
    for cpu in ("", "x86-64-v3"):
        got = native.compile(quantized, cpu=cpu)(a, c)[0]
        assert np.array_equal(got.view(np.uint32), want.view(np.uint32)), (k, granularity, cpu)

STATIC_ATTENTION = """
func.func @main(%a: tensor<{b}x{m}x{k}xf32>, %c: tensor<{b}x{k}x{n}xf32>) -> tensor<{b}x{m}x{n}xf32> {{
  %aq = qnn.quantize %a : tensor<{b}x{m}x{k}xf32> -> tensor<{b}x{m}x{k}x{ta}>
  %ad = qnn.dequantize %aq : tensor<{b}x{m}x{k}x{ta}> -> tensor<{b}x{m}x{k}xf32>
  %cq = qnn.quantize %c : tensor<{b}x{k}x{n}xf32> -> tensor<{b}x{k}x{n}x{tc}>
  %cd = qnn.dequantize %cq : tensor<{b}x{k}x{n}x{tc}> -> tensor<{b}x{k}x{n}xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<{b}x{m}x{n}xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<{b}x{m}x{n}xf32>) -> tensor<{b}x{m}x{n}xf32>
  %y = linalg.batch_matmul ins(%ad, %cd : tensor<{b}x{m}x{k}xf32>, tensor<{b}x{k}x{n}xf32>) outs(%init : tensor<{b}x{m}x{n}xf32>) -> tensor<{b}x{m}x{n}xf32>
  %yq = qnn.quantize %y : tensor<{b}x{m}x{n}xf32> -> tensor<{b}x{m}x{n}x{ty}>
  %yd = qnn.dequantize %yq : tensor<{b}x{m}x{n}x{ty}> -> tensor<{b}x{m}x{n}xf32>
  return %yd : tensor<{b}x{m}x{n}xf32>
}}
"""


@needs_native
@pytest.mark.parametrize("k", [7, 200, 258, 300, 1030])
def test_static_activation_matmul_bit_exact(k):
    """Attention's matmul of two statically quantized activations
    (docs/Semantics.md, "Two activations"), fused into (a - z_a)(b - z_b) in
    i32 and a rescale by s_a s_b / s_y, then lowered by qnn-cpu-pipeline,
    whose qnn-integer-contractions-in-f32 sums it in f32 where exact (up to
    258 steps of u8 x u8, more with the zero points folded, 1024 of s8 x
    s8) and in exact chunks past that: on this CPU's code and the AVX2
    code, bit for bit the NumPy reference, with random types of either
    signedness."""
    rng = np.random.default_rng(k)
    for case in range(3):
        b, m, n = (int(v) for v in rng.integers(1, 9, 3))
        signed = [bool(v) for v in rng.integers(0, 2, 3)] if k != 1030 else [True, True, bool(case % 2)]
        types = []
        for is_signed in signed:
            zero = int(rng.integers(-20, 21)) if is_signed else int(rng.integers(0, 256))
            storage = "i8" if is_signed else "u8"
            types.append(f"!quant.uniform<{storage}:f32, {float(rng.uniform(0.01, 0.1))!r}:{zero}>")
        text = STATIC_ATTENTION.format(b=b, m=m, k=k, n=n, ta=types[0], tc=types[1], ty=types[2])
        fused = native.opt(text, "qnn-fuse-quantized-ops")
        assert "linalg.batch_matmul" not in fused and "qnn.rescale" in fused, fused
        a = (rng.standard_normal((b, m, k)) * 3).astype(np.float32)
        c = (rng.standard_normal((b, k, n)) * 3).astype(np.float32)
        ta, tc, ty = (ref.parse_quant_type(t) for t in types)
        qa, qc = ref.quantize(a, ta).astype(np.int64), ref.quantize(c, tc).astype(np.int64)
        acc = np.matmul(qa - int(ta.zero_points), qc - int(tc.zero_points))
        mult, shift = ref.quantize_multiplier(float(ta.scales) * float(tc.scales) / float(ty.scales))
        want = ref.dequantize(ref.rescale(acc, mult, shift, ty), ty).astype(np.float32)
        for cpu in ("", "x86-64-v3"):
            got = native.compile(fused, cpu=cpu)(a, c)[0]
            assert np.array_equal(got.view(np.uint32), want.view(np.uint32)), (k, case, cpu, types)
