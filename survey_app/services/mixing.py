"""When a campaign closes, its ballots are rewritten in random order, and nothing pairs a ballot with its code.

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
"""
from __future__ import annotations

import logging

from sqlalchemy import text
from sqlalchemy.engine import Engine

from survey_app.extensions import db

_SHEETS = "SELECT id FROM ballot_sheet WHERE campaign_id = :campaign"


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
    session = db.session
    session.flush()
    session.execute(text("LOCK TABLE token, open_receipt IN SHARE ROW EXCLUSIVE MODE"))
    session.execute(text(f"CREATE TEMPORARY TABLE pingyi_mixing ON COMMIT DROP AS "
                         f"SELECT * FROM ballot WHERE sheet_id IN ({_SHEETS})"), {"campaign": campaign_id})
    session.execute(text(f"DELETE FROM ballot WHERE sheet_id IN ({_SHEETS})"), {"campaign": campaign_id})
    session.execute(text("INSERT INTO ballot SELECT * FROM pingyi_mixing ORDER BY random()"))


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
    """VACUUM frees the old row versions once no open transaction can still see them."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ballot"))  # not allowed inside a transaction


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
