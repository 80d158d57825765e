"""Issuing, export, turnout and import corners, each once a bug: a 13-character village name or a long
campaign name that crashed the slips, a rehearsal's slips left on disk and served for a later batch,
a batch drawn during a purge stored as test data, a code colliding with an earlier batch, names as
live formulas in `pingyi turnout --csv` and the codes CSV, an .xlsx past Excel's row limit, a parent
said to be missing from a file that has it, and keys and labels longer than their columns.
"""
from __future__ import annotations

import csv
import io
import re
import subprocess
import zipfile

import pandas as pd
import pytest
from sqlalchemy import func, select, update

from survey_app.extensions import db
from survey_app.models import BallotSheet, Campaign, Organisation, Person, SheetSubject, Token, TokenBatch
from survey_app.services import campaigns, casting, imports, rehearsal, tokens
from survey_app.services.slips import batch_pdf_path
from tests.conftest import make_staff
from tests.factories import PEOPLE_HEADER, open_campaign, write_csv

pytestmark = pytest.mark.db

FORMULA = "=1+2"  # a name Excel would compute (3); "-东风村" or "+东风村" would show as #NAME?


def stored() -> tuple[int, int]:
    db.session.remove()
    return (db.session.scalar(select(func.count()).select_from(TokenBatch)),
            db.session.scalar(select(func.count()).select_from(Token)))


def campaign_for_village(village_name: str, *, slug: str = "f2026", open_it: bool = True,
                         kind: str = "village") -> BallotSheet:
    """A town with one village named ``village_name``, and its villager sheet made by the admin desk's
    service (the title is built from the village name, as imported from a roster)."""
    town = Organisation(code="T9", name="第九镇", kind="town")
    village = Organisation(code="T9V1", name=village_name, kind=kind, parent=town)
    db.session.add_all([town, village])
    db.session.flush()
    campaign = campaigns.create_campaign(slug, "测试区2026年度测评", 2026, scheme_key="baishan_village_stars")
    [sheet] = campaigns.add_sheets_for(campaign, "village_satisfaction", "masses", town)
    if open_it:
        campaigns.open_campaign(campaign)
    return sheet


def cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


# --- slips ---------------------------------------------------------------------------------------

LONG_CAMPAIGN = "示范区2026年度村（社区）党组织书记抓基层党建工作述职评议考核暨村两委班子群众满意度测评"  # 46 chars


def test_a_campaign_name_too_long_for_a_slip_is_a_message_not_a_traceback(app, pingyi, tmp_path):
    """The admin form takes names of up to 200 characters; the slip's header holds about 41. The
    ValueError from reports.fonts.fit_text is neither an OSError nor a TokenError, so it escapes
    issue_with_slips and the command as a traceback."""
    campaign, _sheets = open_campaign(open_it=False)
    campaign.name = LONG_CAMPAIGN
    db.session.commit()
    campaigns.open_campaign(campaign)
    done = pingyi("issue-tokens", "t2026", "--sheet", "T1V1-masses", "--count", "3",
                  "--out", str(tmp_path / "s.pdf"))  # raises ValueError today (catch_exceptions=False)
    assert done.exit_code == 1 and "没有发放测评码" in done.output
    assert stored() == (0, 0)


def test_a_campaign_name_too_long_for_a_slip_on_the_admin_desk_is_a_message_not_a_500(app):
    campaign, sheets = open_campaign(open_it=False)
    campaign.name = LONG_CAMPAIGN
    db.session.commit()
    campaigns.open_campaign(campaign)
    admin = make_staff(app, "issuer", "admin")
    path = "/admin/campaigns/t2026/batches"
    app.config["PROPAGATE_EXCEPTIONS"] = False  # what a real server does: an uncaught error is a 500
    done = admin.post(path, data={"sheet": str(sheets["V1"].id), "count": "3", "csrf_token": admin.token(path)})
    assert done.status_code == 303, done.status_code  # 500 today
    assert stored() == (0, 0)


def test_a_sheet_for_an_organisation_with_an_ordinary_long_name_gets_its_slips(app, pingyi, tmp_path):
    """add_sheets_for titles a sheet '<org name>·<questionnaire title>（<group>）', and the slip
    prints the name (2 lines) above the title (2 lines) beside the QR. From 12 characters of name
    the column overflows, so a community named '经济技术开发区锦绣花园社区' (13) can never have slips:
    fit_text's ValueError escapes as a traceback, and nothing on the desk renames a sheet."""
    sheet = campaign_for_village("经济技术开发区锦绣花园社区", kind="community")
    done = pingyi("issue-tokens", "f2026", "--sheet", sheet.key, "--count", "2", "--out", str(tmp_path / "s.pdf"))
    assert done.exit_code == 0, done.output
    assert stored() == (1, 2)


