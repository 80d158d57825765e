"""Organisation and roster imports: all or nothing, every bad row reported, idempotent."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from survey_app.extensions import db
from survey_app.models import AuditEntry, Organisation, Person
from survey_app.services.imports import import_orgs, import_people
from tests.factories import ORG_HEADER, PEOPLE_HEADER, org_rows, people_rows, write_csv, write_xlsx

pytestmark = pytest.mark.db


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def people_snapshot() -> list[tuple]:
    return db.session.execute(select(Person.person_key, Person.name, Person.org_id, Person.role,
                                     Person.is_party_member).order_by(Person.person_key)).all()


@pytest.fixture
def villages(app, tmp_path) -> list[str]:
    report = import_orgs(write_xlsx(tmp_path / "orgs.xlsx", ORG_HEADER, org_rows(2, 3)))
    assert report.ok, report.errors
    return [r[0] for r in org_rows(2, 3) if "V" in r[0]]


def test_the_org_tree_imports_with_parents_and_kinds(app, tmp_path):
    rows = org_rows(2, 3)
    rows = [rows[-1], *rows[:-1]]  # a child before its parent is fine
    report = import_orgs(write_xlsx(tmp_path / "orgs.xlsx", ORG_HEADER, rows))
    assert report.ok and report.created == 9
    village = db.session.scalar(select(Organisation).where(Organisation.code == "T2V3"))
    assert village.kind == "village" and village.parent.code == "T2" and village.parent.parent.code == "D01"


def test_a_10000_row_roster_imports_and_the_same_file_with_7_bad_rows_changes_nothing(villages, tmp_path):
    rows = people_rows(10_000, villages)
    good = write_xlsx(tmp_path / "roster.xlsx", PEOPLE_HEADER, rows)
    report = import_people(good)
    assert report.ok and (report.rows, report.created) == (10_000, 10_000)
    assert count(Person) == 10_000
    before = people_snapshot()

    bad_rows = [list(r) for r in rows]
    for r in bad_rows:  # edits that would be applied if the file were accepted
        r[3] = "村务监督委员"
    bad_rows[10][1] = ""             # row 12: no name
    bad_rows[99][2] = "NOPE"         # row 101: unknown organisation
    bad_rows[500][4] = "可能"        # row 502: party membership unreadable
    bad_rows[2000][5] = "领导"       # row 2002: unknown category
    bad_rows[4000][6] = "未知"       # row 4002: gender
    bad_rows[7000][0] = bad_rows[6999][0]  # row 7002: same person number as row 7001
    bad_rows[9999][2] = ""           # row 10001: organisation missing
    report = import_people(write_xlsx(tmp_path / "roster_bad.xlsx", PEOPLE_HEADER, bad_rows))
    assert not report.ok
    assert [(e.row, e.column) for e in report.errors] == [
        (12, "姓名"), (101, "组织编码"), (502, "是否党员"), (2002, "人员类别"), (4002, "性别"),
        (7002, "人员编号"), (10001, "组织编码")]
    assert str(report.errors[2]) == "第 502 行，“是否党员”列：无法识别“可能”，请填写“是”或“否”"
    assert "第 101 行，“组织编码”列：组织编码“NOPE”不存在" in str(report.errors[1])
    assert "有 7 处错误，涉及 7 行。没有写入任何数据" in report.summary()
    assert people_snapshot() == before

    again = import_people(good)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 10_000)
    assert people_snapshot() == before


def test_a_reimport_updates_only_what_changed(villages, tmp_path):
    rows = people_rows(50, villages)
    import_people(write_csv(tmp_path / "p.csv", PEOPLE_HEADER, rows))
    rows[3][3] = "村党支部书记"
    report = import_people(write_csv(tmp_path / "p2.csv", PEOPLE_HEADER, rows))
    assert (report.created, report.updated, report.unchanged) == (0, 1, 49)
    assert db.session.scalar(select(Person.role).where(Person.person_key == rows[3][0])) == "村党支部书记"


def test_a_gb18030_csv_with_english_headers_and_no_person_number_imports(villages, tmp_path):
    header = ["name", "org_code", "role", "party_member"]
    rows = [["张三", villages[0], "村民", "否"], ["李四", villages[0], "党支部书记", "是"]]
    report = import_people(write_csv(tmp_path / "p.csv", header, rows, encoding="gb18030"))
    assert report.ok and report.created == 2
    li = db.session.scalar(select(Person).where(Person.name == "李四"))
    assert li.category == "cadre" and li.is_party_member and li.person_key == f"{villages[0]}|李四|党支部书记"
    assert import_people(write_csv(tmp_path / "p.csv", header, rows, encoding="gb18030")).created == 0


def test_a_missing_column_is_a_file_error_and_changes_nothing(villages, tmp_path):
    report = import_people(write_xlsx(tmp_path / "p.xlsx", ["姓名", "组织编码"], [["张三", villages[0]]]))
    assert report.file_error == "p.xlsx：缺少必需的列 “是否党员”"
    assert count(Person) == 0


def test_an_unreadable_file_gets_a_message_not_a_traceback(app, tmp_path):
    path = tmp_path / "orgs.xlsx"
    path.write_bytes(b"this is not a zip file")
    report = import_orgs(path)
    assert not report.ok and "无法作为 Excel 文件打开" in report.file_error
    (tmp_path / "orgs.txt").write_text("x")
    assert "只支持 .xlsx 和 .csv" in import_orgs(tmp_path / "orgs.txt").file_error


def test_org_errors_cover_unknown_parents_cycles_duplicates_and_kinds(app, tmp_path):
    rows = [["D01", "测试区", "", "区"], ["A", "甲镇", "B", "镇"], ["B", "乙镇", "A", "镇"],
            ["C", "丙村", "ZZ", "村"], ["D01", "重复区", "", "区"], ["E", "丁", "D01", "星球"]]
    report = import_orgs(write_xlsx(tmp_path / "orgs.xlsx", ORG_HEADER, rows))
    messages = [str(e) for e in report.errors]
    assert any(m.startswith("第 3 行，“上级组织”列：上级组织形成了循环") for m in messages)
    assert any(m.startswith("第 4 行，“上级组织”列：上级组织形成了循环") for m in messages)
    assert "第 5 行，“上级组织”列：上级组织“ZZ”不存在，文件和系统中都没有这个编码" in messages
    assert "第 6 行，“组织编码”列：组织编码“D01”与第 2 行重复" in messages
    assert any(m.startswith("第 7 行，“组织类型”列：无法识别组织类型“星球”") for m in messages)
    assert count(Organisation) == 0


def test_a_moved_village_gets_its_new_parent_on_reimport(app, tmp_path):
    rows = org_rows(2, 1)
    import_orgs(write_xlsx(tmp_path / "a.xlsx", ORG_HEADER, rows))
    rows[-1][2] = "T1"  # T2V1 moves to town T1
    report = import_orgs(write_xlsx(tmp_path / "b.xlsx", ORG_HEADER, rows))
    assert (report.created, report.updated) == (0, 1)
    assert db.session.scalar(select(Organisation).where(Organisation.code == "T2V1")).parent.code == "T1"


def test_every_successful_import_is_in_the_audit_log(villages, tmp_path):
    import_people(write_csv(tmp_path / "p.csv", PEOPLE_HEADER, people_rows(5, villages)), actor="zhang")
    entry = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert (entry.actor, entry.action, entry.target) == ("zhang", "import_people", "p.csv")
