"""Quotas (好中选优、不打和牌): ties at the boundary are resolved by the declared tie-break, never exceeded."""
from __future__ import annotations

import pandas as pd

from analysis.grading import (
    ComponentSpec, GradeSpec, GradingSpec, QuotaSpec, TieBreakSpec, grade,
)
from forms.loader import builtin_library
from survey_app.specs import grading_spec


def ganyu():
    library = builtin_library()
    return grading_spec(library["ganyu_office_grading"], library)


def offices(n, top):
    """``n`` offices; the first rows as given in ``top`` (code, total, duty module), the rest at 75."""
    rows = list(top) + [(f"U{i:02d}", 75.0, 12.0) for i in range(len(top) + 1, n + 1)]
    return pd.DataFrame(rows, columns=["subject", "checklist", "duty_satisfaction"])


def test_ganyu_quota_ties_at_both_boundaries_are_resolved_by_the_declared_order():
    # 40 offices: five-star at most floor(0.0525*40) = floor(2.1) = 2; four-star floor(0.075*40) = 3
    frame = offices(40, [
        ("U01", 95.0, 18.0),
        ("U02", 93.0, 16.0),  # ties U03 on the total; loses on 履职尽责与群众满意度 16 < 17
        ("U03", 93.0, 17.0),
        ("U04", 88.0, 15.0),
        ("U05", 85.0, 15.0),  # ties U06 on total and module; the code U05 < U06 decides
        ("U06", 85.0, 15.0),
    ])
    result = grade(frame, ganyu())
    g = result.grades.set_index("subject")
    assert g.loc[["U01", "U02", "U03", "U04", "U05", "U06"], "grade"].tolist() == [
        "五星级",
        "四星级",  # 3rd of 3 five-star by 93↓, 16↓ → over the quota of 2 → 四星级
        "五星级",
        "四星级",
        "四星级",
        "三星级",  # four-star holders U02 93, U04 88, U05 85, U06 85: 4 > 3; U06 4th by code → 三星级
    ]
    assert (g.grade == "五星级").sum() == 2 and (g.grade == "四星级").sum() == 3
    assert g.quota_cut[g.quota_cut].index.tolist() == ["U02", "U06"]
    u02 = result.reasons.query("subject == 'U02' and kind == 'quota'").text.tolist()
    assert u02[0] == ("名额：五星级不超过 5.25%（共 40 个单位，最多 floor(0.0525×40) = 2 个）；3 个单位为 五星级，"
                      "按 综合得分↓、履职尽责与群众满意度↓、编码↑ 排序，本单位排第 3 位，超出名额，由 五星级 降为 四星级；"
                      "名额线上第 2 位 U03 与第 3 位 U02 以 履职尽责与群众满意度（17 对 16）区分")
    assert u02[1].endswith("本单位排第 1 位，在名额内")  # then first of the four-star holders
    u06 = result.reasons.query("subject == 'U06' and kind == 'quota'").text.iloc[0]
    assert u06.endswith("由 四星级 降为 三星级；名额线上第 3 位 U05 与第 4 位 U06 以 编码（U05 对 U06）区分")


def test_a_quota_of_less_than_one_unit_leaves_the_grade_empty():
    # 10 offices: floor(0.0525*10) = floor(0.525) = 0 five-star; floor(0.075*10) = 0 four-star
    frame = offices(10, [("U01", 99.0, 18.0), ("U02", 85.0, 15.0)])
    g = grade(frame, ganyu()).grades.set_index("subject")
    assert g.loc["U01", "grade"] == "三星级"  # 五星级 → 四星级 (no five-star place) → 三星级 (none either)
    assert not g.grade.isin(["五星级", "四星级"]).any()


def test_the_code_breaks_ties_even_when_the_scheme_does_not_list_it():
    spec = GradingSpec(key="q", title="示例", components=(ComponentSpec("score", "得分", 1.0),),
                       grades=(GradeSpec("好", 90), GradeSpec("一般", 0)),
                       quotas=(QuotaSpec("好", 0.5, (TieBreakSpec("composite", True, "综合得分"),)),))
    frame = pd.DataFrame({"subject": ["B", "A", "D", "C"], "score": [95.0, 95.0, 95.0, 95.0]})
    g = grade(frame, spec).grades.set_index("subject")
    assert g.grade.to_dict() == {"B": "好", "A": "好", "D": "一般", "C": "一般"}  # A, B first by code
    # the row order never decides: the same frame reversed gives the same grades
    g2 = grade(frame.iloc[::-1], spec).grades.set_index("subject")
    assert g2.grade.to_dict() == g.grade.to_dict()
