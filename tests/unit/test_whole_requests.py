"""survey_app.asgi: the app gets a request only once all of it has arrived, and never a body over
its page's cap. Driven in process, message by message, as gunicorn's asyncio worker drives it."""
from __future__ import annotations

import asyncio
import hashlib
from concurrent.futures import ThreadPoolExecutor

import pytest
from flask import request

from survey_app import create_app
from survey_app.asgi import WholeRequests


@pytest.fixture
def whole(instance):
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False,
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance / 'test.sqlite'}"})

    @app.post("/echo")
    def echo() -> str:
        data = request.get_data()
        return f"{len(data)} {hashlib.sha256(data).hexdigest()}"

    return WholeRequests(app, threads=1)


def call(whole: WholeRequests, path: str, chunks: list[bytes], headers: list[tuple[bytes, bytes]], *,
         endless: bool = False, query: bytes = b"") -> tuple[int, dict[bytes, bytes], str, int]:
    """Send the body as ``chunks`` (or those chunks over and over, with ``endless``); returns the
    status, headers, page, and how many body messages the server asked for."""
    scope = {"type": "http", "method": "POST", "path": path, "raw_path": path.encode(), "query_string": query,
             "headers": [(b"host", b"hall"), *headers], "http_version": "1.1", "scheme": "http",
             "server": ("127.0.0.1", 80), "client": ("10.0.0.7", 50000), "root_path": ""}
    asked, sent = 0, []

    async def receive() -> dict:
        nonlocal asked
        asked += 1
        if asked > len(chunks) and not endless:
            return {"type": "http.disconnect"}
        chunk = chunks[(asked - 1) % len(chunks)]
        return {"type": "http.request", "body": chunk, "more_body": endless or asked < len(chunks)}

    async def send(message: dict) -> None:
        sent.append(message)

    with ThreadPoolExecutor(1) as thread:  # a loop of its own: the browser tests leave one running here
        thread.submit(asyncio.run, whole(scope, receive, send)).result()
    start = sent[0]
    page = b"".join(m.get("body", b"") for m in sent[1:]).decode()
    return start["status"], dict(start["headers"]), page, asked


def test_a_body_that_arrives_in_pieces_reaches_the_app_whole(whole):
    body = bytes(range(256)) * 300  # 76,800 bytes, under the 256 KB cap
    pieces = [body[:1], body[1:40_000], b"", body[40_000:]]
    status, _headers, page, asked = call(whole, "/echo", pieces, [(b"content-length", str(len(body)).encode())])
    assert status == 200 and page == f"{len(body)} {hashlib.sha256(body).hexdigest()}"
    assert asked == len(pieces)


def test_a_declared_body_over_the_cap_gets_the_apps_page_and_is_never_read(whole):
    status, headers, page, asked = call(whole, "/t/7KQ3MX9TRD", [b"x"],
                                        [(b"content-length", b"5000000"),
                                         (b"content-type", b"application/x-www-form-urlencoded")])
    assert status == 413 and "提交的内容过大" in page and "没有保存任何内容" in page
    assert headers[b"connection"] == b"close"  # the rest of the body is not read as a next request
    assert asked == 0


def test_an_undeclared_body_is_cut_off_once_it_passes_the_cap(whole):
    """Chunked, no length: the server stops asking for more just past 256 KB."""
    status, _headers, page, asked = call(whole, "/echo", [b"a" * 65536], [(b"transfer-encoding", b"chunked")],
                                         endless=True)
    assert status == 413 and "提交的内容过大" in page
    assert asked == 5  # 4 × 64 KB is exactly the cap; the fifth piece passes it


@pytest.mark.parametrize(("query", "cookie"), [(b"", b"lang=en"), (b"lang=en", b"")])
def test_the_page_comes_in_the_language_the_voter_chose(whole, query, cookie):
    status, _headers, page, _asked = call(whole, "/t/7KQ3MX9TRD", [b""],
                                          [(b"content-length", b"300000"), (b"cookie", cookie)], query=query)
    assert status == 413 and "The submission is too large" in page


def test_the_roster_import_has_its_own_larger_cap(whole):
    config = whole.flask.config
    assert whole.cap("/admin/import", "POST") == config["MAX_IMPORT_BYTES"] > config["MAX_CONTENT_LENGTH"]
    assert whole.cap("/t/7KQ3MX9TRD", "POST") == config["MAX_CONTENT_LENGTH"]
    assert whole.cap("/no/such/page", "POST") == config["MAX_CONTENT_LENGTH"]
    body = b"a" * (config["MAX_CONTENT_LENGTH"] + 1)  # over a ballot's cap, under an import's
    status, _headers, _page, asked = call(whole, "/admin/import", [body], [(b"content-length", str(len(body)).encode())])
    assert status != 413 and asked == 1
