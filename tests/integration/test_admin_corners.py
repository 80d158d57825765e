"""The desk's corners, each once a bug: a second click, a stale page, a scheme without a checklist, a
page number too large, a file named "..", a town-limited user acting for the district, a rehearsal's
purge, and changes stored without who made them or without what changed."""
from __future__ import annotations

import io
import json
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from survey_app.extensions import db
from survey_app.models import (
    AuditEntry, Campaign, ChecklistScore, GradeRecord, Organisation, Poster, RectificationLine, Token, TokenBatch,
    VetoMark,
)
from survey_app.services import campaigns, posters
from tests.conftest import make_staff
from tests.factories import open_campaign

pytestmark = pytest.mark.db


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def audit_count(action: str) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action))


# --- a veto on a campaign whose scheme has no checklist ended in a server error -----------------------

def test_a_veto_posted_to_a_campaign_without_a_checklist_gets_a_message_not_a_500(app):
    """survey_app/admin/scores.py add_veto catches ScoreError only; mark_veto -> campaign_checklist raises
    CampaignError for a scheme without a checklist (suixi_cadre_grades, offered on the new-campaign page)."""
    db.session.add(Organisation(code="V1", name="一村", kind="village"))
    campaigns.create_campaign("sx2026", "遂溪干部评议", 2026, scheme_key="suixi_cadre_grades")
    db.session.commit()
    admin = make_staff(app, "vetoadm", "admin")
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = admin.post("/admin/campaigns/sx2026/vetoes", data={
        "csrf_token": admin.token("/admin/campaigns/sx2026"), "org": "V1", "veto": "cadre_misconduct",
        "stage": "panel", "evidence": "纪委通报"})
    assert response.status_code != 500, "CampaignError escaped add_veto"
    assert 400 <= response.status_code < 500 or response.status_code == 303
    assert count(VetoMark) == 0


# --- a veto withdrawn twice: the first withdrawal's day stands (it was overwritten) ---------------

def test_a_veto_withdrawn_twice_keeps_its_first_withdrawal(app):
    open_campaign(villages=1)
    admin = make_staff(app, "withdrawer", "admin")
    token = admin.token("/admin/campaigns/t2026/checklist")
    admin.post("/admin/campaigns/t2026/vetoes", data={"csrf_token": token, "org": "T1V1", "veto": "cadre_misconduct",
                                                      "stage": "panel", "evidence": "纪委通报"})
    mark_id = db.session.scalars(select(VetoMark.id)).one()
    statuses, stamps, logged = _done_twice(admin, f"/admin/vetoes/{mark_id}/withdraw", token, VetoMark, mark_id,
                                           "withdrawn_at", "withdraw_veto")
    assert statuses == [303, 303], "the second is refused like a voided batch: a message on the page it returns to"
    assert stamps[0] is not None and stamps[1] == stamps[0], "the first withdrawal's day stands"
    assert logged == 1, "the second withdrawal is not logged"


def _done_twice(staff, url: str, token: str, model, row_id: int, stamp: str, action: str) -> tuple:
    """Post the same action twice (a second click, or a stale page): the statuses, the row's stamp
    after each, and how many audit entries the action left."""
    statuses, stamps = [], []
    for _ in range(2):
        statuses.append(staff.post(url, data={"csrf_token": token}).status_code)
        db.session.expire_all()
        stamps.append(getattr(db.session.get(model, row_id), stamp))
    return statuses, stamps, audit_count(action)


# --- a poster taken down twice: the first time stands (it was overwritten) ------------------------

def test_a_poster_closed_twice_keeps_its_first_closing(app):
    _, sheets = open_campaign(villages=1)
    poster = posters.create_poster(sheets["V1"])
    poster_id = poster.id
    admin = make_staff(app, "posteradm", "admin")
    token = admin.token("/admin/campaigns/t2026/posters")
    statuses, stamps, logged = _done_twice(admin, f"/admin/posters/{poster_id}/close", token, Poster, poster_id,
                                           "closed_at", "close_poster")
    assert statuses == [303, 303], "the second is refused like a voided batch: a message on the page it returns to"
    assert stamps[0] is not None and stamps[1] == stamps[0], "the first take-down's time stands"
    assert logged == 1, "the second take-down is not logged"


