"""Edges of the grading rules where the engine once went wrong: ties a float's last bit decided,
a descending code, a missing tie-break value, quotas listed low grade first, a veto that lifted a
grade, two vote-share rules reading each other's item, Ganyu's 三星级以下, and trail numbers that
contradicted their own comparison; and a unit flagged for rectification that had no ledger line.

Expected values are derived by hand from the rule's text (DESIGN.md, README, the scheme YAML or
the engine's own docstring); the arithmetic is in the comments.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.grading import (
    ComponentSpec, GradeSpec, GradingSpec, QuotaSpec, TieBreakSpec, grade, rectification_lines,
)
from forms.loader import builtin_library, load_text
from survey_app.services.grading import vote_shares
from survey_app.specs import grading_spec

LIBRARY = builtin_library()


def spec_for(key: str):
    return grading_spec(LIBRARY[key], LIBRARY)


def offices(rows, n=40):
    """Ganyu offices: the rows given (code, total, duty module), the rest at 75 / 12 up to ``n``."""
    rows = list(rows) + [(f"U{i:02d}", 75.0, 12.0) for i in range(len(rows) + 1, n + 1)]
    return pd.DataFrame(rows, columns=["subject", "checklist", "duty_satisfaction"])


# ---------------------------------------------------------------- quotas: tie-break at the boundary

def test_quota_tie_on_composite_is_not_decided_by_floating_point_noise():
    # 0.8*90.2 + 0.2*90.2 = 72.16 + 18.04 = 90.2 ; 0.8*90 + 0.2*91 = 72 + 18.2 = 90.2: the composites tie
    # (the engine computes 90.20000000000002 vs 90.2). Quota floor(0.5*2) = 1 five-star; the declared
    # order is composite↓, satisfaction↓, code↑, so the tie goes to satisfaction: V02 91 > V01 90.2.
    spec = GradingSpec(
        key="q", title="示例",
        components=(ComponentSpec("checklist", "考评得分", 0.8), ComponentSpec("satisfaction", "满意度", 0.2)),
        grades=(GradeSpec("五星", 90), GradeSpec("四星", 80), GradeSpec("一星", 0)),
        quotas=(QuotaSpec("五星", 0.5, (TieBreakSpec("composite", True, "综合得分"),
                                        TieBreakSpec("satisfaction", True, "满意度"),
                                        TieBreakSpec("code", False, "编码"))),))
    frame = pd.DataFrame({"subject": ["V01", "V02"], "checklist": [90.2, 90.0],
                          "satisfaction": [90.2, 91.0]})
    result = grade(frame, spec)
    g = result.grades.set_index("subject")
    assert g.grade.to_dict() == {"V01": "四星", "V02": "五星"}
    # and the trail must not claim the two were told apart by “综合得分（90.2 对 90.2）”
    assert not any("综合得分（90.2 对 90.2）" in t for t in result.reasons.text)


def test_ganyu_quota_tie_of_checklist_totals_summed_in_a_different_order():
    # Office totals as the service sums them (pandas groupby sum of indicator scores):
    # U02 = 30.1 + 30.1 + 30.1 = 90.3, U03 = 30.3 + 30 + 30 = 90.3 (floats: 90.30000000000001 vs 90.3).
    # 40 offices: five-star at most floor(0.0525*40) = 2. Holders U01 95, U02 90.3, U03 90.3.
    # Declared order: composite↓ (U02 = U03), then 履职尽责与群众满意度↓: U03 17 > U02 15 → U02 is cut.
    scores = pd.DataFrame({"subject": ["U02"] * 3 + ["U03"] * 3,
                           "score": [30.1, 30.1, 30.1, 30.3, 30.0, 30.0]})
    totals = scores.groupby("subject")["score"].sum()
    frame = offices([("U01", 95.0, 18.0), ("U02", float(totals["U02"]), 15.0),
                     ("U03", float(totals["U03"]), 17.0)])
    g = grade(frame, spec_for("ganyu_office_grading")).grades.set_index("subject")
    assert g.loc[["U01", "U02", "U03"], "grade"].tolist() == ["五星级", "四星级", "五星级"]


def test_quota_code_tie_break_descending_is_honoured():
    # A scheme may write {key: code, order: desc} (the loader accepts it). Two units tie at 95;
    # floor(0.5*2) = 1 place; code↓ puts B before A → A is cut, B keeps 好.
    spec = GradingSpec(key="q", title="示例", components=(ComponentSpec("score", "得分", 1.0),),
                       grades=(GradeSpec("好", 90), GradeSpec("一般", 0)),
                       quotas=(QuotaSpec("好", 0.5, (TieBreakSpec("composite", True, "综合得分"),
                                                      TieBreakSpec("code", True, "编码"))),))
    frame = pd.DataFrame({"subject": ["A", "B"], "score": [95.0, 95.0]})
    result = grade(frame, spec)
    g = result.grades.set_index("subject")
    assert g.grade.to_dict() == {"A": "一般", "B": "好"}


def test_quota_tie_break_with_a_missing_subtotal_does_not_depend_on_row_order():
    # U01 has no scored indicator in the 履职尽责与群众满意度 category (the service's pivot gives NaN).
    # U01, U02, U03 all total 95 → 3 five-star holders, floor(0.0525*40) = 2 places.
    # Whatever place NaN takes, U03 (17) must rank ahead of U02 (16): U03 keeps 五星级, and the
    # grades must be the same for every row order (the engine promises "a total order, so the cut
    # never depends on row order").
    frame = offices([("U01", 95.0, np.nan), ("U02", 95.0, 16.0), ("U03", 95.0, 17.0)])
    spec = spec_for("ganyu_office_grading")
    orders = [list(range(40)), list(range(40))[::-1], [1, 0, 2] + list(range(3, 40))]
    results = [grade(frame.iloc[o], spec).grades.set_index("subject").grade[["U01", "U02", "U03"]].to_dict()
               for o in orders]
    for r in results:
        assert r["U03"] == "五星级"
    assert results[0] == results[1] == results[2]


def test_quotas_listed_low_grade_first_are_still_applied_from_the_highest_down():
    # analysis.grading docstring, step 7: "from the highest grade down ... so a quota is never exceeded".
    # 4 units, 25% each: floor(0.25*4) = 1 五星 and 1 四星.
    # A 99, B 98 → 五星; C 85 → 四星; D 50 → 三星. 五星 quota: A keeps, B → 四星.
    # 四星 holders B 98, C 85: 1 place → B keeps, C → 三星.
    tb = (TieBreakSpec("composite", True, "综合得分"),)
    spec = GradingSpec(key="q", title="示例", components=(ComponentSpec("score", "得分", 1.0),),
                       grades=(GradeSpec("五星", 90), GradeSpec("四星", 80), GradeSpec("三星", 0)),
                       quotas=(QuotaSpec("四星", 0.25, tb), QuotaSpec("五星", 0.25, tb)))
    frame = pd.DataFrame({"subject": list("ABCD"), "score": [99.0, 98.0, 85.0, 50.0]})
    g = grade(frame, spec).grades.set_index("subject")
    assert g.grade.to_dict() == {"A": "五星", "B": "四星", "C": "三星", "D": "三星"}
    assert (g.grade == "四星").sum() <= 1


# ---------------------------------------------------------------- vetoes and the yearly limit

def test_a_veto_never_leaves_a_unit_higher_than_without_it():
    # Ganyu: max_step 1, unless_veto. Both offices total 95 (五星级 by the line), both were 一星级 last year.
    # G02 (no veto): at most one up → 二星级.
    # G01 (veto ideology_incident, cap 三星级): a veto only caps (DESIGN: "one hit caps the grade"),
    # so G01 can be no better than G02: min(二星级 by the yearly limit, 三星级 cap) = 二星级.
    frame = offices([("G01", 95.0, 15.0), ("G02", 95.0, 15.0)])
    previous = pd.DataFrame({"subject": ["G01", "G02"], "grade": ["一星级", "一星级"]})
    vetoes = pd.DataFrame({"subject": ["G01"], "veto": ["ideology_incident"], "evidence": ["负面舆情"]})
    g = grade(frame, spec_for("ganyu_office_grading"), vetoes=vetoes, previous=previous
              ).grades.set_index("subject")
    assert g.loc["G02", "grade"] == "二星级"
    assert g.loc["G01", "rank"] <= g.loc["G02", "rank"]
    assert g.loc["G01", "grade"] == "二星级"


# ---------------------------------------------------------------- vote-share rules

SUIXI_TWO_ITEMS = (Path(__file__).parents[3] / "forms/templates/suixi_cadre_grades.yaml").read_text(
    encoding="utf-8").replace(
    '  - {item: verdict, choices: [incompetent], compare: ">", share: 1/3, set: 不称职}\n'
    '  - {item: verdict, choices: [competent], compare: "<", share: 2/3, flag: 诫勉谈话}',
    '  - {item: politics, choices: [poor], compare: ">", share: 1/2, flag: 政治素质诫勉谈话}\n'
    '  - {item: ability, choices: [poor], compare: ">", share: 1/2, set: 不称职}')


def test_vote_share_rules_on_different_items_each_count_their_own_item():
    # Two rules on two items of the same scale (quality4): 政治素质 较差 > 1/2 ⇒ flag;
    # 履职能力 较差 > 1/2 ⇒ 不称职. Four ballots: politics 3 of 4 较差 (75% > 50% → flag);
    # ability 1 of 4 较差 (25%, not above 50% → no 不称职). Score 90 ≥ 70 → 称职.
    assert "item: ability" in SUIXI_TWO_ITEMS
    scheme = load_text(SUIXI_TWO_ITEMS, "suixi_two_items.yaml", dict(LIBRARY))
    spec = grading_spec(scheme, dict(LIBRARY))
    ratings = pd.DataFrame({
        "subject": ["P1"] * 8, "questionnaire": "cadre_evaluation",
        "item": ["politics"] * 4 + ["ability"] * 4,
        "choice": ["poor", "poor", "poor", "good", "poor", "good", "good", "good"]})
    components = pd.DataFrame({"subject": ["P1"], "official": [90.0], "members": [90.0],
                               "representatives": [90.0]})
    g = grade(components, spec, vote_shares=vote_shares(ratings, scheme)).grades.set_index("subject")
    assert g.loc["P1", "flags"] == ("政治素质诫勉谈话",)
    assert g.loc["P1", "grade"] == "称职"


# ---------------------------------------------------------------- rectification (Ganyu)

def test_ganyu_three_star_offices_get_an_itemised_rectification_list():
    # Seed 004: 五星级 …；四星级 …；"对三星级以下黨組織，針對存在問題逐一列出整改清單" — with 以下 including
    # the number (the usual reading, and the article treats 五星/四星/三星以下 as a partition), a
    # 三星级 office gets the list. The scheme's own comment: "三星级以下 get an itemised 整改清单".
    # Office total 75: 70 ≤ 75 < 80 → 三星级; indicator central_group_study 1 of 3 = 33% < 60% → a line.
    spec = spec_for("ganyu_office_grading")
    result = grade(pd.DataFrame({"subject": ["G1"], "checklist": [75.0], "duty_satisfaction": [12.0]}), spec)
    g = result.grades.set_index("subject")
    assert g.loc["G1", "grade"] == "三星级"
    assert "列入整改台账" in g.loc["G1", "flags"]
    ledger = rectification_lines(result.grades, pd.DataFrame(
        {"subject": ["G1"], "indicator": ["central_group_study"], "score": [1.0]}), spec)
    assert ledger.indicator.tolist() == ["central_group_study"]


# ---------------------------------------------------------------- the reason trail's arithmetic

def test_the_threshold_step_never_writes_a_composite_that_contradicts_its_own_comparison():
    # Qitaihe: 0.7*90 + 0.3*89.9999 = 63 + 26.99997 = 89.99997 → 较好 (80 ≤ 89.99997 < 90).
    # The trail writes the composite rounded to 4 decimals: "综合得分 90 ≥ 80（较好线）且 < 90（好线）".
    result = grade(pd.DataFrame({"subject": ["x"], "checklist": [90.0], "evaluation": [89.9999]}),
                   spec_for("qitaihe_four_grades"))
    assert result.grades.grade.iloc[0] == "较好"
    text = result.reasons.query("kind == 'threshold'").text.iloc[0]
    written, upper = re.match(r"综合得分 ([\d.]+) ≥ [\d.]+（较好线）且 < ([\d.]+)（好线）", text).groups()
    assert float(written) < float(upper), text


def test_the_pay_step_never_writes_a_deviation_that_contradicts_its_own_comparison():
    # Qitaihe base 80: 0.7*88 + 0.3*87.9999 = 61.6 + 26.39997 = 87.99997; d = 7.99997/80 = 9.9999625%
    # < 10% → bonus unchanged (right), but the trail writes "高 10%，不足 10%".
    result = grade(pd.DataFrame({"subject": ["x"], "checklist": [88.0], "evaluation": [87.9999]}),
                   spec_for("qitaihe_four_grades"))
    assert result.grades.pay_adjustment.iloc[0] == 0.0
    text = result.reasons.query("kind == 'pay'").text.iloc[0]
    written, limit = re.search(r"高 ([\d.]+)%，不足 ([\d.]+)%", text).groups()
    assert float(written) < float(limit), text


# ---------------------------------------------------------------- excluded ballots

def test_a_ballot_the_analysis_excludes_counts_for_no_vote_share():
    # Suixi: 不称职 votes above 1/3 ⇒ 不称职. Six verdicts on P1: 3 incompetent = 50% > 1/3 ⇒ 不称职.
    # Two of those three came from ballots the analysis excluded (speeders): 1 of 4 = 25%, not above
    # 1/3, so the group scores (80 ≥ 70) decide: 称职. It used to count every ballot.
    from survey_app.services.grading import grade_tables

    scheme = LIBRARY["suixi_cadre_grades"]
    results = pd.DataFrame({"subject": ["P1"] * 3, "row_type": ["group"] * 3, "score": [80.0] * 3,
                            "rater_group": ["town_cadre", "member", "village_rep"]})
    ratings = pd.DataFrame({"ballot_id": [f"b{i}" for i in range(6)], "subject": "P1",
                            "questionnaire": "cadre_evaluation", "item": "verdict", "value": 0.0,
                            "choice": ["incompetent"] * 3 + ["competent"] * 3})
    flags = pd.DataFrame({"ballot_id": ["b0", "b1", "b3"], "flag": ["speeder", "speeder", "incomplete"],
                          "excluded": [True, True, False]})
    subjects = pd.DataFrame({"subject": ["P1"], "name": ["王某"], "parent": [None]})
    counted = grade_tables(scheme, LIBRARY, results, subjects=subjects, ratings=ratings)
    assert counted.result.grades.grade.tolist() == ["不称职"]
    cleaned = grade_tables(scheme, LIBRARY, results, subjects=subjects, ratings=ratings, excluded_ballots=flags)
    assert cleaned.result.grades.grade.tolist() == ["称职"]
    # and the trail says the rule was checked, with its numbers, though it did not apply
    assert "「不称职」票占 25%（n=4），未超过 1/3，不因此定为 不称职" in cleaned.result.reasons.text.tolist()
    # and 称职 votes below 2/3 ⇒ 诫勉谈话: 3 of 6 = 50% counted whole, 3 of 4 = 75% without the two
    assert "诫勉谈话" in counted.result.grades["flags"].iloc[0]
    assert "诫勉谈话" not in cleaned.result.grades["flags"].iloc[0]


# ---------------------------------------------------------------- the ledger misses no unit it flags

def test_a_unit_below_the_line_with_no_weak_indicator_still_gets_a_ledger_line():
    """Baishan: below 三星 → 列入整改台账, a line per indicator under 60% of its points. V1 is 二星 with
    every indicator at 70% or more: flagged for rectification, yet it had no line at all. Its weakest
    indicator is now listed (both, if two tie); V3 has no scores and gets a line naming that."""
    spec = spec_for("baishan_village_stars")
    rect = spec.rectification
    (a, _la, pa), (b, _lb, pb), (c, _lc, pc) = rect.indicators[:3]
    grades = pd.DataFrame({"subject": ["V1", "V2", "V3", "V4"], "grade": ["二星", "五星", "一星", "二星"]})
    scores = pd.DataFrame({"subject": ["V1", "V1", "V1", "V2", "V4", "V4"],
                           "indicator": [a, b, c, a, a, b],
                           "score": [0.7 * pa, 0.9 * pb, 0.7 * pc, 0.1 * pa, 0.7 * pa, 0.5 * pb]})
    ledger = rectification_lines(grades, scores, spec)
    by_unit = {s: sorted(g["indicator"]) for s, g in ledger.groupby("subject")}
    assert by_unit["V1"] == sorted([a, c]), "V1's two weakest (70% each) are listed"
    assert by_unit["V4"] == [b], "V4 has a weak indicator (50%): only it, no fallback line"
    assert "V2" not in by_unit, "五星 is above the line whatever its indicators"
    assert by_unit["V3"] == [""] and "没有指标得分" in ledger.loc[ledger["subject"] == "V3", "label"].iloc[0]
    assert set(ledger["owner"]) == {rect.owner}
