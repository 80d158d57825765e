"""Anonymity, tested like a feature: nothing stored or logged leads from a ballot to its code."""
from __future__ import annotations

import hashlib
import hmac
import logging
from pathlib import Path

import pytest
from scipy.stats import kendalltau
from sqlalchemy import func, inspect, select, text

from survey_app.extensions import db
from survey_app.models import Ballot, Campaign, Token
from survey_app.services import tokens
from survey_app.services.sheets import sheet_definition
from survey_app.services.casting import AnswerIn, cast_ballot
from tests.factories import first_choice_answers, full_answers, open_campaign

pytestmark = pytest.mark.db


def every_stored_value(table: str) -> list[str]:
    rows = db.session.execute(text(f"SELECT * FROM {table}")).all()
    return [str(v) for row in rows for v in row if v is not None]


def derived_forms(code: str, key: str) -> set[str]:
    """Whatever a careless implementation might have stored for a code."""
    plain = {code, tokens.display(code), code.lower()}
    forms = set(plain)
    for p in plain:
        forms |= {hashlib.sha256(p.encode()).hexdigest(), hashlib.md5(p.encode()).hexdigest(),
                  hmac.new(key.encode(), p.encode(), hashlib.sha256).hexdigest()}
    return forms


def test_no_column_of_ballots_or_answers_equals_or_derives_from_a_code(app, voter, caplog):
    caplog.set_level(logging.DEBUG)
    _, sheets = open_campaign(grid_subjects=3)
    issued = tokens.issue_tokens(sheets["V1"], 40).codes
    q, subjects = sheet_definition(sheets["V1"])
    for code in issued[:30]:
        assert voter.vote(tokens.display(code), full_answers(q, subjects)).status_code == 200
    voter.client.get("/t/ABCDE-FGHJK")  # and an unknown one, which is logged as a 404
    db.session.remove()
    key = app.config["TOKEN_KEY"]
    forms = set().union(*(derived_forms(c, key) for c in issued))
    stored = every_stored_value("ballot")  # the answers are in the ballot row
    assert stored and not [v for v in stored if any(f in v or v in f for f in forms if len(v) >= 8)]

    columns = {c["name"] for c in inspect(db.engine).get_columns("ballot")}
    assert columns == {"id", "sheet_id", "mode", "day", "duration_bucket", "fingerprint", "layout_id", "answers"}
    token_columns = {c["name"] for c in inspect(db.engine).get_columns("token")}
    assert not any("ballot" in c or "time" in c or c.endswith("_at") for c in token_columns)
    ballot_ids = set(db.session.scalars(select(Ballot.id)))
    token_values = set(every_stored_value("token"))
    assert not ballot_ids & token_values and not any(b in t for b in ballot_ids for t in token_values)

    days = {str(d) for d in db.session.scalars(select(Ballot.day))}
    assert all(len(d) == 10 for d in days), "a day, nothing finer"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert not any(f in logged for c in issued for f in (c, tokens.display(c)))


def test_casting_order_cannot_be_recovered_from_ballot_ids(app):
    _, sheets = open_campaign()
    q, subjects = sheet_definition(sheets["V1"])
    answers = first_choice_answers(q, subjects[0])
    order = []
    for code in tokens.issue_tokens(sheets["V1"], 200).codes:
        order.append(cast_ballot(code, answers, nonce="n" * 16).ballot_id)
    tau, _ = kendalltau(range(len(order)), sorted(range(len(order)), key=lambda i: order[i]))
    assert abs(tau) < 0.15  # random ids: no monotone relation with the casting order
    stored_order = list(db.session.scalars(text("SELECT id FROM ballot")))
    tau_stored, _ = kendalltau([order.index(b) for b in stored_order], range(len(order)))
    if db.engine.dialect.name == "sqlite":
        assert abs(tau_stored) < 0.15, "WITHOUT ROWID: a plain SELECT returns ballots in id order"


def test_the_token_row_keeps_nothing_that_points_to_the_ballot(app):
    _, sheets = open_campaign()
    code = tokens.issue_tokens(sheets["V1"], 1).codes[0]
    q, subjects = sheet_definition(sheets["V1"])
    answers = [AnswerIn(subjects[0], i.key, None if q.scale(i.scale).is_numeric else "satisfied",
                        8.0 if q.scale(i.scale).is_numeric else 100.0) for i in q.items]
    result = cast_ballot(code, answers, nonce="abcdefgh12345678")
    row = db.session.execute(select(Token)).scalar_one()
    assert row.status == "used"
    assert result.ballot_id not in (row.code_hash, row.idempotency_hash)
    assert row.idempotency_hash != hashlib.sha256(result.ballot_id.encode()).hexdigest()


def _cast_in_order(sheet, count: int) -> list[str]:
    q, subjects = sheet_definition(sheet)
    answers = first_choice_answers(q, subjects[0])
    return [cast_ballot(code, answers, nonce="n" * 16).ballot_id for code in tokens.issue_tokens(sheet, count).codes]


