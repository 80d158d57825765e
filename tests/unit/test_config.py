"""Secrets come from the environment or a generated file; never from a constant in the code."""
from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from survey_app.config import Config, normalise_database_url

ROOT = Path(__file__).resolve().parents[2]


def test_each_installation_generates_its_own_private_keys(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("PINGYI_TOKEN_KEY", raising=False)
    keys = []
    for name in ("a", "b"):
        monkeypatch.setenv("PINGYI_INSTANCE", str(tmp_path / name))
        config = Config()
        keys.append((config.SECRET_KEY, config.TOKEN_KEY))
        for secret in ("secret_key", "token_key"):
            assert stat.S_IMODE(os.stat(tmp_path / name / secret).st_mode) == 0o600
        assert Config().SECRET_KEY == config.SECRET_KEY, "the file is read back, not regenerated"
    assert keys[0][0] != keys[1][0] and keys[0][1] != keys[1][1]
    assert len(keys[0][0]) == 64 and keys[0][0] != keys[0][1]


def test_the_environment_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("PINGYI_INSTANCE", str(tmp_path))
    monkeypatch.setenv("SECRET_KEY", "from-env")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    config = Config()
    assert config.SECRET_KEY == "from-env"
    assert config.SQLALCHEMY_DATABASE_URI == "postgresql+psycopg://u@h/db"
    assert not (tmp_path / "secret_key").exists()


def test_sqlite_under_instance_is_the_default(tmp_path, monkeypatch):
    monkeypatch.setenv("PINGYI_INSTANCE", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert Config().SQLALCHEMY_DATABASE_URI == f"sqlite:///{tmp_path / 'pingyi.sqlite'}"
    assert normalise_database_url("postgres://x/y") == "postgresql+psycopg://x/y"


def test_no_secret_key_constant_in_the_code_and_instance_is_not_in_git():
    pattern = re.compile(r"""(SECRET_KEY|TOKEN_KEY)\s*=\s*['"]""")
    for path in ROOT.glob("survey_app/**/*.py"):
        assert not pattern.search(path.read_text(encoding="utf-8")), path
    assert "/instance/" in (ROOT / ".gitignore").read_text().splitlines()


def test_cookies_are_secure_behind_https(tmp_path, monkeypatch):
    monkeypatch.setenv("PINGYI_INSTANCE", str(tmp_path))
    monkeypatch.setenv("PINGYI_BASE_URL", "https://pingyi.example.gov.cn")
    assert Config().SESSION_COOKIE_SECURE is True
    monkeypatch.setenv("PINGYI_BASE_URL", "http://127.0.0.1:5000")
    assert Config().SESSION_COOKIE_SECURE is False
