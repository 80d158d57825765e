"""Anonymity in the corners the other tests leave: the bytes the database keeps, and response headers.

Each test fails while the leak it names is there:

- the ballots of a closed campaign are still laid out in casting order in the database's own
  storage (SQLite: each B-tree page stores new cells below the older ones, whatever the key order
  of its cell pointers; PostgreSQL: the row versions the closing rewrite superseded are still in
  the heap pages after VACUUM, each with the stamp of the transaction that spent its code);
- the browser's "voted here" cookie is scoped to ``Path=/t/<code>``, so the code travels in a
  ``Set-Cookie`` header and sits in the phone's cookie store for 90 days.
"""
from __future__ import annotations

import re
import struct
import time
from pathlib import Path

import pytest
from scipy.stats import kendalltau
from sqlalchemy import text

from survey_app.extensions import db
from survey_app.models import Campaign
from survey_app.services import campaigns, tokens
from survey_app.services.casting import cast_ballot
from survey_app.services.sheets import sheet_definition
from tests.factories import first_choice_answers, full_answers, open_campaign

pytestmark = pytest.mark.db

BALLOT_ID = re.compile(rb"[0-9a-f]{32}")


def _cast_and_close(count: int) -> tuple[list[str], list[str], tuple]:
    """``count`` ballots on one village sheet, cast one after another; then the campaign closes.
    Returns the ballot ids in casting order, the codes that cast them, and (PostgreSQL) the ballot
    table's file before and after closing."""
    campaign, sheets = open_campaign()
    q, subjects = sheet_definition(sheets["V1"])
    answers = first_choice_answers(q, subjects[0])
    codes = tokens.issue_tokens(sheets["V1"], count).codes
    order = [cast_ballot(code, answers, nonce="n" * 16).ballot_id for code in codes]
    campaign_id = campaign.id
    db.session.remove()
    files = [_relation_file()]
    campaigns.close_campaign(db.session.get(Campaign, campaign_id))
    db.session.remove()
    files.append(_relation_file())
    db.session.remove()
    return order, codes, tuple(files)


def _relation_file() -> int | None:
    if db.engine.dialect.name != "postgresql":
        return None
    return db.session.scalar(text("SELECT relfilenode FROM pg_class WHERE oid = 'ballot'::regclass"))


# --- SQLite: read the B-tree of the ballot table straight from the file ------------------------------

def _sqlite_ballot_cells(path: Path, root: int, page_size: int) -> dict[str, tuple[int, int]]:
    """Each live ballot's (page number, byte offset of its cell in the page), walking the table's
    WITHOUT ROWID (index) B-tree from its root page as SQLite itself would."""
    raw = path.read_bytes()
    cells: dict[str, tuple[int, int]] = {}
    pending = [root]
    while pending:
        number = pending.pop()
        page = raw[(number - 1) * page_size:number * page_size]
        header = 100 if number == 1 else 0
        kind = page[header]
        count = struct.unpack_from(">H", page, header + 3)[0]
        interior = kind == 0x02
        pointers = struct.unpack_from(f">{count}H", page, header + (12 if interior else 8))
        if interior:
            pending.append(struct.unpack_from(">I", page, header + 8)[0])
        for offset in pointers:
            if interior:
                pending.append(struct.unpack_from(">I", page, offset)[0])
            found = BALLOT_ID.search(page, offset, offset + 64)
            if found:
                cells[found.group().decode()] = (number, offset)
    return cells


def _sqlite_layout_order(order: list[str]) -> list[str]:
    path = Path(db.engine.url.database)
    root = db.session.scalar(text("SELECT rootpage FROM sqlite_master WHERE name = 'ballot'"))
    page_size = db.session.scalar(text("PRAGMA page_size"))
    db.session.remove()
    assert Path(f"{path}-wal").stat().st_size == 0  # closing copied the log in: the file is all there is
    cells = _sqlite_ballot_cells(path, root, page_size)
    assert set(order) <= set(cells)
    # Pages in file order; inside a page, SQLite fills the cell area from the end towards the start.
    return sorted(order, key=lambda b: (cells[b][0], -cells[b][1]))


# --- PostgreSQL: read the heap pages of the ballot table (pageinspect) ----------------------------------

def _postgresql_heap_copies() -> tuple[list[tuple[str, int]], dict[int, str]]:
    """Every copy of a ballot row in the table's heap pages, live or superseded, with the xmin in
    its tuple header; and the spent codes' hashes by their stamps."""
    db.session.execute(text("CREATE EXTENSION IF NOT EXISTS pageinspect"))
    db.session.commit()
    pages = db.session.scalar(text("SELECT pg_relation_size('ballot') / current_setting('block_size')::int"))
    raw = [db.session.scalar(text("SELECT get_raw_page('ballot', CAST(:n AS int))"), {"n": n}) for n in range(pages)]
    live = db.session.execute(text(
        "SELECT p, lp_off FROM generate_series(0, :last) AS p, heap_page_items(get_raw_page('ballot', p::int)) "
        "WHERE lp_flags = 1 LIMIT 1"), {"last": pages - 1}).one()
    # Where the id sits in a tuple (header, sheet_id, varlena header): measured on a live one.
    distance = BALLOT_ID.search(raw[live.p], live.lp_off).start() - live.lp_off
    copies = [(m.group().decode(), struct.unpack_from("<I", page, m.start() - distance)[0])
              for page in raw for m in BALLOT_ID.finditer(page)]
    spent = {int(stamp): code_hash for stamp, code_hash in
             db.session.execute(text("SELECT xmin::text, code_hash FROM token WHERE status = 'used'"))}
    db.session.remove()
    return copies, spent


