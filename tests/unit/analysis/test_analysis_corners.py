"""The analysis' corners, each once a bug: four ways a withheld group's numbers could be worked back
out (leniency effects, a merged unit's respondents, flags' groups, flag counts), a burst of unlike
ballots, a rescaled value shown as the answer, empty input, a blank subject scored as "", and an
optional item that made every ballot skipping it incomplete; a misspelt duration bucket.

Expected values are derived by hand (arithmetic in the comments) or from an independent
library; the rule each test checks is quoted from DESIGN.md or README.md ("## Analysis").
"""
import numpy as np
import pandas as pd
import pytest

import analysis_test_factories as factories
from analysis.pipeline import analyze
from analysis.ratings import RatingsError

CADRES = ("cadre_a", "cadre_b", "cadre_c")
TIDY = ["ballot_id", "sheet", "rater_group", "subject", "item", "value", "choice", "mode", "day",
        "duration_bucket", "fingerprint"]


def crossed_cadre_table(scores: dict[str, tuple[str, list[float]]], cadres=CADRES) -> pd.DataFrame:
    """Every ballot rates every cadre; each cadre gets the same value on all four cadre items."""
    rows = []
    for ballot, (group, values) in scores.items():
        for cadre, v in zip(cadres, values):
            for item in factories.CADRE_ITEMS:
                rows.append((ballot, "cadre", group, cadre, item, float(v), "", "token", "2026-05-01",
                             "5-15m", ""))
    return pd.DataFrame(rows, columns=TIDY)


def villager_ballot(rows, ballot, group, subject, overall, rest=60.0, mode="token", fingerprint=""):
    for item in factories.VILLAGER_ITEMS:
        v = float(overall if item == "overall" else rest)
        rows.append((ballot, "villager", group, subject, item, v, factories.CHOICES[v], mode,
                     "2026-05-02", "2-5m", fingerprint))


# --- anonymity -------------------------------------------------------------------------------

PEERS = {"p1": ("peer", [6, 7, 8]), "p2": ("peer", [5, 6, 7]), "p3": ("peer", [7, 8, 9]),
         "p4": ("peer", [6, 6, 6.5]), "p5": ("peer", [7, 6, 8])}


def test_leniency_effect_of_a_withheld_ballot_is_not_recoverable_from_the_shown_effects():
    # README: the leniency frame blanks "group and effect ... for a ballot of a withheld group".
    # One subordinate (weight 0, 1 rater < 3: withheld) and five peers rate three cadres (crossed).
    # The fitted effects are normalised to sum to zero, so the hidden one is minus the shown sum.
    # Balanced crossed design, OLS with subject + rater effects: b_r = mean_r - grand mean.
    #   s1 mean = (2 + 3 + 9) / 3 = 14/3; grand = (21 + 18 + 24 + 18.5 + 21 + 14) / 18 = 116.5/18
    #   b_s1 = 14/3 - 116.5/18 = (84 - 116.5)/18 = -1.80556
    t = crossed_cadre_table({**PEERS, "s1": ("subordinate", [2, 3, 9])})
    spec = factories.spec(leniency=True, trim=False, group_weights={"peer": 1.0, "subordinate": 0.0})
    res = analyze(t, spec)
    lf = res.leniency.set_index("ballot_id")
    assert lf.loc["s1", "withheld"] and np.isnan(lf.loc["s1", "effect"])
    hidden_effect = -32.5 / 18
    recovered = -lf.loc[~lf.withheld, "effect"].sum()
    assert recovered != pytest.approx(hidden_effect, abs=1e-6), (
        "the withheld subordinate's leniency effect (hence its mean score 14/3) is minus the "
        "sum of the shown effects")
    # the shown effects are fitted on the shown ballots alone: they sum to zero by themselves, so
    # neither they nor the peers' published correction (score - score_corrected) say anything of s1
    assert lf.loc[~lf.withheld, "effect"].sum() == pytest.approx(0, abs=1e-9)


