"""Read definition files, check them, and build the frozen objects of :mod:`forms.schema`.

Every problem found is collected with its file, line and field before anything is raised, so
a person fixing a definition sees all of its faults at once, not one per attempt.
"""
from __future__ import annotations

import datetime
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from forms import rater_groups as known_groups
from forms.oserrors import reason as os_reason
from forms.errors import DefinitionError, Problem
from forms.schema import (
    STAGES, Category, Checklist, Choice, Component, Definition, Dimension, Grade, GroupWeight,
    Indicator, Item, PayLink, Questionnaire, Quota, Rectification, RepeatRule, Rollup, RollupGrade,
    Scale, Scheme, TieBreak, VetoItem, VetoRule, VoteShareRule, YearOverYear,
)
from forms.yamlnodes import DuplicateKey, LDict, TooManyNodes, parse

TEMPLATE_DIR = Path(__file__).parent / "templates"
KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")
TOLERANCE = 1e-6

TOP_LEVEL = {
    "questionnaire": {"kind", "key", "version", "title", "subject_kind", "layout", "rater_groups",
                      "scales", "dimensions", "items", "satisfied", "satisfaction_item", "intro", "source"},
    "checklist": {"kind", "key", "version", "title", "total", "stages", "categories", "vetoes",
                  "source"},
    "scheme": {"kind", "key", "version", "title", "checklist", "stage", "rater_groups",
               "components", "grades", "vetoes", "rectification_below", "source", "quotas",
               "vote_share_rules", "year_over_year", "pay_link", "rollup", "rectification"},
}
COMPONENT_SOURCES = ("checklist_total", "satisfaction_rate", "group_score", "combined_score",
                     "result")
KIND_NAMES = {"questionnaire": "测评表", "checklist": "清单", "scheme": "评定办法"}


class _Place(str):
    """Where a problem is: the English path kept in ``Problem.field``, and ``zh``, its name for a person."""

    zh: str

    def __new__(cls, path: str, zh: str) -> _Place:
        place = super().__new__(cls, path)
        place.zh = zh
        return place


def _field(name: str) -> _Place:
    """A place named by its YAML field, which the person sees verbatim: “dimensions”."""
    return _Place(name, f"“{name}”")


def _zh(where: str) -> str:
    return getattr(where, "zh", where)


def _of(where: str) -> str:
    """``量表“sat3”中的`` before a field of that place; nothing at the top level."""
    return f"{_zh(where)}中的" if where else ""


def _q(value: Any) -> str:
    return f"“{value}”"


def _listing(values: Iterable[Any]) -> str:
    return "、".join(str(v) for v in values)


