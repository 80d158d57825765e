"""A campaign's life cycle while a hall votes: closing under load, and a close that is interrupted.

Each test runs a real `pingyi serve` (two workers) on SQLite and, when PINGYI_TEST_DATABASE_URL is
set, on a PostgreSQL database of its own (the restart tests' fixtures), with phones that load their
ballot page and send it as a browser would.
"""
from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import http.cookiejar
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import CSRF
from tests.e2e.test_restart_corners import BIN, Phone, Site, load_page, submit
from tests.e2e.test_restart_corners import pg_site, site  # noqa: F401  (fixtures)

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("PINGYI_TEST_DATABASE_URL") else [])
OTHER = "other-2026"  # a second campaign, open while the demo campaign closes
OTHER_SHEET = "D01T02V01-masses"
SECOND_CAMPAIGN = f"""
from sqlalchemy import select
from survey_app import create_app
app = create_app()
with app.app_context():
    from survey_app.extensions import db
    from survey_app.models import Organisation
    from survey_app.services import campaigns
    campaign = campaigns.create_campaign("{OTHER}", "青山镇2026年度群众满意度测评", 2026)
    town = db.session.scalar(select(Organisation).where(Organisation.code == "D01T02"))
    campaigns.add_sheets_for(campaign, "village_satisfaction", "masses", town)
    campaigns.open_campaign(campaign)
"""


@pytest.fixture(params=BACKENDS)
def any_site(request: pytest.FixtureRequest) -> Site:
    return request.getfixturevalue("site" if request.param == "sqlite" else "pg_site")


