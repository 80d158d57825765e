"""Paper fallback: staff key in a paper slip's answers against its printed one-time code.

The code travels only in POST bodies here, never in a URL, so no access log can keep it.
"""
from __future__ import annotations

import secrets

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from survey_app.admin import bp
from survey_app.admin.access import require_org, roles
from survey_app.admin.campaigns import _campaign
from survey_app.ballot.forms import NONCE_FIELDS, answers_from, ballot_form_class
from survey_app.extensions import db
from survey_app.models import BallotSheet, Campaign
from survey_app.services import audit, casting, tokens
from survey_app.services.casting import AnswerError, TokenContext

MESSAGES = {"used": "该测评码已经使用过（已在线投票或已录入），本张纸质票不能再录入",
            "unknown": "测评码不存在，请核对纸质票上的测评码",
            "void": "该测评码已作废", "not_open": "测评尚未开始", "closed": "测评已结束",
            "recorded": "本张纸质票已经录入"}
STATUS = {"used": 409, "recorded": 409, "unknown": 404, "void": 410, "not_open": 403, "closed": 403}


class PaperCodeForm(FlaskForm):
    code = StringField("测评码", validators=[DataRequired(), Length(max=40)])


def _check(campaign: Campaign, text: str | None) -> tuple[str | None, TokenContext | None, str | None]:
    """The normalised code and its context, or why it cannot be keyed in."""
    code = tokens.normalise(text or "")
    context = casting.lookup(code) if code else None
    if context is None or context.campaign_id != campaign.id:
        return None, None, "unknown"
    refusal = casting.gate(context) or (context.status if context.status != "unused" else None)
    require_org(db.session.get(BallotSheet, context.sheet_id).org_id)
    return code, context, refusal


@bp.route("/campaigns/<slug>/paper", methods=["GET", "POST"])
@roles("admin", "assessor")
def paper(slug: str) -> str | tuple[str, int]:
    """Step 1: the code printed on the slip; step 2 shows the slip's sheet to tick."""
    campaign = _campaign(slug)
    form = PaperCodeForm()
    if form.validate_on_submit():
        code, context, refusal = _check(campaign, form.code.data)
        if refusal or context is None or code is None:
            form.code.errors.append(MESSAGES[refusal or "unknown"])
            return render_template("admin/paper.html", campaign=campaign, form=form), STATUS[refusal or "unknown"]
        return _sheet(campaign, code, context)
    return render_template("admin/paper.html", campaign=campaign, form=form)


def _sheet(campaign: Campaign, code: str, context: TokenContext, form: object = None,
           status: int = 200) -> tuple[str, int]:
    info = context.sheet
    if form is None:
        form = _form_class(context)(formdata=None, nonce=secrets.token_urlsafe(18), started="")
    return render_template("admin/paper_ballot.html", campaign=campaign, form=form, info=info,
                           questionnaire=info.questionnaire, subjects=info.labels, code=tokens.display(code),
                           invalid=status == 422), status


def _form_class(context: TokenContext) -> type:
    info = context.sheet
    return ballot_form_class((context.sheet_id, str(context.opened_at)), info.questionnaire, info.subjects)


@bp.post("/campaigns/<slug>/paper/record")
@roles("admin", "assessor")
def paper_record(slug: str) -> Response | tuple[str, int]:
    """Store the answers as ticked on paper, through the same casting service as online votes."""
    campaign = _campaign(slug)
    code, context, refusal = _check(campaign, request.form.get("code"))
    nonce = request.form.get("nonce", "")
    if refusal == "used" and code and 8 <= len(nonce) <= 64 and casting.recorded_before(code, nonce):
        flash(MESSAGES["recorded"])  # the same slip sent twice (a double click): it is stored once
        return redirect(url_for("admin.paper", slug=slug), 303)
    if refusal or context is None or code is None:
        flash(MESSAGES[refusal or "unknown"], "error")
        return redirect(url_for("admin.paper", slug=slug), 303)
    if any(len(values) > 1 or (n not in context.sheet.fields and n not in NONCE_FIELDS and n != "code")
           for n, values in request.form.lists()):  # a field twice, or one not on the sheet: as online
        abort(400)
    form = _form_class(context)()
    if not form.validate():
        return _sheet(campaign, code, context, form, 422)
    try:
        result = casting.cast_ballot(code, answers_from(form, context.sheet.questionnaire, context.sheet.subjects),
                                     nonce=form.nonce.data, mode="paper", context=context)
    except AnswerError:
        abort(400)
    if result.status != "cast":
        flash(MESSAGES.get(result.status, result.status), "error")
        return redirect(url_for("admin.paper", slug=slug), 303)
    audit.record(current_user, "paper_ballot", context.sheet.key)  # which sheet, never which code
    db.session.commit()
    flash(_("Paper slip recorded."))
    return redirect(url_for("admin.paper", slug=slug), 303)
