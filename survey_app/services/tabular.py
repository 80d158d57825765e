"""Read the first sheet of an .xlsx or a .csv into header-mapped rows, whatever the header language.

Staff keep rosters in Excel with Chinese headers, sometimes saved as CSV from WPS in GB18030;
both arrive here as the same list of dicts keyed by our field names, each with its row number.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zipfile import BadZipFile, ZipFile
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from analysis.reasons import quoted


class TableError(ValueError):
    """The file as a whole cannot be read (not a row-level fault)."""


@dataclass
class Row:
    number: int  # as the spreadsheet shows it: the header is row 1
    values: dict[str, str]


@dataclass
class Table:
    columns: dict[str, str]  # our field -> the header text the file used
    rows: list[Row] = field(default_factory=list)


def _clean(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # codes typed as numbers come back from Excel as 1.0
    return str(value).replace("\u3000", " ").strip()


def _normalise_header(text: str) -> str:
    return _clean(text).lower().replace(" ", "").replace("_", "").replace("（", "(").replace("）", ")")


# What an upload may inflate to. The body cap bounds the compressed file only: a 250 KB .xlsx can
# hold a sheet of 70 MB, which openpyxl would parse whole. A roster of 10,000 people, or a district's
# score sheet of 400 organisations × 65 indicators, unpacks to a few MB.
MAX_UNPACKED_BYTES = 50 * 1024 * 1024


def check_unpacked(path: Path) -> None:
    """Refuse a workbook whose parts declare more than MAX_UNPACKED_BYTES, before any is read
    (zipfile never inflates a part past the size it declares)."""
    try:
        with ZipFile(path) as archive:
            total = sum(info.file_size for info in archive.infolist())
    except (BadZipFile, OSError, ValueError):
        return  # not a zip at all: the workbook reader says so in its own words
    if total > MAX_UNPACKED_BYTES:
        raise TableError(f"{path.name}：解压后有 {total / 2**20:.0f} MB，超过 {MAX_UNPACKED_BYTES // 2**20} MB，"
                         "不像是一份名册或评分表；请删去多余的工作表和空行后再上传")


def _raw_rows(path: Path) -> Iterator[list[Any]]:
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        check_unpacked(path)
        try:
            book = load_workbook(path, read_only=True, data_only=True)
        except (InvalidFileException, BadZipFile, KeyError, OSError, ValueError) as exc:
            raise TableError(f"{path.name}：无法作为 Excel 文件打开（文件已损坏，或不是 .xlsx 格式）") from None
        try:
            sheet = book.worksheets[0]
            for row in sheet.iter_rows(values_only=True):
                yield list(row)
        finally:
            book.close()
    elif suffix == ".csv":
        data = path.read_bytes()
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise TableError(f"{path.name}：文件编码无法识别，请另存为 UTF-8 编码的 CSV")
        yield from csv.reader(io.StringIO(text))
    else:
        raise TableError(f"{path.name}：只支持 .xlsx 和 .csv 文件")


def read_table(path: str | Path, aliases: Mapping[str, tuple[str, ...]],
               required: tuple[str, ...]) -> Table:
    """Map headers through ``aliases`` (field -> accepted header spellings) and read every row."""
    path = Path(path)
    rows = enumerate(_raw_rows(path), start=1)
    header: list[Any] | None = None
    for _, raw in rows:
        if any(_clean(v) for v in raw):
            header = raw
            break
    if header is None:
        raise TableError(f"{path.name}：文件是空的")
    lookup = {_normalise_header(a): f for f, names in aliases.items() for a in (f, *names)}
    positions: dict[str, int] = {}
    columns: dict[str, str] = {}
    for index, text in enumerate(header):
        fieldname = lookup.get(_normalise_header(text))
        if fieldname and fieldname not in positions:
            positions[fieldname] = index
            columns[fieldname] = _clean(text)
    missing = [f for f in required if f not in positions]
    if missing:
        raise TableError(f"{path.name}：缺少必需的列 {quoted(aliases[f][0] for f in missing)}")
    table = Table(columns)
    for number, raw in rows:
        values = {f: _clean(raw[i]) if i < len(raw) else "" for f, i in positions.items()}
        if any(values.values()):
            table.rows.append(Row(number, values))
    return table
