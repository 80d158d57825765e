"""Checklist scores per organisation, indicator and stage, and veto marks with their evidence."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from forms.schema import Checklist, Scheme
from survey_app.extensions import db
from survey_app.models import Campaign, ChecklistScore, Organisation, VetoMark
from survey_app.services import audit
from survey_app.services.campaigns import CampaignError, frozen_definitions


class ScoreError(ValueError):
    pass


@dataclass(frozen=True)
class ScoreIn:
    org_code: str
    indicator: str
    stage: str
    score: float


def campaign_checklist(campaign: Campaign) -> Checklist:
    library = frozen_definitions(campaign)
    scheme = library.get(campaign.scheme_key or "")
    if not isinstance(scheme, Scheme) or not isinstance(library.get(scheme.checklist), Checklist):
        raise CampaignError("该测评活动的评定办法没有指标清单")
    return library[scheme.checklist]  # type: ignore[return-value]


def record_scores(campaign: Campaign, scores: list[ScoreIn], *, actor: object = "cli", commit: bool = True) -> int:
    """Create or update scores; every score checked against its indicator's full marks first.
    ``commit=False`` leaves the commit to a caller storing more in the same transaction."""
    checklist = campaign_checklist(campaign)
    full = {i.key: i.points for i in checklist.indicators()}
    orgs = dict(db.session.execute(select(Organisation.code, Organisation.id)).all())
    for s in scores:
        if s.indicator not in full:
            raise ScoreError(f"指标“{s.indicator}”不在清单《{checklist.title}》中")
        if s.stage not in checklist.stages:
            raise ScoreError(f"评分阶段“{s.stage}”不属于清单《{checklist.title}》")
        if s.org_code not in orgs:
            raise ScoreError(f"组织编码“{s.org_code}”不存在")
        if not 0 <= s.score <= full[s.indicator]:
            raise ScoreError(f"指标“{s.indicator}”满分 {full[s.indicator]:g} 分，不能给 {s.score:g} 分")
    existing = {(r.org_id, r.indicator_key, r.stage): r for r in db.session.scalars(
        select(ChecklistScore).where(ChecklistScore.campaign_id == campaign.id))}
    for s in scores:
        key = (orgs[s.org_code], s.indicator, s.stage)
        row = existing.get(key)
        if row is None:
            row = ChecklistScore(campaign_id=campaign.id, org_id=key[0], indicator_key=s.indicator,
                                 stage=s.stage, score=s.score, entered_by=audit.user_id(actor))
            db.session.add(row)
            existing[key] = row
        else:
            row.score, row.entered_by = s.score, audit.user_id(actor)
    audit.record(actor, "record_scores", campaign.slug, count=len(scores),
                 orgs=sorted({s.org_code for s in scores}))  # whose scores: a count alone says little
    if commit:
        db.session.commit()
    return len(scores)


def mark_veto(campaign: Campaign, org_code: str, veto_key: str, stage: str, evidence: str, *,
              actor: object = "cli", commit: bool = True) -> VetoMark:
    """Mark a veto with its evidence. The same mark again (a score file uploaded twice) is the
    mark already standing, not a second one; other evidence for the same veto is a mark of its own."""
    checklist = campaign_checklist(campaign)
    if veto_key not in {v.key for v in checklist.vetoes}:
        raise ScoreError(f"否决项“{veto_key}”不在清单《{checklist.title}》中")
    if stage not in checklist.stages:
        raise ScoreError(f"评分阶段“{stage}”不属于清单《{checklist.title}》")
    if not evidence.strip():
        raise ScoreError("否决项必须附上事实依据")
    org = db.session.scalar(select(Organisation).where(Organisation.code == org_code))
    if org is None:
        raise ScoreError(f"组织编码“{org_code}”不存在")
    standing = db.session.scalar(select(VetoMark).where(
        VetoMark.campaign_id == campaign.id, VetoMark.org_id == org.id, VetoMark.veto_key == veto_key,
        VetoMark.stage == stage, VetoMark.evidence == evidence.strip(), VetoMark.withdrawn_at.is_(None)))
    if standing is not None:
        return standing
    mark = VetoMark(campaign_id=campaign.id, org_id=org.id, veto_key=veto_key, stage=stage,
                    evidence=evidence.strip(), marked_by=audit.user_id(actor))
    db.session.add(mark)
    audit.record(actor, "mark_veto", org_code, veto=veto_key, stage=stage)
    if commit:
        db.session.commit()
    return mark
