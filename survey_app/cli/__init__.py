"""The ``pingyi`` command: one click group per topic, composed on Flask's CLI."""
from __future__ import annotations

import os
import sys

import click
from flask.cli import FlaskGroup
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from survey_app import create_app
from survey_app.config import ConfigError, database_url as current_database_url
from survey_app.oserrors import reason
from survey_app.services.database import SchemaError
from survey_app.cli import columns, language

language.install()  # before any command is built: click.Path names its kind when it is constructed
columns.install()

from flask_migrate.cli import db as _migrate_commands  # noqa: E402
from survey_app.cli import analysis, campaigns, database, definitions, demo, grading, imports, serve, users  # noqa: E402


def _app(*_args: object) -> object:
    return create_app()


# Groups the extensions add, listed beside pingyi's own; their subcommands keep their makers' English.
THIRD_PARTY = {
    "db": "数据库迁移（Flask-Migrate，开发用；建库和升级请用 init）。",
    "limiter": "查看或清除访问频率限制（Flask-Limiter）。",
}


class _Pingyi(FlaskGroup):
    """Flask's CLI, with what a user of ``pingyi`` sees made pingyi's own.

    ``--version`` says pingyi's version, not Flask's; Flask's ``--app``, ``--env-file`` and
    ``--debug`` are gone (the app is always pingyi's, configured by PINGYI_* variables). A file or
    port the system refuses is the user's to fix: they get what and why, not a traceback.
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(add_version_option=False, **kwargs)  # type: ignore[arg-type]
        self.params = [p for p in self.params if p.name not in {"app", "env_file", "debug"}]

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command is the group's own or a plugin's (db, limiter): listing them needs no app.
        Flask's listing built one, which wrote ./instance and its key files wherever `pingyi --help` ran."""
        self._load_plugin_commands()
        return sorted(self.commands)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None and cmd_name in THIRD_PARTY:
            command.short_help = THIRD_PARTY[cmd_name]
        return command

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (ConfigError, SchemaError) as exc:
            raise click.ClickException(str(exc)) from None
        except OperationalError as exc:  # the database itself out of reach: its folder, its server, its name
            url = make_url(current_database_url()).render_as_string(hide_password=True)
            detail = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
            raise click.ClickException(f"数据库 {url} 无法使用（{detail}）。若是打不开：SQLite 的文件夹要存在且可写，"
                                       "PostgreSQL 的服务器要在运行、数据库要先建好（createdb）") from None
        except BrokenPipeError:  # the reader went away (pingyi turnout … | head): stop quietly, as Unix tools do
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (nothing left to flush into the closed pipe at exit)
            raise SystemExit(1) from None
        except OSError as exc:
            if exc.errno is None:
                raise
            what = f"{exc.filename}：" if exc.filename else ""
            raise click.ClickException(f"{what}{reason(exc)}") from exc


@click.group("pingyi", cls=_Pingyi, create_app=_app, add_default_commands=False, load_dotenv=False,
             set_debug_flag=False)
@click.version_option(package_name="pingyi", prog_name="pingyi", message="%(prog)s %(version)s")
def cli() -> None:
    """评议 pingyi — 基层党组织和干部量化考核的测评、分析与评定。"""


for module in (database, imports, definitions, users, campaigns, analysis, grading, demo, serve):
    for command in module.COMMANDS:
        cli.add_command(command)
cli.add_command(_migrate_commands, "db")  # Flask-Migrate's, which it puts on app.cli: here, listed without an app


def main() -> None:
    cli(prog_name="pingyi")
