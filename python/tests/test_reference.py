"""Tests of quant_opt.reference against hand-worked values from docs/Semantics.md.

Every expected value below is derived by hand (the derivation is in the
comment or obvious from the arithmetic); none is copied from running the code.
"""

import warnings

import numpy as np
import pytest

from quant_opt.reference import (
    QuantType,
    add,
    add_parameters,
    average_pool_nhwc,
    dequantize,
    format_quant_type,
    parse_quant_type,
    quantize,
    quantize_multiplier,
    requantize,
    rescale,
    round_to_bf16,
    to_bits,
)

f16, f32, f64 = np.float16, np.float32, np.float64


def per_tensor(scale, zero_point=0, bits=8, signed=True, expressed="f32", **kw):
    return QuantType(
        storage_bits=bits,
        signed=signed,
        expressed=expressed,
        scales=scale,
        zero_points=zero_point,
        **kw,
    )


def q(values, qtype, rounding="half_to_even", dtype=f32):
    return quantize(np.array(values, dtype=dtype), qtype, rounding).tolist()


# ---------------------------------------------------------------------------
# qnn.quantize, per-tensor
# ---------------------------------------------------------------------------


def test_quantize_spec_examples_i8():
    # s = 0.5: 1.4 / 0.5 = 2.8 -> 3; 1000 / 0.5 = 2000 -> 127; -2000 -> -128.
    assert q([1.4, 1000.0, -1000.0], per_tensor(0.5)) == [3, 127, -128]


def test_quantize_result_is_int64_of_input_shape():
    out = quantize(np.zeros((2, 3), dtype=f32), per_tensor(0.5))
    assert out.dtype == np.int64 and out.shape == (2, 3)
    scalar = quantize(f32(1.4), per_tensor(0.5))
    assert scalar.dtype == np.int64 and scalar.shape == () and int(scalar) == 3


def test_half_to_even():
    assert q([2.5, 3.5, -2.5, -3.5, 0.5, -0.5, 1.5], per_tensor(1.0)) == [2, 4, -2, -4, 0, 0, 2]


def test_half_away_from_zero():
    got = q([2.5, -2.5, 0.5, -0.5, 2.4, -2.4, 2.6], per_tensor(1.0), "half_away_from_zero")
    assert got == [3, -3, 1, -1, 2, -2, 3]


def test_half_away_from_zero_just_below_half():
    # 0.5 - 2^-25 is the largest float32 below 0.5, so it rounds to 0. The
    # classic floor(v + 0.5) in float32 would give 1: 1 - 2^-25 is halfway
    # between 1 - 2^-24 and 1 and rounds (ties to even) to 1.
    x = 0.5 - 2.0**-25
    assert q([x, -x], per_tensor(1.0), "half_away_from_zero") == [0, 0]


def test_toward_zero():
    assert q([2.7, -2.7, 2.5, -0.9, 3.0], per_tensor(1.0), "toward_zero") == [2, -2, 2, 0, 3]


def test_zero_point_added_after_rounding():
    # round(2.5) + 1 = 2 + 1 = 3, not round(3.5) = 4 (spec "qnn.quantize").
    assert q([2.5], per_tensor(1.0, 1)) == [3]
    # -2.5 -> -2, plus 1 -> -1 (round(-1.5) would be -2).
    assert q([-2.5], per_tensor(1.0, 1)) == [-1]
    assert q([2.5], per_tensor(1.0, 1), "half_away_from_zero") == [4]


def test_narrow_range_saturates_at_qmin():
    narrow = per_tensor(1.0, qmin=-127, qmax=127)
    assert q([-1000.0, -127.0, 1000.0, -np.inf], narrow) == [-127, -127, 127, -127]


def test_u8_with_zero_point_128():
    t = per_tensor(0.5, 128, signed=False)
    # 0 -> 128; -64/0.5 = -128 -> 0; -64.5 -> -129 + 128 = -1 -> 0;
    # 63.5 -> 127 + 128 = 255; 64 -> 256 -> 255; 1.25 -> 2.5 -> 2 -> 130.
    assert q([0.0, -64.0, -64.5, 63.5, 64.0, 1.25], t) == [128, 0, 0, 255, 255, 130]


def test_i4_range():
    t = per_tensor(1.0, bits=4)
    assert (t.qmin, t.qmax) == (-8, 7)
    # 7.4 -> 7; 8 -> 7; -8.6 -> -9 -> -8; -7.5 -> -8 (8 is even); 6.5 -> 6.
    assert q([7.4, 8.0, -8.6, -7.5, 6.5], t) == [7, 7, -8, -8, 6]


def test_i16():
    t = per_tensor(0.5, bits=16)
    # 100.25 / 0.5 = 200.5 -> 200; 20000 -> 40000 -> 32767;
    # -16384 -> -32768; -16384.5 -> -32769 -> -32768.
    assert q([100.25, 20000.0, -16384.0, -16384.5], t) == [200, 32767, -32768, -32768]


def test_nan_gives_zero_point():
    assert q([np.nan], per_tensor(0.5, -3)) == [-3]
    assert q([np.nan], per_tensor(0.5, 128, signed=False)) == [128]


def test_zero_point_outside_storage_range_is_rejected():
    # The verifiers reject such types, so NaN -> z is always a valid value.
    with pytest.raises(ValueError, match="outside the storage range"):
        per_tensor(1.0, -5, qmin=0, qmax=10, signed=False)


def test_infinities_saturate():
    assert q([np.inf, -np.inf], per_tensor(0.5, -3)) == [127, -128]
    assert q([np.inf, -np.inf], per_tensor(0.5, 7, signed=False), "toward_zero") == [255, 0]
    assert q([np.inf, -np.inf], per_tensor(0.5), "half_away_from_zero") == [127, -128]


def test_32_bit_storage():
    i32 = per_tensor(1.0, bits=32, expressed="f64")
    got = q([3e9, -3e9, np.inf, -np.inf, np.nan, 2147483647.0], i32, dtype=f64)
    assert got == [2**31 - 1, -(2**31), 2**31 - 1, -(2**31), 0, 2**31 - 1]
    u32 = per_tensor(1.0, 2**31, bits=32, signed=False, expressed="f64")
    # -2^31 -> 0; 2^31 - 1 -> 2^32 - 1; 1e10 saturates; -1e10 saturates.
    assert q([-(2.0**31), 2.0**31 - 1, 1e10, -1e10], u32, dtype=f64) == [0, 2**32 - 1, 2**32 - 1, 0]
    # 2^23 + 1 is an odd float32 integer: it is its own rounding in every
    # mode (floor(v + 0.5) in float32 would give 2^23 + 2).
    for mode in ("half_to_even", "half_away_from_zero", "toward_zero"):
        assert q([2.0**23 + 1], per_tensor(1.0, bits=32), mode) == [2**23 + 1]
    # 2^31 is exact in float32 and one above qmax.
    assert q([2.0**31], per_tensor(1.0, bits=32)) == [2**31 - 1]


def test_f32_division_is_one_float32_division():
    # s = 1 + 3*2^-23 and x = 2.5 + 2^-20 are both exact float32 values.
    # Exactly, 2.5 * s = 2.5 + 7.5*2^-23 = 2.5 + 3.75*2^-22, so
    #   x / s = 2.5 + (2^-20 - 3.75*2^-22) / s = 2.5 + 0.25*2^-22 / s
    #         = 2.5 + 2^-24 / s  (just below 2.5 + 2^-24).
    # In [2, 4) the float32 spacing is 2^-22, so this is closer to 2.5 than
    # half a spacing (2^-23): float32 division gives exactly 2.5, which
    # rounds (ties to even) to 2. Float64 division keeps the 2^-24 excess
    # (spacing 2^-51), so dividing in float64 and then rounding would give 3.
    s = 1.0 + 3 * 2.0**-23
    x = 2.5 + 2.0**-20
    assert f32(x) / f32(s) == f32(2.5)
    assert np.rint(f64(x) / f64(s)) == 3.0
    assert q([x, -x], per_tensor(s)) == [2, -2]
    # With E = f64 the compute type is f64: v = 2.5 + ~2^-24 -> 3.
    assert q([x, -x], per_tensor(s, expressed="f64"), dtype=f64) == [3, -3]


def test_division_not_reciprocal_multiplication():
    # 45.5 / 7 = 6.5 exactly, which rounds (ties to even) to 6.
    # fl32(1/7) = (8/7)(1 + 3*2^-26) * 2^-3 (the 23-bit fraction of 8/7 is
    # 0010...0100 followed by 1001..., rounded up by 3/7 of 2^-23), so
    # 45.5 * fl32(1/7) = 6.5 * (1 + 3*2^-26) = 6.5 + 1.21875*2^-22, more than
    # half the float32 spacing 2^-21 in [4, 8): it would round to
    # 6.5 + 2^-21 and then to 7.
    assert f32(45.5) * (f32(1) / f32(7)) > f32(6.5)
    assert q([45.5, -45.5], per_tensor(7.0)) == [6, -6]


def test_scale_converted_to_compute_type_before_dividing():
    # s = 1 + 2^-30 is a double; as float32 it rounds to 1.0 (the float32
    # spacing at 1 is 2^-23). So for E = f32, f16 and bf16 (C = f32),
    # 3.5 / s_C = 3.5 exactly, which rounds (ties to even) to 4, whereas
    # 3.5 / s in double is 3.5 - ~3.5*2^-30, which would round to 3.
    s = 1.0 + 2.0**-30
    assert q([2.5, 3.5], per_tensor(s)) == [2, 4]
    assert q([3.5], per_tensor(s, expressed="f16"), dtype=f16) == [4]
    assert q([3.5], per_tensor(s, expressed="bf16")) == [4]
    # For E = f64 the scale is used as is: 3.5 / s < 3.5 -> 3.
    assert q([3.5], per_tensor(s, expressed="f64"), dtype=f64) == [3]


def test_f16_input_is_converted_exactly():
    # 1000.5 is exact in f16 (spacing 0.5 in [512, 1024)); 1000.5 / 1 -> 1000.
    assert q([1000.5], per_tensor(1.0, bits=16, expressed="f16"), dtype=f16) == [1000]


def test_bf16_input_must_be_bf16_representable():
    t = per_tensor(1.0, expressed="bf16")
    assert q([2.5, np.nan], t) == [2, 0]
    with pytest.raises(ValueError):
        quantize(np.array([1.0 + 2.0**-10], dtype=f32), t)


def test_input_dtype_must_match_expressed_type():
    with pytest.raises(TypeError):
        quantize(np.array([1.0]), per_tensor(1.0))  # float64 for f32
    with pytest.raises(TypeError):
        quantize(np.array([1.0], dtype=f32), per_tensor(1.0, expressed="f16"))


