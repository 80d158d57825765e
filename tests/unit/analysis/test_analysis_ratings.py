"""Loading and checking the tidy table: every error names its rows."""
import numpy as np
import pandas as pd
import pytest

import analysis_test_factories as factories
from analysis.ratings import RatingsError, load_ratings


@pytest.fixture
def camp():
    return factories.campaign(seed=1, n_villages=3, masses_per_village=4, n_cadres=4)


def test_valid_campaign_loads_with_categoricals(camp):
    out = load_ratings(camp.ratings, camp.spec)
    assert isinstance(out["subject"].dtype, pd.CategoricalDtype)
    assert out["value"].dtype == float
    assert len(out) == len(camp.ratings)


@pytest.mark.parametrize("column, bad, message", [
    ("item", "nonsense", "unknown items"),
    ("rater_group", "aliens", "unknown rater groups"),
    ("sheet", "ghost", "unknown sheets"),
    ("mode", "carrier_pigeon", "unknown modes"),
    ("value", 42.0, "off the scale"),
])
def test_errors_name_the_rows(camp, column, bad, message):
    t = camp.ratings.copy()
    t[column] = t[column].astype(object)
    t.loc[7, column] = bad
    with pytest.raises(RatingsError, match=message) as err:
        load_ratings(t, camp.spec)
    assert err.value.rows == [7]
    assert "rows 7" in str(err.value)


def test_unknown_subject_against_roster(camp):
    spec = factories.spec(subjects=frozenset(camp.ratings["subject"]) - {"village_00"})
    with pytest.raises(RatingsError, match="unknown subjects \\['village_00'\\]"):
        load_ratings(camp.ratings, spec)


def test_duplicated_answers_are_named(camp):
    t = pd.concat([camp.ratings, camp.ratings.iloc[[3]]], ignore_index=True)
    with pytest.raises(RatingsError, match="duplicated") as err:
        load_ratings(t, camp.spec)
    assert err.value.rows == [3, len(t) - 1]


def test_ballot_on_two_groups_is_an_error(camp):
    t = camp.ratings.copy()
    t.loc[0, "rater_group"] = "member" if t.loc[0, "rater_group"] != "member" else "masses"
    with pytest.raises(RatingsError, match="more than one rater_group"):
        load_ratings(t, camp.spec)


def test_missing_column_and_nan_values(camp):
    with pytest.raises(RatingsError, match="lacks columns \\['value'\\]"):
        load_ratings(camp.ratings.drop(columns="value"), camp.spec)
    t = camp.ratings.copy()
    t.loc[5, "value"] = np.nan  # unanswered is allowed
    assert np.isnan(load_ratings(t, camp.spec)["value"].iloc[5])


def test_csv_and_parquet_round_trip(camp, tmp_path):
    camp.ratings.to_csv(tmp_path / "r.csv", index=False)
    camp.ratings.to_parquet(tmp_path / "r.parquet")
    a = load_ratings(tmp_path / "r.csv", camp.spec)
    b = load_ratings(tmp_path / "r.parquet", camp.spec)
    np.testing.assert_array_equal(a["value"], b["value"])
    assert (a["fingerprint"].astype(str) == b["fingerprint"].astype(str)).all()


def test_dimension_differing_from_definition_is_named(camp):
    t = camp.ratings.copy()
    t["dimension"] = t["item"].map({**{k: "overall" if k == "overall" else
                                       ("livelihood" if k in ("services", "roads") else "governance")
                                       for k in factories.VILLAGER_ITEMS},
                                    **{k: "virtue" if k in ("integrity", "diligence") else "work"
                                       for k in factories.CADRE_ITEMS}})
    assert len(load_ratings(t, camp.spec)) == len(t)
    t.loc[11, "dimension"] = "work" if t.loc[11, "sheet"] == "villager" else "virtue"
    with pytest.raises(RatingsError, match="dimension differs") as err:
        load_ratings(t, camp.spec)
    assert err.value.rows == [11]
