"""Test data: roster spreadsheets written as real .xlsx and .csv files."""
from __future__ import annotations

import csv
import random
from collections.abc import Sequence
from pathlib import Path

from openpyxl import Workbook

ORG_HEADER = ["组织编码", "组织名称", "上级组织", "组织类型"]
PEOPLE_HEADER = ["人员编号", "姓名", "组织编码", "职务", "是否党员", "人员类别", "性别"]


def write_xlsx(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Path:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Sheet1")
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    book.save(path)
    return path


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]],
              encoding: str = "utf-8-sig") -> Path:
    with path.open("w", newline="", encoding=encoding) as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def org_rows(towns: int = 2, villages: int = 3) -> list[list[str]]:
    rows = [["D01", "测试区", "", "区"]]
    for t in range(1, towns + 1):
        rows.append([f"T{t}", f"第{t}镇", "D01", "镇"])
        for v in range(1, villages + 1):
            rows.append([f"T{t}V{v}", f"第{t}镇第{v}村", f"T{t}", "村"])
    return rows


def people_rows(count: int, org_codes: Sequence[str], seed: int = 1) -> list[list[object]]:
    rng = random.Random(seed)
    rows = []
    for n in range(count):
        cadre = n % 20 == 0
        rows.append([f"P{n:06d}", f"测{rng.choice('甲乙丙丁戊己庚辛')}{n}", org_codes[n % len(org_codes)],
                     "村委委员" if cadre else "村民", "是" if cadre or n % 9 == 0 else "否",
                     "干部" if cadre else "群众", "男" if n % 2 else "女"])
    return rows
