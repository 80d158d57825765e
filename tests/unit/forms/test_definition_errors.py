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
                 "village_satisfaction.yaml 第 17 行：题目“q3”使用的量表“sat5”没有定义",
                 id="unknown scale"),
    pytest.param("village_satisfaction.yaml",
                 QUESTIONNAIRE.replace("{key: q3,", "{key: q1,"),
                 "village_satisfaction.yaml 第 17 行：题目“q1”定义了两次（第一次在第 15 行）",
                 id="duplicate item key"),
    pytest.param("village_satisfaction.yaml",
                 QUESTIONNAIRE.replace("label: 基本满意, value: 60}", "label: 基本满意}"),
                 "village_satisfaction.yaml 第 10 行：量表“sat3”的选项“basically”没有“value”；"
                 "每个选项都要对应一个分值",
                 id="choice without a value"),
    pytest.param("village_satisfaction.yaml",
                 QUESTIONNAIRE.replace("  - {key: service, label: 服务, weight: 1}",
                                       "  - {key: service, label: 服务, weight: 0.5}\n"
                                       "  - {key: openness, label: 公开, weight: 0.3}")
                 .replace("{key: q1, label: 公开, scale: sat3, dimension: service}",
                          "{key: q1, label: 公开, scale: sat3, dimension: openness}"),
                 "village_satisfaction.yaml 第 12 行：各维度的权重之和必须为 1，现在是 0.8",
                 id="weights that must sum to 1"),
    pytest.param("small_scheme.yaml",
                 SCHEME.replace("{on: misconduct", "{on: bribery"),
                 "small_scheme.yaml 第 17 行：否决规则的“on”是“bribery”，但清单“small_list”中没有这个否决项"
                 "（该清单的否决项：misconduct）",
                 id="veto on a missing indicator"),
    pytest.param("small_list.yaml",
                 CHECKLIST.replace("points: 10\n    indicators", "points: 12\n    indicators")
                 .replace("{key: training, label: 培训, points: 4}", "{key: training, label: 培训, points: 6}"),
                 "small_list.yaml 第 5 行：各类别合计 12 分，超过了标明的总分 10 分",
                 id="points exceed the stated total"),
    pytest.param("village_satisfaction.yaml",
                 QUESTIONNAIRE.replace("title: 满意度测评", 'title: "满意度测评'),
                 "village_satisfaction.yaml 第 18 行：YAML 语法错误：found unexpected end of stream；"
                 "相关内容从第 4 行开始（while scanning a quoted scalar）",
                 id="YAML syntax error"),
    pytest.param("village_satisfaction.yaml",
                 QUESTIONNAIRE.replace("version: 1", "version: first"),
                 "village_satisfaction.yaml 第 3 行：字段“version”必须是整数，而不是文本“first”",
                 id="wrong type"),
    pytest.param("village_satisfaction.yaml",
                 QUESTIONNAIRE + "colour: red\n",
                 "village_satisfaction.yaml 第 18 行：顶层字段“colour”无法识别（测评表可用的字段：dimensions、intro、"
                 "items、key、kind、layout、rater_groups、satisfaction_item、satisfied、scales、source、"
                 "subject_kind、title、version）",
                 id="unknown top-level key"),
    pytest.param("village_satisfaction.yaml",
                 QUESTIONNAIRE.split("items:")[0] + "items: []\n",
                 "village_satisfaction.yaml 第 14 行：测评表中没有任何题目",
                 id="empty questionnaire"),
    pytest.param("village_satisfaction.yaml",
                 QUESTIONNAIRE.replace("rater_groups: [masses]", "rater_groups: [masses, bosses]"),
                 "village_satisfaction.yaml 第 5 行：评价主体“bosses”不存在（可用的评价主体：superior、"
                 "subordinate、peer、member、masses、village_rep、town_cadre、self、principal_leader、"
                 "leader_in_charge、other_leader、office_head、unit_head、office_dept）",
                 id="rater group that does not exist"),
    pytest.param("small_scheme.yaml",
                 SCHEME.replace("{label: 一般, min: 60}", "{label: 一般, min: 90}"),
                 "small_scheme.yaml 第 14 行：等次必须按分数线从高到低排列："
                 "“一般”（min 90）排在了“好”（min 85）之后",
                 id="threshold list out of order"),
    pytest.param("small_scheme.yaml",
                 SCHEME.replace("rater_group", "rater_group").replace(
                     "  - {key: sat, source: satisfaction_rate, questionnaire: village_satisfaction, weight: 0.2}",
                     "  - {key: sat, source: group_score, questionnaire: village_satisfaction, "
                     "rater_group: elders, weight: 0.2}"),
                 "small_scheme.yaml 第 11 行：构成项“sat”使用的评价主体“elders”没有在评定办法的"
                 "“rater_groups”中声明",
                 id="scheme component names an undeclared rater group"),
    pytest.param("small_scheme.yaml",
                 SCHEME.replace("weight: 0.8}", "weight: 0.7}"),
                 "small_scheme.yaml 第 9 行：各构成项的权重之和必须为 1，现在是 0.9",
                 id="component weights"),
    pytest.param("village_satisfaction.yaml",
                 QUESTIONNAIRE.replace("version: 1\n", "version: 1\nversion: 2\n"),
                 "village_satisfaction.yaml 第 4 行：键“version”出现了两次",
                 id="duplicate YAML key"),
    pytest.param("small_list.yaml", "- just\n- a list\n",
                 "small_list.yaml 第 1 行：定义文件必须是 YAML 映射（由“键: 值”行组成），而不是列表",
                 id="not a mapping"),
    pytest.param("small_list.yaml", CHECKLIST.replace("kind: checklist", "kind: survey"),
                 "small_list.yaml 第 1 行：字段“kind”必须是 questionnaire、checklist、scheme 之一，"
                 "而不是“survey”",
                 id="unknown kind"),
    pytest.param("small_list.yaml", CHECKLIST.replace("kind: checklist", "kind: [checklist]"),
                 "small_list.yaml 第 1 行：字段“kind”必须是 questionnaire、checklist、scheme 之一，"
                 "而不是列表",
                 id="kind that is a list, not a word"),
])
def test_a_broken_definition_names_file_line_and_field(name, text, expected):
    assert expected in problems(text, name)


