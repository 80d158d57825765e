"""From analysis results, checklist scores, veto marks and last year's grades to grades and a ledger.

This is where the campaign's pieces meet the grading engine: each scheme component is looked up
in the analysis results or summed from the checklist, vote shares are counted from the ballots,
and the engine's grades, reasons and rectification lines are returned (and, for a campaign, stored).
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlalchemy import delete, select

from analysis.grading import GradeResult, grade, rectification_lines
from forms.schema import Checklist, Definition, Questionnaire, Scheme
from survey_app.specs import grading_spec


class GradingInputError(ValueError):
    pass


@dataclass
class GradingOutcome:
    result: GradeResult
    ledger: pd.DataFrame
    components: pd.DataFrame
    skipped: dict[str, list[str]]  # subjects not graded, with the components they lack


def components_frame(scheme: Scheme, library: Mapping[str, Definition], results: pd.DataFrame,
                     checklist_scores: pd.DataFrame | None, subjects: pd.DataFrame) -> pd.DataFrame:
    """One row per subject with each component's raw value; ``subjects`` gives subject, name, parent."""
    frame = subjects[["subject", "name", "parent"]].drop_duplicates("subject").set_index("subject")
    combined = results[results["row_type"] == "combined"].set_index("subject") if len(results) else pd.DataFrame()
    groups = results[results["row_type"] == "group"] if len(results) else pd.DataFrame()
    checklist = library.get(scheme.checklist) if scheme.checklist else None
    for comp in scheme.components:
        if comp.source == "checklist_total":
            if checklist_scores is None or checklist_scores.empty:
                raise GradingInputError("评定办法需要清单得分，但没有提供（考评组评分）")
            scores = checklist_scores
            if "stage" in scores.columns and isinstance(checklist, Checklist):
                scores = scores[scores["stage"] == scheme.stage]
            frame[comp.key] = scores.groupby("subject")["score"].sum()
            if isinstance(checklist, Checklist):  # category subtotals serve quota tie-breaks
                category = {i.key: c.key for c in checklist.categories for i in c.indicators}
                by_cat = scores.assign(category=scores["indicator"].map(category)).pivot_table(
                    index="subject", columns="category", values="score", aggfunc="sum")
                for column in by_cat.columns:
                    frame[column] = by_cat[column]
        elif comp.source == "satisfaction_rate":
            frame[comp.key] = combined["satisfaction_rate"] * 100 if "satisfaction_rate" in combined else None
        elif comp.source == "combined_score":
            frame[comp.key] = combined["score"] if "score" in combined else None
        elif comp.source == "group_score":
            rows = groups[groups["rater_group"] == comp.rater_group].set_index("subject")
            frame[comp.key] = rows["score"] if len(rows) else None
        else:
            if comp.column not in combined:
                raise GradingInputError(f"分析结果中没有列“{comp.column}”（评定办法的 {comp.key}）")
            frame[comp.key] = combined[comp.column]
    frame = frame.reset_index()
    keys = [c.key for c in scheme.components if not c.optional]
    return frame.dropna(subset=keys, how="all")


def split_complete(components: pd.DataFrame, scheme: Scheme) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Subjects with every required component, and the others with what they lack."""
    required = [c for c in scheme.components if not c.optional]
    missing: dict[str, list[str]] = {}
    for row in components.to_dict("records"):
        lacking = [c.label for c in required if pd.isna(row.get(c.key))]
        if lacking:
            missing[str(row["subject"])] = lacking
    return components[~components["subject"].astype(str).isin(missing)], missing


def vote_shares(ratings: pd.DataFrame, scheme: Scheme) -> pd.DataFrame | None:
    """Share of each choice on each vote-share rule's item, per subject, counting every ballot."""
    if not scheme.vote_share_rules or ratings is None or ratings.empty:
        return None
    rows = []
    for rule in scheme.vote_share_rules:
        answers = ratings[(ratings["item"] == rule.item) & (ratings["choice"].astype(str) != "")]
        if "questionnaire" in answers.columns and rule.questionnaire:
            answers = answers[answers["questionnaire"] == rule.questionnaire]
        counts = answers.groupby(["subject", "choice"]).size().rename("count").reset_index()
        totals = counts.groupby("subject")["count"].transform("sum")
        counts["share"], counts["n"], counts["item"] = counts["count"] / totals, totals, rule.item
        rows.append(counts[["item", "subject", "choice", "share", "n"]])
    return pd.concat(rows).drop_duplicates(["item", "subject", "choice"]) if rows else None


