"""Create or upgrade the schema through Alembic, the same way on SQLite and PostgreSQL."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from flask import current_app
from sqlalchemy import inspect

from survey_app.extensions import db


class SchemaError(ValueError):
    """The database's schema is one this pingyi cannot upgrade; said in Chinese, as the CLI shows it."""


def init_database() -> str:
    """Run every migration not yet applied; returns the revision the database is now at.

    Alembic is called itself, not through Flask-Migrate's ``upgrade``, which turns every alembic
    error into an English log line and ``sys.exit(1)`` before it can be worded for the user.
    """
    migrate = current_app.extensions["migrate"]
    config = migrate.migrate.get_config(migrate.directory)
    try:
        command.upgrade(config, "head")
    except CommandError as exc:
        found = _stamped()
        script = ScriptDirectory.from_config(config)
        if found is not None and found not in {r.revision for r in script.walk_revisions()}:
            raise SchemaError(
                f"数据库的结构版本是“{found}”，这个版本的 pingyi 不认识（它认识的最新版本是 {script.get_current_head()}）："
                "数据库多半已由更新版本的 pingyi 升级过。请换用那个版本的 pingyi，或恢复升级前的备份") from None
        raise SchemaError(f"数据库结构无法升级：{exc}") from None
    _owner_only()
    return _stamped() or ""


def _owner_only() -> None:
    """An SQLite database is readable by its owner alone, as the instance's key files are: its pages
    hold the ballots, and while voting goes on, traces of their order (see services.mixing). SQLite
    gives its -wal and -shm files the main file's permissions."""
    url = db.engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return
    for suffix in ("", "-wal", "-shm"):
        path = Path(url.database + suffix)
        if path.exists():
            path.chmod(0o600)


def _stamped() -> str | None:
    if not is_initialised():
        return None
    with db.engine.connect() as connection:
        return connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


def is_initialised() -> bool:
    return inspect(db.engine).has_table("alembic_version")
