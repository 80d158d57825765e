"""Turn a validated YAML 评定办法 (forms.schema.Scheme) into the grading engine's GradingSpec.

``analysis`` imports nothing of ``forms``; this is the one place the two meet.
"""
from __future__ import annotations

from collections.abc import Mapping

from analysis.grading import (
    ComponentSpec, GradeSpec, GradingSpec, GroupSpec, PayLinkSpec, QuotaSpec, RectificationSpec,
    RepeatSpec, RollupGradeSpec, RollupSpec, TieBreakSpec, VetoSpec, VoteShareSpec,
    YearOverYearSpec,
)
from forms.schema import Checklist, Definition, Questionnaire, Scheme

TIE_LABELS = {"composite": "综合得分", "code": "编码"}


def grading_spec(scheme: Scheme, library: Mapping[str, Definition]) -> GradingSpec:
    """The engine's spec for ``scheme``; ``library`` resolves its checklist and questionnaires."""
    checklist = library.get(scheme.checklist) if scheme.checklist else None
    checklist = checklist if isinstance(checklist, Checklist) else None
    components = tuple(
        ComponentSpec(c.key, c.label, c.weight, c.full_marks, c.optional, c.source,
                      by_group=c.source == "combined_score")
        for c in scheme.components)
    checklist_component = next((c.key for c in scheme.components if c.source == "checklist_total"), "")
    labels = {c.key: c.label for c in scheme.components}
    if checklist is not None:
        labels.update({cat.key: cat.label for cat in checklist.categories})
    labels.update(TIE_LABELS)

    def tie(key: str, order: str) -> TieBreakSpec:
        key = checklist_component if key == "checklist_total" else key
        return TieBreakSpec(key, order == "desc", labels.get(key, key))

    veto_labels = {v.key: v.label for v in checklist.vetoes} if checklist else {}
    vote_shares = []
    for rule in scheme.vote_share_rules:
        questionnaire = library.get(rule.questionnaire)
        names = {}
        if isinstance(questionnaire, Questionnaire):
            names = {c.key: c.label for s in questionnaire.scales for c in s.choices}
        vote_shares.append(VoteShareSpec(rule.choices, rule.comparison, rule.threshold, rule.effect,
                                         rule.grade, rule.flag, rule.threshold_text,
                                         tuple(names.get(c, c) for c in rule.choices), rule.item))
    yoy = scheme.year_over_year
    pay = scheme.pay_link
    rect = scheme.rectification
    if rect is None and scheme.rectification_below:
        rect_spec: RectificationSpec | None = RectificationSpec(scheme.rectification_below)
    else:
        rect_spec = None if rect is None else RectificationSpec(
            rect.below, rect.indicator_share, rect.owner, rect.deadline_days)
    if rect_spec is not None and checklist is not None:
        rect_spec = RectificationSpec(
            rect_spec.below, rect_spec.indicator_share, rect_spec.owner, rect_spec.deadline_days,
            tuple((i.key, i.label, i.points) for i in checklist.indicators()))
    return GradingSpec(
        key=scheme.key,
        title=scheme.title,
        components=components,
        grades=tuple(GradeSpec(g.label, g.minimum) for g in scheme.grades),
        vetoes=tuple(VetoSpec(v.on, v.cap, veto_labels.get(v.on, v.on)) for v in scheme.vetoes),
        vote_shares=tuple(vote_shares),
        quotas=tuple(QuotaSpec(q.label, q.max_share, tuple(tie(t.key, t.order) for t in q.tie_break))
                     for q in scheme.quotas),
        year_over_year=None if yoy is None else YearOverYearSpec(
            yoy.max_step, yoy.unless_veto,
            tuple(RepeatSpec(r.grade, r.years, r.flag) for r in yoy.repeats)),
        pay_link=None if pay is None else PayLinkSpec(pay.base, pay.band_low, pay.band_high, pay.cap,
                                                      pay.no_bonus, pay.note),
        rollup=None if scheme.rollup is None else RollupSpec(
            scheme.rollup.parent_label,
            tuple(RollupGradeSpec(g.label, g.at_or_above, g.min_share) for g in scheme.rollup.grades)),
        rectification=rect_spec,
        rater_groups=tuple(GroupSpec(g.key, g.label, g.weight) for g in scheme.rater_groups),
    )
