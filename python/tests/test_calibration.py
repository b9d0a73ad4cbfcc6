"""Tests of quant_opt.calibration against hand-worked values from docs/Calibration.md.

Every expected value below is derived by hand (the derivation is in the
comment); none is copied from running the code. Where an expected value is
written as an expression (``4 / 255``) it is the same double-precision
operation the spec prescribes, so equality is exact.
"""

import json
import math

import numpy as np
import pytest

import quant_opt.calibration as cal

from quant_opt.calibration import (
    Histogram,
    TensorStatistics,
    choose_parameters,
    dump_statistics,
    estimate_range,
    load_statistics,
    weight_parameters,
)

U8 = (0, 255)
I8 = (-128, 127)
I8_NARROW = (-127, 127)


def integer_histogram(lo_center, hi_center, counts):
    """Histogram whose bin i has center lo_center + i exactly (w = 1).

    Range [lo_center - 0.5, hi_center + 0.5] with B = hi_center - lo_center + 1
    bins, so w = B / B = 1 and c_i = lo_center - 0.5 + (i + 0.5) = lo_center + i.
    ``counts`` maps a center to its count; every other bin is empty.
    """
    bins = np.zeros(hi_center - lo_center + 1, dtype=np.int64)
    for center, n in counts.items():
        bins[center - lo_center] = n
    return Histogram(lo_center - 0.5, hi_center + 0.5, bins)


def stats_with(lo, hi, histogram):
    return TensorStatistics(lo, hi, int(histogram.bins.sum()), histogram)


# --------------------------------------------------------------------------
# choose_parameters
# --------------------------------------------------------------------------


def test_asymmetric_u8():
    # s = (3 - (-1)) / (255 - 0) = 4/255; lo/s = -1 / (4/255) = -63.75 -> -64;
    # z = 0 - (-64) = 64.
    assert choose_parameters(-1.0, 3.0, *U8, symmetric=False) == (4 / 255, 64)


def test_asymmetric_i8():
    # s = 4/255; z = -128 - round(-63.75) = -128 + 64 = -64.
    assert choose_parameters(-1.0, 3.0, *I8, symmetric=False) == (4 / 255, -64)


def test_asymmetric_zero_point_rounds_half_to_even():
    # [-2.5, 252.5]: s = 255 / 255 = 1; lo/s = -2.5 -> -2 (even), z = 2
    # (half away from zero would give 3).
    assert choose_parameters(-2.5, 252.5, *U8, symmetric=False) == (1.0, 2)
    # [-3.5, 251.5]: s = 1; -3.5 -> -4 (even), z = 4.
    assert choose_parameters(-3.5, 251.5, *U8, symmetric=False) == (1.0, 4)


def test_symmetric_i8():
    # z = floor((-128 + 127 + 1) / 2) = 0; t = max(1, 3) = 3; s = 3 / (127 - 0).
    assert choose_parameters(-1.0, 3.0, *I8, symmetric=True) == (3 / 127, 0)
    # t = max(|-4|, |2|) = 4.
    assert choose_parameters(-4.0, 2.0, *I8, symmetric=True) == (4 / 127, 0)


def test_symmetric_i8_narrow():
    # z = floor((-127 + 127 + 1) / 2) = floor(0.5) = 0; s = 3 / 127.
    assert choose_parameters(-1.0, 3.0, *I8_NARROW, symmetric=True) == (3 / 127, 0)


def test_symmetric_u8():
    # z = floor((0 + 255 + 1) / 2) = 128; s = 3 / (255 - 128) = 3/127.
    assert choose_parameters(-1.0, 3.0, *U8, symmetric=True) == (3 / 127, 128)
    # u8<1:255>: z = floor(257 / 2) = 128; s = 3 / 127.
    assert choose_parameters(-1.0, 3.0, 1, 255, symmetric=True) == (3 / 127, 128)


def test_widening_to_contain_zero():
    # [2, 5] -> [0, 5]: s = 5/255, z = 0 - round(0 / s) = 0.
    assert choose_parameters(2.0, 5.0, *U8, symmetric=False) == (5 / 255, 0)
    # i8: z = -128 - 0 = -128.
    assert choose_parameters(2.0, 5.0, *I8, symmetric=False) == (5 / 255, -128)
    # [-4, -2] -> [-4, 0]: s = 4/255; lo/s = -255 exactly; z = 0 + 255 = 255.
    assert choose_parameters(-4.0, -2.0, *U8, symmetric=False) == (4 / 255, 255)
    # symmetric [2, 5] -> [0, 5]: t = 5, s = 5/127.
    assert choose_parameters(2.0, 5.0, *I8, symmetric=True) == (5 / 127, 0)


