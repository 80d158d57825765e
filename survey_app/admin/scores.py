"""Checklist scores per organisation and stage, the Excel template round trip, and veto marks."""
from __future__ import annotations

import io
import tempfile
from pathlib import Path

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from sqlalchemy import select
from werkzeug.wrappers import Response

from forms.schema import STAGES, Checklist
from survey_app.admin import bp
from survey_app.admin.access import require_org, roles, visible_orgs
from survey_app.admin.campaigns import _campaign
from survey_app.extensions import db
from survey_app.models import Campaign, ChecklistScore, Organisation, VetoMark
from survey_app.models._time import utcnow
from survey_app.services import audit, checklists
from survey_app.services.campaigns import CampaignError
from survey_app.services.imports import RowError
from survey_app.services.ledger_files import ScoreFileError, read_checklist_scores, write_score_template

GRADED_KINDS = ("village", "community", "office", "branch")


class UploadForm(FlaskForm):
    file = FileField(validators=[FileRequired(_l("Please choose a file to upload.")),
                                 FileAllowed(["xlsx", "csv"], _l("Only .xlsx and .csv files are accepted."))])


def _checklist(campaign: Campaign) -> Checklist:
    try:
        return checklists.campaign_checklist(campaign)
    except CampaignError:
        abort(404)


def _units() -> list[Organisation]:
    allowed = visible_orgs()
    return [o for o in db.session.scalars(select(Organisation).where(Organisation.kind.in_(GRADED_KINDS))
                                          .order_by(Organisation.code)) if allowed is None or o.id in allowed]


@bp.route("/campaigns/<slug>/checklist", methods=["GET", "POST"])
@roles("admin", "analyst", "assessor")
def checklist(slug: str) -> Response | str | tuple[str, int]:
    """Scores of one organisation at one stage; nothing is saved while any score is out of range."""
    campaign = _campaign(slug)
    sheet = _checklist(campaign)
    units = _units()
    code = request.values.get("org") or (units[0].code if units else "")
    stage = request.values.get("stage") or sheet.stages[-1]
    org = next((o for o in units if o.code == code), None)
    if org is None or stage not in sheet.stages:
        abort(404 if org is None and units else 400)
    require_org(org.id)
    errors: dict[str, str] = {}
    entered = {r.indicator_key: r.score for r in db.session.scalars(select(ChecklistScore).where(
        ChecklistScore.campaign_id == campaign.id, ChecklistScore.org_id == org.id, ChecklistScore.stage == stage))}
    if request.method == "POST":
        if current_user.role == "analyst" or not FlaskForm().validate_on_submit():
            abort(403 if current_user.role == "analyst" else 400)
        values = {}
        for indicator in sheet.indicators():
            raw = request.form.get(f"score__{indicator.key}", "").strip()
            if raw == "":
                continue
            try:
                value = float(raw)
            except ValueError:
                errors[indicator.key] = _("Not a number")
                continue
            if not 0 <= value <= indicator.points:
                errors[indicator.key] = _("At most %(points)s points", points=f"{indicator.points:g}")
                continue
            values[indicator.key] = value
        if errors:
            entered.update({k: request.form.get(f"score__{k}") for k in errors})
            return render_template("admin/checklist.html", **_page(campaign, sheet, units, org, stage, entered, errors)), 422
        checklists.record_scores(campaign, [checklists.ScoreIn(org.code, k, stage, v) for k, v in values.items()],
                                 actor=current_user)
        flash(_("%(count)d scores saved for %(org)s.", count=len(values), org=org.name))
        return redirect(url_for("admin.checklist", slug=slug, org=org.code, stage=stage), 303)
    return render_template("admin/checklist.html", **_page(campaign, sheet, units, org, stage, entered, errors))


def _page(campaign, sheet, units, org, stage, entered, errors) -> dict:  # type: ignore[no-untyped-def]
    vetoes = db.session.scalars(select(VetoMark).where(VetoMark.campaign_id == campaign.id,
                                                        VetoMark.org_id == org.id).order_by(VetoMark.id)).all()
    total = sum(float(v) for v in entered.values() if v not in (None, "") and _number(v))
    return {"campaign": campaign, "sheet": sheet, "units": units, "org": org, "stage": stage, "stages": STAGES,
            "entered": entered, "errors": errors, "vetoes": vetoes, "total": total}


def _number(value: object) -> bool:
    try:
        float(value)  # type: ignore[arg-type]
        return True
    except (TypeError, ValueError):
        return False


