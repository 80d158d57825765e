"""The default analysis end to end: planted problems are found, anonymity holds, files are written."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import analysis_test_factories as factories
from analysis.aggregate import combine_groups
from analysis.outliers import olympic_trimmed_mean
from analysis.pipeline import analyze


@pytest.fixture(scope="module")
def camp():
    return factories.campaign(seed=0)


@pytest.fixture(scope="module")
def result(camp):
    return analyze(camp.ratings, factories.spec(leniency=True))


def flagged(result, flag):
    return set(result.flags.loc[result.flags.flag == flag, "ballot_id"])


def test_planted_burst_is_found(camp, result):
    assert flagged(result, "burst") == set(camp.burst_ballots)
    assert result.flags.loc[result.flags.flag == "burst", "excluded"].all()


def test_planted_straight_liner_is_found(camp, result):
    assert camp.straight_ballot in flagged(result, "straight_lining")
    assert flagged(result, "straight_lining") <= {camp.straight_ballot} | set(camp.burst_ballots)


def test_planted_lenient_rater_has_the_largest_leniency(camp, result):
    eff = result.leniency.set_index("ballot_id")["effect"]
    assert eff.idxmax() == camp.lenient_ballot
    # planted +2 points, less what clipping at the scale's top (10) takes away
    assert 1.0 < eff[camp.lenient_ballot] < 2.2
    others = eff.drop(camp.lenient_ballot)
    assert eff[camp.lenient_ballot] > others.mean() + 4 * others.std()
    # the lenient rater still agrees with the ranking: not a disagreement outlier
    assert camp.lenient_ballot not in flagged(result, "rater_disagreement")


def test_reversed_rater_is_found_by_the_disagreement_rule(camp):
    t = camp.ratings.copy()
    peer = t["ballot_id"] == "b00160"  # an ordinary peer ballot
    assert t.loc[peer, "sheet"].eq("cadre").all()
    t.loc[peer, "value"] = 11.0 - t.loc[peer, "value"]
    res = analyze(t, camp.spec)
    assert flagged(res, "rater_disagreement") == {"b00160"}
    row = res.outliers[res.outliers.rule == "rater_disagreement"].iloc[0]
    assert row["statistic"] < 0 and row["action"] == "flagged"


def test_cadre_scores_match_an_independent_pandas_computation(camp, result):
    c = camp.ratings[(camp.ratings.sheet == "cadre") & (camp.ratings.ballot_id != camp.straight_ballot)]
    per_ballot = c.groupby(["subject", "rater_group", "ballot_id"]).value.mean().reset_index()
    group = per_ballot.groupby(["subject", "rater_group"]).value.agg(
        lambda s: olympic_trimmed_mean(s) if len(s) >= 7 else s.mean())
    res = result.results.set_index(["subject", "rater_group"])
    for (subject, grp), value in group.items():
        assert res.loc[(subject, grp), "score"] == pytest.approx(value)
    w = camp.spec.group_weights
    for subject in ("cadre_00", "cadre_07"):
        expected = combine_groups(group[subject].to_dict(), w)
        assert res.loc[(subject, "combined"), "score"] == pytest.approx(expected)


def test_satisfaction_counts_respondents_and_nonrespondents(camp):
    t = camp.ratings.copy()
    target = (t.subject == "village_05") & (t.item == "overall") & (t.rater_group == "member")
    first = t.index[target][0]
    t.loc[first, ["value", "choice"]] = [np.nan, ""]
    spec = factories.spec(complete_min_share=0.5)
    res = analyze(t, spec).results.set_index(["subject", "rater_group"]).loc[("village_05", "member")]
    sub = t[target].drop(index=first)
    assert res["n_respondents"] == len(sub) and res["n_nonrespondents"] == 1
    assert res["n_satisfied"] == sub.choice.isin(["satisfied", "basically"]).sum()
    assert res["satisfaction_rate"] == pytest.approx(res["n_satisfied"] / res["n_respondents"])
    assert res["satisfaction_low"] < res["satisfaction_rate"] <= res["satisfaction_high"]


def small_group_table():
    return factories.simple_ratings({
        ("cadre_a", "peer"): [6, 7, 8, 7, 6, 8, 7, 7, 6, 9],
        ("cadre_a", "superior"): [5, 6, 5, 7],
        ("cadre_a", "subordinate"): [2, 9],          # only 2 raters
        ("cadre_b", "peer"): [5, 6, 7, 6],
        ("cadre_b", "superior"): [8, 8, 9],
        ("cadre_c", "subordinate"): [4, 5],           # subject with 2 raters in all
    })


def test_small_group_is_merged_and_cannot_be_recovered_by_subtraction():
    spec = factories.spec(trim=False)
    res = analyze(small_group_table(), spec).results.set_index(["subject", "rater_group"])
    a = res.loc["cadre_a"]
    assert a.loc["subordinate", "withheld"] and np.isnan(a.loc["subordinate", "score"])
    # merged with the next smallest group, which is withheld too
    assert a.loc["superior", "withheld"] and np.isnan(a.loc["superior", "score"])
    merged = a.loc["subordinate+superior"]
    assert merged["row_type"] == "merged" and merged["n_raters"] == 6
    assert "merged into subordinate+superior" in a.loc["subordinate", "note"]
    # what subtraction reveals is only the merged pair, never the small group alone
    w = spec.group_weights
    shown = a[~a.withheld & (a.row_type == "group")]
    assert list(shown.index) == ["peer"]
    residual = (a.loc["combined", "score"] * (w["peer"] + w["superior"] + w["subordinate"])
                - w["peer"] * a.loc["peer", "score"]) / (w["superior"] + w["subordinate"])
    assert residual == pytest.approx(merged["score"])
    assert residual != pytest.approx(np.mean([2, 9]))
    # a subject with fewer than 3 raters in all is withheld entirely
    c = res.loc["cadre_c"]
    assert c["withheld"].all() and c["score"].isna().all()
    # no small group: nothing withheld
    assert not res.loc["cadre_b", "withheld"].any()


def test_withheld_groups_are_blanked_in_the_outliers_frame():
    spec = factories.spec(trim=False, robust_z_threshold=0.5)
    res = analyze(small_group_table(), spec)
    rows = res.outliers[res.outliers.subject == "cadre_a"]
    hidden = rows[rows.withheld]
    assert len(hidden) and (hidden.rater_group == "").all() and hidden.value.isna().all()


def test_ties_within_the_margin_are_reported():
    t = factories.simple_ratings({
        ("cadre_a", "peer"): [7, 8, 7, 8, 7, 8],
        ("cadre_b", "peer"): [7, 8, 8, 7, 8, 7.5],
        ("cadre_c", "peer"): [2, 3, 2, 3, 2, 3],
    })
    spec = factories.spec(group_weights={"peer": 1.0, "masses": 0, "member": 0, "superior": 0,
                                         "subordinate": 0})
    res = analyze(t, spec).results
    comb = res[res.row_type == "combined"].set_index("subject")
    assert comb.loc["cadre_b", "rank"] == 1 and comb.loc["cadre_b", "next_subject"] == "cadre_a"
    assert bool(comb.loc["cadre_b", "tied_with_next"]) is True
    assert bool(comb.loc["cadre_a", "tied_with_next"]) is False
    assert comb.loc["cadre_a", "rank_low"] == 1 and comb.loc["cadre_c", "rank_low"] == 3


def test_bootstrap_intervals_are_close_to_analytic_ones(camp):
    spec = factories.spec(bootstrap_replicates=400, seed=3, trim=False)
    boot = analyze(camp.ratings, spec).results.set_index(["subject", "rater_group"])
    ana = analyze(camp.ratings, factories.spec(trim=False)).results.set_index(["subject", "rater_group"])
    comb = boot.row_type == "combined"
    np.testing.assert_allclose(boot.loc[comb, "score"], ana.loc[comb, "score"])
    np.testing.assert_allclose(boot.loc[comb, "se"], ana.loc[comb, "se"], rtol=0.35)
    assert (boot.loc[comb, "rank_low"] <= boot.loc[comb, "rank"]).all()
    assert (boot.loc[comb, "rank"] <= boot.loc[comb, "rank_high"]).all()


def test_reliability_frame_has_six_iccs_and_four_alphas_per_sheet(result):
    rel = result.reliability
    assert set(rel.sheet) == {"villager", "cadre"}
    assert len(rel) == 20
    cadre = rel[rel.sheet == "cadre"].set_index("coefficient")
    assert cadre.loc["ICC3k", "value"] > 0.9  # cadre qualities are well separated by design


def test_write_produces_the_four_files(result, tmp_path):
    written = {p.name for p in result.write(tmp_path)}
    assert {"results.csv", "results.json", "flags.csv", "reliability.csv"} <= written
    records = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert len(records) == len(result.results)
    back = pd.read_csv(tmp_path / "results.csv")
    assert list(back.columns) == list(result.results.columns)


def test_a_write_cut_short_leaves_the_last_runs_files_and_a_new_run_leaves_no_stale_one(result, tmp_path,
                                                                                       monkeypatch):
    """results.csv and flags.csv are read side by side: they must come from one run."""
    import dataclasses

    result.write(tmp_path)  # a run with --leniency
    (tmp_path / "notes.txt").write_text("the analyst's own")
    dataclasses.replace(result, leniency=None).write(tmp_path)  # and one without
    assert not (tmp_path / "leniency.csv").exists() and (tmp_path / "notes.txt").exists()
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    real = pd.DataFrame.to_csv

    def full_disk_at_the_third(frame, path, *args, **kwargs):
        if "reliability" in str(path):
            Path(path).write_text("subject,coeff")  # part of it, then the disk is full
            raise OSError(28, "No space left on device")
        return real(frame, path, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_csv", full_disk_at_the_third)
    with pytest.raises(OSError, match="No space"):
        result.write(tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # nor a scratch folder left


def test_flag_counts_per_subject(camp, result):
    counts = result.flag_counts.set_index("subject")
    assert counts.loc["village_00", "burst"] == len(camp.burst_ballots)
    assert counts.loc["cadre_03", "straight_lining"] == 1


def test_continuous_scores_use_the_sort_path_and_rescaling():
    # more than 64 distinct values: medians by sorting; alpha skipped above 512 values is not hit
    rng = np.random.default_rng(7)
    scores = {(f"cadre_{s}", g): list(np.round(rng.uniform(1, 10, 8), 3))
              for s in range(5) for g in ("peer", "superior")}
    t = factories.simple_ratings(scores)
    res = analyze(t, factories.spec(rescale_to=100.0, trim=False)).results
    row = res[(res.subject == "cadre_0") & (res.rater_group == "peer")].iloc[0]
    # hand formula: (x - 1) / 9 * 100 averaged over the ballots
    expected = np.mean([(v - 1) / 9 * 100 for v in scores[("cadre_0", "peer")]])
    assert row["score"] == pytest.approx(expected)
    zres = analyze(t, factories.spec(robust_z_threshold=1.0))
    assert (zres.outliers.rule == "robust_z").any()


def test_progress_reports_each_step(camp):
    steps = []
    analyze(camp.ratings, camp.spec, progress=steps.append)
    assert steps[0] == "validate" and "reliability" in steps


def test_leniency_of_a_withheld_groups_ballot_is_hidden():
    # two subordinates rate every cadre: their group is withheld, so are their leniency effects
    t = factories.campaign(seed=2, n_villages=2, masses_per_village=3, n_cadres=6).ratings
    cad = t[t.sheet == "cadre"]
    sub_ballots = cad.loc[cad.rater_group == "subordinate", "ballot_id"].unique()[:2]
    keep = (t.rater_group != "subordinate") | t.ballot_id.isin(sub_ballots)
    res = analyze(t[keep], factories.spec(leniency=True))
    len_frame = res.leniency.set_index("ballot_id")
    assert len_frame.loc[sub_ballots, "withheld"].all()
    assert len_frame.loc[sub_ballots, "effect"].isna().all()
    assert not len_frame.drop(index=sub_ballots)["withheld"].all()
