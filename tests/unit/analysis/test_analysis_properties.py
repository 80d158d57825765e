"""Invariants of the default analysis, checked on generated tables (hypothesis)."""
import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings, strategies as st

import analysis_test_factories as factories
from analysis.pipeline import analyze

SUBJECTS = ["cadre_a", "cadre_b", "cadre_c"]
GROUPS = ["superior", "peer", "subordinate"]
KEY = ["subject", "rater_group"]
SETTINGS = dict(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

tables = st.dictionaries(
    st.tuples(st.sampled_from(SUBJECTS), st.sampled_from(GROUPS)),
    st.lists(st.integers(1, 10), min_size=3, max_size=9),
    min_size=1, max_size=9,
)


def numeric(frame):
    return frame.sort_values(KEY).set_index(KEY).select_dtypes("number").astype(float)


@given(tables, st.randoms(use_true_random=False))
@settings(**SETTINGS)
def test_reordering_ballots_changes_nothing(scores, rnd):
    t = factories.simple_ratings(scores)
    order = list(range(len(t)))
    rnd.shuffle(order)
    spec = factories.spec()
    a, b = analyze(t, spec), analyze(t.iloc[order].reset_index(drop=True), spec)
    pd.testing.assert_frame_equal(numeric(a.results), numeric(b.results))
    pd.testing.assert_frame_equal(a.reliability, b.reliability)
    key = ["rule", "ballot_id", "subject", "item", "action"]
    pd.testing.assert_frame_equal(a.outliers.sort_values(key).reset_index(drop=True),
                                  b.outliers.sort_values(key).reset_index(drop=True))


@given(tables, st.lists(st.integers(1, 10), min_size=3, max_size=6), st.sampled_from(SUBJECTS))
@settings(**SETTINGS)
def test_a_group_with_weight_zero_changes_nothing(scores, extra, subject):
    spec = factories.spec(group_weights={"superior": 0.5, "peer": 0.3, "subordinate": 0.2,
                                         "masses": 0.0, "member": 0.0})
    base = analyze(factories.simple_ratings(scores), spec).results
    more = factories.simple_ratings({**scores, (subject, "masses"): extra})
    more["ballot_id"] = more["ballot_id"].str.replace("s", "z")  # fresh ids for the new ballots
    with_zero = analyze(pd.concat([factories.simple_ratings(scores), more[more.rater_group == "masses"]]),
                        spec).results
    keep = with_zero.rater_group != "masses"
    a, b = numeric(base), numeric(with_zero[keep])
    cols = ["score", "se", "ci_low", "ci_high", "n_raters"]
    pd.testing.assert_frame_equal(a.loc[b.index.intersection(a.index), cols],
                                  b.loc[b.index.intersection(a.index), cols])
    assert set(b.index) - set(a.index) <= {(subject, "combined")} or not len(a)


@given(tables)
@settings(**SETTINGS)
def test_duplicating_every_ballot_keeps_means_and_narrows_intervals(scores):
    spec = factories.spec(trim=False)
    t = factories.simple_ratings(scores)
    twice = pd.concat([t, t.assign(ballot_id=t.ballot_id + "_copy")], ignore_index=True)
    a, b = numeric(analyze(t, spec).results), numeric(analyze(twice, spec).results)
    np.testing.assert_allclose(b["score"], a["score"], rtol=1e-12, equal_nan=True)
    width_a = (a["ci_high"] - a["ci_low"]).to_numpy()
    width_b = (b["ci_high"] - b["ci_low"]).to_numpy()
    ok = np.isfinite(width_a) & (width_a > 0)
    assert (width_b[ok] < width_a[ok]).all()


@given(tables, st.floats(0.5, 3.0))
@settings(**SETTINGS)
def test_outlier_rules_never_remove_more_than_they_report(scores, threshold):
    t = factories.simple_ratings(scores)
    # plant some wild answers so that the rule has work to do
    t.loc[t.index[::7], "value"] = 10.0
    spec = factories.spec(robust_z_removes=True, robust_z_threshold=threshold)
    res = analyze(t, spec)
    reported = res.outliers[res.outliers.rule == "robust_z"]
    assert (reported.action == "removed from scores").all()
    # removing exactly the reported answers by hand, with the rule off, gives the same scores
    manual = t.copy()
    hit = manual.set_index(["ballot_id", "subject", "item"]).index.isin(
        reported.set_index(["ballot_id", "subject", "item"]).index)
    manual.loc[hit, "value"] = np.nan
    off = factories.spec(robust_z_threshold=np.inf, complete_min_share=0.0)
    on = factories.spec(robust_z_removes=True, robust_z_threshold=threshold, complete_min_share=0.0)
    np.testing.assert_allclose(numeric(analyze(t, on).results)["score"],
                               numeric(analyze(manual, off).results)["score"], equal_nan=True)
    # the olympic trim reports every score it drops, and nothing else
    trims = res.outliers[res.outliers.rule == "olympic_trim"]
    # (group rows may be withheld for anonymity; combined rows count every positive-weight group)
    combined = res.results[res.results.row_type == "combined"]
    assert len(trims) == combined["n_trimmed"].fillna(0).sum()
