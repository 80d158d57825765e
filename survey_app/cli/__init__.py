"""The ``pingyi`` command: one click group per topic, composed on Flask's CLI."""
from __future__ import annotations

import click
from flask.cli import FlaskGroup

from survey_app import create_app
from survey_app.cli import analysis, campaigns, database, definitions, demo, grading, imports, serve, users


def _app(*_args: object) -> object:
    return create_app()


@click.group(cls=FlaskGroup, create_app=_app, add_default_commands=False, load_dotenv=False,
             set_debug_flag=False)
def cli() -> None:
    """评议 pingyi — survey and satisfaction polling for grassroots assessments."""


for module in (database, imports, definitions, users, campaigns, analysis, grading, demo, serve):
    for command in module.COMMANDS:
        cli.add_command(command)


def main() -> None:
    cli(prog_name="pingyi")
