"""From votes and checklist scores to grades, reasons and a rectification ledger, in one command."""
from __future__ import annotations

import json

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from survey_app.extensions import db
from survey_app.models import AuditEntry, GradeRecord, RectificationLine

pytestmark = pytest.mark.db


@pytest.fixture
def simulated(pingyi, instance):
    result = pingyi("demo", "--simulate", "400")
    assert result.exit_code == 0, result.output
    # what it cast is told in the analyst's words: groups by their Chinese names, anomalies by what they are
    cast = next(line for line in result.output.splitlines() if line.startswith("已模拟"))
    assert "（群众 " in cast and "镇街干部 " in cast and "masses" not in cast
    assert "答题过快（speeder） " in result.output and "speeder →" not in result.output
    return instance


def test_the_demo_campaign_is_graded_with_reasons_and_a_ledger_in_one_command(pingyi, simulated, tmp_path):
    out = tmp_path / "grades"
    result = pingyi("grade", "demo-2026", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "评定结果：五星" in result.output
    records = db.session.scalars(select(GradeRecord)).all()
    assert len(records) == 24 and {r.subject_key[:4] for r in records} == {"D01T"}
    stars = {"五星", "四星", "三星", "二星", "一星"}
    assert {r.grade for r in records} <= stars
    vetoed = [r for r in records if "一票否决" in r.reasons]
    assert len(vetoed) == 1 and vetoed[0].grade == "一星", "the simulated veto caps its village"
    text = (out / "reasons.txt").read_text(encoding="utf-8")
    assert text.count("综合得分 =") == 24 and "一票否决" in text
    data = json.loads((out / "grades.json").read_text(encoding="utf-8"))
    assert len(data["subjects"]) == 24 and data["rollup"], "towns get stars from their villages"
    ledger = load_workbook(out / "rectification.xlsx").active
    rows = list(ledger.iter_rows(values_only=True))
    assert rows[0][:4] == ("组织编码", "组织名称", "等次", "薄弱指标")
    lines = db.session.scalar(select(func.count()).select_from(RectificationLine))
    assert len(rows) - 1 == lines > 0
    below = {r.subject_key for r in records if r.grade in ("二星", "一星")}
    assert {row[0] for row in rows[1:]} <= below and below
    assert db.session.scalars(select(AuditEntry.action).where(AuditEntry.action == "grade_campaign")).first()

    again = pingyi("grade", "demo-2026")  # grading again keeps the ledger lines already being worked on
    assert again.exit_code == 0
    assert db.session.scalar(select(func.count()).select_from(RectificationLine)) == lines


def test_a_grading_whose_files_cannot_all_be_written_leaves_the_last_ones_whole(pingyi, simulated, tmp_path,
                                                                              monkeypatch):
    import errno

    from survey_app.services import ledger_files

    out = tmp_path / "grades"
    assert pingyi("grade", "demo-2026", "--out", str(out)).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def full_disk(path, _ledger):
        path.write_bytes(b"PK")
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(ledger_files, "write_ledger", full_disk)
    result = pingyi("grade", "demo-2026", "--out", str(out))
    assert result.exit_code == 1 and "磁盘空间不足" in result.output and "Traceback" not in result.output
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_grading_from_files_needs_no_database(pingyi, simulated, tmp_path):
    ratings, analysis_dir, out = tmp_path / "ratings.csv", tmp_path / "analysis", tmp_path / "out"
    assert pingyi("export", "demo-2026", "--out", str(ratings)).exit_code == 0
    assert pingyi("analyze", "--ratings", str(ratings), "--out", str(analysis_dir)).exit_code == 0
    scores = tmp_path / "scores.xlsx"
    book = Workbook()
    sheet = book.active
    sheet.append(["组织编码", "组织名称", "上级组织", "指标编码", "得分", "评分阶段"])
    from forms import load_builtin
    checklist = load_builtin("baishan_five_star")
    for v, village in enumerate(("D01T01V01", "D01T01V02", "D01T01V03"), start=1):
        for indicator in checklist.indicators():
            sheet.append([village, f"村{v}", "D01T01", indicator.key, indicator.points * (1 - 0.2 * v), "panel"])
    vetoes = book.create_sheet("否决项")
    vetoes.append(["组织编码", "否决项", "事实依据"])
    vetoes.append(["D01T01V01", "cadre_misconduct", "2026年处分决定"])
    book.save(scores)
    result = pingyi("grade", "--results", str(analysis_dir / "results.csv"), "--checklist", str(scores),
                    "--scheme", "forms/templates/baishan_five_star_scheme.yaml", "--out", str(out))
    assert result.exit_code == 0, result.output
    graded = {row["subject"]: row for row in json.loads((out / "grades.json").read_text())["subjects"]}
    assert set(graded) == {"D01T01V01", "D01T01V02", "D01T01V03"}
    assert graded["D01T01V01"]["grade"] == "一星", "the veto in the 否决项 sheet caps it"
    # V02: checklist 100 × 0.6 = 60; composite 0.8 × 60 + 0.2 × rate; rate ≤ 100 ⇒ composite ≤ 68 < 70 ⇒ at most 二星
    assert graded["D01T01V02"]["grade"] in ("二星", "一星")

    def regrade(name: str, last_years: str) -> dict:
        previous, folder = tmp_path / f"{name}.csv", tmp_path / f"out-{name}"
        previous.write_text(last_years, encoding="utf-8")
        again = pingyi("grade", "--results", str(analysis_dir / "results.csv"), "--checklist", str(scores),
                       "--scheme", "forms/templates/baishan_five_star_scheme.yaml", "--previous", str(previous),
                       "--out", str(folder))
        assert again.exit_code == 0, again.output
        return {row["subject"]: row["grade"] for row in json.loads((folder / "grades.json").read_text())["subjects"]}

    regraded = regrade("last", "subject,grade\nD01T01V02,四星\nD01T01V01,五星\n")
    assert regraded["D01T01V02"] == "三星", "at most one star down a year: 四星 → 三星"
    assert regraded["D01T01V01"] == "一星", "a veto is not held back by last year's 五星"
    # several years in one file, told apart by a campaign column: the last is last year
    by_year = regrade("years", "campaign,subject,grade\n2024,D01T01V02,一星\n2025,D01T01V02,四星\n")
    assert by_year["D01T01V02"] == "三星", "2025's 四星 is last year, not 2024's 一星"

    # the ratings, in each of the forms export writes, bring the voters' weak dimensions to the ledger alike
    ledgers = []
    for suffix in ("csv", "xlsx", "parquet"):
        exported, folder = tmp_path / f"ratings.{suffix}", tmp_path / f"with-ratings-{suffix}"
        if not exported.exists():
            assert pingyi("export", "demo-2026", "--out", str(exported)).exit_code == 0
        result = pingyi("grade", "--results", str(analysis_dir / "results.csv"), "--checklist", str(scores),
                        "--scheme", "forms/templates/baishan_five_star_scheme.yaml", "--ratings", str(exported),
                        "--out", str(folder))
        assert result.exit_code == 0, result.output
        assert "得票比例和测评维度不计 flags.csv 中排除的选票（" in result.output  # the analysis' own exclusions
        ledgers.append(list(load_workbook(folder / "rectification.xlsx").active.iter_rows(values_only=True)))
    assert ledgers[0] == ledgers[1] == ledgers[2]
    assert any("（测评维度）" in str(cell) for row in ledgers[0] for cell in row), ledgers[0]


def test_a_checklist_file_with_a_score_above_full_marks_is_refused_row_by_row(pingyi, simulated, tmp_path):
    analysis_dir = tmp_path / "analysis"
    assert pingyi("analyze", "demo-2026", "--out", str(analysis_dir)).exit_code == 0
    scores = tmp_path / "scores.csv"
    scores.write_text("组织编码,指标编码,得分\nD01T01V01,political_stance,99\nD01T01V01,nope,1\n", encoding="utf-8")
    result = pingyi("grade", "--results", str(analysis_dir / "results.csv"), "--checklist", str(scores),
                    "--scheme", "forms/templates/baishan_five_star_scheme.yaml", "--out", str(tmp_path / "o"))
    assert result.exit_code == 1
    assert "第 2 行" in result.output and "超出范围" in result.output and "第 3 行" in result.output
    assert not (tmp_path / "o").exists()


def test_a_checklist_file_with_a_mistyped_veto_is_refused_at_its_row(pingyi, simulated, tmp_path):
    """It used to pass the file and stop the grading with the engine's message, which names no row."""
    analysis_dir = tmp_path / "analysis"
    assert pingyi("analyze", "demo-2026", "--out", str(analysis_dir)).exit_code == 0
    scores = tmp_path / "scores.xlsx"
    book = Workbook()
    book.active.append(["组织编码", "指标编码", "得分"])
    book.active.append(["D01T01V01", "political_stance", 2])
    vetoes = book.create_sheet("否决项")
    vetoes.append(["组织编码", "否决项", "事实依据"])
    vetoes.append(["D01T01V01", "bribery", "2026年通报"])
    book.save(scores)
    result = pingyi("grade", "--results", str(analysis_dir / "results.csv"), "--checklist", str(scores),
                    "--scheme", "forms/templates/baishan_five_star_scheme.yaml", "--out", str(tmp_path / "o"))
    assert result.exit_code == 1
    assert "scores.xlsx 有 1 处错误" in result.output
    assert "工作表“否决项”第 2 行，“否决项”列：否决项“bribery”不在清单中（应为 “cadre_misconduct”、" in result.output
    assert not (tmp_path / "o").exists()


def test_weak_questionnaire_dimensions_become_ledger_lines_for_units_below_the_line():
    from datetime import date

    import pandas as pd

    from forms.loader import builtin_library
    from survey_app.services.grading import weak_dimensions
    from survey_app.specs import grading_spec

    library = builtin_library()
    spec = grading_spec(library["baishan_village_stars"], library)
    grades = pd.DataFrame({"subject": ["V1", "V2"], "grade": ["二星", "五星"]})
    rows = []
    for ballot in range(4):
        for subject in ("V1", "V2"):
            # V1: 'service' items answered 不满意 (0) by everyone, 'leadership' 满意 (100)
            for item, value in (("openness", 0), ("real_deeds", 0), ("petitions", 60 if ballot == 0 else 0),
                                ("secretary", 100), ("unity", 100)):
                rows.append({"ballot_id": f"{subject}{ballot}", "subject": subject, "questionnaire": "village_satisfaction",
                             "item": item, "value": value})
    lines = weak_dimensions(grades, pd.DataFrame(rows), library, spec, start=date(2026, 12, 1))
    # only V1 is below 三星; its 为民服务 mean = (0 + 0 + 60/4) / 3 = 5.0 < 60 → one line; 班子建设 = 100 → none
    assert lines[["subject", "indicator", "score"]].values.tolist() == [["V1", "village_satisfaction.service", 5.0]]
    assert lines["label"].iloc[0] == "村“两委”班子群众满意度测评表·为民服务（测评维度）"
    assert lines["deadline"].iloc[0] == date(2027, 3, 1)  # 90 days after 2026-12-01
