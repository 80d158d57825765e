"""The server's own WAL checkpoints: the log is copied whole and starts over, and a failed one loses nothing."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from survey_app.extensions import db
from survey_app.models import Ballot
from survey_app.services import tokens, writelock
from survey_app.services.sheets import sheet_definition
from tests.conftest import Voter
from tests.factories import answers_per_ballot, full_answers, open_campaign

pytestmark = pytest.mark.db


def _wal_frames() -> int:
    """Frames in the WAL now (a PASSIVE checkpoint reports them and copies what it can)."""
    with db.engine.connect() as connection:
        return connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()[1]


def _vote(app, codes, answers) -> None:
    for code in codes:
        assert Voter(app).vote(code, answers).status_code == 200


def test_every_few_writes_the_log_is_copied_whole_and_starts_over(app, monkeypatch):
    _, sheets = open_campaign(villages=1, grid_subjects=3)
    codes = [tokens.display(c) for c in tokens.issue_tokens(sheets["grid"], 13).codes]
    q, subjects = sheet_definition(sheets["grid"])
    answers = full_answers(q, subjects)
    seen = []
    checkpoint = writelock.checkpoint
    monkeypatch.setattr(writelock, "CHECKPOINT_EVERY", 6)
    monkeypatch.setattr(writelock, "checkpoint", lambda engine: seen.append(checkpoint(engine)) or seen[-1])
    _vote(app, codes[:6], answers)
    assert writelock.wait_for_checkpoints(timeout=30)
    _vote(app, codes[6:12], answers)
    assert writelock.wait_for_checkpoints(timeout=30)
    if db.engine.dialect.name != "sqlite":
        assert seen == [] and checkpoint(db.engine) is None  # PostgreSQL has no WAL of ours to copy
        return
    assert len(seen) == 2
    busy, frames, copied = seen[-1]
    assert busy == 0 and frames > 0 and copied == frames  # nothing left behind
    _vote(app, codes[12:], answers)  # the next write restarts the log from its first frame
    assert 0 < _wal_frames() < frames
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(Ballot)) == 13
    assert sum(answers_per_ballot().values()) == 13 * len(subjects) * len(q.items)


def test_a_failed_checkpoint_does_not_fail_the_ballot_it_followed(app, monkeypatch, caplog):
    _, sheets = open_campaign(villages=1, grid_subjects=2)
    codes = [tokens.display(c) for c in tokens.issue_tokens(sheets["V1"], 2).codes]
    q, subjects = sheet_definition(sheets["V1"])

    def broken(engine):
        raise OSError("disk full")

    monkeypatch.setattr(writelock, "CHECKPOINT_EVERY", 1)
    monkeypatch.setattr(writelock, "checkpoint", broken)
    _vote(app, codes, full_answers(q, subjects))
    assert writelock.wait_for_checkpoints(timeout=30)
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(Ballot)) == 2
    if db.engine.dialect.name == "sqlite":
        assert "WAL checkpoint" in caplog.text


def test_the_ballot_is_answered_while_its_checkpoint_still_runs(app, monkeypatch):
    """The copying happens beside the requests: a slow checkpoint holds no voter's page."""
    _, sheets = open_campaign(villages=1, grid_subjects=2)
    codes = [tokens.display(c) for c in tokens.issue_tokens(sheets["V1"], 2).codes]
    q, subjects = sheet_definition(sheets["V1"])
    started, release = threading.Event(), threading.Event()

    def slow(engine):
        started.set()
        release.wait(30)

    monkeypatch.setattr(writelock, "CHECKPOINT_EVERY", 1)
    monkeypatch.setattr(writelock, "checkpoint", slow)
    try:
        _vote(app, codes, full_answers(q, subjects))  # both answered, the first checkpoint still waiting
        if db.engine.dialect.name == "sqlite":
            assert started.wait(30)
            assert not writelock.wait_for_checkpoints(timeout=0.2)
    finally:
        release.set()
    assert writelock.wait_for_checkpoints(timeout=30)
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(Ballot)) == 2