def test_no_numpy_warnings():
    # 3e38 / fl32(1e-30) overflows to +inf -> 127.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert q([np.nan, np.inf, -np.inf, 3e38], per_tensor(1e-30)) == [0, 127, -128, 127]
        big = per_tensor(1.0, bits=32, signed=False, expressed="f64")
        assert q([np.nan, np.inf, -1e300, 1e300], big, dtype=f64) == [0, 2**32 - 1, 0, 2**32 - 1]
        assert dequantize(np.array([7000]), per_tensor(10.0, bits=16, expressed="f16")).tolist() \
            == [np.inf]


def test_unknown_rounding_mode():
    with pytest.raises(ValueError):
        quantize(np.zeros(1, dtype=f32), per_tensor(1.0), "half_up")


# ---------------------------------------------------------------------------
# Per-axis and sub-channel parameter indexing
# ---------------------------------------------------------------------------

X2 = [[1.0, -1.0, 2.6], [3.0, 5.0, -7.0]]


def test_per_axis_axis0():
    t = QuantType(storage_bits=8, signed=True, expressed="f32",
                  scales=[0.5, 2.0], zero_points=[1, -2], axis=0)
    # row 0 (s=0.5, z=1): 2 -> 3; -2 -> -1; 2.6/0.5 = 5.2 -> 5 -> 6.
    # row 1 (s=2, z=-2): 1.5 -> 2 -> 0; 2.5 -> 2 -> 0; -3.5 -> -4 -> -6.
    assert q(X2, t) == [[3, -1, 6], [0, 0, -6]]


def test_per_axis_axis1():
    t = QuantType(storage_bits=8, signed=True, expressed="f32",
                  scales=[1.0, 0.5, 0.25], zero_points=[0, 10, -10], axis=1)
    # col 0 (1, 0): 1, 3. col 1 (0.5, 10): -2 + 10 = 8, 10 + 10 = 20.
    # col 2 (0.25, -10): 2.6/0.25 = 10.4 -> 10 -> 0; -28 -> -38.
    assert q(X2, t) == [[1, 8, 0], [3, 20, -38]]


def test_per_axis_shape_checks():
    t = QuantType(storage_bits=8, signed=True, expressed="f32", scales=[1.0, 2.0], axis=1)
    with pytest.raises(ValueError):
        quantize(np.zeros((2, 3), dtype=f32), t)  # 3 channels, 2 scales
    with pytest.raises(ValueError):
        quantize(np.zeros(2, dtype=f32), t)  # axis 1 not within rank 1


def test_sub_channel_one_blocked_axis():
    t = QuantType(storage_bits=8, signed=True, expressed="f32",
                  scales=[[1.0, 0.5]], zero_points=[[0, 3]], block_sizes={1: 2})
    # columns 0-1: s=1, z=0; columns 2-3: s=0.5, z=3 (3 -> 9, 4 -> 11, ...).
    x = [[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]]
    assert q(x, t) == [[1, 2, 9, 11], [5, 6, 17, 19]]


def test_sub_channel_two_blocked_axes():
    t = QuantType(storage_bits=8, signed=True, expressed="f32",
                  scales=[[1.0, 2.0], [4.0, 8.0]], zero_points=[[0, 1], [2, 3]],
                  block_sizes={0: 2, 1: 2})
    # Element (i, j) uses entry (i // 2, j // 2): 8/1 + 0, 8/2 + 1, 8/4 + 2, 8/8 + 3.
    assert q(np.full((4, 4), 8.0), t) == [
        [8, 8, 5, 5],
        [8, 8, 5, 5],
        [4, 4, 4, 4],
        [4, 4, 4, 4],
    ]


def test_sub_channel_unlisted_axes_are_one_block():
    t = QuantType(storage_bits=8, signed=True, expressed="f32",
                  scales=[[[0.5, 0.25]]], block_sizes={2: 2})
    # 1 / 0.5 = 2 for i_2 in {0, 1}; 1 / 0.25 = 4 for i_2 in {2, 3}.
    assert q(np.ones((2, 3, 4)), t) == [[[2, 2, 4, 4]] * 3] * 2


def test_sub_channel_shape_checks():
    t = QuantType(storage_bits=8, signed=True, expressed="f32",
                  scales=[[1.0, 0.5]], block_sizes={1: 2})
    with pytest.raises(ValueError):
        quantize(np.zeros((2, 5), dtype=f32), t)  # 2 does not divide 5
    with pytest.raises(ValueError):
        quantize(np.zeros((2, 6), dtype=f32), t)  # 3 blocks, 2 entries
    with pytest.raises(ValueError):
        quantize(np.zeros(4, dtype=f32), t)  # rank 1 vs rank 2
    with pytest.raises(ValueError):  # unblocked axis 0 must have one entry
        QuantType(storage_bits=8, signed=True, expressed="f32",
                  scales=[[1.0], [2.0]], block_sizes={1: 2})


# ---------------------------------------------------------------------------
# qnn.dequantize
# ---------------------------------------------------------------------------


def test_dequantize_f32():
    out = dequantize(np.array([5, -128, 127]), per_tensor(0.5, -3))
    assert out.dtype == f32
    # (5 + 3) * 0.5 = 4; (-128 + 3) * 0.5 = -62.5; 130 * 0.5 = 65.
    assert out.tolist() == [4.0, -62.5, 65.0]


def test_dequantize_f32_rounds_the_product():
    # fl32(0.1) = 13421773 * 2^-27. Times 3: 40265319 * 2^-27, 26 bits;
    # 40265319 / 4 = 10066329.75 rounds to 10066330, so the result is
    # 10066330 * 2^-25 (also fl32(0.3), since 0.3 * 2^25 = 10066329.6).
    out = dequantize(np.array([3]), per_tensor(0.1))
    assert to_bits(out).tolist() == to_bits(np.array([10066330 * 2.0**-25], dtype=f32)).tolist()
    assert out[0] == f32(0.3)


def test_dequantize_large_d_rounds_to_f32():
    t = per_tensor(1.0, bits=32)
    # 2^24 + 1 is halfway between 2^24 and 2^24 + 2: ties to even -> 2^24.
    # 2^24 + 3 is halfway between 2^24 + 2 (odd significand) and 2^24 + 4.
    assert dequantize(np.array([2**24 + 1, 2**24 + 3]), t).tolist() == [2.0**24, 2.0**24 + 4]
    # d = q - z is exact: (2^31 - 1) - (-2^31) = 2^32 - 1 rounds to 2^32.
    u = per_tensor(1.0, -(2**31), bits=32)
    assert dequantize(np.array([2**31 - 1]), u).tolist() == [2.0**32]
    # C(d) is rounded before the multiplication, by s_C: with s = 1 + 2^-30,
    # s_C = 1 and d = 2^24 + 1 gives 2^24 * 1 = 2^24, whereas rounding the
    # exact product 2^24 + 1 + ~2^-6 once would give 2^24 + 2.
    w = per_tensor(1.0 + 2.0**-30, bits=32)
    assert dequantize(np.array([2**24 + 1]), w).tolist() == [2.0**24]


def test_dequantize_f64():
    out = dequantize(np.array([-128]), per_tensor(0.1, expressed="f64"))
    # 128 * fl64(0.1) only shifts the exponent, so it is fl64(12.8).
    assert out.dtype == f64 and out.tolist() == [-12.8]


def test_dequantize_f16_rounding():
    t = lambda s: per_tensor(s, bits=16, expressed="f16")
    # f16 has 10 fraction bits: spacing 2^-10 at 1.
    # 1 + 2^-11 is a tie between 1 and 1 + 2^-10: even -> 1.
    # 1 + 3*2^-11 is a tie between 1 + 2^-10 (odd) and 1 + 2^-9: -> 1 + 2^-9.
    # 1 + 2^-11 + 2^-20 is above the tie: -> 1 + 2^-10.
    got = [dequantize(np.array([1]), t(s))[0] for s in
           (1 + 2.0**-11, 1 + 3 * 2.0**-11, 1 + 2.0**-11 + 2.0**-20)]
    assert all(v.dtype == f16 for v in got)
    assert [float(v) for v in got] == [1.0, 1 + 2.0**-9, 1 + 2.0**-10]
    # 2049 is a tie between 2048 and 2050 (spacing 2 in [2048, 4096)) -> 2048.
    assert dequantize(np.array([2049]), t(1.0)).tolist() == [2048.0]
    # 70000 is above the f16 maximum 65504 (and past the midpoint 65520): inf.
    assert dequantize(np.array([7000]), t(10.0)).tolist() == [np.inf]


def test_dequantize_bf16_rounding():
    t = lambda s: per_tensor(s, bits=16, expressed="bf16")
    # bf16 has 7 fraction bits: spacing 2^-7 at 1.
    # 1 + 2^-8 ties to 1; 1 + 3*2^-8 ties to 1 + 2^-6; 1 + 2^-8 + 2^-20 -> 1 + 2^-7.
    got = [dequantize(np.array([1]), t(s))[0] for s in
           (1 + 2.0**-8, 1 + 3 * 2.0**-8, 1 + 2.0**-8 + 2.0**-20)]
    assert [float(v) for v in got] == [1.0, 1 + 2.0**-6, 1 + 2.0**-7]
    # 257 ties between 256 and 258 (spacing 2 in [256, 512)) -> 256; -259 -> -260.
    out = dequantize(np.array([257, -259]), t(1.0))
    assert out.dtype == f32 and out.tolist() == [256.0, -260.0]
    assert (to_bits(out) & np.uint32(0xFFFF)).tolist() == [0, 0]


def test_dequantize_per_axis_and_sub_channel():
    t = QuantType(storage_bits=8, signed=True, expressed="f32",
                  scales=[0.5, 2.0], zero_points=[1, -2], axis=0)
    # row 0: (q - 1) * 0.5; row 1: (q + 2) * 2.
    assert dequantize(np.array([[3, -1], [0, -6]]), t).tolist() == [[1.0, -1.0], [4.0, -8.0]]
    sc = QuantType(storage_bits=8, signed=True, expressed="f32",
                   scales=[[1.0, 0.5]], zero_points=[[0, 3]], block_sizes={1: 2})
    assert dequantize(np.array([[1, 2, 9, 11]]), sc).tolist() == [[1.0, 2.0, 3.0, 4.0]]


def test_dequantize_checks_stored_range():
    with pytest.raises(ValueError):
        dequantize(np.array([128]), per_tensor(1.0))
    with pytest.raises(ValueError):
        dequantize(np.array([-128]), per_tensor(1.0, qmin=-127, qmax=127))
    with pytest.raises(TypeError):
        dequantize(np.array([1.0]), per_tensor(1.0))


# ---------------------------------------------------------------------------
# qnn.requantize
# ---------------------------------------------------------------------------


def test_requantize_i8_to_u8():
    i8 = per_tensor(0.5)
    u8 = per_tensor(0.5, 128, signed=False)
    # -3 -> -1.5 -> -3 + 128 = 125; 127 -> 63.5 -> 255; -128 -> -64 -> 0; 0 -> 128.
    assert requantize(np.array([-3, 127, -128, 0]), i8, u8).tolist() == [125, 255, 0, 128]


