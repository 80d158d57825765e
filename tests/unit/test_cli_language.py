"""The ``pingyi`` command speaks Chinese around its own messages too: click's usage, headings and errors."""
from __future__ import annotations

import re
import string
from pathlib import Path

import click
import pytest
from babel.messages.extract import extract_from_dir

from survey_app.cli import language

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
