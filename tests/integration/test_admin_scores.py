"""Assessors' checklist pages, the Excel round trip, veto marks, grading and the ledger pages."""
from __future__ import annotations

import io
import json
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from forms import load_builtin
from survey_app.extensions import db
from survey_app.models import AuditEntry, Campaign, ChecklistScore, RectificationLine, VetoMark
from tests.conftest import make_staff
from tests.factories import open_campaign

pytestmark = pytest.mark.db
CHECKLIST = load_builtin("baishan_five_star")


@pytest.fixture
def campaign(app):
    c, _ = open_campaign(villages=2)
    return c


def scores_in_db() -> int:
    return db.session.scalar(select(func.count()).select_from(ChecklistScore))


def test_an_assessor_enters_scores_and_one_above_full_marks_saves_nothing(app, campaign):
    assessor = make_staff(app, "checker", "assessor", scope="T1")
    page = "/admin/campaigns/t2026/checklist?org=T1V1&stage=panel"
    first, second = CHECKLIST.indicators()[:2]
    form = {"csrf_token": assessor.token(page), "org": "T1V1", "stage": "panel",
            f"score__{first.key}": str(first.points), f"score__{second.key}": str(second.points + 1)}
    refused = assessor.post("/admin/campaigns/t2026/checklist", data=form)
    assert refused.status_code == 422 and f"最多 {second.points:g} 分" in refused.get_data(as_text=True)
    assert scores_in_db() == 0
    form[f"score__{second.key}"] = str(second.points / 2)
    assert assessor.post("/admin/campaigns/t2026/checklist", data=form).status_code == 303
    stored = dict(db.session.execute(select(ChecklistScore.indicator_key, ChecklistScore.score)).all())
    assert stored == {first.key: first.points, second.key: second.points / 2}
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "record_scores")).one()
    assert entry.actor == "checker" and json.loads(entry.detail) == {"count": 2, "orgs": ["T1V1"]}


def test_an_analyst_may_read_the_scores_but_not_change_them(app, campaign):
    analyst = make_staff(app, "reader", "analyst")
    page = "/admin/campaigns/t2026/checklist?org=T1V1&stage=panel"
    assert analyst.get(page).status_code == 200
    response = analyst.post("/admin/campaigns/t2026/checklist", data={
        "csrf_token": analyst.token(page), "org": "T1V1", "stage": "panel",
        f"score__{CHECKLIST.indicators()[0].key}": "1"})
    assert response.status_code == 403 and scores_in_db() == 0


def test_the_excel_template_round_trip_is_all_or_nothing(app, campaign):
    admin = make_staff(app, "sheets", "admin")
    with admin.get("/admin/campaigns/t2026/checklist/template.xlsx?stage=panel") as response:
        book = load_workbook(io.BytesIO(response.get_data()))
    sheet = book["得分"]
    rows = list(sheet.iter_rows(min_row=2))
    assert len(rows) == 2 * len(CHECKLIST.indicators())  # two villages × 65 indicators
    for row in rows:
        row[6].value = row[4].value  # full marks everywhere
    rows[3][6].value = rows[3][4].value + 5   # row 5: above full marks
    rows[7][6].value = "很好"                 # row 9: not a number
    bad = io.BytesIO()
    book.save(bad)

    def upload(data: bytes):
        return admin.post("/admin/campaigns/t2026/checklist/upload", content_type="multipart/form-data", data={
            "csrf_token": admin.token("/admin/campaigns/t2026/checklist"),
            "file": (io.BytesIO(data), "scores.xlsx")})

    refused = upload(bad.getvalue())
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "2 处错误" in page
    assert "<td class=\"n\">5</td>" in page and "<td class=\"n\">9</td>" in page
    assert scores_in_db() == 0
    rows[3][6].value, rows[7][6].value = rows[3][4].value, rows[7][4].value
    book["否决项"].append(["T1V2", "cadre_misconduct", "2026年3月受党内警告处分"])
    good = io.BytesIO()
    book.save(good)
    assert upload(good.getvalue()).status_code == 303
    assert scores_in_db() == 2 * len(CHECKLIST.indicators())
    mark = db.session.scalars(select(VetoMark)).one()
    assert (mark.veto_key, mark.evidence) == ("cadre_misconduct", "2026年3月受党内警告处分")


