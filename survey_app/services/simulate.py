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
# The lenient rater sees every subject this much better than the others do, on the latent scale the
# answers are drawn from. Moving the drawn answers up instead made a town cadre's ballot, mostly the
# best choice already, all best: a straight-liner, excluded before leniency was ever fitted.
LENIENT_LIFT = 1.5
SHOWN = 3  # raters a sheet needs before the lenient rater is planted on it: analysis shows cells from 3


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
             flat: bool = False) -> list[AnswerIn]:
    out = []
    for subject in subjects:
        for item in q.items:
            scale = q.scale(item.scale)
            if scale.is_numeric:
                low, high = scale.bounds()
                if flat:
                    value = high
                else:
                    mid = low + (high - low) * (0.72 + 0.12 * quality[subject])
                    value = float(min(high, max(low, round(rng.gauss(mid, 1.2)))))
                out.append(AnswerIn(subject, item.key, None, value))
                continue
            level = 0 if flat else _level(rng, quality[subject], len(scale.choices))
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
    plan = [sheet for group, n in _per_group(count, by_group).items()
            for sheet in (by_group[group][index % len(by_group[group])] for index in range(n))]
    needed = Counter(s.id for s in plan)
    codes: dict[int, list[str]] = {}
    for sheet in sheets:
        if needed[sheet.id]:
            codes[sheet.id] = tokens.issue_tokens(sheet, needed[sheet.id] + 2, label="模拟",
                                                  actor="simulate").codes
    rng.shuffle(plan)
    lenient_sheet = _room_above(plan, {v.id: quality[v.code] for v in villages})
    planted_at = {"straight_liner": None, "lenient_rater": None, "speeder": None}
    for sheet in plan:
        q, subjects = sheet_definition(sheet)
        subject_quality = {}
        for s in subjects:
            org_code = s if s in quality else org_of.get(s, "")
            subject_quality[s] = quality.get(org_code, 0.4) + GROUP_LEANING.get(sheet.rater_group, 0) \
                + rng.gauss(0, 0.3)
        flat = False
        duration = rng.choice(NORMAL_DURATIONS)
        kind = None
        if q.layout == "grid" and planted_at["straight_liner"] is None and sheet is not lenient_sheet:
            flat, kind = True, "straight_liner"
        elif sheet is lenient_sheet and planted_at["lenient_rater"] is None:
            subject_quality = {s: value + LENIENT_LIFT for s, value in subject_quality.items()}
            kind = "lenient_rater"
        elif planted_at["speeder"] is None and len(subjects) * len(q.items) >= 10:
            duration, kind = "<30s", "speeder"
        answers = _answers(rng, q, subjects, subject_quality, flat=flat)
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


def _per_group(count: int, by_group: dict[str, list[BallotSheet]]) -> dict[str, int]:
    """``count`` split by the groups' shares, largest remainders first, so that the parts add up to
    ``count`` itself (rounding each part on its own could cast one ballot short)."""
    shares = {group: share for group, share in SHEET_SHARE.items() if by_group.get(group)}
    total = sum(shares.values())
    if not total:
        return {}
    exact = {group: count * share / total for group, share in shares.items()}
    parts = {group: int(value) for group, value in exact.items()}
    for group in sorted(exact, key=lambda g: parts[g] - exact[g])[:count - sum(parts.values())]:
        parts[group] += 1
    return parts


def _room_above(plan: list[BallotSheet], quality: dict[int, float]) -> BallotSheet | None:
    """Where a lenient rater stands out: a representatives' grid of the weakest village, whose cadres
    most raters rate low, rather than a town grid where nearly every answer is the best. The sheet
    needs raters enough for its cells to be shown (analysis withholds smaller ones, and fits no
    leniency on them); a small simulation may have no such representatives' sheet."""
    planned = Counter(s.id for s in plan)
    grids = {s.id: s for s in plan if s.rater_group in ("village_rep", "town_cadre") and planned[s.id] >= SHOWN}
    for group in ("village_rep", "town_cadre"):
        candidates = [s for s in grids.values() if s.rater_group == group]
        if candidates:
            return min(candidates, key=lambda s: quality.get(s.org_id, 0.0))
    return None


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
