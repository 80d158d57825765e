"""Load the tidy ratings table and check it against the campaign's definitions."""
from __future__ import annotations

import zipfile
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from forms.oserrors import reason

from .reasons import quoted
from .settings import AnalysisSpec, ItemSpec

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
# the polling site's fill-in buckets; a spec's own speeder_buckets are accepted besides
DURATION_BUCKETS: frozenset[str] = frozenset({"", "<30s", "30-60s", "1-2m", "2-5m", "5-15m", ">15m"})
_SHOWN_ROWS = 10


class RatingsError(ValueError):
    """The ratings table does not match the campaign's definitions.

    The message is in Chinese, for the person who supplied the table. Rows are shown as a
    spreadsheet shows them (the header is row 1, so index label 7 of a default index is 第 9 行);
    a table with any other index has its labels shown as they are.

    Attributes
    ----------
    rows : list
        Row labels (index values) of the offending rows, at most the first few.
    """

    def __init__(self, message: str, rows: list | None = None, index: pd.Index | None = None) -> None:
        self.rows = list(rows or [])
        if self.rows:
            message = f"{message}；{_where(self.rows, index)}"
        super().__init__(message)


def _where(rows: list, index: pd.Index | None) -> str:
    """``见第 9、10 行（表头为第 1 行）`` for a default index, ``行索引：a、b`` otherwise."""
    more = "等" if len(rows) > _SHOWN_ROWS else ""
    rows = rows[:_SHOWN_ROWS]
    if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1:
        return f"见第 {'、'.join(str(int(r) + 2) for r in rows)} 行{more}（表头为第 1 行）"
    return f"行索引：{'、'.join(map(str, rows))}{more}"


def _bad_rows(frame: pd.DataFrame, mask: np.ndarray, message: str, after: str = "") -> None:
    """Raise ``message（共 N 行）after；见第 … 行`` when ``mask`` selects any row."""
    mask = np.asarray(mask, dtype=bool)
    if mask.any():
        rows = frame.index[mask]
        raise RatingsError(f"{message}（共 {int(mask.sum())} 行）{after}", list(rows[: _SHOWN_ROWS + 1]),
                           frame.index)


def _as_category(series: pd.Series, default: str) -> pd.Series:
    """The column as a categorical of strings, missing values set to ``default`` (no sort)."""
    if not isinstance(series.dtype, pd.CategoricalDtype):
        filled = series.astype(object).where(series.notna(), default).astype(str)
        return filled.astype("category")
    cats = series.cat.categories
    if not (pd.api.types.is_string_dtype(cats.dtype) and cats.inferred_type in ("string", "empty")):
        cats = pd.Index([str(c) for c in cats])
    codes = series.array.codes
    missing = codes < 0
    if missing.any():
        if default not in cats:
            cats = cats.append(pd.Index([default]))
        codes = np.where(missing, cats.get_loc(default), codes)
    if cats is series.cat.categories and not missing.any():
        return series
    return pd.Series(pd.Categorical.from_codes(codes, categories=cats), index=series.index,
                     name=series.name)