def _filled_template(staff, vetoes: list[list[str]]) -> bytes:
    with staff.get("/admin/campaigns/t2026/checklist/template.xlsx?stage=panel") as response:
        book = load_workbook(io.BytesIO(response.get_data()))
    for row in book["得分"].iter_rows(min_row=2):
        row[6].value = row[4].value
    for veto in vetoes:
        book["否决项"].append(veto)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _upload(staff, data: bytes):
    return staff.post("/admin/campaigns/t2026/checklist/upload", content_type="multipart/form-data", data={
        "csrf_token": staff.token("/admin/campaigns/t2026/checklist"), "file": (io.BytesIO(data), "scores.xlsx")})


def test_a_score_file_whose_vetoes_are_wrong_is_refused_row_by_row_and_stores_nothing(app, campaign):
    """A mistyped veto code used to end in a server error after the file's scores were already stored."""
    admin = make_staff(app, "vetofile", "admin")
    refused = _upload(admin, _filled_template(admin, [
        ["T1V1", "cadre_misconduct", "2026年3月受党内警告处分"],   # row 2: good
        ["T1V2", "cadre_misconduk", "纪委通报"],                 # row 3: no such veto
        ["T1V2", "major_incident", ""],                         # row 4: no evidence
        ["T1V1", "cadre_misconduct", "又一次"],                  # row 5: the same veto twice
        ["", "weak_and_lax", "整顿名单"],                         # row 6: no organisation
    ]))
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "4 处错误，没有导入任何得分" in page
    for row, column, problem in ((3, "否决项", "否决项“cadre_misconduk”不在清单中（应为 “cadre_misconduct”、"),
                                 (4, "事实依据", "否决项必须附上事实依据"), (5, "否决项", "与第 2 行重复"),
                                 (6, "组织编码", "缺少组织编码")):
        assert (f'<td class="nowrap">否决项</td><td class="n">{row}</td><td class="nowrap">{column}</td>'
                f'<td>{problem}') in page, problem
    assert "<th>工作表</th>" in page
    assert scores_in_db() == 0 and db.session.scalar(select(func.count()).select_from(VetoMark)) == 0


def test_a_score_file_uploaded_twice_marks_its_veto_once_and_one_outside_the_scope_is_refused(app, campaign):
    admin = make_staff(app, "twice", "admin")
    good = _filled_template(admin, [["T1V2", "cadre_misconduct", "2026年3月受党内警告处分"]])
    assert _upload(admin, good).status_code == 303 and _upload(admin, good).status_code == 303
    assert db.session.scalar(select(func.count()).select_from(VetoMark)) == 1
    assert scores_in_db() == 2 * len(CHECKLIST.indicators())

    assessor = make_staff(app, "town-one", "assessor", scope="T1V1")
    with assessor.get("/admin/campaigns/t2026/checklist/template.xlsx?stage=panel") as response:
        book = load_workbook(io.BytesIO(response.get_data()))
    book["否决项"].append(["T1V2", "major_incident", "安监通报"])  # a village this assessor does not score
    data = io.BytesIO()
    book.save(data)
    refused = _upload(assessor, data.getvalue())
    assert refused.status_code == 422 and "组织“T1V2”不在您的范围内或不参加评定" in refused.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(VetoMark)) == 1


