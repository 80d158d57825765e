"""Races at the polling site, each once a bug: a rehearsal code whose page was read before the purge
and sent after it (a TypeError, and the voter told the code still worked), and a poster taken down
while its form was open (the voter told a code was withdrawn)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from survey_app.extensions import db
from survey_app.models import Ballot, Campaign, OpenReceipt, Token
from survey_app.services import posters, rehearsal, tokens
from survey_app.services.casting import cast_ballot, lookup
from survey_app.services.sheets import sheet_definition
from tests.conftest import Voter
from tests.factories import first_choice_answers, full_answers, open_campaign

pytestmark = pytest.mark.db


def test_a_rehearsal_code_read_before_the_purge_and_sent_after_is_refused_not_an_error(app):
    """casting.py:227-229: the code's row is gone after the purge, _CLAIMED finds nothing and
    ``status, stored_idem = cursor.fetchone()`` raises TypeError. The view then shows the 500
    page "your vote was not stored ... your code is still valid", which is false: the code was
    deleted. On PostgreSQL the window is wide: the cast waits on the purge's table lock, then runs."""
    campaign, sheets = open_campaign(open_it=False)
    cid = campaign.id
    rehearsal.start_rehearsal(db.session.get(Campaign, cid))
    q, subjects = sheet_definition(sheets["V1"])
    code = tokens.issue_tokens(sheets["V1"], 1).codes[0]  # a rehearsal (test) batch
    context = lookup(code)  # the tester's page was read during the rehearsal
    assert context is not None and context.rehearsal
    rehearsal.purge_rehearsal(db.session.get(Campaign, cid))
    db.session.remove()
    result = cast_ballot(code, first_choice_answers(q, subjects[0]), nonce="n" * 16, context=context)
    assert result.status in ("unknown", "not_open")
    assert db.session.scalar(select(func.count()).select_from(Ballot)) == 0


def test_a_poster_taken_down_while_its_form_was_open_says_so_not_that_a_code_was_withdrawn(app, monkeypatch):
    """ballot/open_mode.py:91-92 maps cast_open_ballot's "void" (poster closed, or its campaign
    back to draft, between the view's check and the INSERT) to the *token* page "This voting code
    has been withdrawn. Please ask the staff for a new slip." A poster voter has no code or slip;
    the page for this case is "poster_closed" (410), which the same view shows a moment earlier."""
    campaign, sheets = open_campaign()
    poster = posters.create_poster(sheets["V1"])
    slug, poster_id = poster.slug, poster.id
    q, subjects = sheet_definition(sheets["V1"])
    answers = full_answers(q, subjects)
    phone = Voter(app)
    env = {"REMOTE_ADDR": "10.1.2.3"}
    page = phone.client.get(f"/p/{slug}", environ_base=env)
    assert page.status_code == 200
    original = posters.cast_open_ballot

    def closed_meanwhile(*args, **kwargs):  # the poster is taken down after the view checked it
        with db.engine.begin() as connection:
            connection.execute(text("UPDATE poster SET closed_at = CURRENT_TIMESTAMP WHERE id = :id"),
                               {"id": poster_id})
        return original(*args, **kwargs)

    monkeypatch.setattr(posters, "cast_open_ballot", closed_meanwhile)
    response = phone.client.post(f"/p/{slug}", data={**phone.hidden(page.get_data(as_text=True)), **answers},
                                 environ_base=env)
    body = response.get_data(as_text=True)
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(Ballot)) == 0
    assert db.session.scalar(select(func.count()).select_from(OpenReceipt)) == 0
    assert 'class="msg void"' not in body, "a poster voter is told a voting code was withdrawn"
    assert 'class="msg poster_closed"' in body
