"""``pingyi grade``: a campaign end to end, or files only (results, checklist, scheme) with no database."""
from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from analysis.ratings import RatingsError, read_ratings
from forms import DefinitionError
from forms.loader import builtin_library, load_many
from forms.schema import Checklist, Scheme
from survey_app.cli.usage import refuse_beside_campaign
from survey_app.services.grading import GradingInputError, grade_tables, without_excluded
from survey_app.services.ledger_files import ScoreFileError, read_checklist_scores, write_grades


@click.command("grade")
@click.argument("campaign", required=False)
@click.option("--results", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="pingyi analyze 写出的 results.csv。")
@click.option("--checklist", "checklist_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="清单评分（.xlsx 或 .csv，列：组织编码、指标编码、得分，可加评分阶段）；"
                   "否决项填在该文件中名为“否决项”的工作表里。")
@click.option("--scheme", "scheme_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="评定办法 YAML；它引用的测评表和清单从内置定义和 --definitions 中查找。")
@click.option("--definitions", "definition_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="评定办法引用的其他清单或测评表文件（可多次给出）。")
@click.option("--previous", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="上一次测评活动的 grades.csv（列：subject、grade），用于逐年升降规则。")
@click.option("--ratings", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="pingyi export 导出的评分表（.csv、.xlsx 或 .parquet），用于得票比例规则"
                   "（如不称职票超过三分之一）和测评维度的整改项；--results 旁的 flags.csv 中"
                   "排除的选票不计。")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="输出目录：写入 grades.csv、grades.json、reasons.txt 和 rectification.xlsx。")
@click.pass_context
def grade_command(ctx: click.Context, campaign: str | None, results: Path | None, checklist_file: Path | None,
                  scheme_file: Path | None, definition_files: tuple[Path, ...], previous: Path | None,
                  ratings: Path | None, out: Path | None) -> None:
    """按评定办法评定等次，写明每一步的理由。

    等次低于评定办法所定界线的被评对象，列入整改台账。
    """
    if campaign is not None:
        refuse_beside_campaign({"--results": results, "--checklist": checklist_file, "--scheme": scheme_file,
                                "--definitions": definition_files, "--previous": previous, "--ratings": ratings},
                               "评定用的是该活动在数据库中的选票、清单评分和冻结的评定办法，上一年的等次取自它接续的上一次测评活动",
                               "清单评分请在管理页面的“清单评分”上传；要完全按文件评定，请不写测评活动，"
                               "改用 --results 和 --scheme")
        outcome = _campaign(ctx, campaign)
    else:
        if results is None or scheme_file is None:
            raise click.UsageError("请给出测评活动（CAMPAIGN），或者给出 --results 和 --scheme"
                                   "（评定办法用到清单时再加 --checklist）")
        outcome = _files(results, checklist_file, scheme_file, previous, ratings, definition_files)
    grades = outcome.result.grades
    counts = grades["grade"].value_counts()
    order = [g.label for g in outcome.result.spec.grades]
    click.echo("评定结果：" + "，".join(f"{g} {int(counts.get(g, 0))}" for g in order) +
               f"；整改台账 {len(outcome.ledger)} 条。")
    if outcome.skipped:
        shown = "；".join(f"{s}（缺{'、'.join(m)}）" for s, m in list(outcome.skipped.items())[:10])
        more = f" 等 {len(outcome.skipped)} 个" if len(outcome.skipped) > 10 else ""
        click.echo(f"未评定：{shown}{more}", err=True)
    if out is not None:
        written = write_grades(out, outcome.result, outcome.ledger)
        click.echo("输出：" + "、".join(p.name for p in written) + f"（{out}）")


def _campaign(ctx: click.Context, slug: str):  # type: ignore[no-untyped-def]
    from flask.cli import ScriptInfo

    from survey_app.cli.campaigns import _campaign as find
    from survey_app.services.analysis import AnalysisInputError
    from survey_app.services.grading import grade_campaign

    app = ctx.ensure_object(ScriptInfo).load_app()
    with app.app_context():
        c = find(slug)
        try:
            return grade_campaign(c, actor="cli")
        except (AnalysisInputError, GradingInputError, ValueError) as exc:
            raise click.ClickException(str(exc)) from None


def _files(results: Path, checklist_file: Path | None, scheme_file: Path, previous: Path | None,
           ratings: Path | None, definition_files: tuple[Path, ...] = ()):  # type: ignore[no-untyped-def]
    loaded, problems = load_many([*definition_files, scheme_file])  # a county's own checklist, questionnaires
    if problems:
        raise click.ClickException("\n".join(map(str, problems)))
    scheme = loaded.get(str(scheme_file))
    if not isinstance(scheme, Scheme):
        raise click.ClickException(f"{scheme_file.name} 不是评定办法（kind: scheme）")
    library = {**builtin_library(), **{d.key: d for d in loaded.values()}}
    checklist = library.get(scheme.checklist) if scheme.checklist else None
    scores = vetoes = None
    if checklist_file is not None:
        full = {i.key: i.points for i in checklist.indicators()} if isinstance(checklist, Checklist) else None
        stages = checklist.stages if isinstance(checklist, Checklist) else ()
        veto_keys = {v.key for v in checklist.vetoes} if isinstance(checklist, Checklist) else None
        try:
            scores, vetoes = read_checklist_scores(checklist_file, full, stages, veto_keys)
        except ScoreFileError as exc:
            raise click.ClickException(str(exc)) from None
    frame = _read_table(results, ("subject", "row_type"), "应为 pingyi analyze 写出的 results.csv", dtype={"subject": str})
    ratings_frame = _read_table(ratings, ("subject", "item", "choice", "value"), "应为 pingyi export 导出的评分表",
                                reader=read_ratings) if ratings else None
    if ratings_frame is not None and (beside := results.with_name("flags.csv")).exists():
        # the same analysis' exclusions: a ballot it left out of the scores counts for no vote share either
        flags = _read_table(beside, ("ballot_id", "excluded"), "应为 pingyi analyze 写出的 flags.csv",
                            dtype={"ballot_id": str})
        kept = without_excluded(ratings_frame, flags)
        click.echo(f"得票比例和测评维度不计 {beside.name} 中排除的选票（{len(ratings_frame) - len(kept)} 条答案）。")
        ratings_frame = kept
    last = _read_table(previous, ("subject", "grade"), "应为上一次评定写出的 grades.csv", dtype=str) if previous else None
    if last is not None:  # a campaign column tells several years apart; grading reads it
        last = last[[c for c in ("subject", "grade", "campaign") if c in last.columns]]
    subjects = pd.DataFrame({"subject": sorted(set(frame["subject"]) | set(scores["subject"] if scores is not None else []))})
    named = scores.drop_duplicates("subject").set_index("subject") if scores is not None else pd.DataFrame()
    subjects["name"] = subjects["subject"].map(named["name"]) if "name" in named else ""
    subjects["parent"] = subjects["subject"].map(named["parent"].replace("", None)) if "parent" in named else None
    try:
        return grade_tables(scheme, library, frame, subjects=subjects, checklist_scores=scores, vetoes=vetoes,
                            ratings=ratings_frame, previous=last)
    except (GradingInputError, ValueError, DefinitionError) as exc:
        raise click.ClickException(str(exc)) from None


def _read_table(path: Path, needs: tuple[str, ...], what: str, reader=None, **read) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """A table missing a column the grading reads would fail deep inside it with a bare column name."""
    try:
        table = reader(path) if reader else pd.read_csv(path, **read)
    except RatingsError as exc:  # the ratings reader's own words: .csv, .xlsx or .parquet, and why not
        raise click.ClickException(str(exc)) from None
    except pd.errors.EmptyDataError:
        raise click.ClickException(f"{path.name}：文件是空的（{what}）") from None
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"{path.name}：无法读取（{exc}）") from None
    missing = [c for c in needs if c not in table.columns]
    if missing:
        raise click.ClickException(f"{path.name}：缺少列 {'、'.join(missing)}（{what}，"
                                   f"需要的列：{'、'.join(needs)}）")
    return table


COMMANDS = [grade_command]
