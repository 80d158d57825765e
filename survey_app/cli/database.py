"""``pingyi init``."""
import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.engine import make_url

from survey_app.services.database import init_database


@click.command("init")
@with_appcontext
def init_command() -> None:
    """创建数据库，或将其升级到最新的结构版本。"""
    revision = init_database()
    url = make_url(current_app.config["SQLALCHEMY_DATABASE_URI"]).render_as_string(hide_password=True)
    click.echo(f"数据库已就绪：{url}（结构版本 {revision}）")


COMMANDS = [init_command]
