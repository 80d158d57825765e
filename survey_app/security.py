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


def _redacted(record: logging.LogRecord) -> logging.LogRecord:
    """Rewrite a record whose message or traceback holds a ``/t/<code>``; leave the rest lazy."""
    try:
        message = record.getMessage()
    except Exception:  # bad arguments: logging reports them when the record is emitted
        return record
    if CODE_PATH.search(message):
        record.msg, record.args = redact(message), None
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        text = logging.Formatter().formatException(record.exc_info)
        if CODE_PATH.search(text):
            record.exc_text = redact(text)  # formatters print exc_text when it is set
    return record


def install_log_redaction() -> None:
    """Every log record of this process, from any logger and for any handler, loses its codes.

    Filters on named loggers missed records of their child loggers (a logger's filters see only
    what is logged to it) and of libraries nobody listed; the record factory sees them all.
    """
    previous = logging.getLogRecordFactory()
    if getattr(previous, "redacts_codes", False):
        return

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        return _redacted(previous(*args, **kwargs))

    factory.redacts_codes = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


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
