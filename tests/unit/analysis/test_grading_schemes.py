"""Worked examples, one per built-in scheme: grades and reasons computed by hand beside the engine's."""
from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.grading import grade
from forms.loader import builtin_library
from survey_app.specs import grading_spec


def spec_for(key: str):
    library = builtin_library()
    return grading_spec(library[key], library)


def by_subject(result):
    return result.grades.set_index("subject")


def steps(result, subject):
    return result.reasons.query("subject == @subject").text.tolist()


# ------------------------------------------------------------------ Baishan five-star villages

def test_baishan_villages_stars_veto_year_over_year_and_town_rollup():
    spec = spec_for("baishan_village_stars")  # 0.8 checklist + 0.2 satisfaction; 90/80/70/60/0
    components = pd.DataFrame({
        "subject": ["V01", "V02", "V03", "V04"],
        "name": ["东村", "西村", "南村", "北村"],
        "parent": ["T1", "T1", "T2", "T2"],
        "checklist": [86.5, 95.0, 72.0, 58.0],
        "satisfaction": [99.8, 98.0, 90.0, 80.0],
    })
    vetoes = pd.DataFrame({"subject": ["V03"], "veto": ["unresolved_petition"],
                           "evidence": ["2023年5月越级集体上访"]})
    previous = pd.DataFrame({"subject": ["V01", "V02", "V03", "V04"],
                             "grade": ["四星", "三星", "四星", "二星"]})
    result = grade(components, spec, vetoes=vetoes, previous=previous)
    g = by_subject(result)
    np.testing.assert_allclose(g.composite, [
        89.16,  # 0.8*86.5 + 0.2*99.8 = 69.2 + 19.96 = 89.16 → 四星 (80 ≤ 89.16 < 90)
        95.6,   # 0.8*95 + 0.2*98 = 76 + 19.6 = 95.6 → 五星 by the line
        75.6,   # 0.8*72 + 0.2*90 = 57.6 + 18 = 75.6 → 三星 by the line
        62.4,   # 0.8*58 + 0.2*80 = 46.4 + 16 = 62.4 → 二星 (60 ≤ 62.4 < 70)
    ])
    assert g.threshold_grade.tolist() == ["四星", "五星", "三星", "二星"]
    assert g.grade.tolist() == [
        "四星",  # last year 四星, no move
        "四星",  # last year 三星: 五星 would be up 2, at most 1 a year → 四星
        "二星",  # veto unresolved_petition caps at 二星; the yearly limit is skipped after a veto
        "二星",  # last year 二星, no move
    ]
    assert g.vetoed.tolist() == [False, False, True, False]
    assert g.moved_from.tolist() == ["四星", "三星", "四星", "二星"]
    assert g.loc["V03", "flags"] == ("列入整改台账",) == g.loc["V04", "flags"]  # below 三星
    assert g.loc["V01", "flags"] == ()

    assert steps(result, "V01") == [
        "考评组评定得分：86.5 分，权重 0.8，计 0.8×86.5 = 69.2 分",
        "党员群众满意度：99.8 分，权重 0.2，计 0.2×99.8 = 19.96 分",
        "综合得分 = 69.2 + 19.96 = 89.16",
        "综合得分 89.16 ≥ 80（四星线）且 < 90（五星线），按分数线定为 四星",
        "上年等次 四星，本年 四星（不变），未超过每年升降 1 级",
        "最终等次：四星",
    ]
    assert "上年等次 三星，按前述步骤为 五星（升 2 级），超过每年升降 1 级，定为 四星" in steps(result, "V02")
    v03 = steps(result, "V03")
    assert ("一票否决：发生越级集体上访且造成不良影响（2023年5月越级集体上访） → 等次封顶 二星，由 三星 降为 二星"
            in v03)
    assert "上年等次 四星，本年 二星（降 2 级）；因否决规则已触发，不受每年最多降 1 级的限制" in v03

    rollup = result.rollup.set_index("parent")
    # T1: 2 of 2 villages at 四星 or better = 100% ≥ 50% → 五星
    # T2: 四星+ 0/2, 三星+ 0/2 (< 90%, < 60%), 一星+ 2/2 ≥ 0% → 一星
    assert rollup.grade.to_dict() == {"T1": "五星", "T2": "一星"}
    assert rollup.loc["T1", "text"] == "所辖 2 个单位中 四星及以上 2 个，占 100% ≥ 50%，镇街定为 五星"


# ------------------------------------------------------------------- Ganyu office organisations