class _Reader:
    """Collects problems for one file while the typed objects are being built."""

    def __init__(self, name: str):
        self.name = name
        self.problems: list[Problem] = []

    def problem(self, line: int | None, field: str, message: str) -> None:
        self.problems.append(Problem(self.name, line, str(field), message))

    def get(self, node: LDict, key: str, kind: type | tuple[type, ...], where: str, *,
            required: bool = True, default: Any = None) -> Any:
        if key not in node:
            if required:
                self.problem(node.line, f"{where}.{key}".lstrip("."),
                             f"{_zh(where)}缺少必填字段“{key}”")
            return default
        value = node[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            self.problem(node.line_of(key), f"{where}.{key}".lstrip("."),
                         f"{_of(where)}字段“{key}”必须是{_type_name(kinds)}，"
                         f"而不是{_describe(value)}")
            return default
        if isinstance(value, float) and not math.isfinite(value):
            self.problem(node.line_of(key), key,
                         f"{_of(where)}字段“{key}”必须是有限的数值，不能是 .inf 或 .nan")
            return default
        return value

    def key_field(self, node: LDict, where: str) -> str:
        key = self.get(node, "key", str, where)
        if key is not None and not KEY_RE.match(key):
            self.problem(node.line_of("key"), f"{where}.key",
                         f"{_of(where)}键“{key}”只能由小写字母、数字和下划线组成，"
                         "并以字母开头")
        return key or ""

    def mappings(self, node: Any, line: int, where: str) -> list[LDict]:
        if node is None:
            return []
        if not isinstance(node, list):
            self.problem(line, where, f"{_zh(where)}必须是列表，而不是{_describe(node)}")
            return []
        good = []
        for index, entry in enumerate(node):
            if isinstance(entry, dict):
                good.append(entry)
            else:
                self.problem(node.line_of(index), where,
                             f"{_zh(where)}的每一项都必须是映射（key: value），"
                             f"而不是{_describe(entry)}")
        return good

    def unknown_fields(self, node: LDict, allowed: Iterable[str], where: str) -> None:
        for key in node:
            if key not in allowed:
                self.problem(node.line_of(key), f"{where}.{key}",
                             f"{_of(where)}字段“{key}”无法识别"
                             f"（可用的字段：{_listing(sorted(allowed))}）")

    def weights_sum_to_one(self, entries: list[tuple[str, float]], line: int, what: str) -> None:
        total = sum(w for _, w in entries if w is not None)
        if entries and abs(total - 1.0) > TOLERANCE:
            self.problem(line, what, f"各{_zh(what)}的权重之和必须为 1，现在是 {total:g}")


def _type_name(kinds: tuple[type, ...]) -> str:
    names = {str: "文本", int: "整数", float: "数值", bool: "真假值（true 或 false）",
             list: "列表", dict: "映射"}
    return "或".join(names.get(k, k.__name__) for k in kinds)


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "映射"
    if isinstance(value, list):
        return "列表"
    if value is None:
        return "空值"
    if isinstance(value, str):
        return f"文本{_q(value)}"
    if isinstance(value, bool):
        return f"真假值 {value!r}"
    if isinstance(value, datetime.date):  # a datetime is a date too
        return f"日期 {value}"
    names = {int: "整数", float: "数值"}
    return f"{names.get(type(value), type(value).__name__)} {value!r}"


# --------------------------------------------------------------------------- questionnaires

def _scales(r: _Reader, node: Any, line: int) -> dict[str, Scale]:
    scales: dict[str, Scale] = {}
    if not isinstance(node, dict):
        r.problem(line, "scales", f"“scales”必须是映射（量表的键: 量表），而不是{_describe(node)}")
        return scales
    for key, spec in node.items():
        where = _Place(f"scale '{key}'", f"量表“{key}”")
        if not KEY_RE.match(key):
            r.problem(node.line_of(key), "scales", f"量表的键“{key}”只能由小写字母、数字和下划线组成，"
                      "并以字母开头")
        if not isinstance(spec, dict):
            r.problem(node.line_of(key), "scales", f"{where.zh}必须是映射，而不是{_describe(spec)}")
            continue
        r.unknown_fields(spec, {"label", "choices", "range"}, where)
        label = r.get(spec, "label", str, where, required=False, default=key)
        if ("choices" in spec) == ("range" in spec):
            r.problem(spec.line, where, f"{where.zh}必须写“choices”或“range”，且只能写其中一个")
            continue
        if "range" in spec:
            rng = r.get(spec, "range", dict, where)
            if rng is None:
                continue
            in_range = _Place(f"{where} range", f"{where.zh}的“range”")
            r.unknown_fields(rng, {"min", "max", "step"}, in_range)
            low = r.get(rng, "min", float, in_range)
            high = r.get(rng, "max", float, in_range)
            step = r.get(rng, "step", float, in_range, required=False, default=1.0)
            if low is not None and high is not None and low >= high:
                r.problem(rng.line, where, f"{in_range.zh}中 min {low:g} 必须小于 max {high:g}")
            elif step is not None and step < 0:
                r.problem(rng.line_of("step"), where, f"{in_range.zh}中 step 不能是负数（{step:g}）")
            elif step and low is not None and high is not None and (
                    step > high - low or abs((high - low) / step - round((high - low) / step)) > 1e-9):
                r.problem(rng.line_of("step"), where,
                          f"{in_range.zh}中从 {low:g} 到 {high:g} 不是 step {step:g} 的整数倍：{high:g} 分无法选到")
            scales[key] = Scale(key, label, minimum=low, maximum=high, step=step)
            continue
        choices: list[Choice] = []
        seen: dict[str, int] = {}
        a_choice = _Place(f"{where} choice", f"{where.zh}的选项")
        for entry in r.mappings(spec["choices"], spec.line_of("choices"),
                                _Place(f"{where} choices", f"{where.zh}的“choices”")):
            r.unknown_fields(entry, {"key", "label", "value"}, a_choice)
            ckey = r.key_field(entry, a_choice)
            if ckey in seen:
                r.problem(entry.line, where, f"{where.zh}的选项“{ckey}”出现了两次"
                          f"（第一次在第 {seen[ckey]} 行）")
            seen[ckey] = entry.line
            choice = _Place(f"{where} choice '{ckey}'", f"{where.zh}的选项“{ckey}”")
            clabel = r.get(entry, "label", str, choice)
            if "value" not in entry:
                r.problem(entry.line, f"{where}.{ckey}.value",
                          f"{choice.zh}没有“value”；每个选项都要对应一个分值")
                continue
            value = r.get(entry, "value", float, choice)
            if value is not None:
                choices.append(Choice(ckey, clabel or ckey, value))
        if not choices and not any(p.field.startswith(where) for p in r.problems):
            r.problem(spec.line, where, f"{where.zh}没有任何选项")
        scales[key] = Scale(key, label, choices=tuple(choices))
    return scales


def _rater_group_list(r: _Reader, root: LDict) -> tuple[str, ...]:
    groups = r.get(root, "rater_groups", list, "")
    if groups is None:
        return ()
    if not groups:
        r.problem(root.line_of("rater_groups"), "rater_groups", "“rater_groups”是空的")
    out = []
    for index, group in enumerate(groups):
        if not isinstance(group, str) or group not in known_groups.RATER_GROUPS:
            r.problem(groups.line_of(index), "rater_groups",
                      f"评价主体{_q(group)}不存在"
                      f"（可用的评价主体：{_listing(known_groups.RATER_GROUPS)}）")
        else:
            out.append(group)
    return tuple(out)


def _questionnaire(r: _Reader, root: LDict) -> Questionnaire:
    key = r.key_field(root, "")
    subject_kind = r.get(root, "subject_kind", str, "", required=False, default="organisation")
    if subject_kind not in ("organisation", "person"):
        r.problem(root.line_of("subject_kind"), "subject_kind",
                  f"“subject_kind”必须是“organisation”或“person”，而不是{_q(subject_kind)}")
    layout = r.get(root, "layout", str, "", required=False, default="single")
    if layout not in ("single", "grid"):
        r.problem(root.line_of("layout"), "layout",
                  f"“layout”必须是“single”或“grid”，而不是{_q(layout)}")
    groups = _rater_group_list(r, root)
    scales = _scales(r, root.get("scales"), root.line_of("scales")) if "scales" in root else {}
    if "scales" not in root:
        r.problem(root.line, "scales", "缺少必填字段“scales”")

    dimensions: list[Dimension] = []
    dim_raw = r.get(root, "dimensions", list, "")
    a_dimension = _Place("dimension", "维度")
    for entry in r.mappings(dim_raw, root.line_of("dimensions"), _field("dimensions")):
        r.unknown_fields(entry, {"key", "label", "weight"}, a_dimension)
        dkey = r.key_field(entry, a_dimension)
        if any(d.key == dkey for d in dimensions):
            r.problem(entry.line, "dimensions", f"维度“{dkey}”定义了两次")
        this = _Place(f"dimension '{dkey}'", f"维度“{dkey}”")
        weight = r.get(entry, "weight", float, this)
        if weight is not None and weight < 0:
            r.problem(entry.line_of("weight"), "weight", f"维度“{dkey}”的权重不能是负数")
        dimensions.append(Dimension(dkey, r.get(entry, "label", str, this) or dkey,
                                    weight if weight is not None else 0.0))
    if dim_raw is not None:
        r.weights_sum_to_one([(d.key, d.weight) for d in dimensions], root.line_of("dimensions"),
                             a_dimension)

    items: list[Item] = []
    first_line: dict[str, int] = {}
    items_raw = r.get(root, "items", list, "")
    if items_raw is not None and not items_raw:
        r.problem(root.line_of("items"), "items", "测评表中没有任何题目")
    an_item = _Place("item", "题目")
    for entry in r.mappings(items_raw, root.line_of("items"), _field("items")):
        r.unknown_fields(entry, {"key", "label", "scale", "dimension", "weight", "required", "help"},
                         an_item)
        ikey = r.key_field(entry, an_item)
        if ikey in first_line:
            r.problem(entry.line_of("key"), "items",
                      f"题目“{ikey}”定义了两次（第一次在第 {first_line[ikey]} 行）")
        first_line.setdefault(ikey, entry.line_of("key"))
        where = _Place(f"item '{ikey}'", f"题目“{ikey}”")
        scale = r.get(entry, "scale", str, where)
        if scale is not None and scale not in scales:
            r.problem(entry.line_of("scale"), f"{where}.scale",
                      f"{where.zh}使用的量表“{scale}”没有定义")
        dimension = r.get(entry, "dimension", str, where)
        if dimension is not None and dimension not in {d.key for d in dimensions}:
            r.problem(entry.line_of("dimension"), f"{where}.dimension",
                      f"{where.zh}所属的维度“{dimension}”没有定义")
        weight = r.get(entry, "weight", float, where, required=False, default=1.0)
        if weight is not None and weight <= 0:
            r.problem(entry.line_of("weight"), f"{where}.weight", f"{where.zh}的权重必须大于 0")
        items.append(Item(ikey, r.get(entry, "label", str, where) or ikey, scale or "",
                          dimension or "", weight or 1.0,
                          r.get(entry, "required", bool, where, required=False, default=True),
                          r.get(entry, "help", str, where, required=False, default="")))
    used = {i.dimension for i in items}
    for d in dimensions:
        if items and d.key not in used:
            r.problem(root.line_of("dimensions"), "dimensions",
                      f"维度“{d.key}”下没有任何题目")

    satisfied = r.get(root, "satisfied", list, "", required=False, default=[])
    choice_keys = {c.key for s in scales.values() for c in s.choices}
    for index, ckey in enumerate(satisfied or []):
        if ckey not in choice_keys:
            r.problem(satisfied.line_of(index), "satisfied",
                      f"“satisfied”中的选项{_q(ckey)}在任何量表中都没有定义")
    rate_item = r.get(root, "satisfaction_item", str, "", required=False, default="")
    if rate_item:
        match = next((i for i in items if i.key == rate_item), None)
        if match is None:
            r.problem(root.line_of("satisfaction_item"), "satisfaction_item",
                      f"“satisfaction_item”指定的“{rate_item}”不是本测评表的题目")
        elif match.scale in scales and not set(satisfied or ()) <= {c.key for c in scales[match.scale].choices}:
            r.problem(root.line_of("satisfaction_item"), "satisfaction_item",
                      f"“satisfaction_item”指定的题目“{rate_item}”使用量表“{match.scale}”，"
                      f"但该量表没有“satisfied”列出的选项（{_listing(satisfied or ())}）")
        elif not satisfied:
            r.problem(root.line_of("satisfaction_item"), "satisfaction_item",
                      "有了“satisfaction_item”，还需要用“satisfied”列出算作满意的选项")
    return Questionnaire(
        key=key, version=_version(r, root), title=r.get(root, "title", str, "") or "",
        subject_kind=subject_kind, layout=layout, rater_groups=groups,
        scales=tuple(scales.values()), dimensions=tuple(dimensions), items=tuple(items),
        satisfied=tuple(satisfied or ()), satisfaction_item=rate_item, intro=r.get(root, "intro", str, "", required=False, default=""),
        source=r.get(root, "source", str, "", required=False, default=""),
    )


def _version(r: _Reader, root: LDict) -> int:
    version = r.get(root, "version", int, "")
    if version is not None and version < 1:
        r.problem(root.line_of("version"), "version", "“version”必须是 1 或更大的整数")
    return version or 1


# ------------------------------------------------------------------------------ checklists

def _checklist(r: _Reader, root: LDict) -> Checklist:
    key = r.key_field(root, "")
    total = r.get(root, "total", float, "")
    stages = r.get(root, "stages", list, "", required=False, default=list(STAGES))
    for index, stage in enumerate(stages or []):
        if stage not in STAGES:
            r.problem(stages.line_of(index), "stages",
                      f"阶段{_q(stage)}无法识别，应为 {_listing(STAGES)} 之一")
    categories: list[Category] = []
    seen: dict[str, int] = {}
    cats_raw = r.get(root, "categories", list, "")
    if cats_raw is not None and not cats_raw:
        r.problem(root.line_of("categories"), "categories", "清单中没有任何类别")
    a_category = _Place("category", "类别")
    for cat in r.mappings(cats_raw, root.line_of("categories"), _field("categories")):
        r.unknown_fields(cat, {"key", "label", "points", "indicators"}, a_category)
        ckey = r.key_field(cat, a_category)
        where = _Place(f"category '{ckey}'", f"类别“{ckey}”")
        points = r.get(cat, "points", float, where)
        indicators: list[Indicator] = []
        an_indicator = _Place("indicator", "指标")
        for ind in r.mappings(r.get(cat, "indicators", list, where), cat.line_of("indicators"),
                              _Place(f"{where} indicators", f"{where.zh}的“indicators”")):
            r.unknown_fields(ind, {"key", "label", "points", "guide"}, an_indicator)
            ikey = r.key_field(ind, an_indicator)
            if ikey in seen:
                r.problem(ind.line_of("key"), "indicators",
                          f"指标“{ikey}”定义了两次（第一次在第 {seen[ikey]} 行）")
            seen.setdefault(ikey, ind.line_of("key"))
            indicator = _Place(f"indicator '{ikey}'", f"指标“{ikey}”")
            ipoints = r.get(ind, "points", float, indicator)
            if ipoints is not None and ipoints <= 0:
                r.problem(ind.line_of("points"), "points", f"指标“{ikey}”的分值必须大于 0")
            indicators.append(Indicator(ikey, r.get(ind, "label", str, indicator) or ikey,
                                        ipoints or 0.0,
                                        r.get(ind, "guide", str, indicator, required=False,
                                              default="")))
        if not indicators:
            r.problem(cat.line, where, f"{where.zh}下没有任何指标")
        summed = sum(i.points for i in indicators)
        if points is not None and indicators and abs(summed - points) > TOLERANCE:
            r.problem(cat.line_of("points"), f"{where}.points",
                      f"{where.zh}标明 {points:g} 分，但其指标合计 {summed:g} 分")
        categories.append(Category(ckey, r.get(cat, "label", str, where) or ckey,
                                   points if points is not None else summed, tuple(indicators)))
    summed_total = sum(c.points for c in categories)
    if total is not None and categories and summed_total - total > TOLERANCE:
        r.problem(root.line_of("total"), "total",
                  f"各类别合计 {summed_total:g} 分，超过了标明的总分 {total:g} 分")
    elif total is not None and categories and total - summed_total > TOLERANCE:
        r.problem(root.line_of("total"), "total",
                  f"各类别合计 {summed_total:g} 分，少于标明的总分 {total:g} 分")
    vetoes: list[VetoItem] = []
    a_veto = _Place("veto item", "否决项")
    for v in r.mappings(r.get(root, "vetoes", list, "", required=False, default=[]),
                        root.line_of("vetoes"), _field("vetoes")):
        r.unknown_fields(v, {"key", "label"}, a_veto)
        vkey = r.key_field(v, a_veto)
        if vkey in seen or any(x.key == vkey for x in vetoes):
            r.problem(v.line_of("key"), "vetoes", f"否决项的键“{vkey}”已经用过了"
                      "（指标和否决项的键不能重复）")
        label = r.get(v, "label", str, _Place(f"veto item '{vkey}'", f"否决项“{vkey}”"))
        vetoes.append(VetoItem(vkey, label or vkey))
    return Checklist(key=key, version=_version(r, root), title=r.get(root, "title", str, "") or "",
                     total=total or summed_total, stages=tuple(stages or ()),
                     categories=tuple(categories), vetoes=tuple(vetoes),
                     source=r.get(root, "source", str, "", required=False, default=""))


# -------------------------------------------------------------------------------- schemes

def _scheme(r: _Reader, root: LDict, library: Mapping[str, Definition]) -> Scheme:
    key = r.key_field(root, "")
    checklist_key = r.get(root, "checklist", str, "", required=False, default="")
    checklist = library.get(checklist_key) if checklist_key else None
    if checklist_key and not isinstance(checklist, Checklist):
        r.problem(root.line_of("checklist"), "checklist",
                  f"清单“{checklist_key}”没有定义")
    stage = r.get(root, "stage", str, "", required=False, default="panel")
    if stage not in STAGES:
        r.problem(root.line_of("stage"), "stage",
                  f"阶段{_q(stage)}无法识别，应为 {_listing(STAGES)} 之一")
    elif isinstance(checklist, Checklist) and stage not in checklist.stages:
        r.problem(root.line_of("stage"), "stage",
                  f"清单“{checklist_key}”没有阶段“{stage}”")

    groups: list[GroupWeight] = []
    raw_groups = r.get(root, "rater_groups", list, "", required=False, default=[])
    a_group = _Place("rater group", "评价主体")
    for g in r.mappings(raw_groups, root.line_of("rater_groups"), _field("rater_groups")):
        r.unknown_fields(g, {"key", "label", "weight"}, a_group)
        gkey = r.key_field(g, a_group)
        if any(x.key == gkey for x in groups):
            r.problem(g.line, "rater_groups", f"评价主体“{gkey}”声明了两次")
        weight = r.get(g, "weight", float, _Place(f"rater group '{gkey}'", f"评价主体“{gkey}”"))
        if weight is not None and weight < 0:  # the sum alone would let 1.5 and -0.5 through
            r.problem(g.line_of("weight"), "rater_groups", f"评价主体“{gkey}”的权重不能是负数（{weight:g}）")
        groups.append(GroupWeight(gkey, r.get(g, "label", str, "", required=False,
                                              default=known_groups.label(gkey)),
                                  weight if weight is not None else 0.0))
    if raw_groups:
        r.weights_sum_to_one([(g.key, g.weight) for g in groups], root.line_of("rater_groups"),
                             a_group)
    group_keys = {g.key for g in groups}

    components: list[Component] = []
    raw_components = r.get(root, "components", list, "")
    if raw_components is not None and not raw_components:
        r.problem(root.line_of("components"), "components", "评定办法中没有任何构成项")
    a_component = _Place("component", "构成项")
    for c in r.mappings(raw_components, root.line_of("components"), _field("components")):
        r.unknown_fields(c, {"key", "label", "source", "weight", "questionnaire", "rater_group",
                             "column", "full_marks", "optional"}, a_component)
        ckey = r.key_field(c, a_component)
        where = _Place(f"component '{ckey}'", f"构成项“{ckey}”")
        source = r.get(c, "source", str, where)
        if source is not None and source not in COMPONENT_SOURCES:
            r.problem(c.line_of("source"), f"{where}.source",
                      f"{where.zh}的“source”是{_q(source)}，无法识别；"
                      f"请使用 {_listing(COMPONENT_SOURCES)} 之一")
        questionnaire = r.get(c, "questionnaire", str, where, required=False, default="")
        if questionnaire and not isinstance(library.get(questionnaire), Questionnaire):
            r.problem(c.line_of("questionnaire"), f"{where}.questionnaire",
                      f"{where.zh}使用的测评表“{questionnaire}”没有定义")
        if source in ("satisfaction_rate", "group_score", "combined_score") and not questionnaire:
            r.problem(c.line, where, f"{where.zh}的“source”是“{source}”，需要填写“questionnaire”")
        group = r.get(c, "rater_group", str, where, required=False, default="")
        if source == "group_score" and not group:
            r.problem(c.line, where, f"{where.zh}的“source”是“group_score”，需要填写“rater_group”")
        if group and group not in group_keys:
            r.problem(c.line_of("rater_group"), f"{where}.rater_group",
                      f"{where.zh}使用的评价主体“{group}”没有在评定办法的“rater_groups”中声明")
        if source == "checklist_total" and not checklist_key:
            r.problem(c.line, where, f"{where.zh}要用清单得分，评定办法需要用“checklist”指定清单")
        if source == "result" and not c.get("column"):
            r.problem(c.line, where, f"{where.zh}的“source”是“result”，需要填写“column”")
        weight = r.get(c, "weight", float, where)
        if weight is not None and weight < 0:  # a better vote would lower the composite
            r.problem(c.line_of("weight"), f"{where}.weight", f"{where.zh}的权重不能是负数（{weight:g}）")
        full = r.get(c, "full_marks", float, where, required=False,
                     default=(checklist.total if source == "checklist_total"
                              and isinstance(checklist, Checklist) else 100.0))
        components.append(Component(ckey, r.get(c, "label", str, where, required=False, default=ckey),
                                    source or "result", weight if weight is not None else 0.0,
                                    questionnaire, group,
                                    r.get(c, "column", str, where, required=False, default=""),
                                    full or 100.0,
                                    r.get(c, "optional", bool, where, required=False, default=False)))
    r.weights_sum_to_one([(c.key, c.weight) for c in components], root.line_of("components"),
                         a_component)

    grades: list[Grade] = []
    raw_grades = r.get(root, "grades", list, "")
    if raw_grades is not None and not raw_grades:
        r.problem(root.line_of("grades"), "grades", "评定办法中没有任何等次")
    previous: Grade | None = None
    a_grade = _Place("grade", "等次")
    for index, g in enumerate(r.mappings(raw_grades, root.line_of("grades"), _field("grades"))):
        r.unknown_fields(g, {"label", "min"}, a_grade)
        label = r.get(g, "label", str, a_grade) or "?"
        minimum = r.get(g, "min", float, _Place(f"grade '{label}'", f"等次“{label}”"))
        if minimum is None:
            continue
        if any(x.label == label for x in grades):
            r.problem(g.line, "grades", f"等次“{label}”列出了两次")
        if previous is not None and minimum >= previous.minimum:
            r.problem(g.line_of("min"), "grades",
                      f"等次必须按分数线从高到低排列：“{label}”（min {minimum:g}）"
                      f"排在了“{previous.label}”（min {previous.minimum:g}）之后")
        grade = Grade(label, minimum, rank=0)
        grades.append(grade)
        previous = grade
    n = len(grades)
    grades = [Grade(g.label, g.minimum, rank=n - i) for i, g in enumerate(grades)]
    labels = {g.label for g in grades}

    vetoes: list[VetoRule] = []
    veto_keys = {v.key for v in checklist.vetoes} if isinstance(checklist, Checklist) else set()
    a_rule = _Place("veto rule", "否决规则")
    for v in r.mappings(r.get(root, "vetoes", list, "", required=False, default=[]),
                        root.line_of("vetoes"), _field("vetoes")):
        r.unknown_fields(v, {"on", "cap"}, a_rule)
        on = r.get(v, "on", str, a_rule) or ""
        if isinstance(checklist, Checklist) and on not in veto_keys:
            r.problem(v.line_of("on"), "vetoes.on",
                      f"否决规则的“on”是“{on}”，但清单“{checklist_key}”中没有这个否决项"
                      f"（该清单的否决项：{_listing(sorted(veto_keys)) or '无'}）")
        elif not checklist_key:
            r.problem(v.line_of("on"), "vetoes.on",
                      f"针对“{on}”的否决规则需要评定办法用“checklist”指定清单")
        cap = r.get(v, "cap", str, a_rule) or ""
        if cap and labels and cap not in labels:
            r.problem(v.line_of("cap"), "vetoes.cap", f"否决规则的“cap”是“{cap}”，但它不是本评定办法的等次")
        vetoes.append(VetoRule(on, cap))
    below = r.get(root, "rectification_below", str, "", required=False, default="")
    if below and labels and below not in labels:
        r.problem(root.line_of("rectification_below"), "rectification_below",
                  f"“rectification_below”指定的“{below}”不是本评定办法的等次")
    order = [g.label for g in grades]
    component_keys = {c.key for c in components}
    categories = ({c.key for c in checklist.categories} if isinstance(checklist, Checklist)
                  else set())
    quotas = _quotas(r, root, order, component_keys | categories,
                     any(c.source == "checklist_total" for c in components))
    vote_rules = _vote_share_rules(r, root, labels, components, library)
    yoy = _year_over_year(r, root, labels)
    pay = _pay_link(r, root, labels)
    rollup = _rollup(r, root, labels)
    rect = _rectification(r, root, labels)
    if rect is not None and below and rect.below != below:
        r.problem(root.line_of("rectification"), "rectification.below",
                  f"“rectification.below”的“{rect.below}”与“rectification_below”的“{below}”不一致")
    return Scheme(key=key, version=_version(r, root), title=r.get(root, "title", str, "") or "",
                  checklist=checklist_key, stage=stage, rater_groups=tuple(groups),
                  components=tuple(components), grades=tuple(grades), vetoes=tuple(vetoes),
                  rectification_below=below or (rect.below if rect else ""),
                  source=r.get(root, "source", str, "", required=False, default=""),
                  quotas=quotas, vote_share_rules=vote_rules, year_over_year=yoy, pay_link=pay,
                  rollup=rollup, rectification=rect)


FRACTION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)\s*$")
COMPARISONS = (">", ">=", "<", "<=")