@bp.get("/campaigns/<slug>/checklist/template.xlsx")
@roles("admin", "assessor")
def checklist_template(slug: str) -> Response:
    campaign = _campaign(slug)
    sheet = _checklist(campaign)
    stage = request.args.get("stage", sheet.stages[-1])
    if stage not in sheet.stages:
        abort(400)
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.xlsx"
        write_score_template(path, sheet, [(o.code, o.name) for o in _units()], stage)
        buffer.write(path.read_bytes())
    buffer.seek(0)
    return send_file(buffer, as_attachment=True, download_name=f"checklist-{campaign.slug}-{stage}.xlsx",
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", max_age=0)


@bp.post("/campaigns/<slug>/checklist/upload")
@roles("admin", "assessor")
def checklist_upload(slug: str) -> Response | tuple[str, int]:
    """All or nothing: every bad row is listed and no score is written while one is wrong."""
    campaign = _campaign(slug)
    sheet = _checklist(campaign)
    form = UploadForm()
    if not form.validate_on_submit():
        if not form.file.errors:
            abort(400)
        return render_template("admin/checklist_upload.html", campaign=campaign,
                               message="；".join(map(str, form.file.errors)), errors=[]), 422
    allowed = {o.code for o in _units()}
    with tempfile.TemporaryDirectory() as folder:
        name = Path(form.file.data.filename or "upload.xlsx").name
        path = Path(folder) / name
        form.file.data.save(path)
        try:
            scores, vetoes = read_checklist_scores(path, {i.key: i.points for i in sheet.indicators()}, sheet.stages,
                                                   {v.key for v in sheet.vetoes})
            outside = [RowError(0, "组织编码", f"组织“{code}”不在您的范围内或不参加评定")
                       for code in sorted((set(scores["subject"]) | set(vetoes["subject"])) - allowed)]
            if outside:
                raise ScoreFileError(f"{name} 含有不能评分的组织", outside)
        except ScoreFileError as exc:
            return render_template("admin/checklist_upload.html", campaign=campaign, message=str(exc).splitlines()[0],
                                   errors=exc.errors), 422
    try:  # one transaction: the scores and the vetoes of a file are stored together or not at all
        checklists.record_scores(campaign, [checklists.ScoreIn(r.subject, r.indicator, r.stage, r.score)
                                            for r in scores.itertuples(index=False)], actor=current_user, commit=False)
        for v in vetoes.itertuples(index=False):
            checklists.mark_veto(campaign, v.subject, v.veto, sheet.stages[-1], v.evidence, actor=current_user,
                                 commit=False)
        db.session.commit()
    except checklists.ScoreError as exc:
        db.session.rollback()
        return render_template("admin/checklist_upload.html", campaign=campaign, message=f"{name}：{exc}，没有导入任何得分",
                               errors=[]), 422
    flash(_("%(count)d scores imported.", count=len(scores)))
    return redirect(url_for("admin.checklist", slug=slug), 303)


@bp.post("/campaigns/<slug>/vetoes")
@roles("admin", "assessor")
def add_veto(slug: str) -> Response:
    campaign = _campaign(slug)
    org = db.session.scalar(select(Organisation).where(Organisation.code == request.form.get("org", "")))
    if org is None or not FlaskForm().validate_on_submit():
        abort(400)
    require_org(org.id)
    if org.kind not in GRADED_KINDS:  # as the score file refuses it: a town is graded from its villages
        flash(_("%(name)s is not graded, so no veto can be marked on it.", name=org.name), "error")
        return redirect(url_for("admin.checklist", slug=slug), 303)
    try:
        checklists.mark_veto(campaign, org.code, request.form.get("veto", ""), request.form.get("stage", "panel"),
                             request.form.get("evidence", ""), actor=current_user)
    except (checklists.ScoreError, CampaignError) as exc:  # CampaignError: a scheme without a checklist
        db.session.rollback()
        flash(str(exc), "error")
    return redirect(url_for("admin.checklist", slug=slug, org=org.code), 303)


@bp.post("/vetoes/<int:mark_id>/withdraw")
@roles("admin", "assessor")
def withdraw_veto(mark_id: int) -> Response:
    mark = db.session.get(VetoMark, mark_id)
    if mark is None or not FlaskForm().validate_on_submit():
        abort(404 if mark is None else 400)
    require_org(mark.org_id)
    if mark.withdrawn_at is not None:  # a second click, or a stale page: the first withdrawal's day stands
        flash(_("This veto was already withdrawn."), "error")
    else:
        mark.withdrawn_at = utcnow()
        audit.record(current_user, "withdraw_veto", str(mark.id), veto=mark.veto_key)
        db.session.commit()
    org = db.session.get(Organisation, mark.org_id)
    campaign = db.session.get(Campaign, mark.campaign_id)
    return redirect(url_for("admin.checklist", slug=campaign.slug, org=org.code), 303)