def test_requantize_saturates():
    src, dst = per_tensor(1.0), per_tensor(0.25)
    # 100 -> 400 -> 127; -100 -> -400 -> -128; 31 -> 124.
    assert requantize(np.array([100, -100, 31]), src, dst).tolist() == [127, -128, 124]


def test_requantize_rounding_modes():
    src, dst = per_tensor(1.0), per_tensor(2.0)
    qs = np.array([5, 7, -5])  # 2.5, 3.5, -2.5
    assert requantize(qs, src, dst).tolist() == [2, 4, -2]
    assert requantize(qs, src, dst, "half_away_from_zero").tolist() == [3, 4, -3]
    assert requantize(qs, src, dst, "toward_zero").tolist() == [2, 3, -2]


def test_requantize_rounds_intermediate_to_expressed():
    # f16: 2049 * 1.0 = 2049 in f32, rounded to f16 gives 2048 (tie, even);
    # quantizing 2048 at scale 1 gives 2048, not 2049.
    t = per_tensor(1.0, bits=16, expressed="f16")
    assert requantize(np.array([2049, 2051]), t, t).tolist() == [2048, 2052]
    # bf16: 257 -> 256.
    b = per_tensor(1.0, bits=16, expressed="bf16")
    assert requantize(np.array([257]), b, b).tolist() == [256]


def test_requantize_per_axis_to_per_tensor():
    src = QuantType(storage_bits=8, signed=True, expressed="f32",
                    scales=[1.0, 4.0], zero_points=[0, 1], axis=1)
    dst = per_tensor(2.0, -1)
    # column 0: q * 1 / 2 - 1: 6 -> 3 - 1 = 2; 3 -> 1.5 -> 2 - 1 = 1.
    # column 1: (q - 1) * 4 / 2 - 1: 3 -> 4 - 1 = 3; -1 -> -4 - 1 = -5.
    assert requantize(np.array([[6, 3], [3, -1]]), src, dst).tolist() == [[2, 3], [1, -5]]


def test_requantize_needs_same_expressed_type():
    with pytest.raises(ValueError):
        requantize(np.array([1]), per_tensor(1.0), per_tensor(1.0, expressed="f64"))


# ---------------------------------------------------------------------------
# qnn.rescale: deriving (m, n) from a real multiplier
# ---------------------------------------------------------------------------


def test_quantize_multiplier_exact_powers_and_fractions():
    # 0.5 = 0.5 * 2^0: m = 0.5 * 2^31 = 2^30, n = 31 - 0 = 31.
    assert quantize_multiplier(0.5) == (2**30, 31)
    # 1.0 = 0.5 * 2^1: m = 2^30, n = 31 - 1 = 30.
    assert quantize_multiplier(1.0) == (2**30, 30)
    # 0.75 = 0.75 * 2^0: m = 0.75 * 2^31 = 3 * 2^29 = 1610612736, n = 31.
    assert quantize_multiplier(0.75) == (1610612736, 31)
    # 3.0 = 0.75 * 2^2: m = 3 * 2^29, n = 29.
    assert quantize_multiplier(3.0) == (3 * 2**29, 29)
    m, n = quantize_multiplier(0.5)
    assert type(m) is int and type(n) is int


def test_quantize_multiplier_rounds_half_to_even():
    # 0.5 + 2^-32 = f * 2^0 with f * 2^31 = 2^30 + 0.5: a tie, 2^30 is even.
    assert quantize_multiplier(0.5 + 2.0**-32) == (2**30, 31)
    # 0.5 + 3 * 2^-32: f * 2^31 = 2^30 + 1.5, a tie between 2^30 + 1 (odd)
    # and 2^30 + 2 (even) -> 2^30 + 2.
    assert quantize_multiplier(0.5 + 3 * 2.0**-32) == (2**30 + 2, 31)
    # 0.5 + 2^-32 + 2^-40: above the tie -> 2^30 + 1.
    assert quantize_multiplier(0.5 + 2.0**-32 + 2.0**-40) == (2**30 + 1, 31)


def test_quantize_multiplier_renormalizes_m_equal_2_pow_31():
    # 1 - 2^-40 = f * 2^0, f = 1 - 2^-40: f * 2^31 = 2^31 - 2^-9 rounds to
    # 2^31, so m = 2^30 and e = 1: n = 30 (the pair of 1.0).
    assert quantize_multiplier(1.0 - 2.0**-40) == (2**30, 30)
    # (1 - 2^-40) * 2^-32: e = -32, renormalized to e = -31, n = 62 (no clamp).
    assert quantize_multiplier((1.0 - 2.0**-40) * 2.0**-32) == (2**30, 62)


def test_quantize_multiplier_clamps_n_to_62():
    # 2^-32 = 0.5 * 2^-31: n = 31 + 31 = 62, the last unclamped shift.
    assert quantize_multiplier(2.0**-32) == (2**30, 62)
    # 2^-33 = 0.5 * 2^-32: n = 63 > 62, so n = 62, m = round(2^-33 * 2^62) = 2^29.
    assert quantize_multiplier(2.0**-33) == (2**29, 62)
    # 2^-40 = 0.5 * 2^-39: n = 31 + 39 = 70 > 62, so n = 62 and
    # m = round(2^-40 * 2^62) = 2^22.
    assert quantize_multiplier(2.0**-40) == (2**22, 62)
    # 0.75 * 2^-40: n = 70 -> 62, m = 0.75 * 2^22 = 3 * 2^20.
    assert quantize_multiplier(0.75 * 2.0**-40) == (3 * 2**20, 62)


def test_quantize_multiplier_tiny_multipliers_round_half_to_even():
    # M * 2^62 for M = 2^-64: 0.25 -> 0 (m = 0 is a valid multiplier).
    assert quantize_multiplier(2.0**-64) == (0, 62)
    # 2^-63: 0.5, a tie -> 0 (even).
    assert quantize_multiplier(2.0**-63) == (0, 62)
    # 3 * 2^-64: 0.75 -> 1.
    assert quantize_multiplier(3 * 2.0**-64) == (1, 62)
    # 3 * 2^-63: 1.5, a tie -> 2; 5 * 2^-63: 2.5, a tie -> 2.
    assert quantize_multiplier(3 * 2.0**-63) == (2, 62)
    assert quantize_multiplier(5 * 2.0**-63) == (2, 62)
    # The smallest subnormal double, 2^-1074: M * 2^62 = 2^-1012 -> 0.
    assert quantize_multiplier(5e-324) == (0, 62)


def test_quantize_multiplier_largest_multipliers():
    # 2^29 = 0.5 * 2^30: m = 2^30, n = 1.
    assert quantize_multiplier(2.0**29) == (2**30, 1)
    # 2^30 - 2^-1 = (1 - 2^-31) * 2^30: f * 2^31 = 2^31 - 1 exactly, n = 1.
    assert quantize_multiplier(2.0**30 - 0.5) == (2**31 - 1, 1)


def test_quantize_multiplier_errors():
    # 2^30 = 0.5 * 2^31: n = 0.
    with pytest.raises(ValueError):
        quantize_multiplier(2.0**30)
    # 2^30 - 2^-2 = (1 - 2^-32) * 2^30: f * 2^31 = 2^31 - 0.5, a tie between
    # 2^31 - 1 (odd) and 2^31 (even) -> 2^31, renormalized to e = 31: n = 0.
    with pytest.raises(ValueError):
        quantize_multiplier(2.0**30 - 0.25)
    for bad in (0.0, -0.0, -0.5, float("nan"), float("inf"), float("-inf"), 1e300):
        with pytest.raises(ValueError):
            quantize_multiplier(bad)
    with pytest.raises(TypeError):
        quantize_multiplier("0.5")


# ---------------------------------------------------------------------------
# qnn.rescale
# ---------------------------------------------------------------------------

HALF = (2**30, 31)  # m * 2^-n = 2^30 / 2^31 = 0.5
ONE = (2**30, 30)  # 1.0
THREE_QUARTERS = (3 * 2**29, 31)  # 0.75


def rs(acc, pair, out_type=None, **kw):
    out_type = per_tensor(1.0) if out_type is None else out_type
    return rescale(np.array(acc, dtype=np.int64), [pair[0]], [pair[1]], out_type, **kw).tolist()


def test_rescale_result_is_int64_of_input_shape():
    out = rescale(np.zeros((2, 3), dtype=np.int32), [2**30], [31], per_tensor(1.0))
    assert out.dtype == np.int64 and out.shape == (2, 3)
    # A 0-d accumulator: 7 * 0.5 = 3.5 -> 4.
    scalar = rescale(np.int32(7), [2**30], [31], per_tensor(1.0))
    assert scalar.dtype == np.int64 and scalar.shape == () and int(scalar) == 4
    # The scale of the result type plays no part: only z and [qmin, qmax].
    assert rescale(np.array([7]), [2**30], [31], per_tensor(123.0)).tolist() == [4]


def test_rescale_ties_half_to_even():
    # a * 0.5: 3 -> 1.5 -> 2; 5 -> 2.5 -> 2; -3 -> -1.5 -> -2; -5 -> -2.5 -> -2;
    # 1 -> 0.5 -> 0; -1 -> -0.5 -> 0; 7 -> 3.5 -> 4; -7 -> -3.5 -> -4; 4 -> 2.
    acc = [3, 5, -3, -5, 1, -1, 7, -7, 4]
    assert rs(acc, HALF) == [2, 2, -2, -2, 0, 0, 4, -4, 2]


def test_rescale_ties_half_away_from_zero():
    # 1.5 -> 2; 2.5 -> 3; -1.5 -> -2; -2.5 -> -3; 0.5 -> 1; -0.5 -> -1;
    # 3.5 -> 4; -3.5 -> -4; 2 -> 2.
    acc = [3, 5, -3, -5, 1, -1, 7, -7, 4]
    assert rs(acc, HALF, rounding="half_away_from_zero") == [2, 3, -2, -3, 1, -1, 4, -4, 2]


def test_rescale_ties_toward_zero():
    # 1.5 -> 1; 2.5 -> 2; -1.5 -> -1; -2.5 -> -2; 0.5 -> 0; -0.5 -> 0;
    # 3.5 -> 3; -3.5 -> -3; 2 -> 2.
    acc = [3, 5, -3, -5, 1, -1, 7, -7, 4]
    assert rs(acc, HALF, rounding="toward_zero") == [1, 2, -1, -2, 0, 0, 3, -3, 2]


def test_rescale_negative_accumulators_off_ties():
    # a * 0.75: -3 -> -2.25; -5 -> -3.75; -7 -> -5.25; -2 -> -1.5 (tie);
    # 5 -> 3.75. (A bare arithmetic right shift floors: -3, -4, -6, -2, 3.)
    acc = [-3, -5, -7, -2, 5]
    assert rs(acc, THREE_QUARTERS) == [-2, -4, -5, -2, 4]
    assert rs(acc, THREE_QUARTERS, rounding="half_away_from_zero") == [-2, -4, -5, -2, 4]
    assert rs(acc, THREE_QUARTERS, rounding="toward_zero") == [-2, -3, -5, -1, 3]


