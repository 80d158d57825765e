"""Ballots and answers: a random id, the day, and nothing that leads back to a code or a person."""
from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey_app.extensions import db

MODES = ("token", "open", "paper", "rehearsal")


class Ballot(db.Model):
    __tablename__ = "ballot"
    # WITHOUT ROWID: SQLite's hidden rowid would otherwise number ballots in casting order.
    __table_args__ = {"sqlite_with_rowid": False}

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # random; says nothing of order
    sheet_id: Mapped[int] = mapped_column(ForeignKey("ballot_sheet.id", ondelete="CASCADE"), index=True)
    mode: Mapped[str] = mapped_column(String(10))
    day: Mapped[date] = mapped_column(Date)
    duration_bucket: Mapped[str | None] = mapped_column(String(10))
    fingerprint: Mapped[str | None] = mapped_column(String(64))

    answers: Mapped[list[Answer]] = relationship(back_populates="ballot", cascade="all, delete-orphan")


class Answer(db.Model):
    """Keyed by (ballot, subject, item): no autoincrement id that would record casting order."""

    __tablename__ = "answer"
    __table_args__ = {"sqlite_with_rowid": False}

    ballot_id: Mapped[str] = mapped_column(ForeignKey("ballot.id", ondelete="CASCADE"), primary_key=True)
    subject_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    item_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    choice: Mapped[str | None] = mapped_column(String(64))
    value: Mapped[float | None] = mapped_column(Float)

    ballot: Mapped[Ballot] = relationship(back_populates="answers")