def test_empty_range_gives_scale_one():
    # [0, 0]: s = 0 -> 1; asymmetric z = qmin - round(0 / 1) = qmin.
    assert choose_parameters(0.0, 0.0, *U8, symmetric=False) == (1.0, 0)
    assert choose_parameters(0.0, 0.0, *I8, symmetric=False) == (1.0, -128)
    # symmetric: z does not depend on the range.
    assert choose_parameters(0.0, 0.0, *I8, symmetric=True) == (1.0, 0)
    assert choose_parameters(0.0, 0.0, *U8, symmetric=True) == (1.0, 128)


def test_choose_parameters_rejects_bad_input():
    with pytest.raises(ValueError):
        choose_parameters(3.0, 1.0, *U8, symmetric=False)  # lo > hi
    with pytest.raises(ValueError):
        choose_parameters(0.0, float("nan"), *U8, symmetric=False)
    with pytest.raises(ValueError):
        choose_parameters(0.0, 1.0, 5, 5, symmetric=False)  # qmin == qmax
    with pytest.raises(ValueError):
        # z = floor((0 + 1 + 1) / 2) = 1 = qmax: s = t / 0.
        choose_parameters(0.0, 1.0, 0, 1, symmetric=True)


# --------------------------------------------------------------------------
# minmax and percentile
# --------------------------------------------------------------------------


def test_minmax():
    st = TensorStatistics(-1.5, 3.25, 10, None)
    assert estimate_range(st, "minmax", False, *U8) == (-1.5, 3.25)
    # then [-1.5, 3.25] -> s = 4.75/255, lo/s = -1.5 * 255 / 4.75 = -80.53 -> -81, z = 81.
    lo, hi = estimate_range(st, "minmax", False, *U8)
    assert choose_parameters(lo, hi, *U8, symmetric=False) == (4.75 / 255, 81)


def test_percentile_interpolates_inside_a_bin():
    # Histogram over [-2, 2], B = 4, w = 1, bins [4, 0, 8, 4], N = 16.
    # C_0..C_4 = 0, 4, 4, 12, 16.
    st = stats_with(-2.0, 2.0, Histogram(-2.0, 2.0, [4, 0, 8, 4]))
    # p = 87.5: u = 0.875, u*N = 14: first bin with C_{i+1} >= 14 is i = 3;
    #   Q = -2 + (3 + (14 - 12) / 4) * 1 = 1.5.
    # 1 - u = 0.125, u*N = 2: i = 0 (C_1 = 4 >= 2);
    #   Q = -2 + (0 + 2 / 4) * 1 = -1.5.
    assert estimate_range(st, "percentile", False, *U8, percentile=87.5) == (-1.5, 1.5)
    # p = 75: u*N = 12: i = 2 (C_3 = 12 >= 12, C_2 = 4 < 12);
    #   Q = -2 + (2 + (12 - 4) / 8) = 1.
    # u*N = 4: i = 0 (C_1 = 4 >= 4); Q = -2 + (0 + 4 / 4) = -1.
    assert estimate_range(st, "percentile", False, *U8, percentile=75) == (-1.0, 1.0)


def test_percentile_with_wide_bins():
    # [0, 8], bins [2, 2]: w = 4, N = 4. p = 87.5:
    # u*N = 3.5: i = 1 (C_2 = 4 >= 3.5); Q = 0 + (1 + (3.5 - 2) / 2) * 4 = 7.
    # u*N = 0.5: i = 0 (C_1 = 2 >= 0.5); Q = 0 + (0 + 0.5 / 2) * 4 = 1.
    st = stats_with(0.0, 8.0, Histogram(0.0, 8.0, [2, 2]))
    assert estimate_range(st, "percentile", True, *I8, percentile=87.5) == (1.0, 7.0)


def test_percentile_skips_empty_bins():
    # bins [0, 4, 8, 4] over [-2, 2], p = 100: u*N = 0 for the low end: bin 0
    # has C_1 = 0 >= 0 but n_0 = 0, so i = 1: Q = -2 + (1 + 0 / 4) = -1.
    # High end: u*N = 16: i = 3 (C_4 = 16); Q = -2 + (3 + (16 - 12) / 4) = 2.
    st = stats_with(-2.0, 2.0, Histogram(-2.0, 2.0, [0, 4, 8, 4]))
    assert estimate_range(st, "percentile", False, *U8, percentile=100) == (-1.0, 2.0)


