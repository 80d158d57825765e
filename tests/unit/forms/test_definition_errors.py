"""Broken definitions, each with the precise message a person needs to fix it."""
from __future__ import annotations

import textwrap

import pytest

from forms import DefinitionError, load_text

QUESTIONNAIRE = """\
kind: questionnaire
key: village_satisfaction
version: 1
title: 满意度测评
rater_groups: [masses]
scales:
  sat3:
    choices:
      - {key: satisfied, label: 满意, value: 100}
      - {key: basically, label: 基本满意, value: 60}
      - {key: dissatisfied, label: 不满意, value: 0}
dimensions:
  - {key: service, label: 服务, weight: 1}
items:
  - {key: q1, label: 公开, scale: sat3, dimension: service}
  - {key: q2, label: 办实事, scale: sat3, dimension: service}
  - {key: q3, label: 环境, scale: sat3, dimension: service}
"""

CHECKLIST = """\
kind: checklist
key: small_list
version: 1
title: 小清单
total: 10
categories:
  - key: team
    label: 队伍
    points: 10
    indicators:
      - {key: meetings, label: 三会一课, points: 6}
      - {key: training, label: 培训, points: 4}
vetoes:
  - {key: misconduct, label: 违法违纪}
"""

SCHEME = """\
kind: scheme
key: small_scheme
version: 1
title: 小办法
checklist: small_list
rater_groups:
  - {key: masses, weight: 0.6}
  - {key: member, weight: 0.4}
components:
  - {key: list, source: checklist_total, weight: 0.8}
  - {key: sat, source: satisfaction_rate, questionnaire: village_satisfaction, weight: 0.2}
grades:
  - {label: 好, min: 85}
  - {label: 一般, min: 60}
  - {label: 差, min: 0}
vetoes:
  - {on: misconduct, cap: 差}
"""


def library():
    q = load_text(QUESTIONNAIRE, "village_satisfaction.yaml")
    c = load_text(CHECKLIST, "small_list.yaml")
    return {q.key: q, c.key: c}


def problems(text: str, name: str) -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        load_text(text, name, library())
    return [str(p) for p in caught.value.problems]


def test_the_valid_examples_load():
    scheme = load_text(SCHEME, "small_scheme.yaml", library())
    assert [g.label for g in scheme.grades] == ["好", "一般", "差"]
    assert scheme.grade_for(84.99).label == "一般"


