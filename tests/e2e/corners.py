"""A county's own sheets for the review tests of the voter pages (tests/e2e/test_*_corners.py),
built on the live site by LiveSite.custom_campaign."""
from __future__ import annotations

# A county's own questionnaire with every kind of input a sheet can have: radios, half-point
# buttons (0–10 by halves is 21 buttons), a number box (0–100 is 101 points, more than 21) and an
# optional number box; and a cadre grid whose second item is numeric (a number box per row).
SINGLE = """\
kind: questionnaire
key: corners_single
version: 1
title: 手机角落测评表
source: test
subject_kind: organisation
layout: single
rater_groups: [masses]
scales:
  sat3:
    label: 满意度
    choices:
      - {key: satisfied, label: 满意, value: 100}
      - {key: basically, label: 基本满意, value: 60}
      - {key: dissatisfied, label: 不满意, value: 0}
  halves:
    label: 半分
    range: {min: 0, max: 10, step: 0.5}
  hundred:
    label: 百分
    range: {min: 0, max: 100, step: 1}
satisfied: [satisfied, basically]
satisfaction_item: sat
dimensions:
  - {key: overall, label: 总体, weight: 1}
items:
  - {key: sat, label: 总体满意度, scale: sat3, dimension: overall}
  - {key: half, label: 半分打分, scale: halves, dimension: overall}
  - {key: pct, label: 百分打分, scale: hundred, dimension: overall}
  - {key: extra, label: 可选打分, scale: hundred, dimension: overall, required: false}
"""
GRID = """\
kind: questionnaire
key: corners_grid
version: 1
title: 手机角落网格
source: test
subject_kind: person
layout: grid
rater_groups: [town_cadre]
scales:
  quality4:
    label: 评价
    choices:
      - {key: good, label: 好, value: 100}
      - {key: fairly_good, label: 较好, value: 80}
      - {key: average, label: 一般, value: 60}
      - {key: poor, label: 较差, value: 30}
  hundred:
    label: 百分
    range: {min: 0, max: 100, step: 1}
satisfied: [good, fairly_good]
satisfaction_item: verdict
dimensions:
  - {key: overall, label: 总体, weight: 1}
items:
  - {key: verdict, label: 总体评价, scale: quality4, dimension: overall}
  - {key: score, label: 打分, scale: hundred, dimension: overall}
"""
DEFINITIONS = {"corners_single": SINGLE, "corners_grid": GRID}


def fill_single(page) -> None:
    page.locator("input[value=basically]").check()
    page.locator("input[name$='__half'][value='7.5']").check()
    page.locator("input[name$='__pct']").fill("85")
    page.locator("input[name$='__extra']").fill("42")
    page.locator("input[name$='__extra']").blur()
