"""Frozen, typed definitions: what a questionnaire, a checklist and a grading scheme are.

These objects are built only by :mod:`forms.loader`, after validation, so code that
receives one may rely on every cross-reference being resolved and every weight adding up.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Union

Kind = Literal["questionnaire", "checklist", "scheme"]


@dataclass(frozen=True)
class Choice:
    key: str
    label: str
    value: float


@dataclass(frozen=True)
class Scale:
    """Either a list of labelled choices or a numeric range; each answer maps to a number."""

    key: str
    label: str
    choices: tuple[Choice, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None

    @property
    def is_numeric(self) -> bool:
        return not self.choices

    def value_of(self, choice_key: str) -> float:
        for choice in self.choices:
            if choice.key == choice_key:
                return choice.value
        raise KeyError(choice_key)

    def points(self, most: int = 21) -> tuple[float, ...] | None:
        """A numeric scale's answers, one button each, when there are at most ``most`` of them
        (0–10 by halves is 21); None for a wider or continuous range, which takes a number box."""
        if self.choices or not self.step or self.minimum is None or self.maximum is None:
            return None
        count = round((self.maximum - self.minimum) / self.step) + 1
        if count > most:
            return None
        return tuple(round(self.minimum + i * self.step, 9) for i in range(count))

    def bounds(self) -> tuple[float, float]:
        if self.choices:
            values = [c.value for c in self.choices]
            return min(values), max(values)
        return float(self.minimum), float(self.maximum)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Dimension:
    key: str
    label: str
    weight: float


@dataclass(frozen=True)
class Item:
    key: str
    label: str
    scale: str
    dimension: str
    weight: float = 1.0
    required: bool = True
    help: str = ""


@dataclass(frozen=True)
class Questionnaire:
    """A 测评表: items on scales grouped into dimensions, answered per subject by one rater group."""

    key: str
    version: int
    title: str
    subject_kind: Literal["organisation", "person"]
    layout: Literal["single", "grid"]
    rater_groups: tuple[str, ...]
    scales: tuple[Scale, ...]
    dimensions: tuple[Dimension, ...]
    items: tuple[Item, ...]
    satisfied: tuple[str, ...] = ()
    satisfaction_item: str = ""  # the item whose satisfied share is the satisfaction rate
    intro: str = ""
    source: str = ""
    kind: Kind = field(default="questionnaire", init=False)

    def scale(self, key: str) -> Scale:
        return next(s for s in self.scales if s.key == key)

    def item(self, key: str) -> Item:
        return next(i for i in self.items if i.key == key)

    def number_box(self, scale: Scale) -> bool:
        """Whether a numeric scale is answered by typing a number (a box) rather than by pressing
        one of its points: a grid row has room for one box, a single sheet for up to 21 buttons.
        The page draws it so and the form words a missing answer so (type, or choose)."""
        return scale.is_numeric and (self.layout == "grid" or scale.points() is None)


@dataclass(frozen=True)
class Indicator:
    key: str
    label: str
    points: float
    guide: str = ""


@dataclass(frozen=True)
class Category:
    key: str
    label: str
    points: float
    indicators: tuple[Indicator, ...]


@dataclass(frozen=True)
class VetoItem:
    """一票否决: one mark caps the grade, whatever the points."""

    key: str
    label: str


@dataclass(frozen=True)
class Checklist:
    """A 清单 / 指标体系 scored by assessment teams, stage by stage."""

    key: str
    version: int
    title: str
    total: float
    stages: tuple[str, ...]
    categories: tuple[Category, ...]
    vetoes: tuple[VetoItem, ...]
    source: str = ""
    kind: Kind = field(default="checklist", init=False)

    def indicators(self) -> tuple[Indicator, ...]:
        return tuple(ind for cat in self.categories for ind in cat.indicators)

    def indicator(self, key: str) -> Indicator:
        return next(i for i in self.indicators() if i.key == key)


@dataclass(frozen=True)
class GroupWeight:
    key: str
    label: str
    weight: float


@dataclass(frozen=True)
class Component:
    """One part of the composite: where its number comes from and how much it counts."""

    key: str
    label: str
    source: Literal["checklist_total", "satisfaction_rate", "group_score", "combined_score", "result"]
    weight: float
    questionnaire: str = ""
    rater_group: str = ""
    column: str = ""
    full_marks: float = 100.0
    optional: bool = False


@dataclass(frozen=True)
class Grade:
    label: str
    minimum: float
    rank: int


@dataclass(frozen=True)
class VetoRule:
    on: str
    cap: str


@dataclass(frozen=True)
class TieBreak:
    """One key of a quota's tie-break order: a component key, 'composite', 'checklist_total' or 'code'."""

    key: str
    order: Literal["desc", "asc"] = "desc"


