"""Wilson intervals against statsmodels; rank intervals and bootstrap by construction."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from statsmodels.stats.proportion import proportion_confint

from analysis.uncertainty import (
    IntervalInputError, bootstrap_cell_means, distinguishable, rank_intervals, t_interval, wilson_interval,
)


@given(n=st.integers(1, 5000), frac=st.floats(0, 1), conf=st.sampled_from([0.8, 0.9, 0.95, 0.99]))
@settings(max_examples=200, deadline=None)
def test_wilson_matches_statsmodels(n, frac, conf):
    x = int(round(frac * n))
    ref = proportion_confint(x, n, alpha=1 - conf, method="wilson")
    np.testing.assert_allclose(wilson_interval(x, n, conf), ref, rtol=1e-10, atol=1e-12)


def test_wilson_vectorised_and_baishan_example():
    # Baishan: 828 polled, 99.8% satisfied (826/828); oracle: statsmodels
    low, high = wilson_interval(np.array([826, 0]), np.array([828, 10]))
    ref = proportion_confint(np.array([826, 0]), np.array([828, 10]), method="wilson")
    np.testing.assert_allclose(low, ref[0], rtol=1e-12)
    np.testing.assert_allclose(high, ref[1], rtol=1e-12)


def test_wilson_rejects_impossible_counts():
    with pytest.raises(IntervalInputError):
        wilson_interval(5, 3)


def test_t_interval_matches_scipy():
    from scipy import stats

    x = np.array([3.0, 5.0, 4.0, 6.0, 7.0])
    se = x.std(ddof=1) / np.sqrt(5)
    ref = stats.t.interval(0.95, 4, loc=x.mean(), scale=se)
    np.testing.assert_allclose(np.ravel(t_interval([x.mean()], [se], [5])), ref)


def test_rank_intervals_say_tied_subjects_overlap():
    rank, lo, hi = rank_intervals([90, 89.9, 50], [85, 85, 45], [95, 95, 55])
    assert rank.tolist() == [1, 2, 3]
    assert lo.tolist() == [1, 1, 3] and hi.tolist() == [2, 2, 3]
    assert distinguishable([0.1, 39.9], [np.hypot(2.5, 2.5), np.hypot(2.5, 2.5)]).tolist() == [0.0, 1.0]


def test_bootstrap_means_centre_on_sample_mean_and_shrink_with_n():
    rng = np.random.default_rng(0)
    x = rng.normal(10, 2, size=400)
    cells = np.repeat([0, 1], [100, 300])
    reps = bootstrap_cell_means(cells, x, 2, 2000, seed=1)
    np.testing.assert_allclose(reps.mean(axis=1), [x[:100].mean(), x[100:].mean()], atol=0.05)
    # bootstrap SE ≈ s / sqrt(n) (hand formula)
    np.testing.assert_allclose(reps.std(axis=1), [x[:100].std() / 10, x[100:].std() / np.sqrt(300)],
                               rtol=0.1)
