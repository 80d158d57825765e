"""QR codes as vector paths, drawn straight onto a reportlab canvas.

A county prints tens of thousands of slips per campaign, so we never rasterise a QR image: we
take the module matrix from segno with a fixed mask (mask selection is almost half of the
encoding time, and any mask decodes — the penalty rules only tune for awkward scanners) and
emit one filled rectangle per run of dark modules, in module units under a single transform.
The resulting PDF operators are short integer strings, which keeps both writing and
compressing the file fast.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

import segno
from reportlab.pdfgen.canvas import Canvas

#: Error correction Q (25% of the symbol): a slip folded in half and photocopied, its crease across
#: the symbol, still scans; with M three in four such slips failed in zbar. On a 38 mm slip the
#: modules stay near 0.9 mm, far above what a cheap phone camera resolves.
ERROR_LEVEL = "q"
#: Fixed mask; checked to decode with zbar for every slip in the tests and the benchmark.
MASK = 2
#: Light modules required around the symbol by ISO/IEC 18004.
QUIET_ZONE = 4

Matrix = Sequence[bytes | bytearray]

_DARK_RUN = re.compile(rb"\x01+")


def qr_matrix(data: str) -> tuple[bytearray, ...]:
    """Encode without boosting the error level, so equal-length URLs share one version."""
    if not data:
        raise ValueError("cannot encode an empty string as a QR code")
    try:
        code = segno.make_qr(data, error=ERROR_LEVEL, boost_error=False, mask=MASK)
    except segno.DataOverflowError as exc:
        raise ValueError(f"too long for a QR code at error level {ERROR_LEVEL.upper()}: {data[:60]!r}…") from exc
    return code.matrix


def qr_matrices(urls: Sequence[str], *, workers: int = 1) -> list[tuple[bytearray, ...]]:
    """Encode many URLs, optionally on several processes when a whole county prints at once."""
    if workers <= 1 or len(urls) < 2000:
        return [qr_matrix(url) for url in urls]
    import multiprocessing

    # fork shares the already imported segno; spawn would re-import it in every worker.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    with context.Pool(workers) as pool:
        return pool.map(qr_matrix, urls, chunksize=max(1, len(urls) // (workers * 8)))


def path_operators(matrix: Matrix) -> str:
    """PDF path operators for the dark modules, in module units with row 0 at y = 0.

    Horizontal runs that repeat exactly on the next row are merged into one taller rectangle;
    the finder patterns and timing areas make that common enough to save a fifth of the rects.
    """
    parts: list[str] = []
    add = parts.append
    open_runs: dict[tuple[int, int], list[int]] = {}
    for y, row in enumerate(matrix):
        continuing: dict[tuple[int, int], list[int]] = {}
        for run in _DARK_RUN.finditer(row):
            start, end = run.span()
            key = (start, end - start)
            rect = open_runs.pop(key, None)
            if rect is None:
                rect = [start, y, end - start, 1]
            else:
                rect[3] += 1
            continuing[key] = rect
        for x, y0, w, h in open_runs.values():
            add(f"{x} {y0} {w} {h} re")
        open_runs = continuing
    for x, y0, w, h in open_runs.values():
        add(f"{x} {y0} {w} {h} re")
    add("f")
    return "\n".join(parts)


def symbol_modules(matrix: Matrix) -> int:
    """Width of the symbol in modules, quiet zone excluded."""
    return len(matrix)


def draw_qr(canvas: Canvas, matrix: Matrix, x: float, top: float, module: float) -> None:
    """Fill the dark modules with the symbol's top-left corner at (x, top), in points.

    The caller leaves ``QUIET_ZONE`` modules of white around the symbol; the fill colour is
    whatever the canvas has, so a page of codes sets black once.
    """
    canvas.saveState()
    # Flip y so matrix rows count downwards from the top edge, as the matrix is stored.
    canvas.transform(module, 0, 0, -module, x, top)
    canvas.addLiteral(path_operators(matrix))
    canvas.restoreState()
