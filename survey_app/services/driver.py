"""Core statements compiled once to the driver's own SQL, run on a pooled DBAPI connection.

Casting a ballot is a handful of statements. Through SQLAlchemy's Connection each one cost
several times what SQLite spends executing it (parameter processing, result set-up, events), and under a
meeting hall's load that overhead, not the database, set the rate. The statements are still
written with SQLAlchemy Core against the models' tables; only their execution skips the layers
in between. Connections come from the engine's own pool, so pragmas, recycling and disposal on
fork behave as everywhere else.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import g, has_request_context
from sqlalchemy.engine import Engine
from sqlalchemy.sql import ClauseElement, Insert


@dataclass(frozen=True)
class DriverStatement:
    """A statement in the driver's SQL, taking its parameters as a tuple in a declared order."""

    sql: str
    names: tuple[str, ...]  # what a caller passes, in this order
    order: tuple[str, ...] | None  # the driver's positional order; None for a named paramstyle
    defaults: Mapping[str, Any]  # values the statement binds itself, such as status = 'unused'

    def bind(self, values: Sequence[Any]) -> Sequence[Any] | Mapping[str, Any]:
        if self.order == self.names:  # the common case: the values are already in the driver's order
            return values
        given = dict(zip(self.names, values))
        if self.order is None:
            return {**self.defaults, **given}
        return tuple(given[name] if name in given else self.defaults[name] for name in self.order)


_COMPILED: dict[tuple[str, int, tuple[str, ...]], DriverStatement] = {}


def compiled(engine: Engine, statement: ClauseElement, names: Sequence[str]) -> DriverStatement:
    """``names`` are the parameters a caller will pass (an INSERT's columns); compiled once per dialect."""
    key = (engine.dialect.name + engine.dialect.driver, id(statement), tuple(names))
    found = _COMPILED.get(key)
    if found is None:
        found = _COMPILED[key] = _compile(engine, statement, names)
    return found


def _compile(engine: Engine, statement: ClauseElement, names: Sequence[str]) -> DriverStatement:
    columns = list(names) if isinstance(statement, Insert) else None  # an UPDATE would SET them
    done = statement.compile(dialect=engine.dialect, column_keys=columns)
    rendered = {done.bind_names[bind]: bind.effective_value for bind in done.binds.values()}
    defaults = {name: value for name, value in rendered.items() if name not in names}
    order = tuple(done.positiontup or ()) if done.positional else None
    missing = {done.bind_names[bind] for bind in done.binds.values() if bind.required} - set(names)
    if missing:
        raise ValueError(f"parameters without a value: {sorted(missing)}")
    return DriverStatement(done.string, tuple(names), order, defaults)


def date_param(engine: Engine, day: date) -> date | str:
    """SQLAlchemy keeps SQLite dates as ISO text; other drivers take the date itself."""
    return day.isoformat() if engine.dialect.name == "sqlite" else day


_HELD = "pingyi_driver_connection"


def _checkout(engine: Engine) -> tuple[Any, bool]:
    """The request's pooled connection for this engine, and whether the caller must give it back.

    A ballot request reads its code and then writes on the same connection. A checkout and its
    checkin cost about 5% of a ballot in a profile of the request, so that is paid once per
    request instead of twice. Outside a request (the CLI, simulated voting) every use takes and
    returns its own connection.
    """
    if not has_request_context():
        return engine.raw_connection(), True
    held = g.get(_HELD)
    if held is None:
        held = (engine, engine.raw_connection())
        setattr(g, _HELD, held)
    elif held[0] is not engine:
        return engine.raw_connection(), True
    return held[1], False


def release_request_connection(_error: BaseException | None = None) -> None:
    """Teardown: the request's connection goes back to the pool (registered by the app factory)."""
    held = g.pop(_HELD, None)
    if held is not None:
        held[1].close()


@contextmanager
def transaction(engine: Engine, guard: Callable[[Engine], AbstractContextManager[Any]] = nullcontext) -> Iterator[Any]:
    """A DBAPI cursor in one transaction: committed on a clean exit, rolled back on any error.

    ``guard(engine)`` (such as the SQLite writers' queue) is held around the statements and the commit
    only; taking the connection from the pool and giving it back happen outside it.
    """
    connection, owned = _checkout(engine)
    try:
        cursor = connection.cursor()
        try:
            with guard(engine):
                try:
                    yield cursor
                    connection.commit()
                except BaseException:
                    connection.rollback()
                    raise
        finally:
            cursor.close()
    finally:
        if owned:
            connection.close()  # back to the pool


@contextmanager
def reading(engine: Engine) -> Iterator[Any]:
    """A cursor for one read outside any transaction: no BEGIN and no ROLLBACK round trip."""
    connection, owned = _checkout(engine)
    driver = connection.driver_connection
    # pysqlite opens no transaction for a SELECT; psycopg would, so it reads in autocommit.
    switch = hasattr(driver, "autocommit") and engine.dialect.name == "postgresql"
    try:
        if switch:
            driver.autocommit = True
        cursor = connection.cursor()
        try:
            yield cursor
        finally:
            cursor.close()
    finally:
        try:
            if switch:
                driver.autocommit = False
        finally:
            if owned:
                connection.close()
