"""Click's own words in Chinese: usage lines, headings, ``--help``, and its errors.

Every message of pingyi's commands is Chinese; click's frame around them (``Usage:``,
``Error: Missing option '--sheet'.``, ``Try 'pingyi grade --help' for help.``) came out in English.
Click takes these from the standard library's gettext, bound at import into each of its modules
as ``_`` and ``ngettext``, which reads the system's locale: on a county office's server that is
C or en_US, and a catalogue installed for gettext would not be found. So pingyi binds its own
lookups into those modules, once, before a command is built (``click.Path`` names its kind,
file or directory, when it is constructed). ``tests/unit/test_cli_language.py`` checks the table
against the messages of the installed click, so an upgrade that adds one shows up there.
"""
from __future__ import annotations

import functools
import importlib
import re

# Click's message ids (its source text, placeholders and all) → Chinese. A placeholder keeps its
# name; its conversion may differ ({value} where click has {value!r}, to quote in Chinese).
ZH = {
    "%(prog)s, version %(version)s": "%(prog)s，版本 %(version)s",
    "(dynamic)": "（动态）",
    "Aborted!": "已中止。",
    "Argument {name!r} takes {nargs} values.": "参数 {name!r} 需要 {nargs} 个值。",
    "Arguments take exactly one parameter declaration, got {length}: {decls}.":
        "参数只能有一个声明，却给了 {length} 个：{decls}。",
    "Boolean option {decl!r} cannot use the same flag for true/false.":
        "布尔选项 {decl!r} 的“是”和“否”不能用同一个开关。",
    "Choice({choices})": "选项（{choices}）",
    "Choose from:\n\t{choices}": "请从以下选择：\n\t{choices}",
    "Commands": "命令",
    "Confirm the action without prompting.": "不再询问，直接确认。",
    "Could not determine name for option with declarations {decls!r}": "无法从声明 {decls!r} 确定选项名",
    "Could not open file {filename!r}: {message}": "无法打开文件 {filename!r}：{message}",
    "Couldn't detect Bash version, shell completion is not supported.": "无法识别 Bash 版本，不支持命令补全。",
    "DeprecationWarning: The command {name!r} is deprecated.{extra_message}":
        "注意：命令 {name!r} 已弃用。{extra_message}",
    "DeprecationWarning: The {param_type} {name!r} is deprecated.{extra_message}":
        "注意：{param_type} {name!r} 已弃用。{extra_message}",
    "Do you want to continue?": "是否继续？",
    "Error: The two entered values do not match.": "错误：两次输入的值不一致。",
    "Error: invalid input": "错误：输入无效",
    "Error: {message}": "错误：{message}",
    "Invalid start character for option ({option})": "选项的开头字符无效（{option}）",
    "Invalid value for {param_hint}: {message}": "{param_hint} 的值无效：{message}",
    "Invalid value: {message}": "值无效：{message}",
    "Missing argument": "缺少参数",
    "Missing command.": "缺少命令。",
    "Missing option": "缺少选项",
    "Missing parameter": "缺少参数",
    "Missing parameter: {param_name}": "缺少参数：{param_name}",
    "Missing {param_type}": "缺少{param_type}",
    "Name '{name}' defined twice": "名称“{name}”定义了两次",
    "No options defined but a name was passed ({name}). Did you mean to declare an argument instead? "
    "Did you mean to pass '--{name}'?":
        "没有定义选项却给了名称（{name}）。是要声明一个参数，还是要写成“--{name}”？",
    "No such command {name!r}.": "没有命令 {name!r}。",
    "No such option {name!r}.": "没有选项 {name!r}。",
    "Option {name!r} does not take a value.": "选项 {name!r} 不带值。",
    "Options": "选项",
    "Positional arguments": "位置参数",
    "Press any key to continue...": "按任意键继续……",
    "Repeat for confirmation": "请再输入一次以确认",
    "Shell completion is not supported for Bash versions older than 4.4.": "Bash 4.4 以下的版本不支持命令补全。",
    "Show the version and exit.": "显示版本号并退出。",
    "Show this message and exit.": "显示本帮助并退出。",
    "Try '{command} {option}' for help.": "运行“{command} {option}”查看帮助。",
    "Unknown color {colour!r}": "未知颜色 {colour!r}",
    "Unknown standard stream '{name}'": "未知的标准流“{name}”",
    "Usage:": "用法:",
    "Value must be an iterable.": "值必须是可迭代的。",
    "Windows error: {error}": "Windows 错误：{error}",
    "d": "d",
    "default: {default}": "默认：{default}",
    "deprecated": "已弃用",
    "directory": "目录",
    "env var: {var}": "环境变量：{var}",
    "file": "文件",
    "path": "路径",
    "required": "必填",
    "unknown error": "未知错误",
    "{editor}: Editing failed": "{editor}：编辑失败",
    "{editor}: Editing failed: {e}": "{editor}：编辑失败：{e}",
    "{name} {filename!r} does not exist.": "{name} {filename!r} 不存在。",
    "{name} {filename!r} is a directory.": "{name} {filename!r} 是目录。",
    "{name} {filename!r} is a file.": "{name} {filename!r} 是文件。",
    "{name} {filename!r} is not executable.": "{name} {filename!r} 不可执行。",
    "{name} {filename!r} is not readable.": "{name} {filename!r} 没有读权限。",
    "{name} {filename!r} is not writable.": "{name} {filename!r} 没有写权限。",
    "{value!r} is not a valid UUID.": "{value!r} 不是有效的 UUID。",
    "{value!r} is not a valid boolean. Recognized values: {states}":
        "{value!r} 不是有效的是/否值。可用的值：{states}",
    "{value!r} is not a valid {number_type}.": "{value!r} 不是有效的数值（{number_type}）。",
    "{value} is not in the range {range}.": "{value} 不在范围 {range} 内。",
}