def test_ganyu_offices_stars_by_total_with_veto():
    spec = spec_for("ganyu_office_grading")  # the total alone; 90/80/70/60/0; quotas 5.25% / 7.5%
    n = 100  # 100 offices: at most floor(5.25) = 5 five-star and floor(7.5) = 7 four-star
    totals = [96.0, 91.5, 84.0, 72.0, 65.0, 40.0] + [75.0] * (n - 6)
    components = pd.DataFrame({"subject": [f"G{i:03d}" for i in range(1, n + 1)],
                               "checklist": totals, "duty_satisfaction": 15.0})
    vetoes = pd.DataFrame({"subject": ["G002"], "veto": ["ideology_incident"], "evidence": ["负面舆情"]})
    g = by_subject(grade(components, spec, vetoes=vetoes))
    assert g.loc[["G001", "G002", "G003", "G004", "G005", "G006"], "grade"].tolist() == [
        "五星级",  # 96 ≥ 90
        "三星级",  # 91.5 ≥ 90 → 五星级, veto ideology_incident caps at 三星级
        "四星级",  # 80 ≤ 84 < 90
        "三星级",  # 70 ≤ 72 < 80
        "二星级",  # 60 ≤ 65 < 70
        "一星级",  # 40 < 60
    ]
    assert not g.quota_cut.any()  # 1 five-star ≤ 5, 1 four-star ≤ 7


# ----------------------------------------------------------------------- Jiading tiers

def test_jiading_tiers_and_the_improvement_zone():
    spec = spec_for("jiading_tiers")  # 0.85 task list + 0.15 satisfaction; 90/80/60/0
    components = pd.DataFrame({"subject": ["B01", "B02", "B03", "B04"],
                               "checklist": [92.0, 80.0, 95.0, 50.0],
                               "satisfaction": [96.0, 70.0, 100.0, 80.0]})
    vetoes = pd.DataFrame({"subject": ["B03"], "veto": ["committee_violation"], "evidence": [""]})
    result = grade(components, spec, vetoes=vetoes)
    g = by_subject(result)
    np.testing.assert_allclose(g.composite, [
        92.6,   # 0.85*92 + 0.15*96 = 78.2 + 14.4 = 92.6 → 示范型 (≥ 90)
        78.5,   # 0.85*80 + 0.15*70 = 68 + 10.5 = 78.5 → 标准型 (60 ≤ 78.5 < 80)
        95.75,  # 0.85*95 + 0.15*100 = 80.75 + 15 = 95.75 → 示范型 by the line
        54.5,   # 0.85*50 + 0.15*80 = 42.5 + 12 = 54.5 → 改进区 (< 60)
    ])
    assert g.grade.tolist() == ["示范型", "标准型", "改进区", "改进区"]  # B03: veto → 改进区
    assert "一票否决：党支部班子成员出现违法违纪行为 → 等次封顶 改进区，由 示范型 降为 改进区" in steps(result, "B03")
    assert g.loc["B04", "flags"] == ("列入整改台账",)


# -------------------------------------------------------------- Qitaihe four grades + pay link

def test_qitaihe_four_grades_office_groups_and_pay_link():
    spec = spec_for("qitaihe_four_grades")  # 0.7 duties + 0.3 evaluation; 90/80/60/0; base 80
    groups = ["principal_leader", "leader_in_charge", "other_leader", "office_head", "unit_head",
              "office_dept"]  # weights .15 .15 .20 .10 .15 .25
    components = pd.DataFrame({
        "subject": ["D01", "D02", "D03", "D04"],
        "checklist": [92.0, 85.0, 50.0, 70.0],
        "evaluation": [np.nan, 85.0, 60.0, np.nan],
        **{f"evaluation.{g}": v for g, v in zip(groups, [
            [100, np.nan, np.nan, 80], [100, np.nan, np.nan, np.nan], [90, np.nan, np.nan, np.nan],
            [90, np.nan, np.nan, np.nan], [80, np.nan, np.nan, np.nan], [80, np.nan, np.nan, 60]])},
    })
    result = grade(components, spec)
    g = by_subject(result)
    np.testing.assert_allclose(g.composite, [
        91.1,   # evaluation .15*100+.15*100+.2*90+.1*90+.15*80+.25*80 = 89; 0.7*92 + 0.3*89 = 64.4 + 26.7
        85.0,   # 0.7*85 + 0.3*85 = 59.5 + 25.5 = 85
        53.0,   # 0.7*50 + 0.3*60 = 35 + 18 = 53
        69.25,  # evaluation (.15*80 + .25*60) / .40 = 27 / .4 = 67.5; 0.7*70 + 0.3*67.5 = 49 + 20.25
    ])
    assert g.grade.tolist() == ["好", "较好", "较差", "一般"]  # ≥90, 80–90, <60, 60–80
    np.testing.assert_allclose(g.pay_adjustment, [
        0.13875,    # (91.1 − 80) / 80 = +13.875%, inside 10%–30% → bonus up 13.875%
        0.0,        # (85 − 80) / 80 = +6.25% < 10% → unchanged
        -0.30,      # (53 − 80) / 80 = −33.75%, past 30% → down 30%
        -0.134375,  # (69.25 − 80) / 80 = −13.4375% → down 13.4375%
    ])
    d01 = steps(result, "D01")
    assert d01[1] == ("领导和部门评议得分：89 分（各评价主体加权：(主要领导 100×0.15 + 主管领导 100×0.15 + "
                      "其它领导 90×0.2 + 机关正职 90×0.1 + 单位正职 80×0.15 + 机关部门 80×0.25) ÷ 1 = 89），"
                      "权重 0.3，计 0.3×89 = 26.7 分")
    assert d01[-2] == ("综合得分 91.1 比基础分 80 高 13.88%，在 10%–30% 之间，同比例上浮 13.88%"
                       "（领导班子成员绩效考评奖金）")
    assert "综合得分 53 比基础分 80 低 33.75%，超过 30%，按上限下调 30%（领导班子成员绩效考评奖金）" in steps(result, "D03")
    assert "÷ 0.4 = 67.5" in steps(result, "D04")[1]  # only the groups that rated count


