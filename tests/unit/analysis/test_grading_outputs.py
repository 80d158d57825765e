"""The reason trail as text and data, the rectification ledger, and inputs the engine refuses."""
from __future__ import annotations

import dataclasses
import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

from analysis.grading import grade, rectification_lines
from forms.loader import builtin_library
from survey_app.specs import grading_spec

LIBRARY = builtin_library()


def spec_for(key):
    return grading_spec(LIBRARY[key], LIBRARY)


BAISHAN = pd.DataFrame({"subject": ["V01", "V04"], "name": ["东村", "北村"], "parent": ["T1", "T1"],
                        "checklist": [86.5, 58.0], "satisfaction": [99.8, 80.0]})


def test_the_text_is_one_chinese_block_per_subject_with_numbered_steps():
    text = grade(BAISHAN, spec_for("baishan_village_stars")).to_text()
    assert text.startswith("白山市浑江区“五星级”乡村党组织评定办法\n\n【V01 东村】最终等次：四星（综合得分 89.16）\n"
                           "  1. 考评组评定得分：86.5 分，权重 0.8，计 0.8×86.5 = 69.2 分\n")
    # 0.8*58 + 0.2*80 = 46.4 + 16 = 62.4 → 二星, below 三星 → ledger
    assert "【V04 北村】最终等次：二星（综合得分 62.4）；标记：列入整改台账" in text
    assert "  3. 综合得分 = 46.4 + 16 = 62.4" in text
    # T1: 四星+ 1/2 = 50% ≥ 50% → 五星
    assert "【上级单位汇总】\n  T1：五星。所辖 2 个单位中 四星及以上 1 个，占 50% ≥ 50%，镇街定为 五星" in text


def test_the_records_are_json_and_carry_every_step_with_its_numbers():
    records = grade(BAISHAN, spec_for("baishan_village_stars")).to_records()
    again = json.loads(json.dumps(records, ensure_ascii=False))
    assert again == records
    v01 = records[0]
    assert v01["subject"] == "V01" and v01["grade"] == "四星" and v01["flags"] == []
    assert v01["pay_adjustment"] is None  # no pay link in this scheme
    kinds = [r["kind"] for r in v01["reasons"]]
    assert kinds == ["component", "component", "composite", "threshold", "final"]
    assert [r["step"] for r in v01["reasons"]] == [1, 2, 3, 4, 5]
    np.testing.assert_allclose(v01["reasons"][0]["numbers"]["contribution"], 69.2)  # 0.8*86.5
    np.testing.assert_allclose(v01["reasons"][2]["numbers"]["composite"], 89.16)


def test_rectification_lists_every_weak_indicator_of_units_below_the_line():
    spec = spec_for("baishan_village_stars")  # below 三星, indicators under 60%, 村党组织书记, 90 days
    grades = grade(BAISHAN, spec).grades  # V01 四星, V04 二星
    scores = pd.DataFrame({
        "subject": ["V04", "V04", "V04", "V01"],
        "indicator": ["political_stance", "age_education", "three_meetings", "political_stance"],
        "score": [1.0, 0.6, 1.2, 0.0],
    })
    ledger = rectification_lines(grades, scores, spec, start=date(2024, 3, 1))
    assert ledger[["subject", "indicator", "label", "score", "full_marks", "share", "owner",
                   "deadline", "status"]].values.tolist() == [
        # political_stance 1 of 2 points = 50% < 60% → a line
        ["V04", "political_stance", "政治立场坚定，坚决贯彻党的路线方针政策和上级决策部署", 1.0, 2.0, 0.5,
         "村党组织书记", date(2024, 5, 30), "open"],
        # age_education 0.6 of 1 = 60%: not below 60% → no line; three_meetings 1.2 of 2 = 60% → none
    ]
    # V01 (四星) scores 0 on an indicator but is above the line: no ledger line
    assert set(ledger.subject) == {"V04"}


def test_rectification_without_a_start_day_keeps_the_days_only():
    spec = spec_for("ganyu_office_grading")  # below 三星级, 机关党组织书记, 180 days
    grades = pd.DataFrame({"subject": ["G1"], "grade": ["二星级"]})
    scores = pd.DataFrame({"subject": ["G1"], "indicator": ["x"], "label": ["自定指标"], "score": [1.0],
                           "full_marks": [5.0]})
    line = rectification_lines(grades, scores, spec).iloc[0]
    assert (line.owner, line.deadline_days, line.deadline, line.share) == ("机关党组织书记", 180, None, 0.2)


