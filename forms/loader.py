"""Read definition files, check them, and build the frozen objects of :mod:`forms.schema`.

Every problem found is collected with its file, line and field before anything is raised, so
a person fixing a definition sees all of its faults at once, not one per attempt.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from forms import rater_groups as known_groups
from forms.errors import DefinitionError, Problem
from forms.schema import (
    STAGES, Category, Checklist, Choice, Component, Definition, Dimension, Grade, GroupWeight,
    Indicator, Item, PayLink, Questionnaire, Quota, Rectification, RepeatRule, Rollup, RollupGrade,
    Scale, Scheme, TieBreak, VetoItem, VetoRule, VoteShareRule, YearOverYear,
)
from forms.yamlnodes import DuplicateKey, LDict, parse

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


class _Reader:
    """Collects problems for one file while the typed objects are being built."""

    def __init__(self, name: str):
        self.name = name
        self.problems: list[Problem] = []

    def problem(self, line: int | None, field: str, message: str) -> None:
        self.problems.append(Problem(self.name, line, field, message))

    def get(self, node: LDict, key: str, kind: type | tuple[type, ...], where: str, *,
            required: bool = True, default: Any = None) -> Any:
        if key not in node:
            if required:
                self.problem(node.line, f"{where}.{key}".lstrip("."),
                             f"{where or 'definition'} is missing the field '{key}'")
            return default
        value = node[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            self.problem(node.line_of(key), f"{where}.{key}".lstrip("."),
                         f"field '{key}'{_in(where)} must be {_type_name(kinds)}, "
                         f"not {_describe(value)}")
            return default
        if isinstance(value, float) and not math.isfinite(value):
            self.problem(node.line_of(key), key, f"field '{key}'{_in(where)} must be a finite number")
            return default
        return value

    def key_field(self, node: LDict, where: str) -> str:
        key = self.get(node, "key", str, where)
        if key is not None and not KEY_RE.match(key):
            self.problem(node.line_of("key"), f"{where}.key",
                         f"key '{key}'{_in(where)} must be lower-case letters, digits and "
                         "underscores, starting with a letter")
        return key or ""

    def mappings(self, node: Any, line: int, where: str) -> list[LDict]:
        if node is None:
            return []
        if not isinstance(node, list):
            self.problem(line, where, f"'{where}' must be a list, not {_describe(node)}")
            return []
        good = []
        for index, entry in enumerate(node):
            if isinstance(entry, dict):
                good.append(entry)
            else:
                self.problem(node.line_of(index), where,
                             f"each entry of '{where}' must be a mapping, not {_describe(entry)}")
        return good

    def unknown_fields(self, node: LDict, allowed: Iterable[str], where: str) -> None:
        for key in node:
            if key not in allowed:
                self.problem(node.line_of(key), f"{where}.{key}",
                             f"unknown field '{key}'{_in(where)} "
                             f"(allowed: {', '.join(sorted(allowed))})")

    def weights_sum_to_one(self, entries: list[tuple[str, float]], line: int, what: str) -> None:
        total = sum(w for _, w in entries if w is not None)
        if entries and abs(total - 1.0) > TOLERANCE:
            self.problem(line, what, f"{what} weights must sum to 1, but sum to {total:g}")


def _in(where: str) -> str:
    return f" of {where}" if where else ""


def _type_name(kinds: tuple[type, ...]) -> str:
    names = {str: "text", int: "an integer", float: "a number", bool: "true or false",
             list: "a list", dict: "a mapping"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "empty"
    return f"{type(value).__name__} {value!r}"


# --------------------------------------------------------------------------- questionnaires

def _scales(r: _Reader, node: Any, line: int) -> dict[str, Scale]:
    scales: dict[str, Scale] = {}
    if not isinstance(node, dict):
        r.problem(line, "scales", f"'scales' must be a mapping of scale keys, not {_describe(node)}")
        return scales
    for key, spec in node.items():
        where = f"scale '{key}'"
        if not KEY_RE.match(key):
            r.problem(node.line_of(key), "scales", f"scale key '{key}' must be lower-case letters, "
                      "digits and underscores")
        if not isinstance(spec, dict):
            r.problem(node.line_of(key), "scales", f"{where} must be a mapping, not {_describe(spec)}")
            continue
        r.unknown_fields(spec, {"label", "choices", "range"}, where)
        label = r.get(spec, "label", str, where, required=False, default=key)
        if ("choices" in spec) == ("range" in spec):
            r.problem(spec.line, where, f"{where} needs exactly one of 'choices' or 'range'")
            continue
        if "range" in spec:
            rng = r.get(spec, "range", dict, where)
            if rng is None:
                continue
            r.unknown_fields(rng, {"min", "max", "step"}, f"{where} range")
            low = r.get(rng, "min", float, f"{where} range")
            high = r.get(rng, "max", float, f"{where} range")
            step = r.get(rng, "step", float, f"{where} range", required=False, default=1.0)
            if low is not None and high is not None and low >= high:
                r.problem(rng.line, where, f"{where} range min {low:g} must be below max {high:g}")
            scales[key] = Scale(key, label, minimum=low, maximum=high, step=step)
            continue
        choices: list[Choice] = []
        seen: dict[str, int] = {}
        for entry in r.mappings(spec["choices"], spec.line_of("choices"), f"{where} choices"):
            r.unknown_fields(entry, {"key", "label", "value"}, f"{where} choice")
            ckey = r.key_field(entry, f"{where} choice")
            if ckey in seen:
                r.problem(entry.line, where, f"{where} has the choice '{ckey}' twice "
                          f"(first on line {seen[ckey]})")
            seen[ckey] = entry.line
            clabel = r.get(entry, "label", str, f"{where} choice '{ckey}'")
            if "value" not in entry:
                r.problem(entry.line, f"{where}.{ckey}.value",
                          f"{where} choice '{ckey}' has no value; every choice maps to a number")
                continue
            value = r.get(entry, "value", float, f"{where} choice '{ckey}'")
            if value is not None:
                choices.append(Choice(ckey, clabel or ckey, value))
        if not choices and not any(p.field.startswith(where) for p in r.problems):
            r.problem(spec.line, where, f"{where} has no choices")
        scales[key] = Scale(key, label, choices=tuple(choices))
    return scales


def _rater_group_list(r: _Reader, root: LDict) -> tuple[str, ...]:
    groups = r.get(root, "rater_groups", list, "")
    if groups is None:
        return ()
    if not groups:
        r.problem(root.line_of("rater_groups"), "rater_groups", "'rater_groups' is empty")
    out = []
    for index, group in enumerate(groups):
        if not isinstance(group, str) or group not in known_groups.RATER_GROUPS:
            r.problem(groups.line_of(index), "rater_groups",
                      f"rater group {group!r} does not exist "
                      f"(known: {', '.join(known_groups.RATER_GROUPS)})")
        else:
            out.append(group)
    return tuple(out)


def _questionnaire(r: _Reader, root: LDict) -> Questionnaire:
    key = r.key_field(root, "")
    subject_kind = r.get(root, "subject_kind", str, "", required=False, default="organisation")
    if subject_kind not in ("organisation", "person"):
        r.problem(root.line_of("subject_kind"), "subject_kind",
                  f"subject_kind must be 'organisation' or 'person', not {subject_kind!r}")
    layout = r.get(root, "layout", str, "", required=False, default="single")
    if layout not in ("single", "grid"):
        r.problem(root.line_of("layout"), "layout", f"layout must be 'single' or 'grid', not {layout!r}")
    groups = _rater_group_list(r, root)
    scales = _scales(r, root.get("scales"), root.line_of("scales")) if "scales" in root else {}
    if "scales" not in root:
        r.problem(root.line, "scales", "definition is missing the field 'scales'")

    dimensions: list[Dimension] = []
    dim_raw = r.get(root, "dimensions", list, "")
    for entry in r.mappings(dim_raw, root.line_of("dimensions"), "dimensions"):
        r.unknown_fields(entry, {"key", "label", "weight"}, "dimension")
        dkey = r.key_field(entry, "dimension")
        if any(d.key == dkey for d in dimensions):
            r.problem(entry.line, "dimensions", f"dimension '{dkey}' is defined twice")
        weight = r.get(entry, "weight", float, f"dimension '{dkey}'")
        if weight is not None and weight < 0:
            r.problem(entry.line_of("weight"), "weight", f"dimension '{dkey}' has a negative weight")
        dimensions.append(Dimension(dkey, r.get(entry, "label", str, f"dimension '{dkey}'") or dkey,
                                    weight if weight is not None else 0.0))
    if dim_raw is not None:
        r.weights_sum_to_one([(d.key, d.weight) for d in dimensions], root.line_of("dimensions"),
                             "dimension")

    items: list[Item] = []
    first_line: dict[str, int] = {}
    items_raw = r.get(root, "items", list, "")
    if items_raw is not None and not items_raw:
        r.problem(root.line_of("items"), "items", "the questionnaire has no items")
    for entry in r.mappings(items_raw, root.line_of("items"), "items"):
        r.unknown_fields(entry, {"key", "label", "scale", "dimension", "weight", "required", "help"},
                         "item")
        ikey = r.key_field(entry, "item")
        if ikey in first_line:
            r.problem(entry.line_of("key"), "items",
                      f"item '{ikey}' is defined twice (first on line {first_line[ikey]})")
        first_line.setdefault(ikey, entry.line_of("key"))
        where = f"item '{ikey}'"
        scale = r.get(entry, "scale", str, where)
        if scale is not None and scale not in scales:
            r.problem(entry.line_of("scale"), f"{where}.scale",
                      f"{where} uses scale '{scale}', which is not defined")
        dimension = r.get(entry, "dimension", str, where)
        if dimension is not None and dimension not in {d.key for d in dimensions}:
            r.problem(entry.line_of("dimension"), f"{where}.dimension",
                      f"{where} belongs to dimension '{dimension}', which is not defined")
        weight = r.get(entry, "weight", float, where, required=False, default=1.0)
        if weight is not None and weight <= 0:
            r.problem(entry.line_of("weight"), f"{where}.weight", f"{where} must have a positive weight")
        items.append(Item(ikey, r.get(entry, "label", str, where) or ikey, scale or "",
                          dimension or "", weight or 1.0,
                          r.get(entry, "required", bool, where, required=False, default=True),
                          r.get(entry, "help", str, where, required=False, default="")))
    used = {i.dimension for i in items}
    for d in dimensions:
        if items and d.key not in used:
            r.problem(root.line_of("dimensions"), "dimensions",
                      f"dimension '{d.key}' has no items")

    satisfied = r.get(root, "satisfied", list, "", required=False, default=[])
    choice_keys = {c.key for s in scales.values() for c in s.choices}
    for index, ckey in enumerate(satisfied or []):
        if ckey not in choice_keys:
            r.problem(satisfied.line_of(index), "satisfied",
                      f"'satisfied' names the choice {ckey!r}, which no scale defines")
    rate_item = r.get(root, "satisfaction_item", str, "", required=False, default="")
    if rate_item:
        match = next((i for i in items if i.key == rate_item), None)
        if match is None:
            r.problem(root.line_of("satisfaction_item"), "satisfaction_item",
                      f"satisfaction_item '{rate_item}' is not an item of the questionnaire")
        elif match.scale in scales and not set(satisfied or ()) <= {c.key for c in scales[match.scale].choices}:
            r.problem(root.line_of("satisfaction_item"), "satisfaction_item",
                      f"satisfaction_item '{rate_item}' uses scale '{match.scale}', which lacks the "
                      f"'satisfied' choices {', '.join(satisfied or ())}")
        elif not satisfied:
            r.problem(root.line_of("satisfaction_item"), "satisfaction_item",
                      "satisfaction_item needs the 'satisfied' list of choices that count as satisfied")
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
        r.problem(root.line_of("version"), "version", "version must be 1 or more")
    return version or 1


# ------------------------------------------------------------------------------ checklists

def _checklist(r: _Reader, root: LDict) -> Checklist:
    key = r.key_field(root, "")
    total = r.get(root, "total", float, "")
    stages = r.get(root, "stages", list, "", required=False, default=list(STAGES))
    for index, stage in enumerate(stages or []):
        if stage not in STAGES:
            r.problem(stages.line_of(index), "stages",
                      f"stage {stage!r} is not one of {', '.join(STAGES)}")
    categories: list[Category] = []
    seen: dict[str, int] = {}
    cats_raw = r.get(root, "categories", list, "")
    if cats_raw is not None and not cats_raw:
        r.problem(root.line_of("categories"), "categories", "the checklist has no categories")
    for cat in r.mappings(cats_raw, root.line_of("categories"), "categories"):
        r.unknown_fields(cat, {"key", "label", "points", "indicators"}, "category")
        ckey = r.key_field(cat, "category")
        where = f"category '{ckey}'"
        points = r.get(cat, "points", float, where)
        indicators: list[Indicator] = []
        for ind in r.mappings(r.get(cat, "indicators", list, where), cat.line_of("indicators"),
                              f"{where} indicators"):
            r.unknown_fields(ind, {"key", "label", "points", "guide"}, "indicator")
            ikey = r.key_field(ind, "indicator")
            if ikey in seen:
                r.problem(ind.line_of("key"), "indicators",
                          f"indicator '{ikey}' is defined twice (first on line {seen[ikey]})")
            seen.setdefault(ikey, ind.line_of("key"))
            ipoints = r.get(ind, "points", float, f"indicator '{ikey}'")
            if ipoints is not None and ipoints <= 0:
                r.problem(ind.line_of("points"), "points", f"indicator '{ikey}' must be worth more than 0 points")
            indicators.append(Indicator(ikey, r.get(ind, "label", str, f"indicator '{ikey}'") or ikey,
                                        ipoints or 0.0,
                                        r.get(ind, "guide", str, f"indicator '{ikey}'", required=False,
                                              default="")))
        if not indicators:
            r.problem(cat.line, where, f"{where} has no indicators")
        summed = sum(i.points for i in indicators)
        if points is not None and indicators and abs(summed - points) > TOLERANCE:
            r.problem(cat.line_of("points"), f"{where}.points",
                      f"{where} is stated as {points:g} points but its indicators add up to {summed:g}")
        categories.append(Category(ckey, r.get(cat, "label", str, where) or ckey,
                                   points if points is not None else summed, tuple(indicators)))
    summed_total = sum(c.points for c in categories)
    if total is not None and categories and summed_total - total > TOLERANCE:
        r.problem(root.line_of("total"), "total",
                  f"the categories add up to {summed_total:g} points, more than the stated total {total:g}")
    elif total is not None and categories and total - summed_total > TOLERANCE:
        r.problem(root.line_of("total"), "total",
                  f"the categories add up to {summed_total:g} points, less than the stated total {total:g}")
    vetoes: list[VetoItem] = []
    for v in r.mappings(r.get(root, "vetoes", list, "", required=False, default=[]),
                        root.line_of("vetoes"), "vetoes"):
        r.unknown_fields(v, {"key", "label"}, "veto item")
        vkey = r.key_field(v, "veto item")
        if vkey in seen or any(x.key == vkey for x in vetoes):
            r.problem(v.line_of("key"), "vetoes", f"veto item '{vkey}' reuses a key already defined")
        vetoes.append(VetoItem(vkey, r.get(v, "label", str, f"veto item '{vkey}'") or vkey))
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
                  f"checklist '{checklist_key}' is not defined")
    stage = r.get(root, "stage", str, "", required=False, default="panel")
    if stage not in STAGES:
        r.problem(root.line_of("stage"), "stage", f"stage {stage!r} is not one of {', '.join(STAGES)}")
    elif isinstance(checklist, Checklist) and stage not in checklist.stages:
        r.problem(root.line_of("stage"), "stage",
                  f"stage '{stage}' is not a stage of checklist '{checklist_key}'")

    groups: list[GroupWeight] = []
    raw_groups = r.get(root, "rater_groups", list, "", required=False, default=[])
    for g in r.mappings(raw_groups, root.line_of("rater_groups"), "rater_groups"):
        r.unknown_fields(g, {"key", "label", "weight"}, "rater group")
        gkey = r.key_field(g, "rater group")
        if any(x.key == gkey for x in groups):
            r.problem(g.line, "rater_groups", f"rater group '{gkey}' is declared twice")
        weight = r.get(g, "weight", float, f"rater group '{gkey}'")
        groups.append(GroupWeight(gkey, r.get(g, "label", str, "", required=False,
                                              default=known_groups.label(gkey)),
                                  weight if weight is not None else 0.0))
    if raw_groups:
        r.weights_sum_to_one([(g.key, g.weight) for g in groups], root.line_of("rater_groups"),
                             "rater group")
    group_keys = {g.key for g in groups}

    components: list[Component] = []
    raw_components = r.get(root, "components", list, "")
    if raw_components is not None and not raw_components:
        r.problem(root.line_of("components"), "components", "the scheme has no components")
    for c in r.mappings(raw_components, root.line_of("components"), "components"):
        r.unknown_fields(c, {"key", "label", "source", "weight", "questionnaire", "rater_group",
                             "column", "full_marks", "optional"}, "component")
        ckey = r.key_field(c, "component")
        where = f"component '{ckey}'"
        source = r.get(c, "source", str, where)
        if source is not None and source not in COMPONENT_SOURCES:
            r.problem(c.line_of("source"), f"{where}.source",
                      f"{where} has source {source!r}; use one of {', '.join(COMPONENT_SOURCES)}")
        questionnaire = r.get(c, "questionnaire", str, where, required=False, default="")
        if questionnaire and not isinstance(library.get(questionnaire), Questionnaire):
            r.problem(c.line_of("questionnaire"), f"{where}.questionnaire",
                      f"{where} uses questionnaire '{questionnaire}', which is not defined")
        if source in ("satisfaction_rate", "group_score", "combined_score") and not questionnaire:
            r.problem(c.line, where, f"{where} needs a 'questionnaire' for source '{source}'")
        group = r.get(c, "rater_group", str, where, required=False, default="")
        if source == "group_score" and not group:
            r.problem(c.line, where, f"{where} needs a 'rater_group' for source 'group_score'")
        if group and group not in group_keys:
            r.problem(c.line_of("rater_group"), f"{where}.rater_group",
                      f"{where} uses rater group '{group}', which the scheme does not declare")
        if source == "checklist_total" and not checklist_key:
            r.problem(c.line, where, f"{where} needs the scheme to name a 'checklist'")
        if source == "result" and not c.get("column"):
            r.problem(c.line, where, f"{where} needs a 'column' for source 'result'")
        weight = r.get(c, "weight", float, where)
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
                         "component")

    grades: list[Grade] = []
    raw_grades = r.get(root, "grades", list, "")
    if raw_grades is not None and not raw_grades:
        r.problem(root.line_of("grades"), "grades", "the scheme has no grades")
    previous: Grade | None = None
    for index, g in enumerate(r.mappings(raw_grades, root.line_of("grades"), "grades")):
        r.unknown_fields(g, {"label", "min"}, "grade")
        label = r.get(g, "label", str, "grade") or "?"
        minimum = r.get(g, "min", float, f"grade '{label}'")
        if minimum is None:
            continue
        if any(x.label == label for x in grades):
            r.problem(g.line, "grades", f"grade '{label}' is listed twice")
        if previous is not None and minimum >= previous.minimum:
            r.problem(g.line_of("min"), "grades",
                      f"grades must run from the highest threshold down: '{label}' (min {minimum:g}) "
                      f"comes after '{previous.label}' (min {previous.minimum:g})")
        grade = Grade(label, minimum, rank=0)
        grades.append(grade)
        previous = grade
    n = len(grades)
    grades = [Grade(g.label, g.minimum, rank=n - i) for i, g in enumerate(grades)]
    labels = {g.label for g in grades}

    vetoes: list[VetoRule] = []
    veto_keys = {v.key for v in checklist.vetoes} if isinstance(checklist, Checklist) else set()
    for v in r.mappings(r.get(root, "vetoes", list, "", required=False, default=[]),
                        root.line_of("vetoes"), "vetoes"):
        r.unknown_fields(v, {"on", "cap"}, "veto rule")
        on = r.get(v, "on", str, "veto rule") or ""
        if isinstance(checklist, Checklist) and on not in veto_keys:
            r.problem(v.line_of("on"), "vetoes.on",
                      f"veto rule on '{on}' names no veto item of checklist '{checklist_key}' "
                      f"(its veto items: {', '.join(sorted(veto_keys)) or 'none'})")
        elif not checklist_key:
            r.problem(v.line_of("on"), "vetoes.on",
                      f"veto rule on '{on}' needs the scheme to name a 'checklist'")
        cap = r.get(v, "cap", str, "veto rule") or ""
        if cap and labels and cap not in labels:
            r.problem(v.line_of("cap"), "vetoes.cap", f"veto rule caps at '{cap}', which is not a grade")
        vetoes.append(VetoRule(on, cap))
    below = r.get(root, "rectification_below", str, "", required=False, default="")
    if below and labels and below not in labels:
        r.problem(root.line_of("rectification_below"), "rectification_below",
                  f"rectification_below names '{below}', which is not a grade")
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
                  f"rectification.below '{rect.below}' differs from rectification_below '{below}'")
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
            r.problem(node.line, f"{where}.{key}", f"{where} is missing the field '{key}'")
        return default, "" if default is None else f"{default:g}"
    raw = node[key]
    if isinstance(raw, str) and FRACTION_RE.match(raw):
        top, bottom = (float(x) for x in FRACTION_RE.match(raw).groups())
        value, text = (top / bottom if bottom else math.inf), raw.replace(" ", "")
    elif isinstance(raw, (int, float)) and not isinstance(raw, bool):
        value, text = float(raw), f"{raw:g}"
    else:
        r.problem(node.line_of(key), f"{where}.{key}",
                  f"field '{key}' of {where} must be a share such as 0.3 or 1/3, not {_describe(raw)}")
        return None, ""
    if not 0 <= value <= 1:
        r.problem(node.line_of(key), f"{where}.{key}",
                  f"field '{key}' of {where} must be between 0 and 1, not {text}")
        return None, text
    return value, text


def _label_of(r: _Reader, node: LDict, key: str, where: str, labels: set[str],
              required: bool = True) -> str:
    label = r.get(node, key, str, where, required=required, default="") or ""
    if label and labels and label not in labels:
        r.problem(node.line_of(key), f"{where}.{key}",
                  f"{where} names '{label}' as '{key}', which is not a grade of the scheme")
        return ""
    return label


def _quotas(r: _Reader, root: LDict, order: list[str], component_keys: set[str],
            has_checklist: bool) -> tuple[Quota, ...]:
    out: list[Quota] = []
    allowed = component_keys | {"composite", "code"} | ({"checklist_total"} if has_checklist else set())
    for q in r.mappings(r.get(root, "quotas", list, "", required=False, default=[]),
                        root.line_of("quotas"), "quotas"):
        r.unknown_fields(q, {"label", "max_share", "tie_break"}, "quota")
        label = _label_of(r, q, "label", "quota", set(order))
        where = f"quota on '{label}'" if label else "quota"
        if label and order and label == order[-1]:
            r.problem(q.line_of("label"), "quota.label",
                      f"{where} limits the lowest grade; nobody could be moved below it")
        if any(x.label == label for x in out):
            r.problem(q.line, "quotas", f"{where} is declared twice")
        share, _ = _fraction(r, q, "max_share", where)
        breaks: list[TieBreak] = []
        raw = r.get(q, "tie_break", list, where)
        if raw is not None and not raw:
            r.problem(q.line_of("tie_break"), f"{where}.tie_break", f"{where} has an empty tie_break")
        for t in r.mappings(raw, q.line_of("tie_break"), f"{where} tie_break"):
            r.unknown_fields(t, {"key", "order"}, f"{where} tie_break")
            tkey = r.get(t, "key", str, f"{where} tie_break") or ""
            if tkey and tkey not in allowed:
                r.problem(t.line_of("key"), f"{where}.tie_break",
                          f"{where} breaks ties on '{tkey}', which is neither a component of the scheme "
                          "nor a category of its checklist "
                          f"(use one of: {', '.join(sorted(allowed))})")
            direction = r.get(t, "order", str, f"{where} tie_break", required=False,
                              default="asc" if tkey == "code" else "desc")
            if direction not in ("asc", "desc"):
                r.problem(t.line_of("order"), f"{where}.tie_break.order",
                          f"tie-break order must be 'asc' or 'desc', not {direction!r}")
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
                        root.line_of("vote_share_rules"), "vote_share_rules"):
        where = "vote-share rule"
        r.unknown_fields(v, {"questionnaire", "item", "choices", "compare", "share", "set", "cap",
                             "flag"}, where)
        qkey = r.get(v, "questionnaire", str, where, required=False, default=used[0] if used else "")
        questionnaire = library.get(qkey)
        if not qkey:
            r.problem(v.line, where, f"{where} needs a 'questionnaire' (no component names one)")
        elif not isinstance(questionnaire, Questionnaire):
            r.problem(v.line_of("questionnaire"), f"{where}.questionnaire",
                      f"{where} uses questionnaire '{qkey}', which is not defined")
            questionnaire = None
        item = r.get(v, "item", str, where, required=False, default="")
        available: set[str] = set()
        if isinstance(questionnaire, Questionnaire):
            if item and item not in {i.key for i in questionnaire.items}:
                r.problem(v.line_of("item"), f"{where}.item",
                          f"{where} names item '{item}', which questionnaire '{qkey}' lacks")
                item = ""
            scales = ([questionnaire.scale(questionnaire.item(item).scale)] if item
                      else list(questionnaire.scales))
            available = {c.key for s in scales for c in s.choices}
        choices = r.get(v, "choices", list, where) or []
        for index, choice in enumerate(choices):
            if questionnaire is not None and choice not in available:
                r.problem(choices.line_of(index), f"{where}.choices",
                          f"{where} names the choice {choice!r}, which questionnaire '{qkey}' lacks "
                          f"(its choices: {', '.join(sorted(available))})")
        compare = r.get(v, "compare", str, where) or ">"
        if compare not in COMPARISONS:
            r.problem(v.line_of("compare"), f"{where}.compare",
                      f"{where} compares with {compare!r}; use one of {' '.join(COMPARISONS)}")
        share, text = _fraction(r, v, "share", where)
        effects = [e for e in ("set", "cap", "flag") if e in v]
        if len(effects) != 1:
            r.problem(v.line, where, f"{where} needs exactly one of 'set', 'cap' or 'flag'")
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
    where = "year_over_year"
    r.unknown_fields(node, {"max_step", "unless_veto", "repeats"}, where)
    step = r.get(node, "max_step", int, where, required=False)
    if step is not None and step < 1:
        r.problem(node.line_of("max_step"), f"{where}.max_step",
                  f"{where}.max_step must be 1 or more, not {step}")
    repeats: list[RepeatRule] = []
    for rep in r.mappings(r.get(node, "repeats", list, where, required=False, default=[]),
                          node.line_of("repeats"), f"{where}.repeats"):
        r.unknown_fields(rep, {"grade", "years", "flag"}, "repeat rule")
        grade = _label_of(r, rep, "grade", "repeat rule", labels)
        years = r.get(rep, "years", int, "repeat rule", required=False, default=2)
        if years is not None and years < 2:
            r.problem(rep.line_of("years"), "repeat rule.years",
                      f"repeat rule years must be 2 or more, not {years}")
        flag = r.get(rep, "flag", str, "repeat rule") or ""
        if grade and flag:
            repeats.append(RepeatRule(grade, years or 2, flag))
    return YearOverYear(step, r.get(node, "unless_veto", bool, where, required=False, default=True),
                        tuple(repeats))


def _pay_link(r: _Reader, root: LDict, labels: set[str]) -> PayLink | None:
    node = r.get(root, "pay_link", dict, "", required=False)
    if node is None:
        return None
    where = "pay_link"
    r.unknown_fields(node, {"base", "band", "cap", "no_bonus", "note"}, where)
    base = r.get(node, "base", float, where, required=False)
    if base is not None and base <= 0:
        r.problem(node.line_of("base"), f"{where}.base", f"{where}.base must be above 0, not {base:g}")
        base = None
    low, high = 0.10, 0.30
    band = r.get(node, "band", list, where, required=False)
    if band is not None:
        if (len(band) != 2 or not all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                      for x in band)):
            r.problem(node.line_of("band"), f"{where}.band",
                      f"{where}.band must be two shares such as [0.1, 0.3]")
        elif not 0 <= band[0] <= band[1] <= 1:
            r.problem(node.line_of("band"), f"{where}.band",
                      f"{where}.band must run from low to high between 0 and 1, not "
                      f"[{band[0]:g}, {band[1]:g}]")
        else:
            low, high = float(band[0]), float(band[1])
    cap = r.get(node, "cap", float, where, required=False, default=high)
    if cap is not None and not low <= cap <= 1:
        r.problem(node.line_of("cap"), f"{where}.cap",
                  f"{where}.cap must lie between the band's low end {low:g} and 1, not {cap:g}")
        cap = high
    no_bonus = r.get(node, "no_bonus", list, where, required=False, default=[]) or []
    for index, label in enumerate(no_bonus):
        if labels and label not in labels:
            r.problem(no_bonus.line_of(index), f"{where}.no_bonus",
                      f"{where}.no_bonus names '{label}', which is not a grade of the scheme")
    if base is None and not no_bonus:
        r.problem(node.line, where, f"{where} needs a 'base' score or a 'no_bonus' list")
    return PayLink(base, low, high, cap if cap is not None else high, tuple(no_bonus),
                   r.get(node, "note", str, where, required=False, default=""))


def _rollup(r: _Reader, root: LDict, labels: set[str]) -> Rollup | None:
    node = r.get(root, "rollup", dict, "", required=False)
    if node is None:
        return None
    where = "rollup"
    r.unknown_fields(node, {"parent", "parent_label", "at_or_above", "grades"}, where)
    parent = r.get(node, "parent", str, where, required=False, default="town") or "town"
    default_basis = _label_of(r, node, "at_or_above", where, labels, required=False)
    grades: list[RollupGrade] = []
    raw = r.get(node, "grades", list, where)
    if raw is not None and not raw:
        r.problem(node.line_of("grades"), f"{where}.grades", f"{where} has no grades")
    for g in r.mappings(raw, node.line_of("grades"), f"{where}.grades"):
        r.unknown_fields(g, {"label", "at_or_above", "min_share"}, "rollup grade")
        label = r.get(g, "label", str, "rollup grade") or ""
        basis = _label_of(r, g, "at_or_above", f"rollup grade '{label}'", labels,
                          required=not default_basis) or default_basis
        share, _ = _fraction(r, g, "min_share", f"rollup grade '{label}'")
        if label and basis and share is not None:
            grades.append(RollupGrade(label, basis, share))
    return Rollup(parent, r.get(node, "parent_label", str, where, required=False, default="镇街") or "镇街",
                  tuple(grades))


def _rectification(r: _Reader, root: LDict, labels: set[str]) -> Rectification | None:
    node = r.get(root, "rectification", dict, "", required=False)
    if node is None:
        return None
    where = "rectification"
    r.unknown_fields(node, {"below", "indicator_share", "owner", "deadline_days"}, where)
    below = _label_of(r, node, "below", where, labels)
    share, _ = _fraction(r, node, "indicator_share", where, required=False, default=0.6)
    days = r.get(node, "deadline_days", int, where, required=False, default=90)
    if days is not None and days < 1:
        r.problem(node.line_of("deadline_days"), f"{where}.deadline_days",
                  f"{where}.deadline_days must be 1 or more, not {days}")
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
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        reason = exc.problem or exc.context or "unreadable"
        if exc.context and exc.context_mark and exc.problem:
            reason += f", {exc.context} that starts on line {exc.context_mark.line + 1}"
        raise DefinitionError([Problem(name, line, "", f"YAML syntax error: {reason}")]) from None
    except yaml.YAMLError as exc:
        raise DefinitionError([Problem(name, None, "", f"YAML syntax error: {exc}")]) from None
    if not isinstance(root, LDict):
        raise DefinitionError([Problem(name, 1, "", "a definition must be a YAML mapping "
                                       "(key: value lines), not " + _describe(root))])
    kind = root.get("kind")
    if kind not in TOP_LEVEL:
        raise DefinitionError([Problem(name, root.line_of("kind"), "kind",
                                       f"field 'kind' must be one of {', '.join(TOP_LEVEL)}, "
                                       f"not {kind!r}")])
    for key in root:
        if key not in TOP_LEVEL[kind]:
            r.problem(root.line_of(key), key, f"unknown top-level key '{key}' for a {kind} "
                      f"(allowed: {', '.join(sorted(TOP_LEVEL[kind]))})")
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
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DefinitionError([Problem(path.name, None, "", "the file is not UTF-8 text")]) from None
    return load_text(text, path.name, library)


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
            problems.append(Problem(path.name, None, "", f"cannot read the file: {exc.strerror}"))
            continue
        if definition.key in origin:
            problems.append(Problem(path.name, None, "key", f"key '{definition.key}' is already used "
                                    f"by {origin[definition.key]}"))
            continue
        origin[definition.key] = path.name
        library[definition.key] = definition
        loaded[str(path)] = definition
    return loaded, problems


def _looks_like_scheme(path: Path) -> bool:
    try:
        return "kind: scheme" in path.read_text(encoding="utf-8", errors="replace")
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
                raise DefinitionError([Problem(path.name, None, "key", f"key '{definition.key}' "
                                               "is used by two built-in templates")])
            library[definition.key] = definition
        _BUILTIN = library
    return dict(_BUILTIN)


def load_builtin(key: str) -> Definition:
    try:
        return builtin_library()[key]
    except KeyError:
        raise KeyError(f"no built-in definition '{key}' "
                       f"(available: {', '.join(sorted(builtin_library()))})") from None


def builtin_text(key: str) -> str:
    """The YAML text of a built-in definition, as a campaign snapshots it when it opens."""
    for path in builtin_paths():
        text = path.read_text(encoding="utf-8")
        node = parse(text)
        if isinstance(node, dict) and node.get("key") == key:
            return text
    raise KeyError(f"no built-in definition '{key}'")
