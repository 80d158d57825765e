"""Campaigns: set up sheets, open (freezing the definitions), close."""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update

from forms import Questionnaire, load_text
from forms.errors import DefinitionError
from forms.schema import Definition, Scheme
from survey_app.extensions import db
from survey_app.models import BallotSheet, Campaign, CampaignDefinition, Organisation, SheetSubject
from survey_app.models._time import utcnow
from survey_app.services import audit, mixing
from survey_app.services import library as definitions


class CampaignError(ValueError):
    pass


@dataclass(frozen=True)
class SubjectSpec:
    key: str
    label: str
    org_id: int | None = None
    person_id: int | None = None


def create_campaign(slug: str, name: str, year: int, *, scheme_key: str | None = None,
                    previous_slug: str | None = None, actor: object = "cli") -> Campaign:
    """``previous_slug`` names last year's campaign, which the year-over-year rules compare with."""
    if db.session.scalar(select(Campaign).where(Campaign.slug == slug)) is not None:
        raise CampaignError(f"测评活动“{slug}”已经存在")
    if scheme_key and not isinstance(_library().get(scheme_key), Scheme):
        raise CampaignError(f"评定办法“{scheme_key}”不存在")
    previous = None
    if previous_slug:
        previous = db.session.scalar(select(Campaign).where(Campaign.slug == previous_slug))
        if previous is None:
            raise CampaignError(f"上一次测评活动“{previous_slug}”不存在")
    campaign = Campaign(slug=slug, name=name, year=year, status="draft", scheme_key=scheme_key,
                        previous_id=previous.id if previous else None)
    db.session.add(campaign)
    db.session.flush()
    audit.record(actor, "create_campaign", slug, name=name, year=year)
    return campaign


STATUS_LABELS = {"draft": "草稿", "open": "进行中", "closed": "已结束"}  # as the desk shows a campaign's status
TITLE_MAX = BallotSheet.__table__.c.title.type.length
KEY_MAX = BallotSheet.__table__.c.key.type.length
LABEL_MAX = SheetSubject.__table__.c.label.type.length


def add_sheet(campaign: Campaign, key: str, title: str, questionnaire_key: str, rater_group: str,
              subjects: Sequence[SubjectSpec], *, org_id: int | None = None) -> BallotSheet:
    if campaign.status != "draft":
        raise CampaignError("测评活动已开始，不能再修改测评票")
    questionnaire = _library().get(questionnaire_key)
    if not isinstance(questionnaire, Questionnaire):
        raise CampaignError(f"测评表“{questionnaire_key}”不存在")
    if rater_group not in questionnaire.rater_groups:
        raise CampaignError(f"测评表“{questionnaire.title}”不适用于评价主体“{rater_group}”")
    if not subjects:
        raise CampaignError("测评票至少需要一个被评对象")
    # built from names of up to 200 characters: longer than its column, PostgreSQL would refuse it
    if len(title) > TITLE_MAX or len(key) > KEY_MAX:
        raise CampaignError(f"测评票名称“{title[:40]}…”超过 {TITLE_MAX} 个字（组织名称太长），请缩短组织名称")
    long_label = next((s.label for s in subjects if len(s.label) > LABEL_MAX), None)
    if long_label is not None:
        raise CampaignError(f"被评对象“{long_label[:40]}…”的名称超过 {LABEL_MAX} 个字，请缩短姓名、职务或组织名称")
    sheet = BallotSheet(campaign=campaign, key=key, title=title, questionnaire_key=questionnaire_key,
                        rater_group=rater_group, org_id=org_id)
    db.session.add(sheet)
    for position, subject in enumerate(subjects):
        db.session.add(SheetSubject(sheet=sheet, position=position, subject_key=subject.key,
                                    label=subject.label, org_id=subject.org_id,
                                    person_id=subject.person_id))
    return sheet


def _library() -> dict[str, Definition]:
    try:
        return definitions.library()
    except DefinitionError as exc:
        raise CampaignError(f"本地定义（{definitions.definitions_folder()}）有错误：{exc}") from None


def _definitions_used(campaign: Campaign) -> list[str]:
    """Every definition the campaign reads: its sheets' questionnaires, its scheme, and whatever the
    scheme names (its checklist, the questionnaires of its components and vote-share rules), so
    that the snapshot loads on its own."""
    keys = {sheet.questionnaire_key for sheet in campaign.sheets}
    if campaign.scheme_key:
        scheme = _library().get(campaign.scheme_key)
        keys.add(campaign.scheme_key)
        if isinstance(scheme, Scheme):
            keys.update(k for k in (scheme.checklist, *(c.questionnaire for c in scheme.components),
                                    *(r.questionnaire for r in scheme.vote_share_rules)) if k)
    return sorted(keys)


def open_campaign(campaign: Campaign, *, actor: str = "cli") -> Campaign:
    """Open for voting and snapshot every definition the campaign uses, in the same transaction."""
    if campaign.status != "draft":
        raise CampaignError(f"只有草稿状态的测评活动可以开始，当前状态：{STATUS_LABELS.get(campaign.status, campaign.status)}")
    if not campaign.sheets:
        raise CampaignError("测评活动还没有测评票，不能开始")
    used, library = _definitions_used(campaign), _library()
    gone = [key for key in used if key not in library]
    if gone:  # a local definition file removed since its sheets were added
        raise CampaignError("测评活动用到的定义找不到了：" + "、".join(f"“{k}”" for k in gone) + "，不能开始")
    _move(campaign, "draft", status="open", opened_at=utcnow())
    for key in used:
        text = definitions.definition_text(key)
        definition = library[key]
        db.session.add(CampaignDefinition(campaign=campaign, key=key, kind=definition.kind,
                                          version=definition.version, content=text,
                                          sha256=hashlib.sha256(text.encode()).hexdigest()))
    _loads_alone(campaign)
    audit.record(actor, "open_campaign", campaign.slug)
    db.session.commit()
    return campaign


