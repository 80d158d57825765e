"""Can an elderly villager, or someone with a screen reader or large text, use the voter pages?

Measured in Debian's chromium at 360×640 and 320×568 in WeChat's user agent. "200% zoom" here is
Chromium's device zoom, emulated as it happens on the phone: the same screen with half as many CSS
pixels (a 160×284 viewport at device scale 4 for a 320 px phone), so every length (px included)
doubles, as Android's display-size and WeChat's font setting do. Each test names one problem a
review found on the pages, since fixed; what it measured and found fine is in the issue's notes.
"""
from __future__ import annotations

import json
import re
import subprocess

import pytest

from pathlib import Path

from tests.e2e.conftest import BIN, WECHAT_UA
from tests.e2e.test_voter_pages_corners import EXTRA, ROOT, answer_all

pytestmark = pytest.mark.browser
JS = pytest.mark.parametrize("phone", [True, False], indirect=True, ids=["js", "nojs"])
MISSING = "请选择一项"
SHOTS = Path("/tmp/access-review/shots")  # screenshots to look at, outside the repository

# The 30-cadre grid of test_voter_pages_corners, under names of its own so that both modules can
# share one live site; and a villager sheet in a campaign not yet open and in one already closed.
GRID = EXTRA.replace('"corners-grid"', '"access-grid"').replace('"corners-30"', '"access-30"')
STATES = r"""
import json, sys
from sqlalchemy import select
from survey_app import create_app
from survey_app.extensions import db
from survey_app.models import BallotSheet
from survey_app.services import campaigns, tokens
from survey_app.services.campaigns import SubjectSpec

app = create_app()
with app.app_context():
    base = app.config["PUBLIC_BASE_URL"].rstrip("/")
    villager = db.session.scalar(select(BallotSheet).where(BallotSheet.key == "D01T03V05-masses"))
    subjects = [SubjectSpec(s.subject_key, s.label, org_id=s.org_id) for s in villager.subjects]
    out = {}
    for state in ("not_open", "closed"):
        campaign = campaigns.create_campaign(f"access-{state}", f"无障碍检查（{state}）", 2026, actor="test")
        sheet = campaigns.add_sheet(campaign, f"access-{state}-masses", "群众测评", villager.questionnaire_key,
                                    villager.rater_group, subjects)
        db.session.flush()
        if state == "closed":
            campaigns.open_campaign(campaign, actor="test")
        code = tokens.issue_tokens(sheet, 1).codes[0]
        if state == "closed":
            campaigns.close_campaign(campaign, actor="test")
        out[state] = f"{base}/t/{tokens.display(code)}"
    json.dump(out, sys.stdout)
"""


