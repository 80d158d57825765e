"""Printed QR slips: every slip scans alone to its own URL, and the text is real text.

The PDF is rendered with poppler's ``pdftoppm`` and each slip is cut out of the page image at
the grid geometry that ``reports.slips.GRID`` publishes, then decoded with zbar on its own.
"""
from __future__ import annotations

import random
import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image
from pyzbar.pyzbar import ZBarSymbol, decode

from reports import fonts
from reports.slips import CODE_ALPHABET, GRID, Slip, order_slips, write_slips

DPI = 150
CAMPAIGN = "示范区2026年度村级党组织量化考核"
ORGANISATION = "红旗镇东风村"


def make_slips(count: int, seed: int = 20260301) -> list[Slip]:
    rng = random.Random(seed)
    slips = []
    for _ in range(count):
        code = "".join(rng.choice(CODE_ALPHABET) for _ in range(10))
        code = f"{code[:5]}-{code[5:]}"
        slips.append(Slip(
            url=f"http://127.0.0.1:5000/t/{code}", code=code, campaign=CAMPAIGN,
            organisation=ORGANISATION, rater_group="群众", sheet="东风村满意度测评（群众）",
            entry_url="http://127.0.0.1:5000/t",
        ))
    return slips


def render_pages(pdf: Path, out: Path) -> list[Path]:
    subprocess.run(["pdftoppm", "-r", str(DPI), "-png", str(pdf), str(out / "page")],
                   check=True, capture_output=True)
    return sorted(out.glob("page-*.png"))


def crop_cell(page: Image.Image, position: int) -> Image.Image:
    left, top, right, bottom = GRID.cell_box_mm(position)
    return page.crop(tuple(round(v / 25.4 * DPI) for v in (left, top, right, bottom)))


def codes_in_print_order(pdf: Path) -> list[str]:
    """The code in each cell, page by page and row-major, from pdftotext's word boxes."""
    html = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout
    found: list[tuple[int, int, str]] = []
    for page_number, page in enumerate(html.split("<page ")[1:]):
        for x, y, word in re.findall(
                r'<word xMin="([\d.]+)" yMin="([\d.]+)"[^>]*>([2-9A-Z]{5}-[2-9A-Z]{5})</word>',
                page):
            x_mm, y_mm = float(x) / 72 * 25.4, float(y) / 72 * 25.4
            column = int((x_mm - GRID.left_mm) // GRID.cell_width_mm)
            row = int((y_mm - GRID.top_mm) // GRID.cell_height_mm)
            found.append((page_number, row * GRID.columns + column, word))
    return [word for _, _, word in sorted(found)]


@pytest.fixture(scope="module")
def printed(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Slip], Path, int]:
    slips = make_slips(25)
    pdf = tmp_path_factory.mktemp("slips") / "slips.pdf"
    pages = write_slips(slips, pdf, rng=random.Random(7))
    return slips, pdf, pages


def test_pages_hold_a_full_grid_each_and_the_rest_on_the_last(printed) -> None:
    slips, _, pages = printed
    assert GRID.per_page == 10
    assert pages == 3  # 25 slips at 10 per page


def test_every_slip_cut_out_alone_decodes_to_exactly_one_issued_url(printed, tmp_path) -> None:
    slips, pdf, pages = printed
    decoded: list[str] = []
    for page_image in render_pages(pdf, tmp_path):
        page = Image.open(page_image).convert("L")
        for position in range(GRID.per_page):
            symbols = decode(crop_cell(page, position), symbols=[ZBarSymbol.QRCODE])
            assert len(symbols) <= 1, f"{page_image.name} cell {position} holds two codes"
            decoded.extend(symbol.data.decode("utf-8") for symbol in symbols)
    assert Counter(decoded) == Counter(slip.url for slip in slips)


def test_printed_codes_and_chinese_text_are_extractable(printed) -> None:
    slips, pdf, _ = printed
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout
    for slip in slips:
        assert slip.code in text
    # Extractable Chinese proves the CJK font is embedded with a Unicode map, not drawn as boxes.
    assert CAMPAIGN in text
    assert ORGANISATION in text
    assert "测评不记名" in text.replace("\n", "")


def test_the_cjk_font_is_embedded(printed) -> None:
    _, pdf, _ = printed
    listing = subprocess.run(["pdffonts", str(pdf)], check=True, capture_output=True,
                             text=True).stdout
    cjk = [line for line in listing.splitlines() if "WenQuanYiZenHei" in line]
    assert cjk and all(" yes " in line for line in cjk), listing


def test_a_seeded_shuffle_changes_the_print_order(printed) -> None:
    slips, pdf, _ = printed
    printed_order = codes_in_print_order(pdf)
    assert sorted(printed_order) == sorted(slip.code for slip in slips)
    assert printed_order != [slip.code for slip in slips]
    assert printed_order == [s.code for s in order_slips(slips, rng=random.Random(7))]


def test_without_shuffle_the_input_order_is_kept(tmp_path) -> None:
    slips = make_slips(12, seed=5)
    pdf = tmp_path / "ordered.pdf"
    assert write_slips(slips, pdf, shuffle=False) == 2
    assert codes_in_print_order(pdf) == [slip.code for slip in slips]


def test_the_default_shuffle_uses_system_randomness(tmp_path) -> None:
    slips = make_slips(40, seed=9)
    orders = {tuple(s.code for s in order_slips(slips)) for _ in range(3)}
    assert len(orders) == 3  # 40! orders; a repeat means the shuffle is not random


def test_no_slips_is_an_error(tmp_path) -> None:
    with pytest.raises(ValueError, match="no slips"):
        write_slips([], tmp_path / "empty.pdf")


def test_a_code_outside_the_alphabet_is_named_in_the_error(tmp_path) -> None:
    bad = make_slips(1)[0]
    bad = Slip(url=bad.url, code="7KQ3M-X9TR0", campaign=bad.campaign,
               organisation=bad.organisation, rater_group=bad.rater_group, sheet=bad.sheet)
    with pytest.raises(ValueError, match="7KQ3M-X9TR0"):
        write_slips([bad], tmp_path / "bad.pdf")


def test_a_missing_font_names_the_debian_package(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv(fonts.FONT_ENV_VAR, raising=False)
    monkeypatch.setattr(fonts, "_KNOWN_DIRS", (str(tmp_path),))
    monkeypatch.setenv("PATH", str(tmp_path))  # no fc-match to fall back on
    with pytest.raises(fonts.FontNotFoundError, match="fonts-wqy-zenhei"):
        fonts.find_cjk_font()


def test_a_font_override_that_does_not_exist_is_reported(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv(fonts.FONT_ENV_VAR, str(tmp_path / "nope.ttc"))
    with pytest.raises(fonts.FontNotFoundError, match="nope.ttc"):
        fonts.find_cjk_font()


def test_an_organisation_name_too_long_for_a_slip_is_refused_not_clipped(tmp_path) -> None:
    slip = make_slips(1)[0]
    long_name = "某某自治州某某县某某镇某某街道某某社区居民委员会党总支部委员会第一党支部" * 2
    too_long = Slip(url=slip.url, code=slip.code, campaign=slip.campaign,
                    organisation=long_name, rater_group=slip.rater_group, sheet=slip.sheet)
    with pytest.raises(ValueError, match="某某自治州"):
        write_slips([too_long], tmp_path / "long.pdf")
