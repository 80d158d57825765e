"""Turn freshly issued codes into printable slips; the plain codes exist only until printed."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from flask import current_app

from forms.rater_groups import label as group_label
from reports.slips import Slip, SlipTextError, write_slips
from survey_app.extensions import db
from survey_app.oserrors import reason
from survey_app.models import BallotSheet, Organisation
from survey_app.services import tokens
from survey_app.services.export import csv_safe
from survey_app.services.tokens import IssuedBatch, display


def slip_url(code: str) -> str:
    return f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/t/{display(code)}"


def slips_for(sheet: BallotSheet, codes: Sequence[str]) -> list[Slip]:
    org = db.session.get(Organisation, sheet.org_id) if sheet.org_id else None
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    organisation = org.name if org else ""
    title = sheet.title  # printed under the organisation's name, which it need not repeat
    if organisation and title.startswith(f"{organisation}·"):
        title = title[len(organisation) + 1:]
    return [Slip(url=slip_url(code), code=display(code), campaign=sheet.campaign.name,
                 organisation=organisation, rater_group=group_label(sheet.rater_group),
                 sheet=title, entry_url=f"{base}/t") for code in codes]


def batch_pdf_path(batch_id: int) -> Path:
    """Where a batch's slips are kept for download (mode 0600 in a 0700 folder under instance/)."""
    return _batches_folder() / f"batch-{batch_id}.pdf"


def _batches_folder() -> Path:
    from survey_app.config import instance_dir

    folder = instance_dir() / "batches"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


class SlipsError(tokens.TokenError):
    pass


def issue_with_slips(sheet: BallotSheet, count: int, *, actor: object, label: str = "",
                     pdf: Path | None = None, codes_csv: Path | None = None) -> tuple[IssuedBatch, int, Path]:
    """Issue a batch and write its slips (to ``pdf``, or to the batch's own file for download), and
    the mail-merge CSV if asked: all of them or none.

    A batch stored without its slips would count as issued in turnout, and nobody could ever vote
    with it. So the files are written first, under temporary names beside their targets; the codes
    are stored only once they are, and the files take their names after the commit. The database
    is not held while the PDF is drawn (seconds for a large batch), so voting goes on meanwhile.
    Returns the batch, the PDF's page count and the PDF's path.
    """
    tokens.check_batch(sheet, count)
    codes = tokens.new_codes(count)
    files: list[tuple[Path, Path | None]] = []  # (written, its name once the batch is stored)
    where: Path = pdf or _batches_folder()  # what is being written, for the message
    try:
        try:
            pages = write_sheet_slips(sheet, codes, _beside(where.parent if pdf else where, pdf, files))
            if codes_csv is not None:
                where = codes_csv
                write_codes_csv(sheet, codes, _beside(codes_csv.parent, codes_csv, files))
        except OSError as exc:
            raise SlipsError(f"无法写入 {where}（{reason(exc)}），没有发放测评码") from exc
        except SlipTextError as exc:
            raise SlipsError(f"{exc}，没有发放测评码") from None
        issued = tokens.issue_tokens(sheet, count, label=label, actor=actor, codes=codes)
    except BaseException:
        for written, _name in files:
            written.unlink(missing_ok=True)
        raise
    final = pdf or batch_pdf_path(issued.batch.id)
    if pdf is not None:  # no copy kept for this batch: an old file of its id (SQLite reuses ids) is no one's
        batch_pdf_path(issued.batch.id).unlink(missing_ok=True)
    for written, name in files:
        os.replace(written, name or final)
    return issued, pages, final


def _beside(folder: Path, target: Path | None, files: list[tuple[Path, Path | None]]) -> Path:
    """A new file in ``folder`` that only its owner may read: it holds plain codes."""
    handle, name = tempfile.mkstemp(dir=folder, prefix=".pingyi-", suffix=".part")
    os.close(handle)
    files.append((Path(name), target))
    return Path(name)


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
            writer.writerow([code, url, csv_safe(sheet.title)])  # the title begins with a village's name