def test_leniency_columns_do_not_reveal_a_merged_small_groups_mean_effect():
    # README step 8: a small positive-weight group is merged so that only the merged unit can be
    # recovered. Subordinates (2) are merged with superiors (3); peers (5) are shown.
    # Two shown linear facts identify both withheld groups' mean effects:
    #   (i)  sum of hidden effects = -sum(shown effects)          = 2 m_sub + 3 m_sup
    #   (ii) merged score - merged score_corrected               = a m_sub + b m_sup,
    #        a = 0.1/0.5, b = 0.4/0.5 (the merged unit's renormalised weights)
    # Hand: all 30 scores sum to 206.5, grand = 6.88333; subordinate scores 2,3,9,3,3,4 mean 4.2
    #   m_sub = 4.2 - 6.88333 = -2.68333 (= the subordinates' mean rating minus the grand mean)
    t = crossed_cadre_table({**PEERS, "u1": ("superior", [8, 8, 9]), "u2": ("superior", [7, 8, 8]),
                             "u3": ("superior", [9, 9, 8]), "s1": ("subordinate", [2, 3, 9]),
                             "s2": ("subordinate", [3, 3, 4])})
    spec = factories.spec(leniency=True, trim=False,
                          group_weights={"peer": 0.5, "superior": 0.4, "subordinate": 0.1})
    res = analyze(t, spec)
    r, lf = res.results, res.leniency
    assert r.loc[r.rater_group == "subordinate", "withheld"].all()
    merged = r[r.row_type == "merged"].iloc[0]
    a, b = 0.1 / 0.5, 0.4 / 0.5
    lhs = np.array([[2.0, 3.0], [a, b]])
    rhs = np.array([-lf.loc[~lf.withheld, "effect"].sum(), merged["score"] - merged["score_corrected"]])
    m_sub, _ = np.linalg.solve(lhs, rhs)
    assert m_sub != pytest.approx(4.2 - 206.5 / 30, abs=1e-6), (
        "the merged subordinate group's mean leniency is recovered from leniency.csv and results.csv")


def test_merged_unit_does_not_show_a_rate_resting_on_the_small_groups_respondents_alone():
    # README step 8: a group with fewer than the threshold raters "(or rate respondents)" is merged
    # "until every unit reaches the threshold". A village's 两委 is rated by villagers (villager
    # sheet, with a satisfaction item) and by town cadres (cadre sheet, no satisfaction item):
    #   member 10 ballots, all 满意; masses 2 ballots, both 不满意; superior 5 cadre ballots.
    # masses (2) is merged with superior (5): the unit has 7 raters but only the 2 masses
    # respondents, so its rate 0/2 is exactly the withheld masses group's rate; so is
    # combined (10/12) minus member (10/10): 0 satisfied of 2.
    rows = []
    for i in range(10):
        villager_ballot(rows, f"m{i}", "member", "village_x", 100)
    villager_ballot(rows, "a1", "masses", "village_x", 0)
    villager_ballot(rows, "a2", "masses", "village_x", 0)
    t = pd.DataFrame(rows, columns=TIDY)
    cad = crossed_cadre_table({f"u{i}": ("superior", [v]) for i, v in enumerate([7, 8, 6, 7, 8])},
                              cadres=("village_x",))
    t = pd.concat([t, cad], ignore_index=True)
    res = analyze(t, factories.spec(trim=False, rescale_to=100.0)).results
    assert res.set_index("rater_group").loc["masses", "withheld"]
    shown = res[~res.withheld & res.n_respondents.notna()]
    assert (shown["n_respondents"] >= 3).all(), shown[["rater_group", "n_respondents", "satisfaction_rate"]]
    comb = res[res.row_type == "combined"].iloc[0]
    groups = shown[shown.row_type == "group"]
    residual = comb["n_respondents"] - groups["n_respondents"].sum()
    assert residual == 0 or residual >= 3, f"combined minus shown groups isolates {residual} respondents"


def test_flags_do_not_name_the_group_that_outliers_withhold():
    # README: outlier rows of withheld cells "lose group, value and statistic". A lone subordinate
    # (weight 0, withheld) rates six cadres against the consensus: its rater_disagreement row in
    # outliers.csv has rater_group "" and withheld True, but flags.csv lists the same ballot_id
    # with rater_group "subordinate" (join on ballot_id).
    cadres = tuple(f"cadre_{i}" for i in range(6))
    peers = {f"p{i}": ("peer", [3 + k + (i % 2) for k in range(6)]) for i in range(5)}
    t = crossed_cadre_table({**peers, "s1": ("subordinate", [9, 8, 7, 6, 5, 4])}, cadres=cadres)
    spec = factories.spec(trim=False, group_weights={"peer": 1.0, "subordinate": 0.0})
    res = analyze(t, spec)
    hidden = res.outliers[res.outliers.withheld]
    assert "s1" in set(hidden.ballot_id) and (hidden.rater_group == "").all()
    joined = res.flags[res.flags.ballot_id.isin(hidden.ballot_id)]
    assert (joined.rater_group == "").all(), joined[["ballot_id", "rater_group", "flag"]]


