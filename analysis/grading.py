"""Grades from scores, as an organisation department's 评定办法 says, with every step written down.

The engine is a pure function of DataFrames and a frozen :class:`GradingSpec` (built from a YAML
scheme by ``survey_app.specs.grading_spec``; this module imports nothing of ``forms``). The
steps run in a fixed order, each appending to the reason trail (:mod:`analysis.reasons`):

1. scale every component to 100 points: ``scaled = raw / full_marks * 100``;
2. composite ``C = Σ w_i · scaled_i`` (a missing component is an error unless marked optional;
   when an optional one is missing the weights of those present are renormalised to 1);
3. threshold: the highest grade whose minimum ``C`` reaches;
4. vote-share rules (e.g. 不称职 votes above 1/3 ⇒ 不称职; 称职 below 2/3 ⇒ 诫勉谈话 flag);
5. vetoes (一票否决) cap the grade;
6. year-over-year limit: at most ``max_step`` grades up or down from last campaign, skipped when a
   veto (or a vote-share rule that sets or caps) fired and the scheme says ``unless_veto``; a veto
   cap always holds;
7. quotas (好中选优): from the highest grade down, units over ``floor(max_share · N)`` move down one
   grade in the declared tie-break order, so a quota is never exceeded;
8. flags: repeat rules (不称职 two years running), vote-share flags, rectification;
9. pay link: a composite 10–30% above or below the base moves the bonus the same share;
10. roll-up of parents (towns) from the grades of their units.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

import pandas as pd

from .reasons import Trail, apart, fmt, jsonable, pct, quoted, render_text

EPS = 1e-9


# ------------------------------------------------------------------------------------ the spec

@dataclass(frozen=True)
class GroupSpec:
    """A rater group declared by the scheme, with its weight."""

    key: str
    label: str
    weight: float


@dataclass(frozen=True)
class ComponentSpec:
    """One part of the composite. ``full_marks`` scales the raw value to 100 points.

    With ``by_group`` the raw value may be given as one column per rater group
    (``"<key>.<group>"``), combined with the spec's group weights over the groups present.
    """

    key: str
    label: str
    weight: float
    full_marks: float = 100.0
    optional: bool = False
    source: str = "result"
    by_group: bool = False


@dataclass(frozen=True)
class GradeSpec:
    """A grade and its minimum composite; grades are listed from the highest down."""

    label: str
    minimum: float


@dataclass(frozen=True)
class VetoSpec:
    """一票否决: ``key`` caps the grade at ``cap``."""

    key: str
    cap: str
    label: str = ""


@dataclass(frozen=True)
class VoteShareSpec:
    """A rule on the summed vote share of ``choices`` on ``item``: set or cap the grade, or raise a flag.

    ``item`` picks the rule's rows of a vote-share table that has an ``item`` column; two rules on
    two items of one scale ("较差" on 政治素质, "较差" on 履职能力) must not read each other's shares."""

    choices: tuple[str, ...]
    comparison: Literal[">", ">=", "<", "<="]
    threshold: float
    effect: Literal["set", "cap", "flag"]
    grade: str = ""
    flag: str = ""
    threshold_text: str = ""
    choice_labels: tuple[str, ...] = ()
    item: str = ""


@dataclass(frozen=True)
class TieBreakSpec:
    """One key of a quota's tie-break: a component key, 'composite', 'code' or any column."""

    key: str
    descending: bool = True
    label: str = ""


@dataclass(frozen=True)
class QuotaSpec:
    """At most ``floor(max_share · N)`` of the N units graded may hold ``label``."""

    label: str
    max_share: float
    tie_break: tuple[TieBreakSpec, ...]


@dataclass(frozen=True)
class RepeatSpec:
    grade: str
    years: int
    flag: str


@dataclass(frozen=True)
class YearOverYearSpec:
    max_step: int | None = None
    unless_veto: bool = True
    repeats: tuple[RepeatSpec, ...] = ()


@dataclass(frozen=True)
class PayLinkSpec:
    """Bonus moves ``sign(d)·min(|d|, cap)`` when ``|d| ≥ band_low``, d = (C − base) / base."""

    base: float | None = None
    band_low: float = 0.10
    band_high: float = 0.30
    cap: float = 0.30
    no_bonus: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class RollupGradeSpec:
    label: str
    at_or_above: str
    min_share: float


@dataclass(frozen=True)
class RollupSpec:
    parent_label: str
    grades: tuple[RollupGradeSpec, ...]


@dataclass(frozen=True)
class RectificationSpec:
    """整改台账: units graded below ``below`` get a line per indicator under ``indicator_share``."""

    below: str
    indicator_share: float = 0.6
    owner: str = ""
    deadline_days: int = 90
    indicators: tuple[tuple[str, str, float], ...] = ()  # (key, label, full marks)


