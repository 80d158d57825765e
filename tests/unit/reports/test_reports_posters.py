"""Posters: one page each, a QR that scans from a coarse 100-dpi render, Chinese as text."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from reports.posters import DEFAULT_NOTE, Poster, write_posters

ORGANISATIONS = ("红旗镇东风村", "红旗镇向阳村", "城关镇和平社区党总支")


def make_posters() -> list[Poster]:
    return [
        Poster(url=f"http://127.0.0.1:5000/p/{index}QX7K-M{index}P2R",
               campaign="示范区2026年度村级党组织量化考核", organisation=organisation,
               rater_group="群众", sheet=f"{organisation}满意度测评（群众）",
               note="测评时间：2026年3月1日至3月15日" if index == 1 else "")
        for index, organisation in enumerate(ORGANISATIONS)
    ]


@pytest.fixture(scope="module")
def printed(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Poster], Path, int]:
    posters = make_posters()
    pdf = tmp_path_factory.mktemp("posters") / "posters.pdf"
    return posters, pdf, write_posters(posters, pdf)


def test_each_poster_is_one_page(printed) -> None:
    posters, _, pages = printed
    assert pages == len(posters) == 3


def test_each_page_scans_to_its_own_url_at_100_dpi(printed, tmp_path) -> None:
    posters, pdf, _ = printed
    for number, poster in enumerate(posters, start=1):
        png = tmp_path / f"poster-{number}"
        subprocess.run(["pdftoppm", "-r", "100", "-png", "-singlefile", "-f", str(number),
                        "-l", str(number), str(pdf), str(png)], check=True, capture_output=True)
        result = subprocess.run(["zbarimg", "--raw", "-q", f"{png}.png"],
                                capture_output=True, text=True)
        assert result.stdout.strip() == poster.url, result.stderr


def test_chinese_titles_and_notes_are_text(printed) -> None:
    posters, pdf, _ = printed
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout
    for poster in posters:
        assert poster.organisation in text
    assert "示范区2026年度村级党组织量化考核" in text
    assert "群众满意度测评" in text
    assert DEFAULT_NOTE in text
    assert "测评时间：2026年3月1日至3月15日" in text


def test_no_posters_is_an_error(tmp_path) -> None:
    with pytest.raises(ValueError, match="no posters"):
        write_posters([], tmp_path / "empty.pdf")
