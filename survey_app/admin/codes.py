"""Code batches: issue (slips written once, kept as a PDF for download), download, void."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from werkzeug.wrappers import Response
from wtforms import IntegerField, SelectField
from wtforms.validators import InputRequired, NumberRange

from survey_app.admin import bp
from survey_app.admin.widgets import options
from survey_app.admin.access import roles
from survey_app.admin.campaigns import _campaign
from survey_app.extensions import db
from survey_app.models import BallotSheet, Token, TokenBatch
from survey_app.services import tokens
from survey_app.services.slips import batch_pdf_path, issue_with_slips


class IssueForm(FlaskForm):
    sheet = SelectField("测评票")
    count = IntegerField("数量", validators=[  # InputRequired: DataRequired takes 0 for "not given"
        InputRequired(), NumberRange(1, tokens.MAX_BATCH, message=_l("Give a number of codes from %(min)s to %(max)s."))])


@bp.route("/campaigns/<slug>/batches", methods=["GET", "POST"])
@roles("admin")
def batches(slug: str) -> Response | str | tuple[str, int]:
    campaign = _campaign(slug)
    form = IssueForm()
    form.sheet.choices = options([(str(s.id), f"{s.key} · {s.title}") for s in campaign.sheets])
    if form.validate_on_submit():
        sheet = db.session.get(BallotSheet, int(form.sheet.data))
        if sheet is None or sheet.campaign_id != campaign.id:
            abort(400)
        try:
            issue_with_slips(sheet, form.count.data, actor=current_user)
        except tokens.TokenError as exc:
            flash(str(exc), "error")
            return redirect(url_for("admin.batches", slug=slug), 303)
        flash(_("%(count)d codes issued. Download the slips below.", count=form.count.data))
        return redirect(url_for("admin.batches", slug=slug), 303)
    rows = db.session.execute(
        select(TokenBatch, BallotSheet.key, func.count(Token.id).filter(Token.status == "used"))
        .join(BallotSheet, TokenBatch.sheet_id == BallotSheet.id)
        .outerjoin(Token, Token.batch_id == TokenBatch.id)
        .where(BallotSheet.campaign_id == campaign.id)
        .group_by(TokenBatch.id, BallotSheet.key).order_by(TokenBatch.id.desc())).all()
    status = 422 if form.is_submitted() else 200
    return render_template("admin/batches.html", campaign=campaign, form=form, rows=rows,
                           has_pdf={b.id: batch_pdf_path(b.id).exists() for b, _k, _u in rows}), status


@bp.get("/batches/<int:batch_id>/slips.pdf")
@roles("admin")
def batch_slips(batch_id: int) -> Response:
    batch = db.session.get(TokenBatch, batch_id)
    path = batch_pdf_path(batch_id)
    if batch is None or batch.voided_at is not None or not path.exists():
        abort(404)
    return send_file(path, mimetype="application/pdf", as_attachment=True,
                     download_name=f"slips-batch-{batch_id}.pdf", max_age=0)


@bp.post("/batches/<int:batch_id>/void")
@roles("admin")
def void_batch(batch_id: int) -> Response:
    batch = db.session.get(TokenBatch, batch_id)
    if batch is None or not FlaskForm().validate_on_submit():
        abort(404 if batch is None else 400)
    slug = db.session.get(BallotSheet, batch.sheet_id).campaign.slug
    try:
        count = tokens.void_batch(batch, actor=current_user)
    except tokens.TokenError as exc:
        flash(str(exc), "error")
    else:
        batch_pdf_path(batch_id).unlink(missing_ok=True)
        flash(_("Batch %(id)d withdrawn: %(count)d codes can no longer vote.", id=batch_id, count=count))
    return redirect(url_for("admin.batches", slug=slug), 303)
