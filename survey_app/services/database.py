"""Create or upgrade the schema through Alembic, the same way on SQLite and PostgreSQL."""
from __future__ import annotations

from flask import current_app
from flask_migrate import upgrade
from sqlalchemy import inspect

from survey_app.extensions import db


def init_database() -> str:
    """Run every migration not yet applied; returns the revision the database is now at."""
    upgrade(directory=current_app.extensions["migrate"].directory)
    with db.engine.connect() as connection:
        return connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one()


def is_initialised() -> bool:
    return inspect(db.engine).has_table("alembic_version")
