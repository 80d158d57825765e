"""One SQLite writer at a time across gunicorn workers, and WAL checkpoints that hold none of them up.

SQLite allows one writer; a second one that finds the database locked sleeps in its busy handler
(1, 2, 5, 10 … 100 ms) and tries again. With several worker processes casting hundreds of ballots
a second those sleeps, not the writes, set the pace. An exclusive ``flock`` on a file beside the
database queues the writers instead: each waits in the kernel and starts the moment the previous
transaction commits. PostgreSQL needs none of this and gets a no-op.

SQLite's own checkpoint runs inside the commit that crosses ``wal_autocheckpoint`` pages, so it
ran while that writer held the queue: every hundred ballots or so both workers stood still for
about 10 ms of page copying and two fsyncs, and a meeting hall's requests piled up behind them.
Here each process checkpoints after every :data:`CHECKPOINT_EVERY` of its own writes, outside
the queue: the bulk of the copying runs while others keep writing, and only the last few frames
and their fsyncs are done inside the queue, so the log is fully copied and starts over from the
beginning at the next write. The pragma in :mod:`survey_app` raises ``wal_autocheckpoint`` so
that SQLite's checkpoint stays a safety net for processes (the CLI, an import) that write a lot
without this.
"""
from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Engine

from survey_app.extensions import db

CHECKPOINT_EVERY = 500  # writes by one process between its checkpoints: about 5,000 WAL pages of ballots
MAX_PASSES, SMALL_TAIL = 4, 100  # checkpoint passes outside the queue; a tail this small is copied inside it

_THREAD_LOCKS: dict[str, threading.Lock] = {}
_FILES: dict[str, int] = {}
_WRITES: dict[str, int] = {}
_GUARD = threading.Lock()


def _lock_for(path: str) -> tuple[threading.Lock, int]:
    with _GUARD:
        if path not in _FILES:
            _FILES[path] = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            _THREAD_LOCKS[path] = threading.Lock()
        return _THREAD_LOCKS[path], _FILES[path]


def _sqlite_file(engine: Engine) -> str | None:
    url = engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return url.database


@contextmanager
def _queue(database: str) -> Iterator[None]:
    thread_lock, fd = _lock_for(f"{database}.write-lock")
    with thread_lock:  # flock is per open file: threads of one process queue here first
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)


@contextmanager
def serialized_writes() -> Iterator[None]:
    engine = db.engine
    database = _sqlite_file(engine)
    if database is None:
        yield
        return
    with _queue(database):
        yield
    with _GUARD:
        writes = _WRITES[database] = _WRITES.get(database, 0) + 1
    if writes % CHECKPOINT_EVERY == 0:
        try:
            checkpoint(engine)
        except Exception:  # the write is committed; SQLite's own checkpoint is the safety net
            logging.getLogger(__name__).exception("WAL checkpoint of %s failed", database)


def checkpoint(engine: Engine) -> tuple[int, int, int] | None:
    """Copy the WAL into the database; returns SQLite's (busy, log frames, frames copied).

    PASSIVE checkpoints never wait for writers. Each pass copies what was committed during the
    one before, so the passes shrink; the last, inside the queue, copies a few frames, and with
    nothing left the next write restarts the log. ``busy`` means another process is
    checkpointing already, and this one leaves it to that one.
    """
    database = _sqlite_file(engine)
    if database is None:
        return None
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        try:
            previous = 0
            for _ in range(MAX_PASSES):
                cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
                busy, frames, copied = cursor.fetchone()
                if busy:
                    return busy, frames, copied
                if frames - previous < SMALL_TAIL:
                    break
                previous = frames
            with _queue(database):
                cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
                return cursor.fetchone()
        finally:
            cursor.close()
    finally:
        connection.close()
