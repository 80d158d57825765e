"""Integrity across restarts and crashes of `pingyi serve` under load.

A few hundred phones vote at once against a real server while it is stopped (SIGTERM), killed
(SIGKILL of the master and its workers, or of one worker), or while its database goes away. Then
the server is started again and every phone sends its form once more (the same nonce), as the
stand-in page and the "unconfirmed" page tell it to. After that, whatever the phones were told
must agree with the database:

- a phone told "counted" (or "already recorded", or the 500 page's "counted anyway") has its code
  spent by that very form (the code's idempotency hash is that of its nonce);
- a phone told "not stored" has its code unspent at that moment;
- the sheet holds exactly as many ballots as it has spent codes: none lost, none doubled;
- a resend is answered "already recorded" for a stored ballot and casts the others.
"""
from __future__ import annotations

import csv
import hmac
import html
import http.client
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e.conftest import free_port

BIN = Path(sys.executable).parent
SHEET = "D01T01V01-masses"
H1 = re.compile(r"<h1[^>]*>(.*?)</h1>", re.S)
OUTCOMES = {  # the page's heading, in English (?lang=en)
    "Thank you. Your vote has been counted.": "counted",
    "Your vote was already recorded": "recorded",
    "Your vote has been counted": "stored_anyway",
    "We could not confirm your vote": "unconfirmed",
    "Something went wrong on our side": "server_error",
}
STORED = {"counted", "recorded", "stored_anyway"}


# ---------------------------------------------------------------- the site ----------------------------


@dataclass
class Site:
    folder: Path
    port: int
    env: dict
    server: subprocess.Popen | None = None
    log: Path | None = None
    starts: int = 0

    def pingyi(self, *args: str) -> str:
        done = subprocess.run([BIN / "pingyi", *args], env=self.env, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def codes(self, count: int) -> list[str]:
        out = self.folder / f"codes-{time.monotonic_ns()}"
        self.pingyi("issue-tokens", "demo-2026", "--sheet", SHEET, "--count", str(count),
                    "--out", f"{out}.pdf", "--codes", f"{out}.csv")
        with open(f"{out}.csv", encoding="utf-8-sig") as handle:
            return [row["测评码"] for row in csv.DictReader(handle)]

    def start(self) -> None:
        self.starts += 1
        self.log = self.folder / f"server-{self.starts}.log"
        with self.log.open("w") as handle:
            self.server = subprocess.Popen([BIN / "pingyi", "serve", "--port", str(self.port), "--workers", "2"],
                                           env=self.env, stdout=handle, stderr=subprocess.STDOUT,
                                           start_new_session=True)  # a group of its own, as in a terminal
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.server.poll() is None, self.log.read_text()
            if len(self.workers()) == 2:
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                    conn.request("GET", "/healthz")
                    if conn.getresponse().status == 200:
                        conn.close()
                        return
                except OSError:
                    pass
            time.sleep(0.1)
        raise AssertionError("the server did not come up: " + self.log.read_text())

    def workers(self) -> list[int]:
        """The gunicorn master's children (the `pingyi serve` process is the master)."""
        if self.server is None:
            return []
        try:
            with open(f"/proc/{self.server.pid}/task/{self.server.pid}/children") as handle:
                return [int(pid) for pid in handle.read().split()]
        except FileNotFoundError:
            return []

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60, group: bool = False) -> int:
        """Signal the master (or, as a terminal's Ctrl+C and systemd do, every process of the
        server) and wait for it and its workers to be gone; returns the master's exit status."""
        assert self.server is not None
        workers = self.workers()
        if group:
            os.killpg(self.server.pid, sig)
        else:
            self.server.send_signal(sig)
        status = self.server.wait(timeout=timeout)
        for pid in workers:
            _wait_gone(pid)
        self.server = None
        return status

    def kill_all(self) -> None:
        """A crash: the master and every worker SIGKILLed at once."""
        assert self.server is not None
        workers = self.workers()
        os.kill(self.server.pid, signal.SIGKILL)
        for pid in workers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.server.wait(timeout=30)
        for pid in workers:
            _wait_gone(pid)
        self.server = None

    # ------------------------------------------------------------ the database --------------------

    def key(self) -> bytes:
        return (self.folder / "token_key").read_text().strip().encode()

    def query(self, sql: str, parameters: tuple = ()) -> list[tuple]:
        url = self.env.get("DATABASE_URL", "")
        if url.startswith("postgresql"):
            import psycopg

            with psycopg.connect(url, autocommit=True) as connection:
                return connection.execute(sql.replace("?", "%s"), parameters).fetchall()
        with sqlite3.connect(self.folder / "pingyi.sqlite", timeout=30) as connection:
            return connection.execute(sql, parameters).fetchall()

    def tokens(self, codes: list[str]) -> dict[str, tuple[str, str | None]]:
        """Each code's status and idempotency hash."""
        key = self.key()
        by_hash = {hmac.digest(key, c.replace("-", "").encode(), "sha256").hex(): c for c in codes}
        rows = self.query("SELECT code_hash, status, idempotency_hash FROM token")
        return {by_hash[h]: (s, i) for h, s, i in rows if h in by_hash}

    def ballots(self) -> int:
        return self.query("SELECT count(*) FROM ballot JOIN ballot_sheet s ON s.id = ballot.sheet_id "
                          "WHERE s.key = ?", (SHEET,))[0][0]

    def spent(self) -> int:
        return self.query("SELECT count(*) FROM token t JOIN token_batch b ON b.id = t.batch_id "
                          "JOIN ballot_sheet s ON s.id = b.sheet_id WHERE s.key = ? AND t.status = 'used'",
                          (SHEET,))[0][0]

    def nonce_hash(self, code: str, nonce: str) -> str:
        return hmac.digest(self.key(), f"idempotency:{code.replace('-', '')}:{nonce}".encode(), "sha256").hex()


