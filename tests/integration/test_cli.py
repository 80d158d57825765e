"""The ``pingyi`` command as an organisation department would use it."""
from __future__ import annotations

import os
import stat
import zipfile

import pytest
from sqlalchemy import func, select

from forms import builtin_paths
from survey_app.extensions import db
from survey_app.models import BallotSheet, Campaign, Organisation, Person, User
from tests.factories import ORG_HEADER, PEOPLE_HEADER, org_rows, people_rows, write_xlsx

pytestmark = pytest.mark.db


def test_validate_accepts_every_builtin_and_names_the_fault_in_a_broken_file(pingyi, tmp_path):
    ok = pingyi("validate", *map(str, builtin_paths()))
    assert ok.exit_code == 0, ok.output
    assert "village_satisfaction.yaml: 通过 — 测评表“village_satisfaction” 第 1 版" in ok.output

    broken = tmp_path / "mine.yaml"
    text = builtin_paths()[0].read_text(encoding="utf-8")
    broken.write_text(text.replace("kind:", "kind: nonsense\nx:", 1), encoding="utf-8")
    line = text[:text.index("kind:")].count("\n") + 1
    result = pingyi("validate", str(broken))
    assert result.exit_code == 1
    assert (f"mine.yaml 第 {line} 行：字段“kind”必须是 questionnaire、checklist、scheme 之一，"
            "而不是“nonsense”\n") in result.output


def test_import_commands_report_rows_and_fail_with_exit_code_1(pingyi, tmp_path):
    orgs = write_xlsx(tmp_path / "组织.xlsx", ORG_HEADER, org_rows(1, 2))
    result = pingyi("import-orgs", str(orgs))
    assert result.exit_code == 0 and "导入成功：组织.xlsx 共 4 行，新增 4" in result.output
    rows = people_rows(30, ["T1V1", "T1V2"])
    rows[4][4] = "也许"
    result = pingyi("import-people", str(write_xlsx(tmp_path / "人员.xlsx", PEOPLE_HEADER, rows)))
    assert result.exit_code == 1
    assert "第 6 行，“是否党员”列：无法识别“也许”" in result.output
    assert db.session.scalar(select(func.count()).select_from(Person)) == 0


def test_create_user_stores_only_a_password_hash(pingyi):
    result = pingyi("create-user", "analyst1", "--role", "analyst", input="correct horse battery\n" * 2)
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.username == "analyst1"))
    assert user.role == "analyst" and "correct horse" not in user.password_hash
    assert user.check_password("correct horse battery") and not user.check_password("wrong")
    short = pingyi("create-user", "x", "--password", "short")
    assert short.exit_code == 1 and "密码至少需要 10 个字符" in short.output


def test_demo_seeds_a_district_of_3_towns_24_villages_and_an_open_campaign(pingyi, instance):
    result = pingyi("demo")
    assert result.exit_code == 0, result.output
    kinds = dict(db.session.execute(select(Organisation.kind, func.count()).group_by(Organisation.kind)).all())
    assert kinds["district"] == 1 and kinds.get("town", 0) + kinds.get("street", 0) == 3
    assert kinds.get("village", 0) + kinds.get("community", 0) == 24
    residents = db.session.scalar(select(func.count()).select_from(Person).where(Person.category == "resident"))
    cadres = db.session.scalar(select(func.count()).select_from(Person).where(Person.category == "cadre"))
    assert 1900 <= residents <= 2100 and cadres == 150
    campaign = db.session.scalar(select(Campaign))
    assert campaign.status == "open" and len(campaign.definitions) == 4
    assert db.session.scalar(select(func.count()).select_from(BallotSheet)) == 75
    assert "管理员登录：http://127.0.0.1:5000/admin/  用户名 admin  密码 " in result.output
    secret = instance / "demo" / "demo_admin.txt"
    password = secret.read_text().split()[1]
    assert password in result.output
    assert db.session.scalar(select(User).where(User.username == "admin")).check_password(password)
    assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600
    # the files that hold plain codes are their owner's only, like the admin password
    plain = [instance / "demo" / "slips-D01T01V01-masses.pdf", instance / "demo" / "codes-D01T01V01-masses.csv"]
    assert [stat.S_IMODE(os.stat(p).st_mode) for p in plain] == [0o600, 0o600]

    again = pingyi("demo", "--if-empty")
    assert again.exit_code == 0 and "跳过演示数据" in again.output
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 1


