"""The desk's own pages: the import report in the page, the audit log, campaign set-up."""
from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from survey_app.extensions import db
from survey_app.models import BallotSheet, Campaign, Person
from tests.conftest import make_staff
from tests.factories import ORG_HEADER, PEOPLE_HEADER, org_rows, people_rows, write_csv, write_xlsx

pytestmark = pytest.mark.db


def upload(staff, kind: str, path):
    """Encoded in memory: the test client spools a body over 500 KB into a file it never closes."""
    token = staff.token("/admin/import")
    upload_file = FileStorage(io.BytesIO(path.read_bytes()), filename=path.name)
    boundary, body = encode_multipart({"csrf_token": token, "kind": kind, "file": upload_file})
    return staff.post("/admin/import", data=body, content_type=f"multipart/form-data; boundary={boundary}")


def test_the_import_page_shows_every_bad_row_and_changes_nothing(app, tmp_path):
    admin = make_staff(app, "importer", "admin")
    ok = upload(admin, "orgs", write_xlsx(tmp_path / "组织.xlsx", ORG_HEADER, org_rows(1, 2)))
    assert ok.status_code == 200 and "导入成功" in ok.get_data(as_text=True)
    rows = people_rows(2000, ["T1V1", "T1V2"])  # a roster larger than a ballot's body cap
    rows[10][4], rows[20][2] = "也许", "NOPE"
    bad = upload(admin, "people", write_xlsx(tmp_path / "人员.xlsx", PEOPLE_HEADER, rows))
    page = bad.get_data(as_text=True)
    assert bad.status_code == 422
    cells = re.findall(r'<tr><td class="n">(\d+)</td><td>([^<]+)</td><td>([^<]+)</td></tr>', page)
    assert [(r, c) for r, c, _ in cells] == [("12", "是否党员"), ("22", "组织编码")]
    assert "没有写入任何数据" in page
    assert db.session.scalar(select(func.count()).select_from(Person)) == 0
    rows[10][4], rows[20][2] = "是", "T1V1"
    good = upload(admin, "people", write_xlsx(tmp_path / "人员2.xlsx", PEOPLE_HEADER, rows))
    assert good.status_code == 200 and "新增 2000" in good.get_data(as_text=True)


def test_a_roster_bigger_than_a_ballot_may_be_is_imported_and_one_past_the_import_cap_is_not(app, tmp_path):
    """The CSRF check reads the form before any view's own hook runs: the import's larger cap must
    already hold then, or every roster over a ballot's 256 KB is refused."""
    admin = make_staff(app, "big-importer", "admin")
    assert upload(admin, "orgs", write_xlsx(tmp_path / "组织.xlsx", ORG_HEADER, org_rows(1, 2))).status_code == 200
    roster = write_csv(tmp_path / "人员.csv", PEOPLE_HEADER, people_rows(12000, ["T1V1", "T1V2"]))
    assert roster.stat().st_size > 2 * app.config["MAX_CONTENT_LENGTH"]
    done = upload(admin, "people", roster)
    assert done.status_code == 200 and "新增 12000" in done.get_data(as_text=True)
    smaller = write_csv(tmp_path / "人员2.csv", PEOPLE_HEADER, people_rows(3000, ["T1V1"], seed=2))
    app.config["MAX_IMPORT_BYTES"] = smaller.stat().st_size // 2
    assert upload(admin, "people", smaller).status_code == 413
    assert db.session.scalar(select(func.count()).select_from(Person)) == 12000


def test_a_file_of_the_wrong_kind_is_refused_with_a_message(app, tmp_path):
    admin = make_staff(app, "importer2", "admin")
    bad = tmp_path / "roster.txt"
    bad.write_text("x")
    response = upload(admin, "people", bad)
    assert response.status_code == 400 and "只支持 .xlsx 和 .csv 文件" in response.get_data(as_text=True)