def test_rescale_product_near_2_pow_62_is_exact():
    i32 = per_tensor(1.0, bits=32)
    # a = m = 2^31 - 1, n = 62: p = 2^62 - 2^32 + 1, p / 2^62 = 1 - 2^-30 + 2^-62.
    big = 2**31 - 1
    for mode, want in (("half_to_even", 1), ("half_away_from_zero", 1), ("toward_zero", 0)):
        assert rs([big, -big], (big, 62), i32, rounding=mode) == [want, -want]
    # a = 2^31 - 1, m = 2^31 - 2, n = 32:
    # p = 2^62 - 3 * 2^31 + 2, p / 2^32 = (2^30 - 2) + 0.5 + 2^-31, just above a
    # tie whose lower neighbour 2^30 - 2 is even. Exactly, nearest gives
    # 2^30 - 1 = 1073741823 and toward zero 2^30 - 2 = 1073741822. (In
    # doubles p loses its +2 (spacing 2^9 in [2^61, 2^62)), the quotient
    # becomes the tie 2^30 - 1.5, and ties-to-even would give 2^30 - 2.)
    pair = (2**31 - 2, 32)
    assert rs([big, -big], pair, i32) == [1073741823, -1073741823]
    assert rs([big, -big], pair, i32, rounding="half_away_from_zero") == [1073741823, -1073741823]
    assert rs([big, -big], pair, i32, rounding="toward_zero") == [1073741822, -1073741822]
    # a = 2^31 - 1, m = 2^30 + 1, n = 31: p = 2^61 + 2^30 - 1,
    # p / 2^31 = 2^30 + 0.5 - 2^-31, just below a tie: 2^30 = 1073741824 in
    # every mode. (In doubles p rounds to 2^61 + 2^30, a tie, and half away
    # from zero would give 2^30 + 1.)
    pair = (2**30 + 1, 31)
    for mode in ("half_to_even", "half_away_from_zero", "toward_zero"):
        assert rs([big, -big], pair, i32, rounding=mode) == [1073741824, -1073741824]
    # a = m = 2^30 + 1, n = 32: p = 2^60 + 2^31 + 1, p / 2^32 = 2^28 + 0.5 + 2^-32:
    # nearest -> 2^28 + 1 = 268435457, toward zero -> 2^28 = 268435456.
    a = 2**30 + 1
    assert rs([a, -a], (a, 32), i32) == [268435457, -268435457]
    assert rs([a, -a], (a, 32), i32, rounding="toward_zero") == [268435456, -268435456]


def test_rescale_most_negative_accumulator():
    i32 = per_tensor(1.0, bits=32)
    # a = -2^31, m = 2^31 - 1, n = 31: p / 2^31 = -(2^31 - 1), exact.
    assert rs([-(2**31)], (2**31 - 1, 31), i32) == [-(2**31 - 1)]
    # n = 62: p / 2^62 = -(2^62 - 2^31) / 2^62 = -(1 - 2^-31): nearest -1, toward zero 0.
    assert rs([-(2**31)], (2**31 - 1, 62), i32) == [-1]
    assert rs([-(2**31)], (2**31 - 1, 62), i32, rounding="toward_zero") == [0]
    # a = -2^31 times 1.0 is -2^31 = qmin of i32.
    assert rs([-(2**31), 2**31 - 1], ONE, i32) == [-(2**31), 2**31 - 1]


def test_rescale_zero_point_added_after_rounding():
    t = per_tensor(1.0, 1)
    # 5 * 0.5 = 2.5 -> 2, + 1 = 3 (rounding 2.5 + 1 = 3.5 would give 4).
    # -5 * 0.5 = -2.5 -> -2, + 1 = -1 (rounding -1.5 would give -2).
    assert rs([5, -5], HALF, t) == [3, -1]
    # Away from zero: 2.5 -> 3, + 1 = 4; -2.5 -> -3, + 1 = -2.
    assert rs([5, -5], HALF, t, rounding="half_away_from_zero") == [4, -2]
    # Toward zero: 2.5 -> 2, + 1 = 3; -2.5 -> -2, + 1 = -1.
    assert rs([5, -5], HALF, t, rounding="toward_zero") == [3, -1]


def test_rescale_saturates_at_both_ends():
    # a * 1.0 into i8: 200 -> 127; -200 -> -128; 127, -128 stay; 128 -> 127;
    # -129 -> -128.
    assert rs([200, -200, 127, -128, 128, -129], ONE) == [127, -128, 127, -128, 127, -128]
    # u8 with z = 128: 127 + 128 = 255; 128 + 128 = 256 -> 255;
    # -128 + 128 = 0; -129 + 128 = -1 -> 0; 0 -> 128.
    u8 = per_tensor(1.0, 128, signed=False)
    assert rs([127, 128, -128, -129, 0], ONE, u8) == [255, 255, 0, 0, 128]
    # The largest products saturate too: (2^31 - 1) * (2^31 - 1) / 2^31
    # = 2^31 - 2 + 2^-31 -> 2^31 - 2 -> 127; the negative one -> -128.
    big = 2**31 - 1
    assert rs([big, -big, -(2**31)], (big, 31)) == [127, -128, -128]


def test_rescale_narrow_range():
    narrow = per_tensor(1.0, qmin=-127, qmax=127)
    # -128 -> -127; -200 -> -127; 127 stays; 300 -> 127.
    assert rs([-128, -200, 127, 300], ONE, narrow) == [-127, -127, 127, 127]
    # -255 * 0.5 = -127.5 -> -128 (even) -> -127.
    assert rs([-255], HALF, narrow) == [-127]


def test_rescale_clamp():
    t = per_tensor(1.0, -10)
    # ReLU folded as clamp lo = z: a * 1 - 10, then clamp to [-10, 127]:
    # -6 -> -16 -> -10; 5 -> -5; 0 -> -10; 200 -> 190 -> 127.
    assert rs([-6, 5, 0, 200], ONE, t, clamp=(-10, 127)) == [-10, -5, -10, 127]
    # ReLU6-like [z, z + 60] = [-10, 50]: 70 -> 60 -> 50; 60 -> 50;
    # 59 -> 49; -1 -> -11 -> -10.
    assert rs([70, 60, 59, -1], ONE, t, clamp=(-10, 50)) == [50, 50, 49, -10]
    # The clamp applies after rounding and the zero point: 121 * 0.5 = 60.5
    # -> 60 (even), - 10 = 50, inside; 123 * 0.5 = 61.5 -> 62, - 10 = 52 -> 50.
    assert rs([121, 123], HALF, t, clamp=(-10, 50)) == [50, 50]
    # A clamp equal to the storage range changes nothing: -200 -> -210 -> -128.
    assert rs([-200], ONE, t, clamp=(-128, 127)) == [-128]
    # A single-point clamp: everything becomes 7.
    assert rs([-1000, 0, 1000], ONE, t, clamp=(7, 7)) == [7, 7, 7]


def test_rescale_per_channel_axis_1():
    acc = np.array([[3, 5, 5], [-3, -5, 60]], dtype=np.int32)
    # Column 0: * 0.5 (2^30, 31); column 1: * 0.75 (3 * 2^29, 31);
    # column 2: * 2 (2^30, 29).
    # Row 0: 1.5 -> 2; 3.75 -> 4; 10.
    # Row 1: -1.5 -> -2; -3.75 -> -4; 120.
    out = rescale(acc, [2**30, 3 * 2**29, 2**30], [31, 31, 29], per_tensor(1.0), axis=1)
    assert out.tolist() == [[2, 4, 10], [-2, -4, 120]]
    # Toward zero: 1.5 -> 1; 3.75 -> 3; -1.5 -> -1; -3.75 -> -3.
    out = rescale(acc, [2**30, 3 * 2**29, 2**30], [31, 31, 29], per_tensor(1.0), axis=1,
                  rounding="toward_zero")
    assert out.tolist() == [[1, 3, 10], [-1, -3, 120]]
    # Along axis 0: row 0 * 1.0 -> 3, 5, 5; row 1 * 0.5 -> -1.5 -> -2,
    # -2.5 -> -2, 30; then + z = 3.
    out = rescale(acc, np.array([2**30, 2**30]), np.array([30, 31]),
                  per_tensor(1.0, 3), axis=0)
    assert out.tolist() == [[6, 8, 8], [1, 1, 33]]


def test_rescale_zero_multiplier_gives_zero_point():
    # m = 0: p = 0, r = 0, q = z, whatever a is.
    assert rs([2**31 - 1, -(2**31), 0], (0, 62), per_tensor(1.0, -7)) == [-7, -7, -7]


def test_rescale_with_quantize_multiplier():
    # M = 0.75 -> (3 * 2^29, 31); 5 * 0.75 = 3.75 -> 4; -2 * 0.75 = -1.5 -> -2.
    m, n = quantize_multiplier(0.75)
    assert rescale(np.array([5, -2]), [m], [n], per_tensor(1.0)).tolist() == [4, -2]


def test_rescale_accepts_scalar_parameters_and_any_integer_dtype():
    assert rescale(np.array([5], dtype=np.int8), 2**30, 31, per_tensor(1.0)).tolist() == [2]
    assert rescale(np.array([5], dtype=np.uint16), (2**30,), (31,),
                   per_tensor(1.0)).tolist() == [2]


def test_rescale_validation():
    t = per_tensor(1.0)
    a = np.array([1, 2], dtype=np.int32)
    ok = dict(multipliers=[2**30], shifts=[31], out_type=t)
    rescale(a, **ok)
    bad_params = [
        ([2**31], [31]),  # m = 2^31
        ([-1], [31]),  # m < 0
        ([2**30], [0]),  # n = 0
        ([2**30], [63]),  # n = 63
        ([2**30, 2**30], [31]),  # lengths differ
        ([2**30, 2**30], [31, 31]),  # two pairs without an axis
        ([], []),  # no pair
    ]
    for ms, ns in bad_params:
        with pytest.raises(ValueError):
            rescale(a, ms, ns, t)
    with pytest.raises(TypeError):
        rescale(a, [0.5], [31], t)  # a float multiplier
    with pytest.raises(TypeError):
        rescale(a, [2**30], [31.0], t)  # a float shift
    # Accumulators: outside the 32-bit range, or not integers.
    for acc in ([2**31], [-(2**31) - 1]):
        with pytest.raises(ValueError):
            rescale(np.array(acc, dtype=np.int64), **ok)
    with pytest.raises(ValueError):
        rescale(np.array([2**63], dtype=np.uint64), **ok)
    with pytest.raises(TypeError):
        rescale(np.array([1.0]), **ok)
    with pytest.raises(TypeError):
        rescale(np.array([True]), **ok)
    # Clamp bounds outside [qmin, qmax], or lo > hi.
    for clamp in ((-129, 0), (0, 128), (5, 4)):
        with pytest.raises(ValueError):
            rescale(a, **ok, clamp=clamp)
    # Axis: out of range, negative, or a pair count that is not its size.
    acc2 = np.zeros((2, 3), dtype=np.int32)
    with pytest.raises(ValueError):
        rescale(acc2, [2**30] * 3, [31] * 3, t, axis=2)
    with pytest.raises(ValueError):
        rescale(acc2, [2**30] * 3, [31] * 3, t, axis=-1)
    with pytest.raises(ValueError):
        rescale(acc2, [2**30] * 2, [31] * 2, t, axis=1)
    with pytest.raises(ValueError):
        rescale(acc2, [2**30], [31], t, axis=1)
    # Rounding mode, and a result type that is not per-tensor.
    with pytest.raises(ValueError):
        rescale(a, **ok, rounding="floor")
    per_axis = QuantType(storage_bits=8, signed=True, expressed="f32",
                         scales=[1.0, 1.0], axis=0)
    with pytest.raises(ValueError):
        rescale(a, [2**30], [31], per_axis)