def test_an_export_into_a_missing_folder_says_so(pingyi, tmp_path):
    from tests.factories import open_campaign

    open_campaign()
    result = pingyi("export", "t2026", "--out", str(tmp_path / "typo" / "ratings.csv"))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"文件夹 {tmp_path / 'typo'} 不存在，无法写入 ratings.csv" in result.output


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_an_export_cut_short_leaves_the_previous_file_as_it_was(pingyi, tmp_path, monkeypatch, suffix):
    """Analysis reads whatever file is there: half a table must never replace a whole one."""
    import errno

    import pandas as pd

    from survey_app.services import export
    from tests.factories import open_campaign

    open_campaign()
    out = tmp_path / f"ratings{suffix}"
    assert pingyi("export", "t2026", "--out", str(out)).exit_code == 0
    before = out.read_bytes()

    def full_disk(path, *args, **kwargs):
        with open(path, "wb") as handle:
            handle.write(b"ballot_id,sheet\n123")  # part of a table, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", lambda frame, path, *args, **kwargs: full_disk(path))
    monkeypatch.setattr(export, "write_xlsx", lambda frame, path, sheet: full_disk(path))
    result = pingyi("export", "t2026", "--out", str(out))
    assert result.exit_code == 1 and f"无法写入 {out}（磁盘空间不足），原有的文件没有改动" in result.output
    assert out.read_bytes() == before and [p.name for p in tmp_path.iterdir() if p.suffix == ".part"] == []


