"""The additive subject + rater model against statsmodels OLS with dummy variables."""
import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from analysis.leniency import LeniencyInputError, adjust, rater_effects


def unbalanced(seed=0, n_subjects=10, n_raters=7, p_missing=0.35):
    rng = np.random.default_rng(seed)
    a = rng.normal(70, 8, n_subjects)
    b = rng.normal(0, 4, n_raters)
    rows = [(f"s{i}", f"r{j}", a[i] + b[j] + rng.normal(0, 2))
            for i in range(n_subjects) for j in range(n_raters) if rng.random() > p_missing]
    return pd.DataFrame(rows, columns=["subject", "rater", "score"])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_adjust_matches_statsmodels_ols_with_dummies(seed):
    d = unbalanced(seed)
    ours = adjust(d, subject="subject", rater="rater", score="score")
    fit = smf.ols("score ~ C(subject) + C(rater)", data=d).fit()
    # OLS subject effects are relative to the reference subject; compare all contrasts
    ref = pd.Series(0.0, index=ours.index)
    for name, value in fit.params.items():
        if name.startswith("C(subject)"):
            ref[name.split("[T.")[1].rstrip("]")] = value
    np.testing.assert_allclose(ours["corrected"] - ours["corrected"].iloc[0], ref - ref.iloc[0],
                               rtol=1e-6, atol=1e-6)
    # fitted values agree exactly: corrected subject + rater effect
    eff = rater_effects(d, subject="subject", rater="rater", score="score")["effect"]
    fitted = ours["corrected"].reindex(d["subject"]).to_numpy() + eff.reindex(d["rater"]).to_numpy()
    np.testing.assert_allclose(fitted, fit.fittedvalues, rtol=1e-8)


def test_raw_is_the_subject_mean_and_rater_effects_average_zero():
    d = unbalanced(4)
    out = adjust(d, subject="subject", rater="rater", score="score")
    np.testing.assert_allclose(out["raw"], d.groupby("subject").score.mean())
    eff = rater_effects(d, subject="subject", rater="rater", score="score")
    assert abs(eff["effect"].mean()) < 1e-8


def test_one_way_design_is_left_unchanged():
    # each rater rates one subject: leniency is not identifiable, corrected == raw
    d = pd.DataFrame({"s": list("aabbb"), "r": list("12345"), "y": [1.0, 3.0, 5.0, 6.0, 7.0]})
    out = adjust(d, subject="s", rater="r", score="y")
    np.testing.assert_allclose(out["corrected"], out["raw"])


def test_duplicated_pairs_are_named():
    d = pd.DataFrame({"s": ["a", "a"], "r": ["x", "x"], "y": [1.0, 2.0]})
    with pytest.raises(LeniencyInputError, match="duplicated"):
        adjust(d, subject="s", rater="r", score="y")