def test_percentile_is_clamped_to_min_max():
    # Same histogram as above at p = 87.5 gives (-1.5, 1.5) before clamping.
    h = Histogram(-2.0, 2.0, [4, 0, 8, 4])
    st = TensorStatistics(-1.25, 1.25, 16, h)
    assert estimate_range(st, "percentile", False, *U8, percentile=87.5) == (-1.25, 1.25)
    st = TensorStatistics(-1.75, 1.25, 16, h)
    assert estimate_range(st, "percentile", False, *U8, percentile=87.5) == (-1.5, 1.25)


def test_percentile_default_is_99_99():
    # One bin [0, 1], n = 10: Q(u) = 0 + (0 + u*10 / 10) * 1 = u (up to rounding):
    # [Q(0.0001), Q(0.9999)].
    st = stats_with(0.0, 1.0, Histogram(0.0, 1.0, [10]))
    lo, hi = estimate_range(st, "percentile", False, *U8)
    assert lo == pytest.approx(0.0001, rel=1e-12)
    assert hi == pytest.approx(0.9999, rel=1e-12)


def test_percentile_rejects_bad_input():
    st = stats_with(0.0, 1.0, Histogram(0.0, 1.0, [0, 0]))
    with pytest.raises(ValueError, match="conv1"):
        estimate_range(st, "percentile", False, *U8, name="conv1")  # N = 0
    st = stats_with(0.0, 1.0, Histogram(0.0, 1.0, [1]))
    with pytest.raises(ValueError):
        estimate_range(st, "percentile", False, *U8, percentile=100.5)


@pytest.mark.parametrize("method", ["percentile", "mse", "entropy"])
def test_missing_histogram_names_the_id(method):
    st = TensorStatistics(0.0, 1.0, 3, None)
    with pytest.raises(ValueError, match="conv7"):
        estimate_range(st, method, False, *U8, name="conv7")


def test_unknown_method():
    with pytest.raises(ValueError):
        estimate_range(TensorStatistics(0.0, 1.0, 1, None), "max", False, *U8)


# --------------------------------------------------------------------------
# mse
# --------------------------------------------------------------------------


def test_mse_clips_a_far_outlier():
    # 2-bit unsigned [0, 3], asymmetric. min = 0, max = 128, so candidate k is
    # [0, k], s = k / 3, z = 0 - round(0) = 0: levels 0, k/3, 2k/3, k.
    # Centers (w = 1): 0 (n = 1000), 3 (n = 10^6), 128 (n = 1).
    # - Center 0 is always exact.
    # - Center 3 is exact only when 3 is a level: 3 = j*k/3 -> jk = 9 -> k = 3
    #   (j = 3) or k = 9 (j = 1). Otherwise its error is >= 1/3 (|9 - jk| / 3
    #   with jk an integer, or 3 - k >= 1 when clipped), costing
    #   >= 10^6 / 9 > 111111.
    # - k = 9: s = 3; 128 / 3 = 42.7 -> 43, clamped to 3 -> 9; E = 119^2 = 14161.
    # - k = 3: s = 1; 128 -> 3; E = 125^2 = 15625.
    # - k = 128 (the full range): 3 / (128/3) = 0.07 -> 0, E >= 9 * 10^6.
    # So k = 9 wins: [0 * 9/128, 128 * 9/128] = [0, 9].
    h = integer_histogram(0, 128, {0: 1000, 3: 10**6, 128: 1})
    st = stats_with(0.0, 128.0, h)
    assert estimate_range(st, "mse", False, 0, 3) == (0.0, 9.0)


def test_mse_keeps_the_full_range_when_it_is_exact():
    # [0, 3] asymmetric, min = 0, max = 96: k = 128 gives s = 96 / 3 = 32,
    # levels 0, 32, 64, 96; centers 0 and 96 are exact, E_128 = 0 <= every E_k,
    # and k = 128 is the largest candidate.
    h = integer_histogram(0, 96, {0: 1000, 96: 1})
    st = stats_with(0.0, 96.0, h)
    assert estimate_range(st, "mse", False, 0, 3) == (0.0, 96.0)


