"""Checklist scores per indicator and stage (村级自评 → 镇街初评 → 考评组评定), and veto marks."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from survey_app.extensions import db
from survey_app.models._time import utcnow


class ChecklistScore(db.Model):
    __tablename__ = "checklist_score"
    __table_args__ = (UniqueConstraint("campaign_id", "org_id", "indicator_key", "stage"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"))
    indicator_key: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(10))
    score: Mapped[float] = mapped_column(Float)
    entered_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                 onupdate=utcnow)


class VetoMark(db.Model):
    """一票否决 with the evidence that justifies it; withdrawn marks stay, dated, for the record."""

    __tablename__ = "veto_mark"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"))
    veto_key: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(10))
    evidence: Mapped[str] = mapped_column(Text)
    marked_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