# --- a ledger line's done-on day is in its audit entry (it was left out) --------------------------

def test_a_changed_done_on_date_is_in_the_ledger_lines_audit_entry(app):
    campaign, _ = open_campaign(villages=1)
    line = RectificationLine(campaign_id=campaign.id, subject_key="T1V1", subject_name="第1村", indicator_key="x1",
                             label="薄弱指标", score=1.0, full_marks=4.0, owner="张书记", status="done", done_on=date(2026, 12, 1),
                             opened_on=date(2026, 6, 1))
    db.session.add(line)
    db.session.commit()
    line_id = line.id
    admin = make_staff(app, "ledgeradm", "admin")
    token = admin.token("/admin/campaigns/t2026/rectification")
    response = admin.post(f"/admin/rectification/{line_id}", data={
        "csrf_token": token, "status": "done", "done_on": "2026-11-15", "owner": "张书记"})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(RectificationLine, line_id).done_on == date(2026, 11, 15)  # stored ...
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "update_rectification")).one()
    detail = json.loads(entry.detail)
    assert "2026-11-15" in entry.detail and "2026-12-01" in entry.detail, \
        f"... but the audit entry does not say the day it was closed changed: {detail}"


# --- a page number too large for SQLite (it ended in a server error) ------------------------------

@pytest.mark.parametrize("path", ["/admin/audit?page=99999999999999999999",
                                  "/admin/orgs/T1V1?page=99999999999999999999"])
def test_a_huge_page_number_is_not_a_server_error(app, path):
    open_campaign(villages=1)
    admin = make_staff(app, "pager", "admin")
    app.config["PROPAGATE_EXCEPTIONS"] = False
    with admin.get(path) as response:
        assert response.status_code != 500


# --- a score file named '..' (it ended in a server error) -----------------------------------------

@pytest.mark.parametrize("filename", ["..", "."])
def test_a_score_upload_with_a_directory_name_for_a_filename_is_refused_with_a_message(app, filename):
    open_campaign(villages=1)
    admin = make_staff(app, "uploader", "admin")
    with admin.get("/admin/campaigns/t2026/checklist/template.xlsx?stage=panel") as response:
        data = response.get_data()
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = admin.post("/admin/campaigns/t2026/checklist/upload", content_type="multipart/form-data", data={
        "csrf_token": admin.token("/admin/campaigns/t2026/checklist"), "file": (io.BytesIO(data), filename)})
    assert 400 <= response.status_code < 500, response.status_code
    assert count(ChecklistScore) == 0


# --- a town-limited analyst may not re-grade the district (it could) ------------------------------

def test_a_town_limited_analyst_cannot_regrade_other_towns(app, pingyi):
    assert pingyi("demo", "--simulate", "300").exit_code == 0
    admin = make_staff(app, "gradeadm", "admin")
    assert admin.post("/admin/campaigns/demo-2026/grade",
                      data={"csrf_token": admin.token("/admin/campaigns/demo-2026/grades")}).status_code == 303
    before = dict(db.session.execute(select(GradeRecord.subject_key, GradeRecord.graded_at)).all())
    other_town = [k for k in before if k.startswith("D01T02")]
    assert other_town
    analyst = make_staff(app, "t1grader", "analyst", scope="D01T01")
    response = analyst.post("/admin/campaigns/demo-2026/grade",
                            data={"csrf_token": analyst.token("/admin/campaigns/demo-2026/grades")})
    db.session.expire_all()
    after = dict(db.session.execute(select(GradeRecord.subject_key, GradeRecord.graded_at)).all())
    assert [after.get(k) for k in other_town] == [before[k] for k in other_town], \
        "another town's grade records were deleted and written again by a town-limited analyst"
    assert response.status_code == 403
    page = analyst.get("/admin/campaigns/demo-2026/grades").get_data(as_text=True)
    assert "/admin/campaigns/demo-2026/grade\"" not in page, "the button is not offered either"

    # a ledger line's owner or note too long is refused whole, not cut short unseen
    line = db.session.scalars(select(RectificationLine)).first()
    line_id, owner = line.id, line.owner
    token = admin.token("/admin/campaigns/demo-2026/rectification")
    refused = admin.post(f"/admin/rectification/{line_id}", data={"csrf_token": token, "status": "open",
                                                                   "owner": "王" * 101, "note": "x"})
    assert refused.status_code == 303
    followed = admin.get("/admin/campaigns/demo-2026/rectification").get_data(as_text=True)
    assert "责任人最多 100 个字" in followed and 'maxlength="100"' in followed
    db.session.expire_all()
    assert db.session.get(RectificationLine, line_id).owner == owner


