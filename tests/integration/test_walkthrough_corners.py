"""The README's five-minute walkthrough, followed as written, where it and the code part ways."""
from __future__ import annotations

import re

import pandas as pd
import pytest
from sqlalchemy import func, select

from survey_app.extensions import db
from survey_app.models import Ballot

pytestmark = pytest.mark.db

PLANTED = re.compile(r"（(speeder|straight_lining|--leniency)） ([0-9a-f]{32})")


def _planted(output: str) -> dict[str, str]:
    found = dict(PLANTED.findall(output))
    assert set(found) == {"speeder", "straight_lining", "--leniency"}, output
    return found


def test_simulate_casts_as_many_ballots_as_asked_for(pingyi):
    """README: `--simulate N` casts N realistic ballots. The per-group shares are rounded one by
    one (0.62/0.16/0.14/0.08 of N), so for 365 of the N up to 3,000 (2, 3, 15, 28, 31, 39, 52…)
    they add up to fewer than N and the demo casts one ballot short."""
    result = pingyi("demo", "--simulate", "15")
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(func.count()).select_from(Ballot)) == 15
    assert "已模拟 15 张选票" in result.output


@pytest.mark.parametrize("count", [250, 2000])
def test_each_planted_anomaly_is_found_by_the_analysis(pingyi, tmp_path, count):
    """The demo names three planted ballots "to be found in pingyi analyze's output": the speeder
    and the straight-liner in flags.csv, and 打分明显偏宽的评价人 with --leniency. The lenient rater's
    answers are its draws moved two levels up and clipped at the best choice, and a town cadre's
    draws are mostly the best choice already: with 250 ballots every answer is 好/称职, so it is
    flagged and excluded as a straight-liner and never reaches leniency.csv; with the README's 2,000
    it is there, but two ordinary representatives' ballots are more lenient than it."""
    demo = pingyi("demo", "--simulate", str(count))
    assert demo.exit_code == 0, demo.output
    planted = _planted(demo.output)
    out = tmp_path / "analysis"
    result = pingyi("analyze", "demo-2026", "--leniency", "--out", str(out))
    assert result.exit_code == 0, result.output

    flags = pd.read_csv(out / "flags.csv", dtype={"ballot_id": str})
    flags_of = lambda ballot: set(flags.loc[flags["ballot_id"] == ballot, "flag"])  # noqa: E731
    assert "speeder" in flags_of(planted["speeder"])
    assert "straight_lining" in flags_of(planted["straight_lining"])

    lenient = planted["--leniency"]
    assert "straight_lining" not in flags_of(lenient), "the planted lenient rater is a straight-liner"
    effects = pd.read_csv(out / "leniency.csv", dtype={"ballot_id": str})
    assert lenient in set(effects["ballot_id"]), "the planted lenient rater is not in leniency.csv"
    most_lenient = effects.sort_values("effect", ascending=False).iloc[0]
    assert most_lenient["ballot_id"] == lenient, (
        f"the planted lenient rater's effect is "
        f"{float(effects.loc[effects['ballot_id'] == lenient, 'effect'].iloc[0]):.1f}, "
        f"below {most_lenient['ballot_id']} ({most_lenient['rater_group']}, {most_lenient['effect']:.1f})")


def test_create_user_asks_for_the_password_in_chinese(pingyi):
    """Walkthrough step 7 (`pingyi create-user li --role analyst --scope D01T01`) asks for a
    password. README: the command speaks Chinese throughout, click's own words included; the
    confirmation is Chinese (请再输入一次以确认) but the prompt is click's English "Password:"."""
    assert pingyi("demo").exit_code == 0
    result = pingyi("create-user", "li", "--role", "analyst", "--scope", "D01T01",
                    input="correct horse battery\n" * 2)
    assert result.exit_code == 0, result.output
    assert "请再输入一次以确认" in result.output
    assert "Password" not in result.output, result.output


def test_make_run_again_still_prints_the_folder_of_the_demo_rosters(pingyi, instance):
    """README: `make run` prints the URL, the demo administrator's login and the folder of the demo
    rosters. A second `make run` (`pingyi demo --if-empty` on the seeded database) prints the slips
    and the login but not where the rosters of walkthrough step 2 are."""
    first = pingyi("demo")
    assert first.exit_code == 0 and f"名册文件：{instance / 'demo' / 'rosters'}" in first.output
    again = pingyi("demo", "--if-empty")
    assert again.exit_code == 0 and "管理员登录" in again.output
    assert f"名册文件：{instance / 'demo' / 'rosters'}" in again.output, again.output
