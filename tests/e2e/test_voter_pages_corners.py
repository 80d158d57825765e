"""Corners of the voter pages, measured in a real browser as a villager or cadre would meet them.

Each test here names a problem found on the current pages: a tap target, a lost answer, a page in
the wrong language, a confirmation that turns into a warning.
"""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import BIN, SCREENSHOTS, WECHAT_UA, shot

pytestmark = pytest.mark.browser
JS = pytest.mark.parametrize("phone", [True, False], indirect=True, ids=["js", "nojs"])
ROOT = Path(__file__).resolve().parents[2]
HAN = re.compile(r"[\u4e00-\u9fff]")
USED = "该测评码已经使用过"
DONE = "提交成功，您的测评已计入。"

# A 30-cadre grid (a township's whole team on one sheet) and a poster of its own, made in the live
# site's database by the service layer, the way the admin pages would.
EXTRA = r"""
import json, sys
from sqlalchemy import select
from survey_app import create_app
from survey_app.extensions import db
from survey_app.models import BallotSheet, Person
from survey_app.services import campaigns, posters, tokens
from survey_app.services.campaigns import SubjectSpec

app = create_app()
with app.app_context():
    base = app.config["PUBLIC_BASE_URL"].rstrip("/")
    cadres = db.session.scalars(select(Person).where(Person.category == "cadre")
                                .order_by(Person.person_key)).all()[:30]
    campaign = campaigns.create_campaign("corners-grid", "三十人网格测评", 2026, actor="test")
    campaigns.add_sheet(campaign, "corners-30", "三十名干部测评（镇街干部）", "cadre_evaluation", "town_cadre",
                        [SubjectSpec(p.person_key, f"{p.name}（{p.role}）", person_id=p.id) for p in cadres])
    db.session.flush()
    campaigns.open_campaign(campaign, actor="test")
    sheet = lambda key: db.session.scalar(select(BallotSheet).where(BallotSheet.key == key))
    grid = [f"{base}/t/{tokens.display(c)}" for c in tokens.issue_tokens(sheet("corners-30"), 5).codes]
    poster = posters.poster_url(posters.create_poster(sheet("D01T03V05-masses")))
    json.dump({"grid": grid, "poster": poster}, sys.stdout)
"""