def _wait_gone(pid: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        try:  # a zombie of a master that is gone is reaped by init; it holds no socket
            with open(f"/proc/{pid}/stat") as handle:
                if handle.read().split(") ", 1)[1].startswith("Z"):
                    return
        except FileNotFoundError:
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} is still running")


# ---------------------------------------------------------------- a phone -----------------------------


@dataclass
class Phone:
    code: str
    fields: list[tuple[str, str]] | None = None
    cookie: str = ""
    nonce: str = ""
    outcomes: list[str] = field(default_factory=list)  # one per POST sent: a page's kind, or what failed


def _request(port: int, method: str, path: str, body: bytes | None = None, cookie: str = "",
             timeout: float = 60) -> tuple[int, str, list[str]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Cookie": cookie} if cookie else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read().decode(), response.headers.get_all("Set-Cookie") or []
    finally:
        conn.close()


def _attr(tag: str, name: str) -> str:
    found = re.search(rf'\b{name}="([^"]*)"', tag)
    return html.unescape(found.group(1)) if found else ""


def load_page(port: int, phone: Phone) -> str:
    """GET the ballot page: the session cookie, the CSRF token, the nonce and an answer to each item."""
    try:
        status, page, cookies = _request(port, "GET", f"/t/{phone.code}?lang=en")
    except ConnectionRefusedError:
        return "refused"
    except OSError:
        return "lost"
    if status != 200:
        return f"get {status}"
    fields, radios = [], {}
    for tag in re.findall(r"<input[^>]*>", page):
        name, kind = _attr(tag, "name"), _attr(tag, "type")
        if kind == "hidden":
            fields.append((name, _attr(tag, "value")))
        elif kind == "radio":
            radios.setdefault(name, _attr(tag, "value"))
    fields += list(radios.items())
    phone.fields, phone.nonce = fields, dict(fields)["nonce"]
    phone.cookie = "; ".join(c.split(";", 1)[0] for c in cookies)
    return "page"


def submit(port: int, phone: Phone) -> str:
    """POST the form as loaded (a resend sends the very same one) and say what the phone was told."""
    assert phone.fields is not None
    body = urllib.parse.urlencode(phone.fields).encode()
    try:
        status, page, cookies = _request(port, "POST", f"/t/{phone.code}?lang=en", body, phone.cookie)
    except ConnectionRefusedError:
        outcome = "refused"
    except OSError as error:  # sent, perhaps, and no answer: reset, or closed before a response
        outcome = f"lost:{type(error).__name__}"
    else:
        if cookies:  # the mark that this browser voted, as a browser keeps it
            phone.cookie = "; ".join([phone.cookie, *(c.split(";", 1)[0] for c in cookies)])
        heading = H1.search(page)
        kind = OUTCOMES.get(html.unescape(heading.group(1)).strip() if heading else "", "other")
        outcome = kind if (status == 200) == (kind in ("counted", "recorded")) else f"{kind}:{status}"
        if status == 500 and kind not in ("stored_anyway", "server_error", "unconfirmed"):
            outcome = f"500:{kind}"
    phone.outcomes.append(outcome)
    return outcome


def vote(port: int, phone: Phone) -> None:
    if phone.fields is None and load_page(port, phone) != "page":
        return
    submit(port, phone)


# ---------------------------------------------------------------- a run -------------------------------


def hall(site: Site, phones: list[Phone], disrupt, *, after: int, threads: int = 16) -> dict:
    """Phones vote through a thread pool; once ``after`` ballots were confirmed, ``disrupt()`` runs
    while the others keep coming. Returns what the phones were told on this first attempt."""
    confirmed = threading.Semaphore(0)
    done = threading.Event()
    stats: dict = {}

    def one(phone: Phone) -> None:
        vote(site.port, phone)
        if phone.outcomes and phone.outcomes[-1] == "counted":
            confirmed.release()

    def trigger() -> None:
        for _ in range(after):
            if not confirmed.acquire(timeout=60):
                break
        if not done.is_set():
            stats["before"] = site.spent()
            disrupt()

    trigger_thread = threading.Thread(target=trigger)
    trigger_thread.start()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, phones))
    done.set()
    for _ in range(after):
        confirmed.release()
    trigger_thread.join(timeout=120)
    stats["told"] = Counter(p.outcomes[0] if p.outcomes else "no page" for p in phones)
    return stats


