"""YAML read into plain containers that remember the line each key and entry came from.

PyYAML's composed node tree knows every line; the constructed dicts do not.  Converting the
node tree ourselves keeps the lines so that a validation message can say ``第 14 行``.
"""
from __future__ import annotations

from typing import Any

import yaml


class LDict(dict):
    """A mapping that knows its own line and the line of each key."""

    line: int
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class LList(list):
    """A sequence that knows its own line and the line of each entry."""

    line: int
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


class DuplicateKey(ValueError):
    def __init__(self, key: str, line: int):
        self.key, self.line = key, line
        super().__init__(f"键“{key}”出现了两次")


# An alias is the same composed node again, and converting it copies it: nested aliases grow ten
# times per level ("billion laughs"). No definition comes near this many values.
MAX_NODES = 200_000


class TooManyNodes(ValueError):
    def __init__(self, line: int):
        self.line = line
        super().__init__(f"文件展开后超过 {MAX_NODES:,} 个值（层层嵌套的别名“*”），不像是一份定义，没有读取")


def _convert(node: yaml.Node, budget: list[int] | None = None) -> Any:
    budget = budget if budget is not None else [MAX_NODES]
    budget[0] -= 1
    if budget[0] < 0:
        raise TooManyNodes(node.start_mark.line + 1)
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out = LDict()
        out.line, out.key_lines = line, {}
        for key_node, value_node in node.value:
            # A key is a name, never a value: YAML 1.1 would read ``on:`` as ``True:``.
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(_convert(key_node, budget))
            if key in out:
                raise DuplicateKey(key, key_node.start_mark.line + 1)
            out[key] = _convert(value_node, budget)
            out.key_lines[key] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        out_list = LList(_convert(child, budget) for child in node.value)
        out_list.line = line
        out_list.item_lines = [child.start_mark.line + 1 for child in node.value]
        return out_list
    return _scalar(node)


def _scalar(node: yaml.ScalarNode) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


def parse(text: str) -> Any:
    """Parse one YAML document into LDict/LList/scalars; raises yaml.YAMLError, DuplicateKey or
    TooManyNodes."""
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    if node is None:
        return None
    return _convert(node)