def test_flag_counts_do_not_reveal_a_withheld_groups_size():
    # README: withheld rows "keep their subject, group and note; every number is blank".
    # flag_counts.n_ballots counts every ballot of the subject: 6 (five peers + one subordinate);
    # results show combined n_raters 5 (peers) and nothing excluded, so the withheld weight-0
    # subordinate group's n_raters = 6 - 0 - 5 = 1 is recovered.
    t = crossed_cadre_table({**PEERS, "s1": ("subordinate", [2, 3, 9])})
    spec = factories.spec(trim=False, group_weights={"peer": 1.0, "subordinate": 0.0})
    res = analyze(t, spec)
    r = res.results.set_index(["subject", "rater_group"])
    assert r.loc[("cadre_a", "subordinate"), "withheld"]
    fc = res.flag_counts.set_index("subject").loc["cadre_a"]
    shown_raters = r.loc[("cadre_a", "combined"), "n_raters"]  # the peer group is the only shown one
    assert fc["n_ballots"] - fc["n_excluded"] - shown_raters != 1


# --- cleaning ----------------------------------------------------------------------------------

def test_burst_is_not_raised_by_one_ballot_per_village_with_different_answers():
    # README: burst = "near-identical open-mode ballots sharing fingerprint, sheet and day".
    # One shared device (a village office phone) submits five open-mode ballots, each for a
    # different village, with totally different answers: nobody is near-identical to anybody.
    # The modal answer of each (village, item) cell is that cell's only ballot, so every ballot
    # "differs from the modal answers" on 0 of 6 answers and all five are flagged and excluded.
    answers = [[0] * 6, [100] * 6, [60] * 6, [0, 100, 0, 100, 0, 100], [100, 0, 60, 0, 100, 60]]
    rows = []
    for i, a in enumerate(answers):
        for item, v in zip(factories.VILLAGER_ITEMS, a):
            rows.append((f"o{i}", "villager", "masses", f"village_{i}", item, float(v),
                         factories.CHOICES[float(v)], "open", "2026-05-02", "2-5m", "fpSHARED"))
    res = analyze(pd.DataFrame(rows, columns=TIDY), factories.spec(anonymity_threshold=1))
    assert "burst" not in set(res.flags.flag), res.flags


def test_robust_z_outlier_value_is_the_answer_not_its_rescaled_value():
    # README outliers.value: "the answer (robust z)". The service always sets rescale_to=100.
    # Cadre item on 1-10; answers 6,7,8,7,8,6,1: median 7, |dev| 1,0,1,0,1,1,6 -> MAD 1,
    # z(1) = (1 - 7) / 1.4826 = -4.047 (> 3.5): reported. The answer is 1, shown as (1-1)/9*100 = 0.
    t = factories.simple_ratings({("cadre_a", "peer"): [6, 7, 8, 7, 8, 6, 1]})
    res = analyze(t, factories.spec(trim=False, rescale_to=100.0))
    rz = res.outliers[res.outliers.rule == "robust_z"]
    assert len(rz) == 4 and rz.statistic.round(3).eq(-4.047).all()
    assert (rz["value"] == 1.0).all(), rz[["item", "value", "statistic"]]


# --- bad input ---------------------------------------------------------------------------------

def test_a_ratings_file_with_no_answers_is_a_chinese_ratings_error(tmp_path):
    # README: "an empty, broken or mis-encoded file is a RatingsError saying so in Chinese";
    # DESIGN: "nothing crashes with a stack trace". A header-only CSV (pingyi export of a
    # campaign with no ballots yet) raises numpy's "operands could not be broadcast ...".
    path = tmp_path / "ratings.csv"
    factories.simple_ratings({("cadre_a", "peer"): [6, 7, 8]}).iloc[:0].to_csv(path, index=False)
    with pytest.raises(RatingsError, match="[\u4e00-\u9fff]"):
        analyze(path, factories.spec())


def test_a_table_whose_values_are_all_missing_is_not_a_numpy_traceback():
    # Every value empty (NaN = not answered): every ballot is incomplete; the same numpy error.
    t = factories.simple_ratings({("cadre_a", "peer"): [6, 7, 8, 9]}).assign(value=np.nan)
    try:
        analyze(t, factories.spec())
    except RatingsError:
        pass  # a clear message is fine; an empty result is fine too
    except ValueError as exc:
        pytest.fail(f"{type(exc).__name__}: {exc}")