def grade_tables(scheme: Scheme, library: Mapping[str, Definition], results: pd.DataFrame, *,
                 subjects: pd.DataFrame, checklist_scores: pd.DataFrame | None = None,
                 vetoes: pd.DataFrame | None = None, ratings: pd.DataFrame | None = None,
                 previous: pd.DataFrame | None = None, start: date | None = None,
                 excluded_ballots: pd.DataFrame | None = None) -> GradingOutcome:
    """Grade from plain tables: the path shared by the database and the file-only command.

    ``excluded_ballots`` is the analysis' flags table: a ballot it excludes (a speeder, say)
    counts for no vote share and no weak dimension either, as it counts for no score."""
    spec = grading_spec(scheme, library)
    ratings = without_excluded(ratings, excluded_ballots)
    components, skipped = split_complete(components_frame(scheme, library, results, checklist_scores, subjects),
                                         scheme)
    if components.empty:
        raise GradingInputError("没有可以评定的被评对象：分析结果与清单得分都没有匹配的对象")
    outcome = grade(components, spec, vetoes=vetoes, vote_shares=vote_shares(ratings, scheme) if ratings is not None
                    else None, previous=previous)
    ledger = pd.DataFrame()
    parts = []  # the checklist's indicators and the questionnaires' dimensions, read as one list
    if spec.rectification is not None and checklist_scores is not None and not checklist_scores.empty:
        scores = checklist_scores
        if "stage" in scores.columns:
            scores = scores[scores["stage"] == scheme.stage]
        parts.append(scores[["subject", "indicator", "score"]])
    if spec.rectification is not None and ratings is not None and not ratings.empty:
        parts.append(dimension_scores(outcome.grades, ratings, library))
    parts = [x for x in parts if not x.empty]
    if parts:  # read together, so a unit's weakest point is looked for among both when none is weak
        ledger = rectification_lines(outcome.grades, pd.concat(parts, ignore_index=True), spec,
                                     start=start or date.today())
    if not ledger.empty:
        names = dict(zip(outcome.grades["subject"], outcome.grades["name"]))
        ledger.insert(1, "name", ledger["subject"].map(names).fillna(""))
    return GradingOutcome(outcome, ledger, components, skipped)


def without_excluded(ratings: pd.DataFrame | None, flags: pd.DataFrame | None) -> pd.DataFrame | None:
    if ratings is None or flags is None or flags.empty or not {"ballot_id", "excluded"} <= set(flags.columns):
        return ratings
    excluded = flags.loc[flags["excluded"].astype(str).str.lower().isin(("true", "1")), "ballot_id"].astype(str)
    return ratings[~ratings["ballot_id"].astype(str).isin(set(excluded))] if "ballot_id" in ratings else ratings


def weak_dimensions(grades: pd.DataFrame, ratings: pd.DataFrame, library: Mapping[str, Definition], spec,  # type: ignore[no-untyped-def]
                    *, start: date) -> pd.DataFrame:
    """Ledger lines for questionnaire dimensions alone: what voters rated low, for units below the line."""
    scores = dimension_scores(grades, ratings, library)
    return rectification_lines(grades, scores, spec, start=start) if not scores.empty else pd.DataFrame()


def dimension_scores(grades: pd.DataFrame, ratings: pd.DataFrame, library: Mapping[str, Definition]) -> pd.DataFrame:
    """Questionnaire dimensions as indicators scored out of 100, for the ledger.

    Each answer is put on 0–100 by its item's scale; each (unit, dimension) mean becomes an
    indicator, and :func:`analysis.grading.rectification_lines` applies the scheme's line and
    share to it exactly as to the checklist's indicators.
    """
    frame = ratings[ratings["subject"].astype(str).isin(set(grades["subject"].astype(str)))]
    if frame.empty or "questionnaire" not in frame.columns:
        return pd.DataFrame()
    scores = []
    for (subject, key), answers in frame.groupby(["subject", "questionnaire"]):
        questionnaire = library.get(str(key))
        if not isinstance(questionnaire, Questionnaire):
            continue
        bounds = {i.key: questionnaire.scale(i.scale).bounds() for i in questionnaire.items}
        low = answers["item"].map(lambda k: bounds.get(k, (0, 100))[0])
        high = answers["item"].map(lambda k: bounds.get(k, (0, 100))[1])
        scaled = (pd.to_numeric(answers["value"], errors="coerce") - low) / (high - low) * 100
        means = scaled.groupby(answers["item"].map({i.key: i.dimension for i in questionnaire.items})).mean()
        for dimension in questionnaire.dimensions:
            mean = means.get(dimension.key)
            if mean is not None and not pd.isna(mean):
                scores.append({"subject": str(subject), "indicator": f"{questionnaire.key}.{dimension.key}",
                               "label": f"{questionnaire.title}·{dimension.label}（测评维度）",
                               "score": round(float(mean), 1), "full_marks": 100.0})
    return pd.DataFrame(scores, columns=["subject", "indicator", "label", "score", "full_marks"])