@pytest.mark.parametrize("name, text, expected", [
    pytest.param("village_satisfaction.yaml",
                 QUESTIONNAIRE.replace("{key: q3, label: 环境, scale: sat3", "{key: q3, label: 环境, scale: sat5"),
                 "village_satisfaction.yaml line 17: item 'q3' uses scale 'sat5', which is not defined",
                 id="unknown scale"),
    pytest.param("village_satisfaction.yaml",
                 QUESTIONNAIRE.replace("{key: q3,", "{key: q1,"),
                 "village_satisfaction.yaml line 17: item 'q1' is defined twice (first on line 15)",
                 id="duplicate item key"),
    pytest.param("village_satisfaction.yaml",
                 QUESTIONNAIRE.replace("label: 基本满意, value: 60}", "label: 基本满意}"),
                 "village_satisfaction.yaml line 10: scale 'sat3' choice 'basically' has no value; "
                 "every choice maps to a number",
                 id="choice without a value"),
    pytest.param("village_satisfaction.yaml",
                 QUESTIONNAIRE.replace("  - {key: service, label: 服务, weight: 1}",
                                       "  - {key: service, label: 服务, weight: 0.5}\n"
                                       "  - {key: openness, label: 公开, weight: 0.3}")
                 .replace("{key: q1, label: 公开, scale: sat3, dimension: service}",
                          "{key: q1, label: 公开, scale: sat3, dimension: openness}"),
                 "village_satisfaction.yaml line 12: dimension weights must sum to 1, but sum to 0.8",
                 id="weights that must sum to 1"),
    pytest.param("small_scheme.yaml",
                 SCHEME.replace("{on: misconduct", "{on: bribery"),
                 "small_scheme.yaml line 17: veto rule on 'bribery' names no veto item of checklist "
                 "'small_list' (its veto items: misconduct)",
                 id="veto on a missing indicator"),
    pytest.param("small_list.yaml",
                 CHECKLIST.replace("points: 10\n    indicators", "points: 12\n    indicators")
                 .replace("{key: training, label: 培训, points: 4}", "{key: training, label: 培训, points: 6}"),
                 "small_list.yaml line 5: the categories add up to 12 points, more than the stated total 10",
                 id="points exceed the stated total"),
    pytest.param("village_satisfaction.yaml",
                 QUESTIONNAIRE.replace("title: 满意度测评", 'title: "满意度测评'),
                 "village_satisfaction.yaml line 18: YAML syntax error: found unexpected end of stream, "
                 "while scanning a quoted scalar that starts on line 4",
                 id="YAML syntax error"),
    pytest.param("village_satisfaction.yaml",
                 QUESTIONNAIRE.replace("version: 1", "version: first"),
                 "village_satisfaction.yaml line 3: field 'version' must be an integer, not str 'first'",
                 id="wrong type"),
    pytest.param("village_satisfaction.yaml",
                 QUESTIONNAIRE + "colour: red\n",
                 "village_satisfaction.yaml line 18: unknown top-level key 'colour' for a questionnaire "
                 "(allowed: dimensions, intro, items, key, kind, layout, rater_groups, satisfaction_item, satisfied, scales, "
                 "source, subject_kind, title, version)",
                 id="unknown top-level key"),
    pytest.param("village_satisfaction.yaml",
                 QUESTIONNAIRE.split("items:")[0] + "items: []\n",
                 "village_satisfaction.yaml line 14: the questionnaire has no items",
                 id="empty questionnaire"),
    pytest.param("village_satisfaction.yaml",
                 QUESTIONNAIRE.replace("rater_groups: [masses]", "rater_groups: [masses, bosses]"),
                 "village_satisfaction.yaml line 5: rater group 'bosses' does not exist (known: superior, "
                 "subordinate, peer, member, masses, village_rep, town_cadre, self, principal_leader, "
                 "leader_in_charge, other_leader, office_head, unit_head, office_dept)",
                 id="rater group that does not exist"),
    pytest.param("small_scheme.yaml",
                 SCHEME.replace("{label: 一般, min: 60}", "{label: 一般, min: 90}"),
                 "small_scheme.yaml line 14: grades must run from the highest threshold down: "
                 "'一般' (min 90) comes after '好' (min 85)",
                 id="threshold list out of order"),
    pytest.param("small_scheme.yaml",
                 SCHEME.replace("rater_group", "rater_group").replace(
                     "  - {key: sat, source: satisfaction_rate, questionnaire: village_satisfaction, weight: 0.2}",
                     "  - {key: sat, source: group_score, questionnaire: village_satisfaction, "
                     "rater_group: elders, weight: 0.2}"),
                 "small_scheme.yaml line 11: component 'sat' uses rater group 'elders', which the scheme "
                 "does not declare",
                 id="scheme component names an undeclared rater group"),
    pytest.param("small_scheme.yaml",
                 SCHEME.replace("weight: 0.8}", "weight: 0.7}"),
                 "small_scheme.yaml line 9: component weights must sum to 1, but sum to 0.9",
                 id="component weights"),
    pytest.param("village_satisfaction.yaml",
                 QUESTIONNAIRE.replace("version: 1\n", "version: 1\nversion: 2\n"),
                 "village_satisfaction.yaml line 4: key 'version' appears twice",
                 id="duplicate YAML key"),
    pytest.param("small_list.yaml", "- just\n- a list\n",
                 "small_list.yaml line 1: a definition must be a YAML mapping (key: value lines), not a list",
                 id="not a mapping"),
    pytest.param("small_list.yaml", CHECKLIST.replace("kind: checklist", "kind: survey"),
                 "small_list.yaml line 1: field 'kind' must be one of questionnaire, checklist, scheme, "
                 "not 'survey'",
                 id="unknown kind"),
])
def test_a_broken_definition_names_file_line_and_field(name, text, expected):
    assert expected in problems(text, name)


def test_every_problem_is_reported_at_once():
    text = (QUESTIONNAIRE.replace("scale: sat3, dimension: service}\n  - {key: q2",
                                  "scale: sat9, dimension: service}\n  - {key: q2")
            .replace("version: 1", "version: x") + "extra: 1\n")
    found = problems(text, "q.yaml")
    assert len(found) == 3
    assert [p.split(":")[0] for p in found] == ["q.yaml line 3", "q.yaml line 15", "q.yaml line 18"]


def test_yaml_reads_on_as_a_key_not_a_boolean():
    scheme = load_text(SCHEME, "small_scheme.yaml", library())
    assert scheme.vetoes[0].on == "misconduct"


def test_a_problem_message_is_the_same_from_a_file(tmp_path):
    from forms.loader import load_definition

    path = tmp_path / "village_satisfaction.yaml"
    path.write_text(QUESTIONNAIRE.replace("scale: sat3, dimension: service}\n  - {key: q2",
                                          "scale: sat5, dimension: service}\n  - {key: q2"),
                    encoding="utf-8")
    with pytest.raises(DefinitionError, match=r"village_satisfaction.yaml line 15: item 'q1' uses "
                                              r"scale 'sat5', which is not defined"):
        load_definition(path)


def test_dedent_helper_is_not_needed_for_inline_tables():
    # the fixtures above are written flush-left so that line numbers are the file's own
    assert textwrap.dedent(QUESTIONNAIRE) == QUESTIONNAIRE


def test_a_satisfaction_item_must_be_an_item_on_a_scale_with_the_satisfied_choices():
    text = QUESTIONNAIRE.replace("rater_groups: [masses]", "rater_groups: [masses]\nsatisfaction_item: q9")
    assert problems(text, "v.yaml") == ["v.yaml line 6: satisfaction_item 'q9' is not an item of the questionnaire"]
    text = QUESTIONNAIRE.replace("rater_groups: [masses]", "rater_groups: [masses]\nsatisfaction_item: q1")
    assert problems(text, "v.yaml") == [
        "v.yaml line 6: satisfaction_item needs the 'satisfied' list of choices that count as satisfied"]
    ok = load_text(text.replace("satisfaction_item: q1", "satisfaction_item: q1\nsatisfied: [satisfied, basically]"),
                   "v.yaml")
    assert ok.satisfaction_item == "q1"
