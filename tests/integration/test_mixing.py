"""While voting goes on, PostgreSQL's row stamps pair a ballot with its code only until the next rewrite.

Each test first checks on PostgreSQL that the pairing is there (so that it could fail), then that
the rewrite removed it and changed no ballot. On SQLite, which keeps no row stamps, the rewrite is
a no-op and the ballots stay as they were.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from scipy.stats import kendalltau
from sqlalchemy import func, select, text

from survey_app.extensions import db
from survey_app.models import Ballot, BallotSheet, Token, answers_by_ballot
from survey_app.services import mixing, posters, tokens
from survey_app.services.casting import cast_ballot
from survey_app.services.sheets import sheet_definition
from tests.factories import first_choice_answers, open_campaign

pytestmark = pytest.mark.db


def paired() -> int:
    """Ballots that share their transaction's stamp with a spent code or an open-mode receipt."""
    return db.session.scalar(text("SELECT count(*) FROM ballot b WHERE b.xmin IN "
                                  "(SELECT xmin FROM token UNION ALL SELECT xmin FROM open_receipt)"))


def cast(sheet_id: int, count: int) -> list[str]:
    sheet = db.session.get(BallotSheet, sheet_id)
    q, subjects = sheet_definition(sheet)
    answers = first_choice_answers(q, subjects[0])
    return [cast_ballot(code, answers, nonce="n" * 16).ballot_id for code in tokens.issue_tokens(sheet, count).codes]


def on_postgresql() -> bool:
    return db.engine.dialect.name == "postgresql"


def test_an_open_campaigns_new_ballots_are_rewritten_sheet_by_sheet(app):
    _campaign, sheets = open_campaign(villages=2)
    v1, v2 = sheets["V1"].id, sheets["V2"].id
    order = cast(v1, 40)
    cast(v2, 20)
    db.session.remove()
    before = answers_by_ballot()

    rewritten = mixing.mix_open_sheets(db.engine)
    db.session.remove()
    assert answers_by_ballot() == before  # every ballot and answer, unchanged
    if not on_postgresql():
        assert rewritten == []
        return
    assert rewritten == [v1, v2]
    assert paired() == 0
    stored = list(db.session.scalars(text("SELECT id FROM ballot WHERE sheet_id = :s ORDER BY ctid"),
                                      {"s": v1}))
    tau, _ = kendalltau([order.index(b) for b in stored], range(len(order)))
    assert abs(tau) < 0.45  # 40 ballots: about 4 standard deviations of a shuffle

    # Later casts are paired again until the next rewrite, which takes only their sheet, whole.
    db.session.remove()
    cast(v2, 5)
    db.session.remove()
    assert paired() == 5
    stamps_of_v1 = db.session.scalar(text("SELECT min(xmin::text) FROM ballot WHERE sheet_id = :s"),
                                     {"s": v1})
    db.session.remove()
    assert mixing.mix_open_sheets(db.engine) == [v2]
    assert paired() == 0
    assert db.session.scalar(text("SELECT count(DISTINCT xmin::text) FROM ballot WHERE sheet_id = :s"),
                             {"s": v2}) == 1  # the five hide among all 25
    assert db.session.scalar(text("SELECT min(xmin::text) FROM ballot WHERE sheet_id = :s"),
                             {"s": v1}) == stamps_of_v1  # V1 was left alone
    assert mixing.mix_open_sheets(db.engine) == []  # nothing left to do: no lock taken


def test_an_open_mode_ballot_is_rewritten_away_from_its_receipt(app):
    _campaign, sheets = open_campaign()
    poster = posters.create_poster(sheets["V1"])
    q, subjects = sheet_definition(sheets["V1"])
    context = posters.find(poster.slug)
    for n in range(6):
        result = posters.cast_open_ballot(context, first_choice_answers(q, subjects[0]), nonce=f"nonce-{n:08d}",
                                          address=f"10.0.0.{n}")
        assert result.status == "cast"
    db.session.remove()
    if on_postgresql():
        assert paired() == 6
    mixing.mix_open_sheets(db.engine)
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(Ballot)) == 6
    if on_postgresql():
        assert paired() == 0


def test_a_closed_campaigns_ballots_are_not_rewritten_again(app):
    from survey_app.services import campaigns

    campaign, sheets = open_campaign()
    cast(sheets["V1"].id, 10)
    campaigns.close_campaign(campaign)
    db.session.remove()
    assert mixing.mix_open_sheets(db.engine) == []


