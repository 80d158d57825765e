"""Load the tidy ratings table and check it against the campaign's definitions."""
from __future__ import annotations

from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from .groupwise import dense_codes
from .settings import AnalysisSpec

REQUIRED_COLUMNS: tuple[str, ...] = (
    "ballot_id", "sheet", "rater_group", "subject", "item", "value",
)
OPTIONAL_COLUMNS: dict[str, str] = {
    "dimension": "", "choice": "", "mode": "token", "day": "", "duration_bucket": "", "fingerprint": "",
}
CATEGORICAL_COLUMNS: tuple[str, ...] = (
    "ballot_id", "sheet", "rater_group", "subject", "item", "dimension", "choice",
    "mode", "day", "duration_bucket", "fingerprint",
)
MODES: frozenset[str] = frozenset({"token", "open", "paper", "rehearsal"})
_SHOWN_ROWS = 10


class RatingsError(ValueError):
    """The ratings table does not match the campaign's definitions.

    Attributes
    ----------
    rows : list
        Row labels (index values) of the offending rows, at most the first few.
    """

    def __init__(self, message: str, rows: list | None = None) -> None:
        self.rows = list(rows or [])
        if self.rows:
            shown = ", ".join(map(str, self.rows[:_SHOWN_ROWS]))
            more = "" if len(self.rows) <= _SHOWN_ROWS else f" (+{len(self.rows) - _SHOWN_ROWS} more)"
            message = f"{message}; rows {shown}{more}"
        super().__init__(message)


def _bad_rows(frame: pd.DataFrame, mask: np.ndarray, message: str) -> None:
    mask = np.asarray(mask, dtype=bool)
    if mask.any():
        rows = frame.index[mask]
        raise RatingsError(f"{message} ({int(mask.sum())} rows)", list(rows[: _SHOWN_ROWS + 1]))


def _as_category(series: pd.Series, default: str) -> pd.Series:
    if isinstance(series.dtype, pd.CategoricalDtype):
        cats = series.cat.categories
        if not all(isinstance(c, str) for c in cats):
            series = series.cat.rename_categories([str(c) for c in cats])
        if series.isna().any():
            if default not in series.cat.categories:
                series = series.cat.add_categories([default])
            series = series.fillna(default)
        return series.cat.remove_unused_categories()
    return series.astype(object).where(series.notna(), default).astype(str).astype("category")


def read_ratings(source: str | PathLike | pd.DataFrame) -> pd.DataFrame:
    """Read a tidy ratings table from CSV, Parquet or a DataFrame (returned as a copy).

    Parameters
    ----------
    source : path or DataFrame
        ``*.csv``, ``*.parquet`` / ``*.pq``, or a DataFrame.

    Examples
    --------
    >>> read_ratings(pd.DataFrame({"value": [1.0]})).shape
    (1, 1)
    """
    if isinstance(source, pd.DataFrame):
        return source.copy()
    path = Path(source)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path, dtype={c: str for c in CATEGORICAL_COLUMNS}, keep_default_na=False,
                           na_values={"value": ["", "NA", "NaN", "nan"]})
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    raise RatingsError(f"{path}: unknown ratings format {suffix!r} (use .csv or .parquet)")


def load_ratings(source: str | PathLike | pd.DataFrame, spec: AnalysisSpec) -> pd.DataFrame:
    """Load a tidy ratings table and check it against ``spec``.

    Checks, each raising :class:`RatingsError` naming the rows: missing columns, unknown
    sheets, items (per sheet), subjects (when the spec has a roster), rater groups and modes;
    a dimension differing from the definition; values off the item's scale or not among its
    allowed values; a ballot on more than one sheet or group; duplicated
    (ballot_id, subject, item) rows.

    Parameters
    ----------
    source : path or DataFrame
        The tidy table (one row per answer).
    spec : AnalysisSpec
        The campaign's definitions.

    Returns
    -------
    DataFrame
        A copy with categorical text columns, float ``value`` and every optional column present.

    Examples
    --------
    >>> from analysis.settings import AnalysisSpec, ItemSpec, SheetSpec
    >>> spec = AnalysisSpec(sheets=(SheetSpec("v", (ItemSpec("q", "d", scale_max=10),)),),
    ...                     group_weights={"masses": 1})
    >>> t = pd.DataFrame({"ballot_id": ["b1"], "sheet": ["v"], "rater_group": ["masses"],
    ...                   "subject": ["village_1"], "item": ["q"], "value": [11.0]})
    >>> load_ratings(t, spec)
    Traceback (most recent call last):
    ...
    analysis.ratings.RatingsError: values off the scale of item 'q' on sheet 'v' (1 rows); rows 0
    """
    frame = read_ratings(source)
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise RatingsError(f"ratings table lacks columns {missing}")
    for col, default in OPTIONAL_COLUMNS.items():
        if col not in frame.columns:
            frame[col] = default
    for col in CATEGORICAL_COLUMNS:
        frame[col] = _as_category(frame[col], OPTIONAL_COLUMNS.get(col, ""))
    try:
        frame["value"] = pd.to_numeric(frame["value"]).astype(float)
    except (TypeError, ValueError) as exc:
        raise RatingsError(f"column 'value' is not numeric: {exc}") from None

    _check_membership(frame, "sheet", {s.key for s in spec.sheets}, "unknown sheets")
    _check_membership(frame, "rater_group", set(spec.group_weights), "unknown rater groups")
    _check_membership(frame, "mode", MODES, "unknown modes")
    if spec.subjects is not None:
        _check_membership(frame, "subject", spec.subjects, "unknown subjects")
    _check_items(frame, spec)
    _check_ballots(frame)
    return frame


