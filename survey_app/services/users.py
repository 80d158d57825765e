"""Staff accounts."""
from __future__ import annotations

from sqlalchemy import select

from survey_app.extensions import db
from survey_app.models import Organisation, User
from survey_app.models.user import ROLES
from survey_app.services import audit

MIN_PASSWORD = 10


class UserError(ValueError):
    pass


def create_user(username: str, password: str, role: str, *, scope_code: str | None = None,
                actor: object = "cli") -> User:
    username = username.strip()
    if not username or len(username) > 80:
        raise UserError("用户名不能为空，且不能超过 80 个字符")
    if role not in ROLES:
        raise UserError(f"角色必须是 {'、'.join(ROLES)} 之一，不是“{role}”")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"密码至少需要 {MIN_PASSWORD} 个字符")
    if db.session.scalar(select(User).where(User.username == username)) is not None:
        raise UserError(f"用户名“{username}”已经存在")
    if role == "admin" and scope_code:  # the admin pages (codes, imports, accounts) are district-wide
        raise UserError("管理员管理整个区，不能限定范围；只负责一个镇的账号请设为分析员或考评员")
    scope_id = None
    if scope_code:
        scope = db.session.scalar(select(Organisation).where(Organisation.code == scope_code))
        if scope is None:
            raise UserError(f"组织编码“{scope_code}”不存在")
        scope_id = scope.id
    user = User(username=username, role=role, scope_org_id=scope_id)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    audit.record(actor, "create_user", username, role=role, scope=scope_code)
    db.session.commit()
    return user