# Chinese says a count without a plural form: one text for both of click's.
ZH_PLURAL = {
    "Did you mean {possibility}?": "是不是要用 {possibility}？",
    "Got unexpected extra argument ({args})": "多出了参数（{args}）",
    "Option {name!r} requires an argument.": "选项 {name!r} 需要 {nargs} 个值。",
    "Takes {nargs} values but 1 was given.": "需要 {nargs} 个值，却给了 {len} 个。",
    "{len_type} values are required, but {len_value} was given.": "需要 {len_type} 个值，却给了 {len_value} 个。",
    "{value!r} does not match the format {format}.": "{value!r} 不符合格式 {formats}。",
    "{value!r} is not {choice}.": "{value!r} 不是 {choices} 之一。",
}

CLICK_MODULES = ("core", "decorators", "exceptions", "formatting", "parser", "types", "termui", "utils",
                 "shell_completion", "_termui_impl")


def gettext(message: str) -> str:
    return ZH.get(message, message)


def ngettext(singular: str, plural: str, count: int) -> str:
    return ZH_PLURAL.get(singular, singular if count == 1 else plural)


# Click joins its pieces with English stops: "缺少选项 '--sheet'." and "没有命令 'x'。 是不是…".
_STOP = re.compile(r"(?<=[\u4e00-\u9fff'’”）])\.(?=\s|$)")


def tidy(text: str) -> str:
    return _STOP.sub("。", text).replace("。 ", "。")


def _tidied(format_message):  # type: ignore[no-untyped-def]
    if getattr(format_message, "tidied", False):
        return format_message

    @functools.wraps(format_message)
    def wrapper(self) -> str:  # type: ignore[no-untyped-def]
        return tidy(format_message(self))

    wrapper.tidied = True  # type: ignore[attr-defined]
    return wrapper


def install() -> None:
    """Bind the Chinese lookups into click's modules (idempotent)."""
    for name in CLICK_MODULES:
        module = importlib.import_module(f"click.{name}")
        if hasattr(module, "_"):
            module._ = gettext  # type: ignore[attr-defined]
        if hasattr(module, "ngettext"):
            module.ngettext = ngettext  # type: ignore[attr-defined]
    from click import exceptions

    for cls in (exceptions.MissingParameter, exceptions.NoSuchOption, exceptions.NoSuchCommand):
        cls.format_message = _tidied(cls.format_message)  # type: ignore[method-assign]
