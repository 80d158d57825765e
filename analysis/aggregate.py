"""Item → dimension → subject scores, and the weighted combination across rater groups."""
from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from .codes import CodedRatings
from .groupwise import CHUNK_ROWS


class WeightError(ValueError):
    """Group weights that cannot be combined (unknown group, negative or all-zero weight)."""


def combine_groups(scores: Mapping[str, float] | pd.Series, weights: Mapping[str, float]) -> float:
    """Weighted mean of rater-group scores, renormalised over the groups present.

    A group is present when it has a finite score; its weight must be in ``weights``.

    .. math:: S = \\sum_{g \\in P} w_g s_g \\Big/ \\sum_{g \\in P} w_g

    Parameters
    ----------
    scores : mapping or Series of group -> score
        NaN scores count as absent.
    weights : mapping of group -> weight
        The scheme's weights (they need not sum to 1 over the groups present).

    Returns
    -------
    float
        NaN when no group with positive weight is present.

    Examples
    --------
    >>> combine_groups({"superior": 90.0, "masses": 80.0}, {"superior": 0.3, "peer": 0.2, "masses": 0.5})
    83.75
    """
    items = dict(scores.items()) if isinstance(scores, pd.Series) else dict(scores)
    unknown = sorted(str(g) for g in items if g not in weights)
    if unknown:
        raise WeightError(f"no weight for rater groups {unknown}")
    num = den = 0.0
    for g, s in items.items():
        w = float(weights[g])
        if w < 0:
            raise WeightError(f"negative weight for rater group {g!r}")
        if s is None or not np.isfinite(s) or w == 0:
            continue
        num += w * float(s)
        den += w
    return num / den if den > 0 else float("nan")


def ballot_subject_scores(coded: CodedRatings, use: np.ndarray) -> np.ndarray:
    """Each (ballot, subject) pair's score from the rows in ``use`` (NaN when none).

    Item values are averaged with item weights inside each dimension, then dimension
    means with dimension weights; unanswered items and dimensions drop out of the weights.
    One ``bincount`` over the rows (masked rows go to a dump bin), no gathers.
    """
    n_local = coded.dim_weight.shape[1]
    size = coded.n_bs * n_local

    num = np.zeros(size + 1)
    den = np.zeros(size + 1)
    for start in range(0, len(use), CHUNK_ROWS):  # chunks bound the temporaries
        sl = slice(start, start + CHUNK_ROWS)
        key = coded.bs[sl].astype(np.int64) * n_local + coded.dim_of_pair[coded.pair[sl]]
        key[~(use[sl] & coded.answered[sl])] = size
        w = coded.item_weight[coded.pair[sl]]
        den += np.bincount(key, weights=w, minlength=size + 1)
        w *= coded.value[sl]
        w[key == size] = 0.0
        num += np.bincount(key, weights=w, minlength=size + 1)
    num, den = num[:size], den[:size]
    num, den = num.reshape(coded.n_bs, n_local), den.reshape(coded.n_bs, n_local)
    weight = coded.dim_weight[coded.bs_sheet] * (den > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        dim_score = np.where(den > 0, num / den, 0.0)
        total = weight.sum(axis=1)
        return np.where(total > 0, (weight * dim_score).sum(axis=1) / total, np.nan)


def subject_scores(
    data: pd.DataFrame, *, subject: str = "subject", rater: str = "ballot_id", score: str = "score"
) -> pd.DataFrame:
    """Mean, standard deviation and count of rater scores per subject.

    Examples
    --------
    >>> df = pd.DataFrame({"subject": ["a", "a", "b"], "ballot_id": [1, 2, 3], "score": [1.0, 3.0, 5.0]})
    >>> subject_scores(df)[["score", "n_raters"]].to_dict("list")
    {'score': [2.0, 5.0], 'n_raters': [2, 1]}
    """
    g = data.groupby(subject, observed=True)[score]
    out = pd.DataFrame({"score": g.mean(), "sd": g.std(ddof=1), "n_raters": g.count()})
    return out
