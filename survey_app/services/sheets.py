"""What a ballot page needs to know about its sheet, computed once per open campaign and process.

An open campaign's definitions and subjects never change, so the questionnaire, the subject
labels and the table that checks a submitted field are built on first use and then reused by
every voter: the hot path of casting reads no definition and builds no form.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from sqlalchemy import select
from sqlalchemy.engine import Engine

from forms.builder import field_name
from forms.schema import Definition, Questionnaire
from survey_app.extensions import db
from survey_app.models import BallotSheet, Campaign, Layout, Organisation, SheetSubject
from survey_app.services.campaigns import CampaignError, frozen_definitions


@dataclass(frozen=True)
class FieldSpec:
    subject: str
    item: str
    required: bool
    choices: dict[str, float] | None  # choice key -> value; None for a numeric item
    low: float = 0.0
    high: float = 0.0
    step: float | None = None


@dataclass(frozen=True)
class SheetInfo:
    sheet_id: int
    key: str
    title: str
    rater_group: str
    organisation: str
    campaign_id: int
    campaign_name: str
    questionnaire: Questionnaire
    subjects: tuple[str, ...]
    labels: tuple[tuple[str, str], ...]
    fields: dict[str, FieldSpec]  # by form field name

    @cached_property
    def pairs(self) -> dict[tuple[str, str], FieldSpec]:
        """The same specs by (subject, item), as the casting service checks answers."""
        return {(spec.subject, spec.item): spec for spec in self.fields.values()}

    @cached_property
    def layout(self) -> Layout:
        """Where each answer goes in the ballot row, in the order of the page."""
        return Layout(tuple((spec.subject, spec.item, None if spec.choices is None else tuple(spec.choices.items()))
                            for spec in self.fields.values()))


_CACHE: dict[tuple[str, int, str], SheetInfo] = {}
_URLS: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def _database(engine: Engine) -> str:
    """The engine's URL as a cache key; rendering it on every ballot cost more than the lookup."""
    url = _URLS.get(engine)
    if url is None:
        url = _URLS[engine] = str(engine.url)
    return url


def sheet_info(sheet_id: int, opened_at: datetime | str | None, campaign_status: str) -> SheetInfo:
    """``opened_at`` only tells one opening of a campaign from another (a rehearsal reset reopens it)."""
    stamp = (_database(db.engine), sheet_id, str(opened_at))
    info = _CACHE.get(stamp) if campaign_status != "draft" else None
    if info is None:
        info = _build(sheet_id)
        if campaign_status != "draft":
            _CACHE[stamp] = info
    return info


_LIBRARIES: dict[tuple[str, int, str], dict[str, Definition]] = {}


def _library(campaign: Campaign) -> dict[str, Definition]:
    """An open campaign's definitions, parsed once per opening rather than once per sheet: the
    parse cost about 40 ms, and a county's campaign has hundreds of sheets."""
    if campaign.status == "draft":
        return frozen_definitions(campaign)
    key = (_database(db.engine), campaign.id, str(campaign.opened_at))
    library = _LIBRARIES.get(key)
    if library is None:
        library = _LIBRARIES[key] = frozen_definitions(campaign)
    return library


def _build(sheet_id: int) -> SheetInfo:
    sheet = db.session.get(BallotSheet, sheet_id)
    if sheet is None:
        raise CampaignError(f"测评票 {sheet_id} 不存在")
    campaign: Campaign = sheet.campaign
    questionnaire = _library(campaign).get(sheet.questionnaire_key)
    if not isinstance(questionnaire, Questionnaire):
        raise CampaignError(f"测评表“{sheet.questionnaire_key}”不是问卷")
    rows = db.session.execute(select(SheetSubject.subject_key, SheetSubject.label)
                              .where(SheetSubject.sheet_id == sheet_id)
                              .order_by(SheetSubject.position)).all()
    org = db.session.get(Organisation, sheet.org_id) if sheet.org_id else None
    fields = {}
    for subject, _ in rows:
        for item in questionnaire.items:
            scale = questionnaire.scale(item.scale)
            if scale.is_numeric:
                low, high = scale.bounds()
                spec = FieldSpec(subject, item.key, item.required, None, low, high, scale.step)
            else:
                spec = FieldSpec(subject, item.key, item.required, {c.key: c.value for c in scale.choices})
            fields[field_name(subject, item.key)] = spec
    return SheetInfo(sheet.id, sheet.key, sheet.title, sheet.rater_group, org.name if org else "",
                     campaign.id, campaign.name, questionnaire, tuple(s for s, _ in rows),
                     tuple((s, label) for s, label in rows), fields)


def sheet_definition(sheet: BallotSheet) -> tuple[Questionnaire, list[str]]:
    """The sheet's frozen questionnaire and its subject keys in order (from :func:`sheet_info`)."""
    info = sheet_info(sheet.id, sheet.campaign.opened_at, sheet.campaign.status)
    return info.questionnaire, list(info.subjects)
