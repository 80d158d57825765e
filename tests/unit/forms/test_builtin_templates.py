"""The built-in templates: each validates and says what the seed articles say."""
from __future__ import annotations

import dataclasses

import pytest
from werkzeug.datastructures import MultiDict

from forms import Checklist, Questionnaire, Scheme, builtin_paths, load_builtin
from forms.builder import build_form, field_name
from forms.loader import builtin_library, load_definition, load_many


@pytest.mark.parametrize("path", builtin_paths(), ids=lambda p: p.name)
def test_every_builtin_template_validates(path):
    definition = load_definition(path, builtin_library())
    assert definition.version >= 1
    assert definition.title


def test_builtins_validate_together_with_no_problem():
    loaded, problems = load_many(builtin_paths())
    assert problems == []
    assert len(loaded) == len(builtin_paths()) >= 8


def test_villager_questionnaire_uses_three_choices_and_an_overall_score():
    q = load_builtin("village_satisfaction")
    assert isinstance(q, Questionnaire)
    sat = q.scale("sat3")
    assert [c.label for c in sat.choices] == ["满意", "基本满意", "不满意"]
    assert [c.value for c in sat.choices] == [100, 60, 0]
    overall = [i for i in q.items if q.scale(i.scale).is_numeric]
    assert len(overall) == 1 and q.scale(overall[0].scale).bounds() == (1, 10)
    assert set(q.satisfied) == {"satisfied", "basically"}


def test_cadre_sheet_serves_every_direction_of_rating():
    q = load_builtin("cadre_evaluation")
    assert q.layout == "grid" and q.subject_kind == "person"
    assert {"superior", "peer", "subordinate", "member", "masses"} <= set(q.rater_groups)
    verdict = q.scale("competence")
    assert [c.label for c in verdict.choices] == ["称职", "基本称职", "不称职"]


def test_baishan_checklist_has_five_named_stars_65_items_on_100_points():
    c = load_builtin("baishan_five_star")
    assert isinstance(c, Checklist)
    assert [cat.label for cat in c.categories] == ["书记星", "队伍星", "产业星", "民生星", "治理星"]
    assert len(c.indicators()) == 65  # 设置5大类65小项指标 (seed 003)
    assert c.total == 100 == sum(i.points for i in c.indicators())
    assert c.vetoes, "一票否决 items are part of the standard"


def test_ganyu_checklist_has_six_modules_of_indicators_worth_two_to_six_points():
    c = load_builtin("ganyu_office_stars")
    assert len(c.categories) == 6 and len(c.indicators()) == 37  # 6大模块37项 (seed 004)
    assert {i.points for i in c.indicators()} <= {2, 3, 4, 5, 6}
    scheme = load_builtin("ganyu_office_grading")
    assert [g.label for g in scheme.grades] == ["五星级", "四星级", "三星级", "二星级", "一星级"]


def test_jiading_tiers_are_three_plus_the_improvement_zone():
    scheme = load_builtin("jiading_tiers")
    assert isinstance(scheme, Scheme)
    assert [g.label for g in scheme.grades] == ["示范型", "活力型", "标准型", "改进区"]
    task_list = load_builtin(scheme.checklist)
    assert len(task_list.categories) == 7 and len(task_list.indicators()) == 26  # 7条26小点 (seed 000)


def test_every_scheme_weight_list_sums_to_one():
    for definition in builtin_library().values():
        if isinstance(definition, Scheme):
            assert sum(c.weight for c in definition.components) == pytest.approx(1)
            if definition.rater_groups:
                assert sum(g.weight for g in definition.rater_groups) == pytest.approx(1)


def test_the_builder_makes_a_form_that_requires_every_item_and_checks_the_scale():
    q = load_builtin("village_satisfaction")
    form_class = build_form(q, ["V01"])
    answers = {field_name("V01", i.key): "satisfied" for i in q.items if not q.scale(i.scale).is_numeric}
    answers[field_name("V01", "overall_score")] = "8"
    form = form_class(MultiDict(answers))
    assert form.validate(), form.errors

    missing = dict(answers)
    del missing[field_name("V01", "unity")]
    missing[field_name("V01", "overall_score")] = "11"
    form = form_class(MultiDict(missing))
    assert not form.validate()
    assert form.errors == {"V01__unity": ["请选择一项"], "V01__overall_score": ["请填写 1 到 10 之间的整数"]}
    for off in ("7.5", "NaN", "sNaN", "Infinity", "-inf"):  # between the points, or no number at all
        form = form_class(MultiDict(dict(answers, **{field_name("V01", "overall_score"): off})))
        assert not form.validate() and form.errors == {"V01__overall_score": ["请填写 1 到 10 之间的整数"]}, off

    forged = dict(answers, **{field_name("V01", "unity"): "delighted"})
    assert not form_class(MultiDict(forged)).validate()


def test_an_empty_number_box_is_asked_for_a_number_and_an_unticked_row_of_points_to_choose():
    """'请选择一项' under an empty number box told the voter to pick from choices there are none of.
    A 1–10 scale is shown as ten buttons on a single sheet (a choice) and as a box in a grid row."""
    q = load_builtin("village_satisfaction")
    assert q.layout == "single" and q.scale("score10").points() is not None
    answers = {field_name("V01", i.key): "satisfied" for i in q.items if not q.scale(i.scale).is_numeric}
    form = build_form(q, ["V01"])(MultiDict(answers))
    assert not form.validate() and form.errors == {"V01__overall_score": ["请选择一项"]}

    gridded = dataclasses.replace(q, layout="grid")
    form = build_form(gridded, ["V01"])(MultiDict(answers))
    assert not form.validate() and form.errors == {"V01__overall_score": ["请填写 1 到 10 之间的整数"]}


def test_a_grid_form_has_one_field_per_subject_and_item():
    q = load_builtin("cadre_evaluation")
    form = build_form(q, ["p1", "p2", "p3"])()
    assert len(list(form)) == 3 * len(q.items)
