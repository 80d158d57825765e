"""``pingyi analyze``: from the database, or from an exported ratings file with no database."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from tqdm import tqdm

from analysis.ratings import RatingsError, read_ratings
from analysis.settings import SpecError
from forms import DefinitionError
from forms.loader import builtin_library, load_many
from forms.schema import Scheme
from survey_app.cli.usage import refuse_beside_campaign
from survey_app.services import analysis as service

STEPS = 12


@click.command("analyze")
@click.argument("campaign", required=False)
@click.option("--ratings", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="pingyi export 导出的评分表（.csv、.parquet 或 .xlsx）；不需要数据库。")
@click.option("--scheme", "scheme_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="评定办法 YAML（评价主体的权重）；它引用的测评表从内置定义和 --definitions 中查找。")
@click.option("--definitions", "definition_files", multiple=True, type=click.Path(exists=True, dir_okay=False,
                                                                                   path_type=Path),
              help="评分表用到的其他测评表文件（可多次给出）。")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="分析结果的输出目录。")
@click.option("--bootstrap", type=click.IntRange(0, 10_000), default=0, help="bootstrap 重抽样次数（0：解析法）。")
@click.option("--leniency", is_flag=True, help="同时拟合评价人打分宽严的校正。")
@click.pass_context
def analyze_command(ctx: click.Context, campaign: str | None, ratings: Path | None, scheme_file: Path | None,
                    definition_files: tuple[Path, ...], out: Path, bootstrap: int, leniency: bool) -> None:
    """清洗评分、标记异常、加权汇总，并衡量结果的可信度。

    写出 results.csv、results.json、flags.csv 和 reliability.csv。
    """
    if (campaign is None) == (ratings is None):
        raise click.UsageError("请给出测评活动（CAMPAIGN）或评分表（--ratings 文件），二者选一")
    if campaign is not None:
        refuse_beside_campaign({"--scheme": scheme_file, "--definitions": definition_files},
                               "分析用的是该活动开始测评时冻结的定义",
                               "要用别的评定办法或测评表，请先 pingyi export 导出评分表，再用 --ratings 分析")
    options = {"bootstrap_replicates": bootstrap, "leniency": leniency}
    bar = tqdm(total=STEPS, desc="分析", unit="步", file=sys.stderr, leave=False, disable=None)

    def progress(step: str) -> None:
        bar.set_postfix_str(step)
        bar.update(1)

    try:
        if campaign is not None:
            result = _from_database(ctx, campaign, progress, options)
        else:
            result = _from_files(ratings, scheme_file, definition_files, progress, options)  # type: ignore[arg-type]
    except (service.AnalysisInputError, RatingsError, SpecError, DefinitionError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        bar.close()
    written = result.write(out)
    combined = result.results[result.results["row_type"] == "combined"]
    tied = int(combined["tied_with_next"].fillna(False).astype(bool).sum()) if "tied_with_next" in combined else 0
    excluded = int(result.flags["excluded"].astype(bool).sum()) if "excluded" in result.flags else 0
    click.echo(f"已分析 {combined['subject'].nunique()} 个被评对象；排除 {excluded} 张选票；"
               f"与下一名差距在误差范围内的 {tied} 个。")
    click.echo("输出：" + "、".join(p.name for p in written) + f"（{out}）")


def _from_database(ctx: click.Context, slug: str, progress, options):  # type: ignore[no-untyped-def]
    from flask.cli import ScriptInfo

    from survey_app.services.campaigns import CampaignError

    from survey_app.cli.campaigns import _campaign

    app = ctx.ensure_object(ScriptInfo).load_app()
    with app.app_context():
        try:
            campaign = _campaign(slug)
        except CampaignError as exc:
            raise click.ClickException(str(exc)) from None
        return service.analyze_campaign(campaign, progress=progress, **options)


def _from_files(ratings: Path, scheme_file: Path | None, definition_files: tuple[Path, ...], progress, options):  # type: ignore[no-untyped-def]
    loaded, problems = load_many([*definition_files, *([scheme_file] if scheme_file else [])])
    if problems:
        raise click.ClickException("\n".join(map(str, problems)))
    library = {**builtin_library(), **{d.key: d for d in loaded.values()}}
    scheme = next((d for d in loaded.values() if isinstance(d, Scheme)), None)
    if scheme_file is not None and scheme is None:  # it would have been read as one more definition
        raise click.ClickException(f"{scheme_file.name} 不是评定办法（kind: scheme）")
    frame = read_ratings(ratings)
    return service.run(frame, library, scheme, progress=progress, **options)


COMMANDS = [analyze_command]