def test_a_missing_component_is_an_error_unless_optional():
    spec = spec_for("baishan_village_stars")
    with pytest.raises(ValueError) as err:
        grade(BAISHAN.drop(columns="satisfaction"), spec)
    assert str(err.value) == "各项得分表缺少“satisfaction”列（党员群众满意度）；评定办法没有把这一项标为可缺项（optional: true）"
    with pytest.raises(ValueError) as err:
        grade(BAISHAN.assign(satisfaction=[99.8, np.nan]), spec)
    assert str(err.value) == ("被评对象“V04”没有“satisfaction”（党员群众满意度）的得分；评定办法没有把这一项标为可缺项"
                              "（optional: true）")
    optional = dataclasses.replace(spec, components=(
        spec.components[0], dataclasses.replace(spec.components[1], optional=True)))
    result = grade(BAISHAN.assign(satisfaction=[99.8, np.nan]), optional)
    # V04 without satisfaction: weight 0.8 ÷ 0.8 = 1 → composite 58 → 一星 (< 60)
    assert result.grades.composite.iloc[1] == pytest.approx(58.0)
    assert "综合得分 = 58 = 58（缺 党员群众满意度，按其余权重和 0.8 归一）" in result.reasons.text.tolist()


BAISHAN_VETOES = "“cadre_misconduct”、“major_incident”、“weak_and_lax”、“election_violation”、“unresolved_petition”"
BAISHAN_GRADES = "“五星”、“四星”、“三星”、“二星”、“一星”"


@pytest.mark.parametrize("kwargs, message", [
    ({"vetoes": pd.DataFrame({"subject": ["V01"], "veto": ["bribery"], "evidence": [""]})},
     f"被评对象“V01”的否决项“bribery”不是评定办法“baishan_village_stars”的否决项（应为{BAISHAN_VETOES}之一）"),
    ({"vetoes": pd.DataFrame({"subject": ["V01"], "veto": [""], "evidence": ["2023年处分"]})},
     f"被评对象“V01”的否决项是空的（应为{BAISHAN_VETOES}之一）"),
    ({"vetoes": pd.DataFrame({"subject": ["V99"], "veto": ["major_incident"], "evidence": [""]})},
     "否决项“major_incident”针对的被评对象“V99”不在本次评定的对象中（请核对编码）"),
    ({"vetoes": pd.DataFrame({"subject": ["V01"], "否决项": ["major_incident"]})},
     "否决项表缺少列：veto（需要的列：subject、veto）"),
    # a previous-grades table with a grade the scheme does not have
    ({"previous": pd.DataFrame({"subject": ["V01"], "grade": ["六星"]})},
     f"上一年等次表中被评对象“V01”的等次“六星”不是评定办法“baishan_village_stars”的等次（应为{BAISHAN_GRADES}之一）"),
    ({"previous": pd.DataFrame({"subject": ["V04"], "grade": [np.nan]})},
     f"上一年等次表中被评对象“V04”没有填写等次（应为{BAISHAN_GRADES}之一）"),
    ({"previous": pd.DataFrame({"subject": ["V01", "V01"], "grade": ["四星", "五星"]})},
     "上一年等次表中被评对象“V01”出现了不止一次，但没有“campaign”列说明各是哪一次测评的等次"),
    ({"previous": pd.DataFrame({"subject": ["V01"], "stars": ["五星"]})},
     "上一年等次表缺少列：grade（需要的列：subject、grade；请使用上一次评定写出的 grades.csv）"),
])
def test_bad_inputs_are_refused_with_the_subject_named(kwargs, message):
    with pytest.raises(ValueError) as err:
        grade(BAISHAN, spec_for("baishan_village_stars"), **kwargs)
    assert str(err.value) == message


