"""Migrations over real data: what an instance that has already run a campaign keeps when it upgrades.

Rows are written with plain SQL at the old revision (the models describe only the newest schema),
and every expected value below is worked out by hand from those rows.
"""
from __future__ import annotations

import re

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from survey_app.extensions import db

pytestmark = pytest.mark.db

CHINESE = re.compile(r"[\u4e00-\u9fff]")


def _at_revision(app, revision: str) -> str:
    directory = app.extensions["migrate"].directory
    upgrade(directory=directory, revision=revision)
    return directory


def _seed_campaign_at_0001() -> None:
    """A village, a staff account, an open campaign with one sheet, three codes (two used) and the
    two ballots they cast, each with a choice answer and a numeric answer, and a checklist score."""
    with db.engine.begin() as connection:
        def run(sql: str, **params: object) -> None:
            connection.execute(text(sql), params)

        run("INSERT INTO organisation (id, code, name, kind) VALUES (1, 'V1', '一村', 'village')")
        run("INSERT INTO app_user (id, username, password_hash, role, is_active, failed_logins, created_at) "
            "VALUES (1, 'assessor', 'x', 'assessor', true, 0, CURRENT_TIMESTAMP)")
        run("INSERT INTO campaign (id, slug, name, year, status, created_at) "
            "VALUES (1, 'c2025', '2025 年度测评', 2025, 'open', CURRENT_TIMESTAMP)")
        run("INSERT INTO campaign_definition (campaign_id, key, kind, version, content, sha256) "
            "VALUES (1, 'villager', 'questionnaire', 1, 'key: villager', 'abc')")
        run("INSERT INTO ballot_sheet (id, campaign_id, key, title, questionnaire_key, rater_group, org_id) "
            "VALUES (1, 1, 'V1', '一村村民测评', 'villager', 'masses', 1)")
        run("INSERT INTO sheet_subject (sheet_id, position, subject_key, label, org_id) "
            "VALUES (1, 0, 'org:V1', '一村两委', 1)")
        run("INSERT INTO checklist_score (campaign_id, org_id, indicator_key, stage, score, entered_by, updated_at) "
            "VALUES (1, 1, 'party_building', 'final', 4.5, 1, CURRENT_TIMESTAMP)")
        run("INSERT INTO token_batch (id, sheet_id, count, label, created_at) VALUES (1, 1, 3, '', CURRENT_TIMESTAMP)")
        for n, status in enumerate(("used", "used", "unused")):
            run("INSERT INTO token (batch_id, code_hash, status) VALUES (1, :h, :s)", h=f"hash{n}", s=status)
        for n in range(2):
            run("INSERT INTO ballot (id, sheet_id, mode, day) VALUES (:i, 1, 'token', '2025-11-02')", i=f"ballot{n}")
            run("INSERT INTO answer (ballot_id, subject_key, item_key, choice, value) "
                "VALUES (:i, 'org:V1', 'overall', 'satisfied', 1.0)", i=f"ballot{n}")
            run("INSERT INTO answer (ballot_id, subject_key, item_key, choice, value) "
                "VALUES (:i, 'org:V1', 'points', NULL, :v)", i=f"ballot{n}", v=float(7 + n))


def test_upgrading_a_campaign_cast_at_0001_keeps_its_sheets_ballots_answers_and_used_codes(bare_app):
    """0002 alters `campaign` and `token_batch` in batch mode. On SQLite that copies each table,
    drops the original and renames the copy; with `PRAGMA foreign_keys=ON` (set for every
    connection, the migration's included) dropping `campaign` first deletes its rows, and every
    ON DELETE CASCADE below it fires: sheets, definitions, checklist scores, codes and ballots go."""
    from survey_app.models import answers_by_ballot

    with bare_app.app_context():
        directory = _at_revision(bare_app, "0001")
        _seed_campaign_at_0001()
        upgrade(directory=directory)

        def count(sql: str) -> int:
            return db.session.scalar(text(sql))

        kept = {table: count(f"SELECT count(*) FROM {table}") for table in
                ("campaign", "campaign_definition", "ballot_sheet", "sheet_subject", "token_batch", "token",
                 "ballot", "checklist_score")}
        assert kept == {"campaign": 1, "campaign_definition": 1, "ballot_sheet": 1, "sheet_subject": 1,
                        "token_batch": 1, "token": 3, "ballot": 2, "checklist_score": 1}
        assert count("SELECT count(*) FROM token WHERE status = 'used'") == 2
        assert count("SELECT entered_by FROM checklist_score") == 1
        answers = {(b, a.subject, a.item, a.choice, a.value) for b, got in answers_by_ballot().items() for a in got}
        assert answers == {
            ("ballot0", "org:V1", "overall", "satisfied", 1.0), ("ballot0", "org:V1", "points", None, 7.0),
            ("ballot1", "org:V1", "overall", "satisfied", 1.0), ("ballot1", "org:V1", "points", None, 8.0),
        }
        db.session.remove()