def _fraction(r: _Reader, node: LDict, key: str, where: str, *, required: bool = True,
              default: float | None = None) -> tuple[float | None, str]:
    """A share between 0 and 1, written as a number (0.0525) or a fraction ('1/3')."""
    if key not in node:
        if required:
            r.problem(node.line, f"{where}.{key}", f"{_zh(where)}缺少必填字段“{key}”")
        return default, "" if default is None else f"{default:g}"
    raw = node[key]
    if isinstance(raw, str) and FRACTION_RE.match(raw):
        top, bottom = (float(x) for x in FRACTION_RE.match(raw).groups())
        value, text = (top / bottom if bottom else math.inf), raw.replace(" ", "")
    elif isinstance(raw, (int, float)) and not isinstance(raw, bool):
        value, text = float(raw), f"{raw:g}"
    else:
        r.problem(node.line_of(key), f"{where}.{key}",
                  f"{_of(where)}字段“{key}”必须是 0.3 或 1/3 这样的比例，而不是{_describe(raw)}")
        return None, ""
    if not 0 <= value <= 1:
        r.problem(node.line_of(key), f"{where}.{key}",
                  f"{_of(where)}字段“{key}”必须在 0 到 1 之间，而不是 {text}")
        return None, text
    return value, text


def _label_of(r: _Reader, node: LDict, key: str, where: str, labels: set[str],
              required: bool = True) -> str:
    label = r.get(node, key, str, where, required=required, default="") or ""
    if label and labels and label not in labels:
        r.problem(node.line_of(key), f"{where}.{key}",
                  f"{_of(where)}“{key}”是“{label}”，但它不是本评定办法的等次")
        return ""
    return label


