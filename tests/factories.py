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


def open_campaign(*, villages: int = 1, grid_subjects: int = 5, slug: str = "t2026", open_it: bool = True):
    """A campaign with a villager sheet per village and one cadre grid sheet, opened.

    Returns (campaign, {sheet key: sheet}). Must run inside an app context.
    """
    from survey_app.extensions import db
    from survey_app.models import Organisation, Person
    from survey_app.services import campaigns
    from survey_app.services.campaigns import SubjectSpec

    town = Organisation(code="T1", name="第一镇", kind="town")
    db.session.add(town)
    sheets = {}
    campaign = campaigns.create_campaign(slug, "测试区2026年度测评", 2026, scheme_key="baishan_village_stars")
    for v in range(1, villages + 1):
        village = Organisation(code=f"T1V{v}", name=f"第{v}村", kind="village", parent=town)
        db.session.add(village)
        db.session.flush()
        sheets[f"V{v}"] = campaigns.add_sheet(campaign, f"T1V{v}-masses", f"第{v}村满意度测评（群众）",
                                              "village_satisfaction", "masses",
                                              [SubjectSpec(village.code, village.name, org_id=village.id)],
                                              org_id=village.id)
    people = []
    for n in range(grid_subjects):
        person = Person(person_key=f"C{n:03d}", org_id=town.id, name=f"干部{n}", role="村党支部书记",
                        category="cadre", is_party_member=True)
        db.session.add(person)
        people.append(person)
    db.session.flush()
    sheets["grid"] = campaigns.add_sheet(campaign, "T1-town", "第一镇村干部测评（镇街干部）", "cadre_evaluation",
                                         "town_cadre", [SubjectSpec(p.person_key, f"{p.name}（书记）",
                                                                    person_id=p.id) for p in people],
                                         org_id=town.id)
    db.session.commit()
    if open_it:
        campaigns.open_campaign(campaign)
    return campaign, sheets


def full_answers(questionnaire, subjects, *, choice_index: int = 0, number: float = 8) -> dict[str, str]:
    """Form data answering every item of every subject."""
    from forms.builder import field_name

    data = {}
    for subject in subjects:
        for item in questionnaire.items:
            scale = questionnaire.scale(item.scale)
            data[field_name(subject, item.key)] = (str(int(number)) if scale.is_numeric
                                                   else scale.choices[choice_index].key)
    return data


def answers_per_ballot() -> dict[str, int]:
    """How many answers each stored ballot holds, read back from its row."""
    from survey_app.models import answers_by_ballot
    return {ballot_id: len(answers) for ballot_id, answers in answers_by_ballot().items()}


def first_choice_answers(questionnaire, subject: str):
    """Service-level answers for one subject: each item's first choice, or 8 on a numeric scale."""
    from survey_app.services.casting import AnswerIn

    answers = []
    for item in questionnaire.items:
        scale = questionnaire.scale(item.scale)
        answers.append(AnswerIn(subject, item.key, None, 8.0) if scale.is_numeric else
                       AnswerIn(subject, item.key, scale.choices[0].key, scale.choices[0].value))
    return answers


def lost_commit_answer(stored: bool):
    """The writers' queue with its COMMIT's answer lost: the error comes after the commit when
    ``stored``, before it otherwise (as a PostgreSQL connection dropping in COMMIT can do either)."""
    from contextlib import contextmanager

    from survey_app.services.writelock import serialized_writes

    @contextmanager
    def guard(engine):
        error = engine.dialect.loaded_dbapi.OperationalError("server closed the connection unexpectedly")
        with serialized_writes(engine):
            if not stored:
                raise error
            yield
        raise error

    return guard
