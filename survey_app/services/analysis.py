"""Run the analysis package on a campaign, or on files: definitions in, AnalysisSpec out.

``analysis`` knows nothing of YAML definitions; this module translates questionnaires and a
grading scheme into its frozen spec, and maps the export's ballot sheets (one per village) onto
the questionnaires they use, which is the unit the analysis scores and checks reliability on.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import pandas as pd

from analysis.pipeline import AnalysisResult, analyze
from analysis.ratings import REQUIRED_COLUMNS
from analysis.reasons import quoted
from analysis.settings import AnalysisSpec, ItemSpec, SheetSpec
from forms.schema import Definition, Questionnaire, Scheme


class AnalysisInputError(ValueError):
    pass


def satisfaction_item(questionnaire: Questionnaire) -> str | None:
    """The item whose choices give the satisfaction rate (名义满意率): named by the definition,
    or else the last item on a scale that has the satisfied choices (the overall verdict)."""
    named = getattr(questionnaire, "satisfaction_item", "")
    if named:
        return named
    satisfied = set(questionnaire.satisfied)
    candidates = [i.key for i in questionnaire.items
                  if satisfied and satisfied <= {c.key for c in questionnaire.scale(i.scale).choices}]
    return candidates[-1] if candidates else None


def sheet_spec(questionnaire: Questionnaire) -> SheetSpec:
    items = []
    for item in questionnaire.items:
        scale = questionnaire.scale(item.scale)
        low, high = scale.bounds()
        allowed = tuple(c.value for c in scale.choices) if scale.choices else None
        items.append(ItemSpec(item.key, item.dimension, item.weight, low, high, allowed, item.required))
    return SheetSpec(questionnaire.key, tuple(items), {d.key: d.weight for d in questionnaire.dimensions},
                     satisfaction_item=satisfaction_item(questionnaire),
                     satisfied_choices=frozenset(questionnaire.satisfied))


def analysis_spec(questionnaires: Iterable[Questionnaire], scheme: Scheme | None,
                  groups_present: Iterable[str] = (), **options: object) -> AnalysisSpec:
    """Group weights come from the scheme; groups it does not declare rate with weight 0
    (reported, never combined). Without a scheme every group weighs the same."""
    present = sorted(set(groups_present))
    if scheme is not None and scheme.rater_groups:
        weights = {g.key: g.weight for g in scheme.rater_groups}
        weights.update({g: 0.0 for g in present if g not in weights})
    else:
        weights = {g: 1.0 for g in present} or {"masses": 1.0}
    # Items on different scales (满意 0–100 beside a 1–10 score) are put on one 0–100 scale first.
    options.setdefault("rescale_to", 100.0)
    return AnalysisSpec(sheets=tuple(sheet_spec(q) for q in questionnaires), group_weights=weights,
                        **options)  # type: ignore[arg-type]


def prepare_ratings(frame: pd.DataFrame, library: Mapping[str, Definition]) -> tuple[pd.DataFrame, list[Questionnaire]]:
    """Score per questionnaire: the analysis ``sheet`` column becomes the questionnaire key."""
    # checked here, before the sheet column is swapped for the questionnaire's, as analysis would
    missing = [c for c in ("questionnaire", *REQUIRED_COLUMNS) if c not in frame.columns]
    if missing:
        raise AnalysisInputError(f"评分表缺少列：{'、'.join(missing)}（请使用 pingyi export 导出的表）")
    unknown = sorted(set(frame["questionnaire"].astype(str)) - set(library))
    if unknown:
        raise AnalysisInputError("评分表中的测评表" + quoted(unknown) +
                                 "没有定义（可用 --definitions 给出它们的定义文件）")
    questionnaires = [library[k] for k in sorted(set(frame["questionnaire"].astype(str)))]
    prepared = frame.drop(columns=["sheet"]).rename(columns={"questionnaire": "sheet"})
    return prepared, [q for q in questionnaires if isinstance(q, Questionnaire)]


def run(frame: pd.DataFrame, library: Mapping[str, Definition], scheme: Scheme | None, *,
        progress: Callable[[str], None] | None = None, **options: object) -> AnalysisResult:
    prepared, questionnaires = prepare_ratings(frame, library)
    spec = analysis_spec(questionnaires, scheme, prepared["rater_group"].astype(str).unique(), **options)
    return analyze(prepared, spec, progress=progress)


def analyze_campaign(campaign: object, *, progress: Callable[[str], None] | None = None,
                     ratings: pd.DataFrame | None = None, **options: object) -> AnalysisResult:
    """``ratings``: the campaign's export when the caller already has it (grading does)."""
    from survey_app.services.campaigns import frozen_definitions
    from survey_app.services.export import ratings_frame

    library = frozen_definitions(campaign)  # type: ignore[arg-type]
    frame = ratings if ratings is not None else ratings_frame(campaign)  # type: ignore[arg-type]
    if frame.empty:
        raise AnalysisInputError("该测评活动还没有选票")
    scheme = library.get(getattr(campaign, "scheme_key", "") or "")
    return run(frame, library, scheme if isinstance(scheme, Scheme) else None, progress=progress, **options)
