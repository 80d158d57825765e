"""The public front page: what is running, and where to go."""
from flask import Blueprint

bp = Blueprint("public", __name__)

from survey_app.public import routes  # noqa: E402,F401
