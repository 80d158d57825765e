"""The polling site's corners, each once a bug: a resend after the campaign or poster closed, or
after the session cookie was lost; a poster ballot the database refused but confirmed; a paper slip
sent twice or with a field twice; sNaN, Infinity and 7.5 on a scale of whole points; a code typed in
full width; a taken-down poster that spoke of a code."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from survey_app.extensions import db
from survey_app.models import Ballot, BallotSheet, Campaign, Poster, Token
from survey_app.services import campaigns, posters, tokens
from survey_app.services.sheets import sheet_definition
from tests.conftest import Voter, make_staff
from tests.factories import full_answers, open_campaign

pytestmark = pytest.mark.db

REFUSE_BALLOTS = {  # the ballot's own INSERT refused with an integrity error, as a failing constraint is
    "sqlite": ["CREATE TRIGGER refuse_ballot BEFORE INSERT ON ballot BEGIN SELECT RAISE(ABORT, 'disk is full'); END"],
    "postgresql": ["CREATE OR REPLACE FUNCTION refuse_poster_ballot() RETURNS trigger LANGUAGE plpgsql AS "
                   "$$ BEGIN RAISE EXCEPTION 'refused' USING ERRCODE = 'check_violation'; END $$",
                   "CREATE TRIGGER refuse_ballot BEFORE INSERT ON ballot FOR EACH ROW "
                   "EXECUTE FUNCTION refuse_poster_ballot()"],
}


def ballots() -> int:
    db.session.remove()
    return db.session.scalar(select(func.count()).select_from(Ballot))


def message_of(response) -> str:
    """The voter-facing message block of a message page."""
    page = response.get_data(as_text=True)
    return page[page.index('<div class="msg'):page.index("</div>")]


@pytest.fixture
def ballot(app, voter):
    """An open villager sheet, a fresh code and its page open on a phone: (code, form, answers)."""
    _, sheets = open_campaign()
    code = tokens.display(tokens.issue_tokens(sheets["V1"], 1).codes[0])
    q, subjects = sheet_definition(sheets["V1"])
    hidden = voter.hidden(voter.open(code).get_data(as_text=True))
    return code, hidden, full_answers(q, subjects)


@pytest.fixture
def poster(app):
    campaign, sheets = open_campaign()
    p = posters.create_poster(sheets["V1"])
    q, subjects = sheet_definition(sheets["V1"])
    return p.slug, p.id, full_answers(q, subjects)


def poster_form(phone: Voter, slug: str, answers: dict) -> dict:
    page = phone.client.get(f"/p/{slug}")
    assert page.status_code == 200
    return {**phone.hidden(page.get_data(as_text=True)), **answers}


def without_poster_cookie(phone: Voter) -> Voter:
    """Another request from the same browser session whose 'voted' cookie never arrived."""
    other = Voter(phone.app)
    other.client.inner._cookies = {k: v for k, v in phone.client.inner._cookies.items() if not k[2].startswith("pv")}
    return other


# Nothing lost, exactly once -------------------------------------------------------------

def test_a_poster_ballot_the_database_refuses_is_not_confirmed_as_recorded(app, poster):
    """posters.cast_open_ballot took *any* IntegrityError for "this receipt is stored already";
    SQLite reports a trigger's RAISE(ABORT) (and any constraint failure of the ballot INSERT) as one,
    PostgreSQL a check violation."""
    slug, _, answers = poster
    app.config["PROPAGATE_EXCEPTIONS"] = False
    phone = Voter(app)
    form = poster_form(phone, slug, answers)
    with db.engine.begin() as connection:
        for statement in REFUSE_BALLOTS[db.engine.dialect.name]:
            connection.exec_driver_sql(statement)
    response = phone.client.post(f"/p/{slug}", data=form)
    page = response.get_data(as_text=True)
    assert ballots() == 0
    assert "您的测评已经记录" not in page, "the voter is told the vote was recorded, and nothing is stored"
    assert "pv" not in response.headers.get("Set-Cookie", ""), "the phone is now barred from voting again"
    assert response.status_code == 500 and "您的测评没有保存" in page


def test_a_resend_after_the_campaign_closed_is_told_the_ballot_was_recorded(ballot, voter):
    """The first answer was lost; the voter sends the same form (same nonce) after closing."""
    code, hidden, answers = ballot
    assert voter.client.post(f"/t/{code}", data={**hidden, **answers}).status_code == 200
    campaigns.close_campaign(db.session.scalars(select(Campaign)).one())
    again = voter.client.post(f"/t/{code}", data={**hidden, **answers})
    assert ballots() == 1
    assert again.status_code == 200 and "您的测评已经记录" in again.get_data(as_text=True), message_of(again)


@pytest.mark.parametrize("closing", ["campaign", "poster"])
def test_a_poster_resend_after_closing_is_told_the_ballot_was_recorded(app, poster, closing):
    slug, poster_id, answers = poster
    phone = Voter(app)
    form = poster_form(phone, slug, answers)
    assert phone.client.post(f"/p/{slug}", data=form).status_code == 200
    if closing == "campaign":
        campaigns.close_campaign(db.session.scalars(select(Campaign)).one())
    else:
        posters.close_poster(db.session.get(Poster, poster_id))
    again = without_poster_cookie(phone).client.post(f"/p/{slug}", data=form)
    assert ballots() == 1
    assert again.status_code == 200 and "您的测评已经记录" in again.get_data(as_text=True), message_of(again)


def test_a_resend_whose_session_cookie_was_lost_is_not_told_its_code_is_unused(ballot, voter, app):
    """The CSRF check fails first (a WeChat webview that dropped the session cookie, or a resend
    after WTF_CSRF_TIME_LIMIT), and the 'expired' page says the code has not been used."""
    code, hidden, answers = ballot
    assert voter.client.post(f"/t/{code}", data={**hidden, **answers}).status_code == 200
    again = Voter(app).client.post(f"/t/{code}", data={**hidden, **answers})  # same form, no session
    assert ballots() == 1 and db.session.scalar(select(Token.status)) == "used"
    page = again.get_data(as_text=True)
    assert again.status_code == 200 and "您的测评已经记录" in page and "尚未使用" not in page


def paper_page(staff, code: str) -> dict:
    page = staff.post("/admin/campaigns/t2026/paper",
                      data={"csrf_token": staff.token("/admin/campaigns/t2026/paper"), "code": code})
    assert page.status_code == 200
    return dict(Voter.HIDDEN.findall(page.get_data(as_text=True)))


def test_a_paper_slip_sent_twice_is_told_it_was_recorded_not_that_its_code_was_used(app):
    """A double click on 'record': the same form (same nonce) is answered 'code already used
    (online or keyed in), this slip cannot be keyed in', though it is this very slip."""
    _, sheets = open_campaign()
    q, subjects = sheet_definition(sheets["V1"])
    staff = make_staff(app, "clerk", "assessor")
    code = tokens.display(tokens.issue_tokens(sheets["V1"], 1).codes[0])
    form = {**paper_page(staff, code), "code": code, **full_answers(q, subjects)}
    assert staff.post("/admin/campaigns/t2026/paper/record", data=form).status_code == 303
    assert staff.get("/admin/campaigns/t2026/paper").status_code == 200  # consume the first flash
    assert staff.post("/admin/campaigns/t2026/paper/record", data=form).status_code == 303
    shown = staff.get("/admin/campaigns/t2026/paper").get_data(as_text=True)
    assert ballots() == 1
    assert "该测评码已经使用过" not in shown, "the clerk is told the slip's code was used by someone else"
    assert "本张纸质票已经录入" in shown


# Bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["sNaN", "snan", "Infinity", "-Infinity", "inf"])
@pytest.mark.parametrize("where", ["code", "poster"])
def test_special_decimal_numbers_get_a_message_not_a_500(app, voter, poster, where, value):
    """sNaN: NumberRange's math.isnan(Decimal('sNaN')) raises; Infinity: the re-shown sheet's
    `f.data|int` raises OverflowError (templates/ballot/sheet.html:30)."""
    slug, _, answers = poster
    app.config["PROPAGATE_EXCEPTIONS"] = False
    if where == "code":
        code = tokens.display(tokens.issue_tokens(db.session.scalars(select(Campaign)).one().sheets[0], 1).codes[0])
        url = f"/t/{code}"
        form = {**voter.hidden(voter.open(code).get_data(as_text=True)), **answers}
    else:
        url = f"/p/{slug}"
        form = poster_form(voter, slug, answers)
    response = voter.client.post(url, data={**form, "T1V1__overall_score": value})
    assert ballots() == 0
    assert response.status_code == 422 and "请填写 1 到 10 之间的整数" in response.get_data(as_text=True)


def test_a_number_between_the_steps_of_its_scale_is_refused(ballot, voter):
    """overall_score is `range: {min: 1, max: 10, step: 1}`; 7.5 is stored as it is."""
    code, hidden, answers = ballot
    response = voter.client.post(f"/t/{code}", data={**hidden, **answers, "T1V1__overall_score": "7.5"})
    db.session.remove()
    stored = db.session.scalars(select(Ballot.answers)).all()
    assert stored == [] and response.status_code == 422, (response.status_code, stored)