def test_mse_ties_go_to_the_larger_k():
    # Symmetric storage [-2, 2]: z = floor((-2 + 2 + 1) / 2) = 0, s = t_k / 2.
    # min = -128, max = 128 -> t = 128, t_k = k: levels 0, +-k/2, +-k.
    # Centers: 0 (n = 1000), 6 (n = 10^6), 9 (n = 1).
    # - Center 6 is exact only for k = 12 (6 = k/2) or k = 6 (6 = k);
    #   otherwise |12 - jk| / 2 >= 1/2 (or 6 - k >= 1 when clipped), costing
    #   >= 10^6 / 4.
    # - k = 6: s = 3; 9 / 3 = 3 -> clamped to 2 -> 6; E = 3^2 = 9.
    # - k = 12: s = 6; 9 / 6 = 1.5 -> 2 -> 12; E = 3^2 = 9.
    # A tie; the larger k = 12 wins: [-12, 12].
    h = integer_histogram(-128, 128, {0: 1000, 6: 10**6, 9: 1})
    st = stats_with(-128.0, 128.0, h)
    assert estimate_range(st, "mse", True, -2, 2) == (-12.0, 12.0)


def test_mse_symmetric_clips_an_outlier():
    # Symmetric [-1, 1]: z = floor(1 / 2) = 0, s = t_k = k: levels -k, 0, k.
    # Centers -5 (n = 10^6), 0 (n = 1000), 100 (n = 1); t = 128, t_k = k.
    # -5 is exact only for k = 5, else its error is >= 1 (integer k).
    # k = 5: 100 -> clamped to 5; E = 95^2 = 9025 < 10^6. Result [-5, 5].
    h = integer_histogram(-128, 128, {-5: 10**6, 0: 1000, 100: 1})
    st = stats_with(-128.0, 128.0, h)
    assert estimate_range(st, "mse", True, -1, 1) == (-5.0, 5.0)


def test_mse_all_zero_error_picks_k_128():
    # Only center 0 is populated: it is exact for every candidate, E_k = 0 for
    # all k, and the tie goes to k = 128: [min, max].
    h = integer_histogram(0, 128, {0: 50})
    st = stats_with(0.0, 128.0, h)
    assert estimate_range(st, "mse", False, *U8) == (0.0, 128.0)


# --------------------------------------------------------------------------
# entropy
# --------------------------------------------------------------------------


def test_entropy_magnitude_histogram_folds_and_copies_the_zero_bin():
    # w = 1. Centers -1.5, -0.5, 0.5, 1.5 fall in |x| bins 1, 0, 0, 1:
    # [2 + 3, 1 + 4], then bin 0 takes bin 1's count.
    assert cal._magnitude_histogram(Histogram(-2.0, 2.0, [1, 2, 3, 4])) == [5, 5]
    # From 0: the same bins, the ReLU spike at 0 replaced by bin 1's count.
    assert cal._magnitude_histogram(Histogram(0.0, 3.0, [7, 1, 2])) == [1, 1, 2]
    # Not from 0: centers 1 and 2 land in bins 1 and 2 of [0, 3).
    assert cal._magnitude_histogram(Histogram(0.0, 3.0, [0, 3, 4])) == [3, 3, 4]
    # Far from 0 the bins widen to max(|min|, |max|) / B, so that there are
    # at most B + 1 of them: [1000, 1001] in 8 bins -> width 1001 / 8;
    # every center (1000.06 .. 1000.94) is in bin 7. One candidate (fewer
    # than 128 bins): T = 8 * 1001 / 8, the range [min, max].
    far = Histogram(1000.0, 1001.0, [1] * 8)
    assert cal._magnitude_histogram(far) == [0] * 7 + [8]
    assert estimate_range(stats_with(1000.0, 1001.0, far), "entropy", False, *U8) == (1000.0, 1001.0)


def test_entropy_divergence_of_one_threshold():
    # i = 256: bin j is in level j * 128 // 256 = j // 2. Bins 10 (3) and 11
    # (1) share level 5, whose total 4 Q spreads as 2 and 2:
    # KL = 3/4 ln(3/2) + 1/4 ln(1/2) = 0.1308.
    n = [0] * 10 + [3, 1] + [0] * 244
    assert cal._threshold_divergence(n, 256) == pytest.approx(
        0.75 * math.log(1.5) + 0.25 * math.log(0.5), rel=1e-12)
    # i = 200: the count above (bin 255) is clipped into bin 199, which holds
    # nothing, so Q is 0 where P is not: +inf.
    assert cal._threshold_divergence([0] * 10 + [3, 1] + [0] * 243 + [1], 200) == math.inf
    # Nothing clipped and one bin per level: Q = P, KL = 0.
    assert cal._threshold_divergence([4, 0, 7, 1] + [0] * 124, 128) == 0.0


