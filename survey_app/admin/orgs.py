"""The organisation tree and rosters, and the Excel/CSV import with its row-level error report."""
from __future__ import annotations

import tempfile
from pathlib import Path

from flask import abort, current_app, render_template, request

from flask_login import current_user
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from sqlalchemy import func, select
from wtforms import SelectField

from survey_app.admin import bp
from survey_app.admin.widgets import options
from survey_app.admin.access import require_org, roles, visible_orgs
from survey_app.admin.paging import PER_PAGE, page_of
from survey_app.extensions import db
from survey_app.models import Organisation, Person
from survey_app.services import imports


class ImportForm(FlaskForm):
    kind = SelectField(choices=options([("orgs", _l("Organisations")), ("people", _l("People roster"))]))
    file = FileField(validators=[FileRequired(_l("Please choose a file to upload.")),
                                 FileAllowed(["xlsx", "csv"], _l("Only .xlsx and .csv files are accepted."))])


@bp.get("/orgs")
@roles("admin", "analyst", "assessor")
def orgs() -> str:
    """The tree, limited to the user's own subtree."""
    allowed = visible_orgs()
    rows = db.session.scalars(select(Organisation).order_by(Organisation.code)).all()
    counts = dict(db.session.execute(select(Person.org_id, func.count()).group_by(Person.org_id)).all())
    by_parent: dict[int | None, list[Organisation]] = {}
    for org in rows:
        by_parent.setdefault(org.parent_id, []).append(org)
    ordered: list[tuple[int, Organisation]] = []

    def walk(parent: int | None, depth: int) -> None:
        for org in by_parent.get(parent, []):
            if allowed is None or org.id in allowed:
                ordered.append((depth, org))
            walk(org.id, depth + 1)

    walk(None, 0)
    return render_template("admin/orgs.html", rows=ordered, counts=counts)


@bp.get("/orgs/<code>")
@roles("admin", "analyst", "assessor")
def org(code: str) -> str:
    organisation = db.session.scalar(select(Organisation).where(Organisation.code == code))
    if organisation is None:
        abort(404)
    require_org(organisation.id)
    total = db.session.scalar(select(func.count()).select_from(Person).where(Person.org_id == organisation.id))
    page = page_of(total)
    people = db.session.scalars(select(Person).where(Person.org_id == organisation.id)
                                .order_by(Person.category, Person.person_key)
                                .limit(PER_PAGE).offset((page - 1) * PER_PAGE)).all()
    return render_template("admin/org.html", org=organisation, people=people, page=page, total=total)


@bp.route("/import", methods=["GET", "POST"])
@roles("admin")
def import_rosters() -> str | tuple[str, int]:
    """Upload the tree or a roster; a file with any bad row changes nothing and lists every one."""
    form = ImportForm()
    report = None
    if form.validate_on_submit():
        upload = form.file.data
        suffix = Path(upload.filename or "").suffix.lower()
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / (Path(upload.filename or "upload").stem + suffix)
            upload.save(path)
            if path.stat().st_size > current_app.config["MAX_IMPORT_BYTES"]:
                abort(413)
            importer = imports.import_orgs if form.kind.data == "orgs" else imports.import_people
            report = importer(path, actor=current_user)
        if not report.ok:
            return render_template("admin/import.html", form=form, report=report), 422
    elif request.method == "POST":
        return render_template("admin/import.html", form=form, report=None), 400
    return render_template("admin/import.html", form=form, report=report)
