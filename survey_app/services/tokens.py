"""测评码: random single-use codes, stored only as a keyed hash.

The alphabet leaves out 0/O and 1/I/L so that a code read off paper is typed right; ten symbols
of 31 give about 50 bits, far beyond guessing under the code-entry rate limit.
"""
from __future__ import annotations

import hmac
import secrets
import unicodedata
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import insert, select

from survey_app.extensions import db
from survey_app.models import BallotSheet, Token, TokenBatch
from survey_app.services import audit

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LENGTH = 10
MAX_BATCH = 20_000


class TokenError(ValueError):
    pass


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def display(code: str) -> str:
    """Codes are printed and typed in two groups of five: 7KQ3M-X9TRD."""
    return f"{code[:5]}-{code[5:]}"


def normalise(text: str) -> str | None:
    """Accept what people type (lower case, spaces, dashes, full-width letters and digits from a
    Chinese input method: ７ＫＱ３Ｍ－Ｘ９ＴＲＤ); None when it cannot be a code."""
    cleaned = "".join(ch for ch in unicodedata.normalize("NFKC", text).upper() if ch not in " -_—–‐\u3000")
    if len(cleaned) != LENGTH or any(ch not in ALPHABET for ch in cleaned):
        return None
    return cleaned


def code_hash(code: str, key: str | None = None) -> str:
    key = key or current_app.config["TOKEN_KEY"]
    return hmac.digest(key.encode(), code.encode(), "sha256").hex()  # one call into C: on every ballot


@dataclass
class IssuedBatch:
    batch: TokenBatch
    codes: list[str]  # the only copy of the plain codes: print them, then let them go


def new_codes(count: int) -> list[str]:
    """``count`` codes distinct among themselves and from every code already stored: one in 31^10
    per code, but certain over enough batches, and found now, before any slip is printed."""
    codes: set[str] = set()
    while len(codes) < count:
        while len(codes) < count:
            codes.add(new_code())
        with db.engine.connect() as connection:  # a read of its own: nothing stays open while slips are drawn
            codes -= _stored(list(codes), connection.scalars)
    return list(codes)


def _stored(codes: list[str], scalars=None) -> set[str]:  # type: ignore[no-untyped-def]
    """Which of ``codes`` are already stored (read through ``scalars``, the session's by default)."""
    scalars = scalars or db.session.scalars
    key = current_app.config["TOKEN_KEY"]
    by_hash = {code_hash(c, key): c for c in codes}
    hashes = list(by_hash)
    return {by_hash[h] for start in range(0, len(hashes), 5000) for h in scalars(
        select(Token.code_hash).where(Token.code_hash.in_(hashes[start:start + 5000])))}


def check_batch(sheet: BallotSheet, count: int) -> None:
    """Refuse a batch before anything is printed for it."""
    if not 1 <= count <= MAX_BATCH:
        raise TokenError(f"每批测评码数量应在 1 到 {MAX_BATCH} 之间")
    if sheet.campaign.status == "closed":
        raise TokenError("测评活动已结束，不能再发放测评码")


def issue_tokens(sheet: BallotSheet, count: int, *, label: str = "", actor: object = "cli",
                 codes: list[str] | None = None) -> IssuedBatch:
    """Store a batch of ``count`` new codes (or of ``codes``, drawn by :func:`new_codes` and already
    printed: see ``slips.issue_with_slips``) in one short transaction of its own."""
    if codes is not None:  # drawing their slips took a while: the campaign may have closed, or its
        db.session.refresh(sheet.campaign, ["status", "rehearsal"])  # rehearsal been purged, meanwhile
    check_batch(sheet, count)
    ordered = new_codes(count) if codes is None else list(codes)
    if len(set(ordered)) != count:
        raise ValueError("codes must be count distinct new codes")
    key = current_app.config["TOKEN_KEY"]
    batch = TokenBatch(sheet_id=sheet.id, count=count, label=label, rehearsal=sheet.campaign.rehearsal)
    try:
        db.session.add(batch)
        db.session.flush()
        taken = _stored(ordered)  # drawn distinct, but another batch may have been stored meanwhile
        if taken:  # not redrawn here: the slips already carry these codes
            raise TokenError(f"有 {len(taken)} 个新测评码与刚发放的测评码重复，没有发放；请重新发放这一批")
        db.session.execute(insert(Token), [{"batch_id": batch.id, "code_hash": code_hash(c, key),
                                            "status": "unused"} for c in ordered])
        audit.record(actor, "issue_tokens", sheet.key, batch=batch.id, count=count)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return IssuedBatch(batch, ordered)


def void_batch(batch: TokenBatch, *, actor: object = "cli") -> int:
    """Withdraw a batch none of whose codes has voted (lost or misprinted slips)."""
    from sqlalchemy import func, select, update

    from survey_app.models._time import utcnow

    if batch.voided_at is not None:
        raise TokenError("该批测评码已经作废")
    # Void first, then look: a code cast at the same moment either wins (and we roll back) or
    # finds itself void; there is no window in which both happen.
    count = db.session.execute(update(Token).where(Token.batch_id == batch.id, Token.status == "unused")
                               .values(status="void")).rowcount
    used = db.session.scalar(select(func.count()).select_from(Token)
                             .where(Token.batch_id == batch.id, Token.status == "used"))
    if used:
        db.session.rollback()
        raise TokenError(f"该批测评码已有 {used} 个被使用，不能作废")
    batch.voided_at = utcnow()
    audit.record(actor, "void_batch", str(batch.id), count=count)
    db.session.commit()
    return count
