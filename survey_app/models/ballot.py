"""Ballots: a random id, the day, the answers, and nothing that leads back to a code or a person."""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import date
from typing import NamedTuple

from sqlalchemy import Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from survey_app.extensions import db

MODES = ("token", "open", "paper", "rehearsal")


class StoredAnswer(NamedTuple):
    subject: str
    item: str
    choice: str | None
    value: float | None


class Ballot(db.Model):
    """One row holds the whole ballot, its answers included.

    A ballot is written once and read whole (by the export), so its answers live in one JSON
    column, ``{"subject": {"item": [choice, value]}}``, rather than twenty-odd rows of their own.
    Under a meeting hall's load each ballot then costs SQLite one row in one B-tree leaf instead
    of a leaf, its page splits and twenty foreign-key checks in a second table: the write-ahead
    log grows by about half as much per ballot, and the checkpoints that copy it back stall the
    writers half as long.
    """

    __tablename__ = "ballot"
    # WITHOUT ROWID: SQLite's hidden rowid would otherwise number ballots in casting order.
    __table_args__ = {"sqlite_with_rowid": False}

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # random; says nothing of order
    sheet_id: Mapped[int] = mapped_column(ForeignKey("ballot_sheet.id", ondelete="CASCADE"), index=True)
    mode: Mapped[str] = mapped_column(String(10))
    day: Mapped[date] = mapped_column(Date)
    duration_bucket: Mapped[str | None] = mapped_column(String(10))
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    answers: Mapped[str] = mapped_column(Text, server_default="{}")  # see pack_answers

    def stored_answers(self) -> list[StoredAnswer]:
        return list(unpack_answers(self.answers))


def pack_answers(answers: Iterable[tuple[str, str, str | None, float | None]]) -> str:
    """(subject, item, choice, value) in sheet order → the ``answers`` column's JSON.

    Numeric items have no choice; an optional item left blank keeps its place as ``[null, null]``.
    """
    packed: dict[str, dict[str, list]] = {}
    for subject, item, choice, value in answers:
        packed.setdefault(subject, {})[item] = [choice, value]
    return json.dumps(packed, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def unpack_answers(text: str) -> Iterator[StoredAnswer]:
    for subject, items in json.loads(text).items():
        for item, (choice, value) in items.items():
            yield StoredAnswer(subject, item, choice, None if value is None else float(value))
