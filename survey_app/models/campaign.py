"""Campaigns, the definitions they froze when they opened, and their ballot sheets."""
from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey_app.extensions import db
from survey_app.models._time import utcnow

STATUSES = ("draft", "open", "closed")


class Campaign(db.Model):
    __tablename__ = "campaign"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    year: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="draft")
    # A rehearsal runs end to end with test codes and ballots, then is purged before the real run.
    rehearsal: Mapped[bool] = mapped_column(Boolean, default=False)
    # Salt for open-mode fingerprints: per campaign, so hashes cannot be joined across campaigns.
    fingerprint_salt: Mapped[str] = mapped_column(String(64), default=lambda: secrets.token_hex(32))
    scheme_key: Mapped[str | None] = mapped_column(String(64))
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    sheets: Mapped[list[BallotSheet]] = relationship(back_populates="campaign",
                                                     order_by="BallotSheet.id")
    definitions: Mapped[list[CampaignDefinition]] = relationship(back_populates="campaign")


class CampaignDefinition(db.Model):
    """The YAML text of a definition as it was when the campaign opened; later edits never reach it."""

    __tablename__ = "campaign_definition"
    __table_args__ = (UniqueConstraint("campaign_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))

    campaign: Mapped[Campaign] = relationship(back_populates="definitions")


class BallotSheet(db.Model):
    """测评票: one questionnaire × a list of subjects, for one rater group, in one campaign."""

    __tablename__ = "ballot_sheet"
    __table_args__ = (UniqueConstraint("campaign_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(200))
    questionnaire_key: Mapped[str] = mapped_column(String(64))
    rater_group: Mapped[str] = mapped_column(String(40))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"))

    campaign: Mapped[Campaign] = relationship(back_populates="sheets")
    subjects: Mapped[list[SheetSubject]] = relationship(back_populates="sheet",
                                                        order_by="SheetSubject.position")


class SheetSubject(db.Model):
    __tablename__ = "sheet_subject"
    __table_args__ = (UniqueConstraint("sheet_id", "subject_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sheet_id: Mapped[int] = mapped_column(ForeignKey("ballot_sheet.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    subject_key: Mapped[str] = mapped_column(String(200))
    label: Mapped[str] = mapped_column(String(200))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="RESTRICT"))

    sheet: Mapped[BallotSheet] = relationship(back_populates="subjects")


class Poster(db.Model):
    """An open QR for residents without a slip: no tokens, so limits and flags guard it instead."""

    __tablename__ = "poster"

    id: Mapped[int] = mapped_column(primary_key=True)
    sheet_id: Mapped[int] = mapped_column(ForeignKey("ballot_sheet.id", ondelete="CASCADE"), index=True)
    slug: Mapped[str] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class OpenReceipt(db.Model):
    """A resent open-mode form is recognised by its nonce; the row says nothing of the ballot."""

    __tablename__ = "open_receipt"

    id: Mapped[int] = mapped_column(primary_key=True)
    poster_id: Mapped[int] = mapped_column(ForeignKey("poster.id", ondelete="CASCADE"))
    nonce_hash: Mapped[str] = mapped_column(String(64), unique=True)
