"""Import the organisation tree and rosters: every row checked first, then all or nothing.

A county office re-sends the same spreadsheet after fixing one cell; importing it again must
change only what changed, and a file with any bad row must leave the database as it was.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import insert, select, update

from survey_app.extensions import db
from survey_app.models import Organisation, Person
from survey_app.models.org import ORG_KINDS
from survey_app.services import audit
from survey_app.services.tabular import Row, TableError, read_table

ORG_COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("组织编码", "编码", "组织代码", "code", "org_code"),
    "name": ("组织名称", "名称", "name", "org_name"),
    "parent": ("上级组织", "上级组织编码", "上级编码", "parent", "parent_code"),
    "kind": ("组织类型", "类型", "层级", "kind", "type"),
}
PEOPLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "name"),
    "org": ("组织编码", "所属组织编码", "所属组织", "org", "org_code"),
    "role": ("职务", "岗位", "role", "title"),
    "party": ("是否党员", "党员", "政治面貌", "party_member", "party"),
    "code": ("人员编号", "编号", "person_code", "code"),
    "category": ("人员类别", "类别", "category"),
    "gender": ("性别", "gender"),
}
KIND_WORDS = {label: key for key, label in ORG_KINDS.items()} | {k: k for k in ORG_KINDS}
KIND_WORDS |= {"镇街": "town", "乡": "town", "乡镇": "town", "区县": "district", "县": "district"}
YES = {"是", "y", "yes", "true", "1", "党员", "中共党员", "预备党员", "√"}
NO = {"否", "n", "no", "false", "0", "群众", "非党员", ""}
RESIDENT_ROLES = {"", "村民", "居民", "群众", "resident"}
CATEGORY_WORDS = {"干部": "cadre", "cadre": "cadre", "群众": "resident", "村民": "resident",
                  "居民": "resident", "resident": "resident"}

Progress = Callable[[int], None]
# Names go into keys and labels built from several of them ("org|name|role", "name（org role）"),
# which must fit their 200-character columns; real names are far shorter.
ORG_NAME_MAX, PERSON_NAME_MAX, ROLE_MAX = 60, 50, 50
# Codes become keys in URLs, files and spreadsheets: no spaces, and nothing Excel would run (=, +, -, @).
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    reason: str
    sheet: str = ""  # named where a workbook has more than one sheet that is read

    def __str__(self) -> str:
        where = f"工作表“{self.sheet}”" if self.sheet else ""
        return f"{where}第 {self.row} 行，“{self.column}”列：{self.reason}"


@dataclass
class ImportReport:
    file: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    file_error: str = ""

    @property
    def ok(self) -> bool:
        return not self.errors and not self.file_error

    def summary(self) -> str:
        if self.file_error:
            return f"导入失败：{self.file_error}。没有写入任何数据。"
        if self.errors:
            return (f"导入失败：{self.file} 有 {len(self.errors)} 处错误，涉及 "
                    f"{len({e.row for e in self.errors})} 行。没有写入任何数据。")
        return (f"导入成功：{self.file} 共 {self.rows} 行，新增 {self.created}，更新 {self.updated}，"
                f"未变 {self.unchanged}。")


def _org_kind(row: Row, has_parent: bool) -> str | None:
    text = row.values.get("kind", "")
    if text:
        return KIND_WORDS.get(text.lower())
    name = row.values.get("name", "")
    if not has_parent:
        return "district"
    for suffix, kind in (("街道", "street"), ("社区", "community"), ("支部", "branch"), ("党委", "office"),
                         ("镇", "town"), ("乡", "town"), ("村", "village"), ("局", "office"),
                         ("院", "office"), ("委", "office")):
        if name.endswith(suffix):
            return kind
    return None


def import_orgs(path: str | Path, *, actor: object = "cli", progress: Progress | None = None
                ) -> ImportReport:
    """Create or update organisations by code; parents may come earlier, later or from the database."""
    report = ImportReport(Path(path).name)
    try:
        table = read_table(path, ORG_COLUMNS, required=("code", "name"))
    except (TableError, OSError) as exc:
        report.file_error = str(exc)
        return report
    col = {f: table.columns.get(f, ORG_COLUMNS[f][0]) for f in ORG_COLUMNS}
    report.rows = len(table.rows)
    existing = {o.code: o for o in db.session.scalars(select(Organisation))}
    seen: dict[str, int] = {}
    parsed: dict[str, tuple[str, str, str]] = {}  # code -> (name, parent code, kind)
    for row in table.rows:
        code, name, parent = (row.values.get(k, "") for k in ("code", "name", "parent"))
        bad = len(report.errors)
        if not code:
            report.errors.append(RowError(row.number, col["code"], "组织编码不能为空"))
        elif len(code) > 64:
            report.errors.append(RowError(row.number, col["code"], "组织编码不能超过 64 个字符"))
        elif not CODE_RE.match(code):
            report.errors.append(RowError(row.number, col["code"],
                                          f"组织编码“{code}”只能包含字母、数字、点、下划线和短横线，且以字母或数字开头"))
        elif code in seen:
            report.errors.append(RowError(row.number, col["code"],
                                          f"组织编码“{code}”与第 {seen[code]} 行重复"))
        if not name:
            report.errors.append(RowError(row.number, col["name"], "组织名称不能为空"))
        elif len(name) > ORG_NAME_MAX:  # it heads slips and sheet titles: "name·questionnaire（group）"
            report.errors.append(RowError(row.number, col["name"], f"组织名称不能超过 {ORG_NAME_MAX} 个字符"))
        kind = _org_kind(row, bool(parent))
        if kind is None:
            given = row.values.get("kind", "")
            reason = (f"无法识别组织类型“{given}”，请填写 {'、'.join(ORG_KINDS.values())} 之一" if given
                      else "无法从名称判断组织类型，请增加“组织类型”列")
            report.errors.append(RowError(row.number, col["kind"], reason))
        if code and code not in seen:
            seen[code] = row.number
        if len(report.errors) == bad:
            parsed[code] = (name, parent, kind or "")
    rows_by_code = {r.values.get("code", ""): r for r in table.rows}
    for code, (name, parent, kind) in parsed.items():
        if parent and parent not in parsed and parent not in existing:
            if parent in seen:  # in the file, on a row with errors of its own (listed there)
                reason = f"上级组织“{parent}”所在的第 {seen[parent]} 行有错误，请先改正那一行"
            else:
                reason = f"上级组织“{parent}”不存在，文件和系统中都没有这个编码"
            report.errors.append(RowError(rows_by_code[code].number, col["parent"], reason))
        elif parent == code:
            report.errors.append(RowError(rows_by_code[code].number, col["parent"], "上级组织不能是自己"))
    report.errors.extend(_cycles(parsed, existing, rows_by_code, col["parent"]))
    if report.errors:
        report.errors.sort(key=lambda e: (e.row, e.column))
        return report
    try:
        _apply_orgs(parsed, existing, report, progress)
        audit.record(actor, "import_orgs", report.file, rows=report.rows, created=report.created,
                     updated=report.updated)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return report


def _cycles(parsed: dict[str, tuple[str, str, str]], existing: dict[str, Organisation],
            rows_by_code: dict[str, Row], column: str) -> list[RowError]:
    def parent_of(code: str) -> str:
        if code in parsed:
            return parsed[code][1]
        org = existing.get(code)
        return org.parent.code if org is not None and org.parent is not None else ""

    errors = []
    for code in parsed:
        slow, steps, current = code, 0, parent_of(code)
        while current and steps <= len(parsed) + len(existing):
            if current == slow:
                errors.append(RowError(rows_by_code[code].number, column,
                                       f"上级组织形成了循环（{code} 最终又是自己的上级）"))
                break
            current, steps = parent_of(current), steps + 1
    return errors


def _apply_orgs(parsed: dict[str, tuple[str, str, str]], existing: dict[str, Organisation],
                report: ImportReport, progress: Progress | None) -> None:
    by_code = dict(existing)
    current_parent = {code: (org.parent.code if org.parent is not None else "")
                      for code, org in existing.items()}
    for code, (name, parent, kind) in parsed.items():
        org = by_code.get(code)
        if org is None:
            by_code[code] = Organisation(code=code, name=name, kind=kind)
            db.session.add(by_code[code])
            report.created += 1
        elif (org.name, org.kind, current_parent[code]) != (name, kind, parent):
            org.name, org.kind = name, kind
            report.updated += 1
    db.session.flush()
    for code, (_, parent, _) in parsed.items():
        org = by_code[code]
        wanted = by_code[parent].id if parent else None
        if org.parent_id != wanted:
            org.parent_id = wanted
        if progress:
            progress(1)
    report.unchanged = report.rows - report.created - report.updated


def _party(text: str) -> bool | None:
    low = text.lower()
    if low in YES:
        return True
    if low in NO:
        return False
    return None


def import_people(path: str | Path, *, actor: object = "cli", progress: Progress | None = None
                  ) -> ImportReport:
    """Create or update people by 人员编号 (or organisation + name + role when there is none)."""
    report = ImportReport(Path(path).name)
    try:
        table = read_table(path, PEOPLE_COLUMNS, required=("name", "org", "party"))
    except (TableError, OSError) as exc:
        report.file_error = str(exc)
        return report
    col = {f: table.columns.get(f, PEOPLE_COLUMNS[f][0]) for f in PEOPLE_COLUMNS}
    report.rows = len(table.rows)
    orgs = dict(db.session.execute(select(Organisation.code, Organisation.id)).all())
    seen: dict[str, int] = {}
    records: list[dict] = []
    for row in table.rows:
        v = row.values
        name, org_code, role = v.get("name", ""), v.get("org", ""), v.get("role", "")
        before = len(report.errors)
        if not name:
            report.errors.append(RowError(row.number, col["name"], "姓名不能为空"))
        elif len(name) > PERSON_NAME_MAX:
            report.errors.append(RowError(row.number, col["name"], f"姓名不能超过 {PERSON_NAME_MAX} 个字符"))
        if not org_code:
            report.errors.append(RowError(row.number, col["org"], "组织编码不能为空"))
        elif org_code not in orgs:
            report.errors.append(RowError(row.number, col["org"],
                                          f"组织编码“{org_code}”不存在，请先导入组织"))
        party = _party(v.get("party", ""))
        if party is None:
            report.errors.append(RowError(row.number, col["party"],
                                          f"无法识别“{v.get('party', '')}”，请填写“是”或“否”"))
        category_text = v.get("category", "")
        if category_text:
            category = CATEGORY_WORDS.get(category_text.lower())
            if category is None:
                report.errors.append(RowError(row.number, col["category"],
                                              f"无法识别人员类别“{category_text}”，请填写“干部”或“群众”"))
        else:
            category = "resident" if role in RESIDENT_ROLES else "cadre"
        gender = v.get("gender", "")
        if gender and gender not in ("男", "女"):
            report.errors.append(RowError(row.number, col["gender"], f"性别应为“男”或“女”，不是“{gender}”"))
        if len(role) > ROLE_MAX:
            report.errors.append(RowError(row.number, col["role"], f"职务不能超过 {ROLE_MAX} 个字符"))
        if v.get("code") and not CODE_RE.match(v["code"]):
            report.errors.append(RowError(row.number, col["code"],
                                          f"人员编号“{v['code']}”只能包含字母、数字、点、下划线和短横线"))
        key = v.get("code") or f"{org_code}|{name}|{role}"
        if len(report.errors) == before:
            if key in seen:
                where = col["code"] if v.get("code") else col["name"]
                report.errors.append(RowError(row.number, where,
                                              f"与第 {seen[key]} 行是同一个人（编号或组织、姓名、职务相同）"))
            else:
                seen[key] = row.number
                records.append({"person_key": key, "org_id": orgs[org_code], "name": name,
                                "role": role or "村民", "category": category,
                                "is_party_member": party, "gender": gender or None})
    if report.errors:
        report.errors.sort(key=lambda e: (e.row, e.column))
        return report
    try:
        _apply_people(records, report, progress)
        audit.record(actor, "import_people", report.file, rows=report.rows, created=report.created,
                     updated=report.updated)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return report


FIELDS = ("org_id", "name", "role", "category", "is_party_member", "gender")


def _apply_people(records: list[dict], report: ImportReport, progress: Progress | None) -> None:
    current = {row.person_key: row for row in db.session.execute(
        select(Person.id, Person.person_key, *(getattr(Person, f) for f in FIELDS)))}
    new, changed = [], []
    for record in records:
        row = current.get(record["person_key"])
        if row is None:
            new.append(record)
        elif any(getattr(row, f) != record[f] for f in FIELDS):
            changed.append({"id": row.id, **{f: record[f] for f in FIELDS}})
    for start in range(0, len(new), 1000):
        chunk = new[start:start + 1000]
        db.session.execute(insert(Person), chunk)
        if progress:
            progress(len(chunk))
    if changed:
        db.session.execute(update(Person), changed)
    if progress:
        progress(len(records) - len(new))
    report.created, report.updated = len(new), len(changed)
    report.unchanged = len(records) - len(new) - len(changed)
