"""Re-extract the messages and fill the Simplified Chinese catalogue from ZH below, then compile.

Run: .venv/bin/python tools/translations.py   (the suite fails if a message has no translation)
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
CATALOGS = ROOT / "survey_app" / "translations"
sys.path.insert(0, str(ROOT / "tools"))
from zh_messages import ZH  # noqa: E402


def main() -> int:
    pot = ROOT / "build" / "messages.pot"
    pot.parent.mkdir(exist_ok=True)
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", str(ROOT / "babel.cfg"),
                    "-k", "_l", "-k", "lazy_gettext", "--no-location", "--sort-output", "-o", str(pot),
                    str(ROOT)], check=True, capture_output=True)
    with pot.open("rb") as handle:
        template = read_po(handle)
    missing = []
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
        with (folder / "messages.po").open("wb") as handle:
            write_po(handle, template, no_location=True, sort_output=True, width=100)
        with (folder / "messages.mo").open("wb") as handle:
            write_mo(handle, template)
    for text in missing:
        print(f"no Chinese for: {text!r}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
