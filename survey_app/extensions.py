"""Flask extensions, created unbound and attached in :func:`survey_app.create_app`."""
from flask import request
from flask_babel import Babel
from flask_compress import Compress
from flask_limiter import Limiter
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


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()
babel = Babel()
compress = Compress()
limiter = Limiter(get_remote_address, default_limits=[], headers_enabled=True)
login_manager = LoginManager()
login_manager.login_view = "admin.login"
login_manager.session_protection = "strong"
