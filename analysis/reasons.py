"""The reason trail of a grading: ordered, numbered steps a person can read and re-compute.

Each step is a :class:`Reason` holding the numbers it used and one line of Chinese text. The
grading engine (:mod:`analysis.grading`) appends steps as it goes; this module only formats them,
so the arithmetic and the words never drift apart. Numbers are rounded only when written out.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

KINDS: dict[str, str] = {
    "component": "得分项",
    "composite": "综合得分",
    "threshold": "分数线",
    "vote_share": "票数占比",
    "veto": "一票否决",
    "year_over_year": "与上年比较",
    "quota": "名额限制",
    "flag": "标记",
    "pay": "绩效挂钩",
    "final": "最终等次",
}


def fmt(value: float, digits: int = 4) -> str:
    """A number as a person writes it: at most ``digits`` decimals, no trailing zeros.

    Examples
    --------
    >>> fmt(69.2000000001), fmt(19.96), fmt(80.0), fmt(0.0525)
    ('69.2', '19.96', '80', '0.0525')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    text = f"{float(value):.{digits}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def quoted(names) -> str:
    """“a”、“b”: keys and values shown verbatim, in the Chinese quotes every message uses."""
    return "、".join(f"“{n}”" for n in names)


def pct(share: float, digits: int = 2) -> str:
    """A share as a percentage: ``pct(0.0525) == '5.25%'``.

    Examples
    --------
    >>> pct(0.0525), pct(1 / 3), pct(-0.2)
    ('5.25%', '33.33%', '-20%')
    """
    return f"{fmt(share * 100, digits)}%"


def apart(value: float, *lines: float, write=fmt, digits: int = 4) -> str:
    """``value`` written as ``write`` does, with as many more decimals as it takes not to read
    the same as a line it is compared with and differs from: a composite of 89.99997 beside the
    line 90 is written 89.99997, not "90 < 90".

    Examples
    --------
    >>> apart(89.99997, 80, 90), apart(89.16, 80, 90), apart(0.0999996, 0.1, write=pct, digits=2)
    ('89.99997', '89.16', '9.99996%')
    """
    for more in range(digits, 10):
        text = write(value, more)
        if all(round(value, 9) == round(line, 9) or text != write(line, more) for line in lines):
            return text
    return write(value, 9)


@dataclass(frozen=True)
class Reason:
    """One step of the trail: which subject, in which order, of what kind, with which numbers."""

    subject: str
    step: int
    kind: str
    text: str
    numbers: Mapping[str, Any] = field(default_factory=dict)


class Trail:
    """Collects the steps for every subject, numbering them per subject in the order added.

    Examples
    --------
    >>> trail = Trail()
    >>> trail.add("V01", "composite", "综合得分 = 69.2 + 19.96 = 89.16", composite=89.16)
    >>> trail.add("V01", "threshold", "89.16 ≥ 80（四星线），定为 四星", grade="四星")
    >>> trail.frame()[["subject", "step", "kind"]].values.tolist()
    [['V01', 1, 'composite'], ['V01', 2, 'threshold']]
    """

    def __init__(self) -> None:
        self._steps: list[Reason] = []
        self._count: dict[str, int] = {}

    def add(self, subject: str, kind: str, text: str, **numbers: Any) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown reason kind '{kind}' (known: {', '.join(KINDS)})")
        step = self._count.get(subject, 0) + 1
        self._count[subject] = step
        self._steps.append(Reason(subject, step, kind, text, dict(numbers)))

    def frame(self) -> pd.DataFrame:
        """The trail as a table: subject, step, kind, numbers (a dict), text."""
        return pd.DataFrame(
            [{"subject": r.subject, "step": r.step, "kind": r.kind, "numbers": dict(r.numbers),
              "text": r.text} for r in self._steps],
            columns=["subject", "step", "kind", "numbers", "text"])


def jsonable(value: Any) -> Any:
    """Plain Python for JSON: numpy scalars to numbers, NaN to None, tuples to lists.

    Examples
    --------
    >>> jsonable({"a": np.float64(1.5), "b": (np.int64(2), float("nan")), "c": np.bool_(True)})
    {'a': 1.5, 'b': [2, None], 'c': True}
    """
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(value) else float(value)
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, (str, int)):
        return value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def render_text(grades: pd.DataFrame, reasons: pd.DataFrame, title: str = "",
                rollup: pd.DataFrame | None = None) -> str:
    """One block per subject: a header with the final grade, then the numbered steps.

    Examples
    --------
    >>> grades = pd.DataFrame({"subject": ["V01"], "name": ["东村"], "grade": ["四星"],
    ...                        "composite": [89.16], "flags": [()]})
    >>> trail = Trail()
    >>> trail.add("V01", "composite", "综合得分 = 69.2 + 19.96 = 89.16")
    >>> print(render_text(grades, trail.frame(), "示例办法"))
    示例办法
    <BLANKLINE>
    【V01 东村】最终等次：四星（综合得分 89.16）
      1. 综合得分 = 69.2 + 19.96 = 89.16
    """
    lines: list[str] = [title] if title else []
    by_subject = {s: g for s, g in reasons.groupby("subject", sort=False)} if len(reasons) else {}
    for row in grades.itertuples(index=False):
        name = getattr(row, "name", "") or ""
        name = "" if not isinstance(name, str) else name
        header = f"【{row.subject}{' ' + name if name else ''}】最终等次：{row.grade}（综合得分 {fmt(row.composite)}）"
        flags: Sequence[str] = getattr(row, "flags", ()) or ()
        if flags:
            header += "；标记：" + "、".join(flags)
        if lines:
            lines.append("")
        lines.append(header)
        steps = by_subject.get(row.subject)
        if steps is not None:
            for step in steps.sort_values("step").itertuples(index=False):
                lines.append(f"  {step.step}. {step.text}")
    if rollup is not None and len(rollup):
        lines += ["", "【上级单位汇总】"]
        for row in rollup.itertuples(index=False):
            lines.append(f"  {row.parent}：{row.grade}。{row.text}")
    return "\n".join(lines)