def _quotas(r: _Reader, root: LDict, order: list[str], component_keys: set[str],
            has_checklist: bool) -> tuple[Quota, ...]:
    out: list[Quota] = []
    allowed = component_keys | {"composite", "code"} | ({"checklist_total"} if has_checklist else set())
    a_quota = _Place("quota", "比例限制")
    for q in r.mappings(r.get(root, "quotas", list, "", required=False, default=[]),
                        root.line_of("quotas"), _field("quotas")):
        r.unknown_fields(q, {"label", "max_share", "tie_break"}, a_quota)
        label = _label_of(r, q, "label", a_quota, set(order))
        where = _Place(f"quota on '{label}'", f"等次“{label}”的比例限制") if label else a_quota
        if label and order and label == order[-1]:
            r.problem(q.line_of("label"), "quota.label",
                      f"{where.zh}针对的是最低等次，超出比例的对象无法再降到更低的等次")
        if any(x.label == label for x in out):
            r.problem(q.line, "quotas", f"{where.zh}声明了两次")
        share, _ = _fraction(r, q, "max_share", where)
        breaks: list[TieBreak] = []
        raw = r.get(q, "tie_break", list, where)
        if raw is not None and not raw:
            r.problem(q.line_of("tie_break"), f"{where}.tie_break", f"{where.zh}的“tie_break”是空的")
        tie_break = _Place(f"{where} tie_break", f"{where.zh}的“tie_break”")
        for t in r.mappings(raw, q.line_of("tie_break"), tie_break):
            r.unknown_fields(t, {"key", "order"}, tie_break)
            tkey = r.get(t, "key", str, tie_break) or ""
            if tkey and tkey not in allowed:
                r.problem(t.line_of("key"), f"{where}.tie_break",
                          f"{where.zh}用“{tkey}”决定并列先后，但它既不是评定办法的构成项，"
                          "也不是其清单的类别"
                          f"（请使用以下之一：{_listing(sorted(allowed))}）")
            direction = r.get(t, "order", str, tie_break, required=False,
                              default="asc" if tkey == "code" else "desc")
            if direction not in ("asc", "desc"):
                r.problem(t.line_of("order"), f"{where}.tie_break.order",
                          f"“tie_break”的“order”必须是“asc”或“desc”，而不是{_q(direction)}")
                direction = "desc"
            breaks.append(TieBreak(tkey, direction))
        if label and share is not None:
            out.append(Quota(label, share, tuple(breaks)))
    # the quotas are applied from the highest grade down, whatever order the file lists them in
    return tuple(sorted(out, key=lambda x: order.index(x.label)))