def _alternating_with_outlier():
    """|x| bins 0..127 alternate 10, 20 (bin 0 becomes bin 1's 20); bin 255
    holds one outlier.

    - T = 256 (i = 256): levels are pairs; the 63 pairs (10, 20) become
      (15, 15): KL = 63/1931 (10 ln(2/3) + 20 ln(4/3)) = 0.0554.
    - i in 129..255: the outlier is clipped into bin i - 1, which is empty:
      KL = +inf.
    - i = 128: one bin per level; the outlier is clipped into bin 127 (20 ->
      21): KL = 1910/1931 ln(1930/1931) + 21/1931 ln(21 * 1930 / (20 * 1931))
      = 1.3e-5, the least: T = 128.
    """
    return [10 if j % 2 == 0 else 20 for j in range(128)] + [0] * 127 + [1]


def test_entropy_clips_an_outlier_at_the_least_divergent_threshold():
    bins = _alternating_with_outlier()
    st = stats_with(0.0, 256.0, Histogram(0.0, 256.0, bins))
    assert estimate_range(st, "entropy", False, *U8) == (0.0, 128.0)
    assert estimate_range(st, "entropy", True, -128, 127) == (-128.0, 128.0)


def test_entropy_folds_negative_values():
    # The same magnitudes with the outlier on the negative side: over
    # [-256, 256] (w = 1) bin b has center b - 255.5, so |x| bin 255 is b = 0
    # and |x| bin j < 128 is b = 256 + j. T = 128: asymmetric [max(min, -T),
    # min(max, T)] = [-128, 128].
    magnitudes = _alternating_with_outlier()
    bins = [0] * 512
    bins[0] = magnitudes[255]
    for j in range(128):
        bins[256 + j] = magnitudes[j]
    st = stats_with(-256.0, 128.0, Histogram(-256.0, 256.0, bins))
    assert estimate_range(st, "entropy", False, *U8) == (-128.0, 128.0)


def test_entropy_keeps_the_whole_range_when_nothing_is_lost():
    # Equal counts in all 256 bins: T = 256 represents them exactly (pairs of
    # equal counts), KL = 0; every smaller threshold clips: the whole range.
    st = stats_with(0.0, 256.0, Histogram(0.0, 256.0, [5] * 256))
    assert estimate_range(st, "entropy", False, *U8) == (0.0, 256.0)
    # Fewer than 128 bins: the whole range is the only candidate.
    st = stats_with(0.0, 4.0, Histogram(0.0, 4.0, [9, 0, 0, 1]))
    assert estimate_range(st, "entropy", False, *U8) == (0.0, 4.0)
    # An empty histogram: KL = 0 everywhere, the tie goes to the largest.
    st = TensorStatistics(0.0, 200.0, 0, Histogram(0.0, 200.0, [0] * 200))
    assert estimate_range(st, "entropy", False, *U8) == (0.0, 200.0)


# --------------------------------------------------------------------------
# weight_parameters
# --------------------------------------------------------------------------


def test_weights_per_tensor():
    # Whole tensor: [-1, 3] -> s = 4/255, z = 64 (as test_asymmetric_u8).
    w = np.array([[-1.0, 3.0], [0.5, 2.0]], dtype=np.float32)
    s, z = weight_parameters(w, *U8, symmetric=False)
    assert s.shape == () and z.shape == ()
    assert s.dtype == np.float64 and z.dtype == np.int64
    assert float(s) == 4 / 255 and int(z) == 64


def test_weights_per_channel():
    w = np.array([[-1.0, 3.0, 0.0], [2.0, 5.0, 3.0], [0.0, 0.0, 0.0]], dtype=np.float32)
    # axis 0 (rows): [-1, 3] -> (4/255, 64); [2, 5] -> [0, 5] -> (5/255, 0);
    # [0, 0] -> (1, 0).
    s, z = weight_parameters(w, *U8, symmetric=False, axis=0)
    assert s.tolist() == [4 / 255, 5 / 255, 1.0]
    assert z.tolist() == [64, 0, 0]
    # axis 1 (columns), symmetric i8: [-1, 2] -> t = 2; [0, 5] -> 5; [0, 3] -> 3.
    s, z = weight_parameters(w, *I8, symmetric=True, axis=1)
    assert s.tolist() == [2 / 127, 5 / 127, 3 / 127]
    assert z.tolist() == [0, 0, 0]


