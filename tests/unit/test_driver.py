"""Statements compiled to the driver's SQL bind what the statement itself says, in the driver's order."""
from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, create_engine, select

from survey_app.services import driver

METADATA = MetaData()
ROWS = Table("rows", METADATA, Column("id", Integer, primary_key=True), Column("status", String(10)),
             Column("note", String(20)))
CLAIM = (ROWS.update().where(ROWS.c.id == bindparam("row_id"), ROWS.c.status == "unused")
         .values(status="used", note=bindparam("note_text")))
INSERT = ROWS.insert()
STATUS = select(ROWS.c.status, ROWS.c.note).where(ROWS.c.id == bindparam("row_id"))


@pytest.fixture
def engine(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'driver.sqlite'}")
    METADATA.create_all(engine)
    yield engine
    engine.dispose()


def test_a_statement_binds_its_own_literals_and_the_callers_values(engine):
    insert = driver.compiled(engine, INSERT, ("id", "status", "note"))
    claim = driver.compiled(engine, CLAIM, ("row_id", "note_text"))
    status = driver.compiled(engine, STATUS, ("row_id",))
    with driver.transaction(engine) as cursor:
        cursor.executemany(insert.sql, [insert.bind((n, "unused", None)) for n in (1, 2)])
    with driver.transaction(engine) as cursor:
        cursor.execute(claim.sql, claim.bind((2, "first")))
        assert cursor.rowcount == 1
        cursor.execute(claim.sql, claim.bind((2, "second")))  # status is no longer 'unused'
        assert cursor.rowcount == 0
    with driver.reading(engine) as cursor:
        cursor.execute(status.sql, status.bind((2,)))
        assert cursor.fetchone() == ("used", "first")
        cursor.execute(status.sql, status.bind((1,)))
        assert cursor.fetchone() == ("unused", None)


def test_an_error_inside_a_transaction_rolls_all_of_it_back(engine):
    insert = driver.compiled(engine, INSERT, ("id", "status", "note"))
    with pytest.raises(engine.dialect.loaded_dbapi.IntegrityError):
        with driver.transaction(engine) as cursor:
            cursor.execute(insert.sql, insert.bind((7, "unused", None)))
            cursor.execute(insert.sql, insert.bind((7, "unused", None)))
    with driver.reading(engine) as cursor:
        cursor.execute("SELECT count(*) FROM rows")
        assert cursor.fetchone() == (0,)


def test_a_parameter_nobody_supplies_is_refused_when_compiled(engine):
    with pytest.raises(ValueError, match="row_id"):
        driver.compiled(engine, STATUS, ("other",))


def test_named_paramstyles_get_a_mapping_with_the_statements_literals():
    statement = driver.DriverStatement("…", ("row_id", "note_text"), None, {"status": "used", "status_1": "unused"})
    assert statement.bind((3, "x")) == {"status": "used", "status_1": "unused", "row_id": 3, "note_text": "x"}
