"""Flask's signed-cookie session, with its serializer made once per key instead of per request.

Every ballot carries the session cookie that holds its CSRF token, and Flask builds a new
itsdangerous serializer to read it on each request; under a meeting hall's load that is a
measurable share of a ballot's cost for an object that only changes with the secret key.
"""
from __future__ import annotations

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer


class OnceSignedCookieSession(SecureCookieSessionInterface):
    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached = app.extensions.get("pingyi_session_serializer")
        if cached is None or cached[0] != keys:  # a rotated key builds a new one
            cached = (keys, super().get_signing_serializer(app))
            app.extensions["pingyi_session_serializer"] = cached
        return cached[1]