def read_ratings(source: str | PathLike | pd.DataFrame) -> pd.DataFrame:
    """Read a tidy ratings table from CSV, Excel, Parquet or a DataFrame (returned as a copy).

    The one reader for ``pingyi analyze --ratings`` and a notebook alike, so that a table reads
    the same wherever it is opened: codes and keys stay text (``007`` is not the number 7), an empty
    ``value`` is a missing answer, and an empty, broken or unreadable file is a
    :class:`RatingsError` in Chinese, not a parser's traceback.

    Parameters
    ----------
    source : path or DataFrame
        ``*.csv``, ``*.xlsx``, ``*.parquet`` / ``*.pq``, or a DataFrame.

    Examples
    --------
    >>> read_ratings(pd.DataFrame({"value": [1.0]})).shape
    (1, 1)
    """
    if isinstance(source, pd.DataFrame):
        return source.copy(deep=False)  # copy-on-write: the caller's frame is never modified
    path = Path(source)
    suffix = path.suffix.lower()
    text = {"dtype": {c: str for c in CATEGORICAL_COLUMNS}, "keep_default_na": False,
            "na_values": {"value": ["", "NA", "NaN", "nan"]}}
    readers = {".csv": lambda: _read_csv(path, **text), ".xlsx": lambda: pd.read_excel(path, **text),
               ".parquet": lambda: pd.read_parquet(path), ".pq": lambda: pd.read_parquet(path)}
    if suffix not in readers:
        what = f"扩展名为“{suffix}”" if suffix else "没有扩展名"
        raise RatingsError(f"{path.name}：无法读取这种评分表（{what}），请使用 .csv、.xlsx 或 .parquet 文件")
    try:
        return readers[suffix]()
    except pd.errors.EmptyDataError:
        raise RatingsError(f"{path.name}：文件是空的（应为 pingyi export 导出的评分表）") from None
    except OSError as exc:
        raise RatingsError(f"{path.name}：无法读取（{reason(exc)}）") from None
    except UnicodeDecodeError:
        raise RatingsError(f"{path.name}：不是 UTF-8 或 GB18030 编码的文本（应为 pingyi export 导出的评分表）") from None
    except pd.errors.ParserError as exc:
        raise RatingsError(f"{path.name}：CSV 格式有误（{exc}）") from None
    except (ValueError, zipfile.BadZipFile, KeyError):  # a broken .xlsx is a bad zip, or lacks its parts
        kind = "Excel 文件（.xlsx）" if suffix == ".xlsx" else "Parquet 文件"
        raise RatingsError(f"{path.name}：不是有效的 {kind}，或文件已损坏") from None


def _read_csv(path: Path, **options) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """UTF-8 as exported; GB18030 as Excel on a Chinese Windows saves a CSV it has opened."""
    try:
        return pd.read_csv(path, **options)
    except UnicodeDecodeError:
        return pd.read_csv(path, encoding="gb18030", **options)


def load_ratings(source: str | PathLike | pd.DataFrame, spec: AnalysisSpec) -> pd.DataFrame:
    """Load a tidy ratings table and check it against ``spec``.

    Checks, each raising :class:`RatingsError` naming the rows: missing columns, unknown
    sheets, items (per sheet), subjects (when the spec has a roster), rater groups, modes and
    fill-in duration buckets;
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
    analysis.ratings.RatingsError: 测评表“v”的题目“q”有超出量表的值（共 1 行），如 11，应在 0 到 10 之间；见第 2 行（表头为第 1 行）
    """
    return load_and_check(source, spec)[0]


