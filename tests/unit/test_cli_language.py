"""The ``pingyi`` command speaks Chinese around its own messages too: click's usage, headings and errors."""
from __future__ import annotations

import re
import string
from pathlib import Path

import click
import pytest
from babel.messages.extract import extract_from_dir

from survey_app.cli import columns, language

PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _names(text: str) -> set[str]:
    """The names a message is formatted with: {name!r}, {name} and %(name)s."""
    fields = {field.split(".")[0].split("[")[0] for _, field, _, _ in string.Formatter().parse(text) if field}
    return fields | set(PLACEHOLDER.findall(text))


def _click_messages() -> tuple[set[str], dict[str, str]]:
    singular, plural = set(), {}
    for _file, _line, message, _comments, _context in extract_from_dir(
            Path(click.__file__).parent, method_map=[("**.py", "python")],
            keywords={"_": None, "ngettext": (1, 2)}):
        if isinstance(message, tuple):
            plural[message[0]] = message[1]
        else:
            singular.add(message)
    return singular, plural


def test_every_message_of_the_installed_click_has_chinese_with_only_the_names_it_is_given():
    singular, plural = _click_messages()
    assert len(singular) > 50 and len(plural) >= 5  # the extraction itself works
    assert sorted(singular - language.ZH.keys() - {"required"}) == []
    assert sorted(plural.keys() - language.ZH_PLURAL.keys()) == []
    for source, chinese in language.ZH.items():
        assert _names(chinese) <= _names(source), source
        assert not re.search(r"[A-Za-z]{4,}", re.sub(r"\{[^}]*\}|%\(\w+\)s", "", chinese)) or "Windows" in chinese \
            or "Bash" in chinese or "UUID" in chinese, chinese
    for source, chinese in language.ZH_PLURAL.items():
        assert _names(chinese) <= _names(source) | _names(plural[source]), source


def test_help_reads_in_chinese(pingyi_bare):
    result = pingyi_bare("--help")
    assert result.exit_code == 0
    assert result.output.startswith("用法: pingyi [OPTIONS] COMMAND [ARGS]...")
    assert "\n选项:\n" in result.output and "\n命令:\n" in result.output
    assert "显示本帮助并退出。" in result.output and "显示版本号并退出。" in result.output
    for english in ("Usage:", "Options:", "Commands:", "Show this message"):
        assert english not in result.output


@pytest.mark.parametrize(("args", "expected"), [
    (["issue-tokens", "demo-2026", "--sheet", "s", "--count", "0", "--out", "slips.pdf"],
     "错误：'--count' 的值无效：0 不在范围 1<=x<=20000 内。"),
    (["issue-tokens", "demo-2026", "--count", "3", "--out", "slips.pdf"], "错误：缺少选项 '--sheet'。"),
    (["analyz"], "错误：没有命令 'analyz'。是不是要用 'analyze'？"),
    (["turnout", "--cs"], "错误：没有选项 '--cs'。是不是要用 '--csv'？"),
    (["turnout", "a", "b"], "错误：多出了参数（b）"),
    (["analyze", "--ratings", "no-such-file.csv", "--out", "out"],
     "错误：'--ratings' 的值无效：文件 'no-such-file.csv' 不存在。"),
])
def test_a_mistyped_command_is_told_in_chinese_with_where_to_find_help(pingyi_bare, args, expected):
    result = pingyi_bare(*args)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines[-1] == expected
    command = "pingyi" if args[0] == "analyz" else f"pingyi {args[0]}"
    assert f"运行“{command} --help”查看帮助。" in lines


def test_punctuation_is_tidied_only_after_chinese_or_a_quote():
    assert language.tidy("缺少选项 '--sheet'.") == "缺少选项 '--sheet'。"
    assert language.tidy("没有命令 'x'。 是不是要用 'y'？") == "没有命令 'x'。是不是要用 'y'？"
    assert language.tidy("值 1.5 不在 0.5 到 2.") == "值 1.5 不在 0.5 到 2."


def _pages(pingyi_bare) -> dict[str, str]:
    top = pingyi_bare("--help").output
    names = [line.split()[0] for line in top.split("\n命令:\n")[1].splitlines() if line.strip()]
    return {"pingyi": top, **{name: pingyi_bare(name, "--help").output for name in names}}


def test_every_help_page_fits_an_80_column_terminal_as_it_shows_chinese(pingyi_bare):
    pages = _pages(pingyi_bare)
    assert len(pages) > 15
    for name, page in pages.items():
        for line in page.splitlines():
            assert columns.columns(line) <= 80, f"{name}: {line}"
            assert not line.strip() or line.strip()[0] not in columns.CLOSING, f"{name}: {line}"
    # an option's help starts in one column for every option, metavars 文件 and 目录 included
    grade = [line for line in pages["grade"].splitlines() if line.startswith("  --")]
    starts = {columns.columns(line[:len(line) - len(line.split("  ", 2)[-1].lstrip())]) for line in grade}
    assert len(grade) == 8 and len(starts) == 1, grade


def test_every_command_and_option_of_pingyis_own_is_explained_in_chinese():
    from survey_app.cli import analysis, campaigns, database, definitions, demo, grading, imports, serve, users

    chinese = re.compile(r"[\u4e00-\u9fff]")
    for module in (analysis, campaigns, database, definitions, demo, grading, imports, serve, users):
        for command in module.COMMANDS:
            assert chinese.search(command.help or ""), command.name
            for param in command.params:
                if isinstance(param, click.Option):
                    assert chinese.search(param.help or ""), f"{command.name} {param.opts}"


def test_chinese_wraps_between_characters_but_never_before_a_closing_mark():
    text = "清单评分（.xlsx 或 .csv，列：组织编码、指标编码、得分，可加评分阶段）；否决项填在名为“否决项”的工作表里。"
    lines = click.formatting.wrap_text(text, 20).splitlines()
    assert "".join(line.strip() for line in lines).replace(" ", "") == text.replace(" ", "")
    assert all(columns.columns(line) <= 20 for line in lines), lines
    assert all(line[0] not in columns.CLOSING and line.rstrip()[-1] not in columns.OPENING for line in lines), lines
    assert ".xlsx" in "".join(lines) and ".csv" in "".join(lines), "a word is not broken"
    assert columns.pieces("见[必填]项，x.csv）") == ["见", "[必", "填]", "项，", "x.csv）"]
    assert columns.pieces("[默认：1]") == ["[默认：1]"]
