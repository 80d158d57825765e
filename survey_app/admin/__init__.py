"""The organisation department's desk: campaigns, codes, turnout, posters, paper slips, audit."""
from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.context_processor
def _staff() -> dict:
    from flask_login import current_user

    from survey_app.admin.access import role_label

    return {"current_user": current_user, "role_label": role_label}


from survey_app.admin import (  # noqa: E402,F401
    auth, campaigns, codes, orgs, paper, posters, records, results, scores, turnout,
)
