"""Bad input at the ballot: each a 4xx with a message in Chinese, and nothing stored or spent."""
from __future__ import annotations

import re
import time
from types import SimpleNamespace

import flask_limiter
import pytest
from flask import request
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from survey_app.ballot import forms as ballot_forms
from survey_app.ballot.forms import seconds_since, start_stamp
from survey_app.extensions import db
from survey_app.models import Ballot, Token
from survey_app.services import tokens
from survey_app.services.sheets import sheet_definition
from tests.factories import full_answers, open_campaign

pytestmark = pytest.mark.db


@pytest.fixture
def ballot(app, voter):
    """An open villager sheet, a fresh code, a page opened on a phone and complete answers."""
    _, sheets = open_campaign()
    code = tokens.display(tokens.issue_tokens(sheets["V1"], 1).codes[0])
    q, subjects = sheet_definition(sheets["V1"])
    page = voter.open(code).get_data(as_text=True)
    return code, voter.hidden(page), full_answers(q, subjects), q


def nothing_changed() -> bool:
    db.session.remove()
    return (db.session.scalar(select(func.count()).select_from(Ballot)) == 0  # answers live in ballot rows
            and db.session.scalar(select(Token.status)) == "unused")


def h1(response) -> str:
    page = response.get_data(as_text=True)
    return page[page.index("<h1>") + 4:page.index("</h1>")]


@pytest.mark.parametrize("code, status, heading", [
    ("ABCDE-FGHJK", 404, "测评码不存在"),                 # well-formed, never issued (forged)
    ("0O1IL-0O1IL", 404, "测评码不存在"),                 # characters no code contains
    ("%3Cscript%3E", 404, "测评码不存在"),                # garbled
    ("A" * 300, 404, "测评码不存在"),
])
def test_forged_and_garbled_codes_get_the_unknown_code_page(ballot, voter, code, status, heading):
    response = voter.client.get(f"/t/{code}")
    assert (response.status_code, h1(response)) == (status, heading)
    assert nothing_changed()


def test_typed_codes_are_forgiving_about_case_spaces_and_dashes(ballot, voter):
    code = ballot[0]
    page = voter.client.get("/t").get_data(as_text=True)
    typed = code.lower().replace("-", " ")
    response = voter.client.post("/t", data={**voter.hidden(page), "code": typed})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/t/{code}")
    wrong = voter.client.post("/t", data={**voter.hidden(page), "code": "12345"})
    assert wrong.status_code == 400 and "测评码由 10 位字母和数字组成" in wrong.get_data(as_text=True)


def test_a_missing_answer_is_shown_beside_its_item_and_the_others_are_kept(ballot, voter):
    code, hidden, answers, q = ballot
    missing = dict(answers)
    del missing["T1V1__unity"]
    answers_kept = {k: v for k, v in missing.items()}
    response = voter.client.post(f"/t/{code}", data={**hidden, **missing})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    # once in the summary at the top, which links to the item, and once beside the item
    assert "下列题目还没有作答" in page and page.count("请选择一项") == 2
    assert '<a href="#q-T1V1__unity" autofocus>' in page and 'id="q-T1V1__unity"' in page
    assert 'name="T1V1__unity" value="satisfied" aria-invalid="true" aria-describedby="e-T1V1__unity"' in page
    unity = page[page.index('name="T1V1__unity"') - 400:page.index('name="T1V1__unity"')]
    assert "请选择一项" in unity, "the message sits beside its own item"
    for name, value in answers_kept.items():
        assert f'name="{name}" value="{value}" checked' in page, name
    assert nothing_changed()


@pytest.mark.parametrize("change, status", [
    ({"T1V1__secretary": "delighted"}, 422),                    # a choice outside the scale
    ({"T1V1__overall_score": "11"}, 422),                       # a number outside 1–10
    ({"T1V1__overall_score": "NaN"}, 422),
    ({"T1V1__overall_score": "1e400"}, 422),
    ({"T9V9__secretary": "satisfied"}, 400),                    # a subject not on this sheet
    ({"is_admin": "1"}, 400),                                   # an extra field
])
def test_values_off_the_scale_and_extra_fields_are_refused(ballot, voter, change, status):
    code, hidden, answers, _ = ballot
    response = voter.client.post(f"/t/{code}", data={**hidden, **answers, **change})
    assert response.status_code == status
    assert nothing_changed()


def test_a_duplicated_field_is_refused(ballot, voter):
    code, hidden, answers, _ = ballot
    body = list({**hidden, **answers}.items()) + [("T1V1__secretary", "dissatisfied")]
    response = voter.client.post(f"/t/{code}", data=MultiDict(body))
    assert response.status_code == 400 and h1(response) == "提交的内容无法接受"
    assert nothing_changed()


def test_a_post_without_csrf_gets_its_ballot_back_with_the_answers_given(ballot, voter):
    """Once the expired page, and every answer was to be given again when JavaScript was off."""
    code, hidden, answers, _ = ballot
    given = dict(list(answers.items())[:3])
    response = voter.client.post(f"/t/{code}", data={**given, "nonce": hidden["nonce"]})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "页面已过期，您的测评还没有保存" in page
    checked = dict(re.findall(r'<input type="radio" name="([^"]+)" value="([^"]+)"[^>]*? checked>', page))
    assert checked == given
    fresh = voter.hidden(page)
    assert fresh["nonce"] == hidden["nonce"] and fresh["csrf_token"], "the same form, with a token that works"
    forged = voter.client.post(f"/t/{code}", data={**hidden, **answers, "csrf_token": "forged"})
    assert forged.status_code == 400
    assert nothing_changed()
    sent_again = voter.client.post(f"/t/{code}", data={**fresh, **answers})
    assert sent_again.status_code == 200 and "提交成功，您的测评已计入" in sent_again.get_data(as_text=True)
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(Ballot)) == 1


