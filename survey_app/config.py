"""Settings from the environment; secrets from the environment or a generated file never in git."""
from __future__ import annotations

import os
import re
import secrets
from pathlib import Path


def instance_dir() -> Path:
    path = Path(os.environ.get("PINGYI_INSTANCE", Path.cwd() / "instance"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def secret_from_file(name: str, env_var: str, folder: Path | None = None) -> str:
    """Use ``env_var`` if set; otherwise read, or create once with mode 0600, ``instance/<name>``.

    A fixed fallback in the code would let anyone forge sessions or recompute token hashes, so
    there is none: every installation gets its own random key on first start.
    """
    value = os.environ.get(env_var)
    if value:
        return value
    path = (folder or instance_dir()) / name
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip()


class ConfigError(ValueError):
    """A setting that cannot work, said in the words of the person who set it."""


def normalise_database_url(url: str) -> str:
    """Accept the usual ``postgresql://`` spelling and use psycopg 3 for it; refuse what is no URL
    now, with what one looks like, rather than with SQLAlchemy's parser's traceback later."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    given = re.sub(r"://([^:@/]*):[^@/]*@", r"://\1:***@", url)  # as written, less any password
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix):]
            break
    try:
        make_url(url)
    except (ArgumentError, ValueError):
        raise ConfigError(f"DATABASE_URL“{given}”不是有效的数据库地址，应如 sqlite:////srv/pingyi/pingyi.sqlite "
                          "或 postgresql://用户名@主机:5432/数据库名") from None
    return url


def database_url(folder: Path | None = None) -> str:
    folder = folder or instance_dir()
    return normalise_database_url(os.environ.get("DATABASE_URL", f"sqlite:///{folder / 'pingyi.sqlite'}"))


SQLITE_SYNC_LEVELS = ("NORMAL", "FULL", "EXTRA")


def sqlite_synchronous() -> str:
    """How SQLite syncs a commit (``PINGYI_SQLITE_SYNCHRONOUS``). NORMAL, the default: in WAL mode a
    commit survives the server process crashing, and the database is never corrupted, but the last
    commits before a power loss or an operating-system crash may roll back, confirmed ballots with
    them (their codes unspent again). FULL syncs the log at every commit and survives that too; on
    these machines it takes a third off the ballots a second (README, "Configuration")."""
    level = os.environ.get("PINGYI_SQLITE_SYNCHRONOUS", "NORMAL").strip().upper() or "NORMAL"
    if level not in SQLITE_SYNC_LEVELS:
        raise ConfigError(f"PINGYI_SQLITE_SYNCHRONOUS“{level}”无法识别，应为 {'、'.join(SQLITE_SYNC_LEVELS)} 之一")
    return level


class Config:
    """Production defaults; every value can come from an environment variable."""

    def __init__(self) -> None:
        folder = instance_dir()
        self.SECRET_KEY = secret_from_file("secret_key", "SECRET_KEY", folder)
        self.TOKEN_KEY = secret_from_file("token_key", "PINGYI_TOKEN_KEY", folder)
        self.SQLALCHEMY_DATABASE_URI = database_url(folder)
        self.SQLITE_SYNCHRONOUS = sqlite_synchronous()  # checked here, read by each new connection
        # No ping per checkout (it costs a round trip on every request); connections are recycled
        # and a dropped one is replaced after the error it causes. PINGYI_POOL_PRE_PING=1 pings.
        # Last in, first out: a request gets the connection the previous one used, whose page
        # cache is still warm. SQLite drops a connection's cache whenever another connection has
        # written since its last use; rotating through a process's connections met that on nearly
        # every request (another worker's writes still do, under several workers).
        self.SQLALCHEMY_ENGINE_OPTIONS = {"pool_recycle": 1800, "pool_use_lifo": True,
                                          "pool_pre_ping": os.environ.get("PINGYI_POOL_PRE_PING") == "1"}
        self.MAX_CONTENT_LENGTH = int(os.environ.get("PINGYI_MAX_BODY", 256 * 1024))
        self.MAX_IMPORT_BYTES = int(os.environ.get("PINGYI_MAX_IMPORT", 20 * 1024 * 1024))
        self.BABEL_DEFAULT_LOCALE = "zh_Hans_CN"
        self.TIMEZONE = os.environ.get("PINGYI_TIMEZONE", "Asia/Shanghai")
        # On PostgreSQL, how often each server process rewrites the open campaigns' new ballots so
        # that no row stamp pairs them with their codes (services.mixing); 0 leaves it to closing.
        self.MIX_SECONDS = float(os.environ.get("PINGYI_MIX_SECONDS", 60))
        # A villager may leave the ballot open for an afternoon; the token is still session-bound.
        self.WTF_CSRF_TIME_LIMIT = 12 * 3600
        # Flask-WTF's strict check wants a same-host Referer on every HTTPS POST, and this site's
        # pages send none (Referrer-Policy: no-referrer keeps codes out of it): over HTTPS no ballot
        # could be cast and nobody could sign in. The session-bound token, in a signed HttpOnly
        # SameSite=Lax cookie, is the CSRF defence; the Referer check adds nothing a TLS site needs.
        self.WTF_CSRF_SSL_STRICT = False
        self.PROXY_COUNT = int(os.environ.get("PINGYI_PROXY_COUNT", "0"))
        self.SEND_FILE_MAX_AGE_DEFAULT = 3600
        self.COMPRESS_MIMETYPES = ["text/html", "text/css", "application/javascript", "text/csv"]
        self.COMPRESS_ALGORITHM = ["gzip"]
        self.RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
        self.PUBLIC_BASE_URL = os.environ.get("PINGYI_BASE_URL", "http://127.0.0.1:5000")
        # Behind HTTPS (the base URL says so) cookies never travel in clear text.
        self.SESSION_COOKIE_SECURE = self.PUBLIC_BASE_URL.startswith("https://")
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"

    def as_dict(self) -> dict:
        return {k: v for k, v in vars(self).items() if k.isupper()}