def resend_all(site: Site, phones: list[Phone]) -> Counter:
    """After the restart, every phone sends its form again (a phone that never got its page loads it).
    A phone told "unconfirmed" reloads again, as that page asks, up to three times."""
    before = site.tokens([p.code for p in phones])
    expected = {}
    for phone in phones:
        if phone.fields is not None:
            status, idem = before[phone.code]
            mine = status == "used" and idem == site.nonce_hash(phone.code, phone.nonce)
            expected[phone.code] = "recorded" if mine else "counted"

    def resend(phone: Phone) -> None:
        for _ in range(3):
            vote(site.port, phone)
            if phone.outcomes and phone.outcomes[-1] != "unconfirmed":
                return

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(resend, phones))
    wrong = Counter()
    for phone in phones:
        if phone.code in expected and phone.outcomes[-1] != expected[phone.code]:
            wrong[f"expected {expected[phone.code]}, told {phone.outcomes[-1]}"] += 1
    return wrong


def audit(site: Site, phones: list[Phone], first: dict[str, tuple[str, str | None]]) -> dict:
    """Compare what every phone was told on its first attempt with the database just after the restart."""
    problems: Counter = Counter()
    for phone in phones:
        if not phone.outcomes:
            continue
        told, (status, idem) = phone.outcomes[0], first[phone.code]
        mine = status == "used" and idem == site.nonce_hash(phone.code, phone.nonce)
        if told in STORED and not mine:
            problems[f"told {told}, not stored"] += 1
        if told == "server_error" and status == "used":
            problems["told not stored, stored"] += 1
    return dict(problems)


