"""The audit log and staff accounts (admin only)."""
from __future__ import annotations

import json

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from werkzeug.wrappers import Response
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from survey_app.admin import bp
from survey_app.admin.widgets import options
from survey_app.admin.access import ROLE_LABELS, roles
from survey_app.admin.paging import PER_PAGE, page_of
from survey_app.extensions import db
from survey_app.models import AuditEntry, Organisation, User
from survey_app.models.user import ROLES
from survey_app.services.users import UserError, create_user


# What each logged action was, in the desk's words; the key is shown beside it for searching.
ACTIONS = {
    "add_sheets": _l("Added ballot sheets"),
    "close_campaign": _l("Closed the campaign"),
    "close_poster": _l("Took down a poster"),
    "create_campaign": _l("Created a campaign"),
    "create_poster": _l("Made a poster"),
    "create_user": _l("Created an account"),
    "grade_campaign": _l("Analysed and graded"),
    "import_orgs": _l("Imported organisations"),
    "import_people": _l("Imported a roster"),
    "issue_tokens": _l("Issued voting codes"),
    "login": _l("Signed in"),
    "login_locked": _l("Account locked after wrong passwords"),
    "mark_veto": _l("Marked a veto item"),
    "open_campaign": _l("Opened the campaign"),
    "paper_ballot": _l("Keyed in a paper slip"),
    "purge_rehearsal": _l("Cleared the rehearsal's votes"),
    "record_scores": _l("Recorded checklist scores"),
    "start_rehearsal": _l("Started a rehearsal"),
    "update_rectification": _l("Updated a ledger line"),
    "void_batch": _l("Voided a batch of codes"),
    "withdraw_veto": _l("Withdrew a veto item"),
}


class UserForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired(), Length(max=80)])
    password = PasswordField("密码", validators=[DataRequired(), Length(min=10, max=200)])
    role = SelectField("角色", choices=options((r, ROLE_LABELS[r]) for r in ROLES))
    scope = SelectField("限定范围")


@bp.get("/audit")
@roles("admin")
def audit_log() -> str:
    total = db.session.scalar(select(func.count()).select_from(AuditEntry))
    page = page_of(total)
    entries = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())
                                 .limit(PER_PAGE).offset((page - 1) * PER_PAGE)).all()
    return render_template("admin/audit.html", entries=entries, page=page, total=total,
                           details={e.id: json.loads(e.detail or "{}") for e in entries}, actions=ACTIONS)


@bp.route("/users", methods=["GET", "POST"])
@roles("admin")
def users() -> Response | str | tuple[str, int]:
    form = UserForm()
    form.scope.choices = options([("", _l("everything"))] + [(o.code, f"{o.code} {o.name}") for o in db.session.scalars(
        select(Organisation).where(Organisation.kind.in_(("district", "town", "street"))).order_by(Organisation.code))])
    if form.validate_on_submit():
        try:
            create_user(form.username.data, form.password.data, form.role.data, scope_code=form.scope.data or None,
                        actor=current_user)
        except UserError as exc:
            form.username.errors.append(str(exc))
            return render_template("admin/users.html", form=form, users=_all()), 422
        flash(_("Account created."))
        return redirect(url_for("admin.users"), 303)
    refused = form.is_submitted()  # a form sent and not valid: its errors are shown beside the fields
    return render_template("admin/users.html", form=form, users=_all()), 422 if refused else 200


def _all() -> list:
    return db.session.execute(select(User, Organisation.name).outerjoin(Organisation, User.scope_org_id == Organisation.id)
                              .order_by(User.username)).all()
