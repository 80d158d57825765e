"""Synthetic campaigns for the analysis tests: one factory module for test data.

``campaign()`` builds a tidy ratings table with known, planted problems:

- a lenient cadre rater (``lenient_ballot``) who adds 2 points to every answer;
- a ballot-stuffing burst: open-mode ballots for one village sharing one fingerprint, day and
  near-identical answers (``burst_ballots``);
- a straight-liner on the cadre sheet (``straight_ballot``) who answers 7 to all 48 questions.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.settings import AnalysisSpec, ItemSpec, SheetSpec

CHOICES = {100.0: "satisfied", 60.0: "basically", 0.0: "dissatisfied"}
VILLAGER_ITEMS = ("overall", "openness", "services", "roads", "safety", "conduct")
CADRE_ITEMS = ("integrity", "diligence", "ability", "results")


def villager_sheet() -> SheetSpec:
    dims = {"overall": "overall", "openness": "governance", "services": "livelihood",
            "roads": "livelihood", "safety": "governance", "conduct": "governance"}
    items = tuple(ItemSpec(k, dims[k], weight=2.0 if k == "overall" else 1.0, scale_min=0,
                           scale_max=100, allowed=(0, 60, 100)) for k in VILLAGER_ITEMS)
    return SheetSpec("villager", items, dimension_weights={"overall": 2.0, "governance": 1.0,
                                                           "livelihood": 1.0},
                     satisfaction_item="overall")


def cadre_sheet() -> SheetSpec:
    dims = {"integrity": "virtue", "diligence": "virtue", "ability": "work", "results": "work"}
    items = tuple(ItemSpec(k, dims[k], scale_min=1, scale_max=10) for k in CADRE_ITEMS)
    return SheetSpec("cadre", items)


def spec(**overrides) -> AnalysisSpec:
    base = dict(sheets=(villager_sheet(), cadre_sheet()),
                group_weights={"masses": 0.5, "member": 0.2, "superior": 0.15, "peer": 0.1,
                               "subordinate": 0.05})
    base.update(overrides)
    return AnalysisSpec(**base)


@dataclass
class Campaign:
    ratings: pd.DataFrame
    spec: AnalysisSpec
    village_quality: dict[str, float]
    cadre_quality: dict[str, float]
    lenient_ballot: str = ""
    straight_ballot: str = ""
    burst_ballots: list[str] = field(default_factory=list)


def _villager_rows(rng, ballot_id, village, group, quality, mode, fingerprint, day, answers=None):
    rows = []
    for k, item in enumerate(VILLAGER_ITEMS):
        if answers is not None:
            v = answers[k]
        else:
            p = np.clip([quality, 0.8 * (1 - quality), 0.2 * (1 - quality)], 0, None)
            v = rng.choice([100.0, 60.0, 0.0], p=p / p.sum())
        rows.append((ballot_id, "villager", group, village, item, v, CHOICES[v], mode, day,
                     rng.choice(["1-2m", "2-5m", "5-15m"]), fingerprint))
    return rows


def campaign(seed: int = 0, n_villages: int = 8, masses_per_village: int = 12,
             members_per_village: int = 6, n_cadres: int = 12) -> Campaign:
    """A small campaign with a lenient rater, a burst and a straight-liner planted."""
    rng = np.random.default_rng(seed)
    rows = []
    villages = [f"village_{i:02d}" for i in range(n_villages)]
    vq = {v: float(q) for v, q in zip(villages, np.linspace(0.55, 0.95, n_villages))}
    n = 0
    for v in villages:
        for _ in range(masses_per_village):
            mode = "open" if rng.random() < 0.5 else "token"
            fp = f"fp{rng.integers(10**9)}" if mode == "open" else ""
            rows += _villager_rows(rng, f"b{n:05d}", v, "masses", vq[v], mode, fp, "2026-05-01")
            n += 1
        for _ in range(members_per_village):
            rows += _villager_rows(rng, f"b{n:05d}", v, "member", vq[v], "token", "", "2026-05-01")
            n += 1
    # burst: 6 open-mode ballots for the worst village, one fingerprint, all 100 but one answer
    burst = []
    for j in range(6):
        answers = [100.0] * 6
        if j == 0:
            answers[3] = 60.0
        rows += _villager_rows(rng, f"b{n:05d}", villages[0], "masses", 0, "open", "fpSTUFF",
                               "2026-05-02", answers)
        burst.append(f"b{n:05d}")
        n += 1
    # cadre sheet: every cadre ballot rates every cadre (crossed design)
    cadres = [f"cadre_{i:02d}" for i in range(n_cadres)]
    cq = {c: float(q) for c, q in zip(cadres, np.linspace(4.0, 8.5, n_cadres))}
    lenient = straight = ""
    for group, count in (("superior", 5), ("peer", 8), ("subordinate", 8)):
        for r in range(count):
            bid = f"b{n:05d}"
            n += 1
            bias = rng.normal(0, 0.3)
            if group == "peer" and r == 0:
                lenient, bias = bid, 2.0
            for c in cadres:
                for item in CADRE_ITEMS:
                    if group == "peer" and r == 1:
                        straight, v = bid, 7.0
                    else:
                        v = float(np.clip(np.round(cq[c] + bias + rng.normal(0, 0.8)), 1, 10))
                    rows.append((bid, "cadre", group, c, item, v, "", "token", "2026-05-01",
                                 "5-15m", ""))
    cols = ["ballot_id", "sheet", "rater_group", "subject", "item", "value", "choice", "mode", "day",
            "duration_bucket", "fingerprint"]
    frame = pd.DataFrame(rows, columns=cols)
    return Campaign(frame, spec(), vq, cq, lenient, straight, burst)


def simple_ratings(scores: dict[tuple[str, str], list[float]], sheet: str = "cadre",
                   mode: str = "token") -> pd.DataFrame:
    """A one-item-per-dimension table from {(subject, group): [ballot scores...]} on the cadre sheet.

    Each ballot rates one subject and answers every cadre item with its score.
    """
    rows = []
    n = 0
    for (subject, group), values in scores.items():
        for v in values:
            for item in CADRE_ITEMS:
                rows.append((f"s{n:05d}", sheet, group, subject, item, float(v), "", mode,
                             "2026-05-01", "2-5m", ""))
            n += 1
    return pd.DataFrame(rows, columns=["ballot_id", "sheet", "rater_group", "subject", "item", "value",
                                       "choice", "mode", "day", "duration_bucket", "fingerprint"])
