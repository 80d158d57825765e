"""Live turnout: a table that refreshes itself where JavaScript runs, a JSON feed, a CSV."""
from __future__ import annotations

import csv
import io

from flask import Response, jsonify, render_template
from sqlalchemy import select

from survey_app.admin import bp
from survey_app.admin.access import roles, visible_orgs
from survey_app.admin.campaigns import _campaign
from survey_app.extensions import db
from survey_app.models import BallotSheet
from survey_app.services.export import csv_safe
from survey_app.services.turnout import TurnoutRow, turnout


def _rows(slug: str) -> tuple[object, list[TurnoutRow]]:
    campaign = _campaign(slug)
    allowed = visible_orgs()
    rows = turnout(campaign)
    if allowed is not None:
        keys = {s.key for s in db.session.scalars(select(BallotSheet).where(
            BallotSheet.campaign_id == campaign.id, BallotSheet.org_id.in_(allowed)))}
        rows = [r for r in rows if r.sheet in keys]
    return campaign, rows


def _as_dict(r: TurnoutRow) -> dict:
    return {"sheet": r.sheet, "organisation": r.organisation, "rater_group": r.rater_group, "issued": r.issued,
            "used": r.used, "share": None if r.share is None else round(r.share, 4),
            "token": r.ballots.get("token", 0), "open": r.ballots.get("open", 0),
            "paper": r.ballots.get("paper", 0), "rehearsal": r.ballots.get("rehearsal", 0)}


@bp.get("/campaigns/<slug>/turnout")
@roles("admin", "analyst", "assessor")
def turnout_page(slug: str) -> str:
    campaign, rows = _rows(slug)
    return render_template("admin/turnout.html", campaign=campaign, rows=[_as_dict(r) for r in rows])


@bp.get("/campaigns/<slug>/turnout.json")
@roles("admin", "analyst", "assessor")
def turnout_json(slug: str) -> Response:
    _campaign_, rows = _rows(slug)
    return jsonify(rows=[_as_dict(r) for r in rows])


@bp.get("/campaigns/<slug>/turnout.csv")
@roles("admin", "analyst", "assessor")
def turnout_csv(slug: str) -> Response:
    campaign, rows = _rows(slug)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["sheet", "organisation", "rater_group", "issued", "used", "share", "token", "open",
                     "paper", "rehearsal"])
    for r in rows:
        d = _as_dict(r)
        writer.writerow([csv_safe(d[k]) if d[k] is not None else "" for k in
                         ("sheet", "organisation", "rater_group", "issued", "used", "share", "token", "open",
                          "paper", "rehearsal")])
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=turnout-{campaign.slug}.csv"})
