"""``pingyi validate``: needs no database, so it works on a laptop with only the YAML files."""
from __future__ import annotations

from pathlib import Path

import click

from forms.errors import Problem
from forms.loader import KIND_NAMES, builtin_library, builtin_text, load_many


@click.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
def validate_command(files: tuple[Path, ...]) -> None:
    """检查测评表、清单和评定办法文件 FILES。

    评定办法可以引用同时给出的清单。
    """
    loaded, problems = load_many(files)
    library = builtin_library() if loaded else {}  # load_many has said it if the templates do not load
    for path, definition in list(loaded.items()):
        if definition.key in library and \
                Path(path).read_text(encoding="utf-8-sig") != builtin_text(definition.key).lstrip("\ufeff"):
            # a copy of a template that kept its key would stand in for the built-in, unseen
            problems.append(Problem(Path(path).name, None, "key",
                                    f"键“{definition.key}”是内置定义的键；复制内置定义后请改用一个新的键"
                                    "（key），否则它会冒充内置定义"))
            del loaded[path]
    for path, definition in loaded.items():
        click.echo(f"{Path(path).name}: 通过 — {KIND_NAMES[definition.kind]}“{definition.key}” "
                   f"第 {definition.version} 版《{definition.title}》")
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        raise SystemExit(1)


COMMANDS = [validate_command]