def run(live_site, script: str) -> dict:
    done = subprocess.run([BIN / "python", "-c", script], env=live_site.env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def grid(live_site) -> list[str]:
    return run(live_site, GRID)["grid"]


@pytest.fixture(scope="module")
def states(live_site) -> dict:
    return run(live_site, STATES)


def zoomed(browser, width: int = 320, height: int = 568, zoom: int = 2):
    """The phone at ``zoom`` × device zoom: the same screen, 1/zoom as many CSS pixels."""
    return browser.new_context(viewport={"width": width // zoom, "height": height // zoom},
                               device_scale_factor=2 * zoom, user_agent=WECHAT_UA, is_mobile=True,
                               has_touch=True, locale="zh-CN")


def rgb(css: str) -> tuple[float, ...]:
    return tuple(float(v) for v in re.findall(r"[\d.]+", css)[:3])


def contrast(a: str, b: str) -> float:
    def luminance(colour: str) -> float:
        c = [v / 255 for v in rgb(colour)]
        c = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in c]
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def ax_node(page, selector: str) -> dict:
    """What chromium hands a screen reader for the first element matching ``selector``: its role,
    accessible name, description and whether it is marked invalid."""
    cdp = page.context.new_cdp_session(page)
    try:
        handle = cdp.send("Runtime.evaluate", {"expression": f"document.querySelector({json.dumps(selector)})"})
        node = cdp.send("Accessibility.getPartialAXTree", {"objectId": handle["result"]["objectId"],
                                                            "fetchRelatives": False})["nodes"][0]
    finally:
        cdp.detach()
    props = {p["name"]: p["value"].get("value") for p in node.get("properties", [])}
    return {"role": node["role"]["value"], "name": node.get("name", {}).get("value", ""),
            "description": node.get("description", {}).get("value", ""),
            "invalid": props.get("invalid", "false") not in ("false", False)}


def test_the_cadre_grid_at_200_percent_zoom_shows_every_choice(live_site, browser, grid):
    """A cadre with large text (200% zoom on a 320 px phone) sees 好 / 较好 / 一般 and no 较差: the
    grid is 249 CSS px wide in a 160 px screen, so the whole page scrolls sideways and the harshest
    choice sits off the right edge of every row. Nothing on screen says there is a fourth column;
    a voter who does not think to swipe sideways cannot give the rating 较差 at all."""
    context = zoomed(browser)
    page = context.new_page()
    try:
        page.goto(grid[0])
        fieldset = page.locator("fieldset.grid").first
        fieldset.locator("tbody tr").first.scroll_into_view_if_needed()
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "access-grid-zoom200.png"))
        screen = page.evaluate("document.documentElement.clientWidth")
        page_width = page.evaluate("document.documentElement.scrollWidth")
        headings = fieldset.locator("thead th")
        last = headings.nth(headings.count() - 1)
        choice = last.text_content().strip()  # 较差
        last_cell = fieldset.locator("tbody tr").first.locator("td").last
        # the choice's name is on screen either as the column's heading or beside its radio
        named = [box for box in (last.bounding_box(), last_cell.bounding_box()) if box]
        cell_text = last_cell.inner_text().strip()
        off = [round(box["x"] + box["width"]) for box in named if box["x"] + box["width"] > screen + 0.5]
        heading_shown = last.is_visible()
    finally:
        context.close()
    assert page_width <= screen, f"the grid page is {page_width} CSS px wide on a {screen} px screen"
    assert not off, f"cut off at the right edge ({screen} px) of the first row: {off}"
    assert heading_shown or cell_text == choice, (
        f"the last choice {choice} is named neither by a column heading nor beside its radio ({cell_text!r})")


def test_the_focus_ring_on_a_villager_choice_can_be_seen(live_site, phone):
    """Keyboard, switch-access and 'select to speak' users follow the focus ring; on the villager
    sheet it is an amber (#f0a500) outline on the white question box, 2.1:1: a low-vision voter
    cannot tell which of 满意 / 基本满意 / 不满意 the next Space will tick. WCAG 2.1 1.4.11 asks 3:1
    of a focus indicator against what is next to it. (The grid radios and the button keep
    chromium's own dark ring and pass.)"""
    phone.goto(live_site.codes("D01T03V02-masses", 1)[0])
    phone.keyboard.press("Tab")
    focused = phone.evaluate("""() => { const i = document.activeElement, box = i.nextElementSibling;
        const s = getComputedStyle(box), bg = e => { for (; e; e = e.parentElement) {
          const c = getComputedStyle(e).backgroundColor; if (!/rgba\\(.*, 0\\)|transparent/.test(c)) return c; }
          return 'rgb(255, 255, 255)'; };
        return {type: i.type, outline: s.outlineColor, style: s.outlineStyle, width: parseFloat(s.outlineWidth),
                around: bg(box.parentElement), inside: s.backgroundColor}; }""")
    assert focused["type"] == "radio" and focused["style"] != "none" and focused["width"] >= 2
    against_page = contrast(focused["outline"], focused["around"])
    against_box = contrast(focused["outline"], focused["inside"])
    assert min(against_page, against_box) >= 3, (
        f"focus outline {focused['outline']} is {against_page:.2f}:1 against {focused['around']} "
        f"and {against_box:.2f}:1 against the choice box {focused['inside']}")


