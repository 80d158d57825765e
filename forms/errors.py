"""Errors that point at the place in a definition file a person has to fix."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a definition: where it is and what to do about it."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file} 第 {self.line} 行" if self.line else self.file
        return f"{where}：{self.message}"


class DefinitionError(ValueError):
    """A definition that cannot be used; ``problems`` lists every fault found, in file order."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=lambda p: (p.file, p.line or 0))
        super().__init__("\n".join(str(p) for p in self.problems))
