"""A live server on localhost with the demo campaign, and Debian's chromium driven by Playwright."""
from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WECHAT_UA = ("Mozilla/5.0 (Linux; Android 10; V2002A Build/QP1A.190711.020; wv) AppleWebKit/537.36 "
             "(KHTML, like Gecko) Version/4.0 Chrome/78.0.3904.62 XWEB/2691 MMWEBSDK/200901 Mobile "
             "Safari/537.36 MMWEBID/5175 MicroMessenger/7.0.19.1760(0x27001335) Process/toolsmp "
             "WeChat/arm64 NetType/4G Language/zh_CN ABI/arm64")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_CUSTOM_CAMPAIGN = r"""
import json, sys
from sqlalchemy import select
from survey_app import create_app
from survey_app.extensions import db
from survey_app.models import BallotSheet, Organisation, Person
from survey_app.services import campaigns, posters, tokens
from survey_app.services.campaigns import SubjectSpec

slug, single, grid, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
app = create_app()
with app.app_context():
    base = app.config["PUBLIC_BASE_URL"].rstrip("/")
    cadres = db.session.scalars(select(Person).where(Person.category == "cadre")
                                .order_by(Person.person_key)).all()[:count]
    org = db.session.scalars(select(Organisation).order_by(Organisation.id)).all()[-1]
    campaign = campaigns.create_campaign(slug, f"{slug} 测评", 2026, actor="test")
    campaigns.add_sheet(campaign, f"{slug}-single", "单页测评", single, "masses",
                        [SubjectSpec(org.code, org.name, org_id=org.id)], org_id=org.id)
    campaigns.add_sheet(campaign, f"{slug}-grid", "网格测评", grid, "town_cadre",
                        [SubjectSpec(p.person_key, f"{p.name}（{p.role}）", person_id=p.id) for p in cadres])
    db.session.flush()
    campaigns.open_campaign(campaign, actor="test")
    sheet = lambda key: db.session.scalar(select(BallotSheet).where(BallotSheet.key == key))
    out = {kind: [f"{base}/t/{tokens.display(c)}" for c in tokens.issue_tokens(sheet(f"{slug}-{kind}"), 6).codes]
           for kind in ("single", "grid")}
    out["poster"] = posters.poster_url(posters.create_poster(sheet(f"{slug}-single")))
    db.session.commit()
    json.dump(out, sys.stdout)
"""


@dataclass
class LiveSite:
    url: str
    folder: Path
    env: dict
    log: Path

    def pingyi(self, *args: str) -> str:
        done = subprocess.run([BIN / "pingyi", *args], env=self.env, capture_output=True, text=True,
                              timeout=180)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def custom_campaign(self, slug: str, definitions: dict[str, str], *, cadres: int) -> dict[str, list[str] | str]:
        """A campaign of its own beside the demo one, on a county's own definitions (key → YAML): a
        single sheet ``<slug>-single`` on the first definition for the last village, a grid
        ``<slug>-grid`` on the second for ``cadres`` cadres. Six code URLs of each, and a poster URL
        of the single sheet."""
        folder = self.folder / "definitions"
        folder.mkdir(exist_ok=True)
        for key, text in definitions.items():
            (folder / f"{key}.yaml").write_text(text, encoding="utf-8")
        single, grid = definitions
        done = subprocess.run([BIN / "python", "-c", _CUSTOM_CAMPAIGN, slug, single, grid, str(cadres)], env=self.env,
                              cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def codes(self, sheet: str, count: int) -> list[str]:
        out = self.folder / f"{sheet}-{time.monotonic_ns()}"
        self.pingyi("issue-tokens", "demo-2026", "--sheet", sheet, "--count", str(count),
                    "--out", f"{out}.pdf", "--codes", f"{out}.csv")
        with open(f"{out}.csv", encoding="utf-8-sig") as handle:
            return [row["网址"] for row in csv.DictReader(handle)]


@pytest.fixture(scope="session")
def live_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    folder = tmp_path_factory.mktemp("live")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PINGYI_INSTANCE": str(folder), "PINGYI_BASE_URL": url}
    env.pop("DATABASE_URL", None)
    log = folder / "server.log"
    site = LiveSite(url, folder, env, log)
    site.pingyi("demo")
    with log.open("w") as handle:
        server = subprocess.Popen([BIN / "pingyi", "serve", "--port", str(port), "--workers", "2"],
                                  env=env, stdout=handle, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{url}/healthz", timeout=2).read()
                break
            except OSError:
                time.sleep(0.2)
        yield site
    finally:
        server.terminate()
        server.wait(timeout=20)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: run `make test`, which installs it"
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def phone(browser, request):
    """A 360×640 phone inside WeChat's browser; ``javascript`` is parametrised by the test."""
    javascript = getattr(request, "param", True)
    context = browser.new_context(viewport={"width": 360, "height": 640}, user_agent=WECHAT_UA,
                                  device_scale_factor=2, is_mobile=True, has_touch=True,
                                  java_script_enabled=javascript, locale="zh-CN")
    page = context.new_page()
    page.requests = []  # type: ignore[attr-defined]
    page.on("request", lambda r: page.requests.append(r.url))  # type: ignore[attr-defined]
    yield page
    context.close()


def shot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