def _loads_alone(campaign: Campaign) -> None:
    """The snapshot is all the campaign will ever read: check it loads before the opening commits,
    or every ballot page of the campaign would fail on it."""
    try:
        _snapshot(campaign)
    except DefinitionError as exc:
        db.session.rollback()
        raise CampaignError(f"测评活动用到的定义不完整，不能开始：{exc}") from None


def _move(campaign: Campaign, expected: str, **values: object) -> None:
    """Change the status only if the database still holds the one this request read. Two people
    pressing 开始 or 结束 at the same moment both read the old status; the second must be told the
    first already did it, not be told they did it too (and log it twice)."""
    moved = db.session.execute(update(Campaign).where(Campaign.id == campaign.id, Campaign.status == expected)
                               .values(**values).execution_options(synchronize_session="fetch")).rowcount
    if moved != 1:
        db.session.rollback()
        db.session.refresh(campaign)
        raise CampaignError(f"测评活动的状态刚刚被其他人改为“{STATUS_LABELS.get(campaign.status, campaign.status)}”，"
                            "本次操作没有执行")


def close_campaign(campaign: Campaign, *, actor: str = "cli") -> Campaign:
    if campaign.status != "open":
        raise CampaignError(f"只有进行中的测评活动可以结束，当前状态：{STATUS_LABELS.get(campaign.status, campaign.status)}")
    # the salt goes too: no ballot can come any more (see services.posters.fingerprint)
    _move(campaign, "open", status="closed", closed_at=utcnow(), fingerprint_salt="")
    audit.record(actor, "close_campaign", campaign.slug)
    mixing.mix_ballots(campaign.id)  # in the closing transaction: see services.mixing
    db.session.commit()
    mixing.after_close()
    return campaign


def finish_close(campaign: Campaign) -> Campaign:
    """Run a closed campaign's clean-up again (services.mixing.after_close). A close interrupted
    after its commit (the process killed, the machine restarted) left the campaign closed but its
    ballots' old bytes in the database's pages; closing again is what an operator tries."""
    if campaign.status != "closed":
        raise CampaignError(f"测评活动还没有结束，当前状态：{STATUS_LABELS.get(campaign.status, campaign.status)}")
    db.session.commit()  # the clean-up runs outside any transaction
    mixing.after_close()
    return campaign


def frozen_definitions(campaign: Campaign) -> dict[str, Definition]:
    """The definitions as the campaign froze them; a draft campaign reads the current templates."""
    if campaign.status == "draft":
        library = _library()
        return {key: library[key] for key in _definitions_used(campaign) if key in library}
    return _snapshot(campaign)


def _snapshot(campaign: Campaign) -> dict[str, Definition]:
    library: dict[str, Definition] = {}
    for row in sorted(campaign.definitions, key=lambda d: d.kind == "scheme"):
        library[row.key] = load_text(row.content, f"{row.key}.yaml", library)
    return library


def get_campaign(slug: str) -> Campaign:
    campaign = db.session.scalar(select(Campaign).where(Campaign.slug == slug))
    if campaign is None:
        raise CampaignError(f"测评活动“{slug}”不存在")
    return campaign


def add_sheets_for(campaign: Campaign, questionnaire_key: str, rater_group: str, org: Organisation,
                   *, actor: object = "cli") -> list[BallotSheet]:
    """Sheets for an organisation's subtree: one per village for an organisation questionnaire,
    one for the whole subtree's cadres for a person questionnaire."""
    from forms.rater_groups import label as group_label
    from survey_app.models import Person

    questionnaire = _library().get(questionnaire_key)
    if not isinstance(questionnaire, Questionnaire):
        raise CampaignError(f"测评表“{questionnaire_key}”不存在")
    nodes: dict[int | None, list[Organisation]] = {}
    for o in db.session.scalars(select(Organisation)):
        nodes.setdefault(o.parent_id, []).append(o)
    subtree, stack = [], [org]
    while stack:
        node = stack.pop()
        subtree.append(node)
        stack.extend(nodes.get(node.id, []))
    created = []
    if questionnaire.subject_kind == "organisation":
        villages = sorted((o for o in subtree if o.kind in ("village", "community", "branch", "office")),
                          key=lambda o: o.code) or [org]
        for village in villages:
            key = f"{village.code}-{rater_group}"
            created.append(add_sheet(campaign, key, f"{village.name}·{questionnaire.title}（{group_label(rater_group)}）",
                                     questionnaire_key, rater_group,
                                     [SubjectSpec(village.code, village.name, org_id=village.id)], org_id=village.id))
    else:
        ids = {o.id: o for o in subtree}
        people = db.session.scalars(select(Person).where(Person.org_id.in_(ids), Person.category == "cadre")
                                    .order_by(Person.org_id, Person.person_key)).all()
        if not people:
            raise CampaignError(f"“{org.name}”及其下级组织没有干部，无法生成干部测评票")
        subjects = [SubjectSpec(p.person_key, f"{p.name}（{ids[p.org_id].name}{p.role}）", person_id=p.id)
                    for p in people]
        created.append(add_sheet(campaign, f"{org.code}-{questionnaire_key}-{rater_group}",
                                 f"{org.name}·{questionnaire.title}（{group_label(rater_group)}）", questionnaire_key,
                                 rater_group, subjects, org_id=org.id))
    audit.record(actor, "add_sheets", campaign.slug, questionnaire=questionnaire_key, rater_group=rater_group,
                 org=org.code, sheets=len(created))
    db.session.commit()
    return created