def test_weights_widened_for_the_bias():
    """docs/Calibration.md, "Weights and the bias": the test
    insert-qdq-bias-range.mlir by hand. Input s_x = 4/255; channel 1 has
    weights +-1e-9 and bias 1.0: R = 1 / (s_x 2^30) * 254 / 2 and
    s = R / 127 = 255 / (4 * 2^30); channel 0 (bias 0) keeps 0.5 / 127."""
    w = np.array([[0.5, 1.0e-9], [0.25, -1.0e-9]], dtype=np.float32)
    s_x = 4 / 255
    widen = np.abs([0.0, 1.0]) / (s_x * 2.0 ** 30) * (127 - -127) / 2
    s, z = weight_parameters(w, -127, 127, symmetric=True, axis=1, widen=widen)
    assert s[0] == np.float32(0.5) / 127
    assert s[1] == 255 / (4 * 2.0 ** 30)
    assert 1.0 / (s_x * s[1]) == 2.0 ** 30
    # Per tensor, the largest R applies to the whole tensor; nothing below
    # the tensor's own range changes anything.
    s, _ = weight_parameters(w, -127, 127, symmetric=True, widen=widen.max())
    assert s == np.float32(0.5) / 127
    s, _ = weight_parameters(w, -127, 127, symmetric=True, widen=1.0)
    assert s == 1.0 / 127


def test_weights_per_group():
    w = np.array([[1.0, -2.0, 0.5, 0.25], [-3.0, 4.0, 0.0, 0.0]])
    # block {0: 1, 1: 2} on shape (2, 4): parameter shape (2/1, 4/2) = (2, 2).
    # Symmetric i8: blocks (0,0) = {1, -2} -> 2/127; (0,1) = {0.5, 0.25} ->
    # 0.5/127; (1,0) = {-3, 4} -> 4/127; (1,1) = {0, 0} -> s = 1.
    s, z = weight_parameters(w, *I8, symmetric=True, block={0: 1, 1: 2})
    assert s.shape == (2, 2)
    assert s.tolist() == [[2 / 127, 0.5 / 127], [4 / 127, 1.0]]
    assert z.tolist() == [[0, 0], [0, 0]]
    # block {1: 2} alone: axis 0 is unlisted, so both rows form one block:
    # shape (1, 2). Columns 0-1 = {1, -2, -3, 4} -> t = 4, s = 4/127;
    # columns 2-3 = {0.5, 0.25, 0, 0} -> s = 0.5/127.
    s, z = weight_parameters(w, *I8, symmetric=True, block={1: 2})
    assert s.shape == (1, 2)
    assert s.tolist() == [[4 / 127, 0.5 / 127]]
    assert z.tolist() == [[0, 0]]
    # block {0: 2}: axis 1 is unlisted, a single block: shape (1, 1), the
    # whole tensor [-3, 4]: asymmetric u8 s = 7/255, -3 / (7/255) = -109.29 ->
    # -109, z = 109.
    s, z = weight_parameters(w, *U8, symmetric=False, block={0: 2})
    assert s.shape == (1, 1)
    assert s.tolist() == [[7 / 255]] and z.tolist() == [[109]]
    # block {0: 1, 1: 4}: one block per row: shape (2, 1).
    # Row 0: [-2, 1] -> s = 3/255, -2 / (3/255) = -170 -> z = 170.
    # Row 1: [-3, 4] -> (7/255, 109).
    s, z = weight_parameters(w, *U8, symmetric=False, block={0: 1, 1: 4})
    assert s.shape == (2, 1)
    assert s.tolist() == [[3 / 255], [7 / 255]] and z.tolist() == [[170], [109]]


def test_weights_reject_bad_layouts():
    w = np.zeros((2, 3))
    with pytest.raises(ValueError):
        weight_parameters(w, *U8, symmetric=False, block={1: 2})  # 2 does not divide 3
    with pytest.raises(ValueError):
        weight_parameters(w, *U8, symmetric=False, axis=2)
    with pytest.raises(ValueError):
        weight_parameters(w, *U8, symmetric=False, axis=0, block={0: 1})


