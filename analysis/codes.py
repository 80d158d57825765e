"""Integer codes of a validated ratings table, computed once and shared by every step.

Row-level arrays are views of the frame's categorical codes where possible and otherwise the
narrowest integer type that fits, so that a 10-million-answer table costs little extra memory.
Cast to int64 before combining codes arithmetically.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .groupwise import ballot_subject_codes
from .settings import AnalysisSpec


def narrow(values: np.ndarray, upper: int) -> np.ndarray:
    """``values`` in the narrowest signed integer type holding ``-1 .. upper``.

    Examples
    --------
    >>> narrow(np.array([0, 5, -1]), 5).dtype
    dtype('int8')
    """
    for dtype in (np.int8, np.int16, np.int32):
        if upper <= np.iinfo(dtype).max:
            return values.astype(dtype, copy=False)
    return values.astype(np.int64, copy=False)


def first_per_group(group: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """The value of one row of each group, in practice the first (groups without rows get 0).

    Callers rely only on the value coming from one of the group's rows, never on which one.

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

    Built by :meth:`from_frame`; ``bs`` numbers the (ballot, subject) pairs, ``pair`` the
    (sheet, item) pairs and ``unit(...)`` the (subject, sheet, item) cells.
    """

    frame: pd.DataFrame
    ballot: np.ndarray
    subject: np.ndarray
    group: np.ndarray
    sheet: np.ndarray
    item: np.ndarray
    pair: np.ndarray          # (sheet, item) code
    value: np.ndarray
    answered: np.ndarray
    vcode: np.ndarray         # per row: index into ``uniques`` (-1 when unanswered)
    uniques: np.ndarray       # sorted distinct answered values (as given, before rescaling)
    bs: np.ndarray
    n_bs: int
    bs_ballot: np.ndarray     # per bs, int64
    bs_subject: np.ndarray
    bs_group: np.ndarray
    bs_sheet: np.ndarray
    ballot_group: np.ndarray  # per ballot
    ballot_sheet: np.ndarray  # per ballot
    item_weight: np.ndarray   # per pair
    dim_of_pair: np.ndarray   # per pair: index of its dimension within its sheet
    dim_weight: np.ndarray    # per (sheet, local dimension index)
    items_on_sheet: np.ndarray  # per sheet: its required items
    optional_pair: np.ndarray  # per pair: an item a ballot may leave blank
    ballot_ids: pd.Index
    subjects: pd.Index
    groups: pd.Index
    sheets: pd.Index
    items: pd.Index
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def n_ballots(self) -> int:
        return len(self.ballot_ids)

    @property
    def n_subjects(self) -> int:
        return len(self.subjects)

    @property
    def n_groups(self) -> int:
        return len(self.groups)

    @property
    def n_pairs(self) -> int:
        return len(self.sheets) * len(self.items)

    @property
    def n_units(self) -> int:
        return self.n_subjects * self.n_pairs

    def unit(self, rows: slice = slice(None)) -> np.ndarray:
        """Per row, the (subject, sheet, item) cell code: ``subject * n_pairs + pair`` (int64)."""
        return self.subject[rows].astype(np.int64) * self.n_pairs + self.pair[rows]

    def unit_value_key(self, rows: slice, use: np.ndarray) -> np.ndarray:
        """``unit * n_values + value_code`` for rows in ``use``, ``n_units * n_values`` otherwise."""
        nv = max(len(self.uniques), 1)
        key = self.unit(rows) * nv + self.vcode[rows]
        key[~use[rows]] = self.n_units * nv
        return key

    def per_ballot(self, column: str) -> np.ndarray:
        """Codes of a ballot-level column (the ballot's first row)."""
        if column not in self._cache:
            if "first_row" not in self._cache:
                rows = np.arange(len(self.ballot), dtype=np.int64)
                self._cache["first_row"] = first_per_group(self.ballot, rows, self.n_ballots)
            self._cache[column] = self.frame[column].array.codes[self._cache["first_row"]]
        return self._cache[column]

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, spec: AnalysisSpec,
                   cache: dict | None = None) -> "CodedRatings":
        """Code a frame returned by :func:`analysis.ratings.load_ratings`.

        ``cache`` takes the value codes of :func:`analysis.ratings.load_and_check`.
        """
        def codes(col: str) -> np.ndarray:
            return frame[col].array.codes

        ballot, subject, group, sheet, item = (codes(c) for c in
                                                ("ballot_id", "subject", "rater_group", "sheet", "item"))
        sheets = frame["sheet"].cat.categories
        items = frame["item"].cat.categories
        n_items = len(items)
        n_pairs = len(sheets) * n_items
        if cache and "pair" in cache:
            pair = narrow(cache["pair"], n_pairs)
        else:
            pair = narrow(sheet.astype(np.int32) * n_items + item, n_pairs)
        item_weight = np.zeros(n_pairs)
        scale_min = np.zeros(n_pairs)
        scale_max = np.ones(n_pairs)
        dim_of_pair = np.zeros(n_pairs, dtype=np.int64)
        optional_pair = np.zeros(n_pairs, dtype=bool)
        dim_keys: list[tuple[int, str]] = []
        n_sheet_items = np.zeros(len(sheets), dtype=np.int64)
        sheet_keys = {sh.key for sh in spec.sheets}
        for s_i, s_key in enumerate(sheets):
            if s_key not in sheet_keys:
                continue  # an unused category
            sh = spec.sheet(s_key)
            n_sheet_items[s_i] = sum(1 for it in sh.items if it.required)
            for it in sh.items:
                i_i = items.get_indexer([it.key])[0]
                if (s_i, it.dimension) not in dim_keys:
                    dim_keys.append((s_i, it.dimension))
                if i_i < 0:
                    continue
                p = s_i * n_items + i_i
                item_weight[p] = it.weight
                optional_pair[p] = not it.required
                scale_min[p], scale_max[p] = it.scale_min, it.scale_max
                dim_of_pair[p] = dim_keys.index((s_i, it.dimension))
        n_local = max([sum(1 for s, _ in dim_keys if s == s_i) for s_i in range(len(sheets))] + [1])
        dim_weight = np.zeros((len(sheets), n_local))
        local = {}
        for s, d in dim_keys:
            local[(s, d)] = sum(1 for key in local if key[0] == s)
            dim_weight[s, local[(s, d)]] = spec.sheet(sheets[s]).dimension_weight(d)
        dim_of_pair = np.array([local[dim_keys[g]] if dim_keys else 0 for g in dim_of_pair], dtype=np.int64)
        value = frame["value"].to_numpy(dtype=float)
        if cache:
            vcode, uniques = cache["vcodes"], cache["uniques"]
        else:
            vcode, uniques = pd.factorize(value, sort=True)
        vcode = narrow(vcode, len(uniques))
        if spec.rescale_to is not None:
            lo, hi = scale_min[pair], scale_max[pair]
            with np.errstate(invalid="ignore", divide="ignore"):
                value = (value - lo) / np.where(hi > lo, hi - lo, 1.0) * spec.rescale_to
        n_ballots = len(frame["ballot_id"].cat.categories)
        n_groups, n_subjects = len(frame["rater_group"].cat.categories), len(frame["subject"].cat.categories)
        if cache and "bs" in cache:
            bs, n_bs, first = cache["bs"], cache["n_bs"], cache["ballot_first"]
        else:
            bs, n_bs = ballot_subject_codes(ballot, subject, n_ballots)
            first = first_per_group(
                ballot, (sheet.astype(np.int64) * n_groups + group) * n_subjects + subject, n_ballots)
        first = first.astype(np.int64)
        ballot_sheet = first // n_subjects // n_groups
        ballot_group = (first // n_subjects) % n_groups
        if bs is ballot:  # every ballot rates one subject
            bs_ballot = np.arange(n_ballots, dtype=np.int64)
            bs_subject = first % n_subjects
        else:
            bs_ballot = first_per_group(bs, ballot, n_bs).astype(np.int64)
            bs_subject = first_per_group(bs, subject, n_bs).astype(np.int64)
        coded = cls(
            frame=frame, ballot=ballot, subject=subject, group=group, sheet=sheet, item=item,
            pair=pair, value=value, answered=vcode >= 0, vcode=vcode,
            uniques=np.asarray(uniques, dtype=float),
            bs=bs, n_bs=n_bs, bs_ballot=bs_ballot,
            bs_subject=bs_subject,
            bs_group=ballot_group[bs_ballot], bs_sheet=ballot_sheet[bs_ballot],
            ballot_group=ballot_group, ballot_sheet=ballot_sheet,
            item_weight=item_weight, dim_of_pair=dim_of_pair, dim_weight=dim_weight,
            items_on_sheet=n_sheet_items, optional_pair=optional_pair,
            ballot_ids=frame["ballot_id"].cat.categories, subjects=frame["subject"].cat.categories,
            groups=frame["rater_group"].cat.categories, sheets=sheets, items=items,
        )
        if cache and "first_row" in cache:
            coded._cache["first_row"] = cache["first_row"]
        return coded