def test_each_grid_radio_names_its_subject_item_and_choice(live_site, phone, grid):
    """A blind cadre swiping through the 30-cadre grid with TalkBack hears '邓涛杰（镇党委书记） 好,
    单选按钮' 120 times per item: the item (政治素质（德）, 工作作风……) was said once, in the legend,
    up to 120 radios earlier, and TalkBack on older Android does not repeat a fieldset's legend.
    The radio's name must carry the item as well as the subject and the choice."""
    phone.goto(grid[1])
    fieldsets = phone.locator("fieldset.grid")
    names = []
    for i in (0, fieldsets.count() - 1):
        item = re.sub(r"^\d+\.\s*", "", fieldsets.nth(i).locator("legend").inner_text()).strip()
        subject = fieldsets.nth(i).locator("tbody th").last.inner_text().strip()
        choice = fieldsets.nth(i).locator("thead th").nth(1).inner_text().strip()
        radio = fieldsets.nth(i).locator("tbody tr").last.locator("input[type=radio]").first
        radio.evaluate("r => r.setAttribute('data-probe', '1')")
        node = ax_node(phone, "[data-probe]")
        radio.evaluate("r => r.removeAttribute('data-probe')")
        names.append((node["name"], subject, item, choice))
    for name, subject, item, choice in names:
        assert subject in name and choice in name, name
        assert item in name, f"the radio is read as “{name}”: the item “{item}” is not in it"


@JS
def test_a_missing_answer_is_read_out_with_its_question(live_site, phone, grid):
    """After a failed submission the error (请选择一项) is a bare paragraph in the question box, or a
    span inside the grid's row heading that the radio's aria-label hides: nothing ties it to the
    controls. A screen-reader user moving to the radios of the unanswered item hears '满意, 单选按钮'
    with no error and no 'invalid'; in the grid, '张三 好' with no error either. The code-entry
    box the same: its error is not its description."""
    found = {}
    # the villager sheet, the second item left out
    phone.goto(live_site.codes("D01T03V02-masses", 1)[0])
    answer_all(phone)
    phone.locator("fieldset.q").nth(1).evaluate("f => f.querySelectorAll('input').forEach(i => i.checked = false)")
    phone.locator("button[type=submit]").click()
    phone.wait_for_load_state()
    assert phone.locator("fieldset.bad").count() == 1
    found["villager radio"] = ax_node(phone, "fieldset.bad input[type=radio]")
    legends = {"villager radio": phone.locator("fieldset.bad legend").inner_text()}
    # the grid: every cell but one
    phone.goto(grid[2])
    for row in phone.locator("fieldset.grid tbody tr").all():
        row.locator("input[type=radio]").nth(1).check()
    phone.locator("fieldset.grid").first.locator("tbody tr").nth(26).locator("input").nth(1).evaluate(
        "r => r.checked = false")
    phone.locator("button[type=submit]").click()
    phone.wait_for_load_state()
    assert phone.locator("tr.bad").count() == 1 and MISSING in phone.locator("tr.bad").inner_text()
    found["grid radio"] = ax_node(phone, "tr.bad input[type=radio]")
    legends["grid radio"] = phone.locator("fieldset.bad legend").inner_text()
    # the code-entry page, a code too short
    phone.goto(live_site.url + "/t")
    phone.fill("#code", "ABC")
    phone.locator("button[type=submit]").click()
    phone.wait_for_load_state()
    error = phone.locator("p.err").inner_text()
    found["code box"] = ax_node(phone, "#code")
    told = {where: node for where, node in found.items()
            if node["invalid"] and (MISSING in node["name"] + node["description"] + legends.get(where, "")
                                    or where == "code box" and error in node["name"] + node["description"])}
    assert told == found, "not told the error with the control: " + "; ".join(
        f"{where}: name “{n['name']}”, description “{n['description']}”, invalid={n['invalid']}"
        for where, n in found.items() if where not in told)


