"""Inter-rater reliability: the six Shrout–Fleiss ICCs and Krippendorff's alpha."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .settings import ALPHA_LEVELS

ICC_NAMES: tuple[str, ...] = ("ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k")


class ReliabilityInputError(ValueError):
    """Data the reliability coefficients cannot be computed on."""


def icc(
    data: pd.DataFrame, *, subject: str, rater: str, score: str, confidence: float = 0.95,
    nan_policy: str = "raise",
) -> pd.DataFrame:
    """The six intraclass correlations of Shrout & Fleiss (1979) with F tests and intervals.

    ICC1: one-way random; ICC2: two-way random, absolute agreement; ICC3: two-way mixed,
    consistency; the ``k`` forms are the reliability of the mean of the ``k`` raters.
    With mean squares MSR (subjects), MSC (raters), MSE (residual), MSW (within subjects)::

        ICC1  = (MSR - MSW) / (MSR + (k-1) MSW)
        ICC2  = (MSR - MSE) / (MSR + (k-1) MSE + k (MSC - MSE) / n)
        ICC3  = (MSR - MSE) / (MSR + (k-1) MSE)
        ICC1k = (MSR - MSW) / MSR
        ICC2k = (MSR - MSE) / (MSR + (MSC - MSE) / n)
        ICC3k = (MSR - MSE) / MSR

    Parameters
    ----------
    data : DataFrame
        Long format, one row per (subject, rater) with a numeric score; every rater must rate
        every subject.
    subject, rater, score : str
        Column names.
    confidence : float
        Level of the intervals (McGraw & Wong 1996 formulas, as in pingouin).
    nan_policy : {"raise", "omit"}
        With "omit", subjects lacking a rating from some rater are dropped.

    Returns
    -------
    DataFrame
        Indexed by ICC1 ICC2 ICC3 ICC1k ICC2k ICC3k with columns ``icc``, ``F``, ``df1``, ``df2``,
        ``pval``, ``ci_low``, ``ci_high``.

    Examples
    --------
    >>> sf = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
    >>> long = pd.DataFrame([(t, j, s) for t, row in enumerate(sf) for j, s in enumerate(row)],
    ...                     columns=["target", "judge", "rating"])
    >>> icc(long, subject="target", rater="judge", score="rating")["icc"].round(2).tolist()
    [0.17, 0.29, 0.71, 0.44, 0.62, 0.91]
    """
    missing = [c for c in (subject, rater, score) if c not in data.columns]
    if missing:
        raise ReliabilityInputError(f"icc: columns {missing} not in data")
    if nan_policy not in ("raise", "omit"):
        raise ReliabilityInputError(f"icc: nan_policy must be 'raise' or 'omit', not {nan_policy!r}")
    dup = data.duplicated([subject, rater], keep=False)
    if dup.any():
        raise ReliabilityInputError(f"icc: duplicated (subject, rater) rows {list(data.index[dup][:10])}")
    wide = data.pivot(index=subject, columns=rater, values=score).astype(float)
    incomplete = wide.index[wide.isna().any(axis=1)]
    if len(incomplete):
        if nan_policy == "raise":
            raise ReliabilityInputError(
                f"icc: subjects {list(incomplete[:10])} lack a score from some rater (use nan_policy='omit')"
            )
        wide = wide.dropna()
    return icc_from_matrix(wide.to_numpy(), confidence=confidence)


def icc_from_matrix(y: np.ndarray, *, confidence: float = 0.95) -> pd.DataFrame:
    """The six ICCs of a complete subjects × raters matrix (see :func:`icc`).

    Examples
    --------
    >>> icc_from_matrix(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 7.0]])).loc["ICC3", "icc"].round(3)
    np.float64(0.968)
    """
    y = np.asarray(y, dtype=float)
    n, k = y.shape
    if n < 2 or k < 2:
        raise ReliabilityInputError(f"icc needs at least 2 subjects and 2 raters, got {n} × {k}")
    grand = y.mean()
    ss_r = k * ((y.mean(axis=1) - grand) ** 2).sum()
    ss_c = n * ((y.mean(axis=0) - grand) ** 2).sum()
    ss_t = ((y - grand) ** 2).sum()
    ss_e = ss_t - ss_r - ss_c
    msr, msc = ss_r / (n - 1), ss_c / (k - 1)
    mse = ss_e / ((n - 1) * (k - 1))
    msw = (ss_c + ss_e) / (n * (k - 1))
    alpha = 1 - confidence
    q = 1 - alpha / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        icc1 = (msr - msw) / (msr + (k - 1) * msw)
        icc2 = (msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n)
        icc3 = (msr - mse) / (msr + (k - 1) * mse)
        icc1k = (msr - msw) / msr
        icc2k = (msr - mse) / (msr + (msc - mse) / n)
        icc3k = (msr - mse) / msr
        f1, df1, df2_1 = msr / msw, n - 1, n * (k - 1)
        f3, df2_3 = msr / mse, (n - 1) * (k - 1)
        # ICC1 and ICC3 intervals (Shrout & Fleiss 1979; McGraw & Wong 1996)
        f_lb1 = f1 / stats.f.ppf(q, df1, df2_1)
        f_ub1 = f1 * stats.f.ppf(q, df2_1, df1)
        f_lb3 = f3 / stats.f.ppf(q, df1, df2_3)
        f_ub3 = f3 * stats.f.ppf(q, df2_3, df1)
        # ICC2 interval with Satterthwaite degrees of freedom
        a = k * icc2 / (n * (1 - icc2))
        b = 1 + k * icc2 * (n - 1) / (n * (1 - icc2))
        v = (a * msc + b * mse) ** 2 / ((a * msc) ** 2 / (k - 1) + (b * mse) ** 2 / ((n - 1) * (k - 1)))
        f2u = stats.f.ppf(q, n - 1, v)
        f2l = stats.f.ppf(q, v, n - 1)
        lb2 = n * (msr - f2u * mse) / (f2u * (k * msc + (k * n - k - n) * mse) + n * msr)
        ub2 = n * (f2l * msr - mse) / (k * msc + (k * n - k - n) * mse + n * f2l * msr)
    rows = {
        "ICC1": (icc1, f1, df1, df2_1, (f_lb1 - 1) / (f_lb1 + k - 1), (f_ub1 - 1) / (f_ub1 + k - 1)),
        "ICC2": (icc2, f3, df1, df2_3, lb2, ub2),
        "ICC3": (icc3, f3, df1, df2_3, (f_lb3 - 1) / (f_lb3 + k - 1), (f_ub3 - 1) / (f_ub3 + k - 1)),
        "ICC1k": (icc1k, f1, df1, df2_1, 1 - 1 / f_lb1, 1 - 1 / f_ub1),
        "ICC2k": (icc2k, f3, df1, df2_3, lb2 * k / (1 + lb2 * (k - 1)), ub2 * k / (1 + ub2 * (k - 1))),
        "ICC3k": (icc3k, f3, df1, df2_3, 1 - 1 / f_lb3, 1 - 1 / f_ub3),
    }
    out = pd.DataFrame.from_dict(rows, orient="index",
                                 columns=["icc", "F", "df1", "df2", "ci_low", "ci_high"])
    out["pval"] = stats.f.sf(out["F"], out["df1"], out["df2"])
    out.index.name = "type"
    return out[["icc", "ci_low", "ci_high", "F", "df1", "df2", "pval"]]


def icc_oneway_unbalanced(
    codes: np.ndarray, scores: np.ndarray, n_subjects: int, *, confidence: float = 0.95
) -> pd.DataFrame:
    """ICC1 and ICC1k of a one-way design with unequal raters per subject.

    Uses the one-way ANOVA with the effective group size
    ``n0 = (N - sum(n_i^2) / N) / (a - 1)`` in place of ``k``; the two-way forms are not
    identifiable and are returned as NaN.

    Examples
    --------
    >>> out = icc_oneway_unbalanced(np.array([0, 0, 1, 1, 1]), np.array([1., 2., 5., 6., 7.]), 2)
    >>> round(float(out.loc["ICC1", "icc"]), 3)
    0.921
    """
    count = np.bincount(codes, minlength=n_subjects).astype(float)
    keep = count[codes] >= 1
    present = count > 0
    a = int(present.sum())
    big_n = float(count.sum())
    out = pd.DataFrame(np.nan, index=pd.Index(ICC_NAMES, name="type"),
                       columns=["icc", "ci_low", "ci_high", "F", "df1", "df2", "pval"])
    if a < 2 or big_n - a < 1:
        return out
    sums = np.bincount(codes[keep], weights=scores[keep], minlength=n_subjects)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / count
    grand = scores.mean()
    ssb = float((count[present] * (means[present] - grand) ** 2).sum())
    ssw = float(((scores - means[codes]) ** 2).sum())
    df1, df2 = a - 1, big_n - a
    msb, msw = np.float64(ssb / df1), np.float64(ssw / df2)
    n0 = (big_n - (count**2).sum() / big_n) / (a - 1)
    q = 1 - (1 - confidence) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        f = msb / msw
        f_lb = f / stats.f.ppf(q, df1, df2)
        f_ub = f * stats.f.ppf(q, df2, df1)
        out.loc["ICC1"] = [(msb - msw) / (msb + (n0 - 1) * msw), (f_lb - 1) / (f_lb + n0 - 1),
                           (f_ub - 1) / (f_ub + n0 - 1), f, df1, df2, stats.f.sf(f, df1, df2)]
        out.loc["ICC1k"] = [(msb - msw) / msb, 1 - 1 / f_lb, 1 - 1 / f_ub, f, df1, df2,
                            stats.f.sf(f, df1, df2)]
    return out


def alpha_from_counts(counts: np.ndarray, values: np.ndarray, level: str) -> float:
    """Krippendorff's alpha from a units × values table of how many raters gave each value.

    Builds the coincidence matrix ``o_ck = sum_u n_uc (n_uk - [c = k]) / (m_u - 1)`` over units
    with at least two values, then ``alpha = 1 - (n - 1) sum o_ck d_ck / sum n_c n_k d_ck``
    (Krippendorff 2011, "Computing Krippendorff's Alpha-Reliability").

    Examples
    --------
    >>> round(alpha_from_counts(np.array([[2, 0], [0, 2], [1, 1]]), np.array([1.0, 2.0]), "nominal"), 3)
    0.444
    """
    if level not in ALPHA_LEVELS:
        raise ReliabilityInputError(f"level must be one of {ALPHA_LEVELS}, not {level!r}")
    return alphas_from_counts(counts, values, (level,))[level]


def alphas_from_counts(
    counts: np.ndarray, values: np.ndarray, levels: tuple[str, ...] = ALPHA_LEVELS
) -> dict[str, float]:
    """Alpha at several levels from one coincidence matrix (see :func:`alpha_from_counts`).

    Examples
    --------
    >>> out = alphas_from_counts(np.array([[2, 0], [0, 2], [1, 1]]), np.array([1.0, 2.0]))
    >>> round(out["nominal"], 3) == round(out["interval"], 3)  # two values: all levels agree
    True
    """
    counts = np.asarray(counts, dtype=float)
    values = np.asarray(values, dtype=float)
    m = counts.sum(axis=1)
    pairable = m >= 2
    counts, m = counts[pairable], m[pairable]
    if counts.size == 0:
        return {level: float("nan") for level in levels}
    weighted = counts / (m - 1)[:, None]
    o = weighted.T @ counts
    o[np.diag_indices_from(o)] -= weighted.sum(axis=0)
    n_c = o.sum(axis=1)
    n = n_c.sum()
    out = {}
    for level in levels:
        delta = _delta(values, n_c, level)
        d_e = (np.outer(n_c, n_c) * delta).sum()
        out[level] = float("nan") if d_e == 0 else float(1 - (n - 1) * (o * delta).sum() / d_e)
    return out


def _delta(values: np.ndarray, n_c: np.ndarray, level: str) -> np.ndarray:
    c, k = values[:, None], values[None, :]
    if level == "nominal":
        return (c != k).astype(float)
    if level == "interval":
        return (c - k) ** 2
    if level == "ratio":
        with np.errstate(invalid="ignore", divide="ignore"):
            d = ((c - k) / (c + k)) ** 2
        return np.nan_to_num(d, nan=0.0)
    # ordinal: squared number of values between c and k, ends counted half
    cum = np.cumsum(n_c)
    idx = np.arange(len(values))
    lo, hi = np.minimum(idx[:, None], idx[None, :]), np.maximum(idx[:, None], idx[None, :])
    between = cum[hi] - np.where(lo > 0, cum[np.maximum(lo - 1, 0)], 0.0)
    return (between - (n_c[lo] + n_c[hi]) / 2) ** 2


def krippendorff_alpha(data: pd.DataFrame | np.ndarray, *, level: str) -> float:
    """Krippendorff's alpha of a raters × units table (NaN = missing).

    Parameters
    ----------
    data : DataFrame or 2-d array
        Rows are raters (observers), columns are units; NaN marks a missing value.
    level : {"nominal", "ordinal", "interval", "ratio"}
        Level of measurement, choosing the difference function.

    Returns
    -------
    float
        Alpha (NaN when no unit has two values or all values are equal).

    Examples
    --------
    Krippendorff (2011), reliability data with missing values, 4 observers × 12 units:

    >>> nan = np.nan
    >>> data = [[1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
    ...         [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
    ...         [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
    ...         [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan]]
    >>> round(krippendorff_alpha(data, level="nominal"), 3)
    0.743
    """
    y = np.asarray(data, dtype=float)
    if y.ndim != 2:
        raise ReliabilityInputError(f"krippendorff_alpha expects raters × units, got shape {y.shape}")
    if level not in ALPHA_LEVELS:
        raise ReliabilityInputError(f"level must be one of {ALPHA_LEVELS}, not {level!r}")
    ok = ~np.isnan(y)
    if level == "ratio" and (y[ok] < 0).any():
        raise ReliabilityInputError("ratio alpha needs non-negative values")
    values, inverse = np.unique(y[ok], return_inverse=True)
    unit = np.broadcast_to(np.arange(y.shape[1]), y.shape)[ok]
    counts = np.zeros((y.shape[1], len(values)))
    np.add.at(counts, (unit, inverse.ravel()), 1)
    return alpha_from_counts(counts, values, level)
