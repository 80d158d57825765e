"""The tidy ratings table: one row per answer, the input of :mod:`analysis`.

Rows are ordered by the random ballot id, so the file says nothing about the order of casting.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from sqlalchemy import select

from analysis.outputs import replace_outputs

from survey_app.extensions import db
from survey_app.oserrors import reason
from survey_app.models import Ballot, BallotSheet, Campaign, load_layouts
from survey_app.services.campaigns import frozen_definitions

COLUMNS = ["ballot_id", "sheet", "questionnaire", "rater_group", "subject", "item", "dimension", "value",
           "choice", "mode", "day", "duration_bucket", "fingerprint"]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def ratings_frame(campaign: Campaign, *, include_rehearsal: bool = False) -> pd.DataFrame:
    ballots = db.session.execute(
        select(Ballot.id, BallotSheet.key, BallotSheet.rater_group, BallotSheet.questionnaire_key, Ballot.mode,
               Ballot.day, Ballot.duration_bucket, Ballot.fingerprint, Ballot.layout_id, Ballot.answers)
        .join(BallotSheet, Ballot.sheet_id == BallotSheet.id)
        .where(BallotSheet.campaign_id == campaign.id)
        .order_by(Ballot.id)).all()
    layouts = load_layouts({row.layout_id for row in ballots})
    rows = []
    for ballot_id, sheet, group, questionnaire, mode, day, duration, fingerprint, layout, answers in ballots:
        if mode == "rehearsal" and not include_rehearsal:
            continue
        for a in sorted(layouts[layout].unpack(answers), key=lambda a: (a.subject, a.item)):
            rows.append((ballot_id, sheet, group, questionnaire, a.subject, a.item, a.value, a.choice, mode, day,
                         duration, fingerprint))
    library = frozen_definitions(campaign)
    dimension_of = {(q.key, i.key): i.dimension for q in library.values()
                    if q.kind == "questionnaire" for i in q.items}  # type: ignore[union-attr]
    frame = pd.DataFrame(rows, columns=["ballot_id", "sheet", "rater_group", "questionnaire", "subject",
                                        "item", "value", "choice", "mode", "day", "duration_bucket",
                                        "fingerprint"])
    frame["dimension"] = [dimension_of.get((q, i), "") for q, i in zip(frame["questionnaire"],
                                                                        frame["item"])]
    frame["day"] = frame["day"].astype(str)
    frame["value"] = frame["value"].astype(float)
    for column in ("choice", "duration_bucket", "fingerprint"):
        frame[column] = frame[column].fillna("")
    return frame[COLUMNS].reset_index(drop=True)




def csv_safe(value: object) -> object:
    """A spreadsheet must show text as text: a name starting with '=' is not a formula to run."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


EXCEL_MAX_ROWS = 1_048_576  # rows of one worksheet, the header's included


def write_ratings(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write the table whole or not at all: analysis reads whatever file is there, so a write cut
    short (a full disk) must leave the previous export as it was, not half a table."""
    path = Path(path)
    suffix = path.suffix.lower()
    writers = {".csv": lambda p: frame.to_csv(p, index=False, encoding="utf-8-sig"),
               ".parquet": lambda p: frame.to_parquet(p, index=False),
               ".xlsx": lambda p: write_xlsx(frame, p, sheet="ratings")}
    if suffix not in writers:
        raise ValueError(f"不支持的导出格式“{suffix}”：请用 .csv、.parquet 或 .xlsx")
    if suffix == ".xlsx" and len(frame) + 1 > EXCEL_MAX_ROWS:  # Excel would open the sheet only in part
        raise ValueError(f"评分表有 {len(frame):,} 条答案，超过 Excel 一张工作表 {EXCEL_MAX_ROWS:,} 行的上限；"
                         "请导出为 .csv 或 .parquet")
    if not path.parent.is_dir():
        raise ValueError(f"文件夹 {path.parent} 不存在，无法写入 {path.name}")
    try:
        replace_outputs(path.parent, [(path.name, writers[suffix])])
    except OSError as exc:
        raise ValueError(f"无法写入 {path}（{reason(exc)}），原有的文件没有改动") from exc
    return path


def write_xlsx(frame: pd.DataFrame, path: Path, *, sheet: str) -> None:
    book = Workbook(write_only=True)
    ws = book.create_sheet(sheet)
    ws.append(list(frame.columns))
    for record in frame.itertuples(index=False):
        row = []
        for value in record:
            if isinstance(value, float) and value != value:
                value = None
            cell = WriteOnlyCell(ws, value=value)
            if isinstance(value, str) and value.startswith(FORMULA_START):
                cell.data_type = "s"  # stored as a string cell, never evaluated as a formula
            row.append(cell)
        ws.append(row)
    book.save(path)
