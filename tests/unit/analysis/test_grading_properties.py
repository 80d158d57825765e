"""Properties of the grading engine, checked on generated scores (hypothesis)."""
from __future__ import annotations

import dataclasses
import math

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.grading import grade
from forms.loader import builtin_library
from survey_app.specs import grading_spec

LIBRARY = builtin_library()
SPECS = {key: grading_spec(LIBRARY[key], LIBRARY) for key in (
    "baishan_village_stars", "jiading_tiers", "qitaihe_four_grades", "suixi_cadre_grades",
    "ganyu_office_grading")}
NO_QUOTA = ["baishan_village_stars", "jiading_tiers", "qitaihe_four_grades", "suixi_cadre_grades"]
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def scores(spec):
    return st.fixed_dictionaries({c.key: st.floats(0, c.full_marks, allow_nan=False)
                                  for c in spec.components})


@st.composite
def raised_component(draw):
    key = draw(st.sampled_from(NO_QUOTA))
    spec = SPECS[key]
    before = draw(scores(spec))
    comp = draw(st.sampled_from(spec.components))
    after = dict(before, **{comp.key: draw(st.floats(before[comp.key], comp.full_marks))})
    return spec, before, after


@FAST
@given(raised_component())
def test_with_no_veto_and_no_quota_raising_a_component_never_lowers_the_grade(case):
    spec, before, after = case
    low = grade(pd.DataFrame([{"subject": "S", **before}]), spec).grades["rank"].iloc[0]
    high = grade(pd.DataFrame([{"subject": "S", **after}]), spec).grades["rank"].iloc[0]
    assert high >= low


@st.composite
def vetoed_villages(draw):
    spec = SPECS["baishan_village_stars"]
    if draw(st.booleans()):  # the cap must hold even when the yearly limit is not skipped
        spec = dataclasses.replace(spec, year_over_year=dataclasses.replace(
            spec.year_over_year, unless_veto=False))
    n = draw(st.integers(1, 8))
    rows = [{"subject": f"V{i}", **draw(scores(spec))} for i in range(n)]
    hits = draw(st.lists(st.tuples(st.integers(0, n - 1), st.sampled_from(spec.vetoes)), max_size=6))
    previous = [{"subject": f"V{i}", "grade": draw(st.sampled_from([g.label for g in spec.grades]))}
                for i in range(n) if draw(st.booleans())]
    return spec, rows, hits, previous


@FAST
@given(vetoed_villages())
def test_a_veto_always_caps_the_grade(case):
    spec, rows, hits, previous = case
    vetoes = pd.DataFrame([{"subject": f"V{i}", "veto": v.key, "evidence": ""} for i, v in hits],
                          columns=["subject", "veto", "evidence"])
    result = grade(pd.DataFrame(rows), spec, vetoes=vetoes,
                   previous=pd.DataFrame(previous, columns=["subject", "grade"]))
    ranks = result.grades.set_index("subject")["rank"]
    for i, veto in hits:
        assert ranks[f"V{i}"] <= spec.rank(veto.cap)


@st.composite
def two_years(draw):
    spec = SPECS["baishan_village_stars"]
    n = draw(st.integers(1, 8))
    rows = [{"subject": f"V{i}", **draw(scores(spec))} for i in range(n)]
    previous = [{"subject": f"V{i}", "grade": draw(st.sampled_from([g.label for g in spec.grades]))}
                for i in range(n)]
    return spec, rows, previous


@FAST
@given(two_years())
def test_without_a_veto_a_grade_never_moves_more_than_the_yearly_step(case):
    spec, rows, previous = case
    result = grade(pd.DataFrame(rows), spec, previous=pd.DataFrame(previous))
    last = {p["subject"]: spec.rank(p["grade"]) for p in previous}
    for row in result.grades.itertuples():
        assert abs(row.rank - last[row.subject]) <= spec.year_over_year.max_step


@FAST
@given(st.lists(st.tuples(st.floats(0, 100), st.sampled_from([10.0, 12.0, 15.0])), min_size=1,
                max_size=60))
def test_a_quota_is_never_exceeded(units):
    spec = SPECS["ganyu_office_grading"]
    frame = pd.DataFrame([{"subject": f"U{i:02d}", "checklist": round(total), "duty_satisfaction": d}
                          for i, (total, d) in enumerate(units)])  # rounded totals: many ties
    counts = grade(frame, spec).grades.grade.value_counts()
    for quota in spec.quotas:
        assert counts.get(quota.label, 0) <= math.floor(quota.max_share * len(units) + 1e-9)
