"""The analysis spec: frozen dataclasses the caller fills from the campaign's definitions.

``analysis`` never imports ``forms``; the service layer translates a campaign's
questionnaires and grading scheme into an :class:`AnalysisSpec`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

#: Flags the cleaning step can raise, in report order.
FLAG_NAMES: tuple[str, ...] = (
    "incomplete",
    "straight_lining",
    "speeder",
    "burst",
    "rater_disagreement",
)

#: Alpha levels accepted by :func:`analysis.reliability.krippendorff_alpha`.
ALPHA_LEVELS: tuple[str, ...] = ("nominal", "ordinal", "interval", "ratio")


class SpecError(ValueError):
    """The analysis spec itself is inconsistent."""


def _frozen_map(mapping: Mapping[str, float]) -> Mapping[str, float]:
    return MappingProxyType({str(k): float(v) for k, v in dict(mapping).items()})


@dataclass(frozen=True)
class ItemSpec:
    """One questionnaire item.

    Parameters
    ----------
    key : str
        The item's snake_case name, as in the ``item`` column.
    dimension : str
        The dimension the item belongs to.
    weight : float
        Weight of the item inside its dimension.
    scale_min, scale_max : float
        Bounds of the item's numeric values (inclusive).
    allowed : tuple of float, optional
        The exact values the choices map to; when given, any other value is an error.
    required : bool
        Whether a ballot must answer it. An optional item left blank does not make a ballot
        ``incomplete``, and answering it does not make up for a required one left blank.

    Examples
    --------
    >>> ItemSpec("service", "conduct", scale_min=0, scale_max=100, allowed=(0, 60, 100)).allowed
    (0.0, 60.0, 100.0)
    """

    key: str
    dimension: str
    weight: float = 1.0
    scale_min: float = 0.0
    scale_max: float = 100.0
    allowed: tuple[float, ...] | None = None
    required: bool = True

    def __post_init__(self) -> None:
        if self.weight < 0:
            raise SpecError(f"item {self.key!r}: weight {self.weight} is negative")
        if self.scale_min > self.scale_max:
            raise SpecError(f"item {self.key!r}: scale_min > scale_max")
        if self.allowed is not None:
            object.__setattr__(self, "allowed", tuple(float(v) for v in self.allowed))


@dataclass(frozen=True)
class SheetSpec:
    """One ballot sheet (questionnaire) of the campaign.

    Parameters
    ----------
    key : str
        The sheet's name, as in the ``sheet`` column.
    items : tuple of ItemSpec
        The sheet's items.
    dimension_weights : mapping of str to float, optional
        Weight of each dimension in the subject score; missing dimensions weigh 1.
    satisfaction_item : str, optional
        The item whose choices give the satisfaction rate; ``None`` means no rate.
    satisfied_choices : frozenset of str
        Choice keys counted as satisfied, e.g. ``{"satisfied", "basically"}``.

    Examples
    --------
    >>> s = SheetSpec("villager", (ItemSpec("overall", "all"),), satisfaction_item="overall")
    >>> s.item_keys
    ('overall',)
    """

    key: str
    items: tuple[ItemSpec, ...]
    dimension_weights: Mapping[str, float] = field(default_factory=dict)
    satisfaction_item: str | None = None
    satisfied_choices: frozenset[str] = frozenset({"satisfied", "basically"})

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", tuple(self.items))
        object.__setattr__(self, "dimension_weights", _frozen_map(self.dimension_weights))
        object.__setattr__(self, "satisfied_choices", frozenset(self.satisfied_choices))
        keys = [it.key for it in self.items]
        if not keys:
            raise SpecError(f"sheet {self.key!r} has no items")
        dup = sorted({k for k in keys if keys.count(k) > 1})
        if dup:
            raise SpecError(f"sheet {self.key!r}: duplicated items {dup}")
        if self.satisfaction_item is not None and self.satisfaction_item not in keys:
            raise SpecError(
                f"sheet {self.key!r}: satisfaction_item {self.satisfaction_item!r} is not an item"
            )
        unknown = sorted(set(self.dimension_weights) - {it.dimension for it in self.items})
        if unknown:
            raise SpecError(f"sheet {self.key!r}: weights for unknown dimensions {unknown}")

    @property
    def item_keys(self) -> tuple[str, ...]:
        """Item keys in definition order."""
        return tuple(it.key for it in self.items)

    def dimension_weight(self, dimension: str) -> float:
        """Weight of ``dimension`` (1 when the sheet does not say)."""
        return float(self.dimension_weights.get(dimension, 1.0))


@dataclass(frozen=True)
class AnalysisSpec:
    """Everything the default analysis needs to know about a campaign.

    Parameters
    ----------
    sheets : tuple of SheetSpec
        The campaign's ballot sheets.
    group_weights : mapping of str to float
        Rater-group weights (normally summing to 1); renormalised over the groups that
        actually rated a subject. A group with weight 0 is reported but not combined.
    subjects : frozenset of str, optional
        The roster of subjects; ``None`` accepts any subject.
    complete_min_share : float
        A ballot answering less than this share of its expected answers is ``incomplete``.
    straight_line_min_items : int
        A ballot with at least this many answers, all identical, is ``straight_lining``.
    speeder_buckets : frozenset of str
        Duration buckets that mark a ballot as ``speeder``.
    burst_min_size : int
        Least number of near-identical open-mode ballots sharing a fingerprint (same sheet
        and day) that makes a ``burst``.
    burst_max_diff_share : float
        Largest share of answers differing from the fingerprint's modal answers for a
        ballot to count as near-identical.
    disagreement_min_subjects : int
        A ballot must rate at least this many subjects to be tested for disagreement.
    disagreement_max_corr : float
        A ballot whose subject scores correlate with the leave-one-out consensus below
        this value is flagged ``rater_disagreement``.
    excluding_flags : frozenset of str
        Flags that exclude a ballot from scores and rates.
    robust_z_threshold : float
        ``|z|`` above this is a robust-z outlier answer.
    robust_z_removes : bool
        Whether robust-z outliers are removed from scores (otherwise only reported).
    trim : bool
        Apply 去掉一个最高分、一个最低分 per subject and rater group.
    trim_min_raters : int
        Trim only cells with at least this many raters.
    anonymity_threshold : int
        Least raters for a group breakdown to be shown.
    rescale_to : float, optional
        Map every item linearly from its scale to ``[0, rescale_to]`` before scoring.
    confidence : float
        Level of every interval.
    bootstrap_replicates : int
        Bootstrap replicates for score and rank intervals; 0 uses analytic intervals.
    seed : int
        Seed of the bootstrap.
    leniency : bool
        Fit the additive subject + rater model and report corrected scores.

    Examples
    --------
    >>> sheet = SheetSpec("villager", (ItemSpec("overall", "all"),))
    >>> spec = AnalysisSpec(sheets=(sheet,), group_weights={"masses": 1.0})
    >>> spec.sheet("villager").key, spec.anonymity_threshold
    ('villager', 3)
    """

    sheets: tuple[SheetSpec, ...]
    group_weights: Mapping[str, float]
    subjects: frozenset[str] | None = None
    complete_min_share: float = 1.0
    straight_line_min_items: int = 10
    speeder_buckets: frozenset[str] = frozenset({"<30s"})
    burst_min_size: int = 5
    burst_max_diff_share: float = 0.2
    disagreement_min_subjects: int = 5
    disagreement_max_corr: float = 0.0
    excluding_flags: frozenset[str] = frozenset({"incomplete", "straight_lining", "speeder", "burst"})
    robust_z_threshold: float = 3.5
    robust_z_removes: bool = False
    trim: bool = True
    trim_min_raters: int = 7
    anonymity_threshold: int = 3
    rescale_to: float | None = None
    confidence: float = 0.95
    bootstrap_replicates: int = 0
    seed: int = 0
    leniency: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "sheets", tuple(self.sheets))
        object.__setattr__(self, "group_weights", _frozen_map(self.group_weights))
        object.__setattr__(self, "speeder_buckets", frozenset(self.speeder_buckets))
        object.__setattr__(self, "excluding_flags", frozenset(self.excluding_flags))
        if self.subjects is not None:
            object.__setattr__(self, "subjects", frozenset(self.subjects))
        keys = [s.key for s in self.sheets]
        if not keys or len(set(keys)) != len(keys):
            if not keys:  # reached from a ratings file with no answers, or none on a questionnaire
                raise SpecError("没有可以分析的测评表：评分表中没有答案，或者没有一行属于已定义的测评表")
            raise SpecError(f"sheets must be non-empty and unique, got {keys}")
        if any(w < 0 for w in self.group_weights.values()) or not self.group_weights:
            raise SpecError("group_weights must be non-empty and non-negative")
        unknown = sorted(set(self.excluding_flags) - set(FLAG_NAMES))
        if unknown:
            raise SpecError(f"unknown excluding flags {unknown}; known: {list(FLAG_NAMES)}")
        if not 0 < self.confidence < 1:
            raise SpecError("confidence must lie in (0, 1)")
        if self.anonymity_threshold < 1 or self.trim_min_raters < 3:
            raise SpecError("anonymity_threshold must be >= 1 and trim_min_raters >= 3")

    def sheet(self, key: str) -> SheetSpec:
        """The sheet named ``key``."""
        for s in self.sheets:
            if s.key == key:
                return s
        raise SpecError(f"no sheet {key!r}")
