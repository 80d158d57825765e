"""Re-extract the messages, fill the Simplified Chinese catalogue from zh_messages.ZH, compile.

Run: .venv/bin/python tools/translations.py [--check]
--check writes nothing and fails if a message has no Chinese or the committed catalogue is stale.
"""
from __future__ import annotations

import io
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
CATALOGS = ROOT / "survey_app" / "translations"
sys.path.insert(0, str(ROOT / "tools"))
from zh_messages import ZH  # noqa: E402


FIXED_DATE = datetime(2026, 1, 1, tzinfo=timezone.utc)  # stable files: no churn from timestamps
GENERATED_BY = re.compile(rb'^"Generated-By: Babel [^"]*"\n', re.M)


def comparable(name: str, data: bytes) -> object:
    """What a catalogue says, less the Babel version that wrote it: a new Babel release on PyPI
    alone must not make the committed files stale (the .mo holds that version in its header)."""
    if name.endswith(".po"):
        return GENERATED_BY.sub(b"", data)
    catalog = read_mo(io.BytesIO(data))
    return catalog.plural_forms, sorted((m.context or "", str(m.id), str(m.string)) for m in catalog if m.id)


def main(check: bool = False) -> int:
    pot = ROOT / "build" / "messages.pot"
    pot.parent.mkdir(exist_ok=True)
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", str(ROOT / "babel.cfg"),
                    "-k", "_l", "-k", "lazy_gettext", "--no-location", "--sort-output", "-o", str(pot),
                    str(ROOT)], check=True, capture_output=True)
    with pot.open("rb") as handle:
        template = read_po(handle)
    template.creation_date = template.revision_date = FIXED_DATE
    template.project, template.version = "pingyi", "1"
    missing, stale = [], []
    for locale in ("zh_Hans_CN", "en"):
        folder = CATALOGS / locale / "LC_MESSAGES"
        folder.mkdir(parents=True, exist_ok=True)
        template.locale = locale
        for message in template:
            if not message.id:
                continue
            if locale == "en":
                message.string = ""  # the English source text is shown as it is
            else:
                message.string = ZH.get(message.id, "")
                if not message.string:
                    missing.append(message.id)
        for name, writer in (("messages.po", lambda h: write_po(h, template, no_location=True,
                                                                 sort_output=True, width=100)),
                             ("messages.mo", lambda h: write_mo(h, template))):
            buffer = io.BytesIO()
            writer(buffer)
            target = folder / name
            if check:
                if not target.exists() or comparable(name, target.read_bytes()) != comparable(name, buffer.getvalue()):
                    stale.append(str(target.relative_to(ROOT)))
            else:
                target.write_bytes(buffer.getvalue())
    for text in missing:
        print(f"no Chinese for: {text!r}", file=sys.stderr)
    for path in stale:
        print(f"out of date: {path} (run tools/translations.py)", file=sys.stderr)
    return 1 if missing or stale else 0


if __name__ == "__main__":
    raise SystemExit(main(check="--check" in sys.argv))
