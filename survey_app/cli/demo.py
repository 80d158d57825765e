"""``pingyi demo``."""
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import func, select

from forms.rater_groups import label as group_label
from survey_app.config import instance_dir
from survey_app.extensions import db
from survey_app.models import BallotSheet, Campaign
from survey_app.services.database import init_database
from survey_app.services.demo import CAMPAIGN_SLUG, seed_demo

SLIP_SHEET, SLIP_COUNT = "D01T01V01-masses", 60
# The planted anomalies as an analyst reads them, with where analysis names them (flags.csv, --leniency).
PLANTED = {"speeder": "答题过快（speeder）", "straight_liner": "所有题目选同一项（straight_lining）",
           "lenient_rater": "打分明显偏宽的评价人（--leniency）"}


@click.command("demo")
@click.option("--if-empty", is_flag=True, help="数据库中已有测评活动时，什么也不做。")
@click.option("--simulate", type=click.IntRange(0, 200_000), default=0,
              help="同时经投票服务模拟投出这么多张选票（含几种埋设的异常），并填入清单评分。")
@click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path),
              help="演示名册和测评票的目录（默认：instance/demo）。")
@with_appcontext
def demo_command(if_empty: bool, simulate: int, folder: Path | None) -> None:
    """生成一个演示区的数据，含一项已开始的测评活动。

    共 3 个镇、24 个村、约 2,000 名群众、约 150 名干部。
    """
    init_database()
    folder = folder or instance_dir() / "demo"
    if if_empty and db.session.scalar(select(func.count()).select_from(Campaign)):
        click.echo("数据库中已有测评活动，跳过演示数据。")
        if (folder / "rosters").is_dir():  # make run says where step 2 of the walkthrough finds them, every time
            click.echo(f"名册文件：{folder / 'rosters'}")
        _print_where(folder)
        return
    result = seed_demo(folder)
    click.echo(f"演示数据已就绪：组织 {result.orgs} 个，群众 {result.residents} 人，干部 {result.cadres} 人；"
               f"测评活动“{result.campaign.name}”（{result.campaign.slug}，{len(result.campaign.sheets)} 张测评票）。")
    click.echo(f"名册文件：{result.roster_dir}")
    slips = folder / f"slips-{SLIP_SHEET}.pdf"
    if not slips.exists():
        import shutil

        from survey_app.services.slips import issue_with_slips

        sheet = db.session.scalar(select(BallotSheet).where(BallotSheet.key == SLIP_SHEET))
        _issued, _pages, pdf = issue_with_slips(sheet, SLIP_COUNT, label="演示", actor="demo",
                                                codes_csv=folder / f"codes-{SLIP_SHEET}.csv")
        shutil.copyfile(pdf, slips)
        slips.chmod(0o600)  # plain codes, like the batch file it copies
    if simulate:
        from survey_app.services.simulate import simulate as run

        campaign = db.session.scalar(select(Campaign).where(Campaign.slug == CAMPAIGN_SLUG))
        with click.progressbar(length=1, label="模拟投票") as bar:
            report = run(campaign, simulate)
            bar.update(1)
        groups = "，".join(f"{group_label(g)} {n}" for g, n in sorted(report.by_group.items()))
        click.echo(f"已模拟 {report.cast} 张选票（{groups}），清单评分 {report.scores} 条，否决项 {report.vetoes} 个。")
        click.echo("埋设的异常（选票编号，可在 pingyi analyze 的输出中查到）：" + "，".join(
            f"{PLANTED.get(k, k)} {v}" for k, v in report.planted.items()))
    _print_where(folder)


def _print_where(folder: Path) -> None:
    slips = folder / f"slips-{SLIP_SHEET}.pdf"
    if slips.exists():
        click.echo(f"测评票（二维码）：{slips}（{SLIP_COUNT} 张，对应测评码另见 {folder / f'codes-{SLIP_SHEET}.csv'}）")
    secret = folder / "demo_admin.txt"
    if secret.exists():
        from flask import current_app

        username, password = secret.read_text().split()
        base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
        click.echo(f"管理员登录：{base}/admin/  用户名 {username}  密码 {password}（保存在 {secret}）")


COMMANDS = [demo_command]