def _vote_share_rules(r: _Reader, root: LDict, labels: set[str], components: list[Component],
                      library: Mapping[str, Definition]) -> tuple[VoteShareRule, ...]:
    out: list[VoteShareRule] = []
    used = [c.questionnaire for c in components if c.questionnaire]
    for v in r.mappings(r.get(root, "vote_share_rules", list, "", required=False, default=[]),
                        root.line_of("vote_share_rules"), _field("vote_share_rules")):
        where = _Place("vote-share rule", "得票比例规则")
        r.unknown_fields(v, {"questionnaire", "item", "choices", "compare", "share", "set", "cap",
                             "flag"}, where)
        qkey = r.get(v, "questionnaire", str, where, required=False, default=used[0] if used else "")
        questionnaire = library.get(qkey)
        if not qkey:
            r.problem(v.line, where, f"{where.zh}需要填写“questionnaire”（没有哪个构成项指定了测评表）")
        elif not isinstance(questionnaire, Questionnaire):
            r.problem(v.line_of("questionnaire"), f"{where}.questionnaire",
                      f"{where.zh}使用的测评表“{qkey}”没有定义")
            questionnaire = None
        item = r.get(v, "item", str, where, required=False, default="")
        available: set[str] = set()
        if isinstance(questionnaire, Questionnaire):
            if item and item not in {i.key for i in questionnaire.items}:
                r.problem(v.line_of("item"), f"{where}.item",
                          f"{where.zh}中的题目“{item}”在测评表“{qkey}”中不存在")
                item = ""
            scales = ([questionnaire.scale(questionnaire.item(item).scale)] if item
                      else list(questionnaire.scales))
            available = {c.key for s in scales for c in s.choices}
        choices = r.get(v, "choices", list, where) or []
        for index, choice in enumerate(choices):
            if questionnaire is not None and choice not in available:
                r.problem(choices.line_of(index), f"{where}.choices",
                          f"{where.zh}中的选项{_q(choice)}在测评表“{qkey}”中不存在"
                          f"（该测评表的选项：{_listing(sorted(available))}）")
        compare = r.get(v, "compare", str, where) or ">"
        if compare not in COMPARISONS:
            r.problem(v.line_of("compare"), f"{where}.compare",
                      f"{where.zh}的“compare”是{_q(compare)}，无法识别；"
                      f"请使用 {_listing(COMPARISONS)} 之一")
        share, text = _fraction(r, v, "share", where)
        effects = [e for e in ("set", "cap", "flag") if e in v]
        if len(effects) != 1:
            r.problem(v.line, where, f"{where.zh}必须写“set”、“cap”或“flag”，且只能写其中一个")
            continue
        effect = effects[0]
        grade = _label_of(r, v, effect, where, labels) if effect != "flag" else ""
        flag = r.get(v, "flag", str, where, required=False, default="") or ""
        if share is not None:
            out.append(VoteShareRule(tuple(str(c) for c in choices), compare, share,  # type: ignore[arg-type]
                                     effect, grade, flag, text, qkey or "", item))  # type: ignore[arg-type]
    return tuple(out)