def load_and_check(
    source: str | PathLike | pd.DataFrame, spec: AnalysisSpec
) -> tuple[pd.DataFrame, dict]:
    """:func:`load_ratings`, also returning the value codes computed on the way (for the pipeline)."""
    frame = read_ratings(source)
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise RatingsError(f"评分表缺少列：{'、'.join(missing)}（请使用 pingyi export 导出的表）")
    if frame.empty:
        raise RatingsError("评分表里没有任何答案（只有表头）：测评活动还没有选票时，请投票之后再导出分析")
    for col, default in OPTIONAL_COLUMNS.items():
        if col not in frame.columns:
            frame[col] = default
    for col in CATEGORICAL_COLUMNS:
        frame[col] = _as_category(frame[col], OPTIONAL_COLUMNS.get(col, ""))
    for key in ("ballot_id", "sheet", "rater_group", "subject", "item"):  # a blank key would be a phantom
        categories, codes = frame[key].cat.categories, frame[key].cat.codes.to_numpy()
        empty = int(categories.get_indexer([""])[0])  # -1 when no cell is empty; -1 is also a missing code
        _bad_rows(frame, (codes == -1) | (codes == empty) if empty >= 0 else codes == -1,
                  f"评分表的“{key}”列有空格子", "：每条答案都要写明它属于哪张选票、哪个被评对象和哪道题")
    try:
        if frame["value"].dtype != np.float64:  # converting copies: only when needed
            frame["value"] = pd.to_numeric(frame["value"]).astype(float)
    except (TypeError, ValueError):
        _not_numeric(frame)

    sheets = [s.key for s in spec.sheets]
    _check_membership(frame, "sheet", set(sheets), "评分表中有定义里没有的测评表",
                      f"定义中的测评表为{quoted(sheets)}")
    _check_membership(frame, "rater_group", set(spec.group_weights), "评分表中有定义里没有的评价主体",
                      f"定义中的评价主体为{quoted(spec.group_weights)}")
    _check_membership(frame, "mode", MODES, "评分表中有无法识别的投票方式（“mode”列）",
                      f"应为{quoted(sorted(MODES))}之一")
    # a bucket spelt otherwise (“<30秒”) would silently never be a speeder
    _check_membership(frame, "duration_bucket", DURATION_BUCKETS | spec.speeder_buckets,
                      "评分表中有无法识别的填写用时（“duration_bucket”列）",
                      f"应为{quoted(sorted(DURATION_BUCKETS - {''}))}之一或留空")
    if spec.subjects is not None:
        _check_membership(frame, "subject", spec.subjects, "评分表中有名单里没有的被评对象",
                          "请核对“subject”列的编码")
    cache = _check_items(frame, spec)
    cache.update(_check_ballots(frame))
    return frame, cache


def _not_numeric(frame: pd.DataFrame) -> None:
    """Name the rows whose value is not a number (``pd.to_numeric`` refused the column)."""
    values = frame["value"]
    try:
        mask = (pd.to_numeric(values, errors="coerce").isna() & values.notna()).to_numpy()
    except (TypeError, ValueError):
        mask = np.zeros(len(values), dtype=bool)
    if mask.any():
        _bad_rows(frame, mask, "“value”列有不是数字的值", f"，如“{values[mask].iloc[0]}”")
    raise RatingsError("“value”列应为数字，但有的值不是（请使用 pingyi export 导出的表）")


def _index_dtype(size: int) -> type:
    """int32 when codes below ``size`` fit (halves memory traffic), else int64."""
    return np.int32 if size < 2**31 - 1 else np.int64


def _value_codes(values: np.ndarray, spec: AnalysisSpec) -> tuple[np.ndarray, np.ndarray]:
    """Sorted value codes (-1 = NaN) and the values they index.

    When every item lists its allowed values (a choice scale), codes come from a few comparisons
    against their sorted union; any value outside it falls back to a hash factorisation.
    """
    items = [it for sh in spec.sheets for it in sh.items]
    if items and all(it.allowed is not None for it in items):
        union = np.unique(np.concatenate([np.asarray(it.allowed, dtype=float) for it in items]))
        if len(union) <= 32:
            code = np.zeros(len(values), dtype=np.int8)
            for u in union[:-1]:
                code += values > u
            missing = np.isnan(values)
            if ((values == union[code]) | missing).all():
                code[missing] = -1
                return code, union
    vcodes, uniques = pd.factorize(values, sort=True)
    return vcodes, np.asarray(uniques, dtype=float)


def _check_membership(frame: pd.DataFrame, col: str, known: set | frozenset, message: str, hint: str) -> None:
    cats = frame[col].cat.categories
    bad_cats = [c for c in cats if c not in known]
    if bad_cats:
        bad_codes = cats.get_indexer(bad_cats)
        mask = np.isin(frame[col].array.codes, bad_codes)
        if mask.any():
            names = sorted(map(str, frame[col][mask].unique()))
            more = f" 等 {len(names)} 个" if len(names) > _SHOWN_ROWS else ""
            _bad_rows(frame, mask, f"{message}：{quoted(names[:_SHOWN_ROWS])}{more}", f"，{hint}")


