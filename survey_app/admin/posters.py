"""Open-mode posters: one QR per village and rater group, printed A4 in large type."""
from __future__ import annotations

import io

from flask import abort, flash, redirect, render_template, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import SelectField

from forms.rater_groups import label as group_label
from reports.posters import Poster as PosterDoc
from reports.posters import PosterTextError, write_posters
from survey_app.admin import bp
from survey_app.admin.widgets import options
from survey_app.admin.access import roles
from survey_app.admin.campaigns import _campaign
from survey_app.extensions import db
from survey_app.models import BallotSheet, Organisation, Poster
from survey_app.services import posters as service


class PosterForm(FlaskForm):
    sheet = SelectField("测评票")


@bp.route("/campaigns/<slug>/posters", methods=["GET", "POST"])
@roles("admin")
def posters(slug: str) -> Response | str:
    campaign = _campaign(slug)
    form = PosterForm()
    form.sheet.choices = options([(str(s.id), f"{s.key} · {s.title}") for s in campaign.sheets])
    if form.validate_on_submit():
        sheet = db.session.get(BallotSheet, int(form.sheet.data))
        if sheet is None or sheet.campaign_id != campaign.id:
            abort(400)
        try:
            service.create_poster(sheet, actor=current_user)
        except service.PosterError as exc:
            flash(str(exc), "error")
        else:
            flash(_("Poster created. Print it and put it up on the village notice board."))
        return redirect(url_for("admin.posters", slug=slug), 303)
    rows = db.session.execute(select(Poster, BallotSheet).join(BallotSheet)
                              .where(BallotSheet.campaign_id == campaign.id).order_by(Poster.id)).all()
    return render_template("admin/posters.html", campaign=campaign, form=form, rows=rows,
                           url=service.poster_url)


@bp.get("/posters/<int:poster_id>.pdf")
@roles("admin")
def poster_pdf(poster_id: int) -> Response:
    poster = db.session.get(Poster, poster_id)
    if poster is None:
        abort(404)
    sheet = db.session.get(BallotSheet, poster.sheet_id)
    org = db.session.get(Organisation, sheet.org_id) if sheet.org_id else None
    buffer = io.BytesIO()
    try:
        write_posters([PosterDoc(url=service.poster_url(poster), campaign=sheet.campaign.name,
                                 organisation=org.name if org else "", rater_group=group_label(sheet.rater_group),
                                 sheet=sheet.title)], buffer)
    except PosterTextError as exc:  # a name too long for the page: said, as slips say it
        flash(str(exc), "error")
        return redirect(url_for("admin.posters", slug=sheet.campaign.slug), 303)
    buffer.seek(0)
    return send_file(buffer, mimetype="application/pdf", as_attachment=True,
                     download_name=f"poster-{poster_id}.pdf", max_age=0)


@bp.post("/posters/<int:poster_id>/close")
@roles("admin")
def close_poster(poster_id: int) -> Response:
    poster = db.session.get(Poster, poster_id)
    if poster is None or not FlaskForm().validate_on_submit():
        abort(404 if poster is None else 400)
    if not service.close_poster(poster, actor=current_user):
        flash(_("This poster was already taken down."), "error")
    sheet = db.session.get(BallotSheet, poster.sheet_id)
    return redirect(url_for("admin.posters", slug=sheet.campaign.slug), 303)
