"""Ballots are rewritten in random order, during voting and at closing: nothing pairs one with its code.

A ballot is stored in the same transaction that spends its code, and that is what makes it
count exactly once. PostgreSQL, though, stamps every row version with the transaction that wrote
it (the system column ``xmin``) and appends new rows to the table in the order they come
(``ctid``). So anyone who can read both tables could pair each spent code with its ballot
(``token.xmin = ballot.xmin``) and read the casting order off either column. For codes handed out
from the mail-merge file, that leads from a ballot to a name. Rewriting the campaign's ballots in
one transaction, in random order, gives them all one ``xmin`` and a physical order that says
nothing. The superseded row versions are visible only to PostgreSQL's own page inspection, and
VACUUM FULL, run after the closing commit, writes the table anew without them. (While voting goes
on, the superseded versions of a rewrite stay in the pages until PostgreSQL reuses them: reading
raw pages can pair codes with ballots cast before the last rewrite too. PostgreSQL's own
write-ahead log, if it is archived, keeps every version whatever the application does.)

SQLite keeps no such stamp, and it returns ballots in the order of their random ids, but its pages
keep two traces: a page's rows lie in the order they were written, and the write-ahead log holds
each commit's spent code's page next to its ballot's page until the log is overwritten. So on
SQLite closing rewrites the whole file (VACUUM) and then empties the log. While voting goes on,
whoever can read the database file's bytes can read the order of casting off a page; the pages
pair no ballot with its code.

Closing is not the only time: while voting goes on, a campaign's ballots on PostgreSQL are
rewritten too, sheet by sheet, by a thread of each server process (:func:`keep_mixing`), every
``MIX_SECONDS`` (60 by default). A sheet is rewritten whole, so that a ballot cast since the last
rewrite hides among all of its sheet's ballots, not only among the few cast since. Whoever can
read the tables with SQL can then pair a code with its ballot only for the casts of the last
minute, not for the whole campaign.
"""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from survey_app.extensions import db

_SHEETS = "SELECT id FROM ballot_sheet WHERE campaign_id = :campaign"
_FULL_LOCK_WAIT = "3s"  # the longest the closing VACUUM FULL holds casts back while it waits for its lock
_EMPTY_LOG_WAIT_MS = 3000  # the same for SQLite's closing checkpoint
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
    """VACUUM FULL writes the tables anew, without the superseded row versions: the ballots' (each
    still stamped with the transaction of the code that cast it, in casting order) and the campaign
    row's, which held the poster fingerprints' salt until closing erased it. A plain VACUUM only
    marks their space free: a page left with no live row keeps its old bytes, readable to anyone
    who reads the table's pages. (A version that a transaction begun before the close could still
    see is copied too, and goes at the next VACUUM FULL.) VACUUM FULL locks the table while it runs, so the casts of other
    open campaigns wait for it (they are not refused); a county's table takes seconds. It waits
    for the lock no longer than ``_FULL_LOCK_WAIT``: a reader holding a transaction open (an
    export, a psql session) would otherwise keep it waiting, and every cast would queue behind it.
    Then a plain VACUUM frees the space, and the warning says the old bytes remain."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f"SET lock_timeout = '{_FULL_LOCK_WAIT}'"))
        try:
            connection.execute(text("VACUUM FULL ballot, campaign"))  # not allowed inside a transaction
        except OperationalError:  # LockNotAvailable
            logging.getLogger(__name__).warning(
                "VACUUM FULL could not lock the ballot table within %s; a plain VACUUM ran instead, and "
                "the superseded ballot rows stay in its pages until reused: run VACUUM FULL ballot, "
                "campaign (or pingyi close CAMPAIGN again) when nothing else uses the database", _FULL_LOCK_WAIT)
            connection.execute(text("RESET lock_timeout"))
            connection.execute(text("VACUUM ballot, campaign"))
        finally:
            connection.execute(text("RESET lock_timeout"))


def _empty_log(engine: Engine) -> None:
    """VACUUM, then empty the log. SQLite writes each new row below the older ones of its page,
    whatever its key, so the ballot table's bytes kept casting order; VACUUM writes every page anew
    in key (random id) order and leaves no free page with old bytes. A TRUNCATE checkpoint then waits
    (up to the busy timeout) for the writers and readers of other connections; when one keeps it
    from finishing, the server's next checkpoints overwrite the log."""
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute("VACUUM")  # outside a transaction: the driver opens none for it
        # The TRUNCATE checkpoint holds the write lock while it waits for readers, so every cast of
        # every other open campaign waits with it: no longer than VACUUM FULL's lock on PostgreSQL.
        (usual,) = cursor.execute("PRAGMA busy_timeout").fetchone()
        cursor.execute(f"PRAGMA busy_timeout={_EMPTY_LOG_WAIT_MS}")
        busy, _frames, _copied = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        cursor.execute(f"PRAGMA busy_timeout={int(usual)}")  # the connection goes back to the pool
        cursor.close()
    finally:
        connection.close()
    if busy:
        logging.getLogger(__name__).warning("the write-ahead log could not be emptied after closing (a reader held it for %d ms): "
                                            "run pingyi close CAMPAIGN again when nothing reads the database",
                                            _EMPTY_LOG_WAIT_MS)
