"""Cleaning flags per ballot: incomplete, straight-lining, speeder, burst."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .codes import CodedRatings, first_per_group
from .groupwise import HISTOGRAM_MAX_VALUES, dense_codes, group_count
from .settings import AnalysisSpec

CLEANING_FLAGS: tuple[str, ...] = ("incomplete", "straight_lining", "speeder", "burst")


def ballot_value_counts(coded: CodedRatings) -> np.ndarray | None:
    """Ballots × distinct values table of answer counts (None when values are not a small scale)."""
    nv = len(coded.uniques)
    if nv > HISTOGRAM_MAX_VALUES:
        return None
    if "ballot_hist" not in coded._cache:
        size = coded.n_ballots * max(nv, 1)
        key = coded.ballot.astype(np.int64) * max(nv, 1) + coded.vcode
        key[~coded.answered] = size
        hist = np.bincount(key, minlength=size + 1)[:-1].reshape(coded.n_ballots, max(nv, 1))
        coded._cache["ballot_hist"] = hist
    return coded._cache["ballot_hist"]


def incomplete(coded: CodedRatings, min_share: float) -> np.ndarray:
    """Ballots answering less than ``min_share`` of the sheet's required items for the subjects they rate."""
    n_subjects = group_count(coded.bs_ballot, coded.n_ballots)
    expected = n_subjects * coded.items_on_sheet[coded.ballot_sheet]
    hist = ballot_value_counts(coded)
    if hist is not None:
        answered = hist.sum(axis=1)
    else:
        answered = np.bincount(coded.ballot, weights=coded.answered, minlength=coded.n_ballots)
    if coded.optional_pair.any():  # an optional answer does not stand in for a required one
        rows = coded.answered & coded.optional_pair[coded.pair]
        answered = answered - np.bincount(coded.ballot[rows], minlength=coded.n_ballots)
    return answered < min_share * expected - 1e-9


def straight_lining(coded: CodedRatings, min_items: int) -> np.ndarray:
    """Ballots with at least ``min_items`` answers, all identical."""
    hist = ballot_value_counts(coded)
    if hist is not None:
        return (hist.sum(axis=1) >= min_items) & ((hist > 0).sum(axis=1) == 1)
    rows = coded.answered
    b, v = coded.ballot[rows], coded.value[rows]
    first = first_per_group(b, v, coded.n_ballots)
    differing = group_count(b[v != first[b]], coded.n_ballots)
    return (group_count(b, coded.n_ballots) >= min_items) & (differing == 0)


def speeders(coded: CodedRatings, buckets: frozenset[str]) -> np.ndarray:
    """Ballots whose recorded fill-in duration falls in one of ``buckets``."""
    cats = coded.frame["duration_bucket"].cat.categories
    fast = np.isin(np.arange(len(cats)), np.flatnonzero(cats.isin(list(buckets))))
    return fast[coded.per_ballot("duration_bucket")]