# --- codes ---------------------------------------------------------------------------------------

def test_a_code_that_collides_with_an_earlier_batch_is_redrawn_not_a_traceback(app, pingyi, tmp_path,
                                                                                 monkeypatch):
    """new_codes only keeps a batch's codes distinct among themselves. A code equal to one already
    stored (rare, but certain over enough batches) hits token.code_hash's UNIQUE constraint after
    the slips are drawn: an IntegrityError traceback, and the batch is not issued."""
    open_campaign()
    draws = iter(["ABCDE23456", "ABCDE23456", "XYZWV98765"])
    monkeypatch.setattr(tokens, "new_code", lambda: next(draws))
    first = pingyi("issue-tokens", "t2026", "--sheet", "T1V1-masses", "--count", "1", "--out", str(tmp_path / "a.pdf"))
    assert first.exit_code == 0, first.output
    second = pingyi("issue-tokens", "t2026", "--sheet", "T1V1-masses", "--count", "1",
                    "--out", str(tmp_path / "b.pdf"))  # IntegrityError today
    assert second.exit_code == 0, second.output
    assert stored() == (2, 2)
    assert casting.lookup("XYZWV98765") is not None


def test_a_rehearsal_purge_removes_the_slips_kept_for_its_batches(app, instance):
    """The admin desk keeps each batch's slips (plain codes) as instance/batches/batch-N.pdf.
    Voiding a batch removes it; purging a rehearsal deletes the batch rows but leaves the PDFs."""
    campaign, sheets = open_campaign(open_it=False)
    cid = campaign.id
    rehearsal.start_rehearsal(campaign)
    admin = make_staff(app, "issuer", "admin")
    path = "/admin/campaigns/t2026/batches"
    done = admin.post(path, data={"sheet": str(sheets["V1"].id), "count": "4", "csrf_token": admin.token(path)})
    assert done.status_code == 303 and stored() == (1, 4)
    batch_id = db.session.scalar(select(TokenBatch.id))
    assert batch_pdf_path(batch_id).exists()
    rehearsal.purge_rehearsal(db.session.get(Campaign, cid))
    assert stored() == (0, 0)
    assert not batch_pdf_path(batch_id).exists(), "the rehearsal's slips stay on disk after its batch is gone"


def test_a_batch_issued_after_a_purge_is_never_served_the_rehearsals_slips(app, instance, pingyi, tmp_path):
    """On SQLite a deleted batch's id is given to the next batch (no AUTOINCREMENT). A real batch
    issued from the command line after a purge then 'has' the rehearsal's left-over PDF, and the
    admin desk offers it as that batch's slips: every code on it is dead."""
    campaign, sheets = open_campaign(open_it=False)
    cid = campaign.id
    rehearsal.start_rehearsal(campaign)
    admin = make_staff(app, "issuer", "admin")
    path = "/admin/campaigns/t2026/batches"
    admin.post(path, data={"sheet": str(sheets["V1"].id), "count": "4", "csrf_token": admin.token(path)})
    rehearsal.purge_rehearsal(db.session.get(Campaign, cid))
    campaigns.open_campaign(db.session.get(Campaign, cid))
    done = pingyi("issue-tokens", "t2026", "--sheet", "T1V1-masses", "--count", "4", "--out", str(tmp_path / "real.pdf"))
    assert done.exit_code == 0, done.output
    db.session.remove()
    batch_id = db.session.scalar(select(TokenBatch.id))
    with admin.get(f"/admin/batches/{batch_id}/slips.pdf") as response:
        if response.status_code == 404:
            return  # fine: this batch's slips went to real.pdf, none are kept
        assert response.status_code == 200
        served = tmp_path / "served.pdf"
        served.write_bytes(response.get_data())
    text = subprocess.run(["pdftotext", str(served), "-"], capture_output=True, text=True, check=True).stdout
    codes = re.findall(r"\b[2-9A-Z]{5}-[2-9A-Z]{5}\b", text)
    assert codes
    dead = [c for c in codes if casting.lookup(tokens.normalise(c)) is None]
    assert not dead, f"batch {batch_id}'s download holds {len(dead)} codes that are not stored: the rehearsal's"