def test_every_problem_is_reported_at_once():
    text = (QUESTIONNAIRE.replace("scale: sat3, dimension: service}\n  - {key: q2",
                                  "scale: sat9, dimension: service}\n  - {key: q2")
            .replace("version: 1", "version: x") + "extra: 1\n")
    found = problems(text, "q.yaml")
    assert len(found) == 3
    assert [p.split("：")[0] for p in found] == ["q.yaml 第 3 行", "q.yaml 第 15 行", "q.yaml 第 18 行"]


def test_yaml_reads_on_as_a_key_not_a_boolean():
    scheme = load_text(SCHEME, "small_scheme.yaml", library())
    assert scheme.vetoes[0].on == "misconduct"


def test_a_problem_message_is_the_same_from_a_file(tmp_path):
    from forms.loader import load_definition

    path = tmp_path / "village_satisfaction.yaml"
    path.write_text(QUESTIONNAIRE.replace("scale: sat3, dimension: service}\n  - {key: q2",
                                          "scale: sat5, dimension: service}\n  - {key: q2"),
                    encoding="utf-8")
    with pytest.raises(DefinitionError, match=r"^village_satisfaction\.yaml 第 15 行：题目“q1”使用的"
                                              r"量表“sat5”没有定义$"):
        load_definition(path)


def test_dedent_helper_is_not_needed_for_inline_tables():
    # the fixtures above are written flush-left so that line numbers are the file's own
    assert textwrap.dedent(QUESTIONNAIRE) == QUESTIONNAIRE


