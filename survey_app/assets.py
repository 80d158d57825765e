"""The stylesheets and scripts under URLs that change with their content, kept by phones for a year.

With an hour's max-age a villager's phone on a weak signal asked again every hour whether
voter.css had changed (a round trip before the page could be drawn), and after an upgrade a phone
could keep an hour of the old ballot.js beside the new pages, which it must match (the used-code
page's resend form is read by it). A URL carrying the file's hash needs neither: a new file is a
new URL, so the old one may be cached for good.
"""
from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

from flask import Flask, request
from werkzeug.wrappers import Response

YEAR = 365 * 86400


def init_app(app: Flask) -> None:
    folder = Path(app.static_folder or "")
    versions: dict[str, str] = {}  # files change only with a deployment, which restarts the server

    def version(filename: str) -> str:
        if filename not in versions:
            try:
                versions[filename] = hashlib.sha256((folder / filename).read_bytes()).hexdigest()[:12]
            except OSError:  # no such file: url_for still builds its URL, which answers 404
                return ""
        return versions[filename]

    @app.url_defaults
    def _versioned(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint == "static" and "filename" in values and "v" not in values:
            values["v"] = version(values["filename"])

    @app.after_request
    def _kept_for_good(response: Response) -> Response:
        if request.endpoint != "static" or response.status_code not in (200, 304):
            return response  # every ballot passes here: it leaves at the first test
        filename, given = (request.view_args or {}).get("filename"), request.args.get("v")
        if filename and given and given == version(filename):
            response.cache_control.public = True
            response.cache_control.max_age = YEAR
            response.cache_control.immutable = True
            response.expires = int(time.time() + YEAR)
        return response
