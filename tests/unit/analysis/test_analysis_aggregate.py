"""Weights: item → dimension → subject, and across rater groups."""
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

import analysis_test_factories as factories
from analysis.aggregate import WeightError, ballot_subject_scores, combine_groups
from analysis.codes import CodedRatings
from analysis.ratings import load_ratings


def test_combine_groups_renormalises_over_present_groups():
    w = {"superior": 0.3, "peer": 0.2, "masses": 0.5}
    # hand-computed: (0.3*90 + 0.5*80) / 0.8
    assert combine_groups({"superior": 90.0, "masses": 80.0}, w) == pytest.approx(83.75)
    assert combine_groups(pd.Series({"superior": 90.0, "peer": np.nan}), w) == 90.0
    assert np.isnan(combine_groups({}, w))
    with pytest.raises(WeightError, match="aliens"):
        combine_groups({"aliens": 1.0}, w)


@given(st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), st.floats(0, 100), min_size=1),
       st.floats(0, 100))
@settings(max_examples=100, deadline=None)
def test_a_group_with_weight_zero_changes_nothing(scores, extra):
    w = {"a": 0.4, "b": 0.3, "c": 0.2, "d": 0.1}
    base = combine_groups(scores, w)
    with_zero = combine_groups({**scores, "zero": extra}, {**w, "zero": 0.0})
    np.testing.assert_allclose(with_zero, base, equal_nan=True)


def test_ballot_score_uses_item_and_dimension_weights():
    spec = factories.spec()
    answers = dict(zip(factories.VILLAGER_ITEMS, [100.0, 60.0, 0.0, 100.0, 60.0, 100.0]))
    t = pd.DataFrame([("b1", "villager", "masses", "village_x", k, v, "", "token", "", "", "")
                      for k, v in answers.items()],
                     columns=["ballot_id", "sheet", "rater_group", "subject", "item", "value",
                              "choice", "mode", "day", "duration_bucket", "fingerprint"])
    coded = CodedRatings.from_frame(load_ratings(t, spec), spec)
    score = ballot_subject_scores(coded, np.ones(len(t), bool))
    # hand-computed: overall 100 (dim weight 2); governance mean(60, 60, 100) = 73.33;
    # livelihood mean(0, 100) = 50; (2*100 + 73.33 + 50) / 4
    np.testing.assert_allclose(score, [(200 + 220 / 3 + 50) / 4])