def test_a_satisfaction_item_must_be_an_item_on_a_scale_with_the_satisfied_choices():
    text = QUESTIONNAIRE.replace("rater_groups: [masses]", "rater_groups: [masses]\nsatisfaction_item: q9")
    assert problems(text, "v.yaml") == ["v.yaml 第 6 行：“satisfaction_item”指定的“q9”不是本测评表的题目"]
    text = QUESTIONNAIRE.replace("rater_groups: [masses]", "rater_groups: [masses]\nsatisfaction_item: q1")
    assert problems(text, "v.yaml") == [
        "v.yaml 第 6 行：有了“satisfaction_item”，还需要用“satisfied”列出算作满意的选项"]
    ok = load_text(text.replace("satisfaction_item: q1", "satisfaction_item: q1\nsatisfied: [satisfied, basically]"),
                   "v.yaml")
    assert ok.satisfaction_item == "q1"


@pytest.mark.parametrize("old, new, expected", [
    pytest.param("{key: q2, label: 办实事, scale: sat3, dimension: service}",
                 "{key: q2, label: 办实事, scale: sat3, dimension: service, required: maybe}",
                 "v.yaml 第 16 行：题目“q2”中的字段“required”必须是真假值（true 或 false），而不是文本“maybe”",
                 id="nested wrong type"),
    pytest.param("{key: dissatisfied, label: 不满意, value: 0}", "{label: 不满意, value: 0}",
                 "v.yaml 第 11 行：量表“sat3”的选项缺少必填字段“key”",
                 id="nested missing field"),
    pytest.param("{key: dissatisfied, label: 不满意, value: 0}", "{key: dissatisfied, label: 不满意, value: 0, colour: red}",
                 "v.yaml 第 11 行：量表“sat3”的选项中的字段“colour”无法识别（可用的字段：key、label、value）",
                 id="nested unknown field"),
    pytest.param("  - {key: q3, label: 环境, scale: sat3, dimension: service}", "  - q3",
                 "v.yaml 第 17 行：“items”的每一项都必须是映射（key: value），而不是文本“q3”",
                 id="entry that is not a mapping"),
    pytest.param("key: village_satisfaction", "key: Village",
                 "v.yaml 第 2 行：键“Village”只能由小写字母、数字和下划线组成，并以字母开头",
                 id="key that is not snake case"),
])
def test_a_problem_inside_an_entry_names_the_entry(old, new, expected):
    assert old in QUESTIONNAIRE, old
    assert expected in problems(QUESTIONNAIRE.replace(old, new), "v.yaml")


def test_problems_with_the_files_themselves_are_named_too(tmp_path):
    from forms.loader import load_many

    (tmp_path / "gbk.yaml").write_bytes(QUESTIONNAIRE.encode("gbk"))
    (tmp_path / "a.yaml").write_text(CHECKLIST, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(CHECKLIST, encoding="utf-8")
    _, found = load_many([tmp_path / "gbk.yaml", tmp_path / "gone.yaml", tmp_path / "a.yaml",
                          tmp_path / "b.yaml"])
    assert [str(p) for p in found] == [
        # the title on line 4 is the first text that is not ASCII
        "gbk.yaml 第 4 行：文件不是 UTF-8 编码的文本：看起来是 GBK/GB18030 编码（中文 Windows 的记事本、WPS 常用），"
        "请用 UTF-8 编码另存后再试",
        "gone.yaml：无法读取文件：文件或文件夹不存在",
        "b.yaml：键“small_list”已经被 a.yaml 使用",
    ]


def test_a_file_in_no_chinese_encoding_is_named_without_guessing_one(tmp_path):
    from forms.loader import load_many

    (tmp_path / "bytes.yaml").write_bytes(b"kind: questionnaire\nkey: k\ntitle: \xff\xfe\n")
    _, found = load_many([tmp_path / "bytes.yaml"])
    assert [str(p) for p in found] == ["bytes.yaml 第 3 行：文件不是 UTF-8 编码的文本：请用 UTF-8 编码另存后再试"]