def _year_over_year(r: _Reader, root: LDict, labels: set[str]) -> YearOverYear | None:
    node = r.get(root, "year_over_year", dict, "", required=False)
    if node is None:
        return None
    where = _field("year_over_year")
    r.unknown_fields(node, {"max_step", "unless_veto", "repeats"}, where)
    step = r.get(node, "max_step", int, where, required=False)
    if step is not None and step < 1:
        r.problem(node.line_of("max_step"), f"{where}.max_step",
                  f"“{where}.max_step”必须至少为 1，而不是 {step}")
    repeats: list[RepeatRule] = []
    a_repeat = _Place("repeat rule", "连续等次规则")
    for rep in r.mappings(r.get(node, "repeats", list, where, required=False, default=[]),
                          node.line_of("repeats"), _field(f"{where}.repeats")):
        r.unknown_fields(rep, {"grade", "years", "flag"}, a_repeat)
        grade = _label_of(r, rep, "grade", a_repeat, labels)
        years = r.get(rep, "years", int, a_repeat, required=False, default=2)
        if years is not None and years < 2:
            r.problem(rep.line_of("years"), "repeat rule.years",
                      f"连续等次规则的“years”必须至少为 2，而不是 {years}")
        flag = r.get(rep, "flag", str, a_repeat) or ""
        if grade and flag:
            repeats.append(RepeatRule(grade, years or 2, flag))
    return YearOverYear(step, r.get(node, "unless_veto", bool, where, required=False, default=True),
                        tuple(repeats))