@dataclass(frozen=True)
class GradingSpec:
    """Everything the engine needs from a 评定办法."""

    key: str
    title: str
    components: tuple[ComponentSpec, ...]
    grades: tuple[GradeSpec, ...]
    vetoes: tuple[VetoSpec, ...] = ()
    vote_shares: tuple[VoteShareSpec, ...] = ()
    quotas: tuple[QuotaSpec, ...] = ()
    year_over_year: YearOverYearSpec | None = None
    pay_link: PayLinkSpec | None = None
    rollup: RollupSpec | None = None
    rectification: RectificationSpec | None = None
    rater_groups: tuple[GroupSpec, ...] = ()

    def __post_init__(self) -> None:
        labels = [g.label for g in self.grades]
        if not labels:
            raise ValueError(f"spec '{self.key}' has no grades")
        if len(set(labels)) != len(labels):
            raise ValueError(f"spec '{self.key}' lists a grade twice: {labels}")
        mins = [g.minimum for g in self.grades]
        if any(b >= a for a, b in zip(mins, mins[1:])):
            raise ValueError(f"spec '{self.key}': grade minimums must fall from the first grade down")
        total = sum(c.weight for c in self.components)
        if not self.components or abs(total - 1) > 1e-6:
            raise ValueError(f"spec '{self.key}': component weights must sum to 1, not {total:g}")
        named = [v.cap for v in self.vetoes] + [q.label for q in self.quotas] + [
            v.grade for v in self.vote_shares if v.effect != "flag"]
        for label in named:
            if label not in labels:
                raise ValueError(f"spec '{self.key}' names grade '{label}', which it does not list")

    def rank(self, label: str) -> int:
        """Rank of a grade: the lowest is 1, the highest ``len(grades)``."""
        for index, grade in enumerate(self.grades):
            if grade.label == label:
                return len(self.grades) - index
        raise ValueError(f"“{label}”不是评定办法“{self.key}”的等次（它的等次为"
                         f"{quoted(g.label for g in self.grades)}）")

    def label(self, rank: int) -> str:
        return self.grades[len(self.grades) - rank].label


# ---------------------------------------------------------------------------------- the result

@dataclass(frozen=True)
class GradeResult:
    """Grades, the reason trail, the roll-up, and the spec they came from."""

    grades: pd.DataFrame
    reasons: pd.DataFrame
    rollup: pd.DataFrame
    spec: GradingSpec = field(repr=False)

    def to_text(self) -> str:
        """The trail in Chinese, one block per subject, as a person reads it."""
        return render_text(self.grades, self.reasons, self.spec.title, self.rollup)

    def to_records(self) -> list[dict[str, Any]]:
        """One JSON-able dict per subject: its grade fields and its ordered steps."""
        by_subject = {s: g for s, g in self.reasons.groupby("subject", sort=False)}
        out = []
        for row in self.grades.to_dict("records"):
            steps = by_subject.get(row["subject"])
            row["reasons"] = [] if steps is None else [
                {"step": s["step"], "kind": s["kind"], "numbers": s["numbers"], "text": s["text"]}
                for s in steps.sort_values("step").to_dict("records")]
            out.append(jsonable(row))
        return out


GRADE_COLUMNS = ["subject", "name", "parent", "composite", "threshold_grade", "grade", "rank",
                 "vetoed", "quota_cut", "moved_from", "flags", "pay_adjustment"]


# ---------------------------------------------------------------------------------- the engine

