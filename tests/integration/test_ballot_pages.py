"""The pages a voter loads: light enough for a weak signal, self-contained, and bilingual."""
from __future__ import annotations

import gzip
import re
import subprocess
import sys
from pathlib import Path

import pytest

from survey_app.services import tokens
from tests.factories import open_campaign

pytestmark = pytest.mark.db
ROOT = Path(__file__).resolve().parents[2]
CJK = re.compile(r"[\u4e00-\u9fff]")
ASSET = re.compile(r'(?:src|href)="([^"]+)"')


def page_weight(client, path: str) -> tuple[int, list[str]]:
    """Gzipped bytes of the page and every asset it loads, and the addresses it refers to."""
    response = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    body = response.get_data()
    html = gzip.decompress(body).decode() if response.headers.get("Content-Encoding") == "gzip" else body.decode()
    total = len(gzip.compress(html.encode(), 9))
    refs = ASSET.findall(html) + re.findall(r'action="([^"]+)"', html)
    for ref in refs:
        if ref.startswith("/static/"):
            with client.get(ref) as asset:
                total += len(gzip.compress(asset.get_data(), 9))
    return total, refs


def test_the_villager_sheet_weighs_under_5_kb_and_the_30_subject_grid_under_15_kb(app, client):
    _, sheets = open_campaign(grid_subjects=30)
    villager = tokens.display(tokens.issue_tokens(sheets["V1"], 1).codes[0])
    grid = tokens.display(tokens.issue_tokens(sheets["grid"], 1).codes[0])
    small, refs = page_weight(client, f"/t/{villager}")
    large, grid_refs = page_weight(client, f"/t/{grid}")
    print(f"villager sheet {small} B gzipped; 30-subject grid {large} B gzipped")
    assert small <= 5 * 1024
    assert large <= 15 * 1024
    for ref in refs + grid_refs:
        assert not re.match(r"^(https?:)?//", ref), f"an asset from another host: {ref}"


def test_the_server_compresses_pages_for_a_weak_signal(app, client):
    _, sheets = open_campaign(grid_subjects=30)
    grid = tokens.display(tokens.issue_tokens(sheets["grid"], 1).codes[0])
    response = client.get(f"/t/{grid}", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert len(response.get_data()) < 15 * 1024


def test_english_is_available_for_every_string_the_interface_adds(app, client):
    _, sheets = open_campaign()
    code = tokens.display(tokens.issue_tokens(sheets["V1"], 1).codes[0])
    page = client.get(f"/t/{code}?lang=en").get_data(as_text=True)
    assert "Submit my vote" in page and "Your vote is anonymous" in page
    chrome = page
    for data in (r"<title>.*?</title>", r'<h1 lang="zh-CN">.*?</h1>', r'<p class="meta" lang="zh-CN">.*?</p>',
                 r'<legend lang="zh-CN">.*?</legend>',
                 r"<span>.*?</span>", r'<p lang="zh-CN">请对.*?</p>', r"<footer>.*?</footer>"):
        chrome = re.sub(data, "", chrome, flags=re.S)  # definition text and the language switch
    assert not CJK.search(chrome), "every string the interface adds is translated"
    follow = client.get("/t/ABCDE-FGHJK").get_data(as_text=True)  # the cookie remembers the choice
    assert "This voting code does not exist" in follow and not CJK.search(
        re.sub(r"<footer>.*?</footer>", "", follow, flags=re.S))
    chinese = client.get("/t/ABCDE-FGHJK?lang=zh").get_data(as_text=True)
    assert "测评码不存在" in chinese


def test_every_interface_message_has_its_chinese_and_the_catalogue_is_compiled(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "translations.py"), "--check"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_voter_pages_never_touch_staff_login_state(app, voter):
    """A voter's page sets the session cookie (for CSRF) and nothing else: no remember-me cookie,
    no session rewritten on submit. The confirmation leaves one mark, for this code's page alone, so
    that Back shows it again; the mark is not the code and is no key to anything."""
    _, sheets = open_campaign()
    code = tokens.display(tokens.issue_tokens(sheets["V1"], 1).codes[0])
    page = voter.open(code)
    cookies = [c.split("=")[0] for c in page.headers.getlist("Set-Cookie")]
    assert cookies == ["session"]
    from survey_app.services.sheets import sheet_definition
    from tests.factories import full_answers
    q, subjects = sheet_definition(sheets["V1"])
    done = voter.client.post(f"/t/{code}", data={**voter.hidden(page.get_data(as_text=True)),
                                                 **full_answers(q, subjects)})
    set_cookies = done.headers.getlist("Set-Cookie")
    assert done.status_code == 200 and len(set_cookies) == 1
    mark = set_cookies[0]
    assert re.match(r"v[0-9a-f]{24}=1; ", mark) and "Path=/t;" in mark and "HttpOnly" in mark
    assert not any(spelling in mark.upper() for spelling in (code, code.replace("-", ""))), mark


def test_the_ballots_stylesheet_and_script_are_fetched_once_and_never_stale(app, voter):
    """With an hour's max-age a phone on a weak signal asked every hour whether voter.css had
    changed before it could draw the ballot, and after an upgrade it could run an hour of the old
    ballot.js against the new pages. Each asset's URL now carries a hash of its bytes."""
    import hashlib

    _, sheets = open_campaign()
    code = tokens.display(tokens.issue_tokens(sheets["V1"], 1).codes[0])
    page = voter.open(code).get_data(as_text=True)
    assets = re.findall(r'(?:href|src)="(/static/([^"?]+)\?v=([0-9a-f]+))"', page)
    assert sorted(name for _url, name, _v in assets) == ["ballot.js", "voter.css"], assets
    static = Path(app.static_folder)
    for url, name, version in assets:
        assert hashlib.sha256((static / name).read_bytes()).hexdigest().startswith(version) and len(version) >= 10
        with voter.client.get(url) as kept:
            assert kept.status_code == 200
            assert kept.cache_control.max_age == 365 * 86400 and kept.cache_control.immutable, kept.headers
        for stale in (f"/static/{name}", f"/static/{name}?v=0123456789ab"):  # an old page's link, or none
            with voter.client.get(stale) as short:
                assert short.status_code == 200 and short.cache_control.max_age == 3600, (stale, short.headers)