def test_the_server_rewrites_by_itself_every_few_seconds(app):
    """The first cast starts this process's mixer; it rewrites until it is stopped."""
    _campaign, sheets = open_campaign()
    v1 = sheets["V1"].id
    app.config["MIX_SECONDS"] = 0.2
    try:
        cast(v1, 10)
        db.session.remove()
        if not on_postgresql():
            assert not mixing._MIXER  # nothing to do on SQLite: no thread
            return
        assert mixing._MIXER and mixing._MIXER[0].engine is db.engine
        deadline = time.monotonic() + 20
        while paired() and time.monotonic() < deadline:
            db.session.remove()
            time.sleep(0.1)
        assert paired() == 0
        db.session.remove()
        cast(v1, 3)  # and goes on doing so
        db.session.remove()
        deadline = time.monotonic() + 20
        while paired() and time.monotonic() < deadline:
            db.session.remove()
            time.sleep(0.1)
        assert paired() == 0
        assert db.session.scalar(select(func.count()).select_from(Ballot)) == 13
    finally:
        mixing.stop_mixing()
    assert not mixing._MIXER


def test_a_stop_that_waits_lets_the_round_give_its_connection_back_first(app, monkeypatch):
    """A round still running when the engine was disposed gave its connection back to the old pool,
    where nothing closed it (PostgreSQL's driver then warned of it whenever it was collected)."""
    in_round = threading.Event()

    def slow_round(engine):
        with engine.connect():
            in_round.set()
            time.sleep(0.3)
        return []

    monkeypatch.setattr(mixing, "mix_open_sheets", slow_round)
    mixing._MIXER.append(mixing._Mixer(db.engine, 0.01))
    mixer = mixing._MIXER[0]
    assert in_round.wait(10) and db.engine.pool.checkedout() == 1
    mixing.stop_mixing()  # as a new engine's first cast, or a test's own clean-up, stops it: no wait
    assert not mixing._MIXER and mixer.running()
    mixing.stop_mixing(wait=True)  # and later, before the dispose, the wait still finds it
    assert not mixer.running() and db.engine.pool.checkedout() == 0 and not mixing._STOPPED


def test_casting_goes_on_while_ballots_are_rewritten(app):
    """Six threads cast 240 codes while the main thread rewrites again and again: every code is
    cast once, every ballot is kept, and the last rewrite leaves nothing paired."""
    _campaign, sheets = open_campaign()
    q, subjects = sheet_definition(sheets["V1"])
    answers = first_choice_answers(q, subjects[0])
    codes = tokens.issue_tokens(sheets["V1"], 240).codes
    db.session.remove()
    done = threading.Event()

    def vote(code: str) -> str:
        with app.app_context():
            try:
                return cast_ballot(code, answers, nonce="n" * 16).status
            finally:
                db.session.remove()

    rounds = 0
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = pool.map(vote, codes)
        statuses: list[str] = []
        collector = threading.Thread(target=lambda: (statuses.extend(results), done.set()))
        collector.start()
        while not done.is_set():
            mixing.mix_open_sheets(db.engine)
            rounds += 1
        collector.join()
    assert statuses == ["cast"] * 240
    assert rounds >= 2
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(Ballot)) == 240
    assert db.session.scalar(select(func.count()).select_from(Token).where(Token.status == "used")) == 240
    mixing.mix_open_sheets(db.engine)
    if on_postgresql():
        assert paired() == 0


def test_a_rehearsals_purge_waits_for_a_rewrite_before_deleting_anything(app):
    """A purge that deleted ballots first and then waited for the rewrite's lock on the codes, while
    the rewrite waited for those very ballots, would deadlock: the purge takes the lock first."""
    from survey_app.models import Campaign
    from survey_app.services import rehearsal

    campaign, sheets = open_campaign(open_it=False)
    rehearsal.start_rehearsal(campaign)
    cast(sheets["V1"].id, 5)
    campaign_id = campaign.id
    db.session.remove()
    if not on_postgresql():
        assert rehearsal.purge_rehearsal(db.session.get(Campaign, campaign_id))["ballots"] == 5
        return
    purged = []
    with db.engine.connect() as rewrite:  # a rewrite in flight, between its lock and its DELETE
        mixing.hold_casts(rewrite.execute)

        def purge() -> None:
            with app.app_context():
                purged.append(rehearsal.purge_rehearsal(db.session.get(Campaign, campaign_id)))
                db.session.remove()

        worker = threading.Thread(target=purge)
        worker.start()
        waiting = None
        for _ in range(200):
            waiting = db.session.scalar(text(  # this schema's tables only: other test workers share the server
                "SELECT a.query FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid WHERE NOT l.granted "
                "AND l.relation IN ('token'::regclass, 'open_receipt'::regclass)"))
            db.session.remove()
            if waiting:
                break
            time.sleep(0.05)
        assert waiting is not None and waiting.startswith("LOCK TABLE token")  # not a DELETE: nothing held yet
        assert not purged
        rewrite.rollback()
    worker.join(30)
    assert purged and purged[0]["ballots"] == 5
    assert db.session.scalar(select(func.count()).select_from(Ballot)) == 0