# ------------------------------------------------------------- Suixi 称职 grades: 官评 + 民评

def test_suixi_cadres_official_and_popular_ratings_with_vote_share_rules():
    spec = spec_for("suixi_cadre_grades")  # 0.5 town cadres + 0.25 members + 0.25 representatives
    components = pd.DataFrame({"subject": ["C01", "C02", "C03", "C04"],
                               "official": [90.0, 75.0, 72.0, 80.0],
                               "members": [80.0, 70.0, 60.0, 80.0],
                               "representatives": [84.0, 72.0, 64.0, 80.0]})
    shares = pd.DataFrame([
        ("C01", "competent", 32 / 40, 40), ("C01", "basically_competent", 6 / 40, 40),
        ("C01", "incompetent", 2 / 40, 40),
        ("C02", "competent", 24 / 40, 40), ("C02", "basically_competent", 12 / 40, 40),
        ("C02", "incompetent", 4 / 40, 40),
        ("C03", "competent", 16 / 40, 40), ("C03", "basically_competent", 10 / 40, 40),
        ("C03", "incompetent", 14 / 40, 40),
        ("C04", "competent", 20 / 30, 30), ("C04", "incompetent", 10 / 30, 30),
    ], columns=["subject", "choice", "share", "n"])
    previous = pd.DataFrame({"subject": ["C03", "C04"], "grade": ["不称职", "称职"]})
    result = grade(components, spec, vote_shares=shares, previous=previous)
    g = by_subject(result)
    np.testing.assert_allclose(g.composite, [
        86.0,  # 0.5*90 + 0.25*80 + 0.25*84 = 45 + 20 + 21 = 86 → 称职 (≥ 70)
        73.0,  # 0.5*75 + 0.25*70 + 0.25*72 = 37.5 + 17.5 + 18 = 73 → 称职
        67.0,  # 0.5*72 + 0.25*60 + 0.25*64 = 36 + 15 + 16 = 67 → 基本称职 (50 ≤ 67 < 70)
        80.0,  # 0.5*80 + 0.25*80 + 0.25*80 = 80 → 称职
    ])
    assert g.grade.tolist() == [
        "称职",
        "称职",     # 称职 24/40 = 60% < 2/3 → flagged 诫勉谈话, grade unchanged
        "不称职",   # 不称职 14/40 = 35% > 1/3 → 不称职 whatever the score
        "称职",     # 不称职 10/30 = 1/3 exactly: not above; 称职 20/30 = 2/3 exactly: not below
    ]
    assert g.loc["C01", "flags"] == () == g.loc["C04", "flags"]
    assert g.loc["C02", "flags"] == ("诫勉谈话",)
    assert g.loc["C03", "flags"] == ("诫勉谈话", "劝其引咎辞职或罢免")  # 称职 40% < 2/3; 不称职 two years
    np.testing.assert_allclose(g.pay_adjustment, [0.0, 0.0, -1.0, 0.0])  # 不称职: no bonus
    c03 = steps(result, "C03")
    assert "「不称职」票占 35%（n=40） > 1/3 → 不论得分，定为 不称职（按分数线为 基本称职）" in c03
    assert "连续 2 年为 不称职（不称职 → 不称职）→ 标记：劝其引咎辞职或罢免" in c03
    assert "等次为 不称职：不予发放绩效补贴，一年内不得评优评先，并进行诫勉谈话（奖金 −100%）" in c03
    assert "「称职」票占 60%（n=40） < 2/3 → 标记：诫勉谈话" in steps(result, "C02")
