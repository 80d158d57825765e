"""The full default analysis: clean → outliers → aggregate → reliability → uncertainty."""
from __future__ import annotations

import json
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from scipy import sparse

from . import clean, outliers, uncertainty
from .aggregate import ballot_subject_scores
from .codes import CodedRatings
from .groupwise import (
    HISTOGRAM_MAX_VALUES, chunked_bincount, dense_codes, group_count, group_sum, group_var,
)
from .leniency import fit_additive
from .outputs import replace_outputs
from .ratings import RatingsError, load_and_check
from .reliability import ICC_NAMES, alphas_from_counts, icc_from_matrix, icc_oneway_unbalanced
from .settings import ALPHA_LEVELS, AnalysisSpec

COMBINED = "combined"
#: Every file :meth:`AnalysisResult.write` may write: what this run does not write is removed.
OUTPUT_FILES = ("results.csv", "results.json", "flags.csv", "flag_counts.csv", "reliability.csv", "outliers.csv",
                "leniency.csv")
#: Krippendorff's alpha is skipped (NaN) above this many distinct answer values.
ALPHA_MAX_VALUES = 512
COUNT_COLUMNS: frozenset[str] = frozenset(
    {"n_raters", "n_trimmed", "n_satisfied", "n_respondents", "n_nonrespondents"})
RESULT_COLUMNS: tuple[str, ...] = (
    "subject", "rater_group", "row_type", "ranking_pool", "score", "se", "ci_low", "ci_high",
    "n_raters", "n_trimmed", "satisfaction_rate", "satisfaction_low", "satisfaction_high",
    "n_satisfied", "n_respondents", "n_nonrespondents", "rank", "rank_low", "rank_high",
    "next_subject", "tied_with_next", "withheld", "note",
)


@dataclass(frozen=True)
class AnalysisResult:
    """Frames produced by :func:`analyze` (README.md, section "Analysis", documents every column)."""

    results: pd.DataFrame
    flags: pd.DataFrame
    flag_counts: pd.DataFrame
    reliability: pd.DataFrame
    outliers: pd.DataFrame
    leniency: pd.DataFrame | None = None

    def write(self, directory: str | PathLike) -> list[Path]:
        """Write results.csv, results.json, flags.csv, flag_counts.csv, reliability.csv, outliers.csv.

        Examples
        --------
        >>> import tempfile
        >>> empty = pd.DataFrame()
        >>> with tempfile.TemporaryDirectory() as d:
        ...     [p.name for p in AnalysisResult(empty, empty, empty, empty, empty).write(d)][:2]
        ['results.csv', 'results.json']
        """
        def table(frame: pd.DataFrame) -> Callable[[Path], None]:
            return lambda path: frame.to_csv(path, index=False)

        def as_json(frame: pd.DataFrame) -> Callable[[Path], None]:
            records = json.loads(frame.to_json(orient="records", force_ascii=False))
            return lambda path: path.write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")

        files = []
        for name, frame in (("results", self.results), ("flags", self.flags),
                            ("flag_counts", self.flag_counts), ("reliability", self.reliability),
                            ("outliers", self.outliers), ("leniency", self.leniency)):
            if frame is None:
                continue
            files.append((f"{name}.csv", table(frame)))
            if name == "results":
                files.append(("results.json", as_json(frame)))
        return replace_outputs(directory, files, family=OUTPUT_FILES)


