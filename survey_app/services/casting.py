"""Cast a ballot: mark the code used and store the ballot with all its answers, in one transaction.

The conditional UPDATE succeeds for exactly one of any number of concurrent submissions of a
code; the ballot row gets a random id and the day only, and the token row keeps nothing that
points to it. A voter whose first submission was stored but whose connection dropped sends the
same idempotency nonce again and is told the ballot was recorded, not that the code was used.
"""
from __future__ import annotations

import hmac
import math
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from typing import Any, Literal, NamedTuple
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine

from forms.builder import on_step
from survey_app.extensions import db
from survey_app.models import AnswerLayout, Ballot, BallotSheet, Campaign, Layout, Token, TokenBatch
from survey_app.services import driver, mixing
from survey_app.services.sheets import SheetInfo, sheet_info
from survey_app.services.tokens import code_hash
from survey_app.services.writelock import serialized_writes

Status = Literal["cast", "recorded", "used", "unknown", "void", "not_open", "closed"]
DURATION_BUCKETS = ((30, "<30s"), (60, "30-60s"), (120, "1-2m"), (300, "2-5m"), (900, "5-15m"))
TOKENS, BALLOTS = Token.__table__, Ballot.__table__


class AnswerError(ValueError):
    """Answers that do not fit the sheet: a forged or broken submission, never stored."""


class AnswerIn(NamedTuple):
    """One answer as a voter gave it. A tuple rather than a frozen dataclass: a ballot makes one per
    answer on the hot path, and a frozen dataclass pays a ``object.__setattr__`` per field."""

    subject: str
    item: str
    choice: str | None
    value: float | None


@dataclass(frozen=True)
class TokenContext:
    """What one indexed query tells about a code: plain values, no ORM objects to load."""

    token_id: int
    status: str
    sheet_id: int
    campaign_id: int
    campaign_status: str
    opened_at: str | None  # as the database returns it: a stamp for caches, never shown
    rehearsal: bool = False

    @cached_property  # the view and the casting service both read it
    def sheet(self) -> SheetInfo:
        return sheet_info(self.sheet_id, self.opened_at, self.campaign_status)


@dataclass(frozen=True)
class CastResult:
    status: Status
    ballot_id: str | None = None  # returned to the caller only; never stored beside the token


def duration_bucket(seconds: float | None) -> str | None:
    if seconds is None or seconds < 0:
        return None
    for limit, label in DURATION_BUCKETS:
        if seconds < limit:
            return label
    return ">15m"


def today() -> date:
    """The voter's calendar day (China time by default); nothing finer is ever stored."""
    return datetime.now(ZoneInfo(current_app.config.get("TIMEZONE", "Asia/Shanghai"))).date()


_LOOKUP = (select(TOKENS.c.id, TOKENS.c.status, TokenBatch.voided_at, BallotSheet.id.label("sheet_id"),
                  Campaign.id.label("campaign_id"), Campaign.status.label("campaign_status"),
                  Campaign.opened_at, Campaign.rehearsal)
           .join(TokenBatch.__table__, TOKENS.c.batch_id == TokenBatch.id)
           .join(BallotSheet.__table__, TokenBatch.sheet_id == BallotSheet.id)
           .join(Campaign.__table__, BallotSheet.campaign_id == Campaign.id))


# Statements built once, run through survey_app.services.driver: see there for why.
_LOOKUP_BY_HASH = _LOOKUP.where(TOKENS.c.code_hash == bindparam("code_hash"))
# The code's campaign must still be open and its batch not voided when the code is spent, not only
# when it was looked up: a voter whose page was read just before the campaign closed is refused.
_STILL_OPEN = (select(TokenBatch.id)
               .join(BallotSheet.__table__, TokenBatch.sheet_id == BallotSheet.id)
               .join(Campaign.__table__, BallotSheet.campaign_id == Campaign.id)
               .where(TokenBatch.id == TOKENS.c.batch_id, TokenBatch.voided_at.is_(None),
                      Campaign.status == "open")
               .exists())
_CLAIM = (TOKENS.update().where(TOKENS.c.id == bindparam("token_id"), TOKENS.c.status == "unused", _STILL_OPEN)
          .values(status="used", idempotency_hash=bindparam("idem")))