def _check_items(frame: pd.DataFrame, spec: AnalysisSpec) -> dict:
    """Unknown items, off-scale values and wrong dimensions, from one (pair, dim, value) table.

    One ``bincount`` over the rows counts every (sheet × item, dimension, value) combination; the
    checks run on that small table, and rows are located only when something is wrong.
    """
    sheet_cats = frame["sheet"].cat.categories
    item_cats = frame["item"].cat.categories
    dim_cats = frame["dimension"].cat.categories
    n_items, n_pairs, n_dims = len(item_cats), len(sheet_cats) * len(item_cats), len(dim_cats)
    sc = frame["sheet"].array.codes
    ic = frame["item"].array.codes
    dc = frame["dimension"].array.codes
    vcodes, uniques = _value_codes(frame["value"].to_numpy(), spec)
    nv1 = len(uniques) + 1  # value code + 1; 0 = unanswered
    key = sc.astype(_index_dtype(n_pairs * n_dims * nv1)) * n_items + ic
    key *= n_dims
    key += dc
    key *= nv1
    key += vcodes
    key += 1
    table = np.bincount(key, minlength=n_pairs * n_dims * nv1).reshape(n_pairs, n_dims, nv1)
    del key
    pair_seen = table.sum(axis=(1, 2)) > 0
    known = np.zeros(n_pairs, dtype=bool)
    bad_value = np.zeros((n_pairs, nv1), dtype=bool)
    expected_dim = np.full(n_pairs, -1, dtype=np.int64)
    item_of_pair: dict[int, ItemSpec] = {}
    sheet_keys = {sh.key for sh in spec.sheets}
    for s_i, s_key in enumerate(sheet_cats):
        if s_key not in sheet_keys:
            continue  # an unused category (rows with unknown sheets were rejected)
        for item in spec.sheet(s_key).items:
            i_i = item_cats.get_indexer([item.key])[0]
            if i_i < 0:
                continue
            p = s_i * n_items + i_i
            known[p] = True
            item_of_pair[p] = item
            off = (uniques < item.scale_min) | (uniques > item.scale_max)
            if item.allowed is not None:
                off |= ~np.isin(uniques, np.asarray(item.allowed, dtype=float))
            bad_value[p, 1:] = off
            expected_dim[p] = dim_cats.get_indexer([item.dimension])[0]

    def pair_rows(pairs: np.ndarray) -> np.ndarray:
        return np.isin(sc.astype(np.int64) * n_items + ic, pairs)

    unknown = np.flatnonzero(pair_seen & ~known)
    if len(unknown):
        mask = pair_rows(unknown)
        first = np.flatnonzero(mask)[0]
        _bad_rows(frame, mask, "评分表中有测评表定义里没有的题目",
                  f"，如测评表“{frame['sheet'].iloc[first]}”中的“{frame['item'].iloc[first]}”")
    off_pairs = np.flatnonzero((table.sum(axis=1) * bad_value).sum(axis=1) > 0)
    if len(off_pairs):
        p = off_pairs[0]
        mask = pair_rows(np.array([p])) & bad_value[p][vcodes + 1]
        item = item_of_pair[p]
        sheet_key = str(sheet_cats[p // n_items])
        example = frame["value"].to_numpy()[mask][0]
        if item.allowed is not None:
            should = f"应为 {'、'.join(f'{v:g}' for v in item.allowed)} 之一"
        else:
            should = f"应在 {item.scale_min:g} 到 {item.scale_max:g} 之间"
        _bad_rows(frame, mask, f"测评表“{sheet_key}”的题目“{item.key}”有超出量表的值",
                  f"，如 {example:g}，{should}")
    has_dim = not (n_dims == 1 and dim_cats[0] == "")
    if has_dim:
        seen_dims = table.sum(axis=2) > 0
        wrong = seen_dims & (np.arange(n_dims)[None, :] != expected_dim[:, None])
        if wrong.any():
            pairs = np.flatnonzero(wrong.any(axis=1))
            mask = pair_rows(pairs) & (expected_dim[sc.astype(np.int64) * n_items + ic] != dc)
            first = np.flatnonzero(mask)[0]
            defined = item_of_pair[int(sc[first]) * n_items + int(ic[first])].dimension
            _bad_rows(frame, mask, "“dimension”列与定义不符",
                      f"，如测评表“{frame['sheet'].iloc[first]}”的题目“{frame['item'].iloc[first]}”"
                      f"属于维度“{defined}”，表中写的是“{frame['dimension'].iloc[first]}”")
    else:
        names = sorted({it.dimension for it in item_of_pair.values()})
        lookup = np.zeros(n_pairs, dtype=np.int64)
        for p, it in item_of_pair.items():
            lookup[p] = names.index(it.dimension)
        frame["dimension"] = pd.Categorical.from_codes(lookup[sc.astype(np.int64) * n_items + ic],
                                                       categories=names)
    return {"vcodes": vcodes, "uniques": uniques, "n_items": n_items,
            "pair": (sc.astype(np.int16 if n_pairs < 2**15 else np.int64) * n_items + ic)}


def _check_ballots(frame: pd.DataFrame) -> dict:
    """One sheet and one group per ballot; no duplicated (ballot, subject, item); the (ballot,
    subject) codes. One pass: each row's packed (sheet, group, subject) is compared with the
    ballot's first row; only differing rows are looked at further."""
    bc = frame["ballot_id"].array.codes
    nb = len(frame["ballot_id"].cat.categories)
    ng = len(frame["rater_group"].cat.categories)
    ns = len(frame["subject"].cat.categories)
    subject = frame["subject"].array.codes
    n_sheets = len(frame["sheet"].cat.categories)
    packed = frame["sheet"].array.codes.astype(_index_dtype(n_sheets * ng * ns)) * ng
    packed += frame["rater_group"].array.codes
    packed *= ns
    packed += subject
    row_dtype = _index_dtype(len(bc))
    first_row = np.zeros(nb, dtype=row_dtype)
    # fancy assignment keeps one write per ballot (in practice the last: the first row)
    first_row[bc[::-1]] = np.arange(len(bc) - 1, -1, -1, dtype=row_dtype)
    first = packed[first_row]
    differ = np.flatnonzero(packed != first[bc])
    del packed
    bs, n_bs = bc, nb
    if len(differ):
        mine, theirs = (frame["sheet"].array.codes.astype(np.int64) * ng
                        + frame["rater_group"].array.codes)[differ], first[bc[differ]] // ns
        for what, rule, part_mine, part_theirs in (
                ("有的选票出现在不止一张测评表上", "同一“ballot_id”的各行应属于同一张测评表",
                 mine // ng, theirs // ng),
                ("有的选票的评价主体前后不一", "同一“ballot_id”的各行“rater_group”应相同",
                 mine % ng, theirs % ng)):
            bad = np.zeros(len(frame), dtype=bool)
            bad[differ[part_mine != part_theirs]] = True
            if bad.any():
                ballot = frame["ballot_id"].iloc[np.flatnonzero(bad)[0]]
                _bad_rows(frame, bad, what, f"，如选票“{ballot}”（{rule}）")
        bs = bc.astype(np.int64)
        key = bs[differ] * ns + subject[differ]
        ecodes, uniques = pd.factorize(key)
        bs[differ] = nb + ecodes
        n_bs = nb + len(uniques)
    item = frame["item"].array.codes
    n_items = len(frame["item"].cat.categories)
    key = bs.astype(_index_dtype(n_bs * n_items)) * n_items + item
    counts = np.bincount(key, minlength=n_bs * n_items)
    if counts.max(initial=0) > 1:
        _bad_rows(frame, counts[key] > 1, "有重复的答案",
                  "：同一张选票（“ballot_id”）对同一被评对象（“subject”）的同一题目（“item”）只能有一行")
    return {"bs": bs, "n_bs": n_bs, "ballot_first": first, "first_row": first_row}
