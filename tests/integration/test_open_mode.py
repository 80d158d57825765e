"""Open mode: one vote per browser, limits per address, a keyed fingerprint, never the address.

Once wrong: the fingerprint was keyed by the campaign's salt alone, stored in the same database, so
anyone holding the database could hash a known address and find its ballots."""
from __future__ import annotations

import hashlib
import hmac
import re

import pytest
from sqlalchemy import func, select, text

from survey_app.extensions import db
from survey_app.models import Ballot, Campaign, Poster
from survey_app.services import campaigns as campaign_service, posters
from survey_app.services.sheets import sheet_definition
from survey_app.services.export import ratings_frame
from survey_app.services.turnout import turnout
from tests.conftest import Voter
from tests.factories import first_choice_answers, full_answers, lost_commit_answer, open_campaign

pytestmark = pytest.mark.db
ADDRESS = "10.20.30.40"


@pytest.fixture
def poster(app):
    campaign, sheets = open_campaign()
    poster = posters.create_poster(sheets["V1"])
    q, subjects = sheet_definition(sheets["V1"])
    return campaign, poster, full_answers(q, subjects)


def vote(voter: Voter, slug: str, answers: dict, address: str = ADDRESS):
    env = {"REMOTE_ADDR": address}
    page = voter.client.get(f"/p/{slug}", environ_base=env)
    if page.status_code != 200:
        return page
    return voter.client.post(f"/p/{slug}", data={**voter.hidden(page.get_data(as_text=True)), **answers},
                             environ_base=env)


def test_the_same_browser_cannot_vote_twice(app, poster):
    campaign, p, answers = poster
    phone = Voter(app)
    assert vote(phone, p.slug, answers).status_code == 200
    again = phone.client.get(f"/p/{p.slug}", environ_base={"REMOTE_ADDR": ADDRESS})
    assert again.status_code == 409 and "这台手机已经投过票" in again.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Ballot)) == 1


def test_twenty_ballots_from_one_address_in_a_minute_are_limited_and_share_a_fingerprint(app, poster):
    campaign, p, answers = poster
    statuses = [vote(Voter(app), p.slug, answers).status_code for _ in range(20)]  # 20 browsers, one address
    assert statuses.count(200) == 5 and statuses.count(429) == 15
    other = vote(Voter(app), p.slug, answers, address="10.99.0.1")
    assert other.status_code == 200, "another address is not held back by the first one's limit"
    db.session.remove()
    prints = db.session.execute(select(Ballot.fingerprint, func.count()).group_by(Ballot.fingerprint)).all()
    assert sorted(n for _, n in prints) == [1, 5]
    assert all(len(f) == 64 for f, _ in prints)
    assert posters.fingerprint(campaign, ADDRESS) in {f for f, _ in prints}
    # the salt is per campaign: the same address hashes differently elsewhere
    assert posters.fingerprint(campaign, ADDRESS) != \
        posters.fingerprint(type(campaign)(fingerprint_salt="x" * 64), ADDRESS)


def test_nothing_in_the_database_turns_an_address_into_its_fingerprint_and_closing_erases_the_salt(app, poster):
    campaign, p, answers = poster
    assert vote(Voter(app), p.slug, answers).status_code == 200
    db.session.remove()
    stored = db.session.scalar(select(Ballot.fingerprint))
    salt = db.session.scalar(select(Campaign.fingerprint_salt))
    secrets_in_the_database = [str(v) for table in db.metadata.tables
                               for row in db.session.execute(text(f"SELECT * FROM {table}")) for v in row
                               if isinstance(v, str) and v]
    for key in secrets_in_the_database:  # every text the database holds, tried as the key
        assert hmac.new(key.encode(), ADDRESS.encode(), hashlib.sha256).hexdigest() != stored
    assert salt and salt in secrets_in_the_database

    campaign_service.close_campaign(db.session.get(Campaign, campaign.id))
    db.session.remove()
    closed = db.session.get(Campaign, campaign.id)
    assert closed.fingerprint_salt == "", "the salt outlived the last ballot it could key"
    assert posters.fingerprint(closed, ADDRESS) is None
    assert db.session.scalar(select(Ballot.fingerprint)) == stored, "the analysis still has what it compares"


def test_the_raw_address_is_stored_nowhere(app, poster):
    _, p, answers = poster
    vote(Voter(app), p.slug, answers)
    db.session.remove()
    tables = [t for t in db.metadata.tables]
    for table in tables:
        for row in db.session.execute(text(f"SELECT * FROM {table}")):
            assert not any(ADDRESS in str(v) for v in row), table


def test_open_mode_ballots_are_marked_in_export_and_turnout(app, poster):
    campaign, p, answers = poster
    vote(Voter(app), p.slug, answers)
    frame = ratings_frame(campaign)
    assert set(frame["mode"]) == {"open"} and frame["fingerprint"].str.len().eq(64).all()
    row = next(r for r in turnout(campaign) if r.sheet == "T1V1-masses")
    assert row.ballots == {"open": 1} and row.used == 0


