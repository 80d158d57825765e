"""Exactly once: a code casts one ballot, however many times and however concurrently it is sent."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from survey_app.extensions import db
from survey_app.models import Ballot, Token
from survey_app.services import tokens
from survey_app.services.sheets import sheet_definition
from tests.conftest import Voter
from tests.factories import answers_per_ballot, full_answers, lost_commit_answer, open_campaign

pytestmark = pytest.mark.db


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def campaign(app):
    return open_campaign(villages=1, grid_subjects=4)


def test_50_threads_submitting_one_code_store_exactly_one_ballot(app, campaign):
    _, sheets = campaign
    code = tokens.display(tokens.issue_tokens(sheets["V1"], 1).codes[0])
    q, subjects = sheet_definition(sheets["V1"])
    answers = full_answers(q, subjects)
    voters = [Voter(app) for _ in range(50)]
    pages = [v.open(code).get_data(as_text=True) for v in voters]  # everyone has the page open

    def submit(index: int) -> int:
        v = voters[index]
        return v.client.post(f"/t/{code}", data={**v.hidden(pages[index]), **answers}).status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(submit, range(50)))
    assert sorted(statuses) == [200] + [409] * 49
    db.session.remove()
    assert count(Ballot) == 1 and list(answers_per_ballot().values()) == [len(q.items)]
    assert db.session.scalar(select(Token.status)) == "used"


def test_1000_distinct_codes_submitted_concurrently_store_1000_whole_ballots(app, campaign):
    _, sheets = campaign
    codes = [tokens.display(c) for c in tokens.issue_tokens(sheets["grid"], 1000).codes]
    q, subjects = sheet_definition(sheets["grid"])
    answers = full_answers(q, subjects, choice_index=1)

    def vote(code: str) -> int:
        return Voter(app).vote(code, answers).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(vote, codes))
    assert statuses == [200] * 1000
    db.session.remove()
    assert count(Ballot) == 1000
    assert db.session.scalar(select(func.count()).select_from(Token).where(Token.status == "used")) == 1000
    per_ballot = answers_per_ballot()
    assert sum(per_ballot.values()) == 1000 * len(subjects) * len(q.items)
    assert set(per_ballot.values()) == {len(subjects) * len(q.items)}


def test_a_resend_after_a_dropped_connection_is_told_the_ballot_was_recorded(app, campaign, voter):
    _, sheets = campaign
    code = tokens.display(tokens.issue_tokens(sheets["V1"], 1).codes[0])
    q, subjects = sheet_definition(sheets["V1"])
    other = Voter(app)  # another phone with the same code has the page open too
    other_page = other.open(code).get_data(as_text=True)
    page = voter.open(code).get_data(as_text=True)
    form = {**voter.hidden(page), **full_answers(q, subjects)}
    first = voter.client.post(f"/t/{code}", data=form)
    assert first.status_code == 200 and "提交成功" in first.get_data(as_text=True)
    again = voter.client.post(f"/t/{code}", data=form)  # the same form, sent again
    assert again.status_code == 200 and "您的测评已经记录" in again.get_data(as_text=True)
    stolen = other.client.post(f"/t/{code}", data={**other.hidden(other_page), **full_answers(q, subjects)})
    assert stolen.status_code == 409 and "该测评码已经使用过" in stolen.get_data(as_text=True)
    assert count(Ballot) == 1


def test_a_ballot_on_a_closed_or_draft_campaign_is_refused_with_its_own_page(app, voter):
    from survey_app.services import campaigns

    campaign, sheets = open_campaign(open_it=False)
    code = tokens.display(tokens.issue_tokens(sheets["V1"], 1).codes[0])
    page = voter.open(code)
    assert page.status_code == 403 and "测评尚未开始" in page.get_data(as_text=True)
    campaigns.open_campaign(campaign)
    assert voter.open(code).status_code == 200
    campaigns.close_campaign(campaign)
    page = voter.open(code)
    assert page.status_code == 403 and "测评已结束" in page.get_data(as_text=True)


def test_the_export_reads_back_from_csv_parquet_and_xlsx_alike(app, campaign, voter, tmp_path):
    import pandas as pd
    from openpyxl import load_workbook

    from survey_app.models import Campaign
    from survey_app.services.export import COLUMNS, ratings_frame, write_ratings

    c, sheets = campaign
    q, subjects = sheet_definition(sheets["V1"])
    for code in tokens.issue_tokens(sheets["V1"], 3).codes:
        assert voter.vote(tokens.display(code), full_answers(q, subjects)).status_code == 200
    frame = ratings_frame(db.session.get(Campaign, c.id))
    assert list(frame.columns) == COLUMNS and len(frame) == 3 * len(q.items)
    back = {}
    for suffix in ("csv", "parquet", "xlsx"):
        path = write_ratings(frame, tmp_path / f"ratings.{suffix}")
        back[suffix] = (pd.read_csv(path, dtype=str, keep_default_na=False) if suffix == "csv"
                        else pd.read_parquet(path) if suffix == "parquet" else pd.read_excel(path, dtype=str))
    assert all(len(b) == len(frame) for b in back.values())
    assert sorted(back["xlsx"]["ballot_id"]) == sorted(frame["ballot_id"]) == sorted(back["csv"]["ballot_id"])
    sheet = load_workbook(tmp_path / "ratings.xlsx").active
    assert [cell.value for cell in sheet[1]] == COLUMNS
    hostile = frame.copy()
    hostile.loc[0, "subject"] = '=HYPERLINK("http://evil.example","点我")'
    write_ratings(hostile, tmp_path / "hostile.xlsx")
    cell = load_workbook(tmp_path / "hostile.xlsx").active.cell(row=2, column=COLUMNS.index("subject") + 1)
    assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK"), "text, never a live formula"


def test_a_ballot_request_takes_one_pooled_connection_and_gives_it_back(app, campaign, voter):
    from sqlalchemy import event

    _, sheets = campaign
    codes = [tokens.display(c) for c in tokens.issue_tokens(sheets["V1"], 2).codes]
    q, subjects = sheet_definition(sheets["V1"])
    answers = full_answers(q, subjects)
    assert voter.vote(codes[0], answers).status_code == 200  # the sheet's details are cached from here on
    page = voter.open(codes[1]).get_data(as_text=True)
    db.session.remove()
    checkouts = []
    listener = lambda *_args: checkouts.append(1)  # noqa: E731
    event.listen(db.engine, "checkout", listener)
    try:
        response = voter.client.post(f"/t/{codes[1]}", data={**voter.hidden(page), **answers})
    finally:
        event.remove(db.engine, "checkout", listener)
    assert response.status_code == 200
    assert len(checkouts) == 1, "the code's lookup and the casting share one connection"
    assert db.engine.pool.checkedout() == 0, "and it is back in the pool after the request"
    assert count(Ballot) == 2


def test_warming_up_builds_the_sheets_that_the_first_voters_codes_will_look_up(app, campaign, monkeypatch):
    """`pingyi serve` warms up before its workers fork: afterwards no voter's page builds a sheet."""
    from survey_app.services import casting, sheets as sheet_cache

    _, opened = campaign
    code = tokens.normalise(tokens.display(tokens.issue_tokens(opened["grid"], 1).codes[0]))
    sheet_cache._CACHE.clear()
    assert casting.warm_up() == len(opened)

    def build(sheet_id: int) -> None:
        raise AssertionError(f"sheet {sheet_id} built after the warm-up")

    monkeypatch.setattr(sheet_cache, "_build", build)
    context = casting.lookup(code)
    assert context is not None and context.sheet.sheet_id == opened["grid"].id


