"""Printable QR slips: one anonymous voting code per slip, ten slips to an A4 page.

Slips are cut apart along the dashed lines and handed out at a village meeting. The hand-out
order must not reveal which code went to whom, so slips are shuffled with the operating
system's randomness before they are laid out.
"""
from __future__ import annotations

import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from reports.fonts import CJK_FONT_NAME, CODE_FONT_NAME, fit_text, register_fonts
from reports.qr import QUIET_ZONE, draw_qr, qr_matrices

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_GROUP = 5


class SlipTextError(ValueError):
    """A name too long to print on a slip, in the words of the person who chose it."""


@dataclass(frozen=True)
class Slip:
    """One voting code as the web app issued it."""

    url: str
    code: str
    campaign: str
    organisation: str
    rater_group: str
    sheet: str
    entry_url: str = ""


@dataclass(frozen=True)
class SlipGrid:
    """Where the cells sit on the page, in millimetres from the top-left corner.

    Public so tests and the benchmark can crop each slip out of a rendered page.
    """

    columns: int = 2
    rows: int = 5
    left_mm: float = 10.0
    top_mm: float = 12.0
    cell_width_mm: float = 95.0
    cell_height_mm: float = 55.0
    page_width_mm: float = 210.0
    page_height_mm: float = 297.0

    @property
    def per_page(self) -> int:
        return self.columns * self.rows

    def cell_box_mm(self, position: int) -> tuple[float, float, float, float]:
        """(left, top, right, bottom) of the cell at ``position`` (row-major, 0-based)."""
        if not 0 <= position < self.per_page:
            raise ValueError(f"cell position {position} outside 0..{self.per_page - 1}")
        row, column = divmod(position, self.columns)
        left = self.left_mm + column * self.cell_width_mm
        top = self.top_mm + row * self.cell_height_mm
        return left, top, left + self.cell_width_mm, top + self.cell_height_mm

    def locate(self, index: int) -> tuple[int, int]:
        """(page, position) of the ``index``-th slip in print order, both 0-based."""
        return divmod(index, self.per_page)


GRID = SlipGrid()

# Cell layout, in mm from the cell's top-left corner. The campaign runs across the top, the QR
# sits below it on the left with the organisation and code beside it, the instruction below.
_PAD_MM = 3.5
_HEADER_BASELINE_MM = 5.0
_QR_BOX_MM = 38.0  # symbol plus quiet zone; a version-4 symbol comes out at 30.6 mm
_QR_LEFT_MM = 1.0
_QR_TOP_MM = 6.5
_TEXT_LEFT_MM = _QR_LEFT_MM + _QR_BOX_MM + 0.5
_FOOT_TOP_MM = _QR_TOP_MM + _QR_BOX_MM + 0.5
_CODE_SIZE = 17.0
_LABEL_SIZE = 7.0


def format_code(code: str) -> str:
    """Show the code in groups of five, the way the voter will type it."""
    plain = code.replace("-", "").replace(" ", "").upper()
    bad = sorted({ch for ch in plain if ch not in CODE_ALPHABET})
    if not plain or bad:
        raise ValueError(
            f"code {code!r} must use only {CODE_ALPHABET}; found {''.join(bad) or 'nothing'}"
        )
    return "-".join(plain[i:i + CODE_GROUP] for i in range(0, len(plain), CODE_GROUP))


def instruction(entry_url: str) -> str:
    """The one line that tells a villager what to do and that the vote is anonymous."""
    if entry_url:
        how = f"用手机扫描二维码，或在 {entry_url} 输入测评码"
    else:
        how = "用手机扫描二维码参与测评"
    return f"{how}；每个测评码只能使用一次；测评不记名。"


def order_slips(
    slips: Sequence[Slip], *, shuffle: bool = True, rng: random.Random | None = None
) -> list[Slip]:
    """The print order; shuffled so the pile handed out says nothing about who got which code.

    ``secrets.SystemRandom`` is the default because a seeded generator could be replayed to
    link codes to hand-out order. Pass ``rng`` only in tests and benchmarks.
    """
    ordered = list(slips)
    if shuffle:
        (rng if rng is not None else secrets.SystemRandom()).shuffle(ordered)
    return ordered