def open_second_campaign(site: Site, count: int) -> list[str]:
    """Open another town's campaign beside the demo one and issue ``count`` codes of one of its sheets."""
    done = subprocess.run([sys.executable, "-c", SECOND_CAMPAIGN], env=site.env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    out = site.folder / f"other-{time.monotonic_ns()}"
    site.pingyi("issue-tokens", OTHER, "--sheet", OTHER_SHEET, "--count", str(count),
                "--out", f"{out}.pdf", "--codes", f"{out}.csv")
    with open(f"{out}.csv", encoding="utf-8-sig") as handle:
        return [row["测评码"] for row in csv.DictReader(handle)]


def postgresql(site: Site) -> bool:
    return site.env.get("DATABASE_URL", "").startswith("postgresql")


class Reader:
    """A transaction holding a snapshot that has read the ballot table: an analyst's psql or sqlite3
    shell, a backup (``sqlite3 .backup`` reads in one transaction), a long export."""

    def __init__(self, site: Site):
        if postgresql(site):
            import psycopg

            self.connection = psycopg.connect(site.env["DATABASE_URL"])
        else:
            self.connection = sqlite3.connect(site.folder / "pingyi.sqlite", isolation_level=None,
                                              check_same_thread=False)
            self.connection.execute("BEGIN")
        self.connection.execute("SELECT count(*) FROM ballot").fetchone()

    def release(self) -> None:
        self.connection.rollback() if hasattr(self.connection, "autocommit") else self.connection.execute("ROLLBACK")
        self.connection.close()


def status_of(site: Site, slug: str) -> str:
    return site.query("SELECT status FROM campaign WHERE slug = ?", (slug,))[0][0]


def wait_closed(site: Site, slug: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while status_of(site, slug) != "closed":
        assert process.poll() is None or status_of(site, slug) == "closed", "the close ended without closing"
        assert time.monotonic() < deadline, "the campaign did not close"
        time.sleep(0.02)


class Desk:
    """The admin desk over HTTP, signed in as the demo's administrator."""

    def __init__(self, site: Site):
        self.base = f"http://127.0.0.1:{site.port}"
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        username, password = (site.folder / "demo" / "demo_admin.txt").read_text().split()
        self.post("/admin/login", "/admin/login", username=username, password=password)

    def post(self, form_page: str, path: str, **fields: str) -> str:
        token = CSRF.search(self.opener.open(self.base + form_page, timeout=60).read().decode()).group(1)
        body = urllib.parse.urlencode({"csrf_token": token, **fields}).encode()
        with self.opener.open(self.base + path, body, timeout=120) as response:
            return response.read().decode()


def ballot_file(site: Site) -> int | str:
    """What tells whether the closing clean-up ran: PostgreSQL's VACUUM FULL gives the ballot table a
    new file; SQLite's TRUNCATE checkpoint leaves the write-ahead log empty."""
    if postgresql(site):
        return site.query("SELECT relfilenode FROM pg_class WHERE oid = 'ballot'::regclass")[0][0]
    wal = site.folder / "pingyi.sqlite-wal"
    return wal.stat().st_size if wal.exists() else 0


def vote_all(site: Site, phones: list[Phone]) -> None:
    """Each phone loads its ballot and sends it, and is told it counted."""
    for phone in phones:
        load_page(site.port, phone)
        assert submit(site.port, phone) == "counted"


def test_closing_with_a_reader_open_holds_the_voters_of_other_campaigns_a_few_seconds_at_most(any_site):
    """Two towns vote at once (two open campaigns); one town's meeting ends and its organiser runs
    `pingyi close`, while an analyst's shell or a backup holds a read transaction on the database.
    On PostgreSQL the closing VACUUM FULL waits 3 s at most for its lock (mixing._FULL_LOCK_WAIT:
    "the longest the closing VACUUM FULL holds casts back"), then falls back. On SQLite the
    closing `PRAGMA wal_checkpoint(TRUNCATE)` (mixing._empty_log) takes the write lock and then
    waits for the reader for the whole busy timeout (30 s): the other town's cadres, pressing
    submit in their hall, see a spinning page for half a minute, and many press again or leave."""
    site = any_site
    phones = [Phone(code) for code in site.codes(10)]
    others = [Phone(code) for code in open_second_campaign(site, 12)]
    site.start()
    vote_all(site, phones)
    for phone in others:
        assert load_page(site.port, phone) == "page"
    reader = Reader(site)
    closing = subprocess.Popen([BIN / "pingyi", "close", "demo-2026"], env=site.env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        wait_closed(site, "demo-2026", closing)
        time.sleep(0.5)  # sequencing only: the close is into its clean-up
        timings = []
        for phone in others:  # the other hall goes on voting, one phone every 0.3 s
            started = time.monotonic()
            told = submit(site.port, phone)
            timings.append((round(time.monotonic() - started, 2), told))
            time.sleep(0.3)
        output, _ = closing.communicate(timeout=90)
    finally:
        reader.release()
        if closing.poll() is None:
            closing.kill()
    site.stop()
    assert closing.returncode == 0, output
    assert [told for _seconds, told in timings] == ["counted"] * len(others), timings
    slowest = max(seconds for seconds, _told in timings)
    assert slowest <= 5, f"a voter of the other campaign waited {slowest} s while the close cleaned up: {timings}"


def test_a_close_killed_during_its_clean_up_is_finished_by_closing_again(any_site):
    """The organiser's `pingyi close` is cut off (an SSH session dropped, a killed terminal, a kill -9)
    after the closing commit, while its clean-up waits for a reader to let go: VACUUM FULL on
    PostgreSQL, the log's TRUNCATE checkpoint on SQLite (mixing.after_close). The campaign reads
    closed, but what closing promises for anonymity (README: the superseded ballot rows stamped with
    their codes' transactions gone, SQLite's log emptied) was never done. Running `pingyi close`
    again, as anyone would, says "只有进行中的测评活动可以结束，当前状态：已结束" and does nothing:
    there is no way to finish the job short of knowing to type VACUUM FULL by hand."""
    site = any_site
    phones = [Phone(code) for code in site.codes(10)]
    site.start()
    vote_all(site, phones)
    before = ballot_file(site)
    reader = Reader(site)
    closing = subprocess.Popen([BIN / "pingyi", "close", "demo-2026"], env=site.env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        wait_closed(site, "demo-2026", closing)
        time.sleep(0.5)  # sequencing only: into the wait for the reader (3 s on PostgreSQL, 30 s on SQLite)
        assert closing.poll() is None, "the close finished before it could be interrupted"
        os.kill(closing.pid, signal.SIGKILL)
        closing.wait(timeout=30)
    finally:
        reader.release()
    time.sleep(0.5)  # the killed client's server process notices it is gone and ends its statement
    assert status_of(site, "demo-2026") == "closed"
    again = subprocess.run([BIN / "pingyi", "close", "demo-2026"], env=site.env, capture_output=True, text=True,
                           timeout=120)
    after = ballot_file(site)
    with ThreadPoolExecutor(4) as pool:  # the hall's resends are still told their votes were recorded
        told = list(pool.map(lambda phone: submit(site.port, phone), phones))
    site.stop()
    assert told == ["recorded"] * len(phones), told
    assert site.ballots() == site.spent() == len(phones)
    assert again.returncode == 0, again.stdout + again.stderr
    if postgresql(site):
        assert after != before, "the ballot table was never written anew (VACUUM FULL) after the interrupted close"
    else:
        assert after == 0, f"the write-ahead log still holds {after} bytes after closing again"


def test_two_administrators_closing_at_once_are_not_both_told_they_closed_it(any_site):
    """The organiser types `pingyi close` while a colleague presses 结束 on the desk, as a cast is
    still in flight. Each close checks the status it read (open) and then sets it closed without
    asking the database whether it still is (campaigns.close_campaign): both are told they closed
    the campaign, the audit log records two closes by two people, closed_at moves to the later one,
    and the ballots are rewritten and VACUUM FULL runs a second time, holding other campaigns'
    casts back again. The one who came second should be told it was already closed."""
    site = any_site
    phones = [Phone(code) for code in site.codes(4)]
    site.start()
    vote_all(site, phones)
    desk = Desk(site)
    if postgresql(site):  # a cast in flight holds the token table: the close waits for it
        import psycopg

        cast = psycopg.connect(site.env["DATABASE_URL"])
        cast.execute("LOCK TABLE token IN ROW EXCLUSIVE MODE")
    else:  # a cast in flight holds SQLite's write lock
        cast = sqlite3.connect(site.folder / "pingyi.sqlite", isolation_level=None, check_same_thread=False)
        cast.execute("BEGIN IMMEDIATE")
    cli = subprocess.Popen([BIN / "pingyi", "close", "demo-2026"], env=site.env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    pages: list[str] = []
    pressed = threading.Thread(target=lambda: pages.append(
        desk.post("/admin/campaigns/demo-2026", "/admin/campaigns/demo-2026/close")))
    time.sleep(2.5)  # sequencing only: the command has started, read the campaign and waits to write
    pressed.start()
    time.sleep(1.5)  # sequencing only: the desk's close waits too
    if postgresql(site):  # both closes wait behind the cast, the second one for the campaign row
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and site.query(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")[0][0] < 2:
            time.sleep(0.05)
    cast.rollback() if hasattr(cast, "autocommit") else cast.execute("ROLLBACK")
    cast.close()
    pressed.join(timeout=90)
    output, _ = cli.communicate(timeout=90)
    closes = site.query("SELECT actor FROM audit_entry WHERE action = 'close_campaign' ORDER BY id")
    site.stop()
    assert status_of(site, "demo-2026") == "closed"
    told_closed = [cli.returncode == 0, "测评活动已结束。" in pages[0]]
    assert told_closed.count(True) == 1, (output, told_closed)
    assert len(closes) == 1, f"the audit log records {len(closes)} closes of one campaign: {closes}"