_CLAIMED = select(TOKENS.c.status, TOKENS.c.idempotency_hash).where(TOKENS.c.id == bindparam("token_id"))
_INSERT_BALLOT = BALLOTS.insert()
_BALLOT_COLUMNS = ("id", "sheet_id", "mode", "day", "duration_bucket", "fingerprint", "layout_id", "answers")
_LAYOUT_COLUMNS = ("id", "spec")
_INSERT_LAYOUT = {dialect: insert(AnswerLayout.__table__).on_conflict_do_nothing()
                  for dialect, insert in (("sqlite", sqlite_insert), ("postgresql", postgresql_insert))}


def lookup(code: str) -> TokenContext | None:
    engine = db.engine
    statement = driver.compiled(engine, _LOOKUP_BY_HASH, ("code_hash",))
    with driver.reading(engine) as cursor:
        cursor.execute(statement.sql, statement.bind((code_hash(code),)))
        row = cursor.fetchone()
    if row is None:
        return None
    token_id, status, voided_at, sheet_id, campaign_id, campaign_status, opened_at, rehearsal = row
    return TokenContext(token_id, "void" if voided_at is not None else status, sheet_id, campaign_id,
                        campaign_status, str(opened_at) if opened_at is not None else None, bool(rehearsal))


_OPEN_SHEETS = (select(BallotSheet.id, Campaign.opened_at)
                .join(Campaign.__table__, BallotSheet.campaign_id == Campaign.id)
                .where(Campaign.status == "open"))


def warm_up() -> int:
    """Build what the first voter of each server process would otherwise wait for, and say for how
    many sheets: the open campaigns' sheets (their frozen questionnaires parsed) and the
    statements a ballot runs. Done once before the workers fork, it spares the first voters of a
    hall 0.1–0.25 s each. The stamps are read as :func:`lookup` reads them, so the entries are
    the ones its requests will find."""
    engine = db.engine
    for statement, names in ((_LOOKUP_BY_HASH, ("code_hash",)), (_CLAIM, ("token_id", "idem")),
                             (_CLAIMED, ("token_id",)), (_INSERT_BALLOT, _BALLOT_COLUMNS),
                             (_INSERT_LAYOUT[engine.dialect.name], _LAYOUT_COLUMNS)):
        driver.compiled(engine, statement, names)
    listing = driver.compiled(engine, _OPEN_SHEETS, ())
    with driver.reading(engine) as cursor:
        cursor.execute(listing.sql, listing.bind(()))
        sheets = cursor.fetchall()
    for sheet_id, opened_at in sheets:
        sheet_info(sheet_id, str(opened_at) if opened_at is not None else None, "open")
    return len(sheets)


def gate(context: TokenContext | None) -> Status | None:
    """Why this code cannot vote now, or None when it can."""
    if context is None:
        return "unknown"
    if context.status == "void":
        return "void"
    if context.campaign_status == "draft":
        return "not_open"
    if context.campaign_status == "closed":
        return "closed"
    return None


def check_answers(answers: list[AnswerIn], info: SheetInfo) -> None:
    """Every required (subject, item) answered once, on the item's scale; nothing else."""
    expected = info.pairs
    seen: set[tuple[str, str]] = set()
    for answer in answers:
        pair = (answer.subject, answer.item)
        spec = expected.get(pair)
        if spec is None:
            raise AnswerError(f"unknown answer {pair}")
        if pair in seen:
            raise AnswerError(f"duplicated answer {pair}")
        seen.add(pair)
        if answer.value is None:
            if spec.required:
                raise AnswerError(f"missing answer {pair}")
            continue
        if not math.isfinite(answer.value):
            raise AnswerError(f"value off the scale {pair}")
        if spec.choices is None:
            if not (spec.low <= answer.value <= spec.high and on_step(answer.value, spec.low, spec.step)):
                raise AnswerError(f"value off the scale {pair}")
        elif answer.choice not in spec.choices or spec.choices[answer.choice] != answer.value:
            raise AnswerError(f"choice does not match its value {pair}")
    missing = [pair for pair, spec in expected.items() if spec.required and pair not in seen]
    if missing:
        raise AnswerError(f"missing answers {missing[:3]}")


def _nonce_hash(code: str, nonce: str) -> str:
    key = current_app.config["TOKEN_KEY"].encode()
    return hmac.digest(key, f"idempotency:{code}:{nonce}".encode(), "sha256").hex()