def test_a_batch_drawn_while_the_rehearsal_is_purged_is_not_stored_as_test_data(app, pingyi, tmp_path, monkeypatch):
    """issue_tokens refreshes the campaign's status after the slips are drawn (test_issuing covers a
    close meanwhile) but not its rehearsal flag: a batch drawn during a rehearsal that is purged
    meanwhile is stored in the draft campaign as rehearsal=True, and the next rehearsal's purge
    deletes these real, handed-out slips."""
    from survey_app.services import slips

    campaign, _sheets = open_campaign(open_it=False)
    cid = campaign.id
    rehearsal.start_rehearsal(campaign)
    real = slips.write_slips

    def drawn_during_a_purge(*args, **kwargs):  # another desk purges the rehearsal meanwhile
        with db.engine.begin() as other:
            other.execute(update(Campaign).where(Campaign.id == cid)
                          .values(status="draft", rehearsal=False, opened_at=None))
        return real(*args, **kwargs)

    monkeypatch.setattr(slips, "write_slips", drawn_during_a_purge)
    done = pingyi("issue-tokens", "t2026", "--sheet", "T1V1-masses", "--count", "3", "--out", str(tmp_path / "s.pdf"))
    db.session.remove()
    campaign = db.session.get(Campaign, cid)
    assert (campaign.status, campaign.rehearsal) == ("draft", False)
    if done.exit_code != 0:
        assert stored() == (0, 0)  # refusing the batch is a fix too
        return
    batch = db.session.scalar(select(TokenBatch))
    assert batch.rehearsal is False, "a batch issued for a draft campaign is stored as rehearsal data"


# --- CSV files that Excel opens ------------------------------------------------------------------

def test_the_codes_csv_does_not_carry_a_formula_from_a_village_name(app, pingyi, tmp_path):
    """write_codes_csv writes the sheet title (built from the imported village name) raw; the admin
    turnout CSV passes the same kind of text through export.csv_safe."""
    sheet = campaign_for_village(FORMULA)
    codes = tmp_path / "codes.csv"
    done = pingyi("issue-tokens", "f2026", "--sheet", sheet.key, "--count", "2", "--out", str(tmp_path / "s.pdf"),
                  "--codes", str(codes))
    assert done.exit_code == 0, done.output
    live = [c for c in cells(codes.read_text(encoding="utf-8-sig")) if c.startswith(("=", "+", "-", "@"))]
    assert not live, live


def test_turnout_csv_on_the_command_line_does_not_carry_a_formula_from_an_organisation_name(app, pingyi):
    """`pingyi turnout --csv` writes organisation names raw; /admin/…/turnout.csv escapes them."""
    campaign_for_village(FORMULA)
    done = pingyi("turnout", "f2026", "--csv")
    assert done.exit_code == 0, done.output
    assert {FORMULA, "'" + FORMULA} & set(cells(done.output))  # the row is there
    live = [c for c in cells(done.output) if c.startswith(("=", "+", "-", "@"))]
    assert not live, live


def test_turnout_on_the_command_line_counts_rehearsal_ballots_as_the_desk_does(app, pingyi, voter):
    """`pingyi turnout` (table and --csv) left rehearsal ballots out, while the desk's CSV has them;
    and its table was padded by characters, so every Chinese name pushed its row out of line."""
    from survey_app.services.sheets import sheet_definition
    from tests.factories import full_answers

    campaign, sheets = open_campaign(open_it=False)
    rehearsal.start_rehearsal(campaign)
    code = tokens.display(tokens.issue_tokens(sheets["V1"], 2).codes[0])
    q, subjects = sheet_definition(sheets["V1"])
    assert voter.vote(code, full_answers(q, subjects)).status_code == 200
    done = pingyi("turnout", "t2026", "--csv")
    assert done.exit_code == 0, done.output
    row = next(r for r in csv.DictReader(io.StringIO(done.output)) if r["sheet"] == "T1V1-masses")
    assert (row["rehearsal"], row["token"], row["used"]) == ("1", "0", "1")
    table = pingyi("turnout", "t2026")
    assert table.exit_code == 0, table.output
    from survey_app.cli.columns import columns

    lines = table.output.splitlines()[:-1]  # the total line is a sentence
    header, rows = lines[0], lines[1:]
    assert "0/0/0/1" in next(line for line in rows if line.startswith("T1V1-masses"))
    ends = {columns(line) for line in rows}  # right-aligned numbers: every row ends in one column
    assert len(ends) == 1 and columns(header) == ends.pop(), lines


def test_codes_and_slips_at_one_path_are_refused_before_anything_is_issued(app, pingyi, tmp_path):
    """The codes CSV, written second, replaced the slips PDF: the batch was stored and its slips lost."""
    open_campaign()
    same = tmp_path / "slips.pdf"
    done = pingyi("issue-tokens", "t2026", "--sheet", "T1V1-masses", "--count", "3", "--out", str(same),
                  "--codes", str(tmp_path / "." / "slips.pdf"))
    assert done.exit_code == 2 and "--codes 不能与 --out 是同一个文件" in done.output
    assert not same.exists() and stored() == (0, 0)


