"""The fonts that slips and posters embed (CJK, and a monospace for the codes), found once per process.

Printed slips go to villages where nobody can fix a PDF that shows boxes instead of characters,
so a missing font is an error at write time, never a silent fallback to Helvetica.
"""
from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

CJK_FONT_NAME = "WQYZenHei"
#: Latin monospace for the typable code, embedded like the CJK font: a PDF standard font such as
#: Courier is not, so the printer's own substitute would draw the 2/Z, 5/S and 8/B people type from.
CODE_FONT_NAME = "PingyiMono"
CODE_FONT_ENV_VAR = "PINGYI_CODE_FONT"
_CODE_FONT_FILES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf",  # Debian, Ubuntu (fonts-dejavu-core)
    "/usr/share/fonts/dejavu-sans-mono-fonts/DejaVuSansMono-Bold.ttf",  # Fedora
    "/usr/share/fonts/TTF/DejaVuSansMono-Bold.ttf",  # Arch
    "/usr/share/fonts/truetype/liberation/LiberationMono-Bold.ttf",
)

FONT_ENV_VAR = "PINGYI_CJK_FONT"
_FONT_FILE = "wqy-zenhei.ttc"
_KNOWN_DIRS = (
    "/usr/share/fonts/truetype/wqy",  # Debian, Ubuntu (fonts-wqy-zenhei)
    "/usr/share/fonts/wqy-zenhei",  # Fedora, RHEL
    "/usr/share/fonts/wenquanyi/wqy-zenhei",  # Arch
    "/usr/local/share/fonts",
    "/Library/Fonts",
)


class FontNotFoundError(FileNotFoundError):
    """The CJK font is not installed where we looked."""


def _overridden(env_var: str) -> Path | None:
    """The font file an environment variable names, which must exist; None when it is not set."""
    override = os.environ.get(env_var, "").strip()
    if not override:
        return None
    path = Path(override)
    if not path.is_file():
        raise FontNotFoundError(f"{env_var}={override!r} does not name a font file")
    return path


def find_cjk_font() -> Path:
    """Locate wqy-zenhei: the environment variable wins, then known paths, then fontconfig.

    WenQuanYi Zen Hei is chosen because it has TrueType outlines (reportlab cannot embed the
    CFF outlines of Noto CJK) and covers every character of county and village names.
    """
    override = _overridden(FONT_ENV_VAR)
    if override is not None:
        return override
    for folder in _KNOWN_DIRS:
        path = Path(folder, _FONT_FILE)
        if path.is_file():
            return path
    found = _ask_fontconfig()
    if found is not None:
        return found
    raise FontNotFoundError(
        f"CJK font {_FONT_FILE} not found (looked in {', '.join(_KNOWN_DIRS)} and fontconfig); "
        f"install the Debian package fonts-wqy-zenhei (apt-get install fonts-wqy-zenhei) "
        f"or point {FONT_ENV_VAR} at a TrueType CJK font file"
    )


def _ask_fontconfig() -> Path | None:
    fc_match = shutil.which("fc-match")
    if fc_match is None:
        return None
    try:
        result = subprocess.run(
            [fc_match, "--format=%{file}", "WenQuanYi Zen Hei"],
            capture_output=True, text=True, timeout=10, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    path = Path(result.stdout.strip())
    # fc-match always answers with *some* font; only accept the one we asked for.
    if path.name.lower() == _FONT_FILE and path.is_file():
        return path
    return None


def find_code_font() -> Path:
    """A bold Latin monospace TrueType font: the environment variable wins, then known paths."""
    override = _overridden(CODE_FONT_ENV_VAR)
    if override is not None:
        return override
    for name in _CODE_FONT_FILES:
        if Path(name).is_file():
            return Path(name)
    raise FontNotFoundError(
        f"monospace font for the codes not found (looked for {', '.join(_CODE_FONT_FILES)}); install the "
        f"Debian package fonts-dejavu-core or point {CODE_FONT_ENV_VAR} at a TrueType monospace font file")


@functools.cache
def register_fonts() -> str:
    """Register the CJK and the code font with reportlab once; parsing the 17 MB collection takes a while."""
    for name, path, index in ((CJK_FONT_NAME, find_cjk_font(), 0), (CODE_FONT_NAME, find_code_font(), 0)):
        try:
            font = TTFont(name, str(path), subfontIndex=index)
        except Exception as exc:  # reportlab raises bare TTFError and others for unusable files
            raise FontNotFoundError(f"cannot load font {path}: {exc}") from exc
        pdfmetrics.registerFont(font)
    return CJK_FONT_NAME


# Latin words, numbers and URLs stay whole when wrapping; a URL split across lines gets mistyped.
_TOKEN = re.compile(r"[!-~]+[，。；：、）》」』！？]?|.[，。；：、）》」』！？]?", re.S)


def wrap_text(text: str, font: str, size: float, width: float) -> list[str]:
    """Break Chinese text between any two characters, but never inside a Latin word or URL.

    Closing punctuation rides with the character before it, so no line starts with "，".
    """
    lines: list[str] = []
    line = ""
    for token in _TOKEN.findall(text):
        candidate = line + token
        if line and pdfmetrics.stringWidth(candidate.rstrip(), font, size) > width:
            lines.append(line.rstrip())
            line = token.lstrip()
        else:
            line = candidate
        # A single token wider than the line (a very long URL) is cut where it must be.
        while pdfmetrics.stringWidth(line, font, size) > width and len(line) > 1:
            cut = len(line) - 1
            while cut > 1 and pdfmetrics.stringWidth(line[:cut], font, size) > width:
                cut -= 1
            lines.append(line[:cut])
            line = line[cut:]
    if line.strip():
        lines.append(line.rstrip())
    return lines


@functools.lru_cache(maxsize=4096)
def fit_text(
    text: str, font: str, size: float, width: float, max_lines: int, min_size: float
) -> tuple[float, tuple[str, ...]]:
    """Shrink text step by step until it wraps into ``max_lines``; cached because every slip
    of a campaign repeats the same campaign, organisation and sheet names.

    Raises ``ValueError`` when even ``min_size`` does not fit, because a clipped village name
    on ten thousand printed slips is worse than a failed print job.
    """
    current = size
    while current >= min_size - 1e-9:
        lines = wrap_text(text, font, current, width)
        if len(lines) <= max_lines:
            return current, tuple(lines)
        current = round(current - 0.5, 2)
    raise ValueError(
        f"text too long to print in {max_lines} line(s) of {width / 72 * 25.4:.0f} mm "
        f"even at {min_size} pt: {text!r}"
    )
