"""What grading decided, kept per campaign so next year's campaign can compare, and the ledger."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from survey_app.extensions import db
from survey_app.models._time import utcnow


class GradeRecord(db.Model):
    """One subject's grade in one campaign, with its reason trail as JSON."""

    __tablename__ = "grade_record"
    __table_args__ = (UniqueConstraint("campaign_id", "subject_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), index=True)
    subject_key: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200), default="")
    grade: Mapped[str] = mapped_column(String(40))
    composite: Mapped[float | None] = mapped_column(Float)
    flags: Mapped[str] = mapped_column(Text, default="")
    pay_adjustment: Mapped[float | None] = mapped_column(Float)
    reasons: Mapped[str] = mapped_column(Text, default="[]")
    graded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RectificationLine(db.Model):
    """整改台账: a weak point with its owner and deadline, closed one by one (挂牌销号)."""

    __tablename__ = "rectification_line"
    __table_args__ = (UniqueConstraint("campaign_id", "subject_key", "indicator_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), index=True)
    subject_key: Mapped[str] = mapped_column(String(200))
    subject_name: Mapped[str] = mapped_column(String(200), default="")
    grade: Mapped[str] = mapped_column(String(40), default="")
    indicator_key: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200))
    score: Mapped[float | None] = mapped_column(Float)
    full_marks: Mapped[float | None] = mapped_column(Float)
    owner: Mapped[str] = mapped_column(String(100), default="")
    deadline: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="open")  # open | done
    opened_on: Mapped[date] = mapped_column(Date)
    done_on: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    revision: Mapped[int] = mapped_column(Integer, default=0)
