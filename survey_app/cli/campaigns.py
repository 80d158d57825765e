"""``pingyi open|close|turnout|issue-tokens|export``."""
from __future__ import annotations

import csv
import sys
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from survey_app.extensions import db
from survey_app.models import BallotSheet
from survey_app.services import campaigns, export, tokens, turnout
from survey_app.services.campaigns import CampaignError


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
    """Open CAMPAIGN for voting; its definitions are frozen from now on."""
    try:
        c = campaigns.open_campaign(_campaign(campaign))
    except CampaignError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"测评活动“{c.name}”已开始，{len(c.definitions)} 份定义已冻结。")


@click.command("close")
@click.argument("campaign")
@with_appcontext
def close_command(campaign: str) -> None:
    """Close CAMPAIGN: no more ballots are accepted."""
    try:
        c = campaigns.close_campaign(_campaign(campaign))
    except CampaignError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"测评活动“{c.name}”已结束。")


@click.command("turnout")
@click.argument("campaign")
@click.option("--csv", "as_csv", is_flag=True, help="Write CSV to standard output.")
@with_appcontext
def turnout_command(campaign: str, as_csv: bool) -> None:
    """Codes issued and used, and ballots by mode, per sheet."""
    rows = turnout.turnout(_campaign(campaign))
    if as_csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(["sheet", "organisation", "rater_group", "issued", "used", "share",
                         "token", "open", "paper"])
        for r in rows:
            writer.writerow([r.sheet, r.organisation, r.rater_group, r.issued, r.used,
                             f"{r.share:.4f}" if r.share is not None else "", r.ballots.get("token", 0),
                             r.ballots.get("open", 0), r.ballots.get("paper", 0)])
        return
    click.echo(f"{'测评票':<24}{'组织':<10}{'评价主体':<12}{'发放':>6}{'已用':>6}{'参与率':>8}{'扫码/公开/纸质':>16}")
    issued = used = 0
    for r in rows:
        share = f"{r.share:.1%}" if r.share is not None else "—"
        modes = f"{r.ballots.get('token', 0)}/{r.ballots.get('open', 0)}/{r.ballots.get('paper', 0)}"
        click.echo(f"{r.sheet:<24}{r.organisation:<10}{r.rater_group:<12}{r.issued:>6}{r.used:>6}{share:>8}{modes:>16}")
        issued, used = issued + r.issued, used + r.used
    total = f"{used / issued:.1%}" if issued else "—"
    click.echo(f"合计：发放 {issued}，已用 {used}，参与率 {total}")


@click.command("issue-tokens")
@click.argument("campaign")
@click.option("--sheet", "sheet_key", required=True, help="Sheet key, e.g. D01T01V01-masses.")
@click.option("--count", required=True, type=click.IntRange(1, tokens.MAX_BATCH))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Slips PDF.")
@click.option("--codes", "codes_csv", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the codes and URLs as CSV (for mail-merge or SMS).")
@with_appcontext
def issue_tokens_command(campaign: str, sheet_key: str, count: int, out: Path, codes_csv: Path | None) -> None:
    """Issue a batch of single-use codes for one sheet and write the slips."""
    from survey_app.services.slips import issue_with_slips

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
              help="ratings.csv, .parquet or .xlsx")
@with_appcontext
def export_command(campaign: str, out: Path) -> None:
    """Write the tidy ratings table (one row per answer) that the analysis reads."""
    frame = export.ratings_frame(_campaign(campaign))
    try:
        export.write_ratings(frame, out)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"已导出 {frame['ballot_id'].nunique()} 张选票、{len(frame)} 条答案：{out}")


COMMANDS = [open_command, close_command, turnout_command, issue_tokens_command, export_command]
