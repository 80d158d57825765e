"""Ballots are rewritten in random order, during voting and at closing: nothing pairs one with its code.

A ballot is stored in the same transaction that spends its code, and that is what makes it
count exactly once. PostgreSQL, though, stamps every row version with the transaction that wrote
it (the system column ``xmin``) and appends new rows to the table in the order they come
(``ctid``). So anyone who can read both tables could pair each spent code with its ballot
(``token.xmin = ballot.xmin``) and read the casting order off either column. For codes handed out
from the mail-merge file, that leads from a ballot to a name. Rewriting the campaign's ballots in
one transaction, in random order, gives them all one ``xmin`` and a physical order that says
nothing. The superseded row versions are visible only to PostgreSQL's own page inspection, and
VACUUM, run after the commit, reclaims them.

SQLite keeps no such stamp, and it stores ballots in the order of their random ids. What it does
keep is the write-ahead log, where each commit's frames hold the spent code's page next to the
ballot's page until the log is overwritten. So on SQLite the log is copied into the database and
truncated instead.

Closing is not the only time: while voting goes on, a campaign's ballots on PostgreSQL are
rewritten too, sheet by sheet, by a thread of each server process (:func:`keep_mixing`), every
``MIX_SECONDS`` (60 by default). A sheet is rewritten whole, so that a ballot cast since the last
rewrite hides among all of its sheet's ballots, not only among the few cast since. Whoever can
read the tables can then pair a code with its ballot only for the casts of the last minute, not
for the whole campaign.
"""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from survey_app.extensions import db

_SHEETS = "SELECT id FROM ballot_sheet WHERE campaign_id = :campaign"
# The tables that every cast writes first: locking them in this mode waits for the casts in flight
# and holds new ones back until the rewrite commits.
_LOCK = "LOCK TABLE token, open_receipt IN SHARE ROW EXCLUSIVE MODE"
_REWRITE = ("CREATE TEMPORARY TABLE pingyi_mixing ON COMMIT DROP AS SELECT * FROM ballot WHERE {where}",
            "DELETE FROM ballot WHERE {where}",
            "INSERT INTO ballot SELECT * FROM pingyi_mixing ORDER BY random()")
# Open sheets with a ballot that shares its transaction's stamp with a spent code or a receipt.
# Only open campaigns' codes are read (through token.batch_id's index), not every year's.
_PAIRABLE = """
WITH open_sheet AS (
    SELECT s.id FROM ballot_sheet s JOIN campaign c ON c.id = s.campaign_id WHERE c.status = 'open'),
spent AS (
    SELECT t.xmin AS stamp FROM token t JOIN token_batch b ON b.id = t.batch_id
    WHERE t.status = 'used' AND b.sheet_id IN (SELECT id FROM open_sheet)
    UNION ALL
    SELECT r.xmin FROM open_receipt r JOIN poster p ON p.id = r.poster_id
    WHERE p.sheet_id IN (SELECT id FROM open_sheet))
SELECT DISTINCT ballot.sheet_id FROM ballot JOIN spent ON spent.stamp = ballot.xmin
WHERE ballot.sheet_id IN (SELECT id FROM open_sheet)
ORDER BY ballot.sheet_id
"""


def hold_casts(execute: Callable[..., Any]) -> None:
    """PostgreSQL: wait for the casts and rewrites in flight, and hold new ones back, until this
    transaction ends. Whatever else deletes ballots takes it first too (a rehearsal's purge), or
    it and a rewrite could each wait for the other: the rewrite for the deleted ballots' rows, the
    purge for the codes' table."""
    execute(text(_LOCK))


def _rewrite(execute: Callable[..., Any], where: str, parameters: Mapping[str, Any]) -> None:
    """Copy the chosen ballots aside, delete them and insert them again in random order.

    Only under :func:`hold_casts`: a ballot committed between the copy and the DELETE would be lost.
    """
    for statement in _REWRITE:
        execute(text(statement.format(where=where)), parameters)


def mix_ballots(campaign_id: int) -> None:
    """Rewrite the campaign's ballots in random order, inside the caller's closing transaction.

    Nothing to do on SQLite (see :func:`after_close`). On PostgreSQL the tables that every cast
    writes first (the token, or an open-mode receipt) are locked, in a mode that waits for the
    casts in flight and holds new ones back until the closing commit; a cast held back then finds
    the campaign closed and is refused (``casting._STILL_OPEN``, ``posters._INSERT_RECEIPT``), so
    no ballot can arrive after the rewrite.
    """
    if db.engine.dialect.name != "postgresql":
        return
    db.session.flush()
    hold_casts(db.session.execute)
    _rewrite(db.session.execute, f"sheet_id IN ({_SHEETS})", {"campaign": campaign_id})