def analyze(
    ratings: pd.DataFrame | str | PathLike, spec: AnalysisSpec, *,
    progress: Callable[[str], None] | None = None,
) -> AnalysisResult:
    """Run the default analysis on a tidy ratings table.

    Steps: validate (:func:`analysis.ratings.load_ratings`); cleaning flags; drop ballots the
    scheme excludes; robust z per subject and item; ballot × subject scores (item → dimension →
    subject with weights); rater disagreement; olympic trim per subject and rater group;
    group scores and satisfaction rates; anonymity merging; combination across groups;
    intervals, ranks and ties; reliability per sheet; optional leniency correction.

    Parameters
    ----------
    ratings : DataFrame or path
        The tidy table.
    spec : AnalysisSpec
        The campaign's definitions and the scheme's choices.
    progress : callable, optional
        Called with the name of each step as it starts.

    Returns
    -------
    AnalysisResult

    Examples
    --------
    >>> from analysis.settings import AnalysisSpec, ItemSpec, SheetSpec
    >>> sheet = SheetSpec("v", (ItemSpec("overall", "all", allowed=(0, 60, 100)),),
    ...                   satisfaction_item="overall")
    >>> spec = AnalysisSpec(sheets=(sheet,), group_weights={"masses": 1.0})
    >>> choices = {100.0: "satisfied", 60.0: "basically", 0.0: "dissatisfied"}
    >>> vals = [100.0, 60.0, 100.0, 0.0, 100.0]
    >>> t = pd.DataFrame({"ballot_id": [f"b{i}" for i in range(5)], "sheet": "v",
    ...                   "rater_group": "masses", "subject": "village_1", "item": "overall",
    ...                   "value": vals, "choice": [choices[v] for v in vals]})
    >>> res = analyze(t, spec).results
    >>> res.loc[res.row_type == "combined", ["score", "n_raters", "satisfaction_rate"]].to_dict("records")
    [{'score': 72.0, 'n_raters': 5, 'satisfaction_rate': 0.8}]
    """
    step = progress or (lambda name: None)
    step("validate")
    frame, cache = load_and_check(ratings, spec)
    coded = CodedRatings.from_frame(frame, spec, cache)
    del cache
    ng, ns = coded.n_groups, coded.n_subjects
    group_names = [str(g) for g in coded.groups]
    weight = np.array([spec.group_weights[g] for g in group_names])

    step("flags")
    flags = clean.flag_arrays(coded, spec)
    excluded = np.zeros(coded.n_ballots, dtype=bool)
    for name, mask in flags.items():
        if name in spec.excluding_flags:
            excluded |= mask
    use = coded.answered & ~excluded[coded.ballot]
    outlier_parts: list[pd.DataFrame] = []

    step("robust_z")
    # z is invariant to the linear rescaling of an item, so the raw values' codes serve
    hit, zhit, value_hist = _robust_z_hits(coded, use, spec.robust_z_threshold)
    if spec.robust_z_removes:
        use[hit] = False
        value_hist = None
    outlier_parts.append(pd.DataFrame({
        "rule": "robust_z", "ballot": coded.ballot[hit], "subject": coded.subject[hit],
        "group": coded.ballot_group[coded.ballot[hit]], "item": coded.item[hit],
        "value": coded.uniques[coded.vcode[hit]],  # the answer as given, not its rescaled value
        "statistic": zhit,
        "action": "removed from scores" if spec.robust_z_removes else "reported",
    }))

    step("scores")
    bs_score = ballot_subject_scores(coded, use)
    valid = ~np.isnan(bs_score) & ~excluded[coded.bs_ballot]

    step("rater_disagreement")
    vb = np.flatnonzero(valid)
    dcell, n_dcell = dense_codes(coded.bs_subject[vb], coded.bs_sheet[vb])
    r, n_r = outliers.consensus_correlation(coded.bs_ballot[vb], dcell, bs_score[vb],
                                            coded.n_ballots, n_dcell)
    disagree = (n_r >= spec.disagreement_min_subjects) & (r < spec.disagreement_max_corr)
    flags["rater_disagreement"] = disagree
    dis_excl = "rater_disagreement" in spec.excluding_flags
    if dis_excl and disagree.any():
        value_hist = None
    if dis_excl:
        excluded |= disagree
        valid &= ~disagree[coded.bs_ballot]
    dis_b = np.flatnonzero(disagree)
    outlier_parts.append(pd.DataFrame({
        "rule": "rater_disagreement", "ballot": dis_b, "subject": -1,
        "group": coded.ballot_group[dis_b], "item": -1,
        "value": np.nan, "statistic": r[dis_b], "action": "ballot excluded" if dis_excl else "flagged",
    }))

    step("trim")
    cell = coded.bs_subject * ng + coded.bs_group
    n_cells = ns * ng
    keep = valid.copy()
    low = high = np.zeros(coded.n_bs, dtype=bool)
    if spec.trim:
        vb = np.flatnonzero(valid)
        lo_, hi_ = outliers.trim_extremes(cell[vb], bs_score[vb], coded.bs_ballot[vb], n_cells,
                                          spec.trim_min_raters)
        low = np.zeros(coded.n_bs, dtype=bool)
        high = np.zeros(coded.n_bs, dtype=bool)
        low[vb[lo_]], high[vb[hi_]] = True, True
        keep &= ~(low | high)
    for mask, action in ((low, "dropped lowest"), (high, "dropped highest")):
        idx = np.flatnonzero(mask)
        outlier_parts.append(pd.DataFrame({
            "rule": "olympic_trim", "ballot": coded.bs_ballot[idx], "subject": coded.bs_subject[idx],
            "group": coded.bs_group[idx], "item": -1, "value": bs_score[idx],
            "statistic": np.nan, "action": action,
        }))

    step("aggregate")
    kb = np.flatnonzero(keep)
    n_raters = group_count(cell[valid], n_cells)
    n_used = group_count(cell[kb], n_cells)
    with np.errstate(invalid="ignore", divide="ignore"):
        c_score = group_sum(cell[kb], bs_score[kb], n_cells) / n_used
        c_var = group_var(cell[kb], bs_score[kb], n_cells) / n_used
    sat = _satisfaction(coded, spec, excluded, cell, n_cells)
    present = (n_raters > 0) | (sat["present"] > 0)
    # which cells anonymity hides is settled on the raters' counts alone, before any model sees them
    units = _units(coded, spec, weight, present, n_raters, sat)
    withheld_cell = np.zeros(n_cells, dtype=bool)
    withheld_cell[units["cells"][units["withheld"]]] = True
    withheld_cell[units["cells"][units["subject_withheld"][units["cells"] // ng]]] = True
    c_corrected = None
    leniency_frame = None
    if spec.leniency:
        step("leniency")
        # raters of a single subject carry no information on leniency (their effect would
        # absorb their whole opinion): fit on raters of two or more subjects, correct only those.
        # A ballot of a hidden cell is left out of the fit: the effects sum to zero and the shown
        # groups' corrections are published, so a fitted hidden effect could be worked back out.
        vb = np.flatnonzero(valid)
        n_rated = group_count(coded.bs_ballot[vb], coded.n_ballots)
        hidden_ballot = _ballot_hidden(coded, withheld_cell)
        vb = vb[(n_rated >= 2)[coded.bs_ballot[vb]] & ~hidden_ballot[coded.bs_ballot[vb]]]
        _, b = fit_additive(coded.bs_subject[vb], coded.bs_ballot[vb], bs_score[vb], ns, coded.n_ballots)
        corrected = bs_score - np.nan_to_num(b[coded.bs_ballot])
        with np.errstate(invalid="ignore", divide="ignore"):
            c_corrected = group_sum(cell[kb], corrected[kb], n_cells) / n_used
        listed = ~np.isnan(b) | (hidden_ballot & (n_rated >= 2))
        leniency_frame = pd.DataFrame({
            "ballot_id": np.asarray(coded.ballot_ids[listed], dtype=object),
            "rater_group": np.where(hidden_ballot[listed], "",
                                    np.asarray(group_names, dtype=object)[coded.ballot_group[listed]]),
            "effect": b[listed], "n_subjects": n_rated[listed], "withheld": hidden_ballot[listed],
        })

    reps = None
    if spec.bootstrap_replicates > 0:
        step("bootstrap")
        reps = uncertainty.bootstrap_cell_means(cell[kb], bs_score[kb], n_cells,
                                                spec.bootstrap_replicates, spec.seed)

    step("anonymity")
    results = _unit_results(coded, spec, units, weight, c_score, c_var, n_used, n_raters, low | high,
                            cell, sat, reps, c_corrected)
    step("ranks")
    results = _rank(results, spec, units.get("reps"))

    step("reliability")
    reliability = _reliability(coded, spec, use & ~excluded[coded.ballot], bs_score, valid, value_hist)
    return AnalysisResult(
        results=results[[c for c in RESULT_COLUMNS + ("score_corrected",) if c in results.columns]],
        flags=_flag_frame(coded, spec, flags, excluded, group_names, _ballot_hidden(coded, withheld_cell)),
        flag_counts=_flag_counts(coded, flags, excluded, withheld_cell),
        reliability=reliability,
        outliers=_outlier_frame(coded, outlier_parts, withheld_cell, group_names),
        leniency=leniency_frame,
    )


def _robust_z_hits(coded: CodedRatings, use: np.ndarray, threshold: float):
    """Rows in ``use`` whose robust z within their (subject, item) cell exceeds ``threshold``.

    Returns ``(rows, z, hist)`` where ``hist`` is the (subject × item) × value count table (None
    on the sort path), reusable for Krippendorff's alpha.
    """
    nv = len(coded.uniques)
    if 0 < nv <= HISTOGRAM_MAX_VALUES:
        key = coded.unit_value_key(slice(None), use)
        hist = np.bincount(key, minlength=coded.n_units * nv + 1)[:-1].reshape(coded.n_units, nv)
        z = outliers.robust_z_table(hist, coded.uniques).ravel()
        with np.errstate(invalid="ignore"):
            out = np.r_[np.abs(z) > threshold, False]
        hit = np.flatnonzero(out[key])
        return hit, z[key[hit]], hist
    rows = np.flatnonzero(use)
    unit, n_unit = dense_codes(coded.unit()[rows])
    z = outliers.robust_z_by_group(unit, coded.value[rows], n_unit)
    with np.errstate(invalid="ignore"):
        sel = np.abs(z) > threshold
    return rows[sel], z[sel], None


def _satisfaction(coded: CodedRatings, spec: AnalysisSpec, excluded: np.ndarray, cell: np.ndarray,
                  n_cells: int) -> dict[str, np.ndarray]:
    """Respondents, satisfied and non-respondents per (subject, group) cell."""
    frame = coded.frame
    choice_cats = frame["choice"].cat.categories
    sat_pair = np.full(len(coded.sheets), -1, dtype=np.int64)
    satisfied = np.zeros((len(coded.sheets), len(choice_cats)), dtype=bool)
    for s_i, s_key in enumerate(coded.sheets):
        sh = spec.sheet(s_key)
        if sh.satisfaction_item is None or sh.satisfaction_item not in coded.items:
            continue
        sat_pair[s_i] = s_i * len(coded.items) + coded.items.get_loc(sh.satisfaction_item)
        satisfied[s_i] = choice_cats.isin(list(sh.satisfied_choices))
    bs_ok = ~excluded[coded.bs_ballot] & (sat_pair[coded.bs_sheet] >= 0)
    rows = np.flatnonzero((coded.pair == sat_pair[coded.sheet]) & coded.answered
                          & ~excluded[coded.ballot])
    choice = frame["choice"].array.codes[rows]
    blank = choice_cats.get_indexer([""])[0]
    if blank >= 0 and (choice == blank).any():
        at = rows[choice == blank]
        bad = frame.index[at]
        raise RatingsError(f"满意度题目（如测评表“{frame['sheet'].iloc[at[0]]}”的“{frame['item'].iloc[at[0]]}”）"
                           f"已作答，但“choice”列是空的（共 {len(bad)} 行）：计算满意率要用所选的选项，"
                           "请使用 pingyi export 导出的表", list(bad[:11]), frame.index)
    yes = satisfied[coded.sheet[rows], choice]
    resp_cell = cell[coded.bs[rows]]
    n_resp = group_count(resp_cell, n_cells)
    n_present = group_count(cell[bs_ok], n_cells)
    return {"present": group_count(cell[~excluded[coded.bs_ballot]], n_cells),
            "has_rate": group_count(cell[bs_ok], n_cells) > 0,
            "respondents": n_resp, "satisfied": group_count(resp_cell[yes], n_cells),
            "nonrespondents": n_present - n_resp}


def _units(coded: CodedRatings, spec: AnalysisSpec, weight: np.ndarray, present: np.ndarray,
           n_raters: np.ndarray, sat: dict) -> dict:
    """Decide which (subject, group) cells are shown, merged or withheld for anonymity.

    A positive-weight group with fewer raters (or rate respondents) than the threshold is
    merged with the next smallest groups of the same subject until the merged unit reaches the
    threshold and no small group is left alone; the merged groups are withheld individually, so
    subtracting the shown groups from the combined score reveals only the merged unit. A small
    group of weight 0 is simply withheld (it does not enter the combined score). When everything
    must be merged the combined row is the merged unit; with fewer raters than the threshold in
    all, the subject's rows are withheld entirely.
    """
    ng, ns = coded.n_groups, coded.n_subjects
    T = spec.anonymity_threshold
    names = np.asarray([str(g) for g in coded.groups], dtype=object)
    cells = np.flatnonzero(present)
    grp = cells % ng
    small = (n_raters[cells] < T) | (sat["has_rate"][cells] & (sat["respondents"][cells] < T))
    pos = weight[grp] > 0
    withheld = small & ~pos
    notes = np.where(withheld, f"withheld: fewer than {T} raters (group weight 0, not combined)", "")
    notes = notes.astype(object)
    # positive-weight cells sorted by subject, then size: merge the smallest prefix
    ip = np.flatnonzero(pos)
    order = ip[np.lexsort((grp[ip], n_raters[cells[ip]], cells[ip] // ng))]
    ps, pn, psm = cells[order] // ng, n_raters[cells[order]], small[order]
    big = np.iinfo(np.int64).max
    start = np.r_[True, ps[1:] != ps[:-1]] if len(ps) else np.zeros(0, bool)
    gid = np.cumsum(start) - 1
    first = np.flatnonzero(start)
    r = np.arange(len(ps)) - first[gid]
    m = np.bincount(gid) if len(gid) else np.zeros(0, np.int64)
    cum = np.cumsum(pn) - np.r_[0, np.cumsum(pn)][first][gid]
    # a merged unit must reach the threshold in rate respondents too (where its groups have a
    # rate), or its rate, and the combined rate less the shown groups', is the small group's own
    pr = np.where(sat["has_rate"][cells[order]], sat["respondents"][cells[order]], 0)
    cum_r = np.cumsum(pr) - np.r_[0, np.cumsum(pr)][first][gid]
    last_small = np.full(len(m), -1)
    np.maximum.at(last_small, gid[psm], r[psm])
    first_reach = np.full(len(m), big)
    np.minimum.at(first_reach, gid, np.where((cum >= T) & ((cum_r == 0) | (cum_r >= T)), r, big))
    j = np.maximum(last_small, np.minimum(first_reach, m - 1))
    j = np.maximum(j, np.minimum(1, m - 1))
    has_small = last_small >= 0
    merged_pos = has_small[gid] & (r <= j[gid])
    all_merged = has_small & (j == m - 1)
    total = np.bincount(gid, weights=pn, minlength=len(m))
    subject_withheld = np.zeros(ns, dtype=bool)
    subject_withheld[ps[first][all_merged & (total < T)]] = True
    mc = order[merged_pos]                        # indices into ``cells`` of merged cells
    m_gid = gid[merged_pos]
    # labels "a+b" of merged units (a loop over merged units only, which are rare)
    gids, starts = np.unique(m_gid, return_index=True)
    parts = np.split(names[grp[mc]], starts[1:]) if len(mc) else []
    label = pd.Series(["+".join(map(str, part)) for part in parts], index=gids, dtype=object)
    m_label = label.reindex(m_gid).to_numpy(dtype=object)
    withheld[mc] = True
    in_all = subject_withheld[cells[mc] // ng]
    notes[mc] = np.where(in_all, f"withheld: fewer than {T} raters in all",
                         f"withheld: fewer than {T} raters; merged into " + m_label.astype(str))
    combined_note = np.full(ns, "", dtype=object)
    all_subj = ps[first][all_merged]
    combined_note[all_subj] = ("groups " + label.reindex(np.flatnonzero(all_merged)).to_numpy(dtype=str)
                               + f" merged: each alone below {T} raters")
    combined_note[subject_withheld] = f"withheld: fewer than {T} raters in all"
    # merged units are reported unless they are the whole subject (then the combined row is it)
    keep_unit = ~all_merged[m_gid]
    unit_ids, unit_of = np.unique(m_gid[keep_unit], return_inverse=True)
    return {
        "cells": cells, "withheld": withheld, "notes": notes,
        "merged_cells": cells[mc[keep_unit]], "merged_unit": unit_of.ravel(),
        "merged_subject": ps[first][unit_ids], "merged_label": label.reindex(unit_ids).to_numpy(dtype=object),
        "combined_note": combined_note, "subject_withheld": subject_withheld,
    }


def _unit_results(coded, spec, units, weight, c_score, c_var, n_used, n_raters, trimmed, cell, sat,
                  reps, c_corrected) -> pd.DataFrame:
    """Scores, intervals and counts for every reporting unit: group, merged and combined rows."""
    ng = coded.n_groups
    names = np.asarray([str(g) for g in coded.groups], dtype=object)
    cells = units["cells"]
    n_g, n_m = len(cells), len(units["merged_subject"])
    subjects = np.unique(cells // ng)
    pos = weight[cells % ng] > 0
    comb_row = n_g + n_m + np.searchsorted(subjects, cells[pos] // ng)
    rows = np.r_[np.arange(n_g), n_g + units["merged_unit"], comb_row].astype(np.int64)
    cols = np.r_[cells, units["merged_cells"], cells[pos]].astype(np.int64)
    n_units = n_g + n_m + len(subjects)
    u_subj = np.r_[cells // ng, units["merged_subject"], subjects].astype(np.int64)
    u_label = np.r_[names[cells % ng], units["merged_label"], np.full(len(subjects), COMBINED, object)]
    u_type = np.r_[np.full(n_g, "group", object), np.full(n_m, "merged", object),
                   np.full(len(subjects), COMBINED, object)]
    n_cells = len(c_score)
    # group rows weigh their one cell 1; merged and combined rows use the scheme's group weights
    finite = np.isfinite(c_score[cols])
    w = np.where(rows < n_g, 1.0, weight[cols % ng]) * finite
    wsum = np.bincount(rows, weights=w, minlength=n_units)
    with np.errstate(invalid="ignore", divide="ignore"):
        wn = w / wsum[rows]
    keep = w > 0
    M = sparse.csr_matrix((wn[keep], (rows[keep], cols[keep])), shape=(n_units, n_cells))
    M2 = sparse.csr_matrix((wn[keep] ** 2, (rows[keep], cols[keep])), shape=(n_units, n_cells))
    score = M @ np.nan_to_num(c_score)
    score[wsum == 0] = np.nan
    var = M2 @ np.where(np.isfinite(c_score), c_var, 0.0)
    nan_var = (M @ (np.isfinite(c_score) & ~np.isfinite(c_var)).astype(float)) > 0
    se = np.sqrt(var)
    se[nan_var | (wsum == 0)] = np.nan
    # counts pool every member cell (the combined row: positive-weight groups only)
    count_m = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_units, n_cells))
    n_r = count_m @ n_raters.astype(float)
    n_resp = count_m @ sat["respondents"].astype(float)
    n_sat = count_m @ sat["satisfied"].astype(float)
    n_non = count_m @ sat["nonrespondents"].astype(float)
    has_rate = (count_m @ sat["has_rate"].astype(float)) > 0
    n_trim = count_m @ group_count(cell[trimmed], n_cells).astype(float)
    n_u = count_m @ n_used.astype(float)
    R = None
    if reps is not None:
        R = M @ np.nan_to_num(reps)
        R[wsum == 0] = np.nan
        with np.errstate(invalid="ignore"):
            ci_low = np.percentile(R, 100 * (1 - spec.confidence) / 2, axis=1)
            ci_high = np.percentile(R, 100 * (1 + spec.confidence) / 2, axis=1)
            se = np.std(R, axis=1, ddof=1)
    else:
        t_lo, t_hi = uncertainty.t_interval(score, se, n_u, spec.confidence)
        z_lo, z_hi = uncertainty.normal_interval(score, se, spec.confidence)
        single = u_type == "group"
        ci_low, ci_high = np.where(single, t_lo, z_lo), np.where(single, t_hi, z_hi)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(has_rate & (n_resp > 0), n_sat / n_resp, np.nan)
    s_lo, s_hi = uncertainty.wilson_interval(n_sat, n_resp, spec.confidence)
    out = pd.DataFrame({
        "subject": np.asarray(coded.subjects.astype(str), dtype=object)[u_subj],
        "rater_group": u_label, "row_type": u_type, "score": score, "se": se,
        "ci_low": ci_low, "ci_high": ci_high, "n_raters": n_r, "n_trimmed": n_trim,
        "satisfaction_rate": rate,
        "satisfaction_low": np.where(has_rate, s_lo, np.nan),
        "satisfaction_high": np.where(has_rate, s_hi, np.nan),
        "n_satisfied": np.where(has_rate, n_sat, np.nan), "n_respondents": np.where(has_rate, n_resp, np.nan),
        "n_nonrespondents": np.where(has_rate, n_non, np.nan),
    })
    if c_corrected is not None:
        out["score_corrected"] = np.where(wsum == 0, np.nan, M @ np.nan_to_num(c_corrected))
    # ranking pool: the set of sheets the subject is rated on
    subj_sheet = np.zeros((coded.n_subjects, len(coded.sheets)), dtype=bool)
    subj_sheet[coded.bs_subject, coded.bs_sheet] = True
    sheet_names = [str(x) for x in coded.sheets]
    pools, pool_code = np.unique(subj_sheet, axis=0, return_inverse=True)
    pool_names = np.array(["+".join(n for n, on in zip(sheet_names, row) if on) for row in pools],
                          dtype=object)
    out.insert(3, "ranking_pool", pool_names[np.asarray(pool_code).ravel()[u_subj]])
    # anonymity notes
    withheld = np.r_[units["withheld"], np.zeros(n_m, bool), units["subject_withheld"][subjects]]
    notes = np.r_[units["notes"], np.full(n_m, f"merged: each group alone below "
                                                f"{spec.anonymity_threshold} raters", object),
                  units["combined_note"][subjects]]
    open_subject = np.zeros(coded.n_subjects, dtype=bool)
    open_subject[_open_mode_subjects(coded)] = True
    flag = open_subject[u_subj]
    notes[flag] = np.where(notes[flag] == "", "open-mode ballots included",
                           notes[flag] + "; open-mode ballots included")
    out["withheld"] = withheld
    out["note"] = notes
    hide = [c for c in out.columns if c not in ("subject", "rater_group", "row_type", "ranking_pool",
                                                 "withheld", "note")]
    for col in hide:
        values = np.array(out[col].to_numpy(dtype=float, na_value=np.nan), copy=True)
        values[withheld] = np.nan
        out[col] = pd.array(values, dtype="Int64") if col in COUNT_COLUMNS else values
    units["reps"] = None if R is None else np.where(withheld[:, None], np.nan, R)
    return out


def _open_mode_subjects(coded: CodedRatings) -> np.ndarray:
    cats = coded.frame["mode"].cat.categories
    if "open" not in cats:
        return np.zeros(0, dtype=np.int64)
    ballot_mode = coded.per_ballot("mode")
    return np.unique(coded.bs_subject[ballot_mode[coded.bs_ballot] == cats.get_loc("open")])


def _rank(out: pd.DataFrame, spec: AnalysisSpec, reps: np.ndarray | None) -> pd.DataFrame:
    """Ranks, rank intervals and ties with the next-ranked subject within (pool, group) rankings."""
    n = len(out)
    rank, r_lo, r_hi = (np.full(n, np.nan) for _ in range(3))
    tied = np.full(n, np.nan)
    next_subject = np.full(n, None, dtype=object)
    score, se = out["score"].to_numpy(), out["se"].to_numpy()
    rankable = (out["row_type"].to_numpy() != "merged") & ~np.isnan(score)
    keys = out["ranking_pool"].astype(str) + "\x00" + out["rater_group"].astype(str)
    for _, idx in pd.Series(np.arange(n))[rankable].groupby(keys[rankable].to_numpy()):
        idx = idx.to_numpy()
        order = idx[np.argsort(-score[idx], kind="stable")]
        if reps is None:
            rk, lo, hi = uncertainty.rank_intervals(score[idx], out["ci_low"].to_numpy()[idx],
                                                    out["ci_high"].to_numpy()[idx])
            d = score[order[:-1]] - score[order[1:]]
            sd = np.sqrt(se[order[:-1]] ** 2 + se[order[1:]] ** 2)
            dist = uncertainty.distinguishable(d, sd, spec.confidence)
        else:
            R = reps[idx]
            rk = uncertainty.rank_intervals(score[idx], score[idx], score[idx])[0]
            rep_rank = (-R).argsort(axis=0).argsort(axis=0) + 1.0
            lo = np.floor(np.percentile(rep_rank, 100 * (1 - spec.confidence) / 2, axis=1))
            hi = np.ceil(np.percentile(rep_rank, 100 * (1 + spec.confidence) / 2, axis=1))
            lo, hi = np.minimum(lo, rk), np.maximum(hi, rk)
            diff = reps[order[:-1]] - reps[order[1:]]
            q = np.percentile(diff, 100 * (1 - spec.confidence) / 2, axis=1)
            dist = (q > 0).astype(float)
        rank[idx], r_lo[idx], r_hi[idx] = rk, lo, hi
        tied[order[:-1]] = 1.0 - dist
        next_subject[order[:-1]] = out["subject"].to_numpy()[order[1:]]
    out["rank"], out["rank_low"], out["rank_high"] = rank, r_lo, r_hi
    out["next_subject"] = next_subject
    out["tied_with_next"] = pd.array(np.where(np.isnan(tied), None, tied == 1.0), dtype="boolean")
    return out


def _reliability(coded: CodedRatings, spec: AnalysisSpec, use: np.ndarray, bs_score: np.ndarray,
                 valid: np.ndarray, value_hist: np.ndarray | None = None) -> pd.DataFrame:
    records = []
    # one units × values table for every sheet: units are (subject, item) cells
    counts = unit_sheet = None
    if len(coded.uniques) <= ALPHA_MAX_VALUES:
        nv = max(len(coded.uniques), 1)
        counts = value_hist if value_hist is not None else chunked_bincount(
            len(use), coded.n_units * nv, lambda sl: coded.unit_value_key(sl, use)).reshape(coded.n_units, nv)
        unit_sheet = (np.arange(coded.n_units) % coded.n_pairs) // len(coded.items)
    for s_i, s_key in enumerate(coded.sheets):
        vb = np.flatnonzero(valid & (coded.bs_sheet == s_i))
        subj, ball = coded.bs_subject[vb], coded.bs_ballot[vb]
        s_codes, n_s = dense_codes(subj) if len(vb) else (subj, 0)
        b_codes, n_b = dense_codes(ball) if len(vb) else (ball, 0)
        per_ballot = group_count(b_codes, n_b)
        complete = np.flatnonzero(per_ballot == n_s)
        if n_s >= 2 and len(complete) >= 2:
            sel = np.isin(b_codes, complete)
            col = np.searchsorted(complete, b_codes[sel])
            y = np.full((n_s, len(complete)), np.nan)
            y[s_codes[sel], col] = bs_score[vb][sel]
            table = icc_from_matrix(y, confidence=spec.confidence)
            design = f"two-way, {len(complete)} raters rating all {n_s} subjects"
        else:
            table = icc_oneway_unbalanced(s_codes, bs_score[vb], n_s, confidence=spec.confidence)
            design = "one-way unbalanced (ICC2/ICC3 not identifiable)"
        for name in ICC_NAMES:
            records.append((str(s_key), name, table.loc[name, "icc"], table.loc[name, "ci_low"],
                            table.loc[name, "ci_high"], design, n_s, n_b))
        uniq = coded.uniques
        if counts is None:
            alphas = {level: np.nan for level in ALPHA_LEVELS}
            design = f"not computed: more than {ALPHA_MAX_VALUES} distinct values"
        else:
            levels = ALPHA_LEVELS if not (len(uniq) and uniq.min() < 0) else ALPHA_LEVELS[:3]
            alphas = alphas_from_counts(counts[unit_sheet == s_i], uniq, levels)
            design = "units = subject × item, raters = ballots"
        for level in ALPHA_LEVELS:
            records.append((str(s_key), f"alpha_{level}", alphas.get(level, np.nan), np.nan, np.nan,
                            design, n_s, n_b))
    return pd.DataFrame.from_records(records, columns=["sheet", "coefficient", "value", "ci_low",
                                                       "ci_high", "design", "n_subjects", "n_raters"])


def _flag_frame(coded, spec, flags, excluded, group_names, hidden) -> pd.DataFrame:
    """One row per raised flag; a ballot of a withheld cell loses its group, as in the outliers."""
    names = list(flags)
    idx_parts = [np.flatnonzero(flags[name]) for name in names]
    idx = np.concatenate(idx_parts) if idx_parts else np.zeros(0, dtype=np.int64)
    flag = np.repeat(np.array(names, dtype=object), [len(p) for p in idx_parts])
    modes = coded.frame["mode"].cat.categories
    return pd.DataFrame({
        "ballot_id": np.asarray(coded.ballot_ids.take(idx), dtype=object),
        "sheet": np.asarray(coded.sheets.astype(str), dtype=object)[coded.ballot_sheet[idx]],
        "rater_group": np.where(hidden[idx], "", np.asarray(group_names, dtype=object)[coded.ballot_group[idx]]),
        "mode": np.asarray(modes.astype(str), dtype=object)[coded.per_ballot("mode")[idx]],
        "flag": flag,
        "excluding": np.isin(flag, list(spec.excluding_flags)),
        "excluded": excluded[idx],
    })


def _flag_counts(coded, flags, excluded, withheld_cell) -> pd.DataFrame:
    """Per subject, the ballots of its shown cells only: counting a withheld group's ballots too,
    the count less the shown raters would be that group's size."""
    ns = coded.n_subjects
    shown = ~withheld_cell[coded.bs_subject * coded.n_groups + coded.bs_group]
    subject, ballot = coded.bs_subject[shown], coded.bs_ballot[shown]
    out = pd.DataFrame({"subject": np.asarray(coded.subjects.astype(str), dtype=object),
                        "n_ballots": group_count(subject, ns)})
    for name, mask in flags.items():
        out[name] = group_count(subject[mask[ballot]], ns)
    out["n_excluded"] = group_count(subject[excluded[ballot]], ns)
    return out


def _ballot_hidden(coded: CodedRatings, withheld_cell: np.ndarray) -> np.ndarray:
    """Ballots with any (subject, group) cell withheld: their ballot-level statistics are hidden."""
    hidden = np.zeros(coded.n_ballots, dtype=bool)
    cell_bs = coded.bs_subject * coded.n_groups + coded.bs_group
    hidden[coded.bs_ballot[withheld_cell[cell_bs]]] = True
    return hidden


def _outlier_frame(coded, parts, withheld_cell, group_names) -> pd.DataFrame:
    d = pd.concat([p for p in parts], ignore_index=True)
    ng = coded.n_groups
    subj = d["subject"].to_numpy(dtype=np.int64)
    grp = d["group"].to_numpy(dtype=np.int64)
    item = d["item"].to_numpy(dtype=np.int64)
    hidden = np.where(subj >= 0, withheld_cell[np.maximum(subj, 0) * ng + grp], False)
    hidden |= (subj < 0) & _ballot_hidden(coded, withheld_cell)[d["ballot"].to_numpy(dtype=np.int64)]
    names = np.asarray(coded.items.astype(str), dtype=object)
    out = pd.DataFrame({
        "rule": d["rule"].to_numpy(),
        "ballot_id": np.asarray(coded.ballot_ids.take(d["ballot"].to_numpy(dtype=np.int64)), dtype=object),
        "subject": np.where(subj >= 0, np.asarray(coded.subjects.astype(str), dtype=object)[np.maximum(subj, 0)], ""),
        "rater_group": np.where(hidden, "", np.asarray(group_names, dtype=object)[grp]),
        "item": np.where(item >= 0, names[np.maximum(item, 0)], ""),
        "value": np.where(hidden, np.nan, d["value"].to_numpy(dtype=float)),
        "statistic": np.where(hidden, np.nan, d["statistic"].to_numpy(dtype=float)),
        "action": d["action"].to_numpy(),
        "withheld": hidden,
    })
    return out