@JS
def test_after_a_failed_submission_the_voter_is_led_to_the_missing_answer(live_site, phone, grid):
    """One cell left out of the 30-cadre grid (row 27): the page comes back scrolled to the top,
    focus on nothing, and a banner saying '请看标红的题目' with no link. The voter has to search
    about 30 rows × 8 items for one red row, by colour alone (the banner names no item); a blind
    voter gets no route to it at all. Focus should land on the first missing answer, or on a
    summary that links to it (one that works without JavaScript)."""
    phone.goto(grid[3])
    for row in phone.locator("fieldset.grid tbody tr").all():
        row.locator("input[type=radio]").nth(1).check()
    phone.locator("fieldset.grid").first.locator("tbody tr").nth(26).locator("input").nth(1).evaluate(
        "r => r.checked = false")
    phone.locator("button[type=submit]").click()
    phone.wait_for_load_state()
    first = phone.locator("tr.bad, fieldset.bad").first
    assert MISSING in phone.locator("tr.bad").inner_text()
    focus_in_error = first.evaluate("e => e.contains(document.activeElement)")
    links = phone.locator(".err.top a[href^='#']")
    targets = [phone.evaluate("h => { const t = document.getElementById(h.slice(1)); return !!t && "
                              "(t.contains(document.querySelector('tr.bad')) || document.querySelector('tr.bad')"
                              ".contains(t)); }", a.get_attribute("href")) for a in links.all()]
    where = phone.evaluate("[document.activeElement.tagName, Math.round(scrollY)]")
    row_y = round(phone.locator("tr.bad").bounding_box()["y"])
    assert focus_in_error or any(targets), (
        f"after the failed submission focus is on <{where[0].lower()}> at scroll {where[1]} px, the missing "
        f"row is {row_y} px further down, and the banner has {links.count()} links to it")


def test_every_voter_page_has_a_title_of_its_own(live_site, phone, states):
    """WeChat shows the page title in its top bar and TalkBack reads it first on each new page; the
    code-entry page, the confirmation and every refusal (unknown, used, not open, closed) are all
    titled '民主测评'. A blind voter who has just pressed 提交 hears the same title whether the vote
    counted or the campaign closed. (WCAG 2.4.2; F25: one title for pages of different content.)"""
    titles = {}
    phone.goto(live_site.url + "/t")
    titles["code entry"] = phone.title()
    phone.goto(live_site.url + "/t/AAAAA-BBBBB")
    titles["unknown code"] = phone.title()
    phone.goto(states["not_open"])
    titles["not open"] = phone.title()
    phone.goto(states["closed"])
    titles["closed"] = phone.title()
    url = live_site.codes("D01T03V02-masses", 1)[0]
    phone.goto(url)
    titles["the ballot"] = phone.title()
    answer_all(phone)
    phone.locator("button[type=submit]").click()
    phone.wait_for_load_state()
    assert phone.locator("h1").inner_text() == "提交成功，您的测评已计入。"
    titles["confirmation"] = phone.title()
    phone.context.clear_cookies()
    phone.goto(url)
    titles["used code"] = phone.title()
    same = {}
    for page, title in titles.items():
        same.setdefault(title, []).append(page)
    assert all(len(pages) == 1 for pages in same.values()), (
        "pages sharing one title: " + "; ".join(f"“{t}”: {', '.join(p)}" for t, p in same.items() if len(p) > 1))


def test_the_language_link_is_marked_as_the_language_it_offers(live_site, phone):
    """The footer link 'English' on the Chinese page, and '中文' on the English one, carry no lang:
    a Chinese voice spells E-n-g-l-i-s-h, and an English voice skips 中文 altogether, so the link
    back to Chinese is read as an empty 'link'. (WCAG 3.1.2 language of parts.)"""
    url = live_site.codes("D01T03V02-masses", 1)[0]
    langs = {}
    for query, offered in (("", "en"), ("?lang=en", "zh")):
        phone.goto(url + query)
        link = phone.locator("footer a")
        langs[link.inner_text()] = (link.evaluate("a => a.closest('[lang]').lang"), offered)
    assert all(lang.startswith(offered) for lang, offered in langs.values()), (
        "the language link is read in: " + ", ".join(f"“{text}” as {lang}" for text, (lang, _o) in langs.items()))
