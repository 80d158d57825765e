"""The pingyi web application: polling site, admin pages and the service layer behind them."""
from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from flask import Flask, current_app, request
from sqlalchemy import event
from sqlalchemy.engine import Engine

from survey_app import assets, security
from survey_app.config import Config, sqlite_synchronous
from survey_app.extensions import (
    babel, compress, csrf, db, limiter, login_manager, migrate, select_locale,
)
from survey_app.services import driver
from survey_app.sessions import OnceSignedCookieSession

MIGRATIONS_DIR = __path__[0] + "/migrations"


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:  # noqa: ARG001
    """WAL lets voters write while analysts read; SQLite leaves foreign keys off unless asked."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute(f"PRAGMA synchronous={sqlite_synchronous()}")  # see config.sqlite_synchronous
        # The server checkpoints outside its writers' queue (services.writelock); SQLite's own
        # checkpoint is the safety net, and a log grown by a bulk import is cut back after it.
        cursor.execute("PRAGMA wal_autocheckpoint=10000")
        cursor.execute("PRAGMA journal_size_limit=67108864")
        cursor.close()


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=False)
    app.config.from_mapping(Config().as_dict())
    if config:
        app.config.update(config)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # A file on this machine cannot drop a connection; pinging it costs a query per checkout.
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            k: v for k, v in app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}).items() if k != "pool_pre_ping"}
    db.init_app(app)
    app.teardown_request(driver.release_request_connection)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True)
    # Before the CSRF check, which reads the form: the cap must be raised by the time any body is read.
    app.before_request(_larger_uploads)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, default_translation_directories="translations")
    compress.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    # Flask-Login would put current_user into every template, loading (and, with strong session
    # protection, rewriting) the session on each voter page; only the admin pages need it.
    from flask_login.utils import _user_context_processor
    app.template_context_processors[None].remove(_user_context_processor)
    security.init_app(app)
    app.session_interface = OnceSignedCookieSession()
    if app.config.get("PROXY_COUNT"):
        from werkzeug.middleware.proxy_fix import ProxyFix
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["PROXY_COUNT"],  # type: ignore[method-assign]
                                x_proto=app.config["PROXY_COUNT"])

    from survey_app import models  # noqa: F401  (register the tables)
    from survey_app.admin import bp as admin_bp
    from survey_app.ballot import bp as ballot_bp
    from survey_app.public import bp as public_bp

    app.register_blueprint(public_bp)
    app.register_blueprint(ballot_bp)
    app.register_blueprint(admin_bp)
    app.after_request(_remember_language)
    assets.init_app(app)
    app.context_processor(_language)
    from forms.rater_groups import label as group_label
    app.add_template_filter(group_label, "group")
    return app


def _language() -> dict[str, str]:
    from flask_babel import get_locale

    return {"lang": "en" if str(get_locale()) == "en" else "zh"}


# Ballots are capped small (MAX_CONTENT_LENGTH); a roster of 10,000 people is not.
LARGE_UPLOADS = {"admin.import_rosters": "MAX_IMPORT_BYTES"}


def body_cap(config: Mapping[str, Any], endpoint: str | None) -> int | None:
    """The largest body a page takes (None: no cap), for the app and for :mod:`survey_app.asgi`."""
    return config[LARGE_UPLOADS.get(endpoint or "", "MAX_CONTENT_LENGTH")]


def _larger_uploads() -> None:
    if request.endpoint in LARGE_UPLOADS:
        request.max_content_length = body_cap(current_app.config, request.endpoint)


def _remember_language(response):  # type: ignore[no-untyped-def]
    choice = request.args.get("lang")
    if choice in ("zh", "en"):
        response.set_cookie("lang", choice, max_age=365 * 86400, samesite="Lax",
                            secure=request.is_secure, httponly=True)
    return response
