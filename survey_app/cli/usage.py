"""Options that a command given a campaign would otherwise ignore without a word."""
from __future__ import annotations

import click


def refuse_beside_campaign(options: dict[str, object], what_it_uses: str, instead: str) -> None:
    """A file passed beside a campaign looks as if it were used; it is not, so say so and stop
    rather than produce results the person believes came from their file."""
    given = [name for name, value in options.items() if value]
    if given:
        raise click.UsageError(f"给出测评活动时不能同时使用 {'、'.join(given)}：{what_it_uses}。{instead}。")
