"""The session serializer is made once per key, and a rotated key is honoured at once."""
from __future__ import annotations

import pytest
from itsdangerous import BadSignature

from tests.conftest import make_app


@pytest.fixture
def app(instance):
    return make_app(f"sqlite:///{instance / 'sessions.sqlite'}")


def test_one_serializer_serves_every_request_until_the_key_changes(app):
    interface = app.session_interface
    first = interface.get_signing_serializer(app)
    assert interface.get_signing_serializer(app) is first
    cookie = first.dumps({"csrf_token": "abc"})
    old_key = app.secret_key
    app.secret_key = "a new key after a leak"
    rotated = interface.get_signing_serializer(app)
    assert rotated is not first
    with pytest.raises(BadSignature):
        rotated.loads(cookie)
    app.config["SECRET_KEY_FALLBACKS"] = [old_key]  # sessions signed before the rotation still read
    assert interface.get_signing_serializer(app).loads(cookie) == {"csrf_token": "abc"}


def test_a_ballot_page_session_round_trips_through_the_cached_serializer(app):
    client = app.test_client()
    client.get("/t")  # the code entry page puts a CSRF token in the session
    cookie = client.get_cookie("session")
    assert cookie is not None
    with app.test_request_context(headers={"Cookie": f"session={cookie.value}"}):
        from flask import session
        assert "csrf_token" in session
