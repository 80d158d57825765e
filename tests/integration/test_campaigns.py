"""Campaign life cycle and the definition snapshot taken when a campaign opens."""
from __future__ import annotations

import shutil

import pytest
from sqlalchemy import select

import forms.loader
from survey_app.extensions import db
from survey_app.models import AuditEntry, Campaign, CampaignDefinition
from survey_app.services import campaigns
from survey_app.services.campaigns import CampaignError, SubjectSpec

pytestmark = pytest.mark.db


@pytest.fixture
def editable_templates(tmp_path, monkeypatch):
    """Point the built-in library at a copy we may edit, as an admin editing a template would."""
    folder = tmp_path / "templates"
    shutil.copytree(forms.loader.TEMPLATE_DIR, folder)
    monkeypatch.setattr(forms.loader, "TEMPLATE_DIR", folder)
    monkeypatch.setattr(forms.loader, "_BUILTIN", None)
    yield folder
    forms.loader._BUILTIN = None


def a_campaign() -> Campaign:
    campaign = campaigns.create_campaign("c1", "测试活动", 2026, scheme_key="baishan_village_stars")
    campaigns.add_sheet(campaign, "v1-masses", "一村群众", "village_satisfaction", "masses",
                        [SubjectSpec("V1", "一村")])
    db.session.commit()
    return campaign


def test_opening_freezes_every_definition_the_campaign_uses(app, editable_templates):
    campaign = a_campaign()
    campaigns.open_campaign(campaign)
    keys = set(db.session.scalars(select(CampaignDefinition.key)))
    assert keys == {"village_satisfaction", "baishan_village_stars", "baishan_five_star"}

    path = editable_templates / "village_satisfaction.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("label: 满意,", "label: 非常满意,")
                    .replace("version: 1", "version: 2"), encoding="utf-8")
    forms.loader._BUILTIN = None
    assert forms.loader.load_builtin("village_satisfaction").version == 2

    frozen = campaigns.frozen_definitions(db.session.get(Campaign, campaign.id))
    assert frozen["village_satisfaction"].version == 1
    assert frozen["village_satisfaction"].scale("sat3").choices[0].label == "满意"
    assert frozen["baishan_village_stars"].checklist == "baishan_five_star"


def test_a_campaign_moves_draft_open_closed_and_never_back(app):
    campaign = a_campaign()
    with pytest.raises(CampaignError, match="只有进行中的测评活动可以结束"):
        campaigns.close_campaign(campaign)
    campaigns.open_campaign(campaign)
    with pytest.raises(CampaignError, match="测评活动已开始，不能再修改测评票"):
        campaigns.add_sheet(campaign, "x", "x", "village_satisfaction", "masses", [SubjectSpec("V", "V")])
    with pytest.raises(CampaignError, match="只有草稿状态的测评活动可以开始"):
        campaigns.open_campaign(campaign)
    campaigns.close_campaign(campaign)
    assert campaign.status == "closed" and campaign.opened_at and campaign.closed_at
    actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == ["create_campaign", "open_campaign", "close_campaign"]


def test_a_sheet_refuses_a_rater_group_its_questionnaire_does_not_serve(app):
    campaign = campaigns.create_campaign("c2", "测试", 2026)
    with pytest.raises(CampaignError, match="不适用于评价主体“superior”"):
        campaigns.add_sheet(campaign, "s", "s", "village_satisfaction", "superior", [SubjectSpec("V", "V")])
    with pytest.raises(CampaignError, match="测评表“nope”不存在"):
        campaigns.add_sheet(campaign, "s", "s", "nope", "masses", [SubjectSpec("V", "V")])
