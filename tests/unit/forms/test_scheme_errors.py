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
                 "small.yaml line 17: quota names '优秀' as 'label', which is not a grade of the scheme",
                 id="quota label not a grade"),
    pytest.param("max_share: 0.3", "max_share: 1.5",
                 "small.yaml line 18: field 'max_share' of quota on '称职' must be between 0 and 1, not 1.5",
                 id="max_share above 1"),
    pytest.param("max_share: 0.3", "max_share: -0.1",
                 "small.yaml line 18: field 'max_share' of quota on '称职' must be between 0 and 1, not -0.1",
                 id="max_share below 0"),
    pytest.param("{key: composite, order: desc}", "{key: seniority, order: desc}",
                 "small.yaml line 20: quota on '称职' breaks ties on 'seniority', which is neither a "
                 "component of the scheme nor a category of its checklist (use one of: checklist_total, "
                 "code, composite, duty_record, list, official, organisation_life, responsibility)",
                 id="tie-break on an unknown component"),
    pytest.param("{key: code}", "{key: code, order: sideways}",
                 "small.yaml line 21: tie-break order must be 'asc' or 'desc', not 'sideways'",
                 id="tie-break order"),
    pytest.param("  - label: 称职\n    max_share", "  - label: 不称职\n    max_share",
                 "small.yaml line 17: quota on '不称职' limits the lowest grade; nobody could be moved below it",
                 id="quota on the lowest grade"),
    pytest.param("choices: [incompetent]", "choices: [excellent]",
                 "small.yaml line 23: vote-share rule names the choice 'excellent', which questionnaire "
                 "'cadre_evaluation' lacks (its choices: basically_competent, competent, incompetent)",
                 id="vote-share choice the questionnaire lacks"),
    pytest.param('share: 1/3, set: 不称职', 'share: 1/3, set: 很差',
                 "small.yaml line 23: vote-share rule names '很差' as 'set', which is not a grade of the scheme",
                 id="vote-share rule sets an unknown grade"),
    pytest.param('share: 1/3, set: 不称职', 'share: 1/3',
                 "small.yaml line 23: vote-share rule needs exactly one of 'set', 'cap' or 'flag'",
                 id="vote-share rule without an effect"),
    pytest.param('compare: ">", share: 1/3', 'compare: "≥", share: 1/3',
                 "small.yaml line 23: vote-share rule compares with '≥'; use one of > >= < <=",
                 id="vote-share comparison"),
    pytest.param('share: 2/3', 'share: two thirds',
                 "small.yaml line 24: field 'share' of vote-share rule must be a share such as 0.3 or 1/3, "
                 "not str 'two thirds'",
                 id="vote-share threshold not a fraction"),
    pytest.param("{item: verdict, choices: [competent]", "{item: mood, choices: [competent]",
                 "small.yaml line 24: vote-share rule names item 'mood', which questionnaire "
                 "'cadre_evaluation' lacks",
                 id="vote-share item the questionnaire lacks"),
    pytest.param("max_step: 1", "max_step: 0",
                 "small.yaml line 26: year_over_year.max_step must be 1 or more, not 0",
                 id="max_step of zero"),
    pytest.param("{grade: 不称职, years: 2,", "{grade: 不合格, years: 2,",
                 "small.yaml line 28: repeat rule names '不合格' as 'grade', which is not a grade of the scheme",
                 id="repeat rule on an unknown grade"),
    pytest.param("band: [0.1, 0.3]", "band: [0.3, 0.1]",
                 "small.yaml line 31: pay_link.band must run from low to high between 0 and 1, not [0.3, 0.1]",
                 id="pay band upside down"),
    pytest.param("no_bonus: [不称职]", "no_bonus: [差]",
                 "small.yaml line 32: pay_link.no_bonus names '差', which is not a grade of the scheme",
                 id="no-bonus grade unknown"),
    pytest.param("at_or_above: 称职, min_share: 0.9", "at_or_above: 三星, min_share: 0.9",
                 "small.yaml line 36: rollup grade '好' names '三星' as 'at_or_above', which is not a grade "
                 "of the scheme",
                 id="roll-up counts an unknown grade"),
    pytest.param("below: 基本称职", "below: 合格",
                 "small.yaml line 39: rectification names '合格' as 'below', which is not a grade of the scheme",
                 id="rectification line unknown"),
    pytest.param("indicator_share: 0.6", "indicator_share: 60",
                 "small.yaml line 40: field 'indicator_share' of rectification must be between 0 and 1, not 60",
                 id="indicator share as a percentage"),
    pytest.param("  deadline_days: 60\n", "  deadline_days: 60\n  priority: high\n",
                 "small.yaml line 43: unknown field 'priority' of rectification (allowed: below, "
                 "deadline_days, indicator_share, owner)",
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
    assert [p.split(":")[0] for p in found] == ["small.yaml line 18", "small.yaml line 23",
                                                 "small.yaml line 39"]