# --- export --------------------------------------------------------------------------------------

EXCEL_MAX_ROWS = 1_048_576


def test_an_xlsx_export_never_writes_more_rows_than_excel_can_open(tmp_path):
    """write_xlsx appends every row to one sheet. A county's table passes Excel's 1,048,576 rows
    (20,000 villagers x 10 items is 200,000; a cadre grid of 300 x 30 x 10 is 90,000 per town), and
    the file is then one that Excel opens only in part. (One column here to keep the test short;
    write_xlsx does not look at the row count at all.)"""
    from survey_app.services.export import write_ratings

    frame = pd.DataFrame({"value": [1.0] * EXCEL_MAX_ROWS})  # + the header row = one row too many
    out = tmp_path / "ratings.xlsx"
    try:
        write_ratings(frame, out)
    except ValueError:
        assert not out.exists()
        return  # refused with a message: fine
    with zipfile.ZipFile(out) as book:
        for name in book.namelist():
            if name.startswith("xl/worksheets/"):
                rows = [int(r) for r in re.findall(rb'<row r="(\d+)"', book.read(name))]
                assert max(rows) <= EXCEL_MAX_ROWS, f"{name} has row {max(rows)}"


# --- imports -------------------------------------------------------------------------------------

def test_a_parent_whose_own_row_is_bad_is_not_said_to_be_missing_from_the_file(app, tmp_path):
    """The parent check looks only among the rows that parsed cleanly, so a village under a town
    whose row has an empty name is told its parent is "in neither the file nor the system"."""
    from tests.factories import ORG_HEADER, write_xlsx

    rows = [["D01", "测试区", "", "区"], ["T1", "", "D01", "镇"], ["T1V1", "第一村", "T1", "村"]]
    report = imports.import_orgs(write_xlsx(tmp_path / "orgs.xlsx", ORG_HEADER, rows))
    messages = [str(e) for e in report.errors]
    assert "第 3 行，“组织名称”列：组织名称不能为空" in messages
    assert not any("文件和系统中都没有这个编码" in m for m in messages), messages


def test_a_person_without_a_number_gets_a_key_that_fits_its_column(app, tmp_path):
    """Without 人员编号 the key is 'org|name|role': up to 64 + 100 + 100 + 2 characters, each part
    within the limits the importer checks, into person.person_key VARCHAR(200). SQLite stores it;
    PostgreSQL refuses the INSERT with a DataError (a traceback, not a row error)."""
    db.session.add(Organisation(code="T1V1", name="第一村", kind="village"))
    db.session.commit()
    name, role = "张" * 100, "委" * 100
    report = imports.import_people(write_csv(tmp_path / "p.csv", PEOPLE_HEADER,
                                             [["", name, "T1V1", role, "是", "干部", "男"]]))
    limit = Person.__table__.c.person_key.type.length
    if report.ok:
        keys = list(db.session.scalars(select(Person.person_key)))
        assert all(len(k) <= limit for k in keys), [len(k) for k in keys]
    else:
        assert report.errors  # refused with a row error: fine


def test_a_sheet_made_for_an_imported_village_fits_its_title_column(app):
    """Organisation names may be 200 characters (the importer's limit and the column's); the sheet
    title 'name·questionnaire（group）' and the cadre label 'name（org role）' built from them go into
    VARCHAR(200) columns. PostgreSQL refuses them with a DataError (a 500 on the admin desk, whose
    handler catches only CampaignError and IntegrityError)."""
    long_name = "东" * 199 + "村"
    try:
        sheet = campaign_for_village(long_name, open_it=False)
    except campaigns.CampaignError:
        return  # refused with a message: fine
    limit = BallotSheet.__table__.c.title.type.length
    assert len(sheet.title) <= limit, f"title of {len(sheet.title)} characters into VARCHAR({limit})"


def test_a_cadre_sheet_label_fits_its_column(app):
    town = Organisation(code="T9", name="镇" * 200, kind="town")
    db.session.add(town)
    db.session.flush()
    db.session.add(Person(person_key="C1", org_id=town.id, name="干" * 100, role="部" * 100,
                          category="cadre", is_party_member=True))
    db.session.flush()
    campaign = campaigns.create_campaign("g2026", "测评", 2026)
    try:
        campaigns.add_sheets_for(campaign, "cadre_evaluation", "town_cadre", town)
    except campaigns.CampaignError:
        return
    limit = SheetSubject.__table__.c.label.type.length
    labels = list(db.session.scalars(select(SheetSubject.label)))
    assert all(len(label) <= limit for label in labels), [len(label) for label in labels]
