"""What a voter's phone does with JavaScript and a bad network: answers kept, shared phones, lost replies.

Each test names a problem a review found in survey_app/static/ballot.js and the ballot routes, and
since fixed, measured in Debian's chromium as a 360×640 WeChat phone.
"""
from __future__ import annotations

import subprocess
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import BIN
from tests.e2e.corners import DEFINITIONS, fill_single


pytestmark = pytest.mark.browser
USED = "该测评码已经使用过"
DONE = "提交成功，您的测评已计入。"
RECORDED = "您的测评已经记录"

@pytest.fixture(scope="module")
def probe(live_site) -> dict:
    return live_site.custom_campaign("phone-corners", DEFINITIONS, cadres=3)


def answers(page) -> dict[str, str]:
    """What the form would send now, item by item (subject prefix dropped on the single sheet)."""
    return page.evaluate("""() => Object.fromEntries([...new FormData(document.getElementById('ballot'))]
        .filter(([k]) => k.includes('__')).map(([k, v]) => [k, v]))""")


def stored(page) -> str:
    return page.evaluate("JSON.stringify(Object.assign({}, localStorage)) + JSON.stringify(Object.assign({}, sessionStorage))")


def test_number_boxes_survive_a_lost_connection_and_a_reload(live_site, phone, probe):
    """A villager types 85 into a 0–100 number box (and a cadre a score per row of a grid), taps
    submit on a dead signal, and scans the slip again once the signal is back: the 满意 button and
    the 7.5 half-point button are still ticked, but every number box is empty again, and the sheet
    comes back with 请选择一项 under it. ballot.js keeps radios only."""
    url = probe["single"][0]
    phone.goto(url)
    fill_single(phone)
    given = answers(phone)
    assert sorted(v for k, v in given.items()) == sorted(["basically", "7.5", "85", "42"])

    phone.context.set_offline(True)
    phone.locator("button[type=submit]").click(no_wait_after=True)
    phone.wait_for_timeout(1500)
    assert phone.url.startswith("chrome-error://")  # the browser's own 'no internet' page, not ours
    phone.context.set_offline(False)
    phone.goto(url)  # Back leads out of the ballot (the error page took its place): the voter scans again
    kept = answers(phone)
    assert kept == given, f"after the lost connection the sheet sends {kept}, the voter had given {given}"

    grid = probe["grid"][0]
    phone.goto(grid)
    rows = phone.locator("fieldset.grid").first.locator("tbody tr")
    for i in range(rows.count()):
        rows.nth(i).locator("input[type=radio]").nth(1).check()
    boxes = phone.locator("input[type=number]")
    assert boxes.count() == 3
    for i in range(boxes.count()):
        boxes.nth(i).fill(str(70 + i))
        boxes.nth(i).blur()
    given = answers(phone)
    phone.reload()
    kept = answers(phone)
    assert kept == given, f"after a reload the grid sends {kept}, the cadre had given {given}"
    phone.locator("button[type=submit]").click()
    phone.wait_for_load_state()
    assert phone.locator("h1").inner_text() == DONE


def test_a_poster_does_not_hand_one_residents_answers_to_the_next(live_site, phone, probe):
    """The family's one phone: the grandmother scans the village poster, ticks 不满意 and 2 points,
    and is called away without sending. Her grandson scans the same poster later and finds her
    answers already ticked on his ballot — he sees how she voted, and may send them as his own.
    ballot.js keys its saved answers by the poster's path alone, which every resident shares."""
    poster = probe["poster"]
    phone.goto(poster)
    phone.locator("input[value=dissatisfied]").check()
    phone.locator("input[name$='__half'][value='2']").check()
    phone.close()

    nxt = phone.context.new_page()
    nxt.goto(poster)
    ticked = [f"{r.get_attribute('name').split('__')[1]}={r.get_attribute('value')}"
              for r in nxt.locator("input[type=radio]:checked").all()]
    assert ticked == [], f"the next resident's fresh poster ballot opens with {ticked} already ticked"
    assert "dissatisfied" not in stored(nxt), f"the phone's storage still holds: {stored(nxt)}"