# --------------------------------------------------------------------------
# The statistics file
# --------------------------------------------------------------------------


def good_document():
    return {
        "format": "quant-opt-calibration-statistics",
        "version": 1,
        "tensors": {
            "conv1": {
                "min": -1.5,
                "max": 3.25,
                "count": 4096,
                "histogram": {"min": -1.5, "max": 3.25, "bins": [12, 0, 40, 3]},
            },
            "relu": {"min": 0, "max": 6, "count": 7},
        },
    }


def write(tmp_path, doc, name="stats.json"):
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def test_load_the_spec_example(tmp_path):
    stats = load_statistics(write(tmp_path, good_document()))
    assert list(stats) == ["conv1", "relu"]
    conv1 = stats["conv1"]
    assert (conv1.min, conv1.max, conv1.count) == (-1.5, 3.25, 4096)
    assert conv1.histogram.min == -1.5 and conv1.histogram.max == 3.25
    assert conv1.histogram.bins.dtype == np.int64
    assert conv1.histogram.bins.tolist() == [12, 0, 40, 3]
    relu = stats["relu"]
    assert (relu.min, relu.max, relu.count, relu.histogram) == (0.0, 6.0, 7, None)
    assert isinstance(relu.min, float)


def _edit(edit):
    doc = good_document()
    edit(doc)
    return doc


def _set(path, value):
    def edit(doc):
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return edit


def _delete(path):
    def edit(doc):
        node = doc
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return edit


BAD_DOCUMENTS = [
    # (edit, JSON path in the message, words in the message)
    (_delete(["tensors", "conv1", "count"]), "tensors.conv1.count", "missing"),
    (_delete(["tensors", "relu", "max"]), "tensors.relu.max", "missing"),
    (_delete(["format"]), "format", "missing"),
    (_delete(["tensors"]), "tensors", "missing"),
    (_delete(["tensors", "conv1", "histogram", "bins"]), "tensors.conv1.histogram.bins", "missing"),
    (_set(["tensors", "conv1", "min"], "-1.5"), "tensors.conv1.min", "number"),
    (_set(["tensors", "conv1", "max"], True), "tensors.conv1.max", "number"),
    (_set(["tensors", "conv1", "count"], 4096.5), "tensors.conv1.count", "non-negative integer"),
    (_set(["tensors", "conv1", "count"], -1), "tensors.conv1.count", "non-negative integer"),
    (_set(["tensors", "conv1", "histogram", "bins"], [12, 0, -40, 3]), "tensors.conv1.histogram.bins[2]", "non-negative integer"),
    (_set(["tensors", "conv1", "histogram", "bins"], [12, 0.5]), "tensors.conv1.histogram.bins[1]", "non-negative integer"),
    (_set(["tensors", "conv1", "histogram", "bins"], []), "tensors.conv1.histogram.bins", "at least one bin"),
    (_set(["tensors", "conv1", "histogram", "bins"], 12), "tensors.conv1.histogram.bins", "array"),
    (_set(["tensors", "conv1", "histgram"], {}), "tensors.conv1.histgram", "unknown key"),
    (_set(["tensors", "conv1", "histogram", "width"], 1.0), "tensors.conv1.histogram.width", "unknown key"),
    (_set(["comment"], "hi"), "comment", "unknown key"),
    (_set(["format"], "quant-opt-statistics"), "format", "quant-opt-calibration-statistics"),
    (_set(["version"], 2), "version", "expected 1"),
    (_set(["tensors", "conv1", "max"], -2.0), "tensors.conv1", "greater than max"),
    (_set(["tensors", "conv1", "histogram", "max"], -1.5), "tensors.conv1.histogram", "less than max"),
    (_set(["tensors", "conv1"], [1, 2]), "tensors.conv1", "object"),
    (_set(["tensors"], []), "tensors", "object"),
]


