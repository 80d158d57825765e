"""Files of grading: the checklist score sheet people fill in, and the ledger and grades written out."""
from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import replace
from pathlib import Path

import pandas as pd
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font, PatternFill

from analysis.grading import GradeResult
from analysis.outputs import replace_outputs
from analysis.reasons import quoted
from survey_app.services.export import FORMULA_START, csv_safe
from survey_app.services.imports import RowError
from survey_app.services.tabular import TableError, read_table

SCORE_COLUMNS: dict[str, tuple[str, ...]] = {
    "subject": ("组织编码", "subject", "org_code"),
    "indicator": ("指标编码", "指标", "indicator"),
    "score": ("得分", "score"),
    "stage": ("评分阶段", "阶段", "stage"),
    "name": ("组织名称", "name"),
    "parent": ("上级组织", "parent"),
    "label": ("指标名称", "label"),
    "full_marks": ("满分", "full_marks"),
}
VETO_SHEET = "否决项"
VETO_COLUMNS: dict[str, tuple[str, ...]] = {
    "subject": ("组织编码", "subject"), "veto": ("否决项", "veto"), "evidence": ("事实依据", "依据", "evidence")}
LEDGER_HEADERS = [("subject", "组织编码"), ("name", "组织名称"), ("grade", "等次"), ("label", "薄弱指标"),
                  ("score", "得分"), ("full_marks", "满分"), ("owner", "责任人"), ("deadline", "整改时限"),
                  ("status", "状态"), ("done_on", "销号日期"), ("note", "备注")]
STATUS = {"open": "整改中", "done": "已销号"}
#: Every file write_grades may write: what this grading does not write is removed.
GRADE_FILES = ("grades.csv", "grades.json", "reasons.txt", "rectification.xlsx", "rollup.csv")


class ScoreFileError(ValueError):
    def __init__(self, message: str, errors: list[RowError] | None = None):
        self.errors = errors or []
        super().__init__(message + ("\n" + "\n".join(map(str, self.errors)) if self.errors else ""))