def write_slips(
    slips: Sequence[Slip],
    path: str | Path,
    *,
    shuffle: bool = True,
    rng: random.Random | None = None,
    workers: int = 1,
    compress: bool = True,
) -> int:
    """Write the slips to a PDF at ``path`` and return the number of pages.

    ``workers`` > 1 encodes the QR matrices on that many forked processes (worth it from a few
    thousand slips; keep 1 inside a threaded web server). ``compress`` deflates the page
    streams: 10,000 slips take 6 MB instead of 38 MB for about 15 % more CPU time.
    """
    if not slips:
        raise ValueError("no slips to write: issue voting codes before printing slips")
    ordered = order_slips(slips, shuffle=shuffle, rng=rng)
    codes = []
    for slip in ordered:
        if not slip.url:
            raise ValueError(f"slip with code {slip.code!r} has no URL to encode")
        try:
            codes.append(format_code(slip.code))
        except ValueError as exc:
            raise ValueError(f"slip for {slip.url}: {exc}") from None
    matrices = qr_matrices([slip.url for slip in ordered], workers=workers)

    register_fonts()
    page_count = -(-len(ordered) // GRID.per_page)
    canvas = Canvas(path if hasattr(path, "write") else str(path), pagesize=A4, pageCompression=1 if compress else 0,
                    initialFontName=CJK_FONT_NAME)  # not Helvetica, which would go unembedded into the file
    canvas.setTitle("测评码凭条")
    canvas.setCreator("pingyi reports.slips")
    for page in range(page_count):
        start = page * GRID.per_page
        stop = start + GRID.per_page
        _draw_page(canvas, ordered[start:stop], codes[start:stop], matrices[start:stop],
                   page + 1, page_count)
        canvas.showPage()
    canvas.save()
    return page_count


def _cell_origin(position: int) -> tuple[float, float]:
    """Top-left corner of a cell in PDF points (y up from the page bottom)."""
    left, top, _, _ = GRID.cell_box_mm(position)
    return left * mm, (GRID.page_height_mm - top) * mm


def _draw_page(
    canvas: Canvas,
    slips: Sequence[Slip],
    codes: Sequence[str],
    matrices: Sequence[Sequence[bytearray]],
    page_number: int,
    page_count: int,
) -> None:
    # Each kind of element is drawn for all cells in one pass, so fonts, dash patterns and
    # colours are set once per page rather than once per slip.
    _draw_cut_lines(canvas, rows=-(-len(slips) // GRID.columns))
    origins = [_cell_origin(position) for position in range(len(slips))]
    side_width = (GRID.cell_width_mm - _TEXT_LEFT_MM - _PAD_MM) * mm
    full_width = (GRID.cell_width_mm - 2 * _PAD_MM) * mm

    canvas.setFillGray(0)
    symbol_edges = []
    for (x, top), matrix in zip(origins, matrices):
        module = _QR_BOX_MM * mm / (len(matrix) + 2 * QUIET_ZONE)
        symbol_top = top - _QR_TOP_MM * mm - QUIET_ZONE * module
        draw_qr(canvas, matrix, x + _QR_LEFT_MM * mm + QUIET_ZONE * module, symbol_top, module)
        symbol_edges.append((symbol_top, symbol_top - len(matrix) * module))

    text = canvas.beginText()
    text.setFont(CJK_FONT_NAME, 7)
    text.setFillGray(0.35)
    text.setTextOrigin(GRID.left_mm * mm, (GRID.page_height_mm - GRID.top_mm + 3.5) * mm)
    text.textOut(f"测评码凭条　第 {page_number} 页 / 共 {page_count} 页　"
                 "沿虚线裁开，每人一张，随机发放")
    text.setFillGray(0)
    font_size = 7.0

    def lines(content: str, size: float, width: float, max_lines: int, min_size: float,
              x: float, y: float, leading: float = 1.2) -> float:
        nonlocal font_size
        fitted, wrapped = fit_text(content, CJK_FONT_NAME, size, width, max_lines, min_size)
        if fitted != font_size:
            text.setFont(CJK_FONT_NAME, fitted)
            font_size = fitted
        for line in wrapped:
            text.setTextOrigin(x, y)
            text.textOut(line)
            y -= fitted * leading
        return y + fitted * leading - fitted * 0.25  # bottom of the last line's descenders

    for (x, top), slip in zip(origins, slips):
        try:
            lines(slip.campaign, 8.5, full_width, 1, 6.0, x + _PAD_MM * mm,
                  top - _HEADER_BASELINE_MM * mm)
        except ValueError:
            raise SlipTextError(f"测评活动名称“{slip.campaign}”太长，测评码凭条上一行排不下；"
                                "请缩短活动名称后再发放") from None
    for (x, top), slip, (symbol_top, symbol_bottom) in zip(origins, slips, symbol_edges):
        tx = x + _TEXT_LEFT_MM * mm
        too_long = SlipTextError(f"组织名称“{slip.organisation}”和测评票名称“{slip.sheet}”太长，测评码凭条上"
                                 "二维码旁排不下；请缩短组织名称或测评票名称后再发放")
        try:
            y = lines(slip.organisation, 12.5, side_width, 2, 8.0, tx, symbol_top - 10.5)
            y = lines(f"参评身份：{slip.rater_group}", 9.0, side_width, 1, 6.5, tx,
                      y - 1.5 * mm - 7.5)
            y = lines(slip.sheet, 7.5, side_width, 2, 6.0, tx, y - 1.0 * mm - 6.5)
        except ValueError:
            raise too_long from None
        label_baseline = symbol_bottom + _CODE_SIZE * 0.75 + 2.0 * mm
        if y < label_baseline + _LABEL_SIZE:
            raise too_long
    text.setFont(CJK_FONT_NAME, _LABEL_SIZE)
    font_size = _LABEL_SIZE
    for (x, _), (_, symbol_bottom) in zip(origins, symbol_edges):
        text.setTextOrigin(x + _TEXT_LEFT_MM * mm, symbol_bottom + _CODE_SIZE * 0.75 + 2.0 * mm)
        text.textOut("测评码（手工输入用）")
    for (x, top), slip in zip(origins, slips):
        size = 7.0
        lines(instruction(slip.entry_url), size, full_width, 2, 5.5, x + _PAD_MM * mm,
              top - _FOOT_TOP_MM * mm - size, leading=1.35)
    canvas.drawText(text)

    code_text = canvas.beginText()
    code_text.setFont(CODE_FONT_NAME, _CODE_SIZE)
    for (x, _), code, (_, symbol_bottom) in zip(origins, codes, symbol_edges):
        # Baseline on the symbol's bottom edge, so code and QR line up as one block.
        code_text.setTextOrigin(x + _TEXT_LEFT_MM * mm, symbol_bottom + 0.5)
        code_text.textOut(code)
    canvas.drawText(code_text)


def _draw_cut_lines(canvas: Canvas, rows: int) -> None:
    # Only around rows that hold slips, so a part-filled last page has no empty cells to cut.
    left = GRID.left_mm * mm
    right = (GRID.left_mm + GRID.columns * GRID.cell_width_mm) * mm
    top = (GRID.page_height_mm - GRID.top_mm) * mm
    bottom = (GRID.page_height_mm - GRID.top_mm - rows * GRID.cell_height_mm) * mm
    canvas.saveState()
    canvas.setStrokeGray(0.45)
    canvas.setLineWidth(0.5)
    canvas.setDash(4, 3)
    path = canvas.beginPath()
    for column in range(GRID.columns + 1):
        x = left + column * GRID.cell_width_mm * mm
        path.moveTo(x, bottom)
        path.lineTo(x, top)
    for row in range(rows + 1):
        y = top - row * GRID.cell_height_mm * mm
        path.moveTo(left, y)
        path.lineTo(right, y)
    canvas.drawPath(path, stroke=1, fill=0)
    canvas.restoreState()
