"""Broken grading rules in a scheme: quotas, vote shares, year over year, pay link, roll-up, ledger."""
from __future__ import annotations

import pytest

from forms import DefinitionError, load_text
from forms.loader import builtin_library

SCHEME = """\
kind: scheme
key: small_cadre_scheme
version: 1
title: 小办法
checklist: qitaihe_party_building
rater_groups:
  - {key: town_cadre, weight: 0.5}
  - {key: member, weight: 0.5}
components:
  - {key: list, source: checklist_total, weight: 0.6}
  - {key: official, source: group_score, questionnaire: cadre_evaluation, rater_group: town_cadre, weight: 0.4}
grades:
  - {label: 称职, min: 70}
  - {label: 基本称职, min: 50}
  - {label: 不称职, min: 0}
quotas:
  - label: 称职
    max_share: 0.3
    tie_break:
      - {key: composite, order: desc}
      - {key: code}
vote_share_rules:
  - {item: verdict, choices: [incompetent], compare: ">", share: 1/3, set: 不称职}
  - {item: verdict, choices: [competent], compare: "<", share: 2/3, flag: 诫勉谈话}
year_over_year:
  max_step: 1
  repeats:
    - {grade: 不称职, years: 2, flag: 劝其引咎辞职或罢免}
pay_link:
  base: 80
  band: [0.1, 0.3]
  no_bonus: [不称职]
rollup:
  parent: town
  grades:
    - {label: 好, at_or_above: 称职, min_share: 0.9}
    - {label: 一般, at_or_above: 不称职, min_share: 0}
rectification:
  below: 基本称职
  indicator_share: 0.6
  owner: 村党组织书记
  deadline_days: 60
"""


def problems(text: str) -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        load_text(text, "small.yaml", builtin_library())
    return [str(p) for p in caught.value.problems]


def test_the_valid_scheme_loads_every_rule():
    scheme = load_text(SCHEME, "small.yaml", builtin_library())
    assert scheme.quotas[0].label == "称职" and scheme.quotas[0].max_share == 0.3
    assert [t.key for t in scheme.quotas[0].tie_break] == ["composite", "code"]
    assert scheme.quotas[0].tie_break[1].order == "asc"  # codes run upwards unless told
    assert scheme.vote_share_rules[0].threshold == pytest.approx(1 / 3)
    assert scheme.vote_share_rules[0].threshold_text == "1/3"
    assert scheme.vote_share_rules[0].questionnaire == "cadre_evaluation"  # from the components
    assert scheme.year_over_year.repeats[0].flag == "劝其引咎辞职或罢免"
    assert scheme.pay_link.cap == 0.3  # defaults to the top of the band
    assert scheme.rollup.parent_label == "镇街"
    assert scheme.rectification_below == "基本称职"  # taken from the rectification block


