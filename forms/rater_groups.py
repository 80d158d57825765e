"""The rater groups (评价主体) the product knows, with their Chinese names.

A questionnaire may only name groups from here; a grading scheme may declare further,
finer groups of its own (e.g. 主要领导 / 主管领导 for office assessments).
"""
from __future__ import annotations

RATER_GROUPS: dict[str, str] = {
    "superior": "上级",
    "subordinate": "下级",
    "peer": "同级",
    "member": "党员",
    "masses": "群众",
    "village_rep": "村民代表",
    "town_cadre": "镇街干部",
    "self": "自评",
    "principal_leader": "主要领导",
    "leader_in_charge": "主管领导",
    "other_leader": "其它领导",
    "office_head": "机关正职",
    "unit_head": "单位正职",
    "office_dept": "机关部门",
}


def label(key: str) -> str:
    return RATER_GROUPS.get(key, key)