# ---------------------------------------------------------------------------
# qnn.add: parameters
# ---------------------------------------------------------------------------


def test_add_parameters_equal_scales():
    # M_a = M_b = 0.5 / 1.0 = 0.5 = 0.5 * 2^0: n = 31, m = 0.5 * 2^31 = 2^30.
    assert add_parameters(0.5, 0.5, 1.0) == (2**30, 2**30, 31)
    # M_a = M_b = 1.0 = 0.5 * 2^1: n = 30, m = 1.0 * 2^30.
    assert add_parameters(0.1, 0.1, 0.1) == (2**30, 2**30, 30)
    m_a, m_b, n = add_parameters(0.5, 0.5, 1.0)
    assert type(m_a) is int and type(m_b) is int and type(n) is int


def test_add_parameters_scales_differing_by_4x():
    # M_a = 1.0 -> (2^30, 30); M_b = 0.25 on its own would be (2^30, 32), but
    # the common shift is the larger's, 30: m_b = 0.25 * 2^30 = 2^28.
    assert add_parameters(1.0, 0.25, 1.0) == (2**30, 2**28, 30)
    # The larger may be either operand: same with a and b swapped.
    assert add_parameters(0.25, 1.0, 1.0) == (2**28, 2**30, 30)
    # M_a = 3 / 2 = 1.5 = 0.75 * 2^1: m_a = 0.75 * 2^31 = 3 * 2^29, n = 30;
    # M_b = 0.75 / 2 = 0.375: m_b = 0.375 * 2^30 = 3 * 2^27.
    assert add_parameters(3.0, 0.75, 2.0) == (3 * 2**29, 3 * 2**27, 30)


def test_add_parameters_rounds_the_smaller_at_the_common_shift():
    # M_b = 0.25 + 2^-31 alone: f = 0.5 + 2^-30, f * 2^31 = 2^30 + 2, n = 32,
    # exact. At the common shift 30 of M_a = 1.0: M_b * 2^30 = 2^28 + 0.5, a
    # tie -> 2^28 (even).
    assert quantize_multiplier(0.25 + 2.0**-31) == (2**30 + 2, 32)
    assert add_parameters(1.0, 0.25 + 2.0**-31, 1.0) == (2**30, 2**28, 30)
    # M_b = 0.25 + 3 * 2^-31: M_b * 2^30 = 2^28 + 1.5, a tie -> 2^28 + 2 (even).
    assert add_parameters(1.0, 0.25 + 3 * 2.0**-31, 1.0) == (2**30, 2**28 + 2, 30)
    # M_b = 0.25 + 2^-31 + 2^-40: above the tie -> 2^28 + 1.
    assert add_parameters(1.0, 0.25 + 2.0**-31 + 2.0**-40, 1.0) == (2**30, 2**28 + 1, 30)
    # A much smaller multiplier can round to 0: M_b = 2^-33, M_b * 2^30 = 1/8 -> 0.
    assert add_parameters(1.0, 2.0**-33, 1.0) == (2**30, 0, 30)
    # M_b * 2^30 = 2^-1, a tie -> 0 (even); 3 * 2^-31 * 2^30 = 1.5 -> 2.
    assert add_parameters(1.0, 2.0**-31, 1.0) == (2**30, 0, 30)
    assert add_parameters(2.0**-31 * 3, 1.0, 1.0) == (2, 2**30, 30)


def test_add_parameters_with_the_larger_clamped_to_n_62():
    # M_a = 2^-40: n = 70 -> 62, m_a = 2^-40 * 2^62 = 2^22; M_b = 2^-42:
    # m_b = 2^20 at the same n = 62.
    assert add_parameters(2.0**-40, 2.0**-42, 1.0) == (2**22, 2**20, 62)


def test_add_parameters_larger_renormalized():
    # M_a = 1 - 2^-40: f * 2^31 rounds to 2^31 -> (2^30, 30), the pair of 1.0.
    # At n = 30, M_a * 2^30 = 2^30 - 2^-10 -> 2^30 as well. M_b = 0.5 -> 2^29.
    assert add_parameters(1.0 - 2.0**-40, 0.5, 1.0) == (2**30, 2**29, 30)


def test_add_parameters_errors():
    # M_a = 2^30 -> n = 0, an error (even though M_b alone would be fine).
    with pytest.raises(ValueError):
        add_parameters(2.0**30, 1.0, 1.0)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        for args in ((bad, 1.0, 1.0), (1.0, bad, 1.0), (1.0, 1.0, bad)):
            with pytest.raises(ValueError):
                add_parameters(*args)
    # M = 1e300 / 1e-300 overflows to inf.
    with pytest.raises(ValueError):
        add_parameters(1e300, 1.0, 1e-300)
    with pytest.raises(TypeError):
        add_parameters("0.5", 1.0, 1.0)
    with pytest.raises(TypeError):
        add_parameters(True, 1.0, 1.0)


# ---------------------------------------------------------------------------
# qnn.add
# ---------------------------------------------------------------------------


def qadd(a, b, pair_a, pair_b, n, at=None, bt=None, ot=None, **kw):
    at = per_tensor(1.0) if at is None else at
    bt = per_tensor(1.0) if bt is None else bt
    ot = per_tensor(1.0) if ot is None else ot
    return add(np.array(a), at, np.array(b), bt, (pair_a, pair_b), n, ot, **kw).tolist()


def test_add_result_is_int64_of_input_shape():
    a = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.int8)
    b = np.array([[1, 1, 1], [2, 2, 2]], dtype=np.int8)
    # 1.0 each (2^30 at n = 30): a + b.
    out = add(a, per_tensor(1.0), b, per_tensor(1.0), [2**30, 2**30], 30, per_tensor(1.0))
    assert out.dtype == np.int64 and out.shape == (2, 3)
    assert out.tolist() == [[2, 3, 4], [6, 7, 8]]
    # 0-d operands: (3 + 4) * 0.5 = 3.5 -> 4.
    out = add(np.int8(3), per_tensor(1.0), np.int8(4), per_tensor(1.0), (2**30, 2**30), 31,
              per_tensor(1.0))
    assert out.dtype == np.int64 and out.shape == () and int(out) == 4


def test_add_ties_each_rounding_mode():
    # 0.5 each (2^30 at n = 31): p / 2^31 = (a + b) / 2.
    # a + b = 3, 5, 7, -3, -5, -7, 4: 1.5, 2.5, 3.5, -1.5, -2.5, -3.5, 2.
    a = [1, 2, 3, -1, -2, -3, 1]
    b = [2, 3, 4, -2, -3, -4, 3]
    assert qadd(a, b, 2**30, 2**30, 31) == [2, 2, 4, -2, -2, -4, 2]
    assert qadd(a, b, 2**30, 2**30, 31, rounding="half_away_from_zero") == [2, 3, 4, -2, -3, -4, 2]
    assert qadd(a, b, 2**30, 2**30, 31, rounding="toward_zero") == [1, 2, 3, -1, -2, -3, 2]


def test_add_different_multipliers():
    # m_a = 2^30, m_b = 2^29 at n = 31: 0.5 * da + 0.25 * db.
    # (1, 0): 0.5 -> 0 (even); (3, 0): 1.5 -> 2; (0, 2): 0.5 -> 0;
    # (1, 4): 1.5 -> 2; (-1, -4): -1.5 -> -2; (1, -2): 0; (2, 1): 1.25 -> 1;
    # (-2, -3): -1.75 -> -2.
    a = [1, 3, 0, 1, -1, 1, 2, -2]
    b = [0, 0, 2, 4, -4, -2, 1, -3]
    assert qadd(a, b, 2**30, 2**29, 31) == [0, 2, 0, 2, -2, 0, 1, -2]
    # Toward zero: 0, 1, 0, 1, -1, 0, 1, -1.
    assert qadd(a, b, 2**30, 2**29, 31, rounding="toward_zero") == [0, 1, 0, 1, -1, 0, 1, -1]
    # m_b = 0: b plays no part; m_a = 2^30 at n = 30 is 1.0.
    assert qadd([5, -7], [100, -100], 2**30, 0, 30) == [5, -7]


def test_add_different_zero_points():
    at = per_tensor(1.0, 3)
    bt = per_tensor(1.0, -2)
    ot = per_tensor(1.0, 5)
    # 1.0 each: da = a - 3, db = b + 2, q = da + db + 5.
    # (3, -2): 0 + 0 + 5 = 5; (10, 0): 7 + 2 + 5 = 14; (-128, 127): -131 + 129 + 5 = 3;
    # (0, -10): -3 - 8 + 5 = -6.
    assert qadd([3, 10, -128, 0], [-2, 0, 127, -10], 2**30, 2**30, 30, at, bt, ot) == [5, 14, 3, -6]
    # Mixed storage: u8 with z = 128 plus i8 with z = 0 into u8 with z = 128.
    # (128, 0): 0 + 0 + 128 = 128; (255, 1): 127 + 1 + 128 = 256 -> 255;
    # (0, -1): -128 - 1 + 128 = -1 -> 0; (200, -50): 72 - 50 + 128 = 150.
    u8 = per_tensor(1.0, 128, signed=False)
    assert qadd([128, 255, 0, 200], [0, 1, -1, -50], 2**30, 2**30, 30, u8, None, u8) == [
        128, 255, 0, 150]


def test_add_zero_point_added_after_rounding():
    ot = per_tensor(1.0, 1)
    # (2 + 3) * 0.5 = 2.5 -> 2, + 1 = 3 (rounding 3.5 would give 4);
    # (-2 - 3) * 0.5 = -2.5 -> -2, + 1 = -1.
    assert qadd([2, -2], [3, -3], 2**30, 2**30, 31, ot=ot) == [3, -1]
    # Away from zero: 2.5 -> 3, + 1 = 4; -2.5 -> -3, + 1 = -2.
    assert qadd([2, -2], [3, -3], 2**30, 2**30, 31, ot=ot,
                rounding="half_away_from_zero") == [4, -2]