def _seed_staff_work_at_head() -> None:
    """An assessor who entered a checklist score and marked a veto; no audit entry names anyone."""
    with db.engine.begin() as connection:
        def run(sql: str) -> None:
            connection.execute(text(sql))

        run("INSERT INTO organisation (id, code, name, kind) VALUES (1, 'V1', '一村', 'village')")
        run("INSERT INTO app_user (id, username, password_hash, role, is_active, failed_logins, created_at, "
            "session_epoch) VALUES (1, 'assessor', 'x', 'assessor', true, 0, CURRENT_TIMESTAMP, 2)")
        run("INSERT INTO campaign (id, slug, name, year, status, rehearsal, fingerprint_salt, created_at) "
            "VALUES (1, 'c2025', '2025 年度测评', 2025, 'open', false, 'salt', CURRENT_TIMESTAMP)")
        run("INSERT INTO checklist_score (campaign_id, org_id, indicator_key, stage, score, entered_by, updated_at) "
            "VALUES (1, 1, 'party_building', 'final', 4.5, 1, CURRENT_TIMESTAMP)")
        run("INSERT INTO veto_mark (campaign_id, org_id, veto_key, stage, evidence, marked_by, created_at) "
            "VALUES (1, 1, 'petition', 'final', '信访记录', 1, CURRENT_TIMESTAMP)")


def test_downgrading_below_0005_and_back_keeps_who_entered_each_score_and_marked_each_veto(bare_app):
    """0005's downgrade drops `app_user.session_epoch` in batch mode; on SQLite (foreign keys on)
    dropping the old `app_user` fires ON DELETE SET NULL in `checklist_score.entered_by` and
    `veto_mark.marked_by`: the record of who scored and who vetoed is silently erased."""
    with bare_app.app_context():
        directory = _at_revision(bare_app, "head")
        _seed_staff_work_at_head()
        downgrade(directory=directory, revision="0004")
        upgrade(directory=directory)
        assert db.session.scalar(text("SELECT entered_by FROM checklist_score")) == 1
        assert db.session.scalar(text("SELECT marked_by FROM veto_mark")) == 1
        assert db.session.scalar(text("SELECT count(*) FROM app_user")) == 1
        db.session.remove()


def test_downgrading_below_0005_with_an_audit_trail_neither_fails_nor_leaves_a_half_built_table(bare_app):
    """With foreign keys on, dropping the old `app_user` on SQLite violates `audit_entry.user_id`
    (no ON DELETE action), so the downgrade fails on any instance whose audit log names a user.
    And since SQLite DDL runs outside the migration's transaction, the failed step leaves
    `_alembic_tmp_app_user` behind: a second try fails on "table already exists"."""
    with bare_app.app_context():
        directory = _at_revision(bare_app, "head")
        _seed_staff_work_at_head()
        with db.engine.begin() as connection:
            connection.execute(text("INSERT INTO audit_entry (at, user_id, actor, action, target, detail) "
                                    "VALUES (CURRENT_TIMESTAMP, 1, 'assessor', 'score', 'V1', '{}')"))
        failure = None
        try:
            downgrade(directory=directory, revision="0004")
        except Exception as exc:  # noqa: BLE001  (what went wrong is asserted below)
            failure = exc
        leftovers = [t for t in inspect(db.engine).get_table_names() if t.startswith("_alembic_tmp")]
        assert leftovers == [], f"a failed migration step left {leftovers} behind"
        assert failure is None, f"downgrade failed: {failure}"
        upgrade(directory=directory)
        assert db.session.scalar(text("SELECT user_id FROM audit_entry")) == 1
        db.session.remove()


def test_init_on_a_database_from_a_newer_pingyi_says_so_in_chinese(bare_app, pingyi_bare):
    """A database stamped with a revision this code does not know (made by a newer pingyi, or an
    older one rolled back to) gets Flask-Migrate's English log line "Error: Can't locate revision
    identified by '0099'" and a bare exit 1: its `catch_errors` turns alembic's CommandError into
    ``sys.exit(1)`` before pingyi can word it."""
    assert pingyi_bare("init").exit_code == 0
    with bare_app.app_context():
        with db.engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '0099'"))
        db.engine.dispose()
    result = pingyi_bare("init")
    assert result.exit_code != 0
    assert "0099" in result.output, result.output
    assert CHINESE.search(result.output), f"no Chinese message: {result.output!r}"
