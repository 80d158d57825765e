"""Campaigns: create from the built-in templates, add sheets, open, close, rehearse and purge."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response
from wtforms import IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Regexp

from forms import Questionnaire, Scheme
from forms.rater_groups import RATER_GROUPS
from survey_app.admin import bp
from survey_app.admin.widgets import options
from survey_app.admin.access import roles, visible_orgs
from survey_app.extensions import db
from survey_app.models import BallotSheet, Campaign, Organisation
from survey_app.services import campaigns as service
from survey_app.services import library as definitions
from survey_app.services import rehearsal
from survey_app.services.campaigns import CampaignError


class CampaignForm(FlaskForm):
    slug = StringField("代码", validators=[DataRequired(), Length(max=64),
                                          Regexp(r"^[a-z0-9][a-z0-9-]*$", message=_l("Only lowercase letters, digits and dashes."))])
    name = StringField("名称", validators=[DataRequired(), Length(max=200)])
    year = IntegerField("年度", validators=[DataRequired(), NumberRange(2000, 2100)])
    scheme = SelectField("评定办法")
    previous = SelectField("上一次测评", default="")


class SheetsForm(FlaskForm):
    questionnaire = SelectField("测评表")
    rater_group = SelectField("评价主体", choices=options(RATER_GROUPS.items()))
    org = SelectField("范围（组织）")


def _campaign(slug: str) -> Campaign:
    campaign = db.session.scalar(select(Campaign).where(Campaign.slug == slug))
    if campaign is None:
        abort(404)
    return campaign


def _visible_sheets(campaign: Campaign) -> list[BallotSheet]:
    allowed = visible_orgs()
    return [s for s in campaign.sheets if allowed is None or s.org_id in allowed]


@bp.get("/campaigns")
@roles("admin", "analyst", "assessor")
def campaigns() -> str:
    rows = db.session.scalars(select(Campaign).order_by(Campaign.year.desc(), Campaign.id.desc())).all()
    return render_template("admin/campaigns.html", campaigns=rows)


@bp.route("/campaigns/new", methods=["GET", "POST"])
@roles("admin")
def new_campaign() -> Response | str | tuple[str, int]:
    form = CampaignForm()
    offered, broken = definitions.offered()
    if broken and request.method == "GET":
        flash(broken, "error")
    form.scheme.choices = options([(k, d.title) for k, d in sorted(offered.items()) if isinstance(d, Scheme)])
    form.previous.choices = options([("", "—")] + [(c.slug, f"{c.year} {c.name}") for c in db.session.scalars(
        select(Campaign).order_by(Campaign.year.desc(), Campaign.id.desc()))])
    if form.validate_on_submit():
        try:
            campaign = service.create_campaign(form.slug.data, form.name.data, form.year.data,
                                               scheme_key=form.scheme.data, previous_slug=form.previous.data or None,
                                               actor=current_user)
            db.session.commit()
        except (CampaignError, IntegrityError) as exc:
            db.session.rollback()
            form.slug.errors.append(str(exc) if isinstance(exc, CampaignError) else _("This code is already taken."))
            return render_template("admin/campaign_new.html", form=form), 422
        flash(_("Campaign created. Now add its ballot sheets."))
        return redirect(url_for("admin.campaign", slug=campaign.slug), 303)
    status = 400 if request.method == "POST" else 200
    return render_template("admin/campaign_new.html", form=form), status


@bp.get("/campaigns/<slug>")
@roles("admin", "analyst", "assessor")
def campaign(slug: str) -> str:
    c = _campaign(slug)
    form = _sheets_form()
    return render_template("admin/campaign.html", campaign=c, sheets=_visible_sheets(c), form=form,
                           definitions=sorted(c.definitions, key=lambda d: d.kind))


def _sheets_form() -> SheetsForm:
    form = SheetsForm()
    offered, broken = definitions.offered()
    if broken and request.method == "GET":
        flash(broken, "error")
    form.questionnaire.choices = options([(k, d.title) for k, d in sorted(offered.items())
                                  if isinstance(d, Questionnaire)])
    form.org.choices = options([(o.code, f"{o.code} {o.name}") for o in db.session.scalars(
        select(Organisation).where(Organisation.kind.notin_(("village", "community"))).order_by(Organisation.code))])
    return form


@bp.post("/campaigns/<slug>/sheets")
@roles("admin")
def add_sheets(slug: str) -> Response | tuple[str, int]:
    c = _campaign(slug)
    form = _sheets_form()
    if not form.validate_on_submit():
        return render_template("admin/campaign.html", campaign=c, sheets=_visible_sheets(c), form=form,
                               definitions=[]), 422
    org = db.session.scalar(select(Organisation).where(Organisation.code == form.org.data))
    try:
        created = service.add_sheets_for(c, form.questionnaire.data, form.rater_group.data, org,
                                         actor=current_user)
    except (CampaignError, IntegrityError) as exc:
        db.session.rollback()
        flash(str(exc) if isinstance(exc, CampaignError) else _("These sheets exist already."), "error")
        return redirect(url_for("admin.campaign", slug=slug), 303)
    flash(_("%(count)d ballot sheets added.", count=len(created)))
    return redirect(url_for("admin.campaign", slug=slug), 303)


@bp.post("/campaigns/<slug>/<action>")
@roles("admin")
def campaign_action(slug: str, action: str) -> Response:
    """open / close / rehearse / purge, each audited by the service."""
    c = _campaign(slug)
    steps = {"open": service.open_campaign, "close": service.close_campaign,
             "rehearse": rehearsal.start_rehearsal, "purge": rehearsal.purge_rehearsal}
    if action not in steps or not FlaskForm().validate_on_submit():
        abort(400)
    try:
        steps[action](c, actor=current_user)
    except CampaignError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        flash({"open": _("The campaign is open; its definitions are frozen."),
               "close": _("The campaign is closed."),
               "rehearse": _("Rehearsal started: codes and ballots from now on are test data."),
               "purge": _("Rehearsal data purged; the campaign is a draft again.")}[action])
    return redirect(url_for("admin.campaign", slug=slug), 303)


@bp.get("/campaigns/<slug>/definitions/<key>")
@roles("admin", "analyst", "assessor")
def definition(slug: str, key: str) -> str:
    c = _campaign(slug)
    frozen = next((d for d in c.definitions if d.key == key), None)
    if frozen is None:
        abort(404)
    return render_template("admin/definition.html", campaign=c, definition=frozen)