def _pay_link(r: _Reader, root: LDict, labels: set[str]) -> PayLink | None:
    node = r.get(root, "pay_link", dict, "", required=False)
    if node is None:
        return None
    where = _field("pay_link")
    r.unknown_fields(node, {"base", "band", "cap", "no_bonus", "note"}, where)
    base = r.get(node, "base", float, where, required=False)
    if base is not None and base <= 0:
        r.problem(node.line_of("base"), f"{where}.base", f"“{where}.base”必须大于 0，而不是 {base:g}")
        base = None
    low, high = 0.10, 0.30
    band = r.get(node, "band", list, where, required=False)
    if band is not None:
        if (len(band) != 2 or not all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                      for x in band)):
            r.problem(node.line_of("band"), f"{where}.band",
                      f"“{where}.band”必须是两个比例，如 [0.1, 0.3]")
        elif not 0 <= band[0] <= band[1] <= 1:
            r.problem(node.line_of("band"), f"{where}.band",
                      f"“{where}.band”必须在 0 到 1 之间、由低到高排列，而不是 "
                      f"[{band[0]:g}, {band[1]:g}]")
        else:
            low, high = float(band[0]), float(band[1])
    cap = r.get(node, "cap", float, where, required=False, default=high)
    if cap is not None and not low <= cap <= 1:
        r.problem(node.line_of("cap"), f"{where}.cap",
                  f"“{where}.cap”必须在“band”的下限 {low:g} 与 1 之间，而不是 {cap:g}")
        cap = high
    no_bonus = r.get(node, "no_bonus", list, where, required=False, default=[]) or []
    for index, label in enumerate(no_bonus):
        if labels and label not in labels:
            r.problem(no_bonus.line_of(index), f"{where}.no_bonus",
                      f"“{where}.no_bonus”中的“{label}”不是本评定办法的等次")
    if base is None and not no_bonus:
        r.problem(node.line, where, f"{where.zh}需要基准分“base”或“no_bonus”列表，至少写一个")
    return PayLink(base, low, high, cap if cap is not None else high, tuple(no_bonus),
                   r.get(node, "note", str, where, required=False, default=""))


def _rollup(r: _Reader, root: LDict, labels: set[str]) -> Rollup | None:
    node = r.get(root, "rollup", dict, "", required=False)
    if node is None:
        return None
    where = _field("rollup")
    r.unknown_fields(node, {"parent", "parent_label", "at_or_above", "grades"}, where)
    parent = r.get(node, "parent", str, where, required=False, default="town") or "town"
    default_basis = _label_of(r, node, "at_or_above", where, labels, required=False)
    grades: list[RollupGrade] = []
    raw = r.get(node, "grades", list, where)
    if raw is not None and not raw:
        r.problem(node.line_of("grades"), f"{where}.grades", f"{where.zh}中没有任何等次")
    a_grade = _Place("rollup grade", f"{where.zh}的等次")
    for g in r.mappings(raw, node.line_of("grades"), _field(f"{where}.grades")):
        r.unknown_fields(g, {"label", "at_or_above", "min_share"}, a_grade)
        label = r.get(g, "label", str, a_grade) or ""
        grade = _Place(f"rollup grade '{label}'", f"{where.zh}的等次“{label}”")
        basis = _label_of(r, g, "at_or_above", grade, labels,
                          required=not default_basis) or default_basis
        share, _ = _fraction(r, g, "min_share", grade)
        if label and basis and share is not None:
            grades.append(RollupGrade(label, basis, share))
    return Rollup(parent, r.get(node, "parent_label", str, where, required=False, default="镇街") or "镇街",
                  tuple(grades))


def _rectification(r: _Reader, root: LDict, labels: set[str]) -> Rectification | None:
    node = r.get(root, "rectification", dict, "", required=False)
    if node is None:
        return None
    where = _field("rectification")
    r.unknown_fields(node, {"below", "indicator_share", "owner", "deadline_days"}, where)
    below = _label_of(r, node, "below", where, labels)
    share, _ = _fraction(r, node, "indicator_share", where, required=False, default=0.6)
    days = r.get(node, "deadline_days", int, where, required=False, default=90)
    if days is not None and days < 1:
        r.problem(node.line_of("deadline_days"), f"{where}.deadline_days",
                  f"“{where}.deadline_days”必须至少为 1，而不是 {days}")
    return Rectification(below, share if share is not None else 0.6,
                         r.get(node, "owner", str, where, required=False, default="") or "",
                         days or 90)


# ------------------------------------------------------------------------------- entry points