def _page_open(app, campaign) -> tuple[str, Voter, dict[str, str]]:
    """A code, a phone with its page open, and that page's form filled in; errors get the real
    server's 500 page rather than the test client's re-raise."""
    _, sheets = campaign
    code = tokens.display(tokens.issue_tokens(sheets["V1"], 1).codes[0])
    q, subjects = sheet_definition(sheets["V1"])
    app.config["PROPAGATE_EXCEPTIONS"] = False
    phone = Voter(app)
    return code, phone, {**phone.hidden(phone.open(code).get_data(as_text=True)), **full_answers(q, subjects)}


REFUSE_BALLOTS = {  # a real failure of the database itself, raised by the ballot's own INSERT
    "sqlite": ["CREATE TRIGGER refuse_ballot BEFORE INSERT ON ballot BEGIN SELECT RAISE(ABORT, 'disk is full'); END"],
    "postgresql": ["CREATE FUNCTION refuse_ballot() RETURNS trigger LANGUAGE plpgsql AS "
                   "$$ BEGIN RAISE EXCEPTION 'disk is full'; END $$",
                   "CREATE TRIGGER refuse_ballot BEFORE INSERT ON ballot FOR EACH ROW EXECUTE FUNCTION refuse_ballot()"],
}


def test_a_ballot_the_database_fails_to_store_spends_no_code_says_so_and_counts_when_sent_again(app, campaign, caplog):
    """Nothing is lost: the code was already marked used when the ballot's INSERT failed, and the
    one transaction takes both back. The voter is told the vote was not stored; sending the same
    form again (a reload, as the proxy's stand-in page advises) casts it once, and once only."""
    code, phone, form = _page_open(app, campaign)
    engine = db.engine
    with engine.begin() as connection:
        for statement in REFUSE_BALLOTS[engine.dialect.name]:
            connection.exec_driver_sql(statement)

    refused = phone.client.post(f"/t/{code}", data=form)
    assert refused.status_code == 500
    assert "您的测评没有保存，请稍后重试，测评码仍然有效。" in refused.get_data(as_text=True)
    db.session.remove()
    assert count(Ballot) == 0
    assert db.session.execute(select(Token.status, Token.idempotency_hash)).one() == ("unused", None)
    assert "disk is full" in caplog.text  # the failure is logged, its code is not
    assert code not in caplog.text and code.replace("-", "") not in caplog.text
    db.session.remove()  # its reads hold a lock that dropping the trigger waits for, on PostgreSQL

    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TRIGGER refuse_ballot" + (" ON ballot" if engine.dialect.name == "postgresql" else ""))
    again = phone.client.post(f"/t/{code}", data=form)
    assert again.status_code == 200 and "提交成功" in again.get_data(as_text=True)
    once_more = phone.client.post(f"/t/{code}", data=form)
    assert once_more.status_code == 200 and "您的测评已经记录" in once_more.get_data(as_text=True)
    db.session.remove()
    assert count(Ballot) == 1 and db.session.scalar(select(Token.status)) == "used"


