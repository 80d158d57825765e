"""Write an audit entry in the caller's transaction, so the record and the change land together."""
from __future__ import annotations

import json
from typing import Any

from survey_app.extensions import db
from survey_app.models import AuditEntry, User


def user_id(actor: object) -> int | None:
    """The account behind an actor, for the rows that name who entered them (None for the CLI)."""
    return actor.id if isinstance(actor, User) else None


def record(actor: User | str | None, action: str, target: str = "", **detail: Any) -> AuditEntry:
    if isinstance(actor, User):
        user_id, name = actor.id, actor.username
    else:
        user_id, name = None, actor or "system"
    entry = AuditEntry(user_id=user_id, actor=name, action=action, target=target,
                       detail=json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str))
    db.session.add(entry)
    return entry