def grade(components: pd.DataFrame, spec: GradingSpec, *, vetoes: pd.DataFrame | None = None,
          vote_shares: pd.DataFrame | None = None, previous: pd.DataFrame | None = None
          ) -> GradeResult:
    """Grade every subject by the spec, writing each step into the reason trail.

    Parameters
    ----------
    components : DataFrame
        One row per subject: ``subject``, optional ``name`` and ``parent`` (for the roll-up), and
        one numeric column per component key holding the raw value (scaled by its full marks).
        Extra columns may serve as quota tie-breaks.
    spec : GradingSpec
    vetoes : DataFrame, optional
        ``subject``, ``veto`` (a veto key of the spec), ``evidence``.
    vote_shares : DataFrame, optional
        ``subject``, ``choice``, ``share`` (0–1), ``n`` (ballots counted), and ``item`` where the
        rules are on more than one item.
    previous : DataFrame, optional
        ``subject``, ``grade`` of earlier campaigns; with several per subject, a ``campaign``
        column orders them (the last is last year).

    Returns
    -------
    GradeResult

    Examples
    --------
    Baishan-like: 0.8 × checklist + 0.2 × satisfaction;
    ``0.8*86.5 + 0.2*99.8 = 69.2 + 19.96 = 89.16`` → 四星 (80 ≤ 89.16 < 90).

    >>> spec = GradingSpec(
    ...     key="demo", title="示例",
    ...     components=(ComponentSpec("checklist", "考评得分", 0.8),
    ...                 ComponentSpec("satisfaction", "满意度", 0.2)),
    ...     grades=(GradeSpec("五星", 90), GradeSpec("四星", 80), GradeSpec("三星", 70),
    ...             GradeSpec("一星", 0)),
    ...     vetoes=(VetoSpec("misconduct", "一星", "违法违纪"),))
    >>> frame = pd.DataFrame({"subject": ["V01", "V02"], "checklist": [86.5, 95.0],
    ...                       "satisfaction": [99.8, 90.0]})
    >>> result = grade(frame, spec, vetoes=pd.DataFrame(
    ...     {"subject": ["V02"], "veto": ["misconduct"], "evidence": ["2023年处分"]}))
    >>> result.grades[["subject", "composite", "threshold_grade", "grade"]].round(2).values.tolist()
    [['V01', 89.16, '四星', '四星'], ['V02', 94.0, '五星', '一星']]
    >>> print(result.reasons.query("subject == 'V01'").text.iloc[2])
    综合得分 = 69.2 + 19.96 = 89.16
    """
    trail = Trail()
    frame = _check_components(components, spec)
    n_units = len(frame)
    states: dict[str, dict[str, Any]] = {}

    # 1–3: components, composite, threshold
    for row in frame.to_dict("records"):
        subject = row["subject"]
        composite = _composite(row, spec, trail)
        threshold = _threshold(subject, composite, spec, trail)
        states[subject] = {"row": row, "composite": composite, "threshold": threshold,
                           "rank": spec.rank(threshold), "cap": len(spec.grades), "vetoed": False,
                           "flags": [], "quota_cut": False, "moved_from": None}

    # 4: vote-share rules
    if spec.vote_shares:
        shares = _vote_table(vote_shares)
        for subject, st in states.items():
            _apply_vote_shares(subject, st, shares.get(subject), spec, trail)

    # 5: vetoes
    for subject, hits in _veto_hits(vetoes, spec, set(states)).items():
        _apply_vetoes(subject, states[subject], hits, spec, trail)

    # 6: year over year
    history = _history(previous, spec, set(states))
    yoy = spec.year_over_year
    for subject, st in states.items():
        past = history.get(subject, [])
        if past:
            st["moved_from"] = past[-1]
            _apply_year_over_year(subject, st, past[-1], spec, trail)

    # 7: quotas, counted after every other step, from the highest grade down: a unit cut from one
    # grade joins the next one's holders before that quota is counted
    for quota in sorted(spec.quotas, key=lambda q: spec.rank(q.label), reverse=True):
        _apply_quota(quota, states, n_units, spec, trail)

    # 8: flags
    for subject, st in states.items():
        final = spec.label(st["rank"])
        if yoy is not None:
            past = history.get(subject, [])
            for rule in yoy.repeats:
                run = [*past[-(rule.years - 1):], final] if rule.years > 1 else [final]
                if len(run) == rule.years and all(g == rule.grade for g in run):
                    st["flags"].append(rule.flag)
                    trail.add(subject, "flag",
                              f"连续 {rule.years} 年为 {rule.grade}（{' → '.join(run)}）→ 标记：{rule.flag}",
                              grades=run, flag=rule.flag)
        rect = spec.rectification
        if rect is not None and st["rank"] < spec.rank(rect.below):
            flag = "列入整改台账"
            st["flags"].append(flag)
            trail.add(subject, "flag", f"等次 {final} 低于 {rect.below}，{flag}（逐项列出得分低于满分 "
                      f"{pct(rect.indicator_share)} 的指标，责任人 {rect.owner or '—'}，"
                      f"{rect.deadline_days} 天内整改）", below=rect.below)

    # 9: pay link
    for subject, st in states.items():
        st["pay"] = _pay(subject, st, spec, trail)

    # final line
    rows = []
    for subject, st in states.items():
        final = spec.label(st["rank"])
        trail.add(subject, "final", f"最终等次：{final}", grade=final, rank=st["rank"])
        row = st["row"]
        rows.append({"subject": subject, "name": row.get("name", ""), "parent": row.get("parent"),
                     "composite": st["composite"], "threshold_grade": st["threshold"],
                     "grade": final, "rank": st["rank"], "vetoed": st["vetoed"],
                     "quota_cut": st["quota_cut"], "moved_from": st["moved_from"],
                     "flags": tuple(dict.fromkeys(st["flags"])), "pay_adjustment": st["pay"]})
    grades = pd.DataFrame(rows, columns=GRADE_COLUMNS)
    reasons = trail.frame()
    order = {s: i for i, s in enumerate(grades.subject)}
    reasons = (reasons.assign(_o=reasons.subject.map(order)).sort_values(["_o", "step"], kind="stable")
               .drop(columns="_o").reset_index(drop=True))
    return GradeResult(grades, reasons, _rollup(grades, spec), spec)


# ------------------------------------------------------------------------------------- steps

def _check_components(components: pd.DataFrame, spec: GradingSpec) -> pd.DataFrame:
    if "subject" not in components.columns:
        raise ValueError("各项得分表缺少“subject”列（每个被评对象一行，“subject”为其编码）")
    frame = components.copy()
    frame["subject"] = frame["subject"].astype(str)
    dup = frame.subject[frame.subject.duplicated()].unique()
    if len(dup):
        raise ValueError(f"各项得分表中有被评对象出现了不止一次：{quoted(dup)}"
                         "（每个被评对象只能有一行）")
    for comp in spec.components:
        group_cols = [f"{comp.key}.{g.key}" for g in spec.rater_groups]
        has_groups = comp.by_group and any(c in frame.columns for c in group_cols)
        if comp.key not in frame.columns and not has_groups and not comp.optional:
            raise ValueError(f"各项得分表缺少“{comp.key}”列（{comp.label}）；评定办法没有把这一项标为可缺项"
                             "（optional: true）")
    return frame


