"""``pingyi validate``: needs no database, so it works on a laptop with only the YAML files."""
from __future__ import annotations

from pathlib import Path

import click

from forms.loader import KIND_NAMES, load_many
from survey_app.services.library import shadowing


@click.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
def validate_command(files: tuple[Path, ...]) -> None:
    """检查测评表、清单和评定办法文件 FILES。

    评定办法可以引用同时给出的清单。
    """
    loaded, problems = load_many(files)
    problems += shadowing(loaded)
    for path, definition in loaded.items():
        click.echo(f"{Path(path).name}: 通过 — {KIND_NAMES[definition.kind]}“{definition.key}” "
                   f"第 {definition.version} 版《{definition.title}》")
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        raise SystemExit(1)


COMMANDS = [validate_command]

