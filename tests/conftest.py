"""Fixtures: an app on every configured database, a CLI runner, and the matplotlib backend.

Database tests run on SQLite always and, when ``PINGYI_TEST_DATABASE_URL`` is set (CI sets it),
on PostgreSQL too.  Each pytest-xdist worker gets its own PostgreSQL schema, reset per test.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import matplotlib
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.cli import ScriptInfo
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

matplotlib.use("Agg")

PG_URL = os.environ.get("PINGYI_TEST_DATABASE_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "gw")


def postgres_url() -> str:
    """The CI database, pinned to this worker's own schema through the search path."""
    schema = f"pingyi_{_worker()}"
    url = make_url(PG_URL)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False)


def reset_postgres() -> None:
    schema = f"pingyi_{_worker()}"
    engine = create_engine(make_url(PG_URL).set(drivername="postgresql+psycopg"))
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()


@pytest.fixture(scope="session", autouse=True)
def no_shared_instance() -> Iterator[None]:
    """Every test has an instance folder of its own. One that wrote into ./instance instead would
    share it with the other test workers, and with a developer's `make run`."""
    shared = Path.cwd() / "instance"
    existed = shared.exists()
    yield
    assert existed or not shared.exists(), f"a test wrote into {shared}: a monkeypatch.undo() undoes the instance too"


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "instance"
    folder.mkdir()
    monkeypatch.setenv("PINGYI_INSTANCE", str(folder))
    for name in ("SECRET_KEY", "PINGYI_TOKEN_KEY", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return folder


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, instance: Path) -> str:
    if request.param == "postgresql":
        reset_postgres()
        return postgres_url()
    return f"sqlite:///{instance / 'test.sqlite'}"


def make_app(database_url: str, **extra: object) -> Flask:
    from survey_app import create_app

    # No mixer thread outlives its test: the tests of services.mixing start and stop their own.
    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "MIX_SECONDS": 0, **extra})


@pytest.fixture
def bare_app(database_url: str) -> Iterator[Flask]:
    """An app whose database has not been created yet."""
    app = make_app(database_url)
    yield app
    from survey_app.services import mixing

    mixing.stop_mixing(wait=True)  # a round still running would give its connection back after the dispose
    with app.app_context():
        from survey_app.extensions import db
        db.engine.dispose()


@pytest.fixture
def app(bare_app: Flask) -> Iterator[Flask]:
    """An app on a freshly migrated, empty database, inside an application context."""
    from survey_app.services.database import init_database

    with bare_app.app_context():
        init_database()
        yield bare_app
        from survey_app.extensions import db
        db.session.remove()


@pytest.fixture
def client(app: Flask):
    """Requests each in their own app context, as on a real server (see _FreshContextClient)."""
    return _FreshContextClient(app)


class Cli:
    """Run ``pingyi`` commands against the test app, as a person would type them."""

    def __init__(self, app: Flask):
        self.app = app

    def __call__(self, *args: str, input: str | None = None):
        from survey_app.cli import cli

        info = ScriptInfo(create_app=lambda: self.app)
        return CliRunner().invoke(cli, list(args), obj=info, input=input, catch_exceptions=False)


@pytest.fixture
def pingyi(app: Flask) -> Cli:
    return Cli(app)


@pytest.fixture
def pingyi_bare(bare_app: Flask) -> Cli:
    return Cli(bare_app)


class _FreshContextClient:
    """A test client whose every request gets its own app context, as on a real server.

    Tests keep an app context pushed for database access; without this, requests would share its
    ``g`` (and so one CSRF token) between phones.
    """

    def __init__(self, app: Flask):
        self.app, self.inner = app, app.test_client()

    def get(self, *args, **kwargs):
        with self.app.app_context():
            return self.inner.get(*args, **kwargs)

    def post(self, *args, **kwargs):
        with self.app.app_context():
            return self.inner.post(*args, **kwargs)


class Voter:
    """Scan, answer, submit: what a villager's phone does, through the Flask test client."""

    HIDDEN = re.compile(r'name="(csrf_token|nonce|started)" type="hidden" value="([^"]*)"')

    def __init__(self, app: Flask):
        self.app = app
        self.client = _FreshContextClient(app)

    def open(self, code: str):
        return self.client.get(f"/t/{code}")

    def hidden(self, page: str) -> dict[str, str]:
        return dict(self.HIDDEN.findall(page))

    def vote(self, code: str, answers: dict[str, str], **extra: str):
        page = self.open(code)
        assert page.status_code == 200, page.status_code
        return self.client.post(f"/t/{code}", data={**self.hidden(page.get_data(as_text=True)),
                                                    **answers, **extra})


@pytest.fixture
def voter(app: Flask) -> Voter:
    return Voter(app)


CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


class Staff(_FreshContextClient):
    """A signed-in member of staff; ``form(path)`` fetches a page and returns its CSRF token."""

    def token(self, path: str = "/admin/login") -> str:
        with self.get(path) as page:
            found = CSRF.search(page.get_data(as_text=True))
        assert found, f"no CSRF token on {path}"
        return found.group(1)

    def login(self, username: str, password: str):
        return self.post("/admin/login", data={"csrf_token": self.token(), "username": username,
                                               "password": password})


def make_staff(app: Flask, username: str, role: str, scope: str | None = None) -> Staff:
    from survey_app.services.users import create_user

    password = f"{username}-password-123"
    create_user(username, password, role, scope_code=scope)
    staff = Staff(app)
    response = staff.login(username, password)
    assert response.status_code == 302, response.status_code
    return staff