def _component_value(row: Mapping[str, Any], comp: ComponentSpec, spec: GradingSpec
                     ) -> tuple[float | None, str]:
    """The raw value of a component, and a note when it was combined from rater groups."""
    value = row.get(comp.key)
    if value is not None and not _missing(value):
        return _number(value, row, comp.key, comp.label), ""
    if comp.by_group and spec.rater_groups:
        parts = [(g, row.get(f"{comp.key}.{g.key}")) for g in spec.rater_groups]
        parts = [(g, _number(v, row, f"{comp.key}.{g.key}", f"{comp.label}·{g.label}")) for g, v in parts
                 if v is not None and not _missing(v)]
        if parts:
            weight = sum(g.weight for g, _ in parts)
            value = sum(g.weight * v for g, v in parts) / weight
            terms = " + ".join(f"{g.label} {fmt(v)}×{fmt(g.weight)}" for g, v in parts)
            note = f"（各评价主体加权：({terms}) ÷ {fmt(weight)} = {fmt(value)}）"
            return value, note
    return None, ""


def _number(value: Any, row: Mapping[str, Any], column: str, label: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"被评对象“{row['subject']}”的“{column}”（{label}）应为数字，表中是“{value}”") from None


def _composite(row: Mapping[str, Any], spec: GradingSpec, trail: Trail) -> float:
    subject = row["subject"]
    present: list[tuple[ComponentSpec, float, str]] = []
    for comp in spec.components:
        raw, note = _component_value(row, comp, spec)
        if raw is None:
            if comp.optional:
                continue
            raise ValueError(f"被评对象“{subject}”没有“{comp.key}”（{comp.label}）的得分；评定办法没有把"
                             "这一项标为可缺项（optional: true）")
        if raw < -EPS or raw > comp.full_marks + EPS:
            raise ValueError(f"被评对象“{subject}”的“{comp.key}”（{comp.label}）为 {raw:g}，超出了 "
                             f"0–{comp.full_marks:g} 的范围")
        present.append((comp, raw, note))
    if not present:
        raise ValueError(f"被评对象“{subject}”没有评定办法中任何一项的得分")
    weight_sum = sum(c.weight for c, _, _ in present)
    parts = []
    for comp, raw, note in present:
        scaled = raw / comp.full_marks * 100
        weight = comp.weight / weight_sum
        part = weight * scaled
        parts.append(part)
        scale_text = ""
        if comp.full_marks != 100:
            scale_text = (f"（满分 {fmt(comp.full_marks)}，折合百分制 "
                          f"{fmt(raw)}÷{fmt(comp.full_marks)}×100 = {fmt(scaled)}）")
        weight_text = (fmt(weight) if abs(weight_sum - 1) < EPS
                       else f"{fmt(comp.weight)}÷{fmt(weight_sum)} = {fmt(weight)}")
        trail.add(subject, "component",
                  f"{comp.label}：{fmt(raw)} 分{note}{scale_text}，权重 {weight_text}，"
                  f"计 {fmt(weight)}×{fmt(scaled)} = {fmt(part)} 分",
                  component=comp.key, raw=raw, full_marks=comp.full_marks, scaled=scaled,
                  weight=weight, contribution=part)
    composite = float(sum(parts))
    missing = [c.label for c in spec.components if c not in [p[0] for p in present]]
    extra = f"（缺 {'、'.join(missing)}，按其余权重和 {fmt(weight_sum)} 归一）" if missing else ""
    trail.add(subject, "composite",
              f"综合得分 = {' + '.join(fmt(p) for p in parts)} = {fmt(composite)}{extra}",
              composite=composite, weight_sum=weight_sum)
    return composite


def _threshold(subject: str, composite: float, spec: GradingSpec, trail: Trail) -> str:
    value = round(composite, 9)  # 0.8*86.5 + ... may land a hair below a threshold it reaches
    for index, g in enumerate(spec.grades):
        if value >= g.minimum:
            above = spec.grades[index - 1] if index else None
            lines = (g.minimum, above.minimum) if above is not None else (g.minimum,)
            text = f"综合得分 {apart(composite, *lines)} ≥ {fmt(g.minimum)}（{g.label}线）"
            if above is not None:
                text += f"且 < {fmt(above.minimum)}（{above.label}线）"
            trail.add(subject, "threshold", f"{text}，按分数线定为 {g.label}",
                      composite=composite, minimum=g.minimum, grade=g.label)
            return g.label
    lowest = spec.grades[-1]
    trail.add(subject, "threshold",
              f"综合得分 {apart(composite, lowest.minimum)} < {fmt(lowest.minimum)}（{lowest.label}线），"
              f"定为最低等次 {lowest.label}",
              composite=composite, minimum=lowest.minimum, grade=lowest.label)
    return lowest.label


def _vote_table(vote_shares: pd.DataFrame | None) -> dict[str, pd.DataFrame]:
    if vote_shares is None:
        return {}
    need = {"subject", "choice", "share"}
    if not need <= set(vote_shares.columns):
        missing = [c for c in ("subject", "choice", "share") if c not in vote_shares.columns]
        raise ValueError(f"票数占比表缺少列：{'、'.join(missing)}（需要的列：subject、choice、share）")
    bad = vote_shares[(vote_shares.share < -EPS) | (vote_shares.share > 1 + EPS)]
    if len(bad):
        raise ValueError(f"被评对象“{bad.subject.iloc[0]}”的票数占比为 {float(bad.share.iloc[0]):g}，"
                         "超出了 0–1 的范围")
    table = vote_shares.assign(subject=vote_shares.subject.astype(str))
    return {s: g for s, g in table.groupby("subject")}


