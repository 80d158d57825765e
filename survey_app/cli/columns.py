"""Help laid out by what a terminal shows: a Chinese character takes two columns, not one.

Click measures text by counting characters, so a Chinese help text it believes fits in 80
columns can run to 160 on screen, a line breaks only at spaces (Chinese has none), and a
metavar such as 文件 pushes its help out of the column. Click routes every measurement of its
help formatter and wrapper through ``term_len``; pingyi gives those modules one that counts
display columns, and a wrapper that may break between any two Chinese characters but never
puts a closing mark (，。）) at the start of a line or leaves an opening one (（“) at the end.
"""
from __future__ import annotations

import importlib
import unicodedata

OPENING = "（“‘《「『【〔"
CLOSING = "，。；：、？！）”’》」』】〕…"
_OPEN, _CLOSE = OPENING + "([{", CLOSING + ")]},.;:!?"  # and the ASCII ones, when they touch a Chinese word


def wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in "WF"


def columns(text: str) -> int:
    """Display columns, without the ANSI colour codes click may put around a word."""
    from click._compat import _ansi_re

    text = _ansi_re.sub("", text)
    return sum(2 if wide(c) else 0 if unicodedata.combining(c) else 1 for c in text)


def pieces(chunk: str) -> list[str]:
    """Where a line may break inside ``chunk``: between Chinese characters, not inside a word,
    nor inside a bracketed note such as click's ``[默认：1]``."""
    if chunk.startswith("[") and chunk.endswith("]"):
        return [chunk]
    out: list[str] = []
    for char in chunk:
        if out and (char in _CLOSE or out[-1][-1] in _OPEN or not (wide(char) or wide(out[-1][-1]))):
            out[-1] += char
        else:
            out.append(char)
    return out


def _cut(text: str, width: int) -> str:
    """The longest start of ``text`` that fits in ``width`` columns (at least one character)."""
    used = 0
    for index, char in enumerate(text):
        used += columns(char)
        if used > width:
            return text[:max(index, 1)]
    return text


def install() -> None:
    """Give click's formatter and wrapper the measure of a terminal (idempotent)."""
    textwrap = importlib.import_module("click._textwrap")
    formatting = importlib.import_module("click.formatting")
    clicks = getattr(textwrap.TextWrapper, "clicks_own", textwrap.TextWrapper)

    class TextWrapper(clicks):  # type: ignore[misc, valid-type]
        clicks_own = clicks

        def _split(self, text: str) -> list[str]:
            return [p for chunk in super()._split(text) for p in pieces(chunk)]

        def _handle_long_word(self, reversed_chunks: list[str], cur_line: list[str], cur_len: int,
                              width: int) -> None:
            if self.break_long_words:
                cut = _cut(reversed_chunks[-1], max(width - cur_len, 1))
                cur_line.append(cut)
                reversed_chunks[-1] = reversed_chunks[-1][len(cut):]
            elif not cur_line:
                cur_line.append(reversed_chunks.pop())

    textwrap.TextWrapper = TextWrapper
    textwrap.term_len = formatting.term_len = columns
