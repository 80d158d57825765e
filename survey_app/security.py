"""Response headers, request guards and log redaction for a site that carries voting codes.

Codes travel in the QR URL (/t/<code>), so every place a URL could leak them is closed: no
Referer leaves the site, no log line keeps a path under /t/, and no page can be framed.
"""
from __future__ import annotations

import logging
import re

from flask import Flask, Response, request

CODE_PATH = re.compile(r"(/t/)[^\s/?\"']+", re.IGNORECASE)
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'; object-src 'none'")


def redact(text: str) -> str:
    return CODE_PATH.sub(r"\1…", text)


class RedactCodes(logging.Filter):
    """Rewrite any /t/<code> in a log record before a handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in args)
        return True


def install_log_redaction() -> None:
    for name in ("werkzeug", "gunicorn.access", "gunicorn.error", "survey_app", "flask.app"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactCodes) for f in logger.filters):
            logger.addFilter(RedactCodes())


def secure_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.path.startswith("/t") or request.path.startswith("/admin"):
        response.headers["Cache-Control"] = "no-store"
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    return response


def init_app(app: Flask) -> None:
    install_log_redaction()
    app.after_request(secure_headers)
