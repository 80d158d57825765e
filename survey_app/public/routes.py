"""A view reads; it never commits."""
from flask import render_template
from sqlalchemy import func, select

from survey_app.extensions import db
from survey_app.models import BallotSheet, Campaign, Organisation, Person
from survey_app.public import bp


@bp.get("/")
def index() -> str:
    """List the campaigns and the size of the organisation tree."""
    campaigns = db.session.scalars(select(Campaign).order_by(Campaign.year.desc(), Campaign.id)).all()
    sheets = dict(db.session.execute(
        select(BallotSheet.campaign_id, func.count()).group_by(BallotSheet.campaign_id)).all())
    counts = {
        "orgs": db.session.scalar(select(func.count()).select_from(Organisation)),
        "villages": db.session.scalar(select(func.count()).select_from(Organisation)
                                      .where(Organisation.kind.in_(("village", "community")))),
        "cadres": db.session.scalar(select(func.count()).select_from(Person)
                                    .where(Person.category == "cadre")),
        "residents": db.session.scalar(select(func.count()).select_from(Person)
                                       .where(Person.category == "resident")),
    }
    return render_template("public/index.html", campaigns=campaigns, sheets=sheets, counts=counts)


@bp.get("/ping")
def ping() -> tuple[str, int, dict[str, str]]:
    """Liveness for a load balancer: answers without touching the database."""
    return "pong", 200, {"Content-Type": "text/plain"}


@bp.get("/healthz")
def healthz() -> tuple[str, int]:
    db.session.execute(select(1))
    return "ok", 200