def test_a_veto_needs_its_evidence_and_can_be_withdrawn(app, campaign):
    admin = make_staff(app, "vetoer", "admin")
    token = admin.token("/admin/campaigns/t2026/checklist")
    admin.post("/admin/campaigns/t2026/vetoes", data={"csrf_token": token, "org": "T1V1", "veto": "cadre_misconduct",
                                                      "stage": "panel", "evidence": "  "})
    assert db.session.scalar(select(func.count()).select_from(VetoMark)) == 0
    admin.post("/admin/campaigns/t2026/vetoes", data={"csrf_token": token, "org": "T1V1", "veto": "cadre_misconduct",
                                                      "stage": "panel", "evidence": "纪委通报"})
    mark = db.session.scalars(select(VetoMark)).one()
    assert admin.post(f"/admin/vetoes/{mark.id}/withdraw", data={"csrf_token": token}).status_code == 303
    db.session.refresh(mark)
    assert mark.withdrawn_at is not None
    assert {"mark_veto", "withdraw_veto"} <= set(db.session.scalars(select(AuditEntry.action)))


def test_grading_opens_ledger_lines_that_are_closed_one_by_one_and_exported(app, pingyi, instance):
    assert pingyi("demo", "--simulate", "300").exit_code == 0
    admin = make_staff(app, "ledger", "admin")
    graded = admin.post("/admin/campaigns/demo-2026/grade",
                        data={"csrf_token": admin.token("/admin/campaigns/demo-2026/grades")})
    assert graded.status_code == 303
    page = admin.get("/admin/campaigns/demo-2026/grades").get_data(as_text=True)
    assert page.count("<details>") == 24 and "综合得分 =" in page
    lines = db.session.scalars(select(RectificationLine)).all()
    assert lines
    first, second = lines[0], lines[1]
    token = admin.token("/admin/campaigns/demo-2026/rectification")
    admin.post(f"/admin/rectification/{first.id}", data={"csrf_token": token, "status": "done", "done_on": "2026-12-01",
                                                          "owner": "张书记", "deadline": "2027-02-28", "note": "已整改"})
    admin.post(f"/admin/rectification/{second.id}", data={"csrf_token": token, "status": "open",
                                                           "deadline": (date.today() - timedelta(days=1)).isoformat(),
                                                           "owner": second.owner})
    db.session.refresh(first)
    assert (first.status, first.done_on, first.owner) == ("done", date(2026, 12, 1), "张书记")
    page = admin.get("/admin/campaigns/demo-2026/rectification").get_data(as_text=True)
    assert "逾期 1" in page and page.count('class="overdue"') == 1
    with admin.get("/admin/campaigns/demo-2026/rectification.xlsx") as response:
        sheet = load_workbook(io.BytesIO(response.get_data())).active
    statuses = [row[8] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert statuses.count("已销号") == 1 and len(statuses) == len(lines)
    logged = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "update_rectification")
                                .order_by(AuditEntry.id)).first()
    assert json.loads(logged.detail)["after"] == ["done", "张书记", "2027-02-28", "2026-12-01", "已整改"], \
        "the done-on day and the note are logged too"


def test_a_ledger_line_without_a_score_is_shown_and_exported(app, pingyi, instance):
    """A unit below the line with no indicator scores gets a line with no score (analysis.grading);
    the ledger page formatted every score with %g and would have answered 500."""
    assert pingyi("demo").exit_code == 0
    campaign = db.session.scalars(select(Campaign)).one()
    db.session.add(RectificationLine(campaign_id=campaign.id, subject_key="D01T01V01", subject_name="东风村",
                                     grade="二星", indicator_key="", label="等次 二星 低于 三星（没有指标得分，请对照评定理由整改）",
                                     score=None, full_marks=None, owner="村党组织书记", status="open",
                                     opened_on=date.today()))
    db.session.commit()
    admin = make_staff(app, "ledger2", "admin")
    page = admin.get("/admin/campaigns/demo-2026/rectification")
    assert page.status_code == 200 and "没有指标得分" in page.get_data(as_text=True)
    with admin.get("/admin/campaigns/demo-2026/rectification.xlsx") as response:
        rows = list(load_workbook(io.BytesIO(response.get_data())).active.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 1 and "没有指标得分" in " ".join(str(v) for v in rows[0] if v is not None)
