"""ICC and Krippendorff's alpha pinned to published tables and independent implementations."""
import warnings

import krippendorff
import numpy as np
import pandas as pd
import pingouin as pg
import pytest

from analysis.reliability import (
    ReliabilityInputError, alpha_from_counts, icc, icc_oneway_unbalanced, krippendorff_alpha,
)

# Shrout & Fleiss (1979), Table 2: 6 targets rated by 4 judges.
SF_TABLE_2 = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
# Shrout & Fleiss (1979), Table 4: ICC(1,1) ICC(2,1) ICC(3,1) ICC(1,4) ICC(2,4) ICC(3,4).
SF_TABLE_4 = {"ICC1": 0.17, "ICC2": 0.29, "ICC3": 0.71, "ICC1k": 0.44, "ICC2k": 0.62, "ICC3k": 0.91}

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers × 12 units.
NAN = np.nan
K2011 = [[1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
         [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
         [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
         [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN]]
# Krippendorff (2011): nominal .743 (section C); interval .849, ordinal .815, ratio .797 as
# reproduced by the `krippendorff` PyPI package on the same data (checked in test below).
K2011_ALPHA = {"nominal": 0.743, "ordinal": 0.815, "interval": 0.849, "ratio": 0.797}


# pingouin >= 0.7 names the forms after McGraw & Wong; older versions used ICC1..ICC3k
PINGOUIN_NAMES = {"ICC(1,1)": "ICC1", "ICC(A,1)": "ICC2", "ICC(C,1)": "ICC3",
                  "ICC(1,k)": "ICC1k", "ICC(A,k)": "ICC2k", "ICC(C,k)": "ICC3k"}


def pingouin_icc(frame):
    with warnings.catch_warnings():  # pingouin's own pandas deprecations are not ours
        warnings.simplefilter("ignore")
        ref = pg.intraclass_corr(frame, targets="target", raters="judge", ratings="rating")
    return ref.set_index(ref["Type"].map(lambda t: PINGOUIN_NAMES.get(t, t)))


def long(matrix):
    return pd.DataFrame([(t, j, s) for t, row in enumerate(matrix) for j, s in enumerate(row)],
                        columns=["target", "judge", "rating"])


def test_icc_matches_shrout_fleiss_table_4():
    out = icc(long(SF_TABLE_2), subject="target", rater="judge", score="rating")
    assert list(out.index) == list(SF_TABLE_4)
    np.testing.assert_allclose(out["icc"], list(SF_TABLE_4.values()), atol=0.005)


def test_icc_matches_pingouin_on_shrout_fleiss_data():
    ours = icc(long(SF_TABLE_2), subject="target", rater="judge", score="rating")
    ref = pingouin_icc(long(SF_TABLE_2)).loc[ours.index]
    np.testing.assert_allclose(ours["icc"], ref["ICC"], rtol=1e-10)
    np.testing.assert_allclose(ours["F"], ref["F"], rtol=1e-10)
    np.testing.assert_allclose(ours["df1"], ref["df1"])
    np.testing.assert_allclose(ours["df2"], ref["df2"])
    np.testing.assert_allclose(ours["pval"], ref["pval"], rtol=1e-8)
    ci = np.vstack(ref["CI95"].to_numpy())  # pingouin rounds its intervals to 2 decimals
    np.testing.assert_allclose(ours["ci_low"], ci[:, 0], atol=0.0051)
    np.testing.assert_allclose(ours["ci_high"], ci[:, 1], atol=0.0051)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_icc_matches_pingouin_on_random_data(seed):
    rng = np.random.default_rng(seed)
    y = rng.normal(size=(15, 1)) + rng.normal(size=(1, 5)) * 0.5 + rng.normal(size=(15, 5))
    ours = icc(long(y), subject="target", rater="judge", score="rating")
    ref = pingouin_icc(long(y))
    np.testing.assert_allclose(ours["icc"], ref.loc[ours.index, "ICC"], rtol=1e-10)


def test_icc_names_subjects_with_missing_ratings():
    d = long(SF_TABLE_2).iloc[1:]
    with pytest.raises(ReliabilityInputError, match=r"subjects \[0\]"):
        icc(d, subject="target", rater="judge", score="rating")
    omitted = icc(d, subject="target", rater="judge", score="rating", nan_policy="omit")
    assert np.isfinite(omitted["icc"]).all()


def test_one_way_unbalanced_icc_equals_balanced_icc1_when_balanced():
    # independent oracle: pingouin ICC1 on a balanced one-way layout
    y = np.array(SF_TABLE_2, dtype=float)
    codes = np.repeat(np.arange(6), 4)
    ours = icc_oneway_unbalanced(codes, y.ravel(), 6)
    ref = pingouin_icc(long(y))
    np.testing.assert_allclose(ours.loc[["ICC1", "ICC1k"], "icc"], ref.loc[["ICC1", "ICC1k"], "ICC"],
                               rtol=1e-10)


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_alpha_matches_krippendorff_2011_and_the_krippendorff_package(level):
    ref = krippendorff.alpha(reliability_data=K2011, level_of_measurement=level)
    ours = krippendorff_alpha(K2011, level=level)
    np.testing.assert_allclose(ours, ref, rtol=1e-10)
    np.testing.assert_allclose(ours, K2011_ALPHA[level], atol=0.0005)


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
@pytest.mark.parametrize("seed", [0, 1])
def test_alpha_matches_krippendorff_package_with_missing_values(level, seed):
    rng = np.random.default_rng(seed)
    truth = rng.integers(1, 6, size=30)
    data = np.clip(truth + rng.integers(-1, 2, size=(6, 30)), 1, 5).astype(float)
    data[rng.random(data.shape) < 0.25] = np.nan
    ref = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
    np.testing.assert_allclose(krippendorff_alpha(data, level=level), ref, rtol=1e-9)


def test_alpha_rejects_unknown_level_and_bad_shape():
    with pytest.raises(ReliabilityInputError, match="level"):
        krippendorff_alpha(K2011, level="cardinal")
    with pytest.raises(ReliabilityInputError, match="raters × units"):
        krippendorff_alpha([1.0, 2.0], level="nominal")
    with pytest.raises(ValueError):
        alpha_from_counts(np.ones((2, 2)), np.array([1.0, 2.0]), "bogus")
