"""测评码: single-use codes, stored only as a keyed hash, never linked to the ballot they cast."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey_app.extensions import db
from survey_app.models._time import utcnow


class TokenBatch(db.Model):
    __tablename__ = "token_batch"

    id: Mapped[int] = mapped_column(primary_key=True)
    sheet_id: Mapped[int] = mapped_column(ForeignKey("ballot_sheet.id", ondelete="CASCADE"), index=True)
    count: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    voided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rehearsal: Mapped[bool] = mapped_column(Boolean, default=False)

    tokens: Mapped[list[Token]] = relationship(back_populates="batch")


class Token(db.Model):
    """Holds no ballot id and no time of use, so the row says only *that* it was used."""

    __tablename__ = "token"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("token_batch.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(10), default="unused")  # unused | used | void
    idempotency_hash: Mapped[str | None] = mapped_column(String(64))

    batch: Mapped[TokenBatch] = relationship(back_populates="tokens")