def test_add_saturates():
    # 1.0 each into i8: 100 + 100 = 200 -> 127; -100 - 100 = -200 -> -128;
    # 100 + 27 = 127 stays; -100 - 28 = -128 stays; 100 + 28 = 128 -> 127.
    assert qadd([100, -100, 100, -100, 100], [100, -100, 27, -28, 28], 2**30, 2**30, 30) == [
        127, -128, 127, -128, 127]
    # Into u8 with z = 0: -1 + 0 -> 0; 200 + 100 = 300 -> 255.
    u8 = per_tensor(1.0, signed=False)
    i16 = per_tensor(1.0, bits=16)
    assert qadd([-1, 200], [0, 100], 2**30, 2**30, 30, i16, i16, u8) == [0, 255]
    # Narrow range: -100 - 100 = -200 -> -127.
    narrow = per_tensor(1.0, qmin=-127, qmax=127)
    assert qadd([-100], [-100], 2**30, 2**30, 30, ot=narrow) == [-127]


def test_add_largest_products_are_exact():
    # i16 operands with extreme zero points: a - z_a = 32767 - (-32768) = 65535,
    # the largest |a - z_a| of 16-bit storage. m_a = m_b = 2^31 - 1, n = 31:
    # p = 2 * 65535 * (2^31 - 1) = 131070 * 2^31 - 131070 (about 2^48),
    # p / 2^31 = 131070 - 131070 / 2^31: nearest 131070, toward zero 131069.
    lo_z = per_tensor(1.0, -(2**15), bits=16)
    hi_z = per_tensor(1.0, 2**15 - 1, bits=16)
    i32 = per_tensor(1.0, bits=32)
    big = 2**31 - 1
    assert qadd([32767], [32767], big, big, 31, lo_z, lo_z, i32) == [131070]
    assert qadd([32767], [32767], big, big, 31, lo_z, lo_z, i32, rounding="toward_zero") == [131069]
    # Negated: a - z_a = -32768 - 32767 = -65535.
    assert qadd([-32768], [-32768], big, big, 31, hi_z, hi_z, i32) == [-131070]
    assert qadd([-32768], [-32768], big, big, 31, hi_z, hi_z, i32,
                rounding="toward_zero") == [-131069]
    # u16 with z = 0 and with z = 65535: 65535 and -65535 cancel exactly.
    u16 = per_tensor(1.0, bits=16, signed=False)
    u16_top = per_tensor(1.0, 2**16 - 1, bits=16, signed=False)
    assert qadd([65535], [0], big, big, 1, u16, u16_top, i32) == [0]
    # At n = 1 the same p = 131070 * (2^31 - 1) saturates i32 at 2^31 - 1.
    assert qadd([32767], [32767], big, big, 1, lo_z, lo_z, i32) == [2**31 - 1]


def test_add_clamp_relu_folded():
    ot = per_tensor(1.0, -10)
    # 1.0 each, z_y = -10, ReLU as clamp [z_y, qmax] = [-10, 127]:
    # 2 + 4 = 6 -> -4; -3 - 3 = -6 -> -16 -> -10; 0 + 0 -> -10;
    # 100 + 100 = 200 -> 190 -> 127.
    assert qadd([2, -3, 0, 100], [4, -3, 0, 100], 2**30, 2**30, 30, ot=ot,
                clamp=(-10, 127)) == [-4, -10, -10, 127]
    # ReLU6-like [-10, 50]: 30 + 30 = 60 -> 50 -> 50; 30 + 31 = 61 -> 51 -> 50.
    # The clamp applies after rounding: (60 + 61) * 0.5 = 60.5 -> 60 -> 50;
    # (59 + 60) * 0.5 = 59.5 -> 60 -> 50; (58 + 59) * 0.5 = 58.5 -> 58 -> 48.
    assert qadd([30, 30], [30, 31], 2**30, 2**30, 30, ot=ot, clamp=(-10, 50)) == [50, 50]
    assert qadd([60, 59, 58], [61, 60, 59], 2**30, 2**30, 31, ot=ot, clamp=(-10, 50)) == [
        50, 50, 48]


def test_add_with_add_parameters():
    # s_a = 1.0, s_b = 0.25, s_y = 0.5: M_a = 2 = 0.5 * 2^2 -> (2^30, 29);
    # m_b = 0.5 * 2^29 = 2^28. y = 2 * da + 0.5 * db:
    # (1, 1): 2.5 -> 2; (1, 3): 3.5 -> 4; (-1, -1): -2.5 -> -2; (0, 5): 2.5 -> 2.
    m_a, m_b, n = add_parameters(1.0, 0.25, 0.5)
    assert (m_a, m_b, n) == (2**30, 2**28, 29)
    out = add(np.array([1, 1, -1, 0]), per_tensor(1.0), np.array([1, 3, -1, 5]),
              per_tensor(0.25), (m_a, m_b), n, per_tensor(0.5))
    assert out.tolist() == [2, 4, -2, 2]


def test_add_validation():
    t = per_tensor(1.0)
    a = np.array([1, 2], dtype=np.int32)
    b = np.array([3, 4], dtype=np.int32)
    add(a, t, b, t, (2**30, 2**30), 30, t)
    # Shapes differ (no broadcasting), even when they would broadcast.
    with pytest.raises(ValueError):
        add(a, t, np.array([3]), t, (2**30, 2**30), 30, t)
    with pytest.raises(ValueError):
        add(a, t, np.array([[3, 4]]), t, (2**30, 2**30), 30, t)
    # Multipliers: not two, out of [0, 2^31); shift: out of [1, 62], or several.
    for ms, n in (((2**30,), 30), ((2**30,) * 3, 30), ((2**31, 0), 30), ((-1, 0), 30),
                  ((2**30, 2**30), 0), ((2**30, 2**30), 63), ((2**30, 2**30), (30, 30))):
        with pytest.raises(ValueError):
            add(a, t, b, t, ms, n, t)
    with pytest.raises(TypeError):
        add(a, t, b, t, (0.5, 0.5), 30, t)
    with pytest.raises(TypeError):
        add(a, t, b, t, (2**30, 2**30), 30.0, t)
    # Stored values outside their type's range, and non-integer inputs.
    with pytest.raises(ValueError):
        add(np.array([128, 0]), t, b, t, (2**30, 2**30), 30, t)
    with pytest.raises(ValueError):
        add(a, t, np.array([0, -129]), t, (2**30, 2**30), 30, t)
    with pytest.raises(TypeError):
        add(np.array([1.0, 2.0]), t, b, t, (2**30, 2**30), 30, t)
    # Clamp outside [qmin, qmax] or lo > hi; rounding mode.
    for clamp in ((-129, 0), (0, 128), (5, 4)):
        with pytest.raises(ValueError):
            add(a, t, b, t, (2**30, 2**30), 30, t, clamp=clamp)
    with pytest.raises(ValueError):
        add(a, t, b, t, (2**30, 2**30), 30, t, rounding="floor")
    # Types that are not per-tensor, in any of the three places.
    per_axis = QuantType(storage_bits=8, signed=True, expressed="f32", scales=[1.0, 1.0], axis=0)
    for types in ((per_axis, t, t), (t, per_axis, t), (t, t, per_axis)):
        with pytest.raises(ValueError):
            add(a, types[0], b, types[1], (2**30, 2**30), 30, types[2])


def test_add_wide_storage():
    i32 = per_tensor(1.0, bits=32)
    # 32-bit storage works while |p| < 2^62: (2^31 - 1) * 2^30 + 0 < 2^62:
    # at 1.0 each (n = 30), 2^31 - 1 + (-2^31) = -1.
    assert qadd([2**31 - 1], [-(2**31)], 2**30, 2**30, 30, i32, i32, i32) == [-1]
    # a - z_a = 2^31 - 1 - (-2^31) = 2^32 - 1, times m_a = 2^31 - 1, is about
    # 2^63: beyond exact int64, rejected.
    low = per_tensor(1.0, -(2**31), bits=32)
    with pytest.raises(ValueError):
        qadd([2**31 - 1], [0], 2**31 - 1, 0, 31, low, i32, i32)


# ---------------------------------------------------------------------------
# Average pooling
# ---------------------------------------------------------------------------


def nhwc(rows, channels=1):
    """A 1 x H x W x 1 tensor from a list of rows."""
    return np.array(rows, dtype=np.int64).reshape(1, len(rows), len(rows[0]), channels)


def test_average_pool_tie_in_each_rounding_mode():
    t = per_tensor(1.0)
    # 1 x 2 x 4 x 1, 2x2 windows, stride 2: sums 1+2+1+2 = 6 and 2+3+2+3 = 10.
    # c = 4, M = (1 / 4) / 1 = 0.25 -> (2^30, 32): 6/4 = 1.5, 10/4 = 2.5.
    x = nhwc([[1, 2, 2, 3], [1, 2, 2, 3]])
    out = average_pool_nhwc(x, t, (2, 2), (2, 2), 4.0, None, t)
    assert out.dtype == np.int64 and out.shape == (1, 1, 2, 1)
    assert out.ravel().tolist() == [2, 2]
    out = average_pool_nhwc(x, t, (2, 2), (2, 2), 4.0, None, t, rounding="half_away_from_zero")
    assert out.ravel().tolist() == [2, 3]
    out = average_pool_nhwc(x, t, (2, 2), (2, 2), 4.0, None, t, rounding="toward_zero")
    assert out.ravel().tolist() == [1, 2]
    # Negated: -1.5 -> -2, -2.5 -> -2 (even); toward zero -1, -2.
    out = average_pool_nhwc(-x, t, (2, 2), (2, 2), 4.0, None, t)
    assert out.ravel().tolist() == [-2, -2]
    out = average_pool_nhwc(-x, t, (2, 2), (2, 2), 4.0, None, t, rounding="toward_zero")
    assert out.ravel().tolist() == [-1, -2]
    # factor f = 0.25: (1 * 0.25) / 1 = 0.25, the same (m, n).
    out = average_pool_nhwc(x, t, (2, 2), (2, 2), None, 0.25, t)
    assert out.ravel().tolist() == [2, 2]


def test_average_pool_zero_points_and_scales():
    xt = per_tensor(0.5, 3)
    yt = per_tensor(0.25, -1)
    # M = (0.5 / 4) / 0.25 = 0.5 -> (2^30, 31). Window [4, 5, 6, 4] - 3 =
    # [1, 2, 3, 1], acc = 7, 7 * 0.5 = 3.5 -> 4, + z_y = 3. (Averaging the
    # stored values, 19 / 4, would not give this.) Window [3, 3, 3, 4] - 3:
    # acc = 1, 0.5 -> 0 (even), -> -1. Window [0, 0, 0, 0] - 3: acc = -12, -6 -> -7.
    x = nhwc([[4, 5, 3, 3, 0, 0], [6, 4, 3, 4, 0, 0]])
    out = average_pool_nhwc(x, xt, (2, 2), (2, 2), 4.0, None, yt)
    assert out.ravel().tolist() == [3, -1, -7]
    # Same with factor 0.25: (0.5 * 0.25) / 0.25 = 0.5.
    out = average_pool_nhwc(x, xt, (2, 2), (2, 2), None, 0.25, yt)
    assert out.ravel().tolist() == [3, -1, -7]


