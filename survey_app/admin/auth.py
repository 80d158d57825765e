"""Staff login with lock-out after repeated failures; every login and lock-out is audited."""
from __future__ import annotations

import functools
import secrets
from datetime import timedelta

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select, update
from werkzeug.security import check_password_hash, generate_password_hash
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from survey_app.admin import bp
from survey_app.admin.access import roles
from survey_app.extensions import db, limiter, login_manager
from survey_app.models import User
from survey_app.models._time import utcnow
from survey_app.services import audit

MAX_FAILURES = 5
LOCK_MINUTES = 15


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=80)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


EPOCH = "pingyi_epoch"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The account, if it is active and the session is of its current epoch: a copy of the cookie
    taken before the user signed out (a shared office PC, another tab) signs nobody in."""
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    if user is None or not user.is_active or session.get(EPOCH) != user.session_epoch:
        return None
    return user


@functools.cache
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_urlsafe(16))


def _password_matches(user: User | None, password: str) -> bool:
    """A missing or inactive account costs one hash check too: how long a wrong password takes
    must not tell which usernames exist (a scrypt check is about 80 ms, a missing row 2 ms)."""
    if user is not None and user.is_active:
        return user.check_password(password)
    check_password_hash(_dummy_hash(), password)
    return False


def record_failure(user: User, now) -> None:  # type: ignore[no-untyped-def]
    """Count a wrong password in the database itself (failed_logins + 1), not from the row this
    request read: parallel guesses on PostgreSQL would otherwise each write 1 and never lock."""
    db.session.execute(update(User).where(User.id == user.id).values(failed_logins=User.failed_logins + 1))
    db.session.refresh(user, ["failed_logins"])
    if user.failed_logins >= MAX_FAILURES:
        user.locked_until, user.failed_logins = now + timedelta(minutes=LOCK_MINUTES), 0
        audit.record(user.username, "login_locked", user.username)
    db.session.commit()


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
def login() -> Response | str | tuple[str, int]:
    """Sign in; five wrong passwords lock the account for fifteen minutes."""
    form = LoginForm()
    if form.validate_on_submit():
        user = db.session.scalar(select(User).where(User.username == form.username.data.strip()))
        now = utcnow()
        locked = user is not None and user.locked_until is not None and \
            user.locked_until.replace(tzinfo=now.tzinfo) > now
        matches = _password_matches(user, form.password.data)  # checked when locked too: it must take as long
        if locked or not matches:
            if user is not None and not locked:
                record_failure(user, now)
            # one reply for a wrong password, an unknown name and a locked account, so that it never
            # tells a guesser which usernames exist (only a real account can be locked)
            form.password.errors.append(_("Wrong username or password, or the account is locked for "
                                          "%(minutes)s minutes after %(failures)s wrong passwords.",
                                          minutes=LOCK_MINUTES, failures=MAX_FAILURES))
            return render_template("admin/login.html", form=form), 401
        user.failed_logins, user.locked_until = 0, None
        audit.record(user, "login", user.username)
        db.session.commit()
        login_user(user)
        session[EPOCH] = user.session_epoch
        target = request.args.get("next", "")
        return redirect(target if target.startswith("/admin") else url_for("admin.home"))
    return render_template("admin/login.html", form=form)


@bp.post("/logout")
@roles("admin", "analyst", "assessor")
def logout() -> Response:
    """Sign out here and everywhere: every session of this account, copies included, ends."""
    db.session.execute(update(User).where(User.id == current_user.id)
                       .values(session_epoch=User.session_epoch + 1))
    db.session.commit()
    logout_user()
    session.pop(EPOCH, None)
    flash(_("You are signed out."))
    return redirect(url_for("admin.login"))


@bp.get("/")
@roles("admin", "analyst", "assessor")
def home() -> Response:
    return redirect(url_for("admin.campaigns"))