NOT_MET = {">": "未超过", ">=": "未达到", "<": "不低于", "<=": "高于"}  # a vote-share rule that did not apply


def _compare(value: float, op: str, threshold: float) -> bool:
    # shares such as 10/30 against 1/3 are compared with a tolerance, so "above 1/3" means above
    if op == ">":
        return value > threshold + EPS
    if op == ">=":
        return value >= threshold - EPS
    if op == "<":
        return value < threshold - EPS
    return value <= threshold + EPS


def _apply_vote_shares(subject: str, st: dict[str, Any], shares: pd.DataFrame | None,
                       spec: GradingSpec, trail: Trail) -> None:
    if shares is None:
        trail.add(subject, "vote_share", "无测评票数占比数据，票数占比规则未检查")
        return
    for rule in spec.vote_shares:
        own = shares[shares["item"] == rule.item] if rule.item and "item" in shares.columns else shares
        picked = own[own.choice.isin(rule.choices)]
        share = float(picked.share.sum())
        n = int(own.n.max()) if "n" in own.columns and len(own) else None
        names = "、".join(f"「{c}」" for c in (rule.choice_labels or rule.choices))
        said = f"{names}票占 {pct(share)}" + (f"（n={n}）" if n is not None else "")
        threshold = rule.threshold_text or fmt(rule.threshold)
        if not _compare(share, rule.comparison, rule.threshold):  # checked, and said so: why a rule did not apply
            outcome = f"因此定为 {rule.grade}" if rule.effect == "set" else (
                f"因此封顶 {rule.grade}" if rule.effect == "cap" else f"标记 {rule.flag}")
            trail.add(subject, "vote_share", f"{said}，{NOT_MET[rule.comparison]} {threshold}，不{outcome}",
                      share=share, n=n, threshold=rule.threshold, applied=False)
            continue
        before = spec.label(st["rank"])
        if rule.effect == "flag":
            st["flags"].append(rule.flag)
            trail.add(subject, "vote_share", f"{said} {rule.comparison} {threshold} → 标记：{rule.flag}",
                      share=share, n=n, threshold=rule.threshold, flag=rule.flag)
            continue
        target = spec.rank(rule.grade)
        st["vetoed"] = True  # a set or cap by votes counts as a veto for the year-over-year rule
        st["cap"] = min(st["cap"], target)
        if rule.effect == "set":
            st["rank"] = target
            trail.add(subject, "vote_share",
                      f"{said} {rule.comparison} {threshold} → 不论得分，定为 {rule.grade}（按分数线为 {before}）",
                      share=share, n=n, threshold=rule.threshold, grade=rule.grade)
        else:
            st["rank"] = min(st["rank"], target)
            trail.add(subject, "vote_share",
                      f"{said} {rule.comparison} {threshold} → 等次封顶 {rule.grade}，"
                      f"{before} → {spec.label(st['rank'])}",
                      share=share, n=n, threshold=rule.threshold, cap=rule.grade)


def _veto_hits(vetoes: pd.DataFrame | None, spec: GradingSpec, subjects: set[str]
               ) -> dict[str, list[tuple[VetoSpec, str]]]:
    if vetoes is None or not len(vetoes):
        return {}
    if not {"subject", "veto"} <= set(vetoes.columns):
        missing = [c for c in ("subject", "veto") if c not in vetoes.columns]
        raise ValueError(f"否决项表缺少列：{'、'.join(missing)}（需要的列：subject、veto）")
    known = {v.key: v for v in spec.vetoes}
    hits: dict[str, list[tuple[VetoSpec, str]]] = {}
    for row in vetoes.to_dict("records"):
        subject, key = str(row["subject"]), row["veto"]
        if key not in known:
            listed = quoted(known)
            should = f"应为{listed}之一" if known else "该办法没有否决项"
            if _missing(key) or key == "":
                raise ValueError(f"被评对象“{subject}”的否决项是空的（{should}）")
            raise ValueError(f"被评对象“{subject}”的否决项“{key}”不是评定办法“{spec.key}”的否决项（{should}）")
        if subject not in subjects:
            raise ValueError(f"否决项“{key}”针对的被评对象“{subject}”不在本次评定的对象中（请核对编码）")
        evidence = row.get("evidence", "")
        hits.setdefault(subject, []).append((known[key], "" if _missing(evidence) else str(evidence)))
    return hits


def _apply_vetoes(subject: str, st: dict[str, Any], hits: list[tuple[VetoSpec, str]],
                  spec: GradingSpec, trail: Trail) -> None:
    for veto, evidence in hits:
        before = spec.label(st["rank"])
        cap = spec.rank(veto.cap)
        st["cap"] = min(st["cap"], cap)
        st["rank"] = min(st["rank"], cap)
        st["vetoed"] = True
        what = veto.label or veto.key
        said = f"一票否决：{what}" + (f"（{evidence}）" if evidence else "")
        after = spec.label(st["rank"])
        effect = (f"等次封顶 {veto.cap}，由 {before} 降为 {after}" if after != before
                  else f"等次封顶 {veto.cap}，{before} 已不高于封顶")
        trail.add(subject, "veto", f"{said} → {effect}", veto=veto.key, cap=veto.cap,
                  before=before, after=after)


