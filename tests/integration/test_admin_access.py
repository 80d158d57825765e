"""Authorisation matrix: every admin route × anonymous / assessor / analyst / admin, and town scope."""
from __future__ import annotations

import re

import pytest

from survey_app.extensions import db
from survey_app.models import Organisation, Person, Poster, TokenBatch
from survey_app.services import campaigns, posters, tokens
from survey_app.services.campaigns import SubjectSpec
from tests.conftest import Staff, make_staff

pytestmark = pytest.mark.db
ANON, ASSESSOR, ANALYST, ADMIN = "anonymous", "assessor", "analyst", "admin"
EVERYONE = {ASSESSOR, ANALYST, ADMIN}

# (method, path, roles allowed) — every /admin route must appear here (checked below)
ROUTES = [
    ("GET", "/admin/", EVERYONE),
    ("GET", "/admin/campaigns", EVERYONE),
    ("GET", "/admin/campaigns/c1", EVERYONE),
    ("GET", "/admin/campaigns/c1/definitions/village_satisfaction", EVERYONE),
    ("GET", "/admin/campaigns/c1/turnout", EVERYONE),
    ("GET", "/admin/campaigns/c1/turnout.json", EVERYONE),
    ("GET", "/admin/campaigns/c1/turnout.csv", EVERYONE),
    ("GET", "/admin/orgs", EVERYONE),
    ("GET", "/admin/orgs/T1V1", EVERYONE),
    ("GET", "/admin/campaigns/c1/paper", {ASSESSOR, ADMIN}),
    ("POST", "/admin/campaigns/c1/paper", {ASSESSOR, ADMIN}),
    ("POST", "/admin/campaigns/c1/paper/record", {ASSESSOR, ADMIN}),
    ("GET", "/admin/campaigns/new", {ADMIN}),
    ("POST", "/admin/campaigns/new", {ADMIN}),
    ("POST", "/admin/campaigns/c1/sheets", {ADMIN}),
    ("POST", "/admin/campaigns/c1/close", {ADMIN}),
    ("GET", "/admin/campaigns/c1/batches", {ADMIN}),
    ("POST", "/admin/campaigns/c1/batches", {ADMIN}),
    ("GET", "/admin/batches/1/slips.pdf", {ADMIN}),
    ("POST", "/admin/batches/1/void", {ADMIN}),
    ("GET", "/admin/campaigns/c1/posters", {ADMIN}),
    ("POST", "/admin/campaigns/c1/posters", {ADMIN}),
    ("GET", "/admin/posters/1.pdf", {ADMIN}),
    ("POST", "/admin/posters/1/close", {ADMIN}),
    ("GET", "/admin/import", {ADMIN}),
    ("POST", "/admin/import", {ADMIN}),
    ("GET", "/admin/audit", {ADMIN}),
    ("GET", "/admin/users", {ADMIN}),
    ("POST", "/admin/users", {ADMIN}),
    ("GET", "/admin/campaigns/c1/checklist", EVERYONE),
    ("POST", "/admin/campaigns/c1/checklist", {ASSESSOR, ADMIN}),
    ("GET", "/admin/campaigns/c1/checklist/template.xlsx", {ASSESSOR, ADMIN}),
    ("POST", "/admin/campaigns/c1/checklist/upload", {ASSESSOR, ADMIN}),
    ("POST", "/admin/campaigns/c1/vetoes", {ASSESSOR, ADMIN}),
    ("POST", "/admin/vetoes/1/withdraw", {ASSESSOR, ADMIN}),
    ("GET", "/admin/campaigns/c1/grades", EVERYONE),
    ("POST", "/admin/campaigns/c1/grade", {ANALYST, ADMIN}),
    ("GET", "/admin/campaigns/c1/rectification", EVERYONE),
    ("GET", "/admin/campaigns/c1/rectification.xlsx", EVERYONE),
    ("POST", "/admin/rectification/1", {ASSESSOR, ADMIN}),
    ("POST", "/admin/logout", EVERYONE),
    ("GET", "/admin/login", EVERYONE | {ANON}),
    ("POST", "/admin/login", EVERYONE | {ANON}),
]


@pytest.fixture
def world(app):
    """Two towns with a village each, a campaign with a sheet in each, a batch and a poster."""
    district = Organisation(code="D", name="区", kind="district")
    towns = [Organisation(code=f"T{t}", name=f"第{t}镇", kind="town", parent=district) for t in (1, 2)]
    villages = [Organisation(code=f"T{t}V1", name=f"第{t}镇一村", kind="village", parent=towns[t - 1]) for t in (1, 2)]
    db.session.add_all([district, *towns, *villages])
    db.session.flush()
    db.session.add(Person(person_key="P1", org_id=villages[0].id, name="张三", role="书记", category="cadre",
                          is_party_member=True))
    c = campaigns.create_campaign("c1", "测试活动", 2026, scheme_key="baishan_village_stars")
    sheets = [campaigns.add_sheet(c, f"{v.code}-masses", f"{v.name}", "village_satisfaction", "masses",
                                  [SubjectSpec(v.code, v.name, org_id=v.id)], org_id=v.id) for v in villages]
    db.session.commit()
    campaigns.open_campaign(c)
    from survey_app.services.slips import issue_with_slips
    issue_with_slips(sheets[0], 3, actor="test")
    posters.create_poster(sheets[0])
    return {"campaign": c, "sheets": sheets}


