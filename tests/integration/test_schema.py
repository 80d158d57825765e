"""`pingyi init` builds one schema, whichever database it is given, and it matches the models."""
from __future__ import annotations

from pathlib import Path

import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Float, inspect, text

from survey_app.extensions import db
from survey_app.models import AuditEntry
from tests.conftest import PG_URL, make_app, postgres_url, reset_postgres

pytestmark = pytest.mark.db


def _generic(column_type) -> str:
    # PostgreSQL reports FLOAT as DOUBLE PRECISION, which is what SQLite's REAL holds too.
    generic = column_type.as_generic()
    return "Float" if isinstance(generic, Float) else generic.__class__.__name__


def describe_schema(engine) -> dict:
    """Tables, columns (name, generic type, nullability), keys, uniques and indexes, engine-neutral."""
    inspector = inspect(engine)
    schema = {}
    for table in sorted(inspector.get_table_names()):
        columns = [(c["name"], _generic(c["type"]), c["nullable"]) for c in inspector.get_columns(table)]
        schema[table] = {
            "columns": sorted(columns),
            "pk": sorted(inspector.get_pk_constraint(table)["constrained_columns"]),
            "fks": sorted((tuple(fk["constrained_columns"]), fk["referred_table"],
                           tuple(fk["referred_columns"]), (fk.get("options") or {}).get("ondelete"))
                          for fk in inspector.get_foreign_keys(table)),
            "unique": sorted(tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)),
            "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                              for i in inspector.get_indexes(table)
                              if not i.get("duplicates_constraint")),  # PostgreSQL's unique-backing
        }
    return schema


def test_init_on_an_empty_database_matches_the_models(bare_app, pingyi_bare):
    result = pingyi_bare("init")
    assert result.exit_code == 0, result.output
    assert f"结构版本 {head_revision()}" in result.output
    with bare_app.app_context():
        with db.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), db.metadata)
        assert diff == []
        assert {"organisation", "person", "app_user", "campaign", "ballot", "token",
                "checklist_score", "veto_mark", "audit_entry"} <= set(inspect(db.engine).get_table_names())
    again = pingyi_bare("init")
    assert again.exit_code == 0, "running init twice is harmless"


def head_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from survey_app import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", MIGRATIONS_DIR)
    return ScriptDirectory.from_config(config).get_current_head()


def test_upgrading_a_database_with_campaigns_keeps_them_salts_each_apart_and_erases_closed_ones_salt(bare_app):
    from flask_migrate import upgrade

    with bare_app.app_context():
        directory = bare_app.extensions["migrate"].directory
        upgrade(directory=directory, revision="0001")
        with db.engine.begin() as connection:
            for slug in ("a", "b"):
                connection.execute(text(
                    "INSERT INTO campaign (slug, name, year, status, created_at) "
                    "VALUES (:slug, :slug, 2025, 'closed', CURRENT_TIMESTAMP)"), {"slug": slug})
        upgrade(directory=directory, revision="0005")
        rows = db.session.execute(text("SELECT slug, rehearsal, fingerprint_salt FROM campaign ORDER BY slug")).all()
        assert [r.slug for r in rows] == ["a", "b"] and not any(r.rehearsal for r in rows)
        assert len({r.fingerprint_salt for r in rows}) == 2 and all(len(r.fingerprint_salt) == 64 for r in rows)
        db.session.remove()
        with db.engine.begin() as connection:
            connection.execute(text("UPDATE campaign SET status = 'open' WHERE slug = 'b'"))
        upgrade(directory=directory)  # 0006: a closed campaign's salt has keyed its last poster ballot
        salts = dict(db.session.execute(text("SELECT slug, fingerprint_salt FROM campaign")).all())
        assert salts["a"] == "" and len(salts["b"]) == 64
        db.session.remove()


def test_sqlite_is_in_wal_mode_with_foreign_keys_on(instance):
    app = make_app(f"sqlite:///{instance / 'wal.sqlite'}")
    with app.app_context():
        with db.engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        db.engine.dispose()