# --- bad input on the accounts page answers 422 (it answered 200) ---------------------------------

def test_a_too_short_password_is_refused_with_a_4xx(app):
    admin = make_staff(app, "accounts", "admin")
    response = admin.post("/admin/users", data={"csrf_token": admin.token("/admin/users"), "username": "newbie",
                                                "password": "short", "role": "assessor", "scope": ""})
    assert "newbie" not in [u for u in db.session.scalars(select(AuditEntry.target))]
    assert 400 <= response.status_code < 500, response.status_code


# --- who entered a score or marked a veto is stored (the columns stayed empty) --------------------

def test_a_score_and_a_veto_entered_at_the_desk_name_who_entered_them(app):
    open_campaign(villages=1)
    assessor = make_staff(app, "scorer", "assessor", scope="T1")
    from forms import load_builtin
    first = load_builtin("baishan_five_star").indicators()[0]
    page = "/admin/campaigns/t2026/checklist?org=T1V1&stage=panel"
    token = assessor.token(page)
    assert assessor.post("/admin/campaigns/t2026/checklist", data={
        "csrf_token": token, "org": "T1V1", "stage": "panel", f"score__{first.key}": "1"}).status_code == 303
    assessor.post("/admin/campaigns/t2026/vetoes", data={"csrf_token": token, "org": "T1V1",
                                                         "veto": "cadre_misconduct", "stage": "panel",
                                                         "evidence": "纪委通报"})
    from survey_app.models import User
    user_id = db.session.scalar(select(User.id).where(User.username == "scorer"))
    assert db.session.scalars(select(ChecklistScore.entered_by)).one() == user_id
    assert db.session.scalars(select(VetoMark.marked_by)).one() == user_id


# --- an import's audit entry points to its user (it had only the name) ----------------------------

def test_an_import_at_the_desk_is_logged_with_its_user_id_like_other_actions(app, tmp_path):
    from tests.factories import ORG_HEADER, org_rows, write_xlsx
    from tests.integration.test_admin_pages import upload
    from survey_app.models import User
    admin = make_staff(app, "importer2", "admin")
    assert upload(admin, "orgs", write_xlsx(tmp_path / "组织.xlsx", ORG_HEADER, org_rows(1, 2))).status_code == 200
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "import_orgs")).one()
    login = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "login")).one()
    user_id = db.session.scalar(select(User.id).where(User.username == "importer2"))
    assert login.user_id == user_id
    assert (entry.actor, entry.user_id) == ("importer2", user_id)


# --- a veto on a town, and an admin limited to a town, are refused ----------------------------------

def test_a_veto_on_a_town_is_refused_like_the_score_file_refuses_it(app):
    open_campaign(villages=1)
    admin = make_staff(app, "townveto", "admin")
    response = admin.post("/admin/campaigns/t2026/vetoes", data={
        "csrf_token": admin.token("/admin/campaigns/t2026/checklist"), "org": "T1", "veto": "cadre_misconduct",
        "stage": "panel", "evidence": "纪委通报"})
    assert response.status_code == 303 and count(VetoMark) == 0
    assert "不参加评定，不能标记否决项" in admin.get(response.headers["Location"]).get_data(as_text=True)


def test_an_admin_cannot_be_limited_to_a_town(app):
    from survey_app.services.users import UserError, create_user

    open_campaign(villages=1)
    with pytest.raises(UserError, match="管理员管理整个区，不能限定范围"):
        create_user("townadmin", "long-enough-password", "admin", scope_code="T1")
    assert create_user("townanalyst", "long-enough-password", "analyst", scope_code="T1").scope_org_id is not None