@pytest.mark.parametrize("frame, message", [
    (BAISHAN.drop(columns="subject"), "各项得分表缺少“subject”列（每个被评对象一行，“subject”为其编码）"),
    # a components table with a subject twice
    (pd.concat([BAISHAN, BAISHAN.iloc[[0]]], ignore_index=True),
     "各项得分表中有被评对象出现了不止一次：“V01”（每个被评对象只能有一行）"),
    (BAISHAN.assign(checklist=[101.0, 58.0]), "被评对象“V01”的“checklist”（考评组评定得分）为 101，超出了 0–100 的范围"),
    (BAISHAN.assign(checklist=["86.5", "五十八"]), "被评对象“V04”的“checklist”（考评组评定得分）应为数字，表中是“五十八”"),
])
def test_a_components_table_the_engine_cannot_grade_is_named(frame, message):
    with pytest.raises(ValueError) as err:
        grade(frame, spec_for("baishan_village_stars"))
    assert str(err.value) == message


def test_a_subject_with_none_of_the_components_is_named():
    spec = spec_for("baishan_village_stars")
    optional = dataclasses.replace(spec, components=tuple(dataclasses.replace(c, optional=True)
                                                          for c in spec.components))
    with pytest.raises(ValueError) as err:
        grade(BAISHAN.assign(checklist=[86.5, np.nan], satisfaction=[99.8, np.nan]), optional)
    assert str(err.value) == "被评对象“V04”没有评定办法中任何一项的得分"


@pytest.mark.parametrize("shares, message", [
    (pd.DataFrame({"subject": ["V01"], "choice": ["不称职"], "n": [30]}),
     "票数占比表缺少列：share（需要的列：subject、choice、share）"),
    (pd.DataFrame({"subject": ["V01"], "choice": ["不称职"], "share": [1.5]}),
     "被评对象“V01”的票数占比为 1.5，超出了 0–1 的范围"),
])
def test_a_vote_share_table_the_engine_cannot_use_is_named(shares, message):
    frame = pd.DataFrame({"subject": ["V01"], "official": [90.0], "members": [90.0], "representatives": [90.0]})
    with pytest.raises(ValueError) as err:
        grade(frame, spec_for("suixi_cadre_grades"), vote_shares=shares)
    assert str(err.value) == message


def test_a_tie_break_without_its_column_is_named():
    spec = spec_for("ganyu_office_grading")  # 好中选优 by composite, then the duty_satisfaction subtotal
    frame = pd.DataFrame({"subject": [f"G{i}" for i in range(10)], "checklist": [99.0] * 10})
    with pytest.raises(ValueError) as err:
        grade(frame, spec)
    assert str(err.value) == ("名额的排序依据“duty_satisfaction”要用各项得分表中的“duty_satisfaction”列，但表中没有这一列"
                              "（若它是清单的一个类别，请检查清单得分里是否有这一类别的指标）")


def test_a_ledger_the_engine_cannot_open_is_named():
    grades = pd.DataFrame({"subject": ["G1"], "grade": ["二星级"]})
    scores = pd.DataFrame({"subject": ["G1"], "indicator": ["x"], "score": [1.0]})
    with pytest.raises(ValueError) as err:
        rectification_lines(grades, scores, spec_for("ganyu_office_grading"))
    assert str(err.value) == ("被评对象“G1”的指标“x”没有满分：评定办法的整改规则没有列出这个指标，"
                              "指标得分表里也没有它的满分（“full_marks”）")
    with pytest.raises(ValueError) as err:
        rectification_lines(grades, scores, spec_for("suixi_cadre_grades"))
    assert str(err.value) == "评定办法“suixi_cadre_grades”没有整改规则（rectification），无法列出整改台账"


def test_a_composite_on_the_threshold_reaches_it_despite_floating_point():
    spec = spec_for("qitaihe_four_grades")
    # 0.7*55.5 + 0.3*70.5 = 38.85 + 21.15 = 60 exactly (59.99999999999999 in floating point) → 一般
    assert 0.7 * 55.5 + 0.3 * 70.5 < 60
    frame = pd.DataFrame({"subject": ["x"], "checklist": [55.5], "evaluation": [70.5]})
    result = grade(frame, spec)
    assert result.grades.grade.iloc[0] == "一般"
    assert "综合得分 60 ≥ 60（一般线）且 < 80（较好线），按分数线定为 一般" in result.reasons.text.tolist()
