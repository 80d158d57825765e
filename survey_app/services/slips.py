"""Turn freshly issued codes into printable slips; the plain codes exist only until printed."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from flask import current_app

from forms.rater_groups import label as group_label
from reports.slips import Slip, write_slips
from survey_app.extensions import db
from survey_app.models import BallotSheet, Organisation
from survey_app.services.tokens import display


def slip_url(code: str) -> str:
    return f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/t/{display(code)}"


def slips_for(sheet: BallotSheet, codes: Sequence[str]) -> list[Slip]:
    org = db.session.get(Organisation, sheet.org_id) if sheet.org_id else None
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return [Slip(url=slip_url(code), code=display(code), campaign=sheet.campaign.name,
                 organisation=org.name if org else "", rater_group=group_label(sheet.rater_group),
                 sheet=sheet.title, entry_url=f"{base}/t") for code in codes]


def batch_pdf_path(batch_id: int) -> Path:
    """Where a batch's slips are kept for download (mode 0600 in a 0700 folder under instance/)."""
    from survey_app.config import instance_dir

    folder = instance_dir() / "batches"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder / f"batch-{batch_id}.pdf"


def write_batch_slips(sheet: BallotSheet, batch_id: int, codes: Sequence[str]) -> Path:
    import os

    path = batch_pdf_path(batch_id)
    write_sheet_slips(sheet, codes, path)
    os.chmod(path, 0o600)
    return path


def write_sheet_slips(sheet: BallotSheet, codes: Sequence[str], path: str | Path) -> int:
    """Shuffled on the way to paper, so hand-out order says nothing about who got which code."""
    return write_slips(slips_for(sheet, codes), path, shuffle=True)


def write_codes_csv(sheet: BallotSheet, codes: Sequence[str], path: str | Path) -> None:
    """For mail-merge or SMS: the only place besides the slips where plain codes are written."""
    import csv
    import secrets

    rows = [(display(c), slip_url(c)) for c in codes]
    secrets.SystemRandom().shuffle(rows)
    with Path(path).open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(["测评码", "网址", "测评票"])
        for code, url in rows:
            writer.writerow([code, url, sheet.title])