def _check_membership(frame: pd.DataFrame, col: str, known: set | frozenset, message: str) -> None:
    cats = frame[col].cat.categories
    bad_cats = [c for c in cats if c not in known]
    if bad_cats:
        bad_codes = cats.get_indexer(bad_cats)
        mask = np.isin(frame[col].cat.codes.to_numpy(), bad_codes)
        if mask.any():
            names = sorted(map(str, frame[col][mask].unique()))[:_SHOWN_ROWS]
            _bad_rows(frame, mask, f"{message} {names}")


def _check_items(frame: pd.DataFrame, spec: AnalysisSpec) -> None:
    sheet_cats = frame["sheet"].cat.categories
    item_cats = frame["item"].cat.categories
    dim_cats = frame["dimension"].cat.categories
    sc = frame["sheet"].cat.codes.to_numpy().astype(np.int64)
    ic = frame["item"].cat.codes.to_numpy().astype(np.int64)
    known = np.zeros((len(sheet_cats), len(item_cats)), dtype=bool)
    pair_of = {}
    for s_i, s_key in enumerate(sheet_cats):
        sheet = spec.sheet(s_key)
        for item in sheet.items:
            i_i = item_cats.get_indexer([item.key])[0]
            if i_i >= 0:
                known[s_i, i_i] = True
                pair_of[(s_i, i_i)] = (sheet, item)
    mask = ~known[sc, ic]
    if mask.any():
        first = np.flatnonzero(mask)[0]
        _bad_rows(frame, mask, f"unknown items, e.g. {str(frame['item'].iloc[first])!r} "
                               f"on sheet {str(frame['sheet'].iloc[first])!r}")
    pair_code = sc * len(item_cats) + ic
    values = frame["value"].to_numpy()
    vcodes, uniques = pd.factorize(values, use_na_sentinel=True)
    dc = frame["dimension"].cat.codes.to_numpy().astype(np.int64)
    has_dim = not (len(dim_cats) == 1 and dim_cats[0] == "")
    bad_value = np.zeros((len(sheet_cats) * len(item_cats), max(len(uniques), 1)), dtype=bool)
    expected_dim = np.full(len(sheet_cats) * len(item_cats), -1, dtype=np.int64)
    for (s_i, i_i), (sheet, item) in pair_of.items():
        p = s_i * len(item_cats) + i_i
        u = np.asarray(uniques, dtype=float)
        off = (u < item.scale_min) | (u > item.scale_max)
        if item.allowed is not None:
            off |= ~np.isin(u, np.asarray(item.allowed, dtype=float))
        bad_value[p, : len(u)] = off
        expected_dim[p] = dim_cats.get_indexer([item.dimension])[0]
    answered = vcodes >= 0
    mask = np.zeros(len(frame), dtype=bool)
    mask[answered] = bad_value[pair_code[answered], vcodes[answered]]
    if mask.any():
        first = np.flatnonzero(mask)[0]
        s_key, i_key = str(frame["sheet"].iloc[first]), str(frame["item"].iloc[first])
        rows_pair = pair_code == pair_code[first]
        _bad_rows(frame, mask & rows_pair, f"values off the scale of item {i_key!r} on sheet {s_key!r}")
    if has_dim:
        _bad_rows(frame, expected_dim[pair_code] != dc, "dimension differs from the definition")
    else:
        dims = {}
        for (s_i, i_i), (sheet, item) in pair_of.items():
            dims[s_i * len(item_cats) + i_i] = item.dimension
        names = sorted(set(dims.values()))
        lookup = np.zeros(len(sheet_cats) * len(item_cats), dtype=np.int64)
        for p, d in dims.items():
            lookup[p] = names.index(d)
        frame["dimension"] = pd.Categorical.from_codes(lookup[pair_code], categories=names)


def _check_ballots(frame: pd.DataFrame) -> None:
    bc = frame["ballot_id"].cat.codes.to_numpy().astype(np.int64)
    nb = len(frame["ballot_id"].cat.categories)
    for col in ("sheet", "rater_group"):
        codes = frame[col].cat.codes.to_numpy()
        first = np.zeros(nb, dtype=codes.dtype)
        first[bc[::-1]] = codes[::-1]  # fancy assignment keeps the last write: the first row
        _bad_rows(frame, codes != first[bc], f"ballots on more than one {col}")
    sub = frame["subject"].cat.codes.to_numpy().astype(np.int64)
    item = frame["item"].cat.codes.to_numpy().astype(np.int64)
    bs, n_bs = dense_codes(bc, sub)
    n_items = len(frame["item"].cat.categories)
    key = bs * n_items + item
    counts = np.bincount(key, minlength=n_bs * n_items)
    _bad_rows(frame, counts[key] > 1, "duplicated (ballot_id, subject, item) rows")