def mix_open_sheets(engine: Engine) -> list[int]:
    """Rewrite, in its own transaction, every open sheet whose ballots could be paired; returns their ids.

    The check runs once without the lock, so that a quiet minute holds no cast back, and once
    more under it, when no cast is in flight, to find the sheets to rewrite.
    """
    if engine.dialect.name != "postgresql":
        return []
    with engine.begin() as connection:
        # Fresh tables have no statistics yet; a nested loop over ballots × codes then took seconds
        # (17 s for two sheets of 10,000), half of it under the lock. Hashing the stamps takes ms.
        connection.execute(text("SET LOCAL enable_nestloop = off"))
        if connection.execute(text(_PAIRABLE)).first() is None:
            return []
        hold_casts(connection.execute)
        sheets = list(connection.scalars(text(_PAIRABLE)))
        if sheets:
            _rewrite(connection.execute, "sheet_id = ANY(:sheets)", {"sheets": sheets})
    if sheets:
        _vacuum(engine)
    return sheets


class _Mixer:
    """A daemon thread that calls :func:`mix_open_sheets` every ``every`` seconds until stopped."""

    def __init__(self, engine: Engine, every: float) -> None:
        self.engine, self.every, self.pid = engine, every, os.getpid()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pingyi ballot mixer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def running(self) -> bool:
        return self._thread.is_alive()

    def join(self) -> None:
        if self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                mix_open_sheets(self.engine)
            except Exception:  # the ballots are stored; the next round tries again
                logging.getLogger(__name__).exception("rewriting the open campaigns' ballots failed")


_MIXER: list[_Mixer] = []  # this process's mixer, if it has one
_STOPPED: list[_Mixer] = []  # told to stop, and perhaps still finishing a round
_MIXER_GUARD = threading.Lock()


def keep_mixing(engine: Engine, every: float) -> None:
    """Make sure this process rewrites pairable ballots every ``every`` seconds (PostgreSQL only).

    Called after each cast: threads do not survive a fork, so each server worker starts its own
    on its first ballot, and another engine (another app in the same process) replaces it. The
    ballot is committed by then, so a mixer that cannot start is logged, not raised: the voter
    must hear that the vote was stored, and the next cast tries again.
    """
    if every <= 0 or engine.dialect.name != "postgresql" or _running(engine, every):
        return
    with _MIXER_GUARD:
        if not _running(engine, every):
            stop_mixing()
            try:
                _MIXER.append(_Mixer(engine, every))
            except Exception:
                logging.getLogger(__name__).exception("the ballot mixer could not start; the next cast tries again")


def _running(engine: Engine, every: float) -> bool:
    return bool(_MIXER) and _MIXER[0].engine is engine and _MIXER[0].pid == os.getpid() and _MIXER[0].every == every


def stop_mixing(wait: bool = False) -> None:
    """Stop this process's mixer, if it runs (a new engine, or a test that is done with it).

    ``wait`` lets the rounds in progress finish first, those of mixers stopped earlier without
    waiting too. Whoever disposes of the engine next must wait: a connection that a round gives
    back to a disposed pool is never closed.
    """
    while _MIXER:
        mixer = _MIXER.pop()
        if mixer.pid == os.getpid():
            mixer.stop()
            _STOPPED.append(mixer)
    if wait:
        for mixer in _STOPPED:
            mixer.join()
    _STOPPED[:] = [mixer for mixer in _STOPPED if mixer.running()]


def after_close() -> None:
    """After the closing commit: reclaim the superseded ballot rows, or empty SQLite's log.

    Both are clean-up of a close that has already happened, so a failure is logged, not raised.
    """
    engine = db.engine
    try:
        if engine.dialect.name == "postgresql":
            _vacuum(engine)
        elif engine.dialect.name == "sqlite":
            _empty_log(engine)
    except Exception:
        logging.getLogger(__name__).exception("the campaign is closed, but cleaning up after it failed")


def _vacuum(engine: Engine) -> None:
    """VACUUM frees the old row versions once no open transaction can still see them: the ballots'
    and the campaign row's, which held the poster fingerprints' salt until closing erased it."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ballot, campaign"))  # not allowed inside a transaction


def _empty_log(engine: Engine) -> None:
    """A TRUNCATE checkpoint waits (up to the busy timeout) for the writers and readers of other
    connections; when one keeps it from finishing, the server's next checkpoints overwrite the log."""
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        busy, _frames, _copied = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        cursor.close()
    finally:
        connection.close()
    if busy:
        logging.getLogger(__name__).warning("the write-ahead log could not be emptied after closing")
