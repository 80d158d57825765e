"""Who may see what: roles per page, and a town-limited user's subtree."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select

from survey_app.extensions import db
from survey_app.models import Organisation

F = TypeVar("F", bound=Callable[..., Any])

# The roles as the desk names them; the stored value stays the English key.
ROLE_LABELS = {"admin": _l("Administrator"), "analyst": _l("Analyst"), "assessor": _l("Assessor")}


def role_label(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))


def roles(*allowed: str) -> Callable[[F], F]:
    """Log in first; then only these roles get through (403 for the others)."""
    def decorate(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)
        return wrapper  # type: ignore[return-value]
    return decorate


def subtree(root_id: int) -> set[int]:
    children: dict[int | None, list[int]] = {}
    for org_id, parent_id in db.session.execute(select(Organisation.id, Organisation.parent_id)):
        children.setdefault(parent_id, []).append(org_id)
    found, stack = set(), [root_id]
    while stack:
        node = stack.pop()
        if node not in found:
            found.add(node)
            stack.extend(children.get(node, []))
    return found


def visible_orgs() -> set[int] | None:
    """None: everything. Otherwise the ids a town-limited user may see."""
    if current_user.scope_org_id is None:
        return None
    return subtree(current_user.scope_org_id)


def require_org(org_id: int | None) -> None:
    allowed = visible_orgs()
    if allowed is not None and org_id not in allowed:
        abort(403)
