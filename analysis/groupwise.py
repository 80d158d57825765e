"""Vectorised group-wise kernels on integer group codes (no Python loop over groups).

Groups are dense integer codes ``0 .. n_groups-1``; every kernel is one pass of
``np.bincount`` or one sort, so the cost does not grow with the number of subjects.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

#: Above this many distinct values, medians use a sort instead of a histogram.
HISTOGRAM_MAX_VALUES = 64


def dense_codes(*keys: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense codes for the combination of integer key arrays.

    Parameters
    ----------
    *keys : ndarray of int
        Non-negative integer codes of equal length.

    Returns
    -------
    codes : ndarray of int64
        One code per row, equal rows sharing a code.
    n : int
        Number of distinct combinations.

    Examples
    --------
    >>> codes, n = dense_codes(np.array([0, 1, 0]), np.array([2, 2, 2]))
    >>> codes.tolist(), n
    ([0, 1, 0], 2)
    """
    combined = np.zeros(len(keys[0]), dtype=np.int64)
    span = 1
    for key in reversed(keys):
        key = np.asarray(key, dtype=np.int64)
        size = int(key.max()) + 1 if len(key) else 1
        combined += key * span
        span *= size
    if span <= 2 * len(combined) + (1 << 20):
        present = np.zeros(span, dtype=bool)
        present[combined] = True
        remap = np.cumsum(present, dtype=np.int64) - 1
        return remap[combined], int(present.sum())
    codes, uniques = pd.factorize(combined)
    return codes.astype(np.int64), len(uniques)


def ballot_subject_codes(
    ballot: np.ndarray, subject: np.ndarray, n_ballots: int
) -> tuple[np.ndarray, int]:
    """Dense codes of (ballot, subject) pairs in O(n) when ballots rate one subject.

    Rows whose subject is the ballot's first subject get the ballot's code; only the other
    rows (ballots rating several subjects) are hashed. When no row is hashed, ``ballot`` itself
    is returned (not a copy).

    Examples
    --------
    >>> codes, n = ballot_subject_codes(np.array([0, 0, 1, 1]), np.array([5, 5, 5, 6]), 2)
    >>> codes.tolist(), n
    ([0, 0, 1, 2], 3)
    """
    first = np.zeros(n_ballots, dtype=subject.dtype)
    first[ballot[::-1]] = subject[::-1]  # fancy assignment keeps the last write: the first row
    extra = subject != first[ballot]
    if extra.any():
        codes = ballot.astype(np.int64)
        key = ballot[extra].astype(np.int64) * (int(subject.max()) + 1) + subject[extra]
        ecodes, uniques = pd.factorize(key)
        codes[extra] = n_ballots + ecodes
        return codes, n_ballots + len(uniques)
    return ballot, n_ballots  # every ballot rates one subject: the ballot codes serve


#: Rows per chunk in row-level passes: bounds the temporaries of a 10-million-row table.
CHUNK_ROWS = 1 << 21


def chunked_bincount(
    n_rows: int, size: int, key_of: Callable[[slice], np.ndarray],
    weights_of: Callable[[slice], np.ndarray] | None = None,
) -> np.ndarray:
    """``np.bincount`` of ``key_of(rows)`` over row chunks, keys ``>= size`` dropped.

    Examples
    --------
    >>> keys = np.array([0, 2, 2, 9])
    >>> chunked_bincount(len(keys), 3, lambda sl: keys[sl]).tolist()
    [1, 0, 2]
    """
    out = np.zeros(size + 1, dtype=np.int64 if weights_of is None else float)
    for start in range(0, n_rows, CHUNK_ROWS):
        sl = slice(start, min(start + CHUNK_ROWS, n_rows))
        key = np.minimum(key_of(sl), size)
        w = None if weights_of is None else weights_of(sl)
        out += np.bincount(key, weights=w, minlength=size + 1)
    return out[:size]


def group_count(codes: np.ndarray, n: int) -> np.ndarray:
    """Rows per group.

    Examples
    --------
    >>> group_count(np.array([0, 0, 2]), 3).tolist()
    [2, 0, 1]
    """
    return np.bincount(codes, minlength=n)


