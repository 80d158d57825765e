"""Rater leniency/severity correction: an additive subject + rater model fitted by sparse LSQR."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import lsqr


class LeniencyInputError(ValueError):
    """Data the additive model cannot be fitted on."""


def fit_additive(
    subject: np.ndarray, rater: np.ndarray, score: np.ndarray, n_subjects: int, n_raters: int
) -> tuple[np.ndarray, np.ndarray]:
    """Fit ``score = a_subject + b_rater + e`` by least squares on integer codes.

    The model is identified up to a constant per connected component of the subject–rater
    graph; the solution is fixed by making the rater effects average zero in each component, so
    ``a`` is each subject's score as rated by an average rater of its component. Where no rater
    rates two subjects (a one-way design) ``a`` is simply the subject mean.

    Returns
    -------
    a, b : ndarray
        Subject and rater effects (NaN for codes without data).

    Examples
    --------
    >>> s = np.array([0, 1, 0, 1]); r = np.array([0, 0, 1, 1])
    >>> a, b = fit_additive(s, r, np.array([5.0, 7.0, 7.0, 9.0]), 2, 2)
    >>> a.round(6).tolist(), b.round(6).tolist()
    ([6.0, 8.0], [-1.0, 1.0])
    """
    n = len(score)
    rows = np.arange(n)
    design = sparse.csr_matrix(
        (np.ones(2 * n), (np.r_[rows, rows], np.r_[subject, n_subjects + rater])),
        shape=(n, n_subjects + n_raters),
    )
    a_b = lsqr(design, score, atol=1e-12, btol=1e-12, iter_lim=10 * (n_subjects + n_raters) + 100)[0]
    a, b = a_b[:n_subjects].copy(), a_b[n_subjects:].copy()
    graph = sparse.csr_matrix((np.ones(n), (subject, rater)), shape=(n_subjects, n_raters))
    bip = sparse.bmat([[None, graph], [graph.T, None]])
    _, comp = connected_components(bip, directed=False)
    comp_r = comp[n_subjects:]
    rated = np.bincount(rater, minlength=n_raters) > 0
    shift = np.bincount(comp_r[rated], weights=b[rated], minlength=comp.max() + 1)
    size = np.bincount(comp_r[rated], minlength=comp.max() + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        shift = np.where(size > 0, shift / size, 0.0)
    a += shift[comp[:n_subjects]]
    b -= shift[comp_r]
    a[np.bincount(subject, minlength=n_subjects) == 0] = np.nan
    b[~rated] = np.nan
    return a, b


def _codes(data: pd.DataFrame, subject: str, rater: str, score: str):
    missing = [c for c in (subject, rater, score) if c not in data.columns]
    if missing:
        raise LeniencyInputError(f"columns {missing} not in data")
    d = data[[subject, rater, score]].dropna()
    if d.duplicated([subject, rater]).any():
        rows = list(d.index[d.duplicated([subject, rater], keep=False)][:10])
        raise LeniencyInputError(f"duplicated (subject, rater) rows {rows}")
    s_codes, s_names = pd.factorize(d[subject], sort=True)
    r_codes, r_names = pd.factorize(d[rater], sort=True)
    return d, s_codes, s_names, r_codes, r_names


def adjust(data: pd.DataFrame, *, subject: str, rater: str, score: str) -> pd.DataFrame:
    """Subject scores raw and corrected for rater leniency or severity.

    Fits the additive model ``score = a_subject + b_rater + e`` with
    :func:`scipy.sparse.linalg.lsqr` (see :func:`fit_additive`), which handles unbalanced
    designs where raters rate different subsets of subjects.

    Parameters
    ----------
    data : DataFrame
        Long format, one row per (subject, rater); NaN scores are dropped.
    subject, rater, score : str
        Column names.

    Returns
    -------
    DataFrame
        Indexed by subject: ``raw`` (mean score), ``corrected`` (``a_subject``), ``effect``
        (``corrected`` minus the mean of ``corrected``), ``n_raters``.

    Examples
    --------
    Rater r2 is 2 points more lenient and rated only subject "b":

    >>> df = pd.DataFrame({"s": ["a", "a", "b", "b", "b"], "r": ["r0", "r1", "r0", "r1", "r2"],
    ...                    "y": [5.0, 5.0, 7.0, 7.0, 9.0]})
    >>> adjust(df, subject="s", rater="r", score="y")[["raw", "corrected"]].round(3)
         raw  corrected
    s                  
    a  5.000      5.667
    b  7.667      7.667
    """
    d, s_codes, s_names, r_codes, r_names = _codes(data, subject, rater, score)
    y = d[score].to_numpy(dtype=float)
    a, _ = fit_additive(s_codes, r_codes, y, len(s_names), len(r_names))
    count = np.bincount(s_codes, minlength=len(s_names))
    raw = np.bincount(s_codes, weights=y, minlength=len(s_names)) / count
    out = pd.DataFrame({"raw": raw, "corrected": a, "effect": a - np.nanmean(a), "n_raters": count},
                       index=pd.Index(s_names, name=subject))
    return out


def rater_effects(data: pd.DataFrame, *, subject: str, rater: str, score: str) -> pd.DataFrame:
    """Each rater's leniency (positive) or severity (negative) from the additive model.

    Examples
    --------
    >>> df = pd.DataFrame({"s": ["a", "a", "b", "b"], "r": ["x", "y", "x", "y"], "v": [5., 7., 7., 9.]})
    >>> rater_effects(df, subject="s", rater="r", score="v")["effect"].round(6).tolist()
    [-1.0, 1.0]
    """
    d, s_codes, s_names, r_codes, r_names = _codes(data, subject, rater, score)
    _, b = fit_additive(s_codes, r_codes, d[score].to_numpy(dtype=float), len(s_names), len(r_names))
    return pd.DataFrame({"effect": b, "n_subjects": np.bincount(r_codes, minlength=len(r_names))},
                        index=pd.Index(r_names, name=rater))
