"""Flask extensions, created unbound and attached in :func:`survey_app.create_app`."""
from flask import request
from flask_babel import Babel
from flask_compress import Compress
import flask_limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Named constraints make Alembic migrations identical on SQLite (batch mode) and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
LANGUAGES = {"zh": "zh_Hans_CN", "en": "en"}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def select_locale() -> str:
    """Simplified Chinese unless the visitor chose English (``?lang=en``, remembered in a cookie)."""
    choice = request.args.get("lang") or request.cookies.get("lang")
    return LANGUAGES.get(choice or "zh", LANGUAGES["zh"])


class Limiter(flask_limiter.Limiter):
    """Flask-Limiter, stepping aside at once on the pages that count wrong codes themselves.

    The code pages (/t and /t/<code>) hold guessing back through :mod:`survey_app.ballot.guessing`,
    which counts only wrong codes; Flask-Limiter would still resolve and evaluate its (empty) set
    of limits for them on every ballot cast, some 40 µs of a ballot's 800 in the process.
    """

    COUNTED_ELSEWHERE = frozenset({"ballot.enter", "ballot.sheet"})

    def _check_request_limit(self, callable_name: str | None = None, in_middleware: bool = True) -> None:
        if in_middleware and request.endpoint in self.COUNTED_ELSEWHERE:
            return
        super()._check_request_limit(callable_name, in_middleware)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()
babel = Babel()
compress = Compress()
limiter = Limiter(get_remote_address, default_limits=[], headers_enabled=True)
login_manager = LoginManager()
login_manager.login_view = "admin.login"
login_manager.session_protection = "strong"
