"""What ``pingyi serve`` runs: the Flask app behind gunicorn's asyncio worker, fed whole requests.

A thread of gunicorn's threaded worker reads a request itself. A phone on a weak signal, or a
browser's speculative connection that sends nothing, holds that thread for as long as it takes.
Twenty of them kept a fresh voter waiting 14.5 s in a meeting hall with no nginx in front
(README, "Serving a meeting hall"). Here the event loop reads every request, headers and body,
while holding no thread. A thread of the app's pool (a2wsgi) takes a request only once it has all
arrived, as it would behind nginx.

Buffering means a body cap is needed before the app can apply its own. A declared or received
body over the cap of the page it is sent to (:func:`survey_app.body_cap`, the app's own) gets the
app's "too large" page. That page is in the voter's language, with a 413, and the rest of the
body is never read.
"""
from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from a2wsgi import WSGIMiddleware
from flask import Flask
from werkzeug.exceptions import HTTPException

from survey_app import body_cap

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

class WholeRequests:
    def __init__(self, app: Flask, threads: int) -> None:
        self.flask = app
        self.wsgi = WSGIMiddleware(app, workers=threads)
        self.urls = app.url_map.bind("localhost")
        self.too_large_path = self.urls.build("ballot.too_large_page")  # as deploy/nginx.conf uses it

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan: a2wsgi answers it
            await self.wsgi(scope, receive, send)
            return
        cap = self.cap(scope["path"], scope["method"])
        declared = _content_length(scope)
        if declared is not None and declared > cap:
            await self.too_large(scope, send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > cap:
                await self.too_large(scope, send)
                return
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        await self.wsgi(scope, _replay(b"".join(chunks), receive), send)

    def cap(self, path: str, method: str) -> int:
        try:
            endpoint, _arguments = self.urls.match(path, method=method)
        except HTTPException:  # no such page: the app answers 404 or 405 with the ordinary cap
            endpoint = ""
        cap = body_cap(self.flask.config, str(endpoint))
        return sys.maxsize if cap is None else int(cap)

    async def too_large(self, scope: Scope, send: Send) -> None:
        """The app's own page for a body it will not read, in the voter's language: the query
        (``?lang=``) and the language cookie are kept."""
        headers = [(k, v) for k, v in scope.get("headers", []) if k not in (b"content-length", b"content-type",
                                                                             b"transfer-encoding")]
        page = {**scope, "method": "GET", "path": self.too_large_path, "raw_path": self.too_large_path.encode(),
                "headers": headers}
        await self.wsgi(page, _replay(b"", None), _closing(send))


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # gunicorn refuses such a request before it gets here
    return None


def _replay(body: bytes, receive: Receive | None) -> Receive:
    """The whole body in one message; after it, the connection's own messages (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        if receive is None:
            return {"type": "http.disconnect"}
        return await receive()

    return replay


def _closing(send: Send) -> Send:
    """A refused body is still on its way: the connection closes after the page instead of
    reading the rest of it as the next request."""
    async def closing(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
        await send(message)

    return closing
