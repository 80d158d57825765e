"""Integer codes of a validated ratings table, computed once and shared by every step."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .groupwise import dense_codes
from .settings import AnalysisSpec


def first_per_group(group: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """The value of each group's first row (groups without rows get 0).

    Examples
    --------
    >>> first_per_group(np.array([1, 0, 1]), np.array([7, 8, 9]), 2).tolist()
    [8, 7]
    """
    out = np.zeros(n, dtype=values.dtype)
    out[group[::-1]] = values[::-1]  # fancy assignment keeps the last write: the first row
    return out


@dataclass
class CodedRatings:
    """A validated ratings table as integer codes (rows) and per-ballot-subject arrays.

    Built by :meth:`from_frame`; ``bs`` numbers the (ballot, subject) pairs.
    """

    frame: pd.DataFrame
    ballot: np.ndarray
    subject: np.ndarray
    group: np.ndarray
    sheet: np.ndarray
    item: np.ndarray
    pair: np.ndarray          # (sheet, item) code
    dim: np.ndarray           # (sheet, dimension) code
    value: np.ndarray
    answered: np.ndarray
    bs: np.ndarray
    n_bs: int
    bs_ballot: np.ndarray
    bs_subject: np.ndarray
    bs_group: np.ndarray
    bs_sheet: np.ndarray
    item_weight: np.ndarray   # per pair
    dim_weight: np.ndarray    # per dim
    dim_sheet: np.ndarray     # per dim
    pair_items_on_sheet: np.ndarray  # per sheet: number of items
    ballot_ids: pd.Index
    subjects: pd.Index
    groups: pd.Index
    sheets: pd.Index
    items: pd.Index

    @property
    def n_ballots(self) -> int:
        return len(self.ballot_ids)

    @property
    def n_subjects(self) -> int:
        return len(self.subjects)

    @property
    def n_groups(self) -> int:
        return len(self.groups)

    def per_ballot(self, column: str) -> np.ndarray:
        """Codes of a ballot-level column (the ballot's first row)."""
        codes = self.frame[column].cat.codes.to_numpy()
        return first_per_group(self.ballot, codes, self.n_ballots)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, spec: AnalysisSpec) -> "CodedRatings":
        """Code a frame returned by :func:`analysis.ratings.load_ratings`."""
        def codes(col: str) -> np.ndarray:
            return frame[col].cat.codes.to_numpy().astype(np.int64)

        ballot, subject, group, sheet, item = (codes(c) for c in
                                                ("ballot_id", "subject", "rater_group", "sheet", "item"))
        sheets = frame["sheet"].cat.categories
        items = frame["item"].cat.categories
        n_items = len(items)
        pair = sheet * n_items + item
        item_weight = np.zeros(len(sheets) * n_items)
        scale_min = np.zeros(len(sheets) * n_items)
        scale_max = np.ones(len(sheets) * n_items)
        dim_of_pair = np.zeros(len(sheets) * n_items, dtype=np.int64)
        dim_keys: list[tuple[int, str]] = []
        n_sheet_items = np.zeros(len(sheets), dtype=np.int64)
        for s_i, s_key in enumerate(sheets):
            sh = spec.sheet(s_key)
            n_sheet_items[s_i] = len(sh.items)
            for it in sh.items:
                i_i = items.get_indexer([it.key])[0]
                if (s_i, it.dimension) not in dim_keys:
                    dim_keys.append((s_i, it.dimension))
                if i_i < 0:
                    continue
                p = s_i * n_items + i_i
                item_weight[p] = it.weight
                scale_min[p], scale_max[p] = it.scale_min, it.scale_max
                dim_of_pair[p] = dim_keys.index((s_i, it.dimension))
        dim_weight = np.array([spec.sheet(sheets[s]).dimension_weight(d) for s, d in dim_keys])
        dim_sheet = np.array([s for s, _ in dim_keys], dtype=np.int64)
        value = frame["value"].to_numpy(dtype=float)
        if spec.rescale_to is not None:
            lo, hi = scale_min[pair], scale_max[pair]
            with np.errstate(invalid="ignore", divide="ignore"):
                value = (value - lo) / np.where(hi > lo, hi - lo, 1.0) * spec.rescale_to
        bs, n_bs = dense_codes(ballot, subject)
        bs_ballot = first_per_group(bs, ballot, n_bs)
        n_ballots = len(frame["ballot_id"].cat.categories)
        ballot_group = first_per_group(ballot, group, n_ballots)
        ballot_sheet = first_per_group(ballot, sheet, n_ballots)
        return cls(
            frame=frame, ballot=ballot, subject=subject, group=group, sheet=sheet, item=item,
            pair=pair, dim=dim_of_pair[pair], value=value, answered=~np.isnan(value),
            bs=bs, n_bs=n_bs, bs_ballot=bs_ballot, bs_subject=first_per_group(bs, subject, n_bs),
            bs_group=ballot_group[bs_ballot], bs_sheet=ballot_sheet[bs_ballot],
            item_weight=item_weight, dim_weight=dim_weight, dim_sheet=dim_sheet,
            pair_items_on_sheet=n_sheet_items,
            ballot_ids=frame["ballot_id"].cat.categories, subjects=frame["subject"].cat.categories,
            groups=frame["rater_group"].cat.categories, sheets=sheets, items=items,
        )