def test_a_voter_whose_confirmation_was_lost_is_not_told_the_code_was_used(live_site, phone, probe):
    """On a weak signal the ballot reaches the server and is stored, but the reply never comes back
    (or the voter gives up waiting). The voter scans the slip again and is told 该测评码已经使用过 …
    如果您没有用它投过票，请告知发放测评票的工作人员 — as if someone else had used the code — and
    the answers stay in the phone's storage under the plain code for the next user of the phone.
    The phone knew: it kept the answers, but not the form's idempotency nonce."""
    url = probe["single"][1]
    phone.goto(url)
    fill_single(phone)
    server_said = []

    def reply_lost(route):
        if route.request.method != "POST":
            return route.continue_()
        request = route.request
        headers = {k: v for k, v in request.all_headers().items() if not k.startswith(":")}
        sent = urllib.request.Request(request.url, data=request.post_data_buffer, headers=headers, method="POST")
        with urllib.request.urlopen(sent, timeout=20) as response:  # reaches the server, outside the browser
            server_said.append(response.read().decode())
        route.abort("internetdisconnected")  # ... and its reply (with its cookie) is lost on the way back

    phone.route("**/t/*", reply_lost)
    phone.locator("button[type=submit]").click(no_wait_after=True)
    phone.wait_for_timeout(1500)
    phone.unroute("**/t/*")
    assert len(server_said) == 1 and DONE in server_said[0]  # the ballot was stored and counted

    phone.goto(url)  # the voter scans the slip again
    heading = phone.locator("h1").inner_text()  # the used-code page, already asking, or the answer
    assert heading != USED, f"the voter whose ballot was stored is told “{heading}”"
    expect(phone.locator("h1")).to_have_text(RECORDED)
    assert "basically" not in stored(phone), f"the phone still holds the cast answers: {stored(phone)}"


def test_a_phone_whose_code_someone_else_used_asks_once_and_forgets_its_answers(live_site, phone, browser, probe):
    """The other side of the resend: this phone filled in a slip and sent it into a dead signal
    (nothing reached the server), and meanwhile the same code was used on another phone. Scanning
    again, the phone asks once with its nonce, is told 该测评码已经使用过, and keeps nothing: the
    answers can never be sent with this code. It must not ask in a loop."""
    url = probe["single"][2]
    phone.goto(url)
    fill_single(phone)
    phone.context.set_offline(True)
    phone.locator("button[type=submit]").click(no_wait_after=True)
    phone.wait_for_timeout(1000)
    phone.context.set_offline(False)

    other = browser.new_context(viewport={"width": 360, "height": 640})
    elsewhere = other.new_page()
    elsewhere.goto(url)
    fill_single(elsewhere)
    elsewhere.locator("button[type=submit]").click()
    elsewhere.wait_for_load_state()
    assert elsewhere.locator("h1").inner_text() == DONE
    other.close()

    posts = []
    phone.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    phone.goto(url)
    expect(phone.locator("h1")).to_have_text(USED)
    phone.wait_for_timeout(1500)  # room for a second ask, were there one
    assert len(posts) == 1, f"the phone asked {len(posts)} times"  # once: it had kept the nonce
    assert phone.locator("h1").inner_text() == USED
    assert stored(phone) == "{}{}", f"the phone still holds: {stored(phone)}"


def test_a_double_tap_on_submit_is_told_the_vote_counted(live_site, phone, probe):
    """An elderly villager taps 提交 twice, the second before the first answer arrives. The browser
    sends the form twice (the same nonce: it counts once) and shows the answer to the second, so
    the villager read 您的测评已经记录 (already recorded) instead of 提交成功 — as if a vote had
    been sent before."""
    phone.goto(probe["single"][3])
    fill_single(phone)
    posts = []
    phone.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    signal = phone.context.new_cdp_session(phone)  # a weak signal: a second for each round trip
    signal.send("Network.emulateNetworkConditions", {"offline": False, "latency": 1000,
                                                     "downloadThroughput": -1, "uploadThroughput": -1})
    phone.evaluate("""() => { const b = document.querySelector('button[type=submit]');
                              b.click(); setTimeout(() => b.click(), 300); }""")
    phone.wait_for_timeout(4000)
    phone.wait_for_load_state()
    assert phone.locator("h1").inner_text() == DONE, f"after a double tap the villager reads “{phone.locator('h1').inner_text()}”"
    assert len(posts) == 1, f"the form was sent {len(posts)} times"


VOID = r"""
import sys
from sqlalchemy import select
from survey_app import create_app
from survey_app.extensions import db
from survey_app.models import Token, TokenBatch
from survey_app.services import tokens

app = create_app()
with app.app_context():
    token = db.session.scalar(select(Token).where(Token.code_hash == tokens.code_hash(tokens.normalise(sys.argv[1]))))
    tokens.void_batch(db.session.get(TokenBatch, token.batch_id), actor="test")
    db.session.commit()
"""


def test_a_withdrawn_code_leaves_nothing_of_its_ballot_on_the_phone(live_site, phone):
    """A villager fills in most of a slip's ballot and puts the phone away; the slip is then
    withdrawn (a misprinted batch). Scanning it again shows 该测评码已作废, but the phone kept her
    answers under the code's address for as long as the browser lives, for whoever uses the
    phone next: only the confirmation and the used-code page cleared them."""
    url = live_site.codes("D01T03V03-masses", 1)[0]
    phone.goto(url)
    phone.locator("input[value=dissatisfied]").first.check()
    assert "dissatisfied" in phone.evaluate("JSON.stringify(Object.assign({}, localStorage))")
    done = subprocess.run([BIN / "python", "-c", VOID, url.rsplit("/", 1)[1]], env=live_site.env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    phone.goto(url)
    assert phone.locator("h1").inner_text() == "该测评码已作废"
    assert stored(phone) == "{}{}", f"the phone still holds: {stored(phone)}"