def group_sum(codes: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Sum of ``values`` per group.

    Examples
    --------
    >>> group_sum(np.array([0, 0, 1]), np.array([1.0, 2.0, 5.0]), 2).tolist()
    [3.0, 5.0]
    """
    return np.bincount(codes, weights=values, minlength=n)


def group_mean(codes: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Mean of ``values`` per group (NaN for empty groups).

    Examples
    --------
    >>> group_mean(np.array([0, 0, 2]), np.array([1.0, 2.0, 5.0]), 3).tolist()
    [1.5, nan, 5.0]
    """
    count = group_count(codes, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return group_sum(codes, values, n) / count


def group_var(codes: np.ndarray, values: np.ndarray, n: int, ddof: int = 1) -> np.ndarray:
    """Variance per group, two-pass (centred) for accuracy.

    Examples
    --------
    >>> group_var(np.array([0, 0, 0]), np.array([1.0, 2.0, 3.0]), 1).tolist()
    [1.0]
    """
    mean = group_mean(codes, values, n)
    dev = values - mean[codes]
    count = group_count(codes, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = group_sum(codes, dev * dev, n) / (count - ddof)
    out[count <= ddof] = np.nan
    return out


def weighted_row_median(values: np.ndarray, counts: np.ndarray, presorted: bool = False) -> np.ndarray:
    """Median of each row of a histogram (``values`` with multiplicities ``counts``).

    For an even total the two middle values are averaged, as ``np.median`` does.

    Examples
    --------
    >>> weighted_row_median(np.array([[1.0, 2.0, 3.0]]), np.array([[1, 0, 1]])).tolist()
    [2.0]
    """
    if presorted:  # every row already ascending
        vals, cum = values, np.cumsum(counts, axis=1)
    else:
        order = np.argsort(values, axis=1, kind="stable")
        vals = np.take_along_axis(values, order, axis=1)
        cum = np.cumsum(np.take_along_axis(counts, order, axis=1), axis=1)
    total = cum[:, -1]
    lo = (total - 1) // 2
    hi = total // 2
    ilo = np.minimum((cum <= lo[:, None]).sum(axis=1), vals.shape[1] - 1)
    ihi = np.minimum((cum <= hi[:, None]).sum(axis=1), vals.shape[1] - 1)
    rows = np.arange(len(vals))
    out = (vals[rows, ilo] + vals[rows, ihi]) / 2.0
    out[total == 0] = np.nan
    return out


def _sorted_median(codes: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    order = np.lexsort((values, codes))
    sv = values[order]
    count = group_count(codes, n)
    start = np.concatenate(([0], np.cumsum(count)[:-1]))
    safe = np.maximum(count, 1)
    lo = start + (safe - 1) // 2
    hi = start + safe // 2
    lo = np.minimum(lo, len(sv) - 1)
    hi = np.minimum(hi, len(sv) - 1)
    out = (sv[lo] + sv[hi]) / 2.0 if len(sv) else np.full(n, np.nan)
    out = np.asarray(out, dtype=float)
    out[count == 0] = np.nan
    return out


def group_median_mad(
    codes: np.ndarray, values: np.ndarray, n: int,
    vcodes: np.ndarray | None = None, uniques: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Median and raw median absolute deviation of ``values`` per group.

    Uses a (group × distinct value) histogram when the values take few distinct
    values (rating scales), and one lexsort otherwise. ``values`` must not hold NaN.

    ``vcodes`` / ``uniques`` (from ``pd.factorize(values, sort=True)``) may be passed when known.

    Returns
    -------
    median, mad : ndarray
        NaN for empty groups. The MAD is unscaled (multiply by 1.4826 for a normal-consistent scale).

    Examples
    --------
    >>> med, mad = group_median_mad(np.array([0, 0, 0, 1]), np.array([1.0, 2.0, 9.0, 4.0]), 2)
    >>> med.tolist(), mad.tolist()
    ([2.0, 4.0], [1.0, 0.0])
    """
    codes = np.asarray(codes, dtype=np.int64)
    values = np.asarray(values, dtype=float)
    if len(values) == 0:  # every value missing or excluded: every group is empty
        return np.full(n, np.nan), np.full(n, np.nan)
    if vcodes is None or uniques is None:
        vcodes, uniques = pd.factorize(values, sort=True)
    if len(uniques) <= HISTOGRAM_MAX_VALUES:
        nv = max(len(uniques), 1)
        hist = np.bincount(codes * nv + vcodes, minlength=n * nv).reshape(n, nv)
        grid = np.broadcast_to(np.asarray(uniques, dtype=float), (n, nv))
        median = weighted_row_median(grid, hist, presorted=True)
        dev = np.abs(grid - median[:, None])
        dev[np.isnan(dev)] = 0.0
        mad = weighted_row_median(dev, hist)
        return median, mad
    median = _sorted_median(codes, values, n)
    mad = _sorted_median(codes, np.abs(values - median[codes]), n)
    return median, mad