def test_a_paper_slip_with_a_duplicated_field_is_refused(app):
    """The online ballot refuses a field sent twice (400); the paper entry silently takes the first."""
    _, sheets = open_campaign()
    q, subjects = sheet_definition(sheets["V1"])
    staff = make_staff(app, "clerk", "assessor")
    code = tokens.display(tokens.issue_tokens(sheets["V1"], 1).codes[0])
    body = list({**paper_page(staff, code), "code": code, **full_answers(q, subjects)}.items())
    body.append(("T1V1__secretary", "dissatisfied"))  # the slip's first item, keyed twice
    response = staff.post("/admin/campaigns/t2026/paper/record", data=MultiDict(body))
    stored = ballots()
    assert (response.status_code, stored) == (400, 0), "the slip with an item keyed twice is stored"


@pytest.mark.parametrize("typed", ["fullwidth", "fullwidth-with-fullwidth-dash"])
def test_a_code_typed_in_full_width_is_accepted(ballot, voter, typed):
    """A Chinese IME in full-width mode types ７ＫＱ３Ｍ－Ｘ９ＴＲＤ; tokens.normalise strips U+3000
    but does not fold full-width letters and digits (NFKC), so the code is 'not a code'."""
    code = ballot[0]
    wide = "".join(chr(ord(c) + 0xFEE0) if c != "-" else ("－" if "dash" in typed else "-") for c in code)
    page = voter.client.get("/t").get_data(as_text=True)
    response = voter.client.post("/t", data={**voter.hidden(page), "code": wide})
    assert response.status_code == 303, response.status_code
    assert response.headers["Location"].endswith(f"/t/{code}")


# Messages ----------------------------------------------------------------------------------

def test_a_taken_down_poster_does_not_tell_a_resident_their_code_was_withdrawn(app, poster):
    """A poster has no code and no slip; message('void') says 该测评码已作废 / 请向工作人员领取新的测评票."""
    slug, poster_id, _ = poster
    posters.close_poster(db.session.get(Poster, poster_id))
    response = Voter(app).client.get(f"/p/{slug}")
    assert response.status_code == 410
    assert "测评码" not in message_of(response) and "测评票" not in message_of(response), message_of(response)


@pytest.mark.parametrize("case", ["unknown", "not_open", "wrong_type", "english"])
def test_a_resident_at_a_poster_is_never_sent_to_a_slip_or_a_code(app, poster, case):
    """A poster has no slip and no code. Its unknown page said 请核对测评票上的测评码 and offered
    手动输入测评码; before voting opened, 请保管好测评票; a refused submission, 请重新扫描测评票."""
    slug, poster_id, answers = poster
    phone = Voter(app)
    if case in ("unknown", "english"):
        response = phone.client.get(f"/p/{slug}x" + ("?lang=en" if case == "english" else ""))
        expected = (404, "没有找到这张海报" if case == "unknown" else "This poster was not found")
    elif case == "not_open":
        sheet = db.session.get(BallotSheet, db.session.get(Poster, poster_id).sheet_id)
        db.session.get(Campaign, sheet.campaign_id).status = "draft"
        db.session.commit()
        response = phone.client.get(f"/p/{slug}")
        expected = (403, "测评尚未开始")
    else:
        form = poster_form(phone, slug, answers)
        response = phone.client.post(f"/p/{slug}", data=json.dumps(form), content_type="application/json")
        expected = (415, "请重新扫描海报")
    said = message_of(response)
    assert response.status_code == expected[0] and expected[1] in said, said
    for slip_words in ("测评码", "测评票", "slip", "code"):
        assert slip_words not in said, said
    assert db.session.scalar(select(func.count()).select_from(Ballot)) == 0
