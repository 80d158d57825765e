"""The voter pages in the voter's language: what a phone shows in Chinese (the default) and in English
(``?lang=en``, the footer link), measured in Debian's chromium on the live site.

Definition data (questionnaire titles, item and choice labels, village and cadre names, the
campaign's name) is Chinese by nature and may stay Chinese on the English page, marked
``lang="zh-CN"``; every string the interface adds is the voter's language, and is marked as it.
The first three tests name problems a review found (English text marked as Chinese, Chinese
labels marked as English); the last two hold what it found sound.
"""
from __future__ import annotations

import re

import pytest

from tests.e2e.corners import DEFINITIONS, fill_single

pytestmark = pytest.mark.browser
HAN = re.compile(r"[\u4e00-\u9fff]")
DONE_ZH = "提交成功，您的测评已计入。"
DONE_EN = "Thank you. Your vote has been counted."
CHOOSE, WHOLE = "Please choose one", "Please give a whole number from 0 to 100"
LANG_OF = "e => e.closest('[lang]').lang"


@pytest.fixture(scope="module")
def site(live_site) -> dict:
    return live_site.custom_campaign("lang-corners", DEFINITIONS, cadres=2)


def submit(page) -> None:
    page.locator("button[type=submit]").click()
    page.wait_for_load_state()


def test_the_english_grid_marks_its_error_messages_as_english(live_site, phone, site):
    """A cadre reading the grid in English sends it with a row left out. Next to each cadre's name
    the page says 'Please choose one', but the message sits inside the grid's
    <table lang="zh-CN"> (sheet.html puts the error <span> in the row's <th>): a screen reader
    reads the English words with Chinese rules, and a browser may pick a Chinese font for them.
    Only the definition's text (names, choice labels) is Chinese; the message is the interface's."""
    phone.goto(site["grid"][0] + "?lang=en")
    submit(phone)
    errors = phone.locator("fieldset.grid span.err")
    assert errors.count() == 4  # two cadres, each a choice and a number box
    seen = [(e.inner_text(), e.evaluate(LANG_OF)) for e in errors.all()]
    assert [text for text, _lang in seen] == [CHOOSE, CHOOSE, WHOLE, WHOLE], seen
    assert all(lang == "en" for _text, lang in seen), f"the grid's English error messages are marked: {seen}"


def test_the_english_ballot_marks_optional_as_english(live_site, phone, site):
    """On the English ballot an item the voter may skip is headed '3. 可选打分 (optional)': the
    item's label is the definition's Chinese, but '(optional)' is the interface's English, and it
    is inside the item's <legend lang="zh-CN">, so it is read and shaped as Chinese."""
    phone.goto(site["single"][0] + "?lang=en")
    optional = phone.locator("fieldset.q legend small")
    assert optional.count() == 1 and optional.inner_text() == "(optional)"
    assert optional.evaluate(LANG_OF) == "en", f"“(optional)” is marked {optional.evaluate(LANG_OF)}"


def test_the_english_error_summary_marks_the_item_labels_as_chinese(live_site, phone, site):
    """Sent with answers missing, the English ballot lists at its top what is left: the links read
    '总体满意度：Please choose one', '百分打分：Please give a whole number from 0 to 100'. The
    item labels are the questionnaire's Chinese, but the list gives them no lang="zh-CN" (the
    legends and choices below do have it), so a screen reader reads 总体满意度 with English rules —
    the same problem the legends once had."""
    phone.goto(site["single"][1] + "?lang=en")
    submit(phone)
    summary = phone.locator("div.err.top")
    assert "Some answers are missing" in summary.inner_text()
    chinese = summary.evaluate("""s => {
        const walk = document.createTreeWalker(s, NodeFilter.SHOW_TEXT), found = [];
        for (let n = walk.nextNode(); n; n = walk.nextNode())
            if (/[\\u4e00-\\u9fff]/.test(n.data)) found.push([n.data.trim(), n.parentElement.closest('[lang]').lang]);
        return found; }""")
    assert len(chinese) == 3, chinese  # 总体满意度, 半分打分 and 百分打分
    assert all(lang == "zh-CN" for _text, lang in chinese), f"Chinese labels in the English summary: {chinese}"
    assert "：" not in summary.inner_text() and ": Please give a whole number from 0 to 100" in summary.inner_text()


@pytest.mark.parametrize("where", ["code", "poster"])
def test_the_language_link_on_the_confirmation_says_in_english_that_the_vote_counted(live_site, phone, site, where):
    """A villager votes in Chinese and sees 提交成功，您的测评已计入。 Her grandson, who reads
    English, taps the 'English' link to read it. Both pages he gets are the ones a phone that voted
    gets whenever it opens the page again (a rescan days later): from a slip's code, 'Your vote was
    already recorded — We received your vote the first time you sent it' (true, and what a rescan
    needs to hear); from a poster, that this phone has voted with it — the phone is all a poster
    knows, and the next resident on the family phone must not be told a vote he never gave was
    counted. What must hold is that each is wholly English and none claims the code was used."""
    phone.goto(site["poster"] if where == "poster" else site["single"][2])
    fill_single(phone)
    submit(phone)
    assert phone.locator("h1").inner_text() == DONE_ZH
    with phone.expect_response(lambda r: "lang=en" in r.url) as reply:
        phone.locator("footer a").click()
    phone.wait_for_load_state()
    heading = phone.locator("h1").inner_text()
    expected = (200, "Your vote was already recorded") if where == "code" else (409, "You have already voted from this phone")
    assert (reply.value.status, heading) == expected, (
        f"after the English link the voter sees “{heading}” ({reply.value.status})")
    assert not HAN.search(phone.locator("main").inner_text())


def test_baseline_the_chosen_language_sticks_through_errors_and_the_confirmation(live_site, phone, site):
    """Found sound. A voter taps 'English' on a Chinese ballot, sends it with a number
    out of range and an item left out, corrects it, and sends it again: the page with the errors
    and the confirmation stay English, with English messages next to the items (missing answer,
    out of range, off-step); the Chinese page shows them in Chinese."""
    phone.goto(site["single"][3])
    assert phone.evaluate("document.documentElement.lang") == "zh-CN"
    phone.locator("footer a").click()
    phone.wait_for_load_state()
    assert phone.evaluate("document.documentElement.lang") == "en"
    phone.locator("input[name$='__pct']").fill("101")
    phone.locator("input[name$='__extra']").fill("7.5")
    submit(phone)
    assert phone.evaluate("document.documentElement.lang") == "en"
    messages = [e.inner_text() for e in phone.locator("p.err").all()]
    assert messages == [CHOOSE, CHOOSE, WHOLE, WHOLE], messages
    assert not HAN.search(phone.locator("button[type=submit]").inner_text() + phone.title().split(" - ")[0])
    fill_single(phone)
    phone.locator("input[name$='__extra']").fill("")
    submit(phone)
    assert phone.evaluate("document.documentElement.lang") == "en"
    assert phone.locator("h1").inner_text() == DONE_EN
    assert not HAN.search(phone.locator("main").inner_text())

    phone.goto(site["single"][4] + "?lang=zh")
    phone.locator("input[name$='__pct']").fill("101")
    submit(phone)
    messages = [e.inner_text() for e in phone.locator("p.err").all()]
    assert messages == ["请选择一项", "请选择一项", "请填写 0 到 100 之间的整数"], messages
