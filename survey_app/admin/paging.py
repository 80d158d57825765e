"""Which page of a long list to show, from ``?page=``."""
from __future__ import annotations

from flask import request

PER_PAGE = 100


def page_of(total: int) -> int:
    """The page asked for, within the pages there are: a number past the last shows the last,
    and one too large for the database's integers never reaches its query."""
    last = max(1, -(-total // PER_PAGE))
    return min(max(1, request.args.get("page", 1, type=int)), last)
