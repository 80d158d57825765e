"""The app that ``bench_ballots.py --framework`` serves: pingyi, plus a ballot request without the ballot.

``POST /bench/framework/<code>`` goes through everything a ballot request gets from the libraries
the issue asks for (the session cookie, Flask-WTF's CSRF check, the form parser, the response
headers) and answers with the same cached confirmation page, but looks up no code, checks no
answers and writes nothing. Its rate and p99 against hello's show how far any ballot can get
under these libraries and server settings, and how much of a ballot's cost is pingyi's own.
"""
from __future__ import annotations

from flask import abort, request

from survey_app.ballot.routes import done_page
from survey_app.extensions import limiter
from survey_app.wsgi import app

# Like the code pages, the floor steps past Flask-Limiter (they count wrong codes themselves).
limiter.COUNTED_ELSEWHERE = limiter.COUNTED_ELSEWHERE | {"bench_framework"}


@app.post("/bench/framework/<code>", endpoint="bench_framework")
def framework(code: str) -> str:  # noqa: ARG001  (the code is in the path, as on a real ballot)
    if len(request.form) < 20:
        abort(400)
    return done_page(recorded=False)