def test_set_up_a_campaign_from_a_template_through_the_pages(app, tmp_path):
    admin = make_staff(app, "builder", "admin")
    upload(admin, "orgs", write_xlsx(tmp_path / "组织.xlsx", ORG_HEADER, org_rows(2, 3)))
    created = admin.post("/admin/campaigns/new", data={"csrf_token": admin.token("/admin/campaigns/new"),
                                                       "slug": "set-up", "name": "测试", "year": "2026",
                                                       "scheme": "baishan_village_stars"})
    assert created.status_code == 303
    token = admin.token("/admin/campaigns/set-up")
    for questionnaire, group, org in (("village_satisfaction", "masses", "T1"), ("cadre_evaluation", "town_cadre", "T1")):
        response = admin.post("/admin/campaigns/set-up/sheets", data={"csrf_token": token, "questionnaire": questionnaire,
                                                                      "rater_group": group, "org": org})
        assert response.status_code == 303
    sheets = db.session.scalars(select(BallotSheet.key).order_by(BallotSheet.key)).all()
    assert sheets == ["T1V1-masses", "T1V2-masses", "T1V3-masses"], "no cadres yet: the cadre sheet is refused"
    refused = admin.post("/admin/campaigns/set-up/sheets", data={"csrf_token": token, "questionnaire": "village_satisfaction",
                                                                 "rater_group": "superior", "org": "T1"})
    assert refused.status_code == 303 and db.session.scalar(select(func.count()).select_from(BallotSheet)) == 3
    opened = admin.post("/admin/campaigns/set-up/open", data={"csrf_token": token})
    assert opened.status_code == 303
    campaign = db.session.scalar(select(Campaign).where(Campaign.slug == "set-up"))
    db.session.refresh(campaign)
    assert campaign.status == "open" and {d.key for d in campaign.definitions} >= {"village_satisfaction"}
    frozen = admin.get("/admin/campaigns/set-up/definitions/village_satisfaction").get_data(as_text=True)
    assert "key: village_satisfaction" in frozen and "<textarea" not in frozen and "<input" not in frozen.split("<main>")[1]


def test_every_admin_action_is_in_the_audit_log_with_who_and_when(app, tmp_path):
    admin = make_staff(app, "auditor", "admin")
    upload(admin, "orgs", write_xlsx(tmp_path / "组织.xlsx", ORG_HEADER, org_rows(1, 1)))
    admin.post("/admin/campaigns/new", data={"csrf_token": admin.token("/admin/campaigns/new"), "slug": "logged",
                                             "name": "日志", "year": "2026", "scheme": "jiading_tiers"})
    page = admin.get("/admin/audit").get_data(as_text=True)
    rows = re.findall(r'<tr><td>(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)</td><td>([^<]+)</td>'
                      r'<td>([^<]+) <small class="muted"><code>([a-z_]+)</code></small></td>', page)
    actions = [(who, action) for _, who, _label, action in rows]
    assert ("auditor", "新建测评活动", "create_campaign") in [(who, label.strip(), a) for _, who, label, a in rows]
    assert ("auditor", "create_campaign") in actions and ("auditor", "import_orgs") in actions
    assert ("auditor", "login") in actions


def test_roles_are_named_in_the_desks_language(app):
    admin = make_staff(app, "chief", "admin")
    make_staff(app, "scorer", "assessor")
    page = admin.get("/admin/users").get_data(as_text=True)
    assert "chief · 管理员" in page, "the header names the signed-in role"
    assert "<td>scorer</td><td>考评员</td>" in page
    assert '<option value="analyst">分析员</option>' in page, "the stored value stays the key"
    english = admin.get("/admin/users?lang=en").get_data(as_text=True)
    assert "<td>scorer</td><td>Assessor</td>" in english


def test_every_action_the_code_logs_has_a_name_in_the_audit_log():
    from pathlib import Path

    import survey_app
    from survey_app.admin.records import ACTIONS

    package = Path(survey_app.__file__).parent
    source = "\n".join(p.read_text(encoding="utf-8") for p in package.rglob("*.py"))
    logged = set(re.findall(r'audit\.record\(\s*[^,()]+(?:\([^()]*\))?,\s*"([a-z_]+)"', source))
    assert len(logged) >= 20, logged
    assert logged <= set(ACTIONS), f"unnamed in the audit log: {sorted(logged - set(ACTIONS))}"