def test_a_file_the_system_refuses_is_a_message_not_a_traceback(pingyi, monkeypatch):
    import errno

    from survey_app.services import turnout
    from tests.factories import open_campaign

    open_campaign()

    def refused(*_args, **_kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", "/srv/pingyi/turnout.csv")

    monkeypatch.setattr(turnout, "turnout", refused)
    result = pingyi("turnout", "t2026")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "/srv/pingyi/turnout.csv：没有权限" in result.output


@pytest.mark.parametrize("command, option", [("grade", "--checklist"), ("grade", "--previous"),
                                             ("analyze", "--scheme")])
def test_a_file_beside_a_campaign_is_refused_not_ignored(pingyi, instance, tmp_path, command, option):
    """Before, the file was silently not used, and the grades looked as if it had been."""
    assert pingyi("demo").exit_code == 0
    given = tmp_path / "mine.csv"
    given.write_text("subject,grade\nD01T01V01,五星\n", encoding="utf-8")
    args = [command, "demo-2026", option, str(given)] + (["--out", str(tmp_path / "out")] if command == "analyze" else [])
    result = pingyi(*args)
    assert result.exit_code == 2
    assert f"给出测评活动时不能同时使用 {option}：" in result.output
    assert not (tmp_path / "out").exists()


def test_grade_and_analyze_say_in_chinese_what_they_need(pingyi, tmp_path):
    assert "请给出测评活动（CAMPAIGN），或者给出 --results 和 --scheme" in pingyi("grade").output
    assert "请给出测评活动（CAMPAIGN）或评分表（--ratings 文件），二者选一" in pingyi(
        "analyze", "--out", str(tmp_path)).output


@pytest.mark.parametrize("content, expected", [
    ("a,b\n1,2\n", "res.csv：缺少列 subject、row_type（应为 pingyi analyze 写出的 results.csv，需要的列：subject、row_type）"),
    ("", "res.csv：文件是空的（应为 pingyi analyze 写出的 results.csv）"),
])
def test_grading_from_a_table_without_its_columns_says_which_not_a_traceback(pingyi, tmp_path, content, expected):
    results = tmp_path / "res.csv"
    results.write_text(content, encoding="utf-8")
    scheme = next(p for p in builtin_paths() if p.name == "baishan_five_star_scheme.yaml")
    result = pingyi("grade", "--results", str(results), "--scheme", str(scheme))
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception  # not a KeyError
    assert expected in result.output


def test_last_years_grades_without_a_grade_column_are_named(pingyi, tmp_path):
    results = tmp_path / "results.csv"
    results.write_text("row_type,subject\ncombined,V1\n", encoding="utf-8")
    previous = tmp_path / "last.csv"
    previous.write_text("subject,stars\nV1,五星\n", encoding="utf-8")
    scheme = next(p for p in builtin_paths() if p.name == "baishan_five_star_scheme.yaml")
    result = pingyi("grade", "--results", str(results), "--scheme", str(scheme), "--previous", str(previous))
    assert result.exit_code == 1
    assert "last.csv：缺少列 grade（应为上一次评定写出的 grades.csv，需要的列：subject、grade）" in result.output


@pytest.mark.parametrize("name, content, expected", [
    ("r.csv", b"", "r.csv：文件是空的（应为 pingyi export 导出的评分表）"),
    ("r.xlsx", b"PK\x03\x04 not really a workbook", "r.xlsx：不是有效的 Excel 文件（.xlsx），或文件已损坏"),
    ("r.parquet", b"not parquet at all", "r.parquet：不是有效的 Parquet 文件，或文件已损坏"),
    ("r.xlsx", None, "r.xlsx：不是有效的 Excel 文件（.xlsx），或文件已损坏"),  # a zip, but no workbook inside
])
def test_analyze_names_a_ratings_file_it_cannot_read(pingyi, tmp_path, name, content, expected):
    if content is None:
        with zipfile.ZipFile(tmp_path / name, "w") as archive:
            archive.writestr("notes.txt", "hello")
    else:
        (tmp_path / name).write_bytes(content)
    result = pingyi("analyze", "--ratings", str(tmp_path / name), "--out", str(tmp_path / "out"))
    assert result.exit_code == 1 and expected in result.output


def test_analyze_refuses_a_scheme_option_that_is_not_a_scheme(pingyi, tmp_path):
    """It used to be read as one more questionnaire, and the analysis ran without the scheme's weights."""
    ratings = tmp_path / "r.csv"
    ratings.write_text("ballot_id\n", encoding="utf-8")
    questionnaire = next(p for p in builtin_paths() if p.name == "village_satisfaction.yaml")
    result = pingyi("analyze", "--ratings", str(ratings), "--scheme", str(questionnaire), "--out", str(tmp_path / "o"))
    assert result.exit_code == 1 and "village_satisfaction.yaml 不是评定办法（kind: scheme）" in result.output
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("dropped", ["sheet", "rater_group", "questionnaire"])
def test_analyze_names_a_missing_column_of_the_ratings_table(pingyi, tmp_path, dropped):
    """Without 'sheet' or 'rater_group' it used to end in a KeyError traceback."""
    import pandas as pd

    assert pingyi("demo", "--simulate", "30").exit_code == 0
    ratings = tmp_path / "r.csv"
    assert pingyi("export", "demo-2026", "--out", str(ratings)).exit_code == 0
    pd.read_csv(ratings, dtype=str).drop(columns=[dropped]).to_csv(ratings, index=False)
    result = pingyi("analyze", "--ratings", str(ratings), "--out", str(tmp_path / "out"))
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    assert f"评分表缺少列：{dropped}（请使用 pingyi export 导出的表）" in result.output


def test_analyze_names_a_questionnaire_it_has_no_definition_for(pingyi, tmp_path):
    import pandas as pd

    assert pingyi("demo", "--simulate", "30").exit_code == 0
    ratings = tmp_path / "r.csv"
    assert pingyi("export", "demo-2026", "--out", str(ratings)).exit_code == 0
    pd.read_csv(ratings, dtype=str).assign(questionnaire="my_own_sheet").to_csv(ratings, index=False)
    result = pingyi("analyze", "--ratings", str(ratings), "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "评分表中的测评表“my_own_sheet”没有定义（可用 --definitions 给出它们的定义文件）" in result.output
