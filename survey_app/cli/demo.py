"""``pingyi demo``."""
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import func, select

from survey_app.config import instance_dir
from survey_app.extensions import db
from survey_app.models import Campaign
from survey_app.services.database import init_database
from survey_app.services.demo import seed_demo


@click.command("demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has a campaign.")
@click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path),
              help="Where the demo rosters go (default: instance/demo).")
@with_appcontext
def demo_command(if_empty: bool, folder: Path | None) -> None:
    """Seed a demo district: 3 towns, 24 villages, ~2,000 residents, ~150 cadres, one open campaign."""
    init_database()
    folder = folder or instance_dir() / "demo"
    if if_empty and db.session.scalar(select(func.count()).select_from(Campaign)):
        click.echo("数据库中已有测评活动，跳过演示数据。")
        _print_login(folder)
        return
    result = seed_demo(folder)
    click.echo(f"演示数据已就绪：组织 {result.orgs} 个，群众 {result.residents} 人，干部 {result.cadres} 人；"
               f"测评活动“{result.campaign.name}”（{result.campaign.slug}，{len(result.campaign.sheets)} 张测评票）。")
    click.echo(f"名册文件：{result.roster_dir}")
    _print_login(folder)


def _print_login(folder: Path) -> None:
    secret = folder / "demo_admin.txt"
    if secret.exists():
        username, password = secret.read_text().split()
        click.echo(f"管理员登录：用户名 {username}  密码 {password}（保存在 {secret}）")


COMMANDS = [demo_command]
