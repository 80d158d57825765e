"""Outlier rules: robust z-scores, the olympic trim (去掉一个最高分、一个最低分), rater disagreement.

Every rule returns what it touched so the pipeline can say, row by row, what it changed.
"""
from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .groupwise import group_count, group_median_mad, group_sum, weighted_row_median

#: Scale making the MAD a consistent estimator of the normal standard deviation.
MAD_SCALE = 1.482602218505602  # 1 / Phi^-1(3/4), as scipy.stats.median_abs_deviation(scale="normal")


class OutlierInputError(ValueError):
    """Values an outlier rule cannot work on."""


def robust_z(values: npt.ArrayLike) -> np.ndarray:
    """Robust z-scores: distance from the median in units of the scaled MAD.

    .. math:: z_i = (x_i - \\operatorname{med} x) / (1.4826 \\cdot \\operatorname{med}|x - \\operatorname{med} x|)

    NaN values are ignored when computing the median and MAD and stay NaN. When the MAD is 0
    (more than half the values equal) z is undefined and returned as NaN.

    Examples
    --------
    >>> robust_z([1.0, 2.0, 3.0, 4.0, 100.0]).round(3).tolist()
    [-1.349, -0.674, 0.0, 0.674, 65.426]
    """
    x = np.asarray(values, dtype=float)
    if x.ndim != 1:
        raise OutlierInputError(f"robust_z expects a 1-d array, got shape {x.shape}")
    ok = ~np.isnan(x)
    if not ok.any():
        return np.full_like(x, np.nan)
    med = np.median(x[ok])
    mad = np.median(np.abs(x[ok] - med)) * MAD_SCALE
    if mad == 0:
        return np.full_like(x, np.nan)
    return (x - med) / mad


def olympic_trimmed_mean(values: npt.ArrayLike, *, min_n: int = 3) -> float:
    """Mean after dropping one highest and one lowest value (去掉一个最高分、一个最低分).

    Parameters
    ----------
    values : array_like
        Scores; NaN values are ignored.
    min_n : int
        Fewer non-missing values than this raise :class:`OutlierInputError` (at least 3).

    Examples
    --------
    >>> olympic_trimmed_mean([9.0, 7.0, 8.0, 1.0, 8.0])
    7.666666666666667
    """
    x = np.asarray(values, dtype=float)
    x = np.sort(x[~np.isnan(x)])
    if len(x) < max(min_n, 3):
        raise OutlierInputError(f"olympic trim needs at least {max(min_n, 3)} values, got {len(x)}")
    return float(x[1:-1].mean())


def robust_z_by_group(
    codes: np.ndarray, values: np.ndarray, n_groups: int,
    vcodes: np.ndarray | None = None, uniques: np.ndarray | None = None,
) -> np.ndarray:
    """Robust z of every value within its group (values without NaN; see ``group_median_mad``).

    Examples
    --------
    >>> robust_z_by_group(np.array([0, 0, 0, 1, 1, 1]), np.array([1., 2., 9., 5., 5., 6.]), 2).round(2).tolist()
    [-0.67, 0.0, 4.72, nan, nan, nan]
    """
    med, mad = group_median_mad(codes, values, n_groups, vcodes, uniques)
    scale = mad * MAD_SCALE
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (values - med[codes]) / scale[codes]
    z[scale[codes] == 0] = np.nan
    return z


def robust_z_table(hist: np.ndarray, uniques: np.ndarray) -> np.ndarray:
    """Robust z of every distinct value in every group, from a groups × values count table.

    For rating scales this replaces a per-row computation: the z of a row is
    ``table[group, value_code]``. Groups with MAD 0 or no values give NaN.

    Examples
    --------
    >>> robust_z_table(np.array([[1, 1, 0, 1]]), np.array([1.0, 2.0, 5.0, 9.0])).round(2).tolist()
    [[-0.67, 0.0, nan, 4.72]]
    """
    n, nv = hist.shape
    grid = np.broadcast_to(np.asarray(uniques, dtype=float), (n, nv))
    med = weighted_row_median(grid, hist, presorted=True)  # uniques are sorted
    dev = np.abs(grid - med[:, None])
    dev[np.isnan(dev)] = 0.0
    scale = weighted_row_median(dev, hist) * MAD_SCALE
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (grid - med[:, None]) / scale[:, None]
    z[(scale == 0) | np.isnan(scale)] = np.nan
    z[hist == 0] = np.nan
    return z


