"""The organisation department's day, in Debian's chromium: from a new campaign to live turnout."""
from __future__ import annotations

import subprocess

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shot
from tests.e2e.test_ballot_browser import answer_villager_sheet

pytestmark = pytest.mark.browser


def decode_first_qr(pdf: str, folder) -> str:
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-f", "1", "-l", "1", pdf, str(folder / "page")], check=True)
    png = next(folder.glob("page*.png"))
    out = subprocess.run(["zbarimg", "--raw", "-q", str(png)], capture_output=True, text=True, check=True)
    return out.stdout.split()[0]


def sign_in(live_site, desk):
    username, password = (live_site.folder / "demo" / "demo_admin.txt").read_text().split()
    page = desk.new_page()
    page.goto(f"{live_site.url}/admin/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    assert page.locator("h1").inner_text() == "测评活动"
    return page


def test_log_in_create_open_issue_download_and_watch_turnout_change_by_itself(live_site, browser, tmp_path):
    desk = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True, locale="zh-CN")
    page = sign_in(live_site, desk)

    page.click("text=新建测评活动")
    page.fill("input[name=slug]", "e2e-2026")
    page.fill("input[name=name]", "青山镇2026年群众满意度测评")
    page.fill("input[name=year]", "2026")
    page.select_option("select[name=scheme]", "jiading_tiers")
    page.click("main button[type=submit]")
    assert page.locator("h1").inner_text() == "青山镇2026年群众满意度测评"

    page.select_option("select[name=questionnaire]", "village_satisfaction")
    page.select_option("select[name=rater_group]", "masses")
    page.select_option("select[name=org]", "D01T02")
    page.click("form.row button[type=submit]")
    assert "已添加 8 张测评票" in page.locator(".flash").inner_text()
    page.click("button:has-text('开始测评')")
    assert "定义已冻结" in page.locator(".flash").inner_text()
    assert page.locator("text=village_satisfaction").count() >= 1
    shot(page, "admin-campaign")

    page.click("text=测评码与测评票")
    page.select_option("select[name=sheet]", label="D01T02V01-masses · 青山村·村“两委”班子群众满意度测评表（群众）")
    page.fill("input[name=count]", "5")
    page.click("form.row button[type=submit]")
    assert "已发放 5 个测评码" in page.locator(".flash").inner_text()
    with page.expect_download() as download:
        page.click("a:has-text('下载测评票')")
    pdf = tmp_path / "slips.pdf"
    download.value.save_as(pdf)
    assert pdf.read_bytes()[:5] == b"%PDF-"
    url = decode_first_qr(str(pdf), tmp_path)
    assert url.startswith(f"{live_site.url}/t/")
    shot(page, "admin-batches")

    page.goto(f"{live_site.url}/admin/campaigns/e2e-2026/turnout")
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    cell = page.locator('tr[data-sheet="D01T02V01-masses"] [data-k="used"]')
    assert cell.inner_text() == "0"
    assert page.locator('tr[data-sheet="D01T02V01-masses"] [data-k="issued"]').inner_text() == "5"

    phone = browser.new_context(viewport={"width": 360, "height": 640}, is_mobile=True)
    voter = phone.new_page()
    voter.goto(url)
    answer_villager_sheet(voter)
    voter.click("button[type=submit]")
    assert voter.locator("h1").inner_text() == "提交成功，您的测评已计入。"
    phone.close()

    expect(cell).to_have_text("1", timeout=15_000)  # polled by Playwright; the page's CSP forbids eval
    assert page.locator('tr[data-sheet="D01T02V01-masses"] [data-k="share"]').inner_text() == "20.0%"
    assert navigations == [], "the table changed without the page reloading"
    shot(page, "admin-turnout")
    desk.close()


def test_a_ledger_line_is_kept_up_from_its_own_row_under_its_own_headings(live_site, browser):
    """Each row's fields belong to that row's form, though a form cannot span table cells."""
    live_site.pingyi("demo", "--simulate", "60")
    assert "整改台账" in live_site.pingyi("grade", "demo-2026")
    desk = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = sign_in(live_site, desk)
    page.goto(f"{live_site.url}/admin/campaigns/demo-2026/rectification")
    headings = page.locator("table.ledger thead th").all_inner_texts()
    rows = page.locator("table.ledger tbody tr")
    first, second = rows.nth(0), rows.nth(1)
    for name, heading in [("owner", "责任人"), ("deadline", "整改时限"), ("status", "状态"), ("done_on", "销号日期"),
                          ("note", "备注")]:
        column = second.locator("td").evaluate_all(
            f"(cells) => cells.findIndex((c) => c.querySelector('[name={name}]'))")
        assert headings[column] == heading, f"{name} sits under {headings[column]!r}"
    owner_before = first.locator("input[name=owner]").input_value()
    first.locator("input[name=owner]").fill("不应保存")  # another row's edit, not saved with this one
    second.locator("input[name=owner]").fill("王书记")
    second.locator("select[name=status]").select_option(label="已销号（挂牌销号）")
    second.locator("input[name=note]").fill("已补齐台账")
    second.locator("button").click()
    page.wait_for_load_state()
    first, second = rows.nth(0), rows.nth(1)
    assert second.locator("input[name=owner]").input_value() == "王书记"
    assert second.locator("input[name=note]").input_value() == "已补齐台账"
    assert second.locator("input[name=done_on]").input_value(), "closing a line stamps the day"
    assert first.locator("input[name=owner]").input_value() == owner_before
    assert "已销号 1" in page.locator("main p").first.inner_text()
    shot(page, "admin-ledger")
    desk.close()