def test_average_pool_overlapping_windows_batch_and_channels():
    t = per_tensor(1.0)
    # 3 x 3 input, 2x2 windows at stride 1: output 2 x 2, sums
    # 0+1+3+4 = 8, 1+2+4+5 = 12, 3+4+6+7 = 20, 4+5+7+8 = 24; / 4: 2, 3, 5, 6.
    # Channel 1 is the negation, batch 1 is channel 0 plus 1 (sums + 4).
    base = np.arange(9).reshape(3, 3)
    x = np.zeros((2, 3, 3, 2), dtype=np.int64)
    x[0, :, :, 0] = base
    x[0, :, :, 1] = -base
    x[1, :, :, 0] = base + 1
    x[1, :, :, 1] = -base - 1
    out = average_pool_nhwc(x, t, (2, 2), (1, 1), 4.0, None, t)
    assert out.shape == (2, 2, 2, 2)
    assert out[0, :, :, 0].tolist() == [[2, 3], [5, 6]]
    assert out[0, :, :, 1].tolist() == [[-2, -3], [-5, -6]]
    assert out[1, :, :, 0].tolist() == [[3, 4], [6, 7]]
    assert out[1, :, :, 1].tolist() == [[-3, -4], [-6, -7]]
    # Stride (2, 1): OH = (3 - 2) // 2 + 1 = 1, OW = (3 - 2) // 1 + 1 = 2.
    out = average_pool_nhwc(x[:1, :, :, :1], t, (2, 2), (2, 1), 4.0, None, t)
    assert out.shape == (1, 1, 2, 1) and out.ravel().tolist() == [2, 3]
    # Stride 2 on a 4 x 5 input with 2x2 windows: OH = 2 // 2 + 1 = 2,
    # OW = 3 // 2 + 1 = 2 (the last column is never read).
    x45 = nhwc([[1, 1, 5, 5, 100], [1, 1, 5, 5, 100], [2, 2, 6, 6, 100], [2, 2, 6, 6, 100]])
    out = average_pool_nhwc(x45, t, (2, 2), (2, 2), 4.0, None, t)
    assert out.shape == (1, 2, 2, 1) and out[0, :, :, 0].tolist() == [[1, 5], [2, 6]]


def test_average_pool_divisor_three_is_a_fixed_point_approximation():
    t = per_tensor(1.0)
    # 1x3 windows over rows [0, 1, 2], [3, 4, 5], [6, 7, 8]: sums 3, 12, 21.
    # M = 1/3 = (2/3) * 2^-1: n = 32, m = round(2^32 / 3) = round(1431655765.33)
    # = 1431655765 = (2^32 - 1) / 3. So acc * m / 2^32 = acc / 3 * (1 - 2^-32):
    # 3 -> 1 - 2^-32, 12 -> 4 - 4 * 2^-32, 21 -> 7 - 7 * 2^-32.
    assert quantize_multiplier(1.0 / 3.0) == (1431655765, 32)
    x = nhwc([[0, 1, 2], [3, 4, 5], [6, 7, 8]])
    out = average_pool_nhwc(x, t, (1, 3), (1, 1), 3.0, None, t)
    assert out.shape == (1, 3, 1, 1) and out.ravel().tolist() == [1, 4, 7]
    # Toward zero drops the tiny deficit's whole step: 0, 3, 6.
    out = average_pool_nhwc(x, t, (1, 3), (1, 1), 3.0, None, t, rounding="toward_zero")
    assert out.ravel().tolist() == [0, 3, 6]


def test_average_pool_divisor_need_not_be_the_window_size():
    t = per_tensor(1.0)
    # A 2x2 window summed (acc = 1 + 2 + 3 + 4 = 10) and divided by c = 8:
    # M = 1/8 -> (2^30, 33); 10 / 8 = 1.25 -> 1. With c = 0.5 (factor 2):
    # M = 2 -> (2^30, 29); 20.
    x = nhwc([[1, 2], [3, 4]])
    assert average_pool_nhwc(x, t, (2, 2), (1, 1), 8.0, None, t).ravel().tolist() == [1]
    assert average_pool_nhwc(x, t, (2, 2), (1, 1), None, 2.0, t).ravel().tolist() == [20]


def test_average_pool_saturates():
    t = per_tensor(1.0)
    # A 1x1 window with c = 1/4 (factor 4): 40 * 4 = 160 -> 127; -40 * 4 -> -128.
    x = nhwc([[40, -40]])
    out = average_pool_nhwc(x, t, (1, 1), (1, 1), None, 4.0, t)
    assert out.ravel().tolist() == [127, -128]


