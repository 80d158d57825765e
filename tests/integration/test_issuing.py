"""Issuing a batch: its codes are stored together with their slips, or not at all.

A batch stored without its slips would count as issued in turnout (and lower every participation
rate), and nobody could ever vote with its codes.
"""
from __future__ import annotations

import csv
import errno
import os
import re
import stat
import subprocess

import pytest
from sqlalchemy import func, select

from reports.slips import GRID
from survey_app.extensions import db
from survey_app.models import Token, TokenBatch
from survey_app.services import audit, casting, tokens
from survey_app.services.slips import batch_pdf_path
from tests.conftest import make_staff
from tests.factories import open_campaign

pytestmark = pytest.mark.db


def stored() -> tuple[int, int]:
    db.session.remove()
    return (db.session.scalar(select(func.count()).select_from(TokenBatch)),
            db.session.scalar(select(func.count()).select_from(Token)))


def test_issue_tokens_writes_the_slips_and_the_codes_and_leaves_nothing_else(app, pingyi, tmp_path):
    open_campaign()
    pdf, codes_csv = tmp_path / "slips.pdf", tmp_path / "codes.csv"
    done = pingyi("issue-tokens", "t2026", "--sheet", "T1V1-masses", "--count", "12", "--out", str(pdf),
                  "--codes", str(codes_csv))
    assert done.exit_code == 0, done.output
    assert "已发放 12 个测评码" in done.output and str(pdf) in done.output
    with codes_csv.open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 12 and all(casting.lookup(tokens.normalise(r["测评码"])) for r in rows)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = -(-12 // GRID.per_page)
    assert re.search(rf"^Pages:\s+{pages}$", info, re.M) and f"测评票 {pages} 页" in done.output
    # plain codes: readable by their owner only, and no scratch file is left beside them
    assert {stat.S_IMODE(p.stat().st_mode) for p in (pdf, codes_csv)} == {0o600}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["codes.csv", "instance", "slips.pdf"]
    assert stored() == (1, 12)


@pytest.mark.parametrize("broken", ["out", "codes"])
def test_slips_that_cannot_be_written_issue_no_code(app, pingyi, tmp_path, broken):
    open_campaign()
    before = stored()
    pdf, codes_csv = tmp_path / "slips.pdf", tmp_path / "codes.csv"
    if broken == "out":
        pdf = tmp_path / "no-such-folder" / "slips.pdf"
    else:
        codes_csv = tmp_path / "no-such-folder" / "codes.csv"
    done = pingyi("issue-tokens", "t2026", "--sheet", "T1V1-masses", "--count", "5", "--out", str(pdf),
                  "--codes", str(codes_csv))
    assert done.exit_code == 1
    assert f"无法写入 {tmp_path / 'no-such-folder'}" in done.output and "没有发放测评码" in done.output
    assert "Traceback" not in done.output
    assert stored() == before == (0, 0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["instance"]  # no slips, no scratch file


def test_a_batch_the_database_refuses_leaves_no_slips_behind(app, pingyi, tmp_path, monkeypatch):
    open_campaign()

    def refuse(*_args, **_kwargs):
        raise RuntimeError("database is locked")

    monkeypatch.setattr(audit, "record", refuse)
    with pytest.raises(RuntimeError, match="database is locked"):
        pingyi("issue-tokens", "t2026", "--sheet", "T1V1-masses", "--count", "5", "--out", str(tmp_path / "s.pdf"),
               "--codes", str(tmp_path / "c.csv"))
    assert stored() == (0, 0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["instance"]


@pytest.mark.parametrize("out, codes, named", [("slips.txt", None, "slips.txt"), ("slips", None, "slips"),
                                               ("slips.pdf", "codes.xlsx", "codes.xlsx")])
def test_slips_or_codes_asked_for_in_another_format_issue_nothing(app, pingyi, tmp_path, out, codes, named):
    """--out slips.txt wrote a PDF under a name no viewer opens it by, after issuing the batch: the
    organiser who then reads the message has 5 live codes in a file they will not print."""
    open_campaign()
    args = ["--out", str(tmp_path / out)] + (["--codes", str(tmp_path / codes)] if codes else [])
    refused = pingyi("issue-tokens", "t2026", "--sheet", "T1V1-masses", "--count", "5", *args)
    assert refused.exit_code == 2 and f"“{named}”" in refused.output, refused.output
    assert stored() == (0, 0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["instance"]


def test_a_reader_that_stops_early_is_not_an_error(app):
    """`pingyi turnout t2026 | head` printed 错误：Broken pipe once head had read enough."""
    open_campaign()
    db.session.commit()
    from tests.e2e.conftest import BIN

    piped = subprocess.run(f"{BIN / 'pingyi'} turnout t2026 | true", shell=True, capture_output=True,
                           text=True, timeout=60,
                           env={**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"]})
    assert piped.returncode == 0 and piped.stderr == "", piped.stderr


def test_a_full_disk_on_the_admin_desk_issues_nothing_and_says_so(app, instance, monkeypatch):
    from survey_app.services import slips

    _campaign, sheets = open_campaign()
    admin = make_staff(app, "issuer", "admin")
    form = {"sheet": str(sheets["V1"].id), "count": "30"}

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    path = "/admin/campaigns/t2026/batches"
    with monkeypatch.context() as disk:
        disk.setattr(slips, "write_slips", full)
        done = admin.post(path, data={**form, "csrf_token": admin.token(path)})
        assert done.status_code == 303
        with admin.get(path) as page:
            text = page.get_data(as_text=True)
        assert "磁盘空间不足" in text and "没有发放测评码" in text
        assert stored() == (0, 0)
        assert not list(batch_pdf_path(1).parent.iterdir())

    # room again (only the disk is restored: the instance folder is monkeypatched too): the same
    # form issues the batch, with its PDF for download
    done = admin.post(path, data={**form, "csrf_token": admin.token(path)})
    assert done.status_code == 303 and stored() == (1, 30)
    batch = db.session.scalar(select(TokenBatch))
    assert batch_pdf_path(batch.id).parent == instance / "batches"
    assert [p.name for p in batch_pdf_path(batch.id).parent.iterdir()] == [f"batch-{batch.id}.pdf"]
    assert stat.S_IMODE(batch_pdf_path(batch.id).stat().st_mode) == 0o600
    with admin.get(f"/admin/batches/{batch.id}/slips.pdf") as pdf:
        assert pdf.status_code == 200 and pdf.get_data()[:5] == b"%PDF-"


def test_a_campaign_closed_while_its_slips_are_drawn_gets_no_batch(app, pingyi, tmp_path, monkeypatch):
    from sqlalchemy import update

    from survey_app.models import Campaign
    from survey_app.services import slips

    campaign, _sheets = open_campaign()
    real = slips.write_slips

    def slow_drawing(*args, **kwargs):  # another desk closes the campaign meanwhile
        with db.engine.begin() as other:
            other.execute(update(Campaign).where(Campaign.id == campaign.id).values(status="closed"))
        return real(*args, **kwargs)

    monkeypatch.setattr(slips, "write_slips", slow_drawing)
    done = pingyi("issue-tokens", "t2026", "--sheet", "T1V1-masses", "--count", "5", "--out", str(tmp_path / "s.pdf"))
    assert done.exit_code == 1 and "测评活动已结束，不能再发放测评码" in done.output
    assert stored() == (0, 0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["instance"]
