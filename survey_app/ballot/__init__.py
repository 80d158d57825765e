"""The polling site: QR target, code entry, ballot pages and confirmation."""
from flask import Blueprint

bp = Blueprint("ballot", __name__)

from survey_app.ballot import open_mode, routes  # noqa: E402,F401