def test_a_resent_open_form_is_counted_once(app, poster):
    _, p, answers = poster
    phone = Voter(app)
    env = {"REMOTE_ADDR": ADDRESS}
    page = phone.client.get(f"/p/{p.slug}", environ_base=env).get_data(as_text=True)
    form = {**phone.hidden(page), **answers}
    first = phone.client.post(f"/p/{p.slug}", data=form, environ_base=env)
    other_phone_same_form = Voter(app)  # the cookie was lost with the connection; the nonce was not
    other_phone_same_form.client.inner._cookies = phone.client.inner._cookies.copy()
    other_phone_same_form.client.inner._cookies = {k: v for k, v in other_phone_same_form.client.inner._cookies.items()
                                                   if not k[2].startswith("pv")}
    again = other_phone_same_form.client.post(f"/p/{p.slug}", data=form, environ_base=env)
    assert first.status_code == 200 and again.status_code == 200
    assert "您的测评已经记录" in again.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Ballot)) == 1


def test_a_closed_poster_stops_taking_votes(app, poster):
    _, p, answers = poster
    posters.close_poster(p)
    response = Voter(app).client.get(f"/p/{p.slug}")
    assert response.status_code == 410


@pytest.mark.parametrize("closing", ["campaign", "poster"])
def test_a_poster_form_read_before_closing_is_refused_when_sent_after(app, poster, closing):
    from survey_app.models import BallotSheet, Campaign, OpenReceipt
    from survey_app.services import campaigns

    campaign, p, _ = poster
    context = posters.find(p.slug)  # the page was read while everything was open,
    campaign_id = context.campaign.id
    db.session.expunge(context.campaign)  # and this request's copy of the campaign is not refreshed
    q, subjects = sheet_definition(db.session.get(BallotSheet, p.sheet_id))
    answers = first_choice_answers(q, subjects[0])
    if closing == "campaign":
        campaigns.close_campaign(db.session.get(Campaign, campaign_id))
    else:
        posters.close_poster(p)
    result = posters.cast_open_ballot(context, answers, nonce="n" * 16, address=ADDRESS)
    assert result.status == ("closed" if closing == "campaign" else "void")
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(Ballot)) == 0
    assert db.session.scalar(select(func.count()).select_from(OpenReceipt)) == 0


def test_a_poster_page_that_fails_after_the_ballot_is_stored_tells_the_voter_it_counted(app, poster, monkeypatch):
    from survey_app.ballot import open_mode

    def broken(**_: object) -> str:
        raise RuntimeError("the confirmation could not be rendered")

    _, p, answers = poster
    app.config["PROPAGATE_EXCEPTIONS"] = False
    monkeypatch.setattr(open_mode, "done_page", broken)
    failed = vote(Voter(app), p.slug, answers)
    page = failed.get_data(as_text=True)
    assert failed.status_code == 500 and "您的测评已计入" in page and "没有保存" not in page
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(Ballot)) == 1


def test_a_poster_ballot_whose_commit_answer_was_lost_is_looked_up_before_the_voter_is_told(app, poster, monkeypatch):
    _, p, answers = poster
    app.config["PROPAGATE_EXCEPTIONS"] = False
    monkeypatch.setattr(posters, "serialized_writes", lost_commit_answer(stored=True))
    lost = vote(Voter(app), p.slug, answers)
    assert lost.status_code == 500 and "您的测评已计入" in lost.get_data(as_text=True)
    monkeypatch.setattr(posters, "serialized_writes", lost_commit_answer(stored=False))
    refused = vote(Voter(app), p.slug, answers, address="10.99.0.2")
    assert refused.status_code == 500 and "您的测评没有保存" in refused.get_data(as_text=True)
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(Ballot)) == 1


def test_a_poster_form_whose_session_was_lost_comes_back_with_its_answers(app, poster):
    """With JavaScript off, the expired page used to drop every answer; the poster and its limits still hold."""
    campaign, p, answers = poster
    phone = Voter(app)
    env = {"REMOTE_ADDR": ADDRESS}
    hidden = phone.hidden(phone.client.get(f"/p/{p.slug}", environ_base=env).get_data(as_text=True))
    lost = Voter(app)  # the same form, from a webview that dropped the session cookie
    response = lost.client.post(f"/p/{p.slug}", data={**hidden, **answers}, environ_base=env)
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "页面已过期，您的测评还没有保存" in page
    assert sorted(re.findall(r'name="([^"]+)" value="[^"]+"[^>]*? checked>', page)) == sorted(answers)
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(Ballot)) == 0
    sent_again = lost.client.post(f"/p/{p.slug}", data={**lost.hidden(page), **answers}, environ_base=env)
    assert sent_again.status_code == 200
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(Ballot)) == 1
    posters.close_poster(db.session.get(Poster, p.id))
    assert lost.hidden(page)["nonce"] == hidden["nonce"], "both copies of the form are one ballot"
    again = Voter(app).client.post(f"/p/{p.slug}", data={**hidden, **answers}, environ_base=env)
    assert again.status_code == 200 and "您的测评已经记录" in again.get_data(as_text=True)
    taken_down = Voter(app).client.post(f"/p/{p.slug}", data={**hidden, **answers, "nonce": "z" * 24},
                                        environ_base=env)
    assert taken_down.status_code == 410, "a poster taken down gives no form back"
