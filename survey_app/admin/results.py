"""Grades with their reasons, and the rectification ledger (整改台账) closed line by line."""
from __future__ import annotations

import io
import json
import tempfile
from datetime import date
from pathlib import Path

import pandas as pd
from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response

from survey_app.admin import bp
from survey_app.admin.access import roles, visible_orgs
from survey_app.admin.campaigns import _campaign
from survey_app.extensions import db
from survey_app.models import GradeRecord, Organisation, Person, RectificationLine
from survey_app.services import audit
from survey_app.services.analysis import AnalysisInputError
from survey_app.services.grading import GradingInputError, grade_campaign
from survey_app.services.ledger_files import write_ledger


def _in_scope(subject: str) -> bool:
    allowed = visible_orgs()
    if allowed is None:
        return True
    org = db.session.scalar(select(Organisation.id).where(Organisation.code == subject))
    if org is None:
        org = db.session.scalar(select(Person.org_id).where(Person.person_key == subject))
    return org in allowed


@bp.get("/campaigns/<slug>/grades")
@roles("admin", "analyst", "assessor")
def grades(slug: str) -> str:
    campaign = _campaign(slug)
    rows = [r for r in db.session.scalars(select(GradeRecord).where(GradeRecord.campaign_id == campaign.id)
                                          .order_by(GradeRecord.subject_key)) if _in_scope(r.subject_key)]
    return render_template("admin/grades.html", campaign=campaign, rows=rows,
                           reasons={r.id: json.loads(r.reasons) for r in rows})


@bp.post("/campaigns/<slug>/grade")
@roles("admin", "analyst")
def run_grading(slug: str) -> Response:
    """Grading is campaign-wide (quotas and roll-ups count every unit), so a user limited to one
    town may read its grades but not re-grade the district."""
    campaign = _campaign(slug)
    if current_user.scope_org_id is not None:
        abort(403)
    if not FlaskForm().validate_on_submit():
        abort(400)
    try:
        outcome = grade_campaign(campaign, actor=current_user)
    except (AnalysisInputError, GradingInputError, ValueError) as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        flash(_("%(count)d subjects graded; %(lines)d rectification lines.", count=len(outcome.result.grades),
                lines=len(outcome.ledger)))
    return redirect(url_for("admin.grades", slug=slug), 303)


def _lines(campaign_id: int) -> list[RectificationLine]:
    return [line for line in db.session.scalars(select(RectificationLine).where(
        RectificationLine.campaign_id == campaign_id).order_by(RectificationLine.subject_key, RectificationLine.id))
        if _in_scope(line.subject_key)]


@bp.get("/campaigns/<slug>/rectification")
@roles("admin", "analyst", "assessor")
def rectification(slug: str) -> str:
    campaign = _campaign(slug)
    lines = _lines(campaign.id)
    return render_template("admin/rectification.html", campaign=campaign, lines=lines, today=date.today(),
                           overdue=sum(1 for x in lines if x.status == "open" and x.deadline and x.deadline < date.today()))


@bp.get("/campaigns/<slug>/rectification.xlsx")
@roles("admin", "analyst", "assessor")
def rectification_xlsx(slug: str) -> Response:
    campaign = _campaign(slug)
    frame = pd.DataFrame([{"subject": x.subject_key, "name": x.subject_name, "grade": x.grade, "label": x.label,
                           "score": x.score, "full_marks": x.full_marks, "owner": x.owner, "deadline": x.deadline,
                           "status": x.status, "done_on": x.done_on, "note": x.note} for x in _lines(campaign.id)])
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ledger.xlsx"
        write_ledger(path, frame)
        buffer.write(path.read_bytes())
    buffer.seek(0)
    return send_file(buffer, as_attachment=True, download_name=f"rectification-{campaign.slug}.xlsx", max_age=0,
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@bp.post("/rectification/<int:line_id>")
@roles("admin", "assessor")
def update_line(line_id: int) -> Response:
    """Owner, deadline, note; and 挂牌销号: open → done with the day it was done."""
    line = db.session.get(RectificationLine, line_id)
    if line is None or not FlaskForm().validate_on_submit():
        abort(404 if line is None else 400)
    if not _in_scope(line.subject_key):
        abort(403)
    form = request.form
    status = form.get("status", line.status)
    if status not in ("open", "done"):
        abort(400)
    try:
        deadline = date.fromisoformat(form["deadline"]) if form.get("deadline") else line.deadline
        done_on = date.fromisoformat(form["done_on"]) if form.get("done_on") else None
    except ValueError:
        flash(_("Dates are written like 2026-12-31."), "error")
        return redirect(url_for("admin.rectification", slug=line_campaign_slug(line)), 303)
    owner, note = form.get("owner", line.owner), form.get("note", line.note)
    if len(owner) > 100 or len(note) > 2000:  # the page's inputs say so too; cutting would lose words unseen
        flash(_("The owner takes at most 100 characters and the note at most 2000."), "error")
        return redirect(url_for("admin.rectification", slug=line_campaign_slug(line)), 303)
    before = (line.status, line.owner, str(line.deadline), str(line.done_on or ""), line.note)
    line.owner, line.note = owner, note
    line.deadline = deadline
    if status == "done":
        line.done_on = done_on or line.done_on or date.today()
    else:
        line.done_on = None
    line.status = status
    line.revision += 1
    audit.record(current_user, "update_rectification", f"{line.subject_key}:{line.indicator_key}",
                 before=before, after=(line.status, line.owner, str(line.deadline), str(line.done_on or ""),
                                       line.note))
    db.session.commit()
    return redirect(url_for("admin.rectification", slug=line_campaign_slug(line)), 303)


def line_campaign_slug(line: RectificationLine) -> str:
    from survey_app.models import Campaign

    return db.session.get(Campaign, line.campaign_id).slug