def test_a_page_that_fails_after_the_ballot_is_stored_tells_the_voter_it_counted(app, campaign, monkeypatch):
    """The other half of "the voter is told which": once the transaction has committed, a failure
    while answering (here the confirmation page itself) must not say the vote was lost."""
    from survey_app.ballot import routes

    code, phone, form = _page_open(app, campaign)

    def broken(**_: object) -> str:
        raise RuntimeError("the confirmation could not be rendered")

    with monkeypatch.context() as fault:  # only the fault is undone, not the instance folder
        fault.setattr(routes, "done_page", broken)
        failed = phone.client.post(f"/t/{code}", data=form)
        page = failed.get_data(as_text=True)
        assert failed.status_code == 500 and "您的测评已计入" in page and "没有保存" not in page
        db.session.remove()
        assert count(Ballot) == 1 and db.session.scalar(select(Token.status)) == "used"
    again = phone.client.post(f"/t/{code}", data=form)  # the voter reloads anyway: still once
    assert again.status_code == 200 and "您的测评已经记录" in again.get_data(as_text=True)
    db.session.remove()
    assert count(Ballot) == 1


def test_a_mixer_that_cannot_start_does_not_turn_a_stored_ballot_into_an_error(app, campaign, monkeypatch, caplog):
    """On PostgreSQL the first cast of a process starts the ballot mixer, after the commit; a
    thread that cannot start (a process out of threads) is logged and left to the next cast."""
    from survey_app.services import mixing

    class NoThread:
        def __init__(self, *_: object) -> None:
            raise RuntimeError("can't start new thread")

    _, sheets = campaign
    codes = [tokens.display(c) for c in tokens.issue_tokens(sheets["V1"], 2).codes]
    q, subjects = sheet_definition(sheets["V1"])
    app.config.update(PROPAGATE_EXCEPTIONS=False, MIX_SECONDS=3600)
    monkeypatch.setattr(mixing, "_Mixer", NoThread)
    try:
        for code in codes:
            cast = Voter(app).vote(code, full_answers(q, subjects))
            assert cast.status_code == 200 and "提交成功" in cast.get_data(as_text=True)
    finally:
        mixing.stop_mixing()
    db.session.remove()
    assert count(Ballot) == 2
    tried = caplog.text.count("the ballot mixer could not start")
    assert tried == (2 if db.engine.dialect.name == "postgresql" else 0)  # SQLite has no mixer


def test_a_commit_whose_answer_was_lost_is_looked_up_before_the_voter_is_told(app, campaign, monkeypatch):
    from survey_app.services import casting

    code, phone, form = _page_open(app, campaign)
    with monkeypatch.context() as fault:  # only the fault is undone, not the instance folder
        fault.setattr(casting, "serialized_writes", lost_commit_answer(stored=True))
        lost = phone.client.post(f"/t/{code}", data=form)
        assert lost.status_code == 500 and "您的测评已计入" in lost.get_data(as_text=True)
    db.session.remove()
    assert count(Ballot) == 1
    again = phone.client.post(f"/t/{code}", data=form)
    assert again.status_code == 200 and "您的测评已经记录" in again.get_data(as_text=True)


def test_when_the_database_cannot_say_either_the_voter_is_told_to_send_again(app, campaign, monkeypatch):
    from survey_app.services import casting

    def unreachable(*_: object) -> bool:
        raise RuntimeError("the database is out of reach")

    code, phone, form = _page_open(app, campaign)
    with monkeypatch.context() as fault:  # only the fault is undone, not the instance folder
        fault.setattr(casting, "serialized_writes", lost_commit_answer(stored=False))
        fault.setattr(casting, "recorded_before", unreachable)
        unknown = phone.client.post(f"/t/{code}", data=form)
        page = unknown.get_data(as_text=True)
        assert unknown.status_code == 500 and "暂时无法确认" in page and "刷新本页" in page
        assert "已计入" not in page and "没有保存" not in page
    db.session.remove()
    assert count(Ballot) == 0
    cast = phone.client.post(f"/t/{code}", data=form)  # sent again once the database answers: counted
    assert cast.status_code == 200 and "提交成功" in cast.get_data(as_text=True)