def run(site: Site, count: int, disrupt, *, after: int) -> dict:
    phones = [Phone(code) for code in site.codes(count)]
    base_ballots, base_spent = site.ballots(), site.spent()
    site.start()
    stats = hall(site, phones, disrupt, after=after)
    if site.server is None or site.server.poll() is not None:
        site.server = None
        site.start()
    first = site.tokens([p.code for p in phones])
    report = {
        "told": dict(stats["told"]),
        "lost": sum(n for told, n in stats["told"].items() if told.startswith("lost")),
        "confirmed": sum(1 for p in phones if p.outcomes and p.outcomes[0] == "counted"),
        "spent after restart": site.spent() - base_spent,
        "ballots after restart": site.ballots() - base_ballots,
        "wrongly told": audit(site, phones, first),
    }
    report["resend"] = dict(resend_all(site, phones))
    report["spent at the end"] = site.spent() - base_spent
    report["ballots at the end"] = site.ballots() - base_ballots
    report["phones"], report["first"] = phones, first
    site.stop()
    return report




# ---------------------------------------------------------------- half-sent ballots -------------------


def half_sent(port: int, phones: list[Phone]) -> list[tuple[socket.socket, bytes]]:
    """Each phone's POST with its headers and half its body sent: on a weak signal, the rest is still
    on its way when the server is told to stop."""
    pending = []
    for phone in phones:
        assert load_page(port, phone) == "page"
        body = urllib.parse.urlencode(phone.fields).encode()
        connection = socket.create_connection(("127.0.0.1", port))
        connection.sendall(f"POST /t/{phone.code}?lang=en HTTP/1.1\r\nHost: hall\r\nCookie: {phone.cookie}\r\n"
                           "Content-Type: application/x-www-form-urlencoded\r\n"
                           f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:len(body) // 2])
        pending.append((connection, body[len(body) // 2:]))
    return pending


def finish(pending: list[tuple[socket.socket, bytes]]) -> Counter:
    told: Counter = Counter()
    for connection, rest in pending:
        try:
            connection.sendall(rest)
            connection.settimeout(60)
            data = b""
            while b"</html>" not in data:
                chunk = connection.recv(65536)
                if not chunk:
                    break
                data += chunk
        except OSError as error:
            told[f"lost:{type(error).__name__}"] += 1
            continue
        finally:
            connection.close()
        if not data:
            told["lost:closed"] += 1
        elif data.startswith(b"HTTP/1.1 200") and b"Thank you. Your vote has been counted." in data:
            told["counted"] += 1
        else:
            told[data.split(b"\r\n", 1)[0].decode()] += 1
    return told


# ---------------------------------------------------------------- fixtures ----------------------------


def _site(folder: Path, database_url: str | None = None) -> Site:
    port = free_port()
    env = {**os.environ, "PINGYI_INSTANCE": str(folder), "PINGYI_BASE_URL": f"http://127.0.0.1:{port}"}
    for name in ("DATABASE_URL", "SECRET_KEY", "PINGYI_TOKEN_KEY"):
        env.pop(name, None)
    if database_url:
        env["DATABASE_URL"] = database_url
    site = Site(folder, port, env)
    site.pingyi("demo")
    return site


@pytest.fixture
def site(tmp_path: Path):
    site = _site(tmp_path)
    yield site
    if site.server is not None and site.server.poll() is None:
        site.kill_all()


def _postgres_admin() -> str:
    """The PostgreSQL server of the tests (PINGYI_TEST_DATABASE_URL's, else the local one), to make
    a database of this test's own on it: the shared test database is never touched."""
    from sqlalchemy.engine import make_url

    given = os.environ.get("PINGYI_TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1/postgres"
    url = make_url(given).set(drivername="postgresql", database="postgres", query={})
    return url.render_as_string(hide_password=False)


@pytest.fixture
def pg_site(tmp_path: Path):
    import psycopg
    from sqlalchemy.engine import make_url

    admin = _postgres_admin()
    name = f"pingyi_restart_{os.getpid()}_{time.monotonic_ns() % 10**9}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    site = _site(tmp_path, make_url(admin).set(database=name).render_as_string(hide_password=False))
    site.admin, site.database = admin, name  # type: ignore[attr-defined]
    try:
        yield site
    finally:
        if site.server is not None and site.server.poll() is None:
            site.kill_all()
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def drop_connections(site: Site) -> int:
    """Terminate every server connection to the site's database (a PostgreSQL restart, a failover,
    an idle-connection killer): the pooled connections are dead without knowing it."""
    import psycopg

    with psycopg.connect(site.admin, autocommit=True) as connection:  # type: ignore[attr-defined]
        return connection.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                  "WHERE datname = %s AND pid <> pg_backend_pid()",
                                  (site.database,)).fetchone()[0]  # type: ignore[attr-defined]


def broken_promises(report: dict, count: int) -> list[str]:
    """The promises a run broke, by name; none is the pass."""
    promises = {
        "a ballot for every spent code, none doubled": report["ballots after restart"] == report["spent after restart"],
        "every confirmed ballot stored": report["confirmed"] <= report["spent after restart"],
        "no voter told untruly": not report["wrongly told"],
        "every resend settled": not report["resend"],
        "in the end every code has its one ballot": report["ballots at the end"] == report["spent at the end"] == count,
    }
    return [name for name, kept in promises.items() if not kept]


def summary(report: dict) -> dict:
    return {k: v for k, v in report.items() if k not in ("phones", "first")}


# ---------------------------------------------------------------- tests -------------------------------

COUNT = 250


@pytest.mark.parametrize("how", ["sigterm", "sigkill_all", "sigkill_one_worker"])
def test_every_confirmed_ballot_survives_a_stop_or_crash_under_load_and_resends_settle_the_rest(site, how):
    """A hall votes while the server is stopped (SIGTERM), crashes (SIGKILL of the master and its
    workers), or loses one worker (gunicorn starts another). Restarted, the database holds every
    confirmed ballot once; every phone then sends its form again and is told "already recorded"
    or has it cast, and in the end every code has exactly one ballot. A SIGTERM drains: no request
    a worker had taken is cut off. (A connection still in the kernel's accept queue when the last
    worker closes the socket is reset unread, in any server that closes its socket: the phone is
    told nothing, its code stays unspent, and its resend casts it; 1 of 250 phones met that once
    in CI.)"""
    def disrupt() -> None:
        if how == "sigterm":
            site.stop(signal.SIGTERM)
        elif how == "sigkill_all":
            site.kill_all()
        else:
            os.kill(site.workers()[0], signal.SIGKILL)

    report = run(site, COUNT, disrupt, after=60)
    assert broken_promises(report, COUNT) == [], summary(report)
    if how == "sigterm":
        logs = "".join(log.read_text() for log in site.folder.glob("server-*.log"))
        assert "Forcing close" not in logs, summary(report)  # gunicorn's words for cutting requests off
        first = report["first"]
        cut = [p.code for p in report["phones"] if p.outcomes and p.outcomes[0].startswith("lost")
               and first[p.code][0] == "used"]
        assert cut == [], summary(report)  # a lost answer to a stored ballot: a request cut off
        assert report["lost"] <= 3, summary(report)  # the accept queue's few, not a drain that failed


@pytest.mark.parametrize("how", ["sigterm", "ctrl_c"])
def test_stopping_the_server_lets_ballots_still_arriving_finish(site, how):
    """`pingyi serve` says to stop it "with Ctrl+C or SIGTERM" (README, and its own start-up line
    "（Ctrl+C 停止）"). A terminal's Ctrl+C sends SIGINT to every process of the server, as systemd
    sends SIGTERM to every one. Twelve phones on a weak signal are halfway through sending their
    ballots when the operator stops the server; their connections were accepted, so each must get
    its answer, as a SIGTERM gives it."""
    phones = [Phone(code) for code in site.codes(12)]
    site.start()
    pending = half_sent(site.port, phones)
    time.sleep(0.5)  # sequencing only: the workers have read the headers
    master = site.server
    os.killpg(master.pid, signal.SIGINT if how == "ctrl_c" else signal.SIGTERM)
    try:
        master.wait(timeout=3)  # sequencing only: a quick shutdown is over by then, a graceful one is not
    except subprocess.TimeoutExpired:
        pass
    told = finish(pending)
    master.wait(timeout=60)
    site.server = None
    site.start()
    spent = site.spent()
    site.stop()
    assert told == Counter(counted=12), (dict(told), f"codes spent: {spent} of 12")


def test_postgresql_connections_dropped_under_load_lose_nothing_and_the_error_pages_tell_the_truth(pg_site):
    """PostgreSQL drops every connection of the site ten times while a hall votes. Voters whose
    request met a dead pooled connection get the 500 page; it must not claim a stored ballot was
    lost, nor that a lost one counted; their resends settle it."""
    def disrupt() -> None:
        for _ in range(10):
            drop_connections(pg_site)
            time.sleep(0.15)

    report = run(pg_site, COUNT, disrupt, after=60)
    assert broken_promises(report, COUNT) == [], summary(report)


def test_a_counted_voter_reopening_the_ballot_while_postgresql_drops_is_not_told_the_vote_was_lost(pg_site):
    """A voter whose ballot was counted goes Back, or taps the language link, on the confirmation
    (a GET of the ballot page) just as the database drops its connections. The 500 page then
    says "Your vote was not stored ... your code is still valid", which is false: the vote is
    stored and the code spent. A voter who believes it will "try again" and be told the code was
    already used, as if somebody else had voted with it."""
    phones = [Phone(code) for code in pg_site.codes(4)]
    pg_site.start()
    for phone in phones:
        vote(pg_site.port, phone)
    assert [p.outcomes for p in phones] == [["counted"]] * 4
    assert drop_connections(pg_site) >= 1
    told = Counter()
    for phone in phones:  # one request per worker meets its dead connection
        status, page, _cookies = _request(pg_site.port, "GET", f"/t/{phone.code}?lang=en", cookie=phone.cookie)
        told[(status, "claims the vote was not stored" if "Your vote was not stored" in html.unescape(page)
              else "claims nothing false")] += 1
    pg_site.stop()
    spent = pg_site.tokens([p.code for p in phones])
    assert all(status == "used" for status, _idem in spent.values())
    # the server_error page: "Something went wrong on our side. Your vote was not stored. Please try
    # again in a moment; your code is still valid."
    false_claims = sum(n for (_status, said), n in told.items() if said == "claims the vote was not stored")
    assert false_claims == 0, dict(told)


@pytest.mark.parametrize("setting, level", [(None, 1), ("full", 2), ("EXTRA", 3)])
def test_how_a_commit_is_synced_is_the_deployments_choice_and_says_so(instance, monkeypatch, setting, level):
    """"Confirm only what is committed": in WAL mode SQLite's synchronous=NORMAL (the default, level 1)
    survives a crash of the process but not of the machine: a committed, confirmed ballot "might roll
    back following a power loss or system crash" (sqlite.org/pragma.html#pragma_synchronous), its
    code unspent again. FULL syncs the log at every commit, at a third of the ballots a second on
    these machines (bench/compare_ballots.py), so it is a setting, PINGYI_SQLITE_SYNCHRONOUS, that
    every connection of the server takes; a value SQLite does not know is refused in Chinese."""
    from survey_app.config import ConfigError
    from tests.conftest import make_app

    if setting is not None:
        monkeypatch.setenv("PINGYI_SQLITE_SYNCHRONOUS", setting)
    app = make_app(f"sqlite:///{instance / 'durable.sqlite'}")
    with app.app_context():
        from survey_app.extensions import db

        connection = db.engine.raw_connection()
        try:
            cursor = connection.cursor()
            journal = cursor.execute("PRAGMA journal_mode").fetchone()[0]
            found = cursor.execute("PRAGMA synchronous").fetchone()[0]
            cursor.close()
        finally:
            connection.close()
        db.engine.dispose()
    assert (journal, found) == ("wal", level)
    monkeypatch.setenv("PINGYI_SQLITE_SYNCHRONOUS", "off")
    with pytest.raises(ConfigError, match="PINGYI_SQLITE_SYNCHRONOUS“OFF”无法识别"):
        make_app(f"sqlite:///{instance / 'durable.sqlite'}")