@pytest.fixture(scope="module")
def extra(live_site) -> dict:
    done = subprocess.run([BIN / "python", "-c", EXTRA], env=live_site.env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def wechat(browser, *, width: int = 360, javascript: bool = True):
    return browser.new_context(viewport={"width": width, "height": 640}, user_agent=WECHAT_UA,
                               device_scale_factor=2, is_mobile=True, has_touch=True,
                               java_script_enabled=javascript, locale="zh-CN")


def answer_all(page) -> int:
    """Tick a middle choice of every item on a villager sheet (8 on the 1–10 score); how many ticked."""
    fieldsets = page.locator("fieldset.q")
    for i in range(fieldsets.count()):
        labels = fieldsets.nth(i).locator("label")
        labels.nth(7 if labels.count() == 10 else 1).click()
    return fieldsets.count()


def checked(page) -> list[str]:
    return [f"{r.get_attribute('name')}={r.get_attribute('value')}"
            for r in page.locator("input[type=radio]:checked").all()]


def test_cadre_grid_radios_are_big_enough_to_tap(live_site, phone, extra):
    """A grid cell's radio is the only thing that takes the tap: 30×30 px, no label around it."""
    phone.goto(extra["grid"][0])
    row = phone.locator("fieldset.grid").first.locator("tbody tr").first
    sizes = []
    for radio in row.locator("input[type=radio]").all():
        # the tappable area: the radio and every label that toggles it
        boxes = [radio.bounding_box()] + radio.evaluate(
            "r => [...r.labels].map(l => { const b = l.getBoundingClientRect();"
            " return {x: b.x, y: b.y, width: b.width, height: b.height}; })")
        width = max(b["x"] + b["width"] for b in boxes) - min(b["x"] for b in boxes)
        height = max(b["y"] + b["height"] for b in boxes) - min(b["y"] for b in boxes)
        sizes.append((round(width), round(height)))
    assert all(w >= 44 and h >= 44 for w, h in sizes), f"grid tap targets at 360 px: {sizes}"


def test_cadre_grid_column_headings_stay_in_view_down_a_30_row_table(live_site, phone, extra):
    """At the 30th cadre the 好/较好/一般/较差 headings have scrolled away: four bare circles."""
    phone.goto(extra["grid"][1])
    grid = phone.locator("fieldset.grid").first
    rows = grid.locator("tbody tr")
    assert rows.count() == 30
    rows.nth(29).evaluate("r => r.scrollIntoView({block: 'center'})")  # the 30th row mid-screen
    heading = grid.locator("thead th").nth(1)
    assert heading.inner_text() == "好"
    box = heading.bounding_box()
    row_box = rows.nth(29).bounding_box()
    phone.screenshot(path=str(SCREENSHOTS / "corners-grid-row30.png"))  # the screen as the voter sees it
    assert 0 <= box["y"] and box["y"] + box["height"] <= row_box["y"], (
        f"the column headings are at y={box['y']:.0f} px while the 30th row is at y={row_box['y']:.0f} px")


def test_the_language_link_is_big_enough_to_tap(live_site, phone):
    phone.goto(live_site.codes("D01T03V01-masses", 1)[0])
    box = phone.locator("footer a").bounding_box()
    assert box["height"] >= 44 and box["width"] >= 44, (
        f"the English link is {box['width']:.0f}×{box['height']:.0f} px")


@JS
@pytest.mark.parametrize("action", ["back", "language"])
def test_after_casting_the_voter_still_sees_their_confirmation(live_site, phone, action):
    """Back, or the English link on the confirmation, turns it into the warning for a code someone
    else used ('该测评码已经使用过 … 如果您没有用它投票，请告诉工作人员')."""
    url = live_site.codes("D01T03V03-masses", 1)[0]
    phone.goto(url)
    answer_all(phone)
    phone.locator("button[type=submit]").click()
    phone.wait_for_load_state()
    assert phone.locator("h1").inner_text() == DONE
    if action == "back":
        phone.go_back()
    else:
        phone.locator("footer a").click()
    phone.wait_for_load_state()
    heading = phone.locator("h1").inner_text()
    assert heading not in (USED, "This voting code has already been used"), (
        f"the voter who has just voted is told “{heading}”")


def test_the_english_ballot_marks_the_questionnaires_chinese_as_chinese(live_site, phone):
    """?lang=en translates the page's frame; the questionnaire is the county's text, in Chinese only
    (definitions carry one label per item and choice). It was marked lang="en" with the page, so a
    screen reader read 村党组织书记 with English rules and a browser could pick a Latin font for it."""
    phone.goto(live_site.codes("D01T03V04-masses", 1)[0] + "?lang=en")
    assert phone.evaluate("document.documentElement.lang") == "en"
    first = phone.locator("fieldset.q").first
    lang_of = "e => e.closest('[lang]').lang"
    chinese = [first.locator("legend"), phone.locator("h1"),
               *(phone.get_by_role("radio").nth(i) for i in range(3))]
    assert [e.evaluate(lang_of) for e in chinese] == ["zh-CN"] * 5
    assert HAN.search(first.locator("legend").inner_text())
    frame = [phone.locator("button[type=submit]"), phone.locator("p.note")]
    assert [e.evaluate(lang_of) for e in frame] == ["en", "en"]
    assert not HAN.search(phone.locator("button[type=submit]").inner_text())


def test_a_neighbour_refused_by_the_poster_limit_keeps_their_answers(live_site, browser, extra):
    """Villagers behind one address (the village office's Wi-Fi, a carrier's NAT) vote on the poster;
    the one the per-address limit turns away gets '尝试次数过多' and, without JavaScript, a blank
    start: nothing they ticked is on the page."""
    refused = None
    accepted = 0
    for _phone in range(25):  # 5 a minute per address in each server process: one is turned away by the 11th
        context = wechat(browser, javascript=False)
        page = context.new_page()
        page.goto(extra["poster"])
        ticked = answer_all(page)
        with page.expect_response(lambda r: r.request.method == "POST") as sent:
            page.locator("button[type=submit]").click()
        page.wait_for_load_state()
        if sent.value.status == 429:
            refused = (page.locator("h1").inner_text(), len(checked(page)), ticked)
            shot(page, "corners-poster-refused")
            context.close()
            break
        assert page.locator("h1").inner_text() == DONE
        accepted += 1
        context.close()
    if refused is not None:
        heading, kept, ticked = refused
        assert kept == ticked, (f"after {accepted} neighbours voted from the same address the next is told "
                                f"“{heading}” and keeps {kept} of {ticked} answers")


# What WeChat's own browser (XWEB, Chromium 78 on many phones, as its user agent says) drops: a rule
# whose selector it does not know is dropped whole, and a property it does not know is ignored.
NEWER_THAN_CHROMIUM_78 = {"gap": "flex gap (Chromium 84)", "row-gap": "flex gap (Chromium 84)",
                          "column-gap": "flex gap (Chromium 84)", "aspect-ratio": "aspect-ratio (Chromium 88)",
                          "inset": "inset (Chromium 87)"}


def test_the_voter_stylesheet_lays_out_with_what_wechats_chromium_78_knows(live_site, phone):
    """The half-point buttons were spaced by flex gap, which Chromium 78 ignores: on WeChat's browser
    0, 0.5, 1 … stood edge to edge, 48 px targets with nothing between them for an old thumb; the
    focus ring was only under :focus-visible (Chromium 86), a rule Chromium 78 drops whole."""
    css = (ROOT / "survey_app" / "static" / "voter.css").read_text(encoding="utf-8")
    rules = re.findall(r"([^{}]+)\{([^{}]*)\}", re.sub(r"/\*.*?\*/", "", css, flags=re.S))
    used = {prop.strip(): selector.strip() for selector, body in rules for prop, _sep, _v in
            (d.partition(":") for d in body.split(";") if ":" in d)}
    assert not set(used) & set(NEWER_THAN_CHROMIUM_78), {p: used[p] for p in set(used) & set(NEWER_THAN_CHROMIUM_78)}
    newer_selectors = [s for s, _b in rules if re.search(r":(is|where|has)\(", s)
                       or (":focus-visible" in s and ":not(:focus-visible)" not in s)]
    assert newer_selectors == [], newer_selectors

    phone.goto(live_site.codes("D01T03V03-masses", 1)[0])  # its last item: 1–10, a button each
    boxes = phone.locator(".num span").evaluate_all(
        "spans => spans.map(s => { const r = s.getBoundingClientRect(); return [r.left, r.right, r.top]; })")
    assert len(boxes) == 10
    apart = [b[0] - a[1] for a, b in zip(boxes, boxes[1:]) if a[2] == b[2]]  # neighbours on one line
    assert apart and min(apart) >= 8, apart