@pytest.mark.parametrize("old, new, expected", [
    pytest.param("  - label: 称职\n    max_share", "  - label: 优秀\n    max_share",
                 "small.yaml 第 17 行：比例限制中的“label”是“优秀”，但它不是本评定办法的等次",
                 id="quota label not a grade"),
    pytest.param("max_share: 0.3", "max_share: 1.5",
                 "small.yaml 第 18 行：等次“称职”的比例限制中的字段“max_share”必须在 0 到 1 之间，而不是 1.5",
                 id="max_share above 1"),
    pytest.param("max_share: 0.3", "max_share: -0.1",
                 "small.yaml 第 18 行：等次“称职”的比例限制中的字段“max_share”必须在 0 到 1 之间，而不是 -0.1",
                 id="max_share below 0"),
    pytest.param("{key: composite, order: desc}", "{key: seniority, order: desc}",
                 "small.yaml 第 20 行：等次“称职”的比例限制用“seniority”决定并列先后，但它既不是评定办法的"
                 "构成项，也不是其清单的类别（请使用以下之一：checklist_total、code、composite、"
                 "duty_record、list、official、organisation_life、responsibility）",
                 id="tie-break on an unknown component"),
    pytest.param("{key: code}", "{key: code, order: sideways}",
                 "small.yaml 第 21 行：“tie_break”的“order”必须是“asc”或“desc”，而不是“sideways”",
                 id="tie-break order"),
    pytest.param("  - label: 称职\n    max_share", "  - label: 不称职\n    max_share",
                 "small.yaml 第 17 行：等次“不称职”的比例限制针对的是最低等次，超出比例的对象无法再降到更低的等次",
                 id="quota on the lowest grade"),
    pytest.param("choices: [incompetent]", "choices: [excellent]",
                 "small.yaml 第 23 行：得票比例规则中的选项“excellent”在测评表“cadre_evaluation”中不存在"
                 "（该测评表的选项：basically_competent、competent、incompetent）",
                 id="vote-share choice the questionnaire lacks"),
    pytest.param('share: 1/3, set: 不称职', 'share: 1/3, set: 很差',
                 "small.yaml 第 23 行：得票比例规则中的“set”是“很差”，但它不是本评定办法的等次",
                 id="vote-share rule sets an unknown grade"),
    pytest.param('share: 1/3, set: 不称职', 'share: 1/3',
                 "small.yaml 第 23 行：得票比例规则必须写“set”、“cap”或“flag”，且只能写其中一个",
                 id="vote-share rule without an effect"),
    pytest.param('compare: ">", share: 1/3', 'compare: "≥", share: 1/3',
                 "small.yaml 第 23 行：得票比例规则的“compare”是“≥”，无法识别；请使用 >、>=、<、<= 之一",
                 id="vote-share comparison"),
    pytest.param('share: 2/3', 'share: two thirds',
                 "small.yaml 第 24 行：得票比例规则中的字段“share”必须是 0.3 或 1/3 这样的比例，"
                 "而不是文本“two thirds”",
                 id="vote-share threshold not a fraction"),
    pytest.param("{item: verdict, choices: [competent]", "{item: mood, choices: [competent]",
                 "small.yaml 第 24 行：得票比例规则中的题目“mood”在测评表“cadre_evaluation”中不存在",
                 id="vote-share item the questionnaire lacks"),
    pytest.param("max_step: 1", "max_step: 0",
                 "small.yaml 第 26 行：“year_over_year.max_step”必须至少为 1，而不是 0",
                 id="max_step of zero"),
    pytest.param("{grade: 不称职, years: 2,", "{grade: 不合格, years: 2,",
                 "small.yaml 第 28 行：连续等次规则中的“grade”是“不合格”，但它不是本评定办法的等次",
                 id="repeat rule on an unknown grade"),
    pytest.param("band: [0.1, 0.3]", "band: [0.3, 0.1]",
                 "small.yaml 第 31 行：“pay_link.band”必须在 0 到 1 之间、由低到高排列，而不是 [0.3, 0.1]",
                 id="pay band upside down"),
    pytest.param("no_bonus: [不称职]", "no_bonus: [差]",
                 "small.yaml 第 32 行：“pay_link.no_bonus”中的“差”不是本评定办法的等次",
                 id="no-bonus grade unknown"),
    pytest.param("at_or_above: 称职, min_share: 0.9", "at_or_above: 三星, min_share: 0.9",
                 "small.yaml 第 36 行：“rollup”的等次“好”中的“at_or_above”是“三星”，"
                 "但它不是本评定办法的等次",
                 id="roll-up counts an unknown grade"),
    pytest.param("below: 基本称职", "below: 合格",
                 "small.yaml 第 39 行：“rectification”中的“below”是“合格”，但它不是本评定办法的等次",
                 id="rectification line unknown"),
    pytest.param("indicator_share: 0.6", "indicator_share: 60",
                 "small.yaml 第 40 行：“rectification”中的字段“indicator_share”必须在 0 到 1 之间，而不是 60",
                 id="indicator share as a percentage"),
    pytest.param("  deadline_days: 60\n", "  deadline_days: 60\n  priority: high\n",
                 "small.yaml 第 43 行：“rectification”中的字段“priority”无法识别（可用的字段：below、"
                 "deadline_days、indicator_share、owner）",
                 id="unknown field in a rule block"),
])
def test_a_broken_scheme_rule_names_file_line_and_field(old, new, expected):
    assert old in SCHEME, old
    assert expected in problems(SCHEME.replace(old, new))


def test_a_scheme_with_several_broken_rules_reports_them_all():
    text = (SCHEME.replace("max_share: 0.3", "max_share: 2")
            .replace("choices: [incompetent]", "choices: [excellent]")
            .replace("below: 基本称职", "below: 合格"))
    found = problems(text)
    assert [p.split("：")[0] for p in found] == ["small.yaml 第 18 行", "small.yaml 第 23 行",
                                                 "small.yaml 第 39 行"]
