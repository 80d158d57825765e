"""Rehearsal: run a campaign end to end with test codes and ballots, then purge it in one step."""
from __future__ import annotations

from sqlalchemy import delete, func, select, update

from survey_app.extensions import db
from survey_app.models import (
    Ballot, BallotSheet, Campaign, CampaignDefinition, OpenReceipt, Poster, Token, TokenBatch,
)
from survey_app.services import audit, mixing
from survey_app.services.campaigns import CampaignError, open_campaign
from survey_app.services.slips import batch_pdf_path


def start_rehearsal(campaign: Campaign, *, actor: object = "cli") -> Campaign:
    if campaign.status != "draft":
        raise CampaignError("只有草稿状态的测评活动可以演练")
    campaign.rehearsal = True
    audit.record(actor, "start_rehearsal", campaign.slug)
    return open_campaign(campaign, actor=actor)


def purge_rehearsal(campaign: Campaign, *, actor: object = "cli") -> dict[str, int]:
    """Remove every test ballot, answer, code, poster and receipt; the campaign returns to draft.

    Only what the rehearsal made is test data. A batch issued while the campaign was a draft is
    real: its codes stay, and one a tester used during the rehearsal is unused again (a draft
    takes no ballot, so every use of it was the rehearsal's). Posters put up during the rehearsal
    go with it, so a test QR left on a wall takes no ballot in the real run.
    """
    if not campaign.rehearsal:
        raise CampaignError("该测评活动不在演练状态，没有可清除的演练数据")
    if db.engine.dialect.name == "postgresql":
        mixing.hold_casts(db.session.execute)  # before any delete: see there
    sheets = select(BallotSheet.id).where(BallotSheet.campaign_id == campaign.id)
    test_batches = select(TokenBatch.id).where(TokenBatch.sheet_id.in_(sheets), TokenBatch.rehearsal.is_(True))
    real_batches = select(TokenBatch.id).where(TokenBatch.sheet_id.in_(sheets), TokenBatch.rehearsal.is_(False))
    posters = select(Poster.id).where(Poster.sheet_id.in_(sheets))
    test_posters = posters.where(Poster.created_at >= campaign.opened_at) if campaign.opened_at else posters
    used_real = (Token.batch_id.in_(real_batches), Token.status == "used")
    counts = {
        "ballots": db.session.scalar(select(func.count()).select_from(Ballot).where(Ballot.sheet_id.in_(sheets))),
        "codes": db.session.scalar(select(func.count()).select_from(Token).where(Token.batch_id.in_(test_batches))),
        "codes_reset": db.session.scalar(select(func.count()).select_from(Token).where(*used_real)),
        "posters": db.session.scalar(select(func.count()).select_from(Poster).where(Poster.id.in_(test_posters))),
    }
    # a ballot's answers are in its own row, and go with it
    db.session.execute(delete(Ballot).where(Ballot.sheet_id.in_(sheets)))
    db.session.execute(delete(OpenReceipt).where(OpenReceipt.poster_id.in_(posters)))
    db.session.execute(delete(Poster).where(Poster.id.in_(test_posters)))
    kept_slips = list(db.session.scalars(test_batches))  # their PDFs hold plain codes: they go too
    db.session.execute(delete(Token).where(Token.batch_id.in_(test_batches)))
    db.session.execute(delete(TokenBatch).where(TokenBatch.id.in_(test_batches)))
    db.session.execute(update(Token).where(*used_real).values(status="unused", idempotency_hash=None))
    db.session.execute(delete(CampaignDefinition).where(CampaignDefinition.campaign_id == campaign.id))
    campaign.rehearsal, campaign.status, campaign.opened_at, campaign.closed_at = False, "draft", None, None
    audit.record(actor, "purge_rehearsal", campaign.slug, **counts)
    db.session.commit()
    for batch_id in kept_slips:
        batch_pdf_path(batch_id).unlink(missing_ok=True)
    return counts
