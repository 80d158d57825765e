"""Robust z / MAD against scipy; group kernels against pandas; the olympic trim by hand."""
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st
from scipy.stats import median_abs_deviation

from analysis.groupwise import group_median_mad
from analysis.outliers import (
    OutlierInputError, consensus_correlation, olympic_trimmed_mean, robust_z, robust_z_by_group, trim_extremes,
)


def test_robust_z_matches_scipy_mad():
    rng = np.random.default_rng(0)
    x = rng.standard_t(3, size=101)
    ref = (x - np.median(x)) / median_abs_deviation(x, scale="normal")
    np.testing.assert_allclose(robust_z(x), ref, rtol=1e-12)


def test_robust_z_ignores_nan_and_returns_nan_when_mad_is_zero():
    z = robust_z([1.0, np.nan, 2.0, 3.0])
    assert np.isnan(z[1]) and z[2] == 0
    assert np.isnan(robust_z([5.0, 5.0, 5.0, 9.0])).all()


@given(st.lists(st.tuples(st.integers(0, 6), st.sampled_from([0.0, 60.0, 100.0, 1.5, 7.0])),
                min_size=1, max_size=80))
@settings(max_examples=100, deadline=None)
def test_group_median_mad_matches_pandas_and_scipy(rows):
    codes = np.array([r[0] for r in rows])
    values = np.array([r[1] for r in rows])
    med, mad = group_median_mad(codes, values, 7)
    frame = pd.DataFrame({"g": codes, "v": values})
    ref_med = frame.groupby("g").v.median().reindex(range(7))
    ref_mad = frame.groupby("g").v.agg(lambda s: median_abs_deviation(s)).reindex(range(7))
    np.testing.assert_allclose(med, ref_med, equal_nan=True)
    np.testing.assert_allclose(mad, ref_mad, equal_nan=True)


def test_group_median_mad_sort_path_matches_scipy():
    rng = np.random.default_rng(2)
    codes = rng.integers(0, 50, size=5000)
    values = rng.normal(size=5000)  # many distinct values: the sort path
    med, mad = group_median_mad(codes, values, 50)
    for g in (0, 17, 49):
        np.testing.assert_allclose(med[g], np.median(values[codes == g]))
        np.testing.assert_allclose(mad[g], median_abs_deviation(values[codes == g]))


def test_robust_z_by_group_equals_robust_z_per_group():
    rng = np.random.default_rng(3)
    codes = np.repeat(np.arange(4), 25)
    x = rng.normal(size=100)
    z = robust_z_by_group(codes, x, 4)
    for g in range(4):
        np.testing.assert_allclose(z[codes == g], robust_z(x[codes == g]), rtol=1e-12)


def test_olympic_trimmed_mean_drops_one_high_one_low():
    # hand-computed: (7 + 8 + 8) / 3
    assert olympic_trimmed_mean([9.0, 7.0, 8.0, 1.0, 8.0]) == pytest.approx(23 / 3)
    with pytest.raises(OutlierInputError):
        olympic_trimmed_mean([1.0, 2.0])


@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 10)), min_size=0, max_size=60),
       st.integers(3, 8))
@settings(max_examples=150, deadline=None)
def test_trim_removes_exactly_what_it_reports(rows, min_n):
    codes = np.array([r[0] for r in rows], dtype=np.int64)
    scores = np.array([r[1] for r in rows], dtype=float)
    low, high = trim_extremes(codes, scores, np.arange(len(rows)), 5, min_n)
    for g in range(5):
        n = (codes == g).sum()
        dropped = (low | high)[codes == g].sum()
        assert dropped == (2 if n >= min_n else 0)
        if n >= min_n:
            kept = scores[(codes == g) & ~(low | high)]
            assert kept.mean() == pytest.approx(olympic_trimmed_mean(scores[codes == g]))


def test_consensus_correlation_matches_numpy_corrcoef():
    rng = np.random.default_rng(5)
    y = rng.normal(size=(8, 6))  # 8 raters × 6 subjects
    rater = np.repeat(np.arange(8), 6)
    cell = np.tile(np.arange(6), 8)
    r, n = consensus_correlation(rater, cell, y.ravel(), 8, 6)
    for i in (0, 4):
        loo = (y.sum(axis=0) - y[i]) / 7
        np.testing.assert_allclose(r[i], np.corrcoef(y[i], loo)[0, 1], rtol=1e-10)
    assert (n == 6).all()
