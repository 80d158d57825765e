"""``pingyi open|close|turnout|issue-tokens|export``."""
from __future__ import annotations

import csv
import sys
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from survey_app.cli.columns import columns
from survey_app.extensions import db
from survey_app.models import BallotSheet
from survey_app.services import campaigns, export, tokens, turnout
from survey_app.services.campaigns import CampaignError
from survey_app.services.export import csv_safe


def _campaign(slug: str):  # type: ignore[no-untyped-def]
    from survey_app.services.database import is_initialised

    if not is_initialised():
        raise click.ClickException("数据库尚未初始化：请先运行 pingyi init（或 pingyi demo）")
    try:
        return campaigns.get_campaign(slug)
    except CampaignError as exc:
        raise click.ClickException(str(exc)) from None


@click.command("open")
@click.argument("campaign")
@with_appcontext
def open_command(campaign: str) -> None:
    """开始测评活动 CAMPAIGN，开放投票；其定义从此冻结。"""
    try:
        c = campaigns.open_campaign(_campaign(campaign))
    except CampaignError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"测评活动“{c.name}”已开始，{len(c.definitions)} 份定义已冻结。")


@click.command("close")
@click.argument("campaign")
@with_appcontext
def close_command(campaign: str) -> None:
    """结束测评活动 CAMPAIGN：不再接受选票。已结束的活动再运行一次，会重做结束时的数据库清理。"""
    c = _campaign(campaign)
    try:
        if c.status == "closed":  # e.g. a close killed during its clean-up: finish that
            campaigns.finish_close(c)
            click.echo(f"测评活动“{c.name}”早已结束；已重新做了结束时的数据库清理。")
            return
        campaigns.close_campaign(c)
    except CampaignError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"测评活动“{c.name}”已结束。")


@click.command("turnout")
@click.argument("campaign")
@click.option("--csv", "as_csv", is_flag=True, help="以 CSV 格式写到标准输出。")
@with_appcontext
def turnout_command(campaign: str, as_csv: bool) -> None:
    """按测评票统计测评码发放数、已用数和各投票方式（含演练）的选票数。"""
    rows = turnout.turnout(_campaign(campaign))
    modes = ("token", "open", "paper", "rehearsal")  # the desk's CSV has the same columns
    if as_csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(["sheet", "organisation", "rater_group", "issued", "used", "share", *modes])
        for r in rows:
            writer.writerow([r.sheet, csv_safe(r.organisation), r.rater_group, r.issued, r.used,
                             f"{r.share:.4f}" if r.share is not None else "",
                             *(r.ballots.get(mode, 0) for mode in modes)])
        return
    table = [["测评票", "组织", "评价主体", "发放", "已用", "参与率", "扫码/公开/纸质/演练"]]
    for r in rows:
        table.append([r.sheet, r.organisation, r.rater_group, str(r.issued), str(r.used),
                      f"{r.share:.1%}" if r.share is not None else "—",
                      "/".join(str(r.ballots.get(mode, 0)) for mode in modes)])
    widths = [max(columns(line[i]) for line in table) for i in range(len(table[0]))]
    for line in table:  # padded by display columns: a Chinese character takes two
        click.echo("  ".join(_padded(cell, width, right=i >= 3)
                             for i, (cell, width) in enumerate(zip(line, widths))).rstrip())
    issued, used = sum(r.issued for r in rows), sum(r.used for r in rows)
    total = f"{used / issued:.1%}" if issued else "—"
    click.echo(f"合计：发放 {issued}，已用 {used}，参与率 {total}")


def _padded(text: str, width: int, *, right: bool) -> str:
    pad = " " * (width - columns(text))
    return pad + text if right else text + pad


@click.command("issue-tokens")
@click.argument("campaign")
@click.option("--sheet", "sheet_key", required=True, help="测评票编码，如 D01T01V01-masses。")
@click.option("--count", required=True, type=click.IntRange(1, tokens.MAX_BATCH), help="本批发放的测评码个数。")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="测评票 PDF 文件。")
@click.option("--codes", "codes_csv", type=click.Path(dir_okay=False, path_type=Path),
              help="同时把测评码和链接写成 CSV（用于邮件合并或短信）。")
@with_appcontext
def issue_tokens_command(campaign: str, sheet_key: str, count: int, out: Path, codes_csv: Path | None) -> None:
    """为一张测评票发放一批一次性测评码，并生成测评票 PDF。"""
    from survey_app.services.slips import issue_with_slips

    if codes_csv is not None and codes_csv.resolve() == out.resolve():
        raise click.UsageError("--codes 不能与 --out 是同一个文件：测评码 CSV 会覆盖测评票 PDF")
    # checked before a code is issued: a batch whose slips went to the wrong file is a batch to void
    if out.suffix.lower() != ".pdf":
        raise click.UsageError(f"--out 应是测评票 PDF 文件（以 .pdf 结尾），而不是“{out.name}”")
    if codes_csv is not None and codes_csv.suffix.lower() != ".csv":
        raise click.UsageError(f"--codes 应是 CSV 文件（以 .csv 结尾），而不是“{codes_csv.name}”")
    c = _campaign(campaign)
    sheet = db.session.scalar(select(BallotSheet).where(BallotSheet.campaign_id == c.id,
                                                        BallotSheet.key == sheet_key))
    if sheet is None:
        raise click.ClickException(f"测评票“{sheet_key}”不在测评活动“{campaign}”中")
    try:
        issued, pages, _pdf = issue_with_slips(sheet, count, actor="cli", pdf=out, codes_csv=codes_csv)
    except tokens.TokenError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"已发放 {count} 个测评码（批次 {issued.batch.id}），测评票 {pages} 页：{out}")


@click.command("export")
@click.argument("campaign")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="输出文件：ratings.csv、.parquet 或 .xlsx。")
@with_appcontext
def export_command(campaign: str, out: Path) -> None:
    """导出分析所读取的评分表（每条答案一行）。"""
    frame = export.ratings_frame(_campaign(campaign))
    try:
        export.write_ratings(frame, out)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"已导出 {frame['ballot_id'].nunique()} 张选票、{len(frame)} 条答案：{out}")


COMMANDS = [open_command, close_command, turnout_command, issue_tokens_command, export_command]
