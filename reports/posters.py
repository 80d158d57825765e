"""Wall posters with one public QR code, for open (non-anonymous-code) satisfaction polls.

The poster hangs in a village office; people scan it from a metre away, so the symbol is
110 mm wide and the titles are readable across the room.
"""
from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

from reports.fonts import CJK_FONT_NAME, CODE_FONT_NAME, fit_text, register_fonts
from reports.qr import QUIET_ZONE, draw_qr, qr_matrix

#: Width of the QR symbol itself, quiet zone excluded; long names may take it down to the smallest.
POSTER_QR_MM = 110.0
SMALLEST_QR_MM = 80.0
DEFAULT_NOTE = "本二维码为公开测评码，每台手机限投一次；测评不记名，请如实评价。"
STEPS = (
    "1. 打开手机微信或相机，扫描上方二维码；",
    "2. 按页面提示逐项选择评价并提交；",
    "3. 提交后即完成测评，无需填写姓名。",
)

_PAGE_WIDTH, _PAGE_HEIGHT = A4
_MARGIN = 18 * mm
_RED = (0.75, 0.05, 0.05)


class PosterTextError(ValueError):
    """Names too long for the poster, in the words of the person who chose them."""


@dataclass(frozen=True)
class Poster:
    """One public poll link as the web app issued it."""

    url: str
    campaign: str
    organisation: str
    rater_group: str
    sheet: str
    note: str = ""


def write_posters(posters: Sequence[Poster], path: str | Path | BinaryIO) -> int:
    """Write one A4 page per poster to ``path`` and return the number of pages."""
    if not posters:
        raise ValueError("no posters to write: create a public link before printing posters")
    for poster in posters:
        if not poster.url:
            raise ValueError(f"poster for {poster.organisation!r} has no URL to encode")
    register_fonts()
    sizes = [_fitting_symbol(poster) for poster in posters]  # before a byte is written
    canvas = Canvas(path if hasattr(path, "write") else str(path), pagesize=A4, pageCompression=1,
                    initialFontName=CJK_FONT_NAME)  # not Helvetica, which would go unembedded into the file
    canvas.setTitle("测评二维码海报")
    canvas.setCreator("pingyi reports.posters")
    for poster, symbol_mm in zip(posters, sizes):
        _draw_poster(canvas, poster, symbol_mm)
        canvas.showPage()
    canvas.save()
    return len(posters)


def _fitting_symbol(poster: Poster) -> float:
    """The largest QR size, from 110 mm down to 80, at which the poster ends above the bottom margin:
    two-line campaign and village names and a note used to push the last box off the page."""
    symbol_mm = POSTER_QR_MM
    while symbol_mm >= SMALLEST_QR_MM:
        try:
            bottom = _draw_poster(Canvas(io.BytesIO(), pagesize=A4), poster, symbol_mm)
        except ValueError:  # a name that fits in its lines at no size
            raise PosterTextError(f"测评活动、组织或测评票名称太长，海报上排不下（“{poster.sheet}”）；"
                                  "请缩短名称后再打印") from None
        if bottom >= _MARGIN:
            return symbol_mm
        symbol_mm -= 5.0
    raise PosterTextError(f"海报内容太多，一页排不下（“{poster.organisation}”，说明“{poster.note}”）；"
                          "请缩短说明或名称后再打印")


def _centred_lines(
    canvas: Canvas, text: str, size: float, y: float, *, max_lines: int = 2,
    min_size: float = 10.0, leading: float = 1.3,
) -> float:
    """Draw wrapped, centred text from baseline ``y`` down; return the y below the block."""
    width = _PAGE_WIDTH - 2 * _MARGIN
    fitted, lines = fit_text(text, CJK_FONT_NAME, size, width, max_lines, min_size)
    canvas.setFont(CJK_FONT_NAME, fitted)
    for line in lines:
        canvas.drawCentredString(_PAGE_WIDTH / 2, y, line)
        y -= fitted * leading
    return y


def _draw_poster(canvas: Canvas, poster: Poster, symbol_mm: float = POSTER_QR_MM) -> float:
    """Draw the poster; return the y of its lowest ink."""
    centre = _PAGE_WIDTH / 2
    y = _PAGE_HEIGHT - _MARGIN - 24
    canvas.setFillGray(0.2)
    y = _centred_lines(canvas, poster.campaign, 20, y)
    canvas.setFillGray(0)
    y = _centred_lines(canvas, poster.organisation, 34, y - 16, min_size=16)
    canvas.setFillColorRGB(*_RED)
    y = _centred_lines(canvas, f"{poster.rater_group}满意度测评 — 扫码参与", 28, y - 10,
                       max_lines=1, min_size=14)
    canvas.setStrokeColorRGB(*_RED)
    canvas.setLineWidth(1.5)
    canvas.line(_MARGIN, y + 8, _PAGE_WIDTH - _MARGIN, y + 8)
    canvas.setFillGray(0.25)
    y = _centred_lines(canvas, poster.sheet, 14, y - 10, max_lines=1, min_size=9)

    matrix = qr_matrix(poster.url)
    module = symbol_mm * mm / len(matrix)
    qr_top = y - QUIET_ZONE * module + 10
    canvas.setFillGray(0)
    draw_qr(canvas, matrix, centre - symbol_mm * mm / 2, qr_top, module)
    url_size = 10
    # the quiet zone ends where the URL's tallest letters begin (and a little more), not at its baseline
    y = qr_top - symbol_mm * mm - (QUIET_ZONE + 1) * module - pdfmetrics.getAscent(CODE_FONT_NAME, url_size)

    canvas.setFillGray(0.3)
    canvas.setFont(CODE_FONT_NAME, url_size)
    canvas.drawCentredString(centre, y, poster.url)
    y -= 36
    canvas.setFillGray(0)
    canvas.setFont(CJK_FONT_NAME, 15)
    steps_left = centre - max(canvas.stringWidth(step, CJK_FONT_NAME, 15) for step in STEPS) / 2
    for step in STEPS:
        canvas.drawString(steps_left, y, step)
        y -= 15 * 1.6
    y -= 10
    notes = [DEFAULT_NOTE] + ([poster.note] if poster.note else [])
    canvas.setStrokeColorRGB(*_RED)
    canvas.setLineWidth(1)
    box_top = y + 8
    for note in notes:
        canvas.setFillColorRGB(*_RED)
        y = _centred_lines(canvas, note, 13, y - 14, max_lines=2, min_size=9)
    canvas.roundRect(_MARGIN, y + 4, _PAGE_WIDTH - 2 * _MARGIN, box_top - y - 4, 6,
                     stroke=1, fill=0)
    return y + 4