def _tau_of_stored_order(order: list[str], stored: list[str]) -> float:
    tau, _ = kendalltau([order.index(b) for b in stored], range(len(order)))
    return tau


def test_closing_leaves_nothing_that_pairs_a_spent_code_with_its_ballot(app):
    """PostgreSQL's row stamps (xmin, ctid) pair each ballot with the code spent in its transaction
    and keep the casting order until closing rewrites the ballots; SQLite's log keeps them side by
    side until closing empties it. Each is checked first to be there, then to be gone."""
    from survey_app.models import answers_by_ballot
    from survey_app.services import campaigns

    campaign, sheets = open_campaign()
    order = _cast_in_order(sheets["V1"], 60)
    campaign_id = campaign.id
    db.session.remove()
    before = answers_by_ballot()

    def paired() -> int:
        return db.session.scalar(text("SELECT count(*) FROM ballot b JOIN token t ON t.xmin = b.xmin"))

    def stored_order() -> list[str]:
        return list(db.session.scalars(text("SELECT id FROM ballot ORDER BY ctid")))

    log = Path(f"{db.engine.url.database}-wal")
    if db.engine.dialect.name == "postgresql":
        assert paired() == 60  # each ballot shares its transaction's stamp with exactly its own code
        assert _tau_of_stored_order(order, stored_order()) > 0.9  # and the heap keeps the casting order
    else:
        assert log.stat().st_size > 0

    campaigns.close_campaign(db.session.get(Campaign, campaign_id))
    db.session.remove()
    assert answers_by_ballot() == before  # every ballot and answer is still there, unchanged
    if db.engine.dialect.name == "postgresql":
        assert paired() == 0
        assert db.session.scalar(text("SELECT count(DISTINCT xmin::text) FROM ballot")) == 1
        assert abs(_tau_of_stored_order(order, stored_order())) < 0.4  # 60 ballots: 4.5 sd of a shuffle
    else:
        assert log.stat().st_size == 0


def test_a_code_read_before_the_campaign_closed_is_refused_when_spent_after(app):
    from survey_app.services import campaigns
    from survey_app.services.casting import lookup

    campaign, sheets = open_campaign()
    q, subjects = sheet_definition(sheets["V1"])
    code = tokens.issue_tokens(sheets["V1"], 1).codes[0]
    answers = first_choice_answers(q, subjects[0])
    context = lookup(code)  # the voter's page was read while the campaign was open
    assert context is not None and context.campaign_status == "open"
    campaigns.close_campaign(campaign)
    assert cast_ballot(code, answers, nonce="n" * 16, context=context).status == "closed"
    db.session.remove()
    assert db.session.scalar(select(Token.status)) == "unused"
    assert db.session.scalars(select(Ballot.id)).all() == []


def test_ballots_cast_while_the_campaign_closes_are_all_either_refused_or_rewritten(app):
    """Voters keep casting from other threads while the campaign closes: every ballot stored has
    its code spent, every refused code stays unspent, and (PostgreSQL) none keeps its stamp."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from survey_app.services import campaigns

    campaign, sheets = open_campaign()
    q, subjects = sheet_definition(sheets["V1"])
    answers = first_choice_answers(q, subjects[0])
    codes = tokens.issue_tokens(sheets["V1"], 300).codes
    campaign_id = campaign.id
    db.session.remove()
    cast, some_cast, guard = [], threading.Event(), threading.Lock()

    def vote(code: str) -> str:
        with app.app_context():
            try:
                status = cast_ballot(code, answers, nonce="n" * 16).status
            finally:
                db.session.remove()
        with guard:
            cast.append(status)
            if cast.count("cast") >= 20:
                some_cast.set()
        return status

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = pool.map(vote, codes)
        assert some_cast.wait(30)
        campaigns.close_campaign(db.session.get(Campaign, campaign_id))
        statuses = list(results)
    db.session.remove()
    assert set(statuses) <= {"cast", "closed"} and "cast" in statuses and "closed" in statuses
    used = db.session.scalar(select(func.count()).select_from(Token).where(Token.status == "used"))
    assert used == statuses.count("cast") == len(db.session.scalars(select(Ballot.id)).all())
    if db.engine.dialect.name == "postgresql":
        assert db.session.scalar(text("SELECT count(*) FROM ballot b JOIN token t ON t.xmin = b.xmin")) == 0


def test_a_failed_clean_up_after_closing_is_logged_and_the_campaign_stays_closed(app, monkeypatch, caplog):
    from survey_app.services import campaigns, mixing

    def broken(_engine):
        raise RuntimeError("disk gone")

    monkeypatch.setattr(mixing, "_vacuum", broken)
    monkeypatch.setattr(mixing, "_empty_log", broken)
    campaign, sheets = open_campaign()
    _cast_in_order(sheets["V1"], 3)
    campaigns.close_campaign(campaign)
    db.session.remove()
    assert db.session.scalar(select(Campaign.status)) == "closed"
    assert len(db.session.scalars(select(Ballot.id)).all()) == 3
    assert "cleaning up after it failed" in caplog.text and "disk gone" in caplog.text
