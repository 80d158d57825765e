"""Intervals: Wilson for rates, t / normal / bootstrap for scores, rank intervals and ties."""
from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import stats


class IntervalInputError(ValueError):
    """Counts or levels an interval cannot be computed from."""


def wilson_interval(
    successes: npt.ArrayLike, n: npt.ArrayLike, confidence: float = 0.95
) -> tuple[np.ndarray | float, np.ndarray | float]:
    """Wilson score interval for a binomial proportion (vectorised).

    .. math:: \\frac{\\hat p + z^2/2n \\pm z\\sqrt{\\hat p(1-\\hat p)/n + z^2/4n^2}}{1 + z^2/n}

    Parameters
    ----------
    successes, n : int or array_like
        Counts; ``n = 0`` gives NaN.
    confidence : float
        Two-sided level.

    Returns
    -------
    (low, high)
        Floats for scalar input, arrays otherwise.

    Examples
    --------
    >>> low, high = wilson_interval(826, 828)
    >>> round(low, 4), round(high, 4)
    (0.9912, 0.9993)
    """
    if not 0 < confidence < 1:
        raise IntervalInputError(f"confidence must lie in (0, 1), got {confidence}")
    x = np.asarray(successes, dtype=float)
    m = np.asarray(n, dtype=float)
    if np.any(x < 0) or np.any(x > m):
        raise IntervalInputError("wilson_interval: successes must lie in [0, n]")
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x / m
        denom = 1 + z**2 / m
        centre = (p + z**2 / (2 * m)) / denom
        half = z * np.sqrt(p * (1 - p) / m + z**2 / (4 * m**2)) / denom
    low, high = np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)
    if low.ndim == 0:
        return float(low), float(high)
    return low, high


def t_interval(
    mean: npt.ArrayLike, se: npt.ArrayLike, n: npt.ArrayLike, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Student-t interval ``mean ± t_{n-1} se`` (NaN where ``n < 2``).

    Examples
    --------
    >>> low, high = t_interval([10.0], [1.0], [5])
    >>> low.round(3).tolist(), high.round(3).tolist()
    ([7.224], [12.776])
    """
    mean, se, n = (np.asarray(a, dtype=float) for a in (mean, se, n))
    with np.errstate(invalid="ignore"):
        t = stats.t.ppf(1 - (1 - confidence) / 2, np.where(n >= 2, n - 1, np.nan))
    return mean - t * se, mean + t * se


def normal_interval(
    mean: npt.ArrayLike, se: npt.ArrayLike, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Normal interval ``mean ± z se``.

    Examples
    --------
    >>> [round(float(v[0]), 2) for v in normal_interval([0.0], [1.0])]
    [-1.96, 1.96]
    """
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    mean, se = np.asarray(mean, dtype=float), np.asarray(se, dtype=float)
    return mean - z * se, mean + z * se


def rank_intervals(
    score: npt.ArrayLike, low: npt.ArrayLike, high: npt.ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ranks (1 = highest score) and conservative rank intervals from score intervals.

    Subject *i* is surely below *j* when ``low_j > high_i``; so
    ``rank_low = 1 + #{j: low_j > high_i}`` and ``rank_high = n - #{j: high_j < low_i}``.
    Missing scores get NaN. Ties share the best (minimum) rank.

    Examples
    --------
    >>> r, lo, hi = rank_intervals([90, 80, 79], [88, 78, 77], [92, 82, 81])
    >>> r.tolist(), lo.tolist(), hi.tolist()
    ([1.0, 2.0, 3.0], [1.0, 2.0, 2.0], [1.0, 3.0, 3.0])
    """
    s, lo, hi = (np.asarray(a, dtype=float) for a in (score, low, high))
    ok = ~np.isnan(s)
    rank = np.full(len(s), np.nan)
    r_low = np.full(len(s), np.nan)
    r_high = np.full(len(s), np.nan)
    if not ok.any():
        return rank, r_low, r_high
    so = np.sort(s[ok])
    rank[ok] = len(so) - np.searchsorted(so, s[ok], side="right") + 1
    lo_f = np.where(np.isnan(lo), -np.inf, lo)[ok]
    hi_f = np.where(np.isnan(hi), np.inf, hi)[ok]
    lows, highs = np.sort(lo_f), np.sort(hi_f)
    above = len(lows) - np.searchsorted(lows, hi_f, side="right")
    below = np.searchsorted(highs, lo_f, side="left")
    r_low[ok] = 1 + above
    r_high[ok] = len(so) - below
    r_low[ok] = np.minimum(r_low[ok], rank[ok])
    r_high[ok] = np.maximum(r_high[ok], rank[ok])
    return rank, r_low, r_high


def distinguishable(
    diff: npt.ArrayLike, se_diff: npt.ArrayLike, confidence: float = 0.95
) -> np.ndarray:
    """Whether a difference of two scores is beyond noise: ``|diff| > z * se_diff``.

    Returns a float array: 1.0 distinguishable, 0.0 tied within the margin, NaN unknown.

    Examples
    --------
    >>> distinguishable([5.0, 1.0], [1.0, 1.0]).tolist()
    [1.0, 0.0]
    """
    d, se = np.asarray(diff, dtype=float), np.asarray(se_diff, dtype=float)
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    out = (np.abs(d) > z * se).astype(float)
    out[np.isnan(d) | np.isnan(se)] = np.nan
    return out


def bootstrap_cell_means(
    cell: np.ndarray, scores: np.ndarray, n_cells: int, replicates: int, seed: int,
    block: int = 64,
) -> np.ndarray:
    """Bootstrap means per cell, resampling the rows of each cell with replacement.

    Returns a ``n_cells × replicates`` array (NaN for empty cells). Fully vectorised: rows are
    sorted by cell once, then each replicate draws ``start + floor(u * size)`` per row.

    Examples
    --------
    >>> reps = bootstrap_cell_means(np.array([0, 0, 1]), np.array([1.0, 3.0, 5.0]), 2, 200, seed=1)
    >>> reps.shape, bool(np.all(reps[1] == 5.0)), bool(set(np.unique(reps[0])) <= {1.0, 2.0, 3.0})
    ((2, 200), True, True)
    """
    rng = np.random.default_rng(seed)
    order = np.argsort(cell, kind="stable")
    c, x = cell[order], scores[order]
    size = np.bincount(c, minlength=n_cells)
    start = np.concatenate(([0], np.cumsum(size)[:-1]))
    out = np.empty((n_cells, replicates))
    with np.errstate(invalid="ignore", divide="ignore"):
        for b0 in range(0, replicates, block):
            nb = min(block, replicates - b0)
            u = rng.random((nb, len(c)))
            idx = start[c] + np.floor(u * size[c]).astype(np.int64)
            sums = np.zeros((nb, n_cells))
            key = (np.arange(nb)[:, None] * n_cells + c[None, :]).ravel()
            sums = np.bincount(key, weights=x[idx].ravel(), minlength=nb * n_cells).reshape(nb, n_cells)
            out[:, b0:b0 + nb] = (sums / size).T
    return out
