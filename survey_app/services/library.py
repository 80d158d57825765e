"""The definitions a campaign can use: the built-in templates and the instance's own.

A county that writes its own questionnaire, checklist or scheme keeps it in
``<instance>/definitions/*.yaml``; `pingyi validate` checks it, and from then on the desk and
the CLI offer it beside the built-ins, without anyone editing the installed package. A campaign
snapshots the text when it opens, as it does a built-in's, so a later edit never changes it.
"""
from __future__ import annotations

from pathlib import Path

from forms.errors import DefinitionError, Problem
from forms.loader import builtin_library, builtin_text, load_many
from forms.schema import Definition
from survey_app.config import instance_dir

_CACHE: dict[tuple, tuple[dict[str, Definition], dict[str, str]]] = {}


def definitions_folder() -> Path:
    return instance_dir() / "definitions"


def _own() -> tuple[dict[str, Definition], dict[str, str]]:
    """The instance's definitions by key, and their texts; read again whenever a file changes."""
    folder = definitions_folder()
    paths = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
    stamp = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in paths)
    if stamp not in _CACHE:
        loaded, problems = load_many(paths)
        problems += shadowing(loaded)
        if problems:  # a broken file is said, with its line, wherever the library is read
            raise DefinitionError(problems)
        _CACHE.clear()
        _CACHE[stamp] = ({d.key: d for d in loaded.values()},
                         {d.key: Path(path).read_text(encoding="utf-8-sig") for path, d in loaded.items()})
    return _CACHE[stamp]


def shadowing(loaded: dict[str, Definition]) -> list[Problem]:
    """Files that keep a built-in's key with other content (a copied template whose key was not
    changed): they would stand in for the built-in, unseen. Removed from ``loaded``."""
    builtins = builtin_library() if loaded else {}
    problems = []
    for path, definition in list(loaded.items()):
        if definition.key in builtins and \
                Path(path).read_text(encoding="utf-8-sig") != builtin_text(definition.key).lstrip("\ufeff"):
            problems.append(Problem(Path(path).name, None, "key",
                                    f"键“{definition.key}”是内置定义的键；复制内置定义后请改用一个新的键"
                                    "（key），否则它会冒充内置定义"))
            del loaded[path]
    return problems


def library() -> dict[str, Definition]:
    """Every definition by key: the built-ins, then the instance's own."""
    return {**builtin_library(), **_own()[0]}


def offered() -> tuple[dict[str, Definition], str]:
    """For the desk's choices: the library, or the built-ins and what is wrong with the instance's own
    files (a broken county file must not take the desk down with it)."""
    try:
        return library(), ""
    except DefinitionError as exc:
        return builtin_library(), str(exc)


def definition_text(key: str) -> str:
    """The YAML text a campaign snapshots for ``key``."""
    texts = _own()[1]
    return texts[key] if key in texts else builtin_text(key)
