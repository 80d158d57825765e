"""Voting on a phone in WeChat's browser at 360×640, with JavaScript on and off."""
from __future__ import annotations

from urllib.parse import urlparse

import pytest

from tests.e2e.conftest import shot

pytestmark = pytest.mark.browser
JS = pytest.mark.parametrize("phone", [True, False], indirect=True, ids=["js", "nojs"])


def answer_villager_sheet(page, skip: str | None = None) -> None:
    for fieldset in page.locator("fieldset").all():
        radios = fieldset.locator("input[type=radio]")
        name = radios.first.get_attribute("name")
        if skip and name.endswith(skip):
            continue
        # tap the visible label of the first or a middle choice, as a thumb would
        labels = fieldset.locator("label")
        numeric = fieldset.locator(".num").count() > 0  # the 1–10 score: tap 8
        labels.nth(7 if numeric else 1).click()


@JS
def test_a_villager_scans_answers_and_is_told_the_vote_counted(live_site, phone, request):
    url = live_site.codes("D01T01V02-masses", 1)[0]
    phone.goto(url)
    assert phone.locator("h1").inner_text() == "村“两委”班子群众满意度测评表"
    shot(phone, f"villager-sheet-{request.node.callspec.id}")
    answer_villager_sheet(phone)
    phone.locator("button[type=submit]").click()
    phone.wait_for_load_state()
    assert phone.locator("h1").inner_text() == "提交成功，您的测评已计入。"
    shot(phone, f"villager-done-{request.node.callspec.id}")
    assert {urlparse(u).netloc for u in phone.requests} == {urlparse(live_site.url).netloc}
    phone.goto(url)  # this phone voted with it: still told so, not warned
    assert phone.locator("h1").inner_text() == "您的测评已经记录"
    phone.context.clear_cookies()  # any other phone: the code is spent
    phone.goto(url)
    assert phone.locator("h1").inner_text() == "该测评码已经使用过"


@JS
def test_an_omitted_answer_shows_its_chinese_error_and_keeps_the_others(live_site, phone, request):
    url = live_site.codes("D01T01V03-masses", 1)[0]
    phone.goto(url)
    answer_villager_sheet(phone, skip="__unity")
    phone.locator("button[type=submit]").click()
    phone.wait_for_load_state()
    bad = phone.locator("fieldset.bad")
    assert bad.count() == 1 and "请选择一项" in bad.inner_text()
    assert "班子团结协作" in bad.locator("legend").inner_text()
    checked = phone.locator("input[type=radio]:checked").count()
    assert checked == phone.locator("fieldset").count() - 1, "every other answer is still ticked"
    shot(phone, f"villager-error-{request.node.callspec.id}")
    bad.locator("label").first.click()
    phone.locator("button[type=submit]").click()
    phone.wait_for_load_state()
    assert phone.locator("h1").inner_text() == "提交成功，您的测评已计入。"


@JS
def test_a_town_cadre_fills_in_the_cadre_grid(live_site, phone, request):
    url = live_site.codes("D01T01-town", 1)[0]
    phone.goto(url)
    grids = phone.locator("fieldset.grid")
    assert grids.count() == 6
    rows = grids.first.locator("tbody tr")
    assert rows.count() == 16  # the secretary and director of each of the town's 8 villages
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the grid fits the phone without sideways scrolling ({width}px)"
    shot(phone, f"cadre-grid-{request.node.callspec.id}")
    for grid in grids.all():
        for row in grid.locator("tbody tr").all():
            row.locator("input[type=radio]").first.check()
    phone.locator("button[type=submit]").click()
    phone.wait_for_load_state()
    assert phone.locator("h1").inner_text() == "提交成功，您的测评已计入。"


def test_unsent_answers_survive_a_reload_when_javascript_is_on(live_site, phone):
    url = live_site.codes("D01T01V04-masses", 1)[0]
    phone.goto(url)
    labels = phone.locator("fieldset").nth(2).locator("label")
    labels.nth(2).click()
    phone.reload()
    assert phone.locator("fieldset").nth(2).locator("input[type=radio]").nth(2).is_checked()


def test_the_ballot_reads_at_320_px_without_sideways_scrolling(live_site, browser):
    context = browser.new_context(viewport={"width": 320, "height": 568}, is_mobile=True)
    page = context.new_page()
    page.goto(live_site.codes("D01T02V01-masses", 1)[0])
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    button = page.locator("button[type=submit]").bounding_box()
    option = page.locator("fieldset label").first.bounding_box()
    assert button["height"] >= 48 and option["height"] >= 44, "touch targets an elderly villager can hit"
    shot(page, "villager-320px")
    context.close()


def test_no_server_log_line_contains_a_code(live_site):
    text = live_site.log.read_text()
    assert "/t/" not in text.replace("/t/…", "")