def grade_campaign(campaign: object, *, actor: object = "cli") -> GradingOutcome:
    """Analyse and grade a campaign from its ballots, checklist and vetoes; store grades and open
    ledger lines. The ratings are exported once and serve the analysis and the vote shares."""
    from survey_app.extensions import db
    from survey_app.models import (
        ChecklistScore, GradeRecord, Organisation, Person, RectificationLine, VetoMark,
    )
    from survey_app.services import audit
    from survey_app.services.analysis import analyze_campaign
    from survey_app.services.campaigns import frozen_definitions
    from survey_app.services.export import ratings_frame

    library = frozen_definitions(campaign)  # type: ignore[arg-type]
    scheme = library.get(campaign.scheme_key or "")  # type: ignore[attr-defined]
    if not isinstance(scheme, Scheme):
        raise GradingInputError("该测评活动没有评定办法")
    orgs = {o.id: o for o in db.session.scalars(select(Organisation))}
    subjects = [{"subject": o.code, "name": o.name,
                 "parent": orgs[o.parent_id].code if o.parent_id in orgs else None} for o in orgs.values()]
    for p in db.session.scalars(select(Person).where(Person.category == "cadre")):
        org = orgs.get(p.org_id)
        subjects.append({"subject": p.person_key, "name": f"{p.name}（{org.name if org else ''}{p.role}）",
                         "parent": org.code if org else None})
    scores = pd.DataFrame(db.session.execute(
        select(Organisation.code.label("subject"), ChecklistScore.indicator_key.label("indicator"),
               ChecklistScore.stage, ChecklistScore.score)
        .join(Organisation, ChecklistScore.org_id == Organisation.id)
        .where(ChecklistScore.campaign_id == campaign.id)).all(),  # type: ignore[attr-defined]
        columns=["subject", "indicator", "stage", "score"])
    vetoes = pd.DataFrame(db.session.execute(
        select(Organisation.code.label("subject"), VetoMark.veto_key.label("veto"), VetoMark.evidence)
        .join(Organisation, VetoMark.org_id == Organisation.id)
        .where(VetoMark.campaign_id == campaign.id, VetoMark.withdrawn_at.is_(None))).all(),  # type: ignore[attr-defined]
        columns=["subject", "veto", "evidence"])
    previous = None
    if campaign.previous_id:  # type: ignore[attr-defined]
        previous = pd.DataFrame(db.session.execute(
            select(GradeRecord.subject_key.label("subject"), GradeRecord.grade)
            .where(GradeRecord.campaign_id == campaign.previous_id)).all(), columns=["subject", "grade"])  # type: ignore[attr-defined]
    has_checklist = any(c.source == "checklist_total" for c in scheme.components)
    ratings = ratings_frame(campaign)  # type: ignore[arg-type]
    analysis = analyze_campaign(campaign, ratings=ratings)
    outcome = grade_tables(scheme, library, analysis.results, subjects=pd.DataFrame(subjects),
                           checklist_scores=scores if has_checklist else None, vetoes=vetoes,
                           ratings=ratings, previous=previous, excluded_ballots=analysis.flags)
    _store(campaign, outcome, GradeRecord, RectificationLine, db)
    audit.record(actor, "grade_campaign", campaign.slug, subjects=len(outcome.result.grades),  # type: ignore[attr-defined]
                 ledger_lines=len(outcome.ledger))
    db.session.commit()
    return outcome


def _store(campaign, outcome: GradingOutcome, GradeRecord, RectificationLine, db) -> None:  # type: ignore[no-untyped-def]
    db.session.execute(delete(GradeRecord).where(GradeRecord.campaign_id == campaign.id))
    reasons = outcome.result.reasons
    for row in outcome.result.grades.itertuples(index=False):
        trail = reasons[reasons["subject"] == row.subject]
        db.session.add(GradeRecord(
            campaign_id=campaign.id, subject_key=row.subject, name=row.name or "", grade=row.grade,
            composite=None if pd.isna(row.composite) else float(row.composite), flags="；".join(row.flags),
            pay_adjustment=None if pd.isna(row.pay_adjustment) else float(row.pay_adjustment),
            reasons=json.dumps(trail[["step", "kind", "text"]].to_dict("records"), ensure_ascii=False)))
    existing = {(r.subject_key, r.indicator_key): r for r in db.session.scalars(
        select(RectificationLine).where(RectificationLine.campaign_id == campaign.id))}
    for line in outcome.ledger.itertuples(index=False):
        if (line.subject, line.indicator) in existing:
            continue  # a line already being worked on keeps its status, owner and dates
        db.session.add(RectificationLine(
            campaign_id=campaign.id, subject_key=line.subject, subject_name=line.name, grade=line.grade,
            indicator_key=line.indicator, label=line.label, score=_number_or_none(line.score),
            full_marks=_number_or_none(line.full_marks), owner=line.owner or "", deadline=line.deadline,
            status="open", opened_on=date.today()))


def _number_or_none(value: object) -> float | None:
    """A ledger line of a unit without scores has none: NULL, not NaN (which SQLite and PostgreSQL keep differently)."""
    return None if value is None or pd.isna(value) else float(value)  # type: ignore[arg-type]
