"""Ballots: a random id, the day, the answers, and nothing that leads back to a code or a person."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Any, NamedTuple

from sqlalchemy import Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from survey_app.extensions import db

MODES = ("token", "open", "paper", "rehearsal")


class AnswerLayout(db.Model):
    """What each position of a ballot's answers means: the sheet's (subject, item) pairs and scales.

    Content-addressed (the id is a digest of the spec) and never changed, so a stored ballot
    always reads back as it was cast, whatever later happens to a definition.
    """

    __tablename__ = "answer_layout"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    spec: Mapped[str] = mapped_column(Text)  # JSON: [[subject, item, [[choice, value], …] or null], …]


class Ballot(db.Model):
    """One row holds the whole ballot: its answers are a list in the order of its layout.

    A ballot is written once and read whole (by the export), so its answers are one short JSON
    list, ``[0, 1, null, 8]`` (a choice's index, a number, or blank), rather than twenty-odd rows
    of an answer table. Under a meeting hall's load each ballot then adds one small row to one
    B-tree: SQLite's write-ahead log grows by about a third as much per ballot, and the
    checkpoints that copy it back take that much less from the writers.
    """

    __tablename__ = "ballot"
    # WITHOUT ROWID: SQLite's hidden rowid would otherwise number ballots in casting order. The
    # key leads with the sheet, which is how ballots are counted and read, so no other index.
    __table_args__ = {"sqlite_with_rowid": False}

    sheet_id: Mapped[int] = mapped_column(ForeignKey("ballot_sheet.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # random; says nothing of order
    mode: Mapped[str] = mapped_column(String(10))
    day: Mapped[date] = mapped_column(Date)
    duration_bucket: Mapped[str | None] = mapped_column(String(10))
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    layout_id: Mapped[str] = mapped_column(ForeignKey("answer_layout.id", ondelete="RESTRICT"))
    answers: Mapped[str] = mapped_column(Text)  # JSON list, read through Layout.unpack


class StoredAnswer(NamedTuple):
    subject: str
    item: str
    choice: str | None
    value: float | None


Choices = Sequence[tuple[str, float | None]] | None  # None for a numeric item


@dataclass(frozen=True)
class Layout:
    """The positions of a sheet's answers; packs answers on casting and unpacks them on export."""

    pairs: tuple[tuple[str, str, Choices], ...]

    @classmethod
    def from_spec(cls, spec: str) -> Layout:
        return cls(tuple((s, i, None if c is None else tuple((k, v) for k, v in c)) for s, i, c in json.loads(spec)))

    @cached_property
    def spec(self) -> str:
        return json.dumps([[s, i, None if c is None else [list(x) for x in c]] for s, i, c in self.pairs],
                          ensure_ascii=False, separators=(",", ":"))

    @cached_property
    def id(self) -> str:
        return hashlib.sha256(self.spec.encode()).hexdigest()[:16]

    @cached_property
    def _positions(self) -> dict[tuple[str, str], tuple[int, dict[str, int] | None]]:
        return {(s, i): (n, None if c is None else {key: k for k, (key, _v) in enumerate(c)})
                for n, (s, i, c) in enumerate(self.pairs)}

    def pack(self, answers: Iterable[tuple[str, str, str | None, float | None]]) -> str:
        """(subject, item, choice, value) → the ``answers`` column; a pair not given stays blank.

        Raises KeyError for a pair or a choice the layout does not have: the casting service
        checks answers against the sheet first, so that is a bug, never a voter's mistake.
        """
        values: list[Any] = [None] * len(self.pairs)
        for subject, item, choice, value in answers:
            position, choices = self._positions[(subject, item)]
            if value is None:
                continue
            values[position] = value if choices is None else choices[choice]  # type: ignore[index]
        return json.dumps(values, separators=(",", ":"), allow_nan=False)

    def unpack(self, text: str) -> Iterator[StoredAnswer]:
        values = json.loads(text)
        if len(values) != len(self.pairs):
            raise ValueError(f"a ballot has {len(values)} answers where its layout {self.id} has {len(self.pairs)}")
        for (subject, item, choices), value in zip(self.pairs, values):
            if value is None:
                yield StoredAnswer(subject, item, None, None)
            elif choices is None:
                yield StoredAnswer(subject, item, None, float(value))
            else:
                choice, number = choices[value]
                yield StoredAnswer(subject, item, choice, None if number is None else float(number))


def load_layouts(ids: Iterable[str]) -> dict[str, Layout]:
    """The stored layouts named, by id."""
    query = db.select(AnswerLayout.id, AnswerLayout.spec).where(AnswerLayout.id.in_(list(ids)))
    return {layout_id: Layout.from_spec(spec) for layout_id, spec in db.session.execute(query)}


def answers_by_ballot() -> dict[str, list[StoredAnswer]]:
    """Every stored ballot's answers, read back through its layout (for checks and counts)."""
    rows = db.session.execute(db.select(Ballot.id, Ballot.layout_id, Ballot.answers)).all()
    layouts = load_layouts({row.layout_id for row in rows})
    return {row.id: list(layouts[row.layout_id].unpack(row.answers)) for row in rows}
