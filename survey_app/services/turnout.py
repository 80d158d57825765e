"""Turnout per sheet: codes issued and used, and ballots by mode."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select

from survey_app.extensions import db
from survey_app.models import Ballot, BallotSheet, Campaign, Organisation, Token, TokenBatch


@dataclass(frozen=True)
class TurnoutRow:
    sheet: str
    title: str
    organisation: str
    rater_group: str
    issued: int
    used: int
    ballots: dict[str, int]

    @property
    def share(self) -> float | None:
        return self.used / self.issued if self.issued else None


def turnout(campaign: Campaign) -> list[TurnoutRow]:
    live = TokenBatch.voided_at.is_(None)
    tokens = dict((r.sheet_id, (r.issued, r.used)) for r in db.session.execute(
        select(TokenBatch.sheet_id, func.count(Token.id).label("issued"),
               func.sum(case((Token.status == "used", 1), else_=0)).label("used"))
        .join(Token, Token.batch_id == TokenBatch.id).where(live).group_by(TokenBatch.sheet_id)))
    ballots: dict[int, dict[str, int]] = {}
    for sheet_id, mode, count in db.session.execute(
            select(Ballot.sheet_id, Ballot.mode, func.count()).group_by(Ballot.sheet_id, Ballot.mode)):
        ballots.setdefault(sheet_id, {})[mode] = count
    rows = []
    for sheet, org_name in db.session.execute(
            select(BallotSheet, Organisation.name).outerjoin(Organisation, BallotSheet.org_id == Organisation.id)
            .where(BallotSheet.campaign_id == campaign.id).order_by(BallotSheet.key)):
        issued, used = tokens.get(sheet.id, (0, 0))
        rows.append(TurnoutRow(sheet.key, sheet.title, org_name or "", sheet.rater_group, issued,
                               int(used or 0), ballots.get(sheet.id, {})))
    return rows