def test_average_pool_validation():
    t = per_tensor(1.0)
    x = nhwc([[1, 2], [3, 4]])
    average_pool_nhwc(x, t, (2, 2), (1, 1), 4.0, None, t)
    # Exactly one of divisor and factor.
    for divisor, factor in ((None, None), (4.0, 0.25)):
        with pytest.raises(ValueError):
            average_pool_nhwc(x, t, (2, 2), (1, 1), divisor, factor, t)
    # Divisor / factor not positive and finite (c = 0 must not divide by zero).
    for bad in (0.0, -4.0, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            average_pool_nhwc(x, t, (2, 2), (1, 1), bad, None, t)
        with pytest.raises(ValueError):
            average_pool_nhwc(x, t, (2, 2), (1, 1), None, bad, t)
    with pytest.raises(TypeError):
        average_pool_nhwc(x, t, (2, 2), (1, 1), "4", None, t)
    # M >= 2^30: s_x / c / s_y = 2^31 / 1 / 1.
    with pytest.raises(ValueError):
        average_pool_nhwc(x, per_tensor(2.0**31), (2, 2), (1, 1), 1.0, None, t)
    # Window larger than the input, window / strides not positive or not pairs.
    for window, strides in (((3, 2), (1, 1)), ((2, 3), (1, 1)), ((0, 2), (1, 1)),
                            ((2, 2), (0, 1)), ((2, 2), (1, -1)), ((2,), (1, 1)),
                            ((2, 2), (1, 1, 1))):
        with pytest.raises(ValueError):
            average_pool_nhwc(x, t, window, strides, 4.0, None, t)
    with pytest.raises(TypeError):
        average_pool_nhwc(x, t, (2.0, 2), (1, 1), 4.0, None, t)
    # Not rank 4; stored values outside the type; non-integers.
    with pytest.raises(ValueError):
        average_pool_nhwc(np.array([[1, 2], [3, 4]]), t, (2, 2), (1, 1), 4.0, None, t)
    with pytest.raises(ValueError):
        average_pool_nhwc(nhwc([[1, 2], [3, 128]]), t, (2, 2), (1, 1), 4.0, None, t)
    with pytest.raises(TypeError):
        average_pool_nhwc(x.astype(np.float32), t, (2, 2), (1, 1), 4.0, None, t)
    # The window sum must fit i32: 4 * (2^31 - 1) does not.
    i32 = per_tensor(1.0, bits=32)
    big = nhwc([[2**31 - 1] * 2] * 2)
    with pytest.raises(ValueError):
        average_pool_nhwc(big, i32, (2, 2), (1, 1), 4.0, None, i32)
    # Per-axis input or result types; rounding mode.
    per_axis = QuantType(storage_bits=8, signed=True, expressed="f32", scales=[1.0], axis=3)
    with pytest.raises(ValueError):
        average_pool_nhwc(x, per_axis, (2, 2), (1, 1), 4.0, None, t)
    with pytest.raises(ValueError):
        average_pool_nhwc(x, t, (2, 2), (1, 1), 4.0, None, per_axis)
    with pytest.raises(ValueError):
        average_pool_nhwc(x, t, (2, 2), (1, 1), 4.0, None, t, rounding="floor")


# ---------------------------------------------------------------------------
# Bit helpers
# ---------------------------------------------------------------------------


def test_to_bits():
    assert to_bits(np.array([1.0], dtype=f16)).tolist() == [0x3C00]
    assert to_bits(np.array([1.0, -2.0], dtype=f32)).tolist() == [0x3F800000, 0xC0000000]
    assert to_bits(np.array([1.0])).dtype == np.uint64
    assert to_bits(np.array([1.0])).tolist() == [0x3FF0000000000000]
    with pytest.raises(TypeError):
        to_bits(np.array([1]))


def test_round_to_bf16():
    x = np.array([1 + 2.0**-8, 1 + 3 * 2.0**-8, -(1 + 2.0**-8 + 2.0**-9), np.inf, 3.4e38,
                  np.nan], dtype=f32)
    out = round_to_bf16(x)
    # 3.4e38 is above the bf16 maximum (2 - 2^-7) * 2^127 ~ 3.39e38 and past
    # the midpoint to 2^128, so it rounds to inf.
    assert out[:5].tolist() == [1.0, 1 + 2.0**-6, -(1 + 2.0**-7), np.inf, np.inf]
    assert np.isnan(out[5])
    # A NaN whose payload is only in the low 16 bits stays NaN, sign kept.
    nan = np.array([0xFF800001], dtype=np.uint32).view(f32)
    out = round_to_bf16(nan)
    assert np.isnan(out[0]) and to_bits(out)[0] >> 31 == 1


# ---------------------------------------------------------------------------
# Types: parsing, printing, validation
# ---------------------------------------------------------------------------


def test_parse_per_tensor():
    t = parse_quant_type("!quant.uniform<i8:f32, 0.5:-3>")
    assert (t.storage_bits, t.signed, t.qmin, t.qmax, t.expressed) == (8, True, -128, 127, "f32")
    assert t.kind == "per_tensor" and t.scales.shape == () and t.scales.dtype == f64
    assert (float(t.scales), int(t.zero_points)) == (0.5, -3)
    u = parse_quant_type("!quant.uniform<u8:f32, 0.25>")
    assert (u.signed, u.qmin, u.qmax, int(u.zero_points)) == (False, 0, 255, 0)


def test_parse_narrow_range_and_bang_optional():
    t = parse_quant_type("quant.uniform<i8<-127:127>:f32, 1.0>")
    assert (t.qmin, t.qmax, float(t.scales)) == (-127, 127, 1.0)


def test_parse_per_axis():
    t = parse_quant_type("!quant.uniform<i8:f32:1, {0.1:0, 0.2:5, 3.0e-01}>")
    assert t.kind == "per_axis" and t.axis == 1
    assert t.scales.tolist() == [0.1, 0.2, 0.3] and t.zero_points.tolist() == [0, 5, 0]


def test_parse_sub_channel():
    t = parse_quant_type("!quant.uniform<i8:f32:{0:1, 1:2}, {{0.1:1, 0.2}, {0.3, 0.4:-2}}>")
    assert t.kind == "sub_channel" and t.block_sizes == {0: 1, 1: 2}
    # Sub-channel scales are values of E (f32 here): 0.1 is float32(0.1).
    f32 = [[np.float32(0.1), np.float32(0.2)], [np.float32(0.3), np.float32(0.4)]]
    assert t.scales.tolist() == [[float(v) for v in row] for row in f32]
    assert t.zero_points.tolist() == [[1, 0], [0, -2]]


def test_parse_unsigned_sub_channel_zero_points_as_mlir_prints_them():
    """MLIR prints an unsigned sub-channel type's zero points as signed
    integers of the storage width (12 of a u4 as -4, 196 of a u8 as -60);
    they are read back as the unsigned values, as quant-opt reads them."""
    t = parse_quant_type("!quant.uniform<u4<1:15>:f32:{0:4, 1:1}, {{0.1:-4, 0.2:7}}>")
    assert t.zero_points.tolist() == [[12, 7]]
    t = parse_quant_type("!quant.uniform<u8:f32:{0:4}, {0.1:-60, 0.2:0}>")
    assert t.zero_points.tolist() == [196, 0]


def test_sub_channel_scales_are_rounded_to_the_expressed_type():
    # f16: 0.1 = 1.6 * 2^-4, 10 fraction bits: 0.6 * 1024 = 614.4 -> 614,
    # so the scale is 1638 / 16384 = 0.0999755859375.
    t = parse_quant_type("!quant.uniform<i8:f16:{0:1}, {0.1}>")
    assert t.scales.tolist() == [0.0999755859375]
    # bf16: 0.1 = 1.6 * 2^-4, 7 fraction bits: 0.6 * 128 = 76.8 -> 77,
    # so the scale is (128 + 77) / 2048 = 0.10009765625.
    t = parse_quant_type("!quant.uniform<i8:bf16:{0:1}, {0.1}>")
    assert t.scales.tolist() == [0.10009765625]
    # Per-axis scales stay doubles.
    assert parse_quant_type("!quant.uniform<i8:f16:0, {0.1}>").scales.tolist() == [0.1]


def test_parse_expressed_and_storage_types():
    for text, bits, signed, expressed in [
        ("!quant.uniform<i4:f16, 0.5>", 4, True, "f16"),
        ("!quant.uniform<u16:bf16, 0.5>", 16, False, "bf16"),
        ("!quant.uniform<i32:f64, 0.5>", 32, True, "f64"),
        ("!quant.uniform<u32:f32, 0.5>", 32, False, "f32"),
        ("!quant.uniform<i2:f32, 0.5>", 2, True, "f32"),
    ]:
        t = parse_quant_type(text)
        assert (t.storage_bits, t.signed, t.expressed) == (bits, signed, expressed)
    assert parse_quant_type("!quant.uniform<u32:f32, 0.5>").qmax == 2**32 - 1
    assert parse_quant_type("!quant.uniform<i2:f32, 0.5>").qmin == -2


def test_parse_with_shape_checks_the_type():
    text = "!quant.uniform<i8:f32:{1:2}, {{0.1, 0.2}}>"
    assert parse_quant_type(text, shape=(3, 4)).block_sizes == {1: 2}
    with pytest.raises(ValueError):
        parse_quant_type(text, shape=(3, 6))
    with pytest.raises(ValueError):
        parse_quant_type("!quant.uniform<i8:f32:1, {0.1, 0.2}>", shape=(2, 3))


@pytest.mark.parametrize("text", [
    "!quant.uniform<i8:f32, 0.5:-3>",
    "!quant.uniform<u8:f32, 0.25>",
    "!quant.uniform<i8<-127:127>:f32, 1.0>",
    "!quant.uniform<u4<1:14>:bf16, 0.125:8>",
    "!quant.uniform<i8:f32:1, {0.1, 0.2:5, 0.3}>",
    "!quant.uniform<i8:f64:{0:1, 1:2}, {{0.1:1, 0.2}, {0.3, 0.4:-2}}>",
    "!quant.uniform<i4:f32:{1:32}, {{0.5, 0.25}}>",
    "!quant.uniform<i16:f16:{2:4}, {{{0.0009765625:3, 2048.0}}}>",
    "!quant.uniform<i32:f64, 0.1:-2147483648>",
])
def test_format_parse_round_trip(text):
    assert format_quant_type(parse_quant_type(text)) == text


def test_format_parse_round_trip_of_rounded_sub_channel_scales():
    # 0.1 is not an f32 value: formatting prints the f32 value, which parses
    # back to the same type.
    t = parse_quant_type("!quant.uniform<i4:f32:{1:32}, {{0.1, 0.2}}>")
    assert parse_quant_type(format_quant_type(t)) == t


def test_format_canonicalizes():
    t = parse_quant_type("quant.uniform< i8 : f32 : 1 , { 0.1:0 , 2.0 , 3.0e-01:-1 } >")
    assert format_quant_type(t) == "!quant.uniform<i8:f32:1, {0.1, 2.0, 0.3:-1}>"
    # Full-range bounds are not printed; blocked axes are sorted.
    assert format_quant_type(parse_quant_type("!quant.uniform<i8<-128:127>:f32, 1.0>")) == \
        "!quant.uniform<i8:f32, 1.0>"
    assert format_quant_type(parse_quant_type("!quant.uniform<i8:f32:{1:2, 0:1}, {{1.0, 2.0}}>")) \
        == "!quant.uniform<i8:f32:{0:1, 1:2}, {{1.0, 2.0}}>"


def test_parse_format_round_trip_is_exact_for_doubles():
    scales = [0.1, 1 / 3, 1e-5, 1e20, 2.0**-30, 1 + 2.0**-52, 5e-324, 1.7976931348623157e308]
    t = QuantType(storage_bits=8, signed=True, expressed="f64", scales=scales,
                  zero_points=range(len(scales)), axis=0)
    assert parse_quant_type(format_quant_type(t)) == t
    for s in scales:
        back = parse_quant_type(format_quant_type(per_tensor(s)))
        assert to_bits(back.scales).tolist() == to_bits(f64(s)).tolist()


@pytest.mark.parametrize("text", [
    "!quant.uniform<i8:f32, 1e-3>",  # MLIR float literals need a '.'
    "!quant.uniform<i8:f32, 1>",
    "!quant.uniform<i33:f32, 1.0>",
    "!quant.uniform<i8:f8, 1.0>",
    "!quant.uniform<i8<-129:127>:f32, 1.0>",
    "!quant.uniform<i8<5:4>:f32, 1.0>",
    "!quant.uniform<i8:f32, -1.0>",
    "!quant.uniform<i8:f32, 0.0>",
    "!quant.uniform<i8:f32, {1.0}>",
    "!quant.uniform<i8:f32:0, 1.0>",
    "!quant.uniform<i8:f32:0, {{1.0}}>",
    "!quant.uniform<i8:f32:{0:1, 1:2}, {{0.1, 0.2}, {0.3}}>",
    "!quant.uniform<i8:f32:{2:1}, {{0.1}}>",
    "!quant.uniform<i8:f32:{0:1, 0:2}, {0.1}>",
    "!quant.uniform<i8:f32, 1.0> extra",
    "!quant.uniform<i8:f32, 1.0",
    "!quant.any<i8:f32>",
])
def test_parse_rejects(text):
    with pytest.raises(ValueError):
        parse_quant_type(text)


def test_quant_type_defaults_and_kind():
    t = QuantType(storage_bits=8, signed=False, expressed="f32", scales=0.5)
    assert (t.qmin, t.qmax, int(t.zero_points), t.kind) == (0, 255, 0, "per_tensor")
    assert t.zero_points.dtype == np.int64
    with pytest.raises(ValueError):
        QuantType(storage_bits=8, signed=True, expressed="f32", scales=[0.5, 1.0])
    with pytest.raises(ValueError):
        QuantType(storage_bits=8, signed=True, expressed="f32", scales=0.5, zero_points=2**62)


def test_average_pool_dilated():
    t = per_tensor(1.0)
    # 1 x 5 x 5 x 1 of 0..24, 2x2 windows dilated by 2: window (0, 0) reads
    # 0, 2, 10, 12 (sum 24, / 4 = 6); output (5 - 3) // 1 + 1 = 3 per axis.
    x = nhwc(np.arange(25).reshape(5, 5).tolist())
    out = average_pool_nhwc(x, t, (2, 2), (1, 1), 4.0, None, t, dilations=(2, 2))
    assert out.shape == (1, 3, 3, 1)
    # Each output is the window's mean, (a + a+2 + a+10 + a+12) / 4 = a + 6.
    assert out[0, :, :, 0].tolist() == [[6, 7, 8], [11, 12, 13], [16, 17, 18]]
    # Dilation (1, 3), strides (2, 1): columns j and j + 3, rows i, i + 1.
    out = average_pool_nhwc(x, t, (2, 2), (2, 1), 4.0, None, t, dilations=(1, 3))
    assert out.shape == (1, 2, 2, 1)
    # Window at (0, 0): 0, 3, 5, 8 -> 16 / 4 = 4.
    assert out[0, :, :, 0].tolist() == [[4, 5], [14, 15]]
    with pytest.raises(ValueError, match="dilated by"):
        average_pool_nhwc(x, t, (3, 3), (1, 1), 9.0, None, t, dilations=(3, 1))


@pytest.mark.parametrize("kind", ["matmul", "nhwc", "nchw", "depthwise"])
@pytest.mark.parametrize("above", [False, True])
def test_integer_contraction_through_blas_is_exact(kind, above):
    """fusion_check.forward computes integer contractions through float32
    BLAS only where every partial sum is below 2^24. Operands with sums just
    below that, and with odd sums just above it (which float32 cannot hold),
    give numpy's exact int64 result."""
    import math

    from quant_opt.fusion_check import Layer, forward

    shapes = {"matmul": ((3, 40), (40, 5)), "nhwc": ((2, 6, 6, 4), (3, 3, 4, 5)),
              "nchw": ((2, 4, 6, 6), (5, 4, 3, 3)), "depthwise": ((2, 6, 6, 4), (3, 3, 4))}
    terms = {"matmul": 40, "nhwc": 36, "nchw": 36, "depthwise": 9}[kind]
    x_shape, w_shape = shapes[kind]
    if above:
        # (terms * a - 1) * 127 is odd (a even) and above 2^24.
        a = math.ceil((2**24 / 127 + 1) / terms)
        a += a % 2
    else:
        a = (2**24 - 1) // (127 * terms)
    x = np.full(x_shape, a, dtype=np.int64)
    x.flat[0] = a - 1
    w = np.full(w_shape, 127, dtype=np.int64)
    layer = Layer(kind=kind, x_shape=x_shape[1:], w=w.astype(np.float32), bias=None, activation="none",
                  strides=1)
    got = forward(layer, x, w, np.int64)
    # The definition: numpy's int64 contraction, no float anywhere.
    if kind == "matmul":
        want = x @ w
    elif kind == "nhwc":
        want = np.einsum("nhwcij,ijcf->nhwf", np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(1, 2)), w)
    elif kind == "nchw":
        want = np.einsum("nchwij,fcij->nfhw", np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(2, 3)), w)
    else:
        want = np.einsum("nhwcij,ijc->nhwc", np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(1, 2)), w)
    assert (want.max() > 2**24) == above and ((want > 2**24) & (want % 2 == 1)).any() == above
    assert got.dtype == np.int64 and np.array_equal(got, want)
