"""Cast a ballot: mark the code used and store the ballot with all its answers, in one transaction.

The conditional UPDATE succeeds for exactly one of any number of concurrent submissions of a
code; the ballot row gets a random id and the day only, and the token row keeps nothing that
points to it. A voter whose first submission was stored but whose connection dropped sends the
same idempotency nonce again and is told the ballot was recorded, not that the code was used.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import insert, select, update

from forms.schema import Questionnaire
from survey_app.extensions import db
from survey_app.models import Answer, Ballot, BallotSheet, Campaign, Token, TokenBatch
from survey_app.services.campaigns import sheet_definition
from survey_app.services.tokens import code_hash

Status = Literal["cast", "recorded", "used", "unknown", "void", "not_open", "closed"]
DURATION_BUCKETS = ((30, "<30s"), (60, "30-60s"), (120, "1-2m"), (300, "2-5m"), (900, "5-15m"))


class AnswerError(ValueError):
    """Answers that do not fit the sheet: a forged or broken submission, never stored."""


@dataclass(frozen=True)
class AnswerIn:
    subject: str
    item: str
    choice: str | None
    value: float | None


@dataclass(frozen=True)
class TokenContext:
    token_id: int
    status: str
    sheet: BallotSheet
    campaign: Campaign


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


def lookup(code: str) -> TokenContext | None:
    row = db.session.execute(
        select(Token.id, Token.status, TokenBatch.voided_at, BallotSheet, Campaign)
        .join(TokenBatch, Token.batch_id == TokenBatch.id)
        .join(BallotSheet, TokenBatch.sheet_id == BallotSheet.id)
        .join(Campaign, BallotSheet.campaign_id == Campaign.id)
        .where(Token.code_hash == code_hash(code))).first()
    if row is None:
        return None
    status = "void" if row.voided_at is not None else row.status
    return TokenContext(row.id, status, row.BallotSheet, row.Campaign)


def gate(context: TokenContext | None) -> Status | None:
    """Why this code cannot vote now, or None when it can."""
    if context is None:
        return "unknown"
    if context.status == "void":
        return "void"
    if context.campaign.status == "draft":
        return "not_open"
    if context.campaign.status == "closed":
        return "closed"
    return None


def check_answers(answers: list[AnswerIn], questionnaire: Questionnaire, subjects: list[str]) -> None:
    """Every required (subject, item) answered once, on the item's scale; nothing else."""
    expected = {(s, i.key): i for s in subjects for i in questionnaire.items}
    seen: set[tuple[str, str]] = set()
    for answer in answers:
        pair = (answer.subject, answer.item)
        item = expected.get(pair)
        if item is None:
            raise AnswerError(f"unknown answer {pair}")
        if pair in seen:
            raise AnswerError(f"duplicated answer {pair}")
        seen.add(pair)
        scale = questionnaire.scale(item.scale)
        if answer.value is None:
            if item.required:
                raise AnswerError(f"missing answer {pair}")
            continue
        low, high = scale.bounds()
        if not low <= answer.value <= high:
            raise AnswerError(f"value off the scale {pair}")
        if not scale.is_numeric and (answer.choice is None
                                     or scale.value_of(answer.choice) != answer.value):
            raise AnswerError(f"choice does not match its value {pair}")
    missing = [pair for pair, item in expected.items() if item.required and pair not in seen]
    if missing:
        raise AnswerError(f"missing answers {missing[:3]}")


def _nonce_hash(code: str, nonce: str) -> str:
    key = current_app.config["TOKEN_KEY"].encode()
    return hmac.new(key, f"idempotency:{code}:{nonce}".encode(), hashlib.sha256).hexdigest()


def cast_ballot(code: str, answers: list[AnswerIn], *, nonce: str, duration: str | None = None,
                mode: str = "token") -> CastResult:
    """Store the ballot if and only if the code is unused; tell the caller which happened.

    Raises AnswerError, storing nothing, when the answers do not fit the sheet.
    """
    context = lookup(code)
    refusal = gate(context)
    if refusal is not None or context is None:
        return CastResult(refusal or "unknown")
    questionnaire, subjects = sheet_definition(context.sheet)
    check_answers(answers, questionnaire, subjects)
    token_id, sheet_id = context.token_id, context.sheet.id
    db.session.rollback()  # start the write transaction with the UPDATE, not with an older read
    idem = _nonce_hash(code, nonce)
    try:
        claimed = db.session.execute(
            update(Token).where(Token.id == token_id, Token.status == "unused")
            .values(status="used", idempotency_hash=idem)
            .execution_options(synchronize_session=False)).rowcount
        if claimed != 1:
            db.session.rollback()
            stored = db.session.execute(select(Token.status, Token.idempotency_hash)
                                        .where(Token.id == token_id)).one()
            if stored.status == "used" and hmac.compare_digest(stored.idempotency_hash or "", idem):
                return CastResult("recorded")
            return CastResult("void" if stored.status == "void" else "used")
        ballot_id = secrets.token_hex(16)
        db.session.execute(insert(Ballot).values(id=ballot_id, sheet_id=sheet_id, mode=mode,
                                                 day=today(), duration_bucket=duration))
        db.session.execute(insert(Answer), [
            {"ballot_id": ballot_id, "subject_key": a.subject, "item_key": a.item,
             "choice": a.choice, "value": a.value} for a in answers])
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return CastResult("cast", ballot_id)


def recorded_before(code: str, nonce: str) -> bool:
    """True when this code's ballot was stored from a form carrying this very nonce."""
    stored = db.session.scalar(select(Token.idempotency_hash).where(Token.code_hash == code_hash(code),
                                                                    Token.status == "used"))
    return bool(stored) and hmac.compare_digest(stored, _nonce_hash(code, nonce))