def test_a_closed_campaigns_ballots_are_not_stored_in_casting_order_in_the_database_files(app):
    """After closing, whoever reads the database's files (a backup, a copy of the server's disk, a
    superuser) must not be able to put the ballots in the order they were cast, nor pair one with
    the code that cast it. ``test_anonymity`` checks what SELECT returns; this checks the bytes
    underneath. SQLite: 25 voters on one sheet (a cadre sheet, a small village's members), whose
    ballots share a page. PostgreSQL: 80, more than one heap page holds (VACUUM compacts a page
    that keeps live rows, overwriting the dead ones; a page left with none is not wiped)."""
    sqlite = db.engine.dialect.name == "sqlite"
    order, codes, (before, after) = _cast_and_close(25 if sqlite else 80)
    if sqlite:
        laid_out = _sqlite_layout_order(order)
        tau, _ = kendalltau([order.index(b) for b in laid_out], range(len(order)))
        assert abs(tau) < 0.5, (
            f"the ballot table's cells lie in casting order (Kendall tau {tau:.2f}): the first ballot cast is "
            f"the cell at the end of its page, the last one the cell nearest the page header")
    else:
        assert after != before, "closing did not write the ballot table anew (VACUUM FULL)"
        copies, spent = _postgresql_heap_copies()
        # VACUUM FULL copies a superseded row that an older snapshot may still see, and in the test
        # database the other test worker's transactions are such snapshots: once they have moved on,
        # a second rewrite must leave nothing (in production, the next VACUUM FULL does it)
        deadline = time.monotonic() + 60
        while any(stamp in spent for _ballot, stamp in copies) and time.monotonic() < deadline:
            time.sleep(0.5)
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("VACUUM FULL ballot"))
            copies, spent = _postgresql_heap_copies()
        cast_by = {tokens.code_hash(code): ballot for code, ballot in zip(codes, order)}
        paired = [(ballot, stamp) for ballot, stamp in copies if stamp in spent]
        right = sum(cast_by[spent[stamp]] == ballot for ballot, stamp in paired)
        assert not paired, (
            f"{len(paired)} superseded copies of ballot rows are still in the heap after the closing rewrite "
            f"and VACUUM, each with the xmin of the transaction that spent its code (token.xmin); "
            f"joined on it, {right} of them name the very code that cast the ballot")


def test_the_voted_here_cookie_does_not_carry_the_code(app, voter):
    """The confirmation sets a cookie that lets this browser see the confirmation again. Its
    ``Path`` is the request's path, so the response headers carry the code (as typed: upper or lower
    case, with or without the dash) and the phone's cookie store keeps it for 90 days."""
    _, sheets = open_campaign()
    q, subjects = sheet_definition(sheets["V1"])
    codes = tokens.issue_tokens(sheets["V1"], 3).codes
    spellings = [tokens.display(codes[0]), codes[1], tokens.display(codes[2]).lower()]
    leaked = []
    for code, spelling in zip(codes, spellings):
        response = voter.vote(spelling, full_answers(q, subjects))
        assert response.status_code == 200
        forms = {code, tokens.display(code), code.lower(), tokens.display(code).lower()}
        leaked += [header for header in response.headers.getlist("Set-Cookie") if any(f in header for f in forms)]
    assert not leaked, f"Set-Cookie carries the code: {leaked}"


@pytest.fixture
def pg_app(instance):
    """This test's database is PostgreSQL only (SQLite has no VACUUM FULL; its VACUUM runs beside
    readers): as test_schema's, it fails in CI without one and is skipped on a laptop."""
    import os

    from tests.conftest import PG_URL, make_app, postgres_url, reset_postgres

    if not PG_URL:
        if os.environ.get("CI"):
            pytest.fail("CI must set PINGYI_TEST_DATABASE_URL")
        pytest.skip("needs PINGYI_TEST_DATABASE_URL (a PostgreSQL database)")
    reset_postgres()
    app = make_app(postgres_url())
    with app.app_context():
        from survey_app.services.database import init_database

        init_database()
        yield app
        db.session.remove()
        db.engine.dispose()


def test_closing_while_a_reader_holds_a_transaction_open_neither_hangs_nor_fails(pg_app, caplog):
    """VACUUM FULL needs the ballot table to itself. An export or a psql session holding a
    transaction open would keep it waiting, and every cast queued behind it: it waits 3 s at most,
    then a plain VACUUM runs and the log says what remains. (SQLite has no VACUUM FULL; its VACUUM
    runs beside readers.)"""
    campaign, sheets = open_campaign()
    q, subjects = sheet_definition(sheets["V1"])
    for code in tokens.issue_tokens(sheets["V1"], 3).codes:
        assert cast_ballot(code, first_choice_answers(q, subjects[0]), nonce="n" * 16).status == "cast"
    campaign_id = campaign.id
    db.session.remove()
    with db.engine.connect() as reader:
        reader.execute(text("SELECT count(*) FROM ballot")).scalar()  # its transaction stays open
        with caplog.at_level("WARNING", logger="survey_app.services.mixing"):
            campaigns.close_campaign(db.session.get(Campaign, campaign_id))
        reader.rollback()
    assert "VACUUM FULL could not lock the ballot table" in caplog.text
    db.session.remove()
    assert db.session.get(Campaign, campaign_id).status == "closed"
    assert db.session.scalar(text("SELECT count(*) FROM ballot")) == 3
