"""Simulated voting for the demo: realistic answers cast through the real casting service.

Each village has a latent quality and each rater group a leaning, so results differ believably
between villages and groups; three anomalies are planted for analysis to find: a straight-liner,
a lenient rater and a speeder.
"""
from __future__ import annotations

import random
import secrets
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import select

from forms.schema import Questionnaire
from survey_app.extensions import db
from survey_app.models import BallotSheet, Campaign, Organisation, Person
from survey_app.services import checklists, tokens
from survey_app.services.sheets import sheet_definition
from survey_app.services.casting import AnswerIn, cast_ballot

GROUP_LEANING = {"masses": 0.0, "member": 0.35, "village_rep": 0.15, "town_cadre": 0.25}
SHEET_SHARE = {"masses": 0.62, "member": 0.16, "village_rep": 0.14, "town_cadre": 0.08}
NORMAL_DURATIONS = ["1-2m", "2-5m", "2-5m", "5-15m", "30-60s"]


@dataclass
class SimulationReport:
    cast: int = 0
    by_group: Counter = field(default_factory=Counter)
    planted: dict[str, str] = field(default_factory=dict)  # anomaly -> ballot id
    scores: int = 0
    vetoes: int = 0


CUTS = {2: (-0.8,), 3: (-0.5, -1.8), 4: (-0.3, -1.2, -2.2), 5: (0.2, -0.6, -1.4, -2.3)}


def _level(rng: random.Random, quality: float, n_choices: int) -> int:
    """0 = best choice: an ordered-probit draw whose centre moves with quality."""
    z = quality + rng.gauss(0, 1)
    cuts = CUTS.get(n_choices, CUTS[3])
    return min(n_choices - 1, sum(z < cut for cut in cuts))


def _answers(rng: random.Random, q: Questionnaire, subjects: list[str], quality: dict[str, float],
             shift: int = 0, flat: bool = False) -> list[AnswerIn]:
    out = []
    for subject in subjects:
        for item in q.items:
            scale = q.scale(item.scale)
            if scale.is_numeric:
                low, high = scale.bounds()
                if flat:
                    value = high
                else:
                    mid = low + (high - low) * (0.72 + 0.12 * quality[subject]) + shift
                    value = float(min(high, max(low, round(rng.gauss(mid, 1.2)))))
                out.append(AnswerIn(subject, item.key, None, value))
                continue
            level = 0 if flat else max(0, _level(rng, quality[subject], len(scale.choices)) - shift)
            choice = scale.choices[level]
            out.append(AnswerIn(subject, item.key, choice.key, choice.value))
    return out


def simulate(campaign: Campaign, count: int, *, seed: int = 2026) -> SimulationReport:
    """Cast ``count`` ballots spread over the campaign's sheets, and fill in checklist scores."""
    rng = random.Random(seed)
    report = SimulationReport()
    sheets = db.session.scalars(select(BallotSheet).where(BallotSheet.campaign_id == campaign.id)
                                .order_by(BallotSheet.key)).all()
    villages = db.session.scalars(select(Organisation).where(Organisation.kind.in_(("village", "community")))
                                  .order_by(Organisation.code)).all()
    quality = {v.code: rng.gauss(0.4, 0.8) for v in villages}
    org_of = dict(db.session.execute(select(Person.person_key, Organisation.code)
                                     .join(Organisation, Person.org_id == Organisation.id)).all())
    by_group: dict[str, list[BallotSheet]] = {}
    for sheet in sheets:
        by_group.setdefault(sheet.rater_group, []).append(sheet)
    plan: list[BallotSheet] = []
    for group, share in SHEET_SHARE.items():
        group_sheets = by_group.get(group, [])
        for index in range(round(count * share)):
            if group_sheets:
                plan.append(group_sheets[index % len(group_sheets)])
    plan = plan[:count]
    needed = Counter(s.id for s in plan)
    codes: dict[int, list[str]] = {}
    for sheet in sheets:
        if needed[sheet.id]:
            codes[sheet.id] = tokens.issue_tokens(sheet, needed[sheet.id] + 2, label="模拟",
                                                  actor="simulate").codes
    rng.shuffle(plan)
    planted_at = {"straight_liner": None, "lenient_rater": None, "speeder": None}
    for sheet in plan:
        q, subjects = sheet_definition(sheet)
        subject_quality = {}
        for s in subjects:
            org_code = s if s in quality else org_of.get(s, "")
            subject_quality[s] = quality.get(org_code, 0.4) + GROUP_LEANING.get(sheet.rater_group, 0) \
                + rng.gauss(0, 0.3)
        flat = shift = 0
        duration = rng.choice(NORMAL_DURATIONS)
        kind = None
        if q.layout == "grid" and planted_at["straight_liner"] is None:
            flat, kind = True, "straight_liner"
        elif q.layout == "grid" and planted_at["lenient_rater"] is None and sheet.rater_group == "town_cadre":
            shift, kind = 2, "lenient_rater"
        elif planted_at["speeder"] is None and len(subjects) * len(q.items) >= 10:
            duration, kind = "<30s", "speeder"
        answers = _answers(rng, q, subjects, subject_quality, shift=shift, flat=bool(flat))
        result = cast_ballot(codes[sheet.id].pop(), answers, nonce=secrets.token_hex(8), duration=duration)
        if result.status != "cast":
            raise RuntimeError(f"simulated ballot refused: {result.status}")
        report.cast += 1
        report.by_group[sheet.rater_group] += 1
        if kind:
            planted_at[kind] = result.ballot_id
            report.planted[kind] = result.ballot_id or ""
    report.scores, report.vetoes = _fill_checklists(campaign, rng, quality)
    return report


def _fill_checklists(campaign: Campaign, rng: random.Random, quality: dict[str, float]) -> tuple[int, int]:
    try:
        checklist = checklists.campaign_checklist(campaign)
    except ValueError:
        return 0, 0
    scores = []
    for code, q in quality.items():
        base = min(0.98, max(0.45, 0.78 + 0.09 * q))
        for indicator in checklist.indicators():
            for stage, bias in (("self", 0.08), ("town", 0.02), ("panel", 0.0)):
                if stage not in checklist.stages:
                    continue
                fraction = min(1.0, max(0.0, base + bias + rng.gauss(0, 0.08)))
                score = round(indicator.points * fraction * 2) / 2
                scores.append(checklists.ScoreIn(code, indicator.key, stage, min(score, indicator.points)))
    checklists.record_scores(campaign, scores, actor="simulate")
    vetoes = 0
    if checklist.vetoes and quality:
        worst = min(quality, key=quality.get)
        checklists.mark_veto(campaign, worst, checklist.vetoes[0].key, "panel",
                             "模拟数据：考评组现场核查发现的问题（演示用）", actor="simulate")
        vetoes = 1
    return len(scores), vetoes