def _history(previous: pd.DataFrame | None, spec: GradingSpec, subjects: set[str]
             ) -> dict[str, list[str]]:
    if previous is None or not len(previous):
        return {}
    if not {"subject", "grade"} <= set(previous.columns):
        missing = [c for c in ("subject", "grade") if c not in previous.columns]
        raise ValueError(f"上一年等次表缺少列：{'、'.join(missing)}（需要的列：subject、grade；"
                         "请使用上一次评定写出的 grades.csv）")
    table = previous.assign(subject=previous.subject.astype(str))
    if "campaign" in table.columns:
        table = table.sort_values("campaign", kind="stable")
    elif table.subject.duplicated().any():
        twice = table.subject[table.subject.duplicated()].iloc[0]
        raise ValueError(f"上一年等次表中被评对象“{twice}”出现了不止一次，但没有“campaign”列说明各是哪一次"
                         "测评的等次")
    out: dict[str, list[str]] = {}
    for row in table.itertuples(index=False):
        if row.subject not in subjects:
            continue
        try:
            spec.rank(row.grade)  # an unknown label is an error, named
        except ValueError:
            what = ("没有填写等次" if _missing(row.grade)
                    else f"的等次“{row.grade}”不是评定办法“{spec.key}”的等次")
            labels = quoted(g.label for g in spec.grades)
            raise ValueError(f"上一年等次表中被评对象“{row.subject}”{what}（应为{labels}之一）") from None
        out.setdefault(row.subject, []).append(row.grade)
    return out


def _apply_year_over_year(subject: str, st: dict[str, Any], last: str, spec: GradingSpec,
                          trail: Trail) -> None:
    yoy = spec.year_over_year
    before_rank = spec.rank(last)
    now = st["rank"]
    now_label = spec.label(now)
    move = now - before_rank
    word = "升" if move > 0 else "降"
    change = f"{word} {abs(move)} 级" if move else "不变"
    if yoy is None or yoy.max_step is None:
        trail.add(subject, "year_over_year", f"上年等次 {last}，本年 {now_label}（{change}）",
                  previous=last, move=move)
        return
    if st["vetoed"] and yoy.unless_veto and move < 0:  # a veto caps at once; it never lifts a grade
        trail.add(subject, "year_over_year",
                  f"上年等次 {last}，本年 {now_label}（{change}）；因否决规则已触发，不受每年最多降 "
                  f"{yoy.max_step} 级的限制", previous=last, move=move)
        return
    if abs(move) <= yoy.max_step:
        trail.add(subject, "year_over_year",
                  f"上年等次 {last}，本年 {now_label}（{change}），未超过每年升降 {yoy.max_step} 级",
                  previous=last, move=move)
        return
    limited = before_rank + int(math.copysign(yoy.max_step, move))
    limited = min(limited, st["cap"])  # a veto cap holds even when the limit would lift the grade
    st["rank"] = limited
    trail.add(subject, "year_over_year",
              f"上年等次 {last}，按前述步骤为 {now_label}（{change}），超过每年升降 {yoy.max_step} 级，"
              f"定为 {spec.label(limited)}", previous=last, move=move, limited_to=spec.label(limited))


def _tie_value(st: dict[str, Any], key: str) -> Any:
    """A tie-break's value as the cut compares it: numbers rounded to 9 decimals as the thresholds
    are (90.2 and 90.20000000000002 are one score, and the next key decides), a missing one None."""
    if key == "composite":
        value = st["composite"]
    elif key == "code":
        return str(st["row"]["subject"])
    elif key not in st["row"]:
        raise ValueError(f"名额的排序依据“{key}”要用各项得分表中的“{key}”列，但表中没有这一列"
                         "（若它是清单的一个类别，请检查清单得分里是否有这一类别的指标）")
    else:
        value = st["row"][key]
    if isinstance(value, str):
        return value
    return None if _missing(value) else round(float(value), 9)


def _quota_order(holders: list[str], states: dict[str, dict[str, Any]], keys: tuple[TieBreakSpec, ...]
                 ) -> list[str]:
    """Holders in the tie-break order: one stable sort per key, the last key first, so each key
    may run either way (codes too) and a missing value ranks behind every value in both."""
    ordered = sorted(holders)  # a fixed start: the order of the input rows never decides
    for t in reversed(keys):
        def key(subject: str, t: TieBreakSpec = t) -> tuple:
            value = _tie_value(states[subject], t.key)
            return (value is not None) == t.descending, value if value is not None else 0
        ordered.sort(key=key, reverse=t.descending)
    return ordered