def trim_extremes(
    codes: np.ndarray, scores: np.ndarray, tiebreak: np.ndarray, n_groups: int, min_n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Which scores the olympic trim drops: one lowest and one highest per group of ``>= min_n``.

    Ties are broken by ``tiebreak`` (e.g. ballot codes) so the choice does not depend on row order;
    the trimmed mean does not depend on the tie-break. NaN scores are never dropped.

    Returns
    -------
    low, high : ndarray of bool
        Masks of the dropped lowest and highest score of each group.

    Examples
    --------
    >>> low, high = trim_extremes(np.zeros(4, int), np.array([3., 1., 2., 4.]), np.arange(4), 1, 3)
    >>> low.tolist(), high.tolist()
    ([False, True, False, False], [False, False, False, True])
    """
    ok = ~np.isnan(scores)
    idx = np.flatnonzero(ok)
    c = codes[idx]
    order = idx[np.lexsort((tiebreak[idx], scores[idx], c))]
    cs = codes[order]
    count = group_count(c, n_groups)
    first = np.r_[True, cs[1:] != cs[:-1]] if len(cs) else np.zeros(0, bool)
    last = np.r_[cs[1:] != cs[:-1], True] if len(cs) else np.zeros(0, bool)
    big = count[cs] >= min_n
    low = np.zeros(len(scores), dtype=bool)
    high = np.zeros(len(scores), dtype=bool)
    low[order[first & big]] = True
    high[order[last & big]] = True
    return low, high


def consensus_correlation(
    rater: np.ndarray, cell: np.ndarray, scores: np.ndarray, n_raters: int, n_cells: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each rater's Pearson correlation with the leave-one-out consensus across subjects.

    The consensus for a rater's score of a subject is the mean of every other rater's score of
    that subject (``cell``). Scores must not hold NaN.

    Returns
    -------
    r, n : ndarray
        Correlation per rater (NaN when undefined) and number of subjects it rests on.

    Examples
    --------
    >>> rater = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2]); cell = np.tile([0, 1, 2], 3)
    >>> scores = np.array([1., 2, 3, 2, 3, 5, 1, 4, 1])   # rater 2 runs against the others
    >>> r, n = consensus_correlation(rater, cell, scores, 3, 3)
    >>> r.round(3).tolist(), n.tolist()
    ([0.721, 0.327, -0.115], [3, 3, 3])
    """
    total = group_sum(cell, scores, n_cells)
    count = group_count(cell, n_cells)
    has = count[cell] >= 2
    with np.errstate(invalid="ignore", divide="ignore"):
        loo = (total[cell] - scores) / (count[cell] - 1)
    r_, x, y = rater[has], scores[has], loo[has]
    n = group_count(r_, n_raters).astype(float)
    mx = group_sum(r_, x, n_raters) / np.maximum(n, 1)
    my = group_sum(r_, y, n_raters) / np.maximum(n, 1)
    dx, dy = x - mx[r_], y - my[r_]
    sxy = group_sum(r_, dx * dy, n_raters)
    sxx = group_sum(r_, dx * dx, n_raters)
    syy = group_sum(r_, dy * dy, n_raters)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = sxy / np.sqrt(sxx * syy)
    tiny = 1e-12 * np.maximum(1.0, np.abs(mx)) ** 2 * np.maximum(n, 1)
    r[(sxx <= tiny) | (syy <= tiny) | (n < 3)] = np.nan
    return r, n.astype(np.int64)