@pytest.mark.parametrize("edit, json_path, words", BAD_DOCUMENTS)
def test_load_rejects_malformed_documents(tmp_path, edit, json_path, words):
    path = write(tmp_path, _edit(edit))
    with pytest.raises(ValueError) as info:
        load_statistics(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {json_path}: "), message
    assert words in message


def test_load_example_message_format(tmp_path):
    # The exact message of the brief's example.
    doc = good_document()
    doc["tensors"]["conv1"]["histogram"]["bins"][2] = -40
    path = write(tmp_path, doc)
    with pytest.raises(ValueError) as info:
        load_statistics(path)
    assert str(info.value) == f"{path}: tensors.conv1.histogram.bins[2]: expected a non-negative integer"


def test_load_rejects_non_json(tmp_path):
    path = write(tmp_path, '{"format": ', name="broken.json")
    with pytest.raises(ValueError) as info:
        load_statistics(path)
    assert str(info.value).startswith(f"{path}: ")
    assert "JSON" in str(info.value)


def test_load_rejects_non_finite_numbers(tmp_path):
    text = json.dumps(good_document()).replace('"min": -1.5, "max": 3.25, "count"', '"min": NaN, "max": 3.25, "count"')
    path = write(tmp_path, text)
    with pytest.raises(ValueError, match="tensors.conv1.min"):
        load_statistics(path)


def test_load_rejects_duplicate_keys(tmp_path):
    text = json.dumps(good_document()).replace('"count": 7', '"count": 7, "count": 8')
    path = write(tmp_path, text)
    with pytest.raises(ValueError, match="tensors.relu.count: duplicate key"):
        load_statistics(path)


def test_load_accepts_empty_tensors(tmp_path):
    doc = good_document()
    doc["tensors"] = {}
    assert load_statistics(write(tmp_path, doc)) == {}


def test_dump_load_round_trip(tmp_path):
    stats = {
        "conv1": TensorStatistics(
            -0.1, 2.0 / 3.0, 4096, Histogram(-0.1, 2.0 / 3.0, np.array([12, 0, 40, 3], dtype=np.int64))
        ),
        "relu": TensorStatistics(0.0, 6.0, 7, None),
        "empty": TensorStatistics(0.0, 0.0, 0, Histogram(-1.0, 1.0, [0])),
    }
    path = tmp_path / "out.json"
    dump_statistics(stats, path)
    doc = json.loads(path.read_text())
    assert doc["format"] == "quant-opt-calibration-statistics" and doc["version"] == 1
    assert "histogram" not in doc["tensors"]["relu"]
    loaded = load_statistics(path)
    assert loaded == stats
    # Floats survive exactly.
    assert loaded["conv1"].max == 2.0 / 3.0 and loaded["conv1"].min == -0.1


def test_dump_refuses_what_load_would_reject(tmp_path):
    path = tmp_path / "bad.json"
    with pytest.raises(ValueError, match="tensors.x"):
        dump_statistics({"x": TensorStatistics(2.0, 1.0, 0, None)}, path)
    assert not path.exists()


# --------------------------------------------------------------------------
# merging
# --------------------------------------------------------------------------


def test_merge_widens_ranges_adds_counts_and_bins():
    from quant_opt.calibration import merge_statistics

    a = {"x": TensorStatistics(-1.0, 2.0, 10, Histogram(-4.0, 4.0, [1, 2, 3, 4])),
         "only_a": TensorStatistics(0.0, 1.0, 3, None)}
    b = {"x": TensorStatistics(-3.0, 1.5, 6, Histogram(-4.0, 4.0, [0, 5, 0, 1])),
         "only_b": TensorStatistics(5.0, 6.0, 2, None)}
    m = merge_statistics(a, b)
    # min(-1, -3) = -3, max(2, 1.5) = 2, 10 + 6 = 16, bins [1, 7, 3, 5].
    assert (m["x"].min, m["x"].max, m["x"].count) == (-3.0, 2.0, 16)
    assert m["x"].histogram.bins.tolist() == [1, 7, 3, 5]
    assert m["only_a"].count == 3 and m["only_b"].count == 2
    # Order does not matter.
    n = merge_statistics(b, a)
    assert (n["x"].min, n["x"].max, n["x"].count) == (-3.0, 2.0, 16)
    assert n["x"].histogram.bins.tolist() == [1, 7, 3, 5]


def test_merge_rejects_different_histogram_ranges():
    from quant_opt.calibration import merge_statistics

    a = {"x": TensorStatistics(-1.0, 1.0, 1, Histogram(-1.0, 1.0, [1, 0]))}
    b = {"x": TensorStatistics(-1.0, 1.0, 1, Histogram(-2.0, 2.0, [1, 0]))}
    with pytest.raises(ValueError, match="x: histograms over different ranges"):
        merge_statistics(a, b)
