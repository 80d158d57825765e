"""Alembic environment: the app's own engine and metadata, batch mode so SQLite can alter tables.

On SQLite two things need setting up around the migrations (:func:`_sqlite_migrating`). Batch
mode alters a table by copying it, dropping the original and renaming the copy; with foreign keys
on, as the app runs every connection, dropping the original deletes every row that points at it
(ON DELETE CASCADE), so upgrading an old instance emptied its ballots. And Python's sqlite3 opens
no transaction before DDL, so a step that failed half-way stayed half-done.
"""
import contextlib
import logging
from collections.abc import Iterator
from logging.config import fileConfig

from alembic import context
from flask import current_app
from sqlalchemy import event
from sqlalchemy.engine import Connection

config = context.config
if config.config_file_name:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

db = current_app.extensions["migrate"].db
config.set_main_option("sqlalchemy.url",
                       db.engine.url.render_as_string(hide_password=False).replace("%", "%%"))


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=db.metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    def skip_empty(context_, revision, directives):  # noqa: ARG001
        if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
            directives[:] = []
            logger.info("No changes in schema detected.")

    conf_args = dict(current_app.extensions["migrate"].configure_args)
    conf_args.setdefault("process_revision_directives", skip_empty)
    with db.engine.connect() as connection, _sqlite_migrating(connection) as sqlite:
        context.configure(connection=connection, target_metadata=db.metadata, transactional_ddl=True,
                          **conf_args)
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:  # the foreign keys were off: check them before the transaction commits
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"migrating would leave rows pointing at nothing: {broken[:5]}")


@contextlib.contextmanager
def _sqlite_migrating(connection: Connection) -> Iterator[bool]:
    """Foreign keys off (only outside a transaction does SQLite take the pragma) and every step in
    one real transaction, as PostgreSQL has them; the connection is given back as it was lent."""
    if connection.dialect.name != "sqlite":
        yield False
        return
    raw = connection.connection.driver_connection
    isolation = raw.isolation_level
    raw.isolation_level = None
    raw.execute("PRAGMA foreign_keys=OFF")

    def begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN")

    event.listen(connection, "begin", begin)
    try:
        yield True
    finally:
        event.remove(connection, "begin", begin)
        raw.execute("PRAGMA foreign_keys=ON")
        raw.isolation_level = isolation


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