def test_every_ballot_excluded_on_a_continuous_scale_is_not_a_numpy_traceback():
    # 70 ballots with 280 distinct values (> 64: the sort path of robust z), all speeders
    # (duration "<30s", an excluding flag): robust z runs on zero rows and numpy raises.
    t = factories.simple_ratings({("cadre_a", "peer"): list(np.linspace(1, 9, 70))})
    t["value"] = t["value"] + np.tile(np.linspace(0, 0.001, 4), 70)
    t["duration_bucket"] = "<30s"
    try:
        res = analyze(t, factories.spec())
    except RatingsError:
        return
    except ValueError as exc:
        pytest.fail(f"{type(exc).__name__}: {exc}")
    assert res.flags.excluded.all()


def test_an_answer_without_a_subject_is_rejected_not_scored_as_subject_blank():
    # README: load_ratings raises RatingsError for bad rows; DESIGN: every bad input gets a clear
    # message. A ballot whose subject cell is empty becomes a subject named "" (a phantom results
    # row) and cadre_a silently loses that ballot (3 raters instead of 4).
    t = factories.simple_ratings({("cadre_a", "peer"): [6, 7, 8, 9]})
    t.loc[t.ballot_id == "s00000", "subject"] = np.nan
    with pytest.raises(RatingsError):
        analyze(t, factories.spec())


# ---------------------------------------------------------------- optional items and completeness

@pytest.mark.parametrize("fine_scale", [False, True], ids=["choices", "fine-scale"])
def test_an_optional_item_left_blank_does_not_make_a_ballot_incomplete(fine_scale):
    """Definitions may mark an item `required: false`; the analysis counted it as expected, so with
    the default complete_min_share = 1 every ballot that skipped it was excluded as incomplete, and
    an answer to it made up for a required one left blank. b1 skips the optional item (complete),
    b2 skips a required one and answers the optional one (incomplete), b3 answers all (complete)."""
    from analysis.clean import flag_ballots
    from analysis.ratings import load_ratings
    from analysis.settings import AnalysisSpec, ItemSpec, SheetSpec

    top = 1000.0 if fine_scale else 100.0  # more than 64 distinct values: the path without a histogram
    items = (ItemSpec("a", "d", scale_max=top), ItemSpec("b", "d", scale_max=top),
             ItemSpec("note", "d", scale_max=top, required=False))
    spec = AnalysisSpec(sheets=(SheetSpec("v", items),), group_weights={"masses": 1})
    answers = {"b1": {"a": 1, "b": 2}, "b2": {"a": 3, "note": 4}, "b3": {"a": 5, "b": 6, "note": 7}}
    values = iter(range(0, 10_000, 13) if fine_scale else [10, 20, 30, 40, 50, 60, 70])
    rows = [{"ballot_id": b, "sheet": "v", "rater_group": "masses", "subject": "village", "item": item,
             "value": float(next(values))} for b, given in answers.items() for item in given]
    if fine_scale:  # enough distinct values elsewhere to leave the histogram path
        rows += [{"ballot_id": f"x{i}", "sheet": "v", "rater_group": "masses", "subject": "village",
                  "item": item, "value": float(next(values))} for i in range(30) for item in ("a", "b")]
    flags = flag_ballots(load_ratings(pd.DataFrame(rows), spec), spec).set_index("ballot_id")
    assert flags.loc[["b1", "b2", "b3"], "incomplete"].tolist() == [False, True, False]


def test_a_duration_bucket_spelt_otherwise_is_named_not_silently_never_a_speeder():
    """A hand-made table with “<30秒” for the polling site's “<30s” was read, and its speeders never
    flagged; now the row is named, as an unknown mode is."""
    from analysis.ratings import load_ratings
    from analysis.settings import AnalysisSpec, ItemSpec, SheetSpec

    spec = AnalysisSpec(sheets=(SheetSpec("v", (ItemSpec("a", "d"),)),), group_weights={"masses": 1})
    rows = [{"ballot_id": f"b{i}", "sheet": "v", "rater_group": "masses", "subject": "village", "item": "a",
             "value": 60.0, "duration_bucket": bucket} for i, bucket in enumerate(["<30s", "", "<30秒", "2-5m"])]
    with pytest.raises(RatingsError) as error:
        load_ratings(pd.DataFrame(rows), spec)
    assert "填写用时" in str(error.value) and "“<30秒”" in str(error.value) and "第 4 行" in str(error.value)
    rows[2]["duration_bucket"] = "<30s"
    assert len(load_ratings(pd.DataFrame(rows), spec)) == 4