@dataclass(frozen=True)
class Quota:
    """好中选优、不打和牌: at most ``max_share`` of the units may hold ``label``."""

    label: str
    max_share: float
    tie_break: tuple[TieBreak, ...]


@dataclass(frozen=True)
class VoteShareRule:
    """A rule on the share of votes for some choices of the questionnaire's verdict item.

    ``effect`` is 'set' or 'cap' (with ``grade``) or 'flag' (with ``flag``, e.g. 诫勉谈话).
    """

    choices: tuple[str, ...]
    comparison: Literal[">", ">=", "<", "<="]
    threshold: float
    effect: Literal["set", "cap", "flag"]
    grade: str = ""
    flag: str = ""
    threshold_text: str = ""
    questionnaire: str = ""
    item: str = ""


@dataclass(frozen=True)
class RepeatRule:
    """``grade`` held ``years`` campaigns running raises ``flag`` (e.g. 劝其引咎辞职或罢免)."""

    grade: str
    years: int
    flag: str


@dataclass(frozen=True)
class YearOverYear:
    """有升有降: at most ``max_step`` grades up or down a year (None: no limit), unless a veto fired."""

    max_step: int | None = None
    unless_veto: bool = True
    repeats: tuple[RepeatRule, ...] = ()


@dataclass(frozen=True)
class PayLink:
    """A composite ``band_low``–``band_high`` above or below ``base`` moves the bonus the same share.

    Past ``cap`` the move stops; grades in ``no_bonus`` get no bonus at all.
    """

    base: float | None = None
    band_low: float = 0.10
    band_high: float = 0.30
    cap: float = 0.30
    no_bonus: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class RollupGrade:
    """The parent gets ``label`` when at least ``min_share`` of its units are at ``at_or_above`` or better."""

    label: str
    at_or_above: str
    min_share: float


@dataclass(frozen=True)
class Rollup:
    parent: str
    parent_label: str
    grades: tuple[RollupGrade, ...]


@dataclass(frozen=True)
class Rectification:
    """整改台账: units below ``below`` get a line for each indicator under ``indicator_share`` of its marks."""

    below: str
    indicator_share: float = 0.6
    owner: str = ""
    deadline_days: int = 90


@dataclass(frozen=True)
class Scheme:
    """A 评定办法: how components combine into a composite and the composite into a grade."""

    key: str
    version: int
    title: str
    checklist: str
    stage: str
    rater_groups: tuple[GroupWeight, ...]
    components: tuple[Component, ...]
    grades: tuple[Grade, ...]
    vetoes: tuple[VetoRule, ...] = ()
    rectification_below: str = ""
    source: str = ""
    quotas: tuple[Quota, ...] = ()
    vote_share_rules: tuple[VoteShareRule, ...] = ()
    year_over_year: YearOverYear | None = None
    pay_link: PayLink | None = None
    rollup: Rollup | None = None
    rectification: Rectification | None = None
    kind: Kind = field(default="scheme", init=False)

    def grade_for(self, composite: float) -> Grade:
        for grade in self.grades:
            if composite >= grade.minimum:
                return grade
        return self.grades[-1]


Definition = Union[Questionnaire, Checklist, Scheme]

STAGES: dict[str, str] = {"self": "村级自评", "town": "镇街初评", "panel": "考评组评定"}