def bursts(coded: CodedRatings, min_size: int, max_diff_share: float) -> np.ndarray:
    """Open-mode ballots in a near-identical burst sharing a fingerprint.

    Open-mode ballots are grouped by (fingerprint, sheet, day). In each group the modal answer of
    every (subject, item) is found; a ballot differing from the modal answers on at most
    ``max_diff_share`` of its answers is near-identical. A group with at least ``min_size``
    near-identical ballots flags them all as ``burst``.
    """
    out = np.zeros(coded.n_ballots, dtype=bool)
    frame = coded.frame
    mode_cats = frame["mode"].cat.categories
    if "open" not in mode_cats:
        return out
    # per ballot first: only fingerprints shared by at least ``min_size`` open ballots matter
    open_ballot = coded.per_ballot("mode") == mode_cats.get_loc("open")
    fp_ballot = coded.per_ballot("fingerprint").astype(np.int64)
    fp_cats = frame["fingerprint"].cat.categories
    if "" in fp_cats:
        open_ballot &= fp_ballot != fp_cats.get_loc("")
    shared = np.bincount(fp_ballot[open_ballot], minlength=len(fp_cats)) >= min_size
    candidate = open_ballot & shared[fp_ballot]
    if not candidate.any():
        return out
    rows = candidate[coded.ballot] & coded.answered
    vcode_all = coded.vcode[rows]
    fp = frame["fingerprint"].array.codes[rows]
    day = frame["day"].array.codes[rows]
    ballot = coded.ballot[rows]
    burst_key, n_keys = dense_codes(fp, coded.sheet[rows], day)
    cell, n_cells = dense_codes(burst_key, coded.subject[rows], coded.item[rows])
    vcode, uniq = pd.factorize(vcode_all)
    nv = len(uniq)
    hist = np.bincount(cell * nv + vcode, minlength=n_cells * nv).reshape(n_cells, nv)
    modal = hist.argmax(axis=1)
    # only answers another ballot of the group also gave on that (subject, item) are compared: a
    # ballot alone in its cells (one per village from a shared phone) is like no other, not like all
    shared = hist.sum(axis=1)[cell] >= 2
    differs = (vcode != modal[cell]) & shared
    b_codes, n_b = dense_codes(ballot)
    answers = group_count(b_codes[shared], n_b)
    share = group_count(b_codes[differs], n_b) / np.maximum(answers, 1)
    b_key = first_per_group(b_codes, burst_key, n_b)
    near = (answers > 0) & (share <= max_diff_share + 1e-12)
    near_per_key = group_count(b_key[near], n_keys)
    flagged = near & (near_per_key[b_key] >= min_size)
    b_ballot = first_per_group(b_codes, ballot, n_b)
    out[b_ballot[flagged]] = True
    return out


def flag_arrays(coded: CodedRatings, spec: AnalysisSpec) -> dict[str, np.ndarray]:
    """Every cleaning flag as a boolean array over ballot codes."""
    return {
        "incomplete": incomplete(coded, spec.complete_min_share),
        "straight_lining": straight_lining(coded, spec.straight_line_min_items),
        "speeder": speeders(coded, spec.speeder_buckets),
        "burst": bursts(coded, spec.burst_min_size, spec.burst_max_diff_share),
    }


def flag_ballots(ratings: pd.DataFrame, spec: AnalysisSpec) -> pd.DataFrame:
    """The cleaning flags of every ballot, and whether the scheme excludes it.

    Parameters
    ----------
    ratings : DataFrame
        A table returned by :func:`analysis.ratings.load_ratings`.
    spec : AnalysisSpec
        Thresholds and the flags that exclude a ballot.

    Returns
    -------
    DataFrame
        One row per ballot: ``ballot_id``, ``sheet``, ``rater_group``, ``mode``, one boolean column
        per flag in :data:`CLEANING_FLAGS`, and ``excluded``.

    Examples
    --------
    >>> from analysis.ratings import load_ratings
    >>> from analysis.settings import AnalysisSpec, ItemSpec, SheetSpec
    >>> sheet = SheetSpec("v", tuple(ItemSpec(f"q{i}", "d", scale_max=10) for i in range(5)))
    >>> spec = AnalysisSpec(sheets=(sheet,), group_weights={"masses": 1}, straight_line_min_items=5)
    >>> t = pd.DataFrame({"ballot_id": ["b1"] * 5 + ["b2"] * 5, "sheet": "v", "rater_group": "masses",
    ...                   "subject": "village_1", "item": [f"q{i}" for i in range(5)] * 2,
    ...                   "value": [7.0] * 5 + [1.0, 2.0, 3.0, 4.0, None]})
    >>> flag_ballots(load_ratings(t, spec), spec)[["ballot_id", "incomplete", "straight_lining", "excluded"]]
      ballot_id  incomplete  straight_lining  excluded
    0        b1       False             True      True
    1        b2        True            False      True
    """
    coded = CodedRatings.from_frame(ratings, spec)
    flags = flag_arrays(coded, spec)
    out = pd.DataFrame({"ballot_id": coded.ballot_ids.astype(str)})
    for col in ("sheet", "rater_group", "mode"):
        out[col] = np.asarray(ratings[col].cat.categories.astype(str))[coded.per_ballot(col)]
    excluded = np.zeros(coded.n_ballots, dtype=bool)
    for name, mask in flags.items():
        out[name] = mask
        if name in spec.excluding_flags:
            excluded |= mask
    out["excluded"] = excluded
    return out
