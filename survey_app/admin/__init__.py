"""The organisation department's desk: campaigns, codes, turnout, posters, paper slips, audit."""
from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from survey_app.admin import (  # noqa: E402,F401
    auth, campaigns, codes, orgs, paper, posters, records, turnout,
)