def _apply_quota(quota: QuotaSpec, states: dict[str, dict[str, Any]], n_units: int,
                 spec: GradingSpec, trail: Trail) -> None:
    rank = spec.rank(quota.label)
    holders = [s for s, st in states.items() if st["rank"] == rank]
    allowed = math.floor(quota.max_share * n_units + EPS)
    if not holders:
        return
    keys = quota.tie_break or (TieBreakSpec("composite"),)
    if keys[-1].key != "code":  # a total order, so the cut never depends on row order
        keys = (*keys, TieBreakSpec("code", descending=False, label="编码"))

    ordered = _quota_order(holders, states, keys)
    order_text = "、".join(f"{t.label or t.key}{'↓' if t.descending else '↑'}" for t in keys)
    head = (f"名额：{quota.label}不超过 {pct(quota.max_share)}（共 {n_units} 个单位，最多 "
            f"floor({fmt(quota.max_share)}×{n_units}) = {allowed} 个）；{len(ordered)} 个单位为 "
            f"{quota.label}，按 {order_text} 排序")
    boundary = ""
    if len(ordered) > allowed > 0:
        last_in, first_out = ordered[allowed - 1], ordered[allowed]
        for t in keys:
            a, b = _tie_value(states[last_in], t.key), _tie_value(states[first_out], t.key)
            if a != b:
                boundary = (f"；名额线上第 {allowed} 位 {last_in} 与第 {allowed + 1} 位 {first_out} "
                            f"以 {t.label or t.key}（{_show(a)} 对 {_show(b)}）区分")
                break
    for position, subject in enumerate(ordered, start=1):
        st = states[subject]
        if position <= allowed:
            trail.add(subject, "quota", f"{head}，本单位排第 {position} 位，在名额内",
                      label=quota.label, position=position, allowed=allowed, n_units=n_units)
            continue
        st["rank"] = rank - 1
        st["quota_cut"] = True
        trail.add(subject, "quota",
                  f"{head}，本单位排第 {position} 位，超出名额，由 {quota.label} 降为 "
                  f"{spec.label(rank - 1)}{boundary}",
                  label=quota.label, position=position, allowed=allowed, n_units=n_units,
                  tie_break=[t.key for t in keys])


def _show(value: Any) -> str:
    if value is None:
        return "缺"
    return value if isinstance(value, str) else fmt(float(value))


def _pay(subject: str, st: dict[str, Any], spec: GradingSpec, trail: Trail) -> float:
    pay = spec.pay_link
    if pay is None:
        return float("nan")
    label = spec.label(st["rank"])
    what = pay.note or "绩效奖金"
    if label in pay.no_bonus:
        trail.add(subject, "pay", f"等次为 {label}：{what}（奖金 −100%）", adjustment=-1.0)
        return -1.0
    if pay.base is None:
        return 0.0
    d = (st["composite"] - pay.base) / pay.base
    size = abs(round(d, 9))
    side = "高" if d > 0 else "低"
    head = (f"综合得分 {apart(st['composite'], pay.base)} 比基础分 {fmt(pay.base)} {side} "
            f"{apart(size, pay.band_low, pay.band_high, pay.cap, write=pct, digits=2)}")
    if size < pay.band_low:
        trail.add(subject, "pay", f"{head}，不足 {pct(pay.band_low)}，{what}不变",
                  deviation=d, adjustment=0.0)
        return 0.0
    moved = min(size, pay.cap)
    verb = "上浮" if d > 0 else "下调"
    why = (f"在 {pct(pay.band_low)}–{pct(pay.band_high)} 之间，同比例" if size <= pay.band_high + EPS
           else f"超过 {pct(pay.band_high)}，按上限")
    if size > pay.cap + EPS and size <= pay.band_high + EPS:
        why = f"超过上限 {pct(pay.cap)}，按上限"
    adjustment = math.copysign(moved, d)
    trail.add(subject, "pay", f"{head}，{why}{verb} {pct(moved)}（{what}）", deviation=d,
              adjustment=adjustment)
    return adjustment


def _rollup(grades: pd.DataFrame, spec: GradingSpec) -> pd.DataFrame:
    columns = ["parent", "n", "grade", "share", "basis", "text"]
    if spec.rollup is None or grades.parent.isna().all():
        return pd.DataFrame(columns=columns)
    rows = []
    for parent, group in grades.dropna(subset=["parent"]).groupby("parent", sort=True):
        n = len(group)
        chosen = None
        tried = []
        for rule in spec.rollup.grades:
            count = int((group["rank"] >= spec.rank(rule.at_or_above)).sum())
            share = count / n
            tried.append(f"{rule.at_or_above}及以上 {count}/{n} = {pct(share)}")
            if share + EPS >= rule.min_share:
                chosen = (rule, share, count)
                break
        if chosen is None:
            rows.append({"parent": parent, "n": n, "grade": "未定级", "share": float("nan"),
                         "basis": "", "text": "；".join(tried) + "，未达到任何等次"})
            continue
        rule, share, count = chosen
        text = (f"所辖 {n} 个单位中 {rule.at_or_above}及以上 {count} 个，占 {pct(share)} ≥ "
                f"{pct(rule.min_share)}，{spec.rollup.parent_label}定为 {rule.label}")
        rows.append({"parent": parent, "n": n, "grade": rule.label, "share": share,
                     "basis": rule.at_or_above, "text": text})
    return pd.DataFrame(rows, columns=columns)


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _text(value: Any) -> str:
    """A text cell; a list joined from frames with and without the column has NaN where it is empty."""
    return "" if value is None or _missing(value) else str(value)


# ---------------------------------------------------------------------------- rectification

LEDGER_COLUMNS = ["subject", "grade", "indicator", "label", "score", "full_marks", "share", "owner",
                  "deadline_days", "deadline", "status"]