def clients(app) -> dict[str, Staff]:
    return {ANON: Staff(app), ASSESSOR: make_staff(app, "ass", "assessor", scope="T1"),
            ANALYST: make_staff(app, "ana", "analyst"), ADMIN: make_staff(app, "adm", "admin")}


def test_every_admin_route_is_in_the_matrix(app):
    listed = {(m, p) for m, p, _ in ROUTES}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/admin"):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert any(m == method and _matches(rule.rule, p) for m, p in listed), (method, rule.rule)


def _matches(rule: str, path: str) -> bool:
    import re
    pattern = re.sub(r"<(?:[a-z]+:)?[a-z_]+>", r"[^/]+", rule)
    return re.fullmatch(pattern, path) is not None


def test_each_role_gets_exactly_its_pages(app, world):
    people = clients(app)
    for method, path, allowed in ROUTES:
        for role, client in people.items():
            if path == "/admin/logout":
                continue  # signing out would end the session the rest of the matrix uses
            if method == "GET":
                with client.get(path) as response:
                    status = response.status_code
            else:
                with client.post(path, data={"csrf_token": client.token("/admin/login")}) as response:
                    status = response.status_code
            if role in allowed:
                assert status not in (401, 403) and not (role != ANON and status == 302 and
                                                         method == "GET" and path != "/admin/"), \
                    (role, method, path, status)
            elif role == ANON:
                assert status == 302, (role, method, path, status)  # to the login page
            else:
                assert status == 403, (role, method, path, status)
    for client in people.values():  # anonymous is sent to sign in; staff are signed out
        assert client.post("/admin/logout", data={"csrf_token": client.token("/admin/login")}).status_code == 302


def test_a_town_limited_analyst_cannot_see_another_towns_data(app, world):
    t1 = make_staff(app, "t1analyst", "analyst", scope="T1")
    assert t1.get("/admin/orgs/T1V1").status_code == 200
    assert t1.get("/admin/orgs/T2V1").status_code == 403
    feed = t1.get("/admin/campaigns/c1/turnout.json").get_json()
    assert [r["sheet"] for r in feed["rows"]] == ["T1V1-masses"]
    page = t1.get("/admin/campaigns/c1").get_data(as_text=True)
    assert "T1V1-masses" in page and "T2V1-masses" not in page
    assert "第2镇" not in t1.get("/admin/orgs").get_data(as_text=True)
    csv = t1.get("/admin/campaigns/c1/turnout.csv").get_data(as_text=True)
    assert "T2V1" not in csv and "T1V1" in csv


def test_a_town_limited_assessor_cannot_key_in_another_towns_slip(app, world):
    other = tokens.issue_tokens(world["sheets"][1], 1).codes[0]
    assessor = make_staff(app, "t1ass", "assessor", scope="T1")
    response = assessor.post("/admin/campaigns/c1/paper", data={
        "csrf_token": assessor.token("/admin/campaigns/c1/paper"), "code": tokens.display(other)})
    assert response.status_code == 403


def test_five_wrong_passwords_lock_the_account(app):
    from survey_app.services.users import create_user

    create_user("victim", "right-password-1", "admin")
    client = Staff(app)
    for _ in range(5):
        assert client.login("victim", "wrong-password").status_code == 401
    locked = client.login("victim", "right-password-1")
    assert locked.status_code == 401 and "已锁定 15 分钟" in locked.get_data(as_text=True)
    assert client.get("/admin/campaigns").status_code in (302, 303), "the right password does not get in"


def test_a_locked_account_is_answered_as_an_unknown_name_is(app):
    """The locked reply was a 429 '账号已暂时锁定': a guesser learnt which usernames exist."""
    from survey_app.services.users import create_user

    create_user("victim", "right-password-1", "admin")
    client = Staff(app)
    for _ in range(5):
        client.login("victim", "wrong-password")
    replies = [client.login(name, "wrong-password") for name in ("victim", "nobody-of-that-name")]
    assert [r.status_code for r in replies] == [401, 401]
    error = re.compile(r'<[^>]*class="err[^"]*"[^>]*>(.*?)<', re.S)
    assert error.findall(replies[0].get_data(as_text=True)) == error.findall(replies[1].get_data(as_text=True))


def test_batches_and_posters_exist_for_the_matrix(world):
    assert db.session.get(TokenBatch, 1) is not None and db.session.get(Poster, 1) is not None


def test_an_admin_downloads_real_slips_and_poster_pdfs(app, world, tmp_path):
    import subprocess

    admin = make_staff(app, "pdfadmin", "admin")
    for path in ("/admin/batches/1/slips.pdf", "/admin/posters/1.pdf"):
        with admin.get(path) as response:
            assert response.status_code == 200 and response.mimetype == "application/pdf"
            pdf = tmp_path / path.replace("/", "_")
            pdf.write_bytes(response.get_data())
        subprocess.run(["pdftoppm", "-r", "100", "-png", "-f", "1", "-l", "1", str(pdf), str(pdf)], check=True)
        png = next(tmp_path.glob(pdf.name + "*.png"))
        decoded = subprocess.run(["zbarimg", "--raw", "-q", str(png)], capture_output=True, text=True).stdout.split()
        prefix = "/t/" if "slips" in path else "/p/"
        assert decoded and all(prefix in url for url in decoded), decoded