def cast_ballot(code: str, answers: list[AnswerIn], *, nonce: str, duration: str | None = None,
                mode: str = "token", context: TokenContext | None = None) -> CastResult:
    """Store the ballot if and only if the code is unused; tell the caller which happened.

    ``context`` lets a view that has already looked the code up skip a second query. Raises
    AnswerError, storing nothing, when the answers do not fit the sheet.
    """
    context = context or lookup(code)
    refusal = gate(context)
    if refusal is not None or context is None:
        return CastResult(refusal or "unknown")
    check_answers(answers, context.sheet)
    idem = _nonce_hash(code, nonce)
    engine = db.engine
    ballot = new_ballot(engine, context.sheet, "rehearsal" if context.rehearsal else mode, answers, duration)
    claim = driver.compiled(engine, _CLAIM, ("token_id", "idem"))
    # Everything but the statements is ready before the writers' queue is joined. The UPDATE is
    # the first write: SQLite (pysqlite) begins its write transaction there, and PostgreSQL at
    # READ COMMITTED evaluates its WHERE against the latest committed row.
    with driver.transaction(engine, guard=serialized_writes) as cursor:
        cursor.execute(claim.sql, claim.bind((context.token_id, idem)))
        cast = cursor.rowcount == 1
        if cast:
            ballot.store(cursor)
        else:
            claimed = driver.compiled(engine, _CLAIMED, ("token_id",))
            cursor.execute(claimed.sql, claimed.bind((context.token_id,)))
            row = cursor.fetchone()  # None: the code itself is gone (a rehearsal purged since the page was read)
            status, stored_idem = row if row is not None else ("gone", None)
    if cast:
        mixing.keep_mixing(engine, current_app.config.get("MIX_SECONDS", 0))
        return CastResult("cast", ballot.ballot_id)
    if status == "used" and hmac.compare_digest(stored_idem or "", idem):
        return CastResult("recorded")
    if status == "unused":  # still unspent: its campaign closed or its batch was voided meanwhile
        return CastResult(gate(lookup(code)) or "closed")
    if status == "gone":
        return CastResult("unknown")
    return CastResult("void" if status == "void" else "used")


@dataclass(frozen=True)
class NewBallot:
    """A ballot's row, bound before the writers' queue is joined: inside it only statements run."""

    ballot_id: str
    statements: tuple[tuple[str, Sequence[Any] | Mapping[str, Any]], ...]

    def store(self, cursor: Any) -> None:
        for sql, parameters in self.statements:
            cursor.execute(sql, parameters)


def new_ballot(engine: Engine, info: SheetInfo, mode: str, answers: list[AnswerIn], duration: str | None,
               fingerprint: str | None = None) -> NewBallot:
    """The layout's row goes first: it is a no-op once any ballot of the sheet has stored it."""
    ballot_id = secrets.token_hex(16)
    layout: Layout = info.layout
    insert_layout = driver.compiled(engine, _INSERT_LAYOUT[engine.dialect.name], _LAYOUT_COLUMNS)
    ballot = driver.compiled(engine, _INSERT_BALLOT, _BALLOT_COLUMNS)
    row = (ballot_id, info.sheet_id, mode, driver.date_param(engine, today()), duration, fingerprint, layout.id,
           layout.pack((a.subject, a.item, a.choice, a.value) for a in answers))
    return NewBallot(ballot_id, ((insert_layout.sql, insert_layout.bind((layout.id, layout.spec))),
                                 (ballot.sql, ballot.bind(row))))


_RECORDED = select(TOKENS.c.idempotency_hash).where(TOKENS.c.code_hash == bindparam("code_hash"),
                                                    TOKENS.c.status == "used")


def recorded_before(code: str, nonce: str) -> bool:
    """True when this code's ballot was stored from a form carrying this very nonce.

    Read like :func:`lookup`, on a pooled connection given back at once: in a hall, every resend
    of a used code asks this, and none may hold a connection for the rest of its request."""
    engine = db.engine
    statement = driver.compiled(engine, _RECORDED, ("code_hash",))
    with driver.reading(engine) as cursor:
        cursor.execute(statement.sql, statement.bind((code_hash(code),)))
        row = cursor.fetchone()
    return row is not None and bool(row[0]) and hmac.compare_digest(row[0], _nonce_hash(code, nonce))