def test_a_post_without_csrf_is_no_way_round_the_limit_on_wrong_codes(ballot, voter):
    statuses = [voter.client.post(f"/t/{tokens.display(tokens.new_code())}", data={"nonce": "n" * 24}).status_code
                for _ in range(22)]
    assert statuses[:20] == [404] * 20 and set(statuses[20:]) == {429}
    assert voter.client.get(f"/t/{ballot[0]}").status_code == 429, "the misses counted like any others"
    assert nothing_changed()


@pytest.mark.parametrize("started", ["", "garbled", "١٢٣٤.abc", "12.é", "9" * 40 + ".00"])
def test_a_forged_fill_in_time_is_ignored_and_the_ballot_still_counts(ballot, voter, started):
    code, hidden, answers, _ = ballot
    stamp, signature = hidden["started"].split(".")
    with voter.app.test_request_context():
        for value in (started, f"{int(stamp) - 600}.{signature}"):  # garbage, or a stamp moved back
            assert seconds_since(value) is None
    response = voter.client.post(f"/t/{code}", data={**hidden, **answers, "started": started})
    assert response.status_code == 200
    db.session.remove()
    assert db.session.scalar(select(Ballot.duration_bucket)) is None


def test_the_fill_in_time_is_signed_and_kept_for_a_day(app, monkeypatch):
    with app.test_request_context():
        stamp = start_stamp()
        assert 0 <= seconds_since(stamp) < 5
        now = time.time()
        monkeypatch.setattr(ballot_forms, "time", SimpleNamespace(time=lambda: now + 3600))
        assert 3590 < seconds_since(stamp) < 3610
        monkeypatch.setattr(ballot_forms, "time", SimpleNamespace(time=lambda: now + 86_400 + 60))
        assert seconds_since(stamp) is None  # older than a day: no bucket rather than a wrong one


def test_a_5_mb_body_is_refused_before_it_is_read(ballot, voter):
    code, hidden, answers, _ = ballot
    response = voter.client.post(f"/t/{code}", data={**hidden, **answers, "T1V1__unity": "x" * 5_000_000})
    assert response.status_code == 413 and h1(response) == "提交的内容过大"
    assert nothing_changed()


def test_a_wrong_content_type_is_refused(ballot, voter):
    code, hidden, answers, _ = ballot
    response = voter.client.post(f"/t/{code}", json={**hidden, **answers})
    assert response.status_code in (400, 415)
    assert "提交的内容无法接受" in response.get_data(as_text=True) or "页面已过期" in response.get_data(as_text=True)
    assert nothing_changed()


def test_guessing_codes_is_rate_limited_but_valid_codes_are_not_counted(ballot, voter):
    code = ballot[0]
    for _ in range(30):
        assert voter.client.get(f"/t/{code}").status_code == 200  # a meeting hall behind one address
    statuses = [voter.client.get(f"/t/{c}").status_code
                for c in (tokens.display(tokens.new_code()) for _ in range(25))]
    assert statuses[:20] == [404] * 20 and set(statuses[20:]) == {429}
    limited = voter.client.get(f"/t/{tokens.display(tokens.new_code())}")
    assert "尝试次数过多" in limited.get_data(as_text=True)


def test_flask_limiter_steps_aside_on_the_code_pages_only(ballot, voter, monkeypatch):
    """The code pages count wrong codes themselves; every other page still goes through Flask-Limiter."""
    seen = []
    original = flask_limiter.Limiter._check_request_limit

    def counting(self, *args, **kwargs):
        seen.append(request.endpoint)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(flask_limiter.Limiter, "_check_request_limit", counting)
    code, hidden, answers, _ = ballot
    assert voter.client.get("/t").status_code == 200
    assert voter.client.post(f"/t/{code}", data={**hidden, **answers}).status_code == 200
    assert voter.client.get("/admin/login").status_code == 200
    assert seen and set(seen) == {"admin.login"}  # the login view is checked by its decorator too


def test_every_response_carries_the_security_headers(ballot, voter):
    response = voter.client.get(f"/t/{ballot[0]}")
    headers = response.headers
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Frame-Options"] == "DENY"
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    assert "<script>" not in page and "style=" not in page and "<style" not in page


def test_wrong_code_limits_are_shared_between_servers_through_redis(app, instance):
    """Two app instances (two servers behind a balancer) count one address's misses together."""
    import secrets as _secrets

    from tests.conftest import Voter, make_app

    prefix = f"pingyi-test-{_secrets.token_hex(4)}"
    config = {"RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0", "RATELIMIT_KEY_PREFIX": prefix}
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    first, second = make_app(url, **config), make_app(url, **config)
    statuses = []
    for n in range(21):
        server = first if n % 2 else second
        statuses.append(Voter(server).client.get(f"/t/{tokens.display(tokens.new_code())}").status_code)
    for server in (first, second):
        with server.app_context():
            db.engine.dispose()
    assert statuses[:20] == [404] * 20 and statuses[20] == 429
    import redis
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    keys = client.keys(f"*{prefix}*")
    assert keys, "the counts live in Redis"
    client.delete(*keys)