def read_checklist_scores(path: str | Path, full_marks: dict[str, float] | None = None,
                          stages: tuple[str, ...] = (), veto_keys: Collection[str] | None = None,
                          ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scores (and the optional 否决项 sheet) from a filled-in template; every bad row of either
    sheet is reported at once, so a veto with a mistyped code is not found only after the scores
    were stored, or only when grading stops on it."""
    path = Path(path)
    try:
        table = read_table(path, SCORE_COLUMNS, required=("subject", "indicator", "score"))
    except (TableError, OSError) as exc:
        raise ScoreFileError(str(exc)) from None
    errors, rows, seen = [], [], {}
    col = {f: table.columns.get(f, SCORE_COLUMNS[f][0]) for f in SCORE_COLUMNS}
    for row in table.rows:
        v = row.values
        if not v.get("score"):
            continue  # an indicator left blank is simply not scored yet
        try:
            score = float(v["score"])
        except ValueError:
            errors.append(RowError(row.number, col["score"], f"得分“{v['score']}”不是数字"))
            continue
        indicator, stage = v.get("indicator", ""), v.get("stage", "") or (stages[-1] if stages else "")
        if full_marks is not None and indicator not in full_marks:
            errors.append(RowError(row.number, col["indicator"], f"指标“{indicator}”不在清单中"))
            continue
        top = (full_marks or {}).get(indicator, float(v.get("full_marks") or "inf"))
        if not 0 <= score <= top:
            errors.append(RowError(row.number, col["score"], f"得分 {score:g} 超出范围（满分 {top:g} 分）"))
            continue
        if stages and stage not in stages:
            errors.append(RowError(row.number, col["stage"], f"评分阶段“{stage}”应为 {'、'.join(stages)} 之一"))
            continue
        key = (v.get("subject", ""), indicator, stage)
        if key in seen:
            errors.append(RowError(row.number, col["indicator"], f"与第 {seen[key]} 行重复"))
            continue
        seen[key] = row.number
        rows.append({"subject": v["subject"], "indicator": indicator, "stage": stage, "score": score,
                     "name": v.get("name", ""), "parent": v.get("parent", "")})
    vetoes = pd.DataFrame(columns=["subject", "veto", "evidence"])
    if path.suffix.lower() == ".xlsx":
        book = load_workbook(path, read_only=True)
        names = book.sheetnames
        book.close()
        if VETO_SHEET in names:  # two sheets read: each problem says which
            errors = [replace(e, sheet=names[0]) for e in errors]
            vetoes = _veto_sheet(path, veto_keys, errors)
    if errors:
        raise ScoreFileError(f"{path.name} 有 {len(errors)} 处错误，没有导入任何得分", errors)
    scores = pd.DataFrame(rows, columns=["subject", "indicator", "stage", "score", "name", "parent"])
    return scores, vetoes


def _veto_sheet(path: Path, veto_keys: Collection[str] | None, errors: list[RowError]) -> pd.DataFrame:
    """The 否决项 sheet's rows, each checked as the veto form checks one: a code of the checklist,
    the facts it rests on, not listed twice. Problems go to ``errors``, named by the sheet."""
    book = load_workbook(path, read_only=True, data_only=True)
    try:
        rows = list(book[VETO_SHEET].iter_rows(values_only=True))
    finally:
        book.close()
    out: list[dict[str, str]] = []
    if not rows:
        return pd.DataFrame(out, columns=["subject", "veto", "evidence"])
    header = [str(h or "").strip() for h in rows[0]]
    index = {f: next((i for i, h in enumerate(header) if h in names or h == f), None) for f, names in VETO_COLUMNS.items()}
    missing = [names[0] for f, names in VETO_COLUMNS.items() if index[f] is None]
    if missing:
        errors.append(RowError(1, "、".join(missing), "缺少这一列（需要的列：组织编码、否决项、事实依据）", VETO_SHEET))
        return pd.DataFrame(out, columns=["subject", "veto", "evidence"])
    seen: dict[tuple[str, str], int] = {}
    for number, raw in enumerate(rows[1:], start=2):
        if not any(c is not None and str(c).strip() for c in raw):
            continue
        v = {f: str(raw[i]).strip() if i < len(raw) and raw[i] is not None else "" for f, i in index.items()}

        def problem(field: str, reason: str) -> None:
            errors.append(RowError(number, VETO_COLUMNS[field][0], reason, VETO_SHEET))

        if not v["subject"]:
            problem("subject", "缺少组织编码")
        elif veto_keys is not None and v["veto"] not in veto_keys:
            problem("veto", f"否决项“{v['veto']}”不在清单中（应为 {quoted(sorted(veto_keys))} 之一）" if veto_keys
                    else "清单没有否决项")
        elif not v["evidence"]:
            problem("evidence", "否决项必须附上事实依据")
        elif (v["subject"], v["veto"]) in seen:
            problem("veto", f"与第 {seen[v['subject'], v['veto']]} 行重复")
        else:
            seen[v["subject"], v["veto"]] = number
            out.append(v)
    return pd.DataFrame(out, columns=["subject", "veto", "evidence"])


def _safe(value: object) -> object:
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) else value


def write_score_template(path: Path, checklist: object, orgs: list[tuple[str, str]], stage: str) -> None:
    """One row per organisation × indicator with the full marks shown; 得分 left for the assessor."""
    book = Workbook()
    sheet = book.active
    sheet.title = "得分"
    sheet.append(["组织编码", "组织名称", "指标编码", "指标名称", "满分", "评分阶段", "得分"])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for code, name in orgs:
        for category in checklist.categories:  # type: ignore[attr-defined]
            for indicator in category.indicators:
                sheet.append([_safe(code), _safe(name), indicator.key, f"{category.label}·{indicator.label}",
                              indicator.points, stage, None])
    for column, width in zip("ABCDEFG", (14, 16, 22, 48, 8, 10, 10)):
        sheet.column_dimensions[column].width = width
    vetoes = book.create_sheet(VETO_SHEET)
    vetoes.append(["组织编码", "否决项", "事实依据"])
    notes = book.create_sheet("说明")
    notes.append(["“得分”不得超过“满分”；留空表示尚未评分。否决项的“否决项”一列填写下列编码之一，并写明事实依据："])
    for veto in checklist.vetoes:  # type: ignore[attr-defined]
        notes.append([veto.key, veto.label])
    book.save(path)


def write_ledger(path: Path, ledger: pd.DataFrame) -> None:
    book = Workbook()
    sheet = book.active
    sheet.title = "整改台账"
    sheet.append([label for _, label in LEDGER_HEADERS])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    overdue_fill = PatternFill("solid", fgColor="FDECEA")
    today = pd.Timestamp.today().date()
    for record in ledger.to_dict("records"):
        values = []
        for key, _ in LEDGER_HEADERS:
            value = record.get(key, "")
            if key == "status":
                value = STATUS.get(value, value)
            values.append(None if value is None or (isinstance(value, float) and value != value) else _safe(value))
        sheet.append(values)
        deadline = record.get("deadline")
        if record.get("status", "open") == "open" and deadline is not None and not pd.isna(deadline) \
                and pd.Timestamp(deadline).date() < today:
            for cell in sheet[sheet.max_row]:
                cell.fill = overdue_fill
    for column, width in zip("ABCDEFGHIJK", (14, 16, 8, 44, 8, 8, 16, 12, 8, 12, 30)):
        sheet.column_dimensions[column].width = width
    book.save(path)


def write_grades(folder: Path, result: GradeResult, ledger: pd.DataFrame) -> list[Path]:
    """All of a grading's files, or none of them (see analysis.outputs)."""
    grades = result.grades.copy()
    grades["flags"] = grades["flags"].map(lambda f: "；".join(f))
    summary = json.dumps({"scheme": result.spec.key, "title": result.spec.title, "subjects": result.to_records(),
                          "rollup": json.loads(result.rollup.to_json(orient="records", force_ascii=False))},
                         ensure_ascii=False, indent=1, default=str)
    grades, rollup = _text_as_text(grades), _text_as_text(result.rollup)  # names come from a roster
    files = [("grades.csv", lambda path: grades.to_csv(path, index=False, encoding="utf-8-sig")),
             ("grades.json", lambda path: path.write_text(summary, encoding="utf-8")),
             ("reasons.txt", lambda path: path.write_text(result.to_text(), encoding="utf-8")),
             ("rectification.xlsx", lambda path: write_ledger(path, ledger))]
    if not result.rollup.empty:
        files.append(("rollup.csv", lambda path: rollup.to_csv(path, index=False, encoding="utf-8-sig")))
    return replace_outputs(folder, files, family=GRADE_FILES)


def _text_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells Excel shows as text: an organisation named ``=HYPERLINK(…)`` in the
    roster is not a formula to run in the analyst's spreadsheet."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(csv_safe)
    return out
