"""Rehearsal leaves no trace; paper slips and online votes share one code, counted once."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from survey_app.extensions import db
from survey_app.models import AuditEntry, Ballot, Campaign, Poster, Token, TokenBatch
from survey_app.services import campaigns, posters, rehearsal, tokens
from survey_app.services.sheets import sheet_definition
from survey_app.services.export import ratings_frame
from tests.conftest import Voter, make_staff
from tests.factories import full_answers, open_campaign

pytestmark = pytest.mark.db


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_a_rehearsal_runs_end_to_end_and_its_purge_leaves_nothing_behind(app, voter):
    campaign, sheets = open_campaign(open_it=False)
    cid = campaign.id
    rehearsal.start_rehearsal(campaign)
    q, subjects = sheet_definition(sheets["V1"])
    sheet_id = sheets["V1"].id
    codes = [tokens.display(c) for c in tokens.issue_tokens(sheets["V1"], 5).codes]
    for code in codes[:3]:
        assert voter.vote(code, full_answers(q, subjects)).status_code == 200
    poster = posters.create_poster(sheets["V1"])
    page = voter.client.get(f"/p/{poster.slug}")
    voter.client.post(f"/p/{poster.slug}", data={**voter.hidden(page.get_data(as_text=True)),
                                                 **full_answers(q, subjects)})
    db.session.remove()
    assert count(Ballot) == 4 and set(db.session.scalars(select(Ballot.mode))) == {"rehearsal"}
    assert ratings_frame(db.session.get(Campaign, cid)).empty, "rehearsal ballots never reach results"

    counts = rehearsal.purge_rehearsal(db.session.get(Campaign, cid))
    assert counts == {"ballots": 4, "codes": 5, "codes_reset": 0, "posters": 1}
    assert (count(Ballot), count(Token), count(TokenBatch), count(Poster)) == (0, 0, 0, 0)
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "purge_rehearsal")).one()
    assert '"ballots": 4' in entry.detail

    campaign = db.session.get(Campaign, cid)
    assert (campaign.status, campaign.rehearsal, campaign.definitions) == ("draft", False, [])
    campaigns.open_campaign(campaign)
    assert voter.open(codes[3]).status_code == 404, "a rehearsal code is dead in the real run"
    real = tokens.display(tokens.issue_tokens(db.session.get(type(sheets["V1"]), sheet_id), 1).codes[0])
    assert voter.vote(real, full_answers(q, subjects)).status_code == 200
    assert set(db.session.scalars(select(Ballot.mode))) == {"token"}


def test_a_purge_keeps_the_codes_issued_before_the_rehearsal_and_frees_one_a_tester_used(app, voter):
    """The purge used to delete every batch of the campaign, the real slips printed in draft too."""
    campaign, sheets = open_campaign(open_it=False)
    cid, sheet_id = campaign.id, sheets["V1"].id
    q, subjects = sheet_definition(sheets["V1"])
    real = [tokens.display(c) for c in tokens.issue_tokens(sheets["V1"], 3).codes]  # printed in draft
    early = posters.create_poster(sheets["V1"]).id  # put up in draft: a real poster
    rehearsal.start_rehearsal(db.session.get(Campaign, cid))
    test = [tokens.display(c) for c in tokens.issue_tokens(db.session.get(type(sheets["V1"]), sheet_id), 2).codes]
    posters.create_poster(db.session.get(type(sheets["V1"]), sheet_id))  # a test poster
    assert voter.vote(real[0], full_answers(q, subjects)).status_code == 200  # a tester tries a real slip
    assert voter.vote(test[0], full_answers(q, subjects)).status_code == 200
    db.session.remove()

    counts = rehearsal.purge_rehearsal(db.session.get(Campaign, cid))
    assert counts == {"ballots": 2, "codes": 2, "codes_reset": 1, "posters": 1}
    assert count(Ballot) == 0 and count(TokenBatch) == 1 and count(Token) == 3
    assert set(db.session.scalars(select(Token.status))) == {"unused"}
    assert [p.id for p in db.session.scalars(select(Poster))] == [early]
    campaigns.open_campaign(db.session.get(Campaign, cid))
    for code in real:  # every real slip casts in the real run, the one tried in the rehearsal too
        assert voter.vote(code, full_answers(q, subjects)).status_code == 200, code
    assert voter.open(test[1]).status_code == 404
    assert set(db.session.scalars(select(Ballot.mode))) == {"token"} and count(Ballot) == 3


def paper_key_in(staff, code: str, answers: dict):
    page = staff.post("/admin/campaigns/t2026/paper", data={"csrf_token": staff.token("/admin/campaigns/t2026/paper"),
                                                            "code": code})
    if page.status_code != 200:
        return page
    html = page.get_data(as_text=True)
    hidden = dict(Voter.HIDDEN.findall(html))
    return staff.post("/admin/campaigns/t2026/paper/record", data={**hidden, "code": code, **answers})


def test_a_paper_slip_is_keyed_in_as_paper_and_counts_its_code_once(app, voter):
    campaign, sheets = open_campaign()
    cid = campaign.id
    q, subjects = sheet_definition(sheets["V1"])
    staff = make_staff(app, "clerk", "assessor")
    paper_code, online_code = (tokens.display(c) for c in tokens.issue_tokens(sheets["V1"], 2).codes)

    keyed = paper_key_in(staff, paper_code, full_answers(q, subjects, choice_index=2))
    assert keyed.status_code == 303
    online_after_paper = voter.open(paper_code)
    assert online_after_paper.status_code == 409, "an online vote on a code already keyed in is refused"

    assert voter.vote(online_code, full_answers(q, subjects)).status_code == 200
    refused = paper_key_in(staff, online_code, full_answers(q, subjects))
    assert refused.status_code == 409 and "该测评码已经使用过" in refused.get_data(as_text=True)

    db.session.remove()
    modes = sorted(db.session.scalars(select(Ballot.mode)))
    assert modes == ["paper", "token"]
    frame = ratings_frame(db.session.get(Campaign, cid))
    assert set(frame.loc[frame["mode"] == "paper", "choice"]) <= {"dissatisfied", ""}
    log = [e.target for e in db.session.scalars(select(AuditEntry).where(AuditEntry.action == "paper_ballot"))]
    assert log == ["T1V1-masses"] and not any(paper_code.replace("-", "") in str(e) for e in log)


def test_a_paper_slip_already_open_on_a_phone_cannot_be_cast_twice(app, voter):
    """The phone had the page open when the clerk keyed the slip in: the phone's submit is refused."""
    _, sheets = open_campaign()
    q, subjects = sheet_definition(sheets["V1"])
    code = tokens.display(tokens.issue_tokens(sheets["V1"], 1).codes[0])
    page = voter.open(code).get_data(as_text=True)
    staff = make_staff(app, "clerk2", "admin")
    assert paper_key_in(staff, code, full_answers(q, subjects)).status_code == 303
    late = voter.client.post(f"/t/{code}", data={**voter.hidden(page), **full_answers(q, subjects)})
    assert late.status_code == 409
    assert count(Ballot) == 1


def test_a_batch_with_a_used_code_cannot_be_withdrawn_and_a_withdrawn_code_cannot_vote(app, voter):
    _, sheets = open_campaign()
    q, subjects = sheet_definition(sheets["V1"])
    used_batch = tokens.issue_tokens(sheets["V1"], 2)
    voter.vote(tokens.display(used_batch.codes[0]), full_answers(q, subjects))
    with pytest.raises(tokens.TokenError, match="已有 1 个被使用"):
        tokens.void_batch(db.session.get(TokenBatch, used_batch.batch.id))
    assert voter.open(tokens.display(used_batch.codes[1])).status_code == 200, "the refused void changed nothing"
    spare = tokens.issue_tokens(sheets["V1"], 2)
    assert tokens.void_batch(db.session.get(TokenBatch, spare.batch.id)) == 2
    assert voter.open(tokens.display(spare.codes[0])).status_code == 410
