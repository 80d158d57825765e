"""A limit on wrong codes per address, checked with the `limits` library Flask-Limiter runs on.

Only wrong codes count, so a meeting hall of 300 cadres behind one address is never held back;
a guesser is stopped after twenty misses a minute. The check is a storage read, cheap enough for
the ballot's hot path, where Flask-Limiter's full per-request machinery was not.
"""
from __future__ import annotations

from flask import current_app
from flask_limiter.util import get_remote_address
from limits import parse_many

from survey_app.extensions import limiter

WRONG_CODES = "20 per minute;200 per hour"
_LIMITS = parse_many(WRONG_CODES)


def _key() -> tuple[str, str]:
    # the same prefix Flask-Limiter uses, so servers sharing a Redis can keep their counts apart
    return (f"{current_app.config.get('RATELIMIT_KEY_PREFIX', '')}wrong-code", get_remote_address())


def blocked() -> bool:
    key = _key()
    return not all(limiter.limiter.test(item, *key) for item in _LIMITS)


def count_miss() -> None:
    key = _key()
    for item in _LIMITS:
        limiter.limiter.hit(item, *key)
