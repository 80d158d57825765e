"""Slips and posters as a print shop and a villager meet them, measured on the real PDF.

Slips come from ``pingyi issue-tokens`` (the real path: codes drawn, slips shuffled, drawn and
written); each page is rendered with poppler's ``pdftoppm``, each slip is cut out of the page at
the grid ``reports.slips.GRID`` publishes, and zbar decodes it alone. Fonts are read back with
``pdffonts``.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from pyzbar.pyzbar import ZBarSymbol, decode

from reports.posters import Poster, write_posters
from reports.qr import QUIET_ZONE
from reports.slips import GRID
from tests.conftest import make_staff
from tests.factories import open_campaign

MM_PER_INCH = 25.4


def px(mm: float, dpi: int) -> float:
    return mm / MM_PER_INCH * dpi


def render(pdf: Path, out: Path, dpi: int, first: int = 1, last: int = 1) -> list[Image.Image]:
    subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", "-png", "-f", str(first), "-l", str(last),
                    str(pdf), str(out / "page")], check=True, capture_output=True)
    return [Image.open(p).convert("L") for p in sorted(out.glob("page-*.png"))]


def slip_cells(pages: list[Image.Image], dpi: int, count: int) -> list[Image.Image]:
    cells = []
    for page in pages:
        for position in range(GRID.per_page):
            box = tuple(round(px(v, dpi)) for v in GRID.cell_box_mm(position))
            cells.append(page.crop(box))
    return cells[:count]


def zbarimg(image: Image.Image, scratch: Path) -> list[str]:
    """What zbarimg reads from this one image, one entry per symbol."""
    path = scratch / "one-slip.png"
    image.save(path)
    done = subprocess.run(["zbarimg", "-q", "--raw", str(path)], capture_output=True, text=True)
    return done.stdout.split()


def pdffonts(pdf: Path) -> list[tuple[str, str]]:
    """(font name, 'yes'/'no' embedded) for every font pdffonts lists."""
    listing = subprocess.run(["pdffonts", str(pdf)], check=True, capture_output=True, text=True).stdout
    rows = listing.splitlines()[2:]
    found = []
    for row in rows:
        # name type... encoding emb sub uni objectID gen: the flags are the 3rd-5th fields from the end
        fields = row.split()
        found.append((fields[0], fields[-5]))
    return found


def issue(pingyi, tmp_path: Path, count: int, sheet: str = "T1V1-masses") -> Path:
    pdf = tmp_path / "slips.pdf"
    done = pingyi("issue-tokens", "t2026", "--sheet", sheet, "--count", str(count), "--out", str(pdf))
    assert done.exit_code == 0, done.output
    return pdf


# --- fonts ---------------------------------------------------------------------------------------


@pytest.mark.db
def test_every_font_on_the_printed_slips_is_embedded(app, pingyi, tmp_path):
    """A print shop preflights to PDF/X-1a (ISO 15930-1) or PDF/A, which require every font to be
    embedded. The typable code is set in Courier-Bold, a PDF standard font that reportlab never
    embeds, so its glyphs (the very ones a villager must tell apart: 2/Z, 5/S, 8/B) are whatever
    the RIP or viewer substitutes; an unused Helvetica is listed too."""
    open_campaign()
    pdf = issue(pingyi, tmp_path, 7)
    fonts = pdffonts(pdf)
    assert fonts and all(emb == "yes" for _, emb in fonts), fonts  # [('Helvetica', 'no'), ..., ('Courier-Bold', 'no')]


def test_every_font_on_a_poster_is_embedded(tmp_path):
    """The URL under the poster's QR code is set in Helvetica, not embedded (see the slips' test)."""
    pdf = tmp_path / "poster.pdf"
    write_posters([Poster(url="https://pingyi.example.gov.cn/p/AbCdEfGhIjKlMnOp",
                          campaign="示范区2026年度村级党组织量化考核", organisation="红旗镇东风村",
                          rater_group="群众", sheet="红旗镇东风村·村“两委”班子群众满意度测评表（群众）")], pdf)
    fonts = pdffonts(pdf)
    assert fonts and all(emb == "yes" for _, emb in fonts), fonts


# --- QR: damage a real slip meets ------------------------------------------------------------------


@pytest.mark.db
def test_a_slip_folded_in_half_still_scans_across_the_photocopied_crease(app, pingyi, tmp_path):
    """A 95 x 55 mm slip folded in half for the pocket creases at mid-height, straight through the
    QR code (which spans 10.6-40.4 mm from the slip's top). On a photocopy the crease becomes a grey
    line; 1.5 mm is under 1.5 modules. Error correction M (ISO/IEC 18004: ~15 % of codewords; Q ~25 %,
    H ~30 %) does not carry it: 13 of 40 slips decoded in a scratch run (31 of 40 with a 1 mm line),
    at Q 40 of 40. The slips have the room: Q is version 4 here (0.93 mm modules, was 1.03 mm)."""
    open_campaign()
    count = 20
    pdf = issue(pingyi, tmp_path, count)
    dpi = 150
    failed = 0
    for cell in slip_cells(render(pdf, tmp_path, dpi, 1, 2), dpi, count):
        assert len(zbarimg(cell, tmp_path)) == 1  # undamaged, each slip scans alone
        folded = cell.copy()
        crease = px(GRID.cell_height_mm / 2, dpi)
        ImageDraw.Draw(folded).rectangle((0, crease - px(0.75, dpi), folded.width, crease + px(0.75, dpi)),
                                         fill=96)
        failed += len(zbarimg(folded, tmp_path)) != 1
    assert failed == 0, f"{failed} of {count} folded slips no longer scan"


# --- posters -------------------------------------------------------------------------------------


def symbol_box(page: np.ndarray, found, modules: int) -> tuple[int, int, int, int, float]:
    """Exact symbol edges in pixels, from the solid outer rows and columns of the top-left finder
    pattern near the rectangle zbar reports; and the module size in pixels."""
    left, top, width, _height = found.rect
    module = width / modules
    finder = int(7 * module)
    near = lambda at: range(int(at - 2 * module), int(at + 2 * module))  # noqa: E731
    solid_row = lambda y: page[y, left + finder // 4:left + 3 * finder // 4].all()  # noqa: E731
    solid_column = lambda x: page[top + finder // 4:top + 3 * finder // 4, x].all()  # noqa: E731
    top, left, right, bottom = (min(y for y in near(top) if solid_row(y)),
                                min(x for x in near(left) if solid_column(x)),
                                max(x for x in near(left + width) if solid_column(x)),
                                max(y for y in near(top + width) if solid_row(y)))
    module = (right - left + 1) / modules
    return left, top, right, bottom, module


def test_the_poster_qr_keeps_its_four_module_quiet_zone(tmp_path):
    """ISO/IEC 18004 requires a light margin of 4 modules on all four sides. The poster draws the URL
    line with its baseline exactly 4 modules below the symbol (posters.py), so the letters' ascent
    (about 7 pt of Helvetica 10 pt) sits inside the quiet zone: ink at 3.2 modules."""
    url = "https://pingyi.example.gov.cn/p/AbCdEfGhIjKlMnOp"
    pdf = tmp_path / "poster.pdf"
    write_posters([Poster(url=url, campaign="示范区2026年度村级党组织量化考核", organisation="红旗镇东风村",
                          rater_group="群众", sheet="红旗镇东风村·村“两委”班子群众满意度测评表（群众）")], pdf)
    dpi = 300
    [image] = render(pdf, tmp_path, dpi)
    [found] = decode(image, symbols=[ZBarSymbol.QRCODE])
    assert found.data.decode() == url
    from reports.qr import qr_matrix

    modules = len(qr_matrix(url))
    dark = np.asarray(image) < 160
    left, top, right, bottom, module = symbol_box(dark, found, modules)
    zone = round(QUIET_ZONE * module)
    ring = dark[top - zone:bottom + zone + 1, left - zone:right + zone + 1].copy()
    ring[zone:-zone, zone:-zone] = False
    ys, xs = np.nonzero(ring)
    h, w = ring.shape
    nearest = min((max(zone - y, y - (h - 1 - zone), zone - x, x - (w - 1 - zone))
                   for y, x in zip(ys, xs)), default=None)
    assert nearest is None, f"ink {nearest / module:.2f} modules from the symbol, inside the 4-module quiet zone"


@pytest.mark.parametrize("note", ["", "测评时间：2026年3月1日至3月15日"])
def test_a_poster_with_a_two_line_campaign_and_organisation_stays_on_the_printable_page(tmp_path, note):
    """Most office printers cannot print the outer ~5 mm of a sheet. The poster is laid out from the
    top with no check at the bottom: a 30-character campaign name and a 16-character community name
    (both wrap to two lines, both accepted by the slips too) push the note box to 4.6 mm from the
    bottom edge; with a one-line note (the Poster API's ``note``) the box runs off the page (0 mm)."""
    organisation = "城关镇经济技术开发区锦绣花园社区"
    pdf = tmp_path / "poster.pdf"
    write_posters([Poster(url="https://pingyi.example.gov.cn/p/AbCdEfGhIjKlMnOp",
                          campaign="示范区2026年度村（社区）党组织书记抓基层党建工作述职评议",
                          organisation=organisation, rater_group="群众",
                          sheet=f"{organisation}·村“两委”班子群众满意度测评表（群众）", note=note)], pdf)
    dpi = 150
    [image] = render(pdf, tmp_path, dpi)
    ink = np.asarray(image) < 250
    rows, columns = np.nonzero(ink)
    height, width = ink.shape
    margins = {"top": rows.min(), "bottom": height - 1 - rows.max(),
               "left": columns.min(), "right": width - 1 - columns.max()}
    margins_mm = {side: round(v / dpi * MM_PER_INCH, 1) for side, v in margins.items()}
    assert min(margins_mm.values()) >= 5.0, margins_mm


@pytest.mark.db
def test_a_poster_for_a_village_with_a_long_name_is_a_message_not_a_500(app):
    """The poster prints the sheet's full title ('<village>·<questionnaire>（<group>）') on one line of
    at least 9 pt, about 54 characters; a village name of 38 characters (the organisation column
    holds 200) makes fit_text raise ValueError inside the admin route: a 500."""
    from survey_app.extensions import db
    from survey_app.models import Organisation
    from survey_app.services import campaigns, posters

    town = Organisation(code="T9", name="第九镇", kind="town")
    village = Organisation(code="T9V1", name="某某自治州某某县经济技术开发区锦绣花园社区居民委员会党总支部委员会第一党支部",
                           kind="community", parent=town)
    db.session.add_all([town, village])
    db.session.flush()
    campaign = campaigns.create_campaign("p2026", "测试区2026年度测评", 2026, scheme_key="baishan_village_stars")
    [sheet] = campaigns.add_sheets_for(campaign, "village_satisfaction", "masses", town)
    campaigns.open_campaign(campaign)
    poster = posters.create_poster(sheet)
    db.session.commit()
    admin = make_staff(app, "posteradmin", "admin")
    app.config["PROPAGATE_EXCEPTIONS"] = False  # what a real server does: an uncaught error is a 500
    with admin.get(f"/admin/posters/{poster.id}.pdf") as response:
        status = response.status_code
    assert status != 500, "the poster PDF route answers 500 for a long village name"
    assert re.match(r"[23]\d\d|4\d\d", str(status))
