"""One SQLite writer at a time across gunicorn workers, woken by the kernel rather than by polling.

SQLite allows one writer; a second one that finds the database locked sleeps in its busy handler
(1, 2, 5, 10 … 100 ms) and tries again. With several worker processes casting hundreds of ballots
a second those sleeps, not the writes, set the pace. An exclusive ``flock`` on a file beside the
database queues the writers instead: each waits in the kernel and starts the moment the previous
transaction commits. PostgreSQL needs none of this and gets a no-op.
"""
from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from survey_app.extensions import db

_THREAD_LOCKS: dict[str, threading.Lock] = {}
_FILES: dict[str, int] = {}
_GUARD = threading.Lock()


def _lock_for(path: str) -> tuple[threading.Lock, int]:
    with _GUARD:
        if path not in _FILES:
            _FILES[path] = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            _THREAD_LOCKS[path] = threading.Lock()
        return _THREAD_LOCKS[path], _FILES[path]


@contextmanager
def serialized_writes() -> Iterator[None]:
    url = db.engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        yield
        return
    thread_lock, fd = _lock_for(f"{url.database}.write-lock")
    with thread_lock:  # flock is per open file: threads of one process queue here first
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