def test_the_sqlite_files_are_readable_by_their_owner_only(instance):
    """They were created 0644, readable by every account on the server, while the key files beside
    them are 0600: the pages hold every ballot and, while voting goes on, traces of their order."""
    from survey_app.services.database import init_database

    path = instance / "perm.sqlite"
    app = make_app(f"sqlite:///{path}")
    with app.app_context():
        init_database()
        with db.engine.begin() as connection:  # a write: the -wal and -shm files exist now
            connection.execute(text("CREATE TABLE scratch (x INTEGER)"))
            modes = {suffix: Path(f"{path}{suffix}").stat().st_mode & 0o777
                     for suffix in ("", "-wal", "-shm") if Path(f"{path}{suffix}").exists()}
        db.engine.dispose()
    assert modes[""] == 0o600 and set(modes.values()) == {0o600}, {k: oct(v) for k, v in modes.items()}


def test_sqlite_and_postgresql_get_the_same_schema(instance):
    from survey_app.services.database import init_database

    if not PG_URL:  # .ci/run always sets it; a CI run without it is a broken CI, not a pass
        if os.environ.get("CI"):
            pytest.fail("CI must set PINGYI_TEST_DATABASE_URL")
        pytest.skip("needs PINGYI_TEST_DATABASE_URL (a PostgreSQL database)")

    reset_postgres()
    described = []
    for url in (f"sqlite:///{instance / 'schema.sqlite'}", postgres_url()):
        app = make_app(url)
        with app.app_context():
            init_database()
            described.append(describe_schema(db.engine))
            db.engine.dispose()
    sqlite_schema, pg_schema = described
    assert len(sqlite_schema) >= 13 and sqlite_schema.keys() == pg_schema.keys()
    for table in sqlite_schema:
        assert sqlite_schema[table] == pg_schema[table], table


def test_the_audit_log_refuses_updates_and_deletes_even_in_raw_sql(app):
    db.session.add(AuditEntry(actor="a", action="test", target="x", detail="{}"))
    db.session.commit()
    for statement in ("UPDATE audit_entry SET actor = 'b'", "DELETE FROM audit_entry"):
        with pytest.raises(Exception, match="append-only"):
            with db.engine.begin() as connection:
                connection.execute(text(statement))
    assert db.session.scalar(text("SELECT actor FROM audit_entry")) == "a"
    entry = db.session.get(AuditEntry, 1)
    entry.actor = "c"
    with pytest.raises(Exception, match="append-only"):
        db.session.commit()
    db.session.rollback()


def test_answers_move_into_the_ballot_row_and_back_without_losing_one(app):
    """0004 packs each ballot's answer rows into its row; the downgrade unpacks them again."""
    from flask_migrate import downgrade, upgrade

    from survey_app.models import answers_by_ballot
    from survey_app.services import tokens
    from survey_app.services.casting import AnswerIn, cast_ballot
    from survey_app.services.sheets import sheet_definition
    from tests.factories import open_campaign

    _, sheets = open_campaign(grid_subjects=3)
    for key in ("V1", "grid"):
        q, subjects = sheet_definition(sheets[key])
        for n, code in enumerate(tokens.issue_tokens(sheets[key], 4).codes):
            answers = []
            for subject in subjects:
                for item in q.items:
                    scale = q.scale(item.scale)
                    if scale.is_numeric:
                        answers.append(AnswerIn(subject, item.key, None, float(n + 1)))
                    else:
                        choice = scale.choices[n % len(scale.choices)]
                        answers.append(AnswerIn(subject, item.key, choice.key, choice.value))
            assert cast_ballot(code, answers, nonce=f"nonce-{key}-{n}").status == "cast"

    def stored() -> set[tuple]:
        return {(b, *a) for b, answers in answers_by_ballot().items() for a in answers}

    before = stored()
    assert len(before) == 4 * 1 * len(sheet_definition(sheets["V1"])[0].items) \
        + 4 * 3 * len(sheet_definition(sheets["grid"])[0].items)
    db.session.remove()
    directory = app.extensions["migrate"].directory
    downgrade(directory=directory, revision="0003")
    rows = db.session.execute(text("SELECT ballot_id, subject_key, item_key, choice, value FROM answer")).all()
    assert {tuple(r) for r in rows} == before
    assert "answers" not in {c["name"] for c in inspect(db.engine).get_columns("ballot")}
    db.session.remove()
    upgrade(directory=directory)
    assert stored() == before
    assert "answer" not in inspect(db.engine).get_table_names()
    if db.engine.dialect.name == "sqlite":  # rowids would number ballots in casting order
        ddl = db.session.scalar(text("SELECT sql FROM sqlite_master WHERE name = 'ballot'"))
        assert "WITHOUT ROWID" in ddl