def rectification_lines(grades: pd.DataFrame, indicator_scores: pd.DataFrame, spec: GradingSpec,
                        *, start: date | None = None) -> pd.DataFrame:
    """整改台账: a line for each weak indicator of every unit graded below the scheme's line.

    Parameters
    ----------
    grades : DataFrame
        ``GradeResult.grades`` (needs ``subject`` and ``grade``).
    indicator_scores : DataFrame
        ``subject``, ``indicator``, ``score``; ``full_marks`` (and ``label``) unless the spec's
        rectification lists the indicators.
    spec : GradingSpec
    start : date, optional
        The day the ledger opens; ``deadline`` is ``start + deadline_days`` (None without it).

    Returns
    -------
    DataFrame
        subject, grade, indicator, label, score, full_marks, share, owner, deadline_days, deadline,
        status ('open'); a line where ``score < indicator_share × full_marks``. A unit below the
        line none of whose indicators is that weak gets a line for its weakest indicator (each
        one, if several tie), and one with no indicator scores a line without one: every unit
        flagged 列入整改台账 is in the ledger, with something to act on where there is anything.

    Examples
    --------
    >>> spec = GradingSpec(key="demo", title="示例",
    ...     components=(ComponentSpec("checklist", "考评得分", 1.0),),
    ...     grades=(GradeSpec("三星", 70), GradeSpec("二星", 60), GradeSpec("一星", 0)),
    ...     rectification=RectificationSpec("三星", 0.6, "村党组织书记", 90,
    ...                                     (("meetings", "三会一课", 2.0), ("training", "培训", 1.5))))
    >>> grades = pd.DataFrame({"subject": ["V01", "V02"], "grade": ["二星", "三星"]})
    >>> scores = pd.DataFrame({"subject": ["V01", "V01", "V02"],
    ...                        "indicator": ["meetings", "training", "meetings"],
    ...                        "score": [1.0, 1.5, 0.0]})
    >>> ledger = rectification_lines(grades, scores, spec, start=date(2024, 1, 1))
    >>> ledger[["subject", "label", "score", "full_marks", "share", "owner", "deadline", "status"]].values.tolist()
    [['V01', '三会一课', 1.0, 2.0, 0.5, '村党组织书记', datetime.date(2024, 3, 31), 'open']]
    """
    rect = spec.rectification
    if rect is None:
        raise ValueError(f"评定办法“{spec.key}”没有整改规则（rectification），无法列出整改台账")
    line = spec.rank(rect.below)
    known = {key: (label, points) for key, label, points in rect.indicators}
    weak_units = {row.subject: row.grade for row in grades.itertuples(index=False)
                  if spec.rank(row.grade) < line}
    rows = []
    weakest: dict[str, list[dict]] = {}  # per unit, its lowest-share indicators' lines, in case none is below
    for row in indicator_scores.to_dict("records"):
        subject = str(row["subject"])
        if subject not in weak_units:
            continue
        key = row["indicator"]
        label, points = known.get(key, (None, None))
        full = row.get("full_marks")
        if full is None or _missing(full):  # a checklist's indicator, in a list with the questionnaires' dimensions
            full = points
        if full is None or _missing(full):
            raise ValueError(f"被评对象“{subject}”的指标“{key}”没有满分：评定办法的整改规则没有列出这个指标，"
                             "指标得分表里也没有它的满分（“full_marks”）")
        full = _number(full, row, "full_marks", f"指标“{key}”的满分")
        score = _number(row["score"], row, "score", f"指标“{key}”的得分")
        share = score / full
        line_of = {"subject": subject, "grade": weak_units[subject], "indicator": key,
                   "label": _text(row.get("label")) or label or key, "score": score,
                   "full_marks": full, "share": share, "owner": rect.owner,
                   "deadline_days": rect.deadline_days,
                   "deadline": start + timedelta(days=rect.deadline_days) if start else None,
                   "status": "open"}
        if share < rect.indicator_share - EPS:
            rows.append(line_of)
            continue
        low = weakest.setdefault(subject, [])
        if not low or share < low[0]["share"] - EPS:
            low[:] = [line_of]
        elif abs(share - low[0]["share"]) <= EPS:
            low.append(line_of)
    listed = {line["subject"] for line in rows}
    for subject, grade_label in weak_units.items():
        if subject in listed:
            continue
        rows.extend(weakest.get(subject) or [{
            "subject": subject, "grade": grade_label, "indicator": "",
            "label": f"等次 {grade_label} 低于 {rect.below}（没有指标得分，请对照评定理由整改）",
            "score": float("nan"), "full_marks": float("nan"), "share": float("nan"), "owner": rect.owner,
            "deadline_days": rect.deadline_days,
            "deadline": start + timedelta(days=rect.deadline_days) if start else None, "status": "open"}])
    return pd.DataFrame(rows, columns=LEDGER_COLUMNS)


__all__ = [
    "ComponentSpec", "GradeResult", "GradeSpec", "GradingSpec", "GroupSpec", "PayLinkSpec",
    "QuotaSpec", "RectificationSpec", "RepeatSpec", "RollupGradeSpec", "RollupSpec",
    "TieBreakSpec", "VetoSpec", "VoteShareSpec", "YearOverYearSpec", "grade",
    "rectification_lines",
]