def load_text(text: str, name: str = "<text>", library: Mapping[str, Definition] | None = None
              ) -> Definition:
    """Validate one definition given as YAML text; ``library`` resolves keys it refers to."""
    r = _Reader(name)
    try:
        root = parse(text)
    except DuplicateKey as exc:
        raise DefinitionError([Problem(name, exc.line, exc.key, str(exc))]) from None
    except TooManyNodes as exc:
        raise DefinitionError([Problem(name, exc.line, "", str(exc))]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        # PyYAML's own reason stays in its words; what we add around it is in the user's
        reason = exc.problem or exc.context or "无法读取"
        if exc.context and exc.context_mark and exc.problem:
            reason += f"；相关内容从第 {exc.context_mark.line + 1} 行开始（{exc.context}）"
        lines = text.splitlines()
        near = "\n".join(lines[max(0, mark.line - 1):mark.line + 1]) if mark else ""
        hint = next((h for clue, h in _YAML_HINTS if clue in near), "")
        raise DefinitionError([Problem(name, line, "", f"YAML 语法错误：{hint}{reason}")]) from None
    except yaml.YAMLError as exc:
        raise DefinitionError([Problem(name, None, "", f"YAML 语法错误：{exc}")]) from None
    if not isinstance(root, LDict):
        raise DefinitionError([Problem(name, 1, "", "定义文件必须是 YAML 映射（由“键: 值”行组成），"
                                       "而不是" + _describe(root))])
    kind = root.get("kind")
    if not isinstance(kind, str) or kind not in TOP_LEVEL:
        raise DefinitionError([Problem(name, root.line_of("kind"), "kind",
                                       f"字段“kind”必须是 {_listing(TOP_LEVEL)} 之一，"
                                       f"而不是{_q(kind) if isinstance(kind, str) else _describe(kind)}")])
    for key in root:
        if key not in TOP_LEVEL[kind]:
            r.problem(root.line_of(key), key, f"顶层字段“{key}”无法识别"
                      f"（{KIND_NAMES[kind]}可用的字段：{_listing(sorted(TOP_LEVEL[kind]))}）")
    if kind == "questionnaire":
        definition: Definition = _questionnaire(r, root)
    elif kind == "checklist":
        definition = _checklist(r, root)
    else:
        definition = _scheme(r, root, library if library is not None else builtin_library())
    if r.problems:
        raise DefinitionError(r.problems)
    return definition


def load_definition(path: str | Path, library: Mapping[str, Definition] | None = None) -> Definition:
    path = Path(path)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DefinitionError([not_utf8(path.name, data, exc)]) from None
    return load_text(text, path.name, library)


def not_utf8(name: str, data: bytes, exc: UnicodeDecodeError) -> Problem:
    """A county's file saved by Notepad, WPS or Excel on a Chinese Windows is GBK/GB18030 more often
    than not; saying so, and where, tells the clerk which setting to change."""
    line = data.count(b"\n", 0, exc.start) + 1
    try:
        data.decode("gb18030")
        hint = "看起来是 GBK/GB18030 编码（中文 Windows 的记事本、WPS 常用），"
    except UnicodeDecodeError:
        hint = ""
    return Problem(name, line, "", f"文件不是 UTF-8 编码的文本：{hint}"
                                   "请用 UTF-8 编码另存后再试")


def load_many(paths: Iterable[str | Path]) -> tuple[dict[str, Definition], list[Problem]]:
    """Validate several files together, so a scheme may refer to a checklist given beside it."""
    try:
        library: dict[str, Definition] = dict(builtin_library())
    except DefinitionError as exc:
        return {}, list(exc.problems)
    problems: list[Problem] = []
    origin: dict[str, str] = {}
    ordered = sorted((Path(p) for p in paths), key=lambda p: _looks_like_scheme(p))
    loaded: dict[str, Definition] = {}
    for path in ordered:
        try:
            definition = load_definition(path, library)
        except DefinitionError as exc:
            problems.extend(exc.problems)
            continue
        except OSError as exc:
            problems.append(Problem(path.name, None, "", f"无法读取文件：{os_reason(exc)}"))
            continue
        if definition.key in origin:
            problems.append(Problem(path.name, None, "key", f"键“{definition.key}”已经被 "
                                    f"{origin[definition.key]} 使用"))
            continue
        origin[definition.key] = path.name
        library[definition.key] = definition
        loaded[str(path)] = definition
    return loaded, problems


# The commonest slips of a Windows or Chinese-input editor, said in Chinese before PyYAML's words,
# when the line PyYAML stopped at (or the one before it) has one
_YAML_HINTS = (
    ("\t", "这里用了制表符（Tab 键），YAML 只能用空格缩进；"),
    ("\u3000", "这里有全角空格，缩进和分隔只能用半角空格；"),
    ("：", "这里可能用了全角冒号“：”，键和值之间要用半角冒号“:”加一个空格；"),
)
_KIND_SCHEME = re.compile(r"""^kind\s*:\s*(["']?)scheme\1\s*(#.*)?$""", re.M)


def _looks_like_scheme(path: Path) -> bool:
    """Schemes are read after what they refer to; ``kind: "scheme"`` is as much a scheme as ``kind: scheme``."""
    try:
        return _KIND_SCHEME.search(path.read_text(encoding="utf-8-sig", errors="replace")) is not None
    except OSError:
        return False


def builtin_paths() -> list[Path]:
    return sorted(TEMPLATE_DIR.glob("*.yaml"))


_BUILTIN: dict[str, Definition] | None = None


def builtin_library() -> dict[str, Definition]:
    """Every built-in template, by key; schemes are resolved after what they refer to."""
    global _BUILTIN
    if _BUILTIN is None:
        library: dict[str, Definition] = {}
        paths = sorted(builtin_paths(), key=_looks_like_scheme)
        for path in paths:
            definition = load_definition(path, library)
            if definition.key in library:
                raise DefinitionError([Problem(path.name, None, "key", f"键“{definition.key}”"
                                               "被两个内置模板同时使用")])
            library[definition.key] = definition
        _BUILTIN = library
    return dict(_BUILTIN)


def load_builtin(key: str) -> Definition:
    try:
        return builtin_library()[key]
    except KeyError:
        raise KeyError(f"没有内置定义“{key}”"
                       f"（可用的内置定义：{_listing(sorted(builtin_library()))}）") from None


def builtin_text(key: str) -> str:
    """The YAML text of a built-in definition, as a campaign snapshots it when it opens."""
    for path in builtin_paths():
        text = path.read_text(encoding="utf-8")
        node = parse(text)
        if isinstance(node, dict) and node.get("key") == key:
            return text
    raise KeyError(f"没有内置定义“{key}”")
