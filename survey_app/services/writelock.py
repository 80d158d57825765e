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
the queue and outside any request: a daemon thread of the process does the copying while the
workers keep answering voters, and only the last few frames and their fsync are done inside the
queue, so the log is fully copied and starts over from the beginning at the next write. Done in
the request that crossed the count, the copying (8 to 50 ms) held that voter's page; in the
thread, the slowest ballot of a ten-second benchmark round fell from 105–167 ms to 84–117 ms. The pragma in :mod:`survey_app` raises ``wal_autocheckpoint`` so that SQLite's
checkpoint stays a safety net for processes (the CLI, an import) that write a lot without this.
"""
from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Engine


CHECKPOINT_EVERY = 500  # writes by one process between its checkpoints: about 1,700 WAL pages of ballots
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
def serialized_writes(engine: Engine) -> Iterator[None]:
    """The writers' queue of ``engine``: a no-op but on SQLite (a guard for driver.transaction)."""
    database = _sqlite_file(engine)
    if database is None:
        yield
        return
    with _queue(database):
        yield
    with _GUARD:
        writes = _WRITES[database] = _WRITES.get(database, 0) + 1
    if writes % CHECKPOINT_EVERY == 0:
        _checkpointer(engine, database).request()


class _Checkpointer:
    """A daemon thread that checkpoints one database whenever a write asks it to.

    The thread spends its time inside SQLite, which lets go of the GIL, so the process goes on
    answering requests meanwhile. Requests that arrive while a checkpoint runs are folded into
    one more checkpoint after it.
    """

    def __init__(self, engine: Engine, database: str) -> None:
        self.engine, self.database, self.pid = engine, database, os.getpid()
        self._state = threading.Condition()
        self._asked = self._done = 0
        self._stopped = False
        threading.Thread(target=self._run, name=f"checkpoint {os.path.basename(database)}", daemon=True).start()

    def request(self) -> None:
        with self._state:
            self._asked += 1
            self._state.notify_all()

    def wait(self, timeout: float) -> bool:
        """True once every checkpoint asked for so far has run."""  # an interrupted one loses nothing
        with self._state:
            return self._state.wait_for(lambda: self._done >= self._asked, timeout)

    def stop(self) -> None:
        with self._state:
            self._stopped = True
            self._state.notify_all()

    def _run(self) -> None:
        while True:
            with self._state:
                self._state.wait_for(lambda: self._stopped or self._asked > self._done)
                if self._stopped:
                    return
                asked = self._asked
            try:
                checkpoint(self.engine)
            except Exception:  # the writes are committed; SQLite's own checkpoint is the safety net
                logging.getLogger(__name__).exception("WAL checkpoint of %s failed", self.database)
            with self._state:
                self._done = asked
                self._state.notify_all()


_CHECKPOINTERS: dict[str, _Checkpointer] = {}


def _checkpointer(engine: Engine, database: str) -> _Checkpointer:
    """This process's checkpointer for the database: threads do not survive a fork, so each worker
    starts its own, and a new engine (a new app in the same process) gets a new one."""
    with _GUARD:
        found = _CHECKPOINTERS.get(database)
        if found is None or found.pid != os.getpid() or found.engine is not engine:
            if found is not None and found.pid == os.getpid():
                found.stop()
            found = _CHECKPOINTERS[database] = _Checkpointer(engine, database)
        return found


def wait_for_checkpoints(timeout: float = 30.0) -> bool:
    """Wait until the checkpoints asked of this process so far have run (for tests)."""
    with _GUARD:
        mine = [c for c in _CHECKPOINTERS.values() if c.pid == os.getpid()]
    return all(c.wait(timeout) for c in mine)


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
