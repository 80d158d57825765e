"""``pingyi import-orgs`` and ``pingyi import-people``."""
from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click
from flask.cli import with_appcontext
from tqdm import tqdm

from survey_app.services import imports
from survey_app.services.imports import ImportReport


def _run(importer: Callable[..., ImportReport], path: Path) -> None:
    with tqdm(desc=f"导入 {path.name}", unit="行", file=sys.stderr, leave=False,
              disable=None) as bar:
        report = importer(path, actor="cli", progress=bar.update)
    for error in report.errors:
        click.echo(str(error), err=True)
    if report.ok:
        click.echo(report.summary())
    else:
        click.echo(report.summary(), err=True)
        raise SystemExit(1)


@click.command("import-orgs")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def import_orgs_command(file: Path) -> None:
    """从 FILE（.xlsx 或 .csv）导入组织树。

    列：组织编码、组织名称、上级组织、组织类型。
    """
    _run(imports.import_orgs, file)


@click.command("import-people")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def import_people_command(file: Path) -> None:
    """从 FILE（.xlsx 或 .csv）导入人员名册。

    列：姓名、组织编码、职务、是否党员等。
    """
    _run(imports.import_people, file)


COMMANDS = [import_orgs_command, import_people_command]
