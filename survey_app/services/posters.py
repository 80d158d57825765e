"""Open mode: a poster QR per village and rater group for residents who have no slip.

There is no token to spend, so three guards stand in: a signed cookie per poster (one vote per
browser), rate limits per address and per poster (in the view), and a keyed per-campaign
fingerprint of the address stored with each ballot so analysis can find bursts of duplicates.
The raw address is never stored, and the fingerprint cannot be worked back to it: see
:func:`fingerprint`.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import Integer, String, bindparam, cast, select

from survey_app.extensions import db
from survey_app.models import BallotSheet, Campaign, OpenReceipt, Poster
from survey_app.models._time import utcnow
from survey_app.services import audit, driver, mixing
from survey_app.services.casting import AnswerIn, CastResult, check_answers, new_ballot
from survey_app.services.sheets import SheetInfo, sheet_info
from survey_app.services.writelock import serialized_writes

# The receipt goes in only while the poster is up and its campaign open, checked in the statement
# itself: a form read just before the campaign or the poster closed is refused, not stored after.
_INSERT_RECEIPT = OpenReceipt.__table__.insert().from_select(
    ["poster_id", "nonce_hash"],
    select(cast(bindparam("poster_id"), Integer), cast(bindparam("nonce_hash"), String))
    .where(select(Poster.id)
           .join(BallotSheet.__table__, Poster.sheet_id == BallotSheet.id)
           .join(Campaign.__table__, BallotSheet.campaign_id == Campaign.id)
           .where(Poster.id == bindparam("poster_id"), Poster.closed_at.is_(None), Campaign.status == "open")
           .exists()))


class PosterError(ValueError):
    pass


@dataclass(frozen=True)
class PosterContext:
    poster_id: int
    slug: str
    sheet_id: int
    campaign: Campaign
    closed: bool

    @property
    def sheet(self) -> SheetInfo:
        return sheet_info(self.sheet_id, self.campaign.opened_at, self.campaign.status)


def create_poster(sheet: BallotSheet, *, actor: object = "cli") -> Poster:
    if sheet.campaign.status == "closed":
        raise PosterError("测评活动已结束，不能再生成公开二维码")
    poster = Poster(sheet_id=sheet.id, slug=secrets.token_urlsafe(12))
    db.session.add(poster)
    db.session.flush()
    audit.record(actor, "create_poster", sheet.key, poster=poster.id)
    db.session.commit()
    return poster


def poster_url(poster: Poster) -> str:
    return f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/p/{poster.slug}"


def find(slug: str) -> PosterContext | None:
    row = db.session.execute(select(Poster, BallotSheet.campaign_id).join(BallotSheet)
                             .where(Poster.slug == slug)).first()
    if row is None:
        return None
    poster = row.Poster
    campaign = db.session.get(Campaign, row.campaign_id)
    return PosterContext(poster.id, poster.slug, poster.sheet_id, campaign, poster.closed_at is not None)


def close_poster(poster: Poster, *, actor: object = "cli") -> bool:
    """Take a poster down; False if it already was (the first day it was taken down stands)."""
    if poster.closed_at is not None:
        return False
    poster.closed_at = utcnow()
    audit.record(actor, "close_poster", str(poster.id))
    db.session.commit()
    return True


def fingerprint(campaign: Campaign, address: str) -> str | None:
    """Same address, same hash within one campaign, and from nothing the database holds.

    There are only 2³² IPv4 addresses, so a hash keyed by the campaign's salt alone could be
    checked against a known address (the village office's, a cadre's phone) by anyone holding the
    database. The key is therefore the salt under the instance's token key, which lives outside the
    database, and closing the campaign erases the salt (``campaigns.close_campaign``): after that
    nobody, the server's operator included, can hash an address to match a stored one, while the
    analysis still compares the stored fingerprints with each other. None once the salt is gone:
    the campaign is closed, and its ballot will be refused.
    """
    if not campaign.fingerprint_salt:
        return None
    key = hmac.digest(current_app.config["TOKEN_KEY"].encode(),
                      f"poster-fingerprint:{campaign.fingerprint_salt}".encode(), "sha256")
    return hmac.new(key, address.encode(), hashlib.sha256).hexdigest()


def cast_open_ballot(context: PosterContext, answers: list[AnswerIn], *, nonce: str, address: str,
                     duration: str | None = None) -> CastResult:
    """Store an open-mode ballot, marked as such; a resent form (same nonce) is not counted twice."""
    campaign = context.campaign
    if context.closed:
        return CastResult("void")
    if campaign.status == "draft":
        return CastResult("not_open")
    if campaign.status == "closed":
        return CastResult("closed")
    check_answers(answers, context.sheet)
    receipt = _receipt(context.poster_id, nonce)
    engine = db.engine
    insert_receipt = driver.compiled(engine, _INSERT_RECEIPT, ("poster_id", "nonce_hash"))
    ballot = new_ballot(engine, context.sheet, "rehearsal" if campaign.rehearsal else "open", answers,
                        duration, fingerprint(campaign, address))
    try:
        with driver.transaction(engine, guard=serialized_writes) as cursor:
            cursor.execute(insert_receipt.sql, insert_receipt.bind((context.poster_id, receipt)))
            stored = cursor.rowcount == 1
            if stored:
                ballot.store(cursor)
    except engine.dialect.loaded_dbapi.IntegrityError:
        if db.session.scalar(select(OpenReceipt.id).where(OpenReceipt.nonce_hash == receipt)) is not None:
            return CastResult("recorded")  # this receipt is stored: the same form sent again
        raise  # the database refused the ballot itself: nothing is stored, and the voter must not be told otherwise
    if not stored:  # the campaign closed, went back to draft (a purge), or the poster was taken down
        status = _campaign_status(campaign.id)
        return CastResult({"closed": "closed", "draft": "not_open"}.get(status or "", "void"))
    mixing.keep_mixing(engine, current_app.config.get("MIX_SECONDS", 0))
    return CastResult("cast", ballot.ballot_id)


def _receipt(poster_id: int, nonce: str) -> str:
    key = current_app.config["TOKEN_KEY"].encode()
    return hmac.new(key, f"open:{poster_id}:{nonce}".encode(), hashlib.sha256).hexdigest()


def recorded_before(slug: str, nonce: str) -> bool:
    """True when a ballot was stored from this poster's form carrying this very nonce."""
    poster_id = db.session.scalar(select(Poster.id).where(Poster.slug == slug))
    return poster_id is not None and db.session.scalar(
        select(OpenReceipt.id).where(OpenReceipt.nonce_hash == _receipt(poster_id, nonce))) is not None


def _campaign_status(campaign_id: int) -> str | None:
    return db.session.scalar(select(Campaign.status).where(Campaign.id == campaign_id))
