"""A county that brings its own definitions, end to end: validate, campaign, ballot, export,
analysis, grading, and the snapshot a campaign takes when it opens.

The county's questionnaire uses the corners of the language: an optional item, a numeric item
with a half-point step, custom 4- and 5-choice scales, four weighted dimensions, an intro and
long Chinese labels; its own checklist and grading scheme refer to it.

Today the only way such files reach a campaign is the package's own template folder
(``forms.loader.TEMPLATE_DIR``); the ``county_templates`` fixture stands for a county that has
copied its files there, as the code leaves it no other way.
"""
from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest

import forms.loader
from forms.errors import DefinitionError
from forms.loader import load_text
from survey_app.extensions import db
from survey_app.models import Campaign, Organisation
from survey_app.services import campaigns, tokens
from survey_app.services.campaigns import CampaignError, SubjectSpec

pytestmark = pytest.mark.db

QUESTIONNAIRE = """\
# 清河县村务监督与为民服务满意度测评表（县里自带的定义）
kind: questionnaire
key: qinghe_village_affairs
version: 1
title: 清河县村务监督委员会履职及村“两委”为民服务群众满意度测评表
source: 清河县委组织部2026年度村级组织量化考核实施方案（自拟）
subject_kind: organisation
layout: single
rater_groups: [masses, member]
intro: 请您根据本村过去一年村务公开、民主管理和为民服务的实际情况，如实、独立地作出评价；本表不记名。
scales:
  quality5:
    label: 工作成效（五级）
    choices:
      - {key: excellent, label: 非常好，群众普遍认可, value: 100}
      - {key: good, label: 比较好, value: 80}
      - {key: fair, label: 一般, value: 60}
      - {key: poor, label: 比较差, value: 30}
      - {key: very_poor, label: 非常差，群众意见很大, value: 0}
  sat4:
    label: 满意度（四级）
    choices:
      - {key: very_satisfied, label: 非常满意, value: 100}
      - {key: satisfied, label: 满意, value: 75}
      - {key: dissatisfied, label: 不太满意, value: 40}
      - {key: very_dissatisfied, label: 很不满意, value: 0}
  score_half:
    label: 总体评分（0–10 分，可打半分）
    range: {min: 0, max: 10, step: 0.5}
satisfied: [very_satisfied, satisfied]
satisfaction_item: overall_verdict
dimensions:
  - {key: openness, label: 村务公开与民主管理, weight: 0.35}
  - {key: supervision, label: 村务监督委员会履职, weight: 0.25}
  - {key: service, label: 为民服务与矛盾化解, weight: 0.25}
  - {key: overall, label: 总体评价, weight: 0.15}
items:
  - {key: four_discussions, label: 村级重大事项严格执行“四议两公开”，党务、村务、财务按时在公开栏和“村务通”微信群公开，群众看得到、看得懂、能监督, scale: quality5, dimension: openness}
  - {key: collective_assets, label: 村集体“三资”（资金、资产、资源）管理规范，集体土地发包、工程项目招投标公开透明、无优亲厚友, scale: quality5, dimension: openness, weight: 2}
  - {key: supervisor_duty, label: 村务监督委员会对村级财务收支、工程建设和惠民资金发放进行事前、事中、事后全程监督, scale: quality5, dimension: supervision}
  - {key: supervisor_contact, label: 您是否了解村务监督委员会成员并向其反映过问题（不了解可不填）, scale: sat4, dimension: supervision, required: false, help: 如果您不了解村务监督委员会，本题可以不填。}
  - {key: petitions, label: 村干部对群众反映的急难愁盼问题和矛盾纠纷及时回应、认真办理、件件有回音, scale: sat4, dimension: service}
  - {key: overall_verdict, label: 您对本村“两委”班子和村务监督委员会过去一年工作的总体满意程度, scale: sat4, dimension: overall}
  - {key: overall_score, label: 请给本村“两委”班子打个总分（0–10 分，可以打半分，例如 8.5 分）, scale: score_half, dimension: overall}
"""

CHECKLIST = """\
kind: checklist
key: qinghe_village_checklist
version: 1
title: 清河县村级党组织履职清单
total: 100
stages: [self, town, panel]
categories:
  - key: party_building
    label: 党建引领
    points: 40
    indicators:
      - {key: three_meetings, label: 落实“三会一课”和主题党日制度, points: 20}
      - {key: member_management, label: 党员教育管理和发展党员, points: 20, guide: 有记录得满分}
  - key: governance
    label: 乡村治理
    points: 60
    indicators:
      - {key: village_affairs_open, label: 村务公开按时规范, points: 30}
      - {key: dispute_resolution, label: 矛盾纠纷化解不出村, points: 30}
vetoes:
  - {key: major_incident, label: 发生重大安全事故或群体性事件}
"""

SCHEME = """\
kind: scheme
key: qinghe_village_grades
version: 1
title: 清河县村级党组织分级评定办法
checklist: qinghe_village_checklist
stage: panel
rater_groups:
  - {key: masses, label: 群众, weight: 0.6}
  - {key: member, label: 党员, weight: 0.4}
components:
  - {key: checklist, label: 履职清单得分, source: checklist_total, weight: 0.7}
  - {key: voters, label: 群众党员测评得分, source: combined_score, questionnaire: qinghe_village_affairs, weight: 0.3}
grades:
  - {label: 优秀, min: 85}
  - {label: 良好, min: 70}
  - {label: 一般, min: 60}
  - {label: 较差, min: 0}
vetoes:
  - {on: major_incident, cap: 一般}
rectification: {below: 良好, indicator_share: 0.6, owner: 村党组织书记, deadline_days: 60}
"""

# a cadre grid of the county's own: one 称职 verdict and a 0–100 score per cadre
GRID = """\
kind: questionnaire
key: qinghe_cadre_grid
version: 1
title: 清河县村干部民主测评表
subject_kind: person
layout: grid
rater_groups: [town_cadre]
scales:
  verdict4:
    choices:
      - {key: excellent, label: 优秀, value: 100}
      - {key: competent, label: 称职, value: 80}
      - {key: basically, label: 基本称职, value: 60}
      - {key: incompetent, label: 不称职, value: 0}
  points:
    label: 百分制评分
    range: {min: 0, max: 100, step: 1}
dimensions:
  - {key: verdict, label: 总体评价, weight: 0.5}
  - {key: score, label: 评分, weight: 0.5}
items:
  - {key: verdict, label: 对该同志的总体评价, scale: verdict4, dimension: verdict}
  - {key: points, label: 请为该同志打分（0–100 分）, scale: points, dimension: score}
"""

ANSWERS = {"four_discussions": "excellent", "collective_assets": "good", "supervisor_duty": "fair",
           "petitions": "satisfied", "overall_verdict": "very_satisfied", "overall_score": "8.5"}


def write_county_files(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {"questionnaire": folder / "qinghe_village_affairs.yaml", "checklist": folder / "qinghe_checklist.yaml",
             "scheme": folder / "qinghe_scheme.yaml"}
    for kind, text in (("questionnaire", QUESTIONNAIRE), ("checklist", CHECKLIST), ("scheme", SCHEME)):
        files[kind].write_text(text, encoding="utf-8")
    return files


@pytest.fixture
def county_templates(tmp_path, monkeypatch):
    """The built-in templates plus the county's files, in a folder the library reads: what a
    county has to do today (copy its files into the package) to use them at all."""
    folder = tmp_path / "templates"
    shutil.copytree(forms.loader.TEMPLATE_DIR, folder)
    write_county_files(folder)
    (folder / "qinghe_cadre_grid.yaml").write_text(GRID, encoding="utf-8")
    monkeypatch.setattr(forms.loader, "TEMPLATE_DIR", folder)
    monkeypatch.setattr(forms.loader, "_BUILTIN", None)
    yield folder
    forms.loader._BUILTIN = None


def county_campaign(slug: str = "qh2026", villages: int = 1, scheme_key: str = "qinghe_village_grades",
                    questionnaire: str = "qinghe_village_affairs") -> tuple[Campaign, list]:
    town = Organisation(code="T1", name="清河镇", kind="town")
    db.session.add(town)
    for v in range(1, villages + 1):
        db.session.add(Organisation(code=f"T1V{v}", name=f"清河镇第{v}村", kind="village", parent=town))
    db.session.flush()
    campaign = campaigns.create_campaign(slug, "清河县2026年度村级党组织量化考核", 2026, scheme_key=scheme_key)
    db.session.commit()
    sheets = campaigns.add_sheets_for(campaign, questionnaire, "masses", town)
    return campaign, sheets


def answers(subject: str = "T1V1", **changes: str) -> dict[str, str]:
    data = {**ANSWERS, **changes}
    return {f"{subject}__{k}": v for k, v in data.items() if v is not None}


def unhurried(app) -> str:
    """A signed start stamp from three minutes ago: a ballot filled in at a reader's pace, not a speeder."""
    from survey_app.ballot.forms import _signature

    with app.app_context():
        seconds = str(int(time.time()) - 180)
        return f"{seconds}.{_signature(seconds)}"


def errors_on(page: str) -> list[str]:
    return re.findall(r'<p class="err"[^>]*>([^<]+)</p>', page)


# ------------------------------------------------------------------ what works (kept as a baseline)

def test_the_county_campaign_runs_end_to_end_on_its_snapshot(app, voter, county_templates):
    """Sound today: the optional item is optional on casting, in the export and in the analysis'
    completeness; the step is enforced; an edit after opening changes neither ballots nor grades."""
    from survey_app.services.analysis import analyze_campaign
    from survey_app.services.checklists import ScoreIn, record_scores
    from survey_app.services.export import ratings_frame
    from survey_app.services.grading import grade_campaign

    campaign, sheets = county_campaign()
    campaigns.open_campaign(campaign)
    codes = [tokens.display(c) for c in tokens.issue_tokens(sheets[0], 6).codes]
    started = unhurried(app)
    for code, score in zip(codes[:3], ("8.5", "6", "9.5")):  # the optional item left blank
        assert voter.vote(code, answers(overall_score=score), started=started).status_code == 200
    assert voter.vote(codes[3], answers(supervisor_contact="dissatisfied"), started=started).status_code == 200
    off_step = voter.vote(codes[4], answers(overall_score="8.3"), started=started)
    assert off_step.status_code == 422
    missing = voter.vote(codes[4], answers(petitions=None), started=started)
    assert missing.status_code == 422 and "请选择一项" in errors_on(missing.get_data(as_text=True))

    frame = ratings_frame(campaign)
    optional = frame[frame["item"] == "supervisor_contact"].sort_values("value")
    assert list(optional["choice"]) == ["dissatisfied", "", "", ""]
    result = analyze_campaign(campaign)
    assert result.flags.empty  # the blank optional answer does not make a ballot incomplete
    combined = result.results[result.results["row_type"] == "combined"].iloc[0]
    assert combined["n_raters"] == 4 and not combined["withheld"]

    record_scores(campaign, [ScoreIn("T1V1", k, "panel", p) for k, p in
                             (("three_meetings", 18), ("member_management", 16), ("village_affairs_open", 25),
                              ("dispute_resolution", 27))])
    before = grade_campaign(campaign, actor="cli").result.grades[["subject", "composite", "grade"]]

    path = county_templates / "qinghe_scheme.yaml"
    path.write_text(SCHEME.replace("weight: 0.7}", "weight: 0.2}").replace("weight: 0.3}", "weight: 0.8}")
                    .replace("version: 1", "version: 2"), encoding="utf-8")
    path = county_templates / "qinghe_village_affairs.yaml"
    path.write_text(QUESTIONNAIRE.replace("label: 比较好", "label: 较好（已修改）").replace("version: 1", "version: 2"),
                    encoding="utf-8")
    forms.loader._BUILTIN = None
    assert forms.loader.load_builtin("qinghe_village_grades").version == 2
    page = voter.open(codes[5]).get_data(as_text=True)
    assert "比较好" in page and "已修改" not in page
    after = grade_campaign(db.session.get(Campaign, campaign.id), actor="cli").result.grades
    assert after[["subject", "composite", "grade"]].equals(before)


# ------------------------------------------------------------------------- getting into a campaign

def test_a_county_definition_kept_beside_its_instance_reaches_a_campaign(app, instance, pingyi):
    """`pingyi validate` passes the county's files, and then nothing can use them: campaigns,
    sheets and the desk read only ``forms.loader.builtin_library()`` (the package's own
    templates/). Expected: definitions kept with the instance (here ``<instance>/definitions``)
    join the library, without editing the installed package."""
    files = write_county_files(instance / "definitions")
    checked = pingyi("validate", *map(str, files.values()))
    assert checked.exit_code == 0, checked.output
    town = Organisation(code="T1", name="清河镇", kind="town")
    db.session.add(town)
    db.session.flush()
    campaign = campaigns.create_campaign("qh2026", "清河县2026", 2026, scheme_key="qinghe_village_grades")
    campaigns.add_sheet(campaign, "T1-masses", "清河镇群众测评", "qinghe_village_affairs", "masses",
                        [SubjectSpec("T1", "清河镇", org_id=town.id)])


def test_grading_from_files_accepts_the_countys_own_checklist_and_questionnaire(pingyi, tmp_path):
    """`pingyi grade --results … --checklist … --scheme county.yaml` looks the scheme's checklist
    and questionnaires up among the built-ins only, and has no way to be given them: a county's
    grade cannot be re-computed from its files. `analyze` has --definitions; grade should too."""
    files = write_county_files(tmp_path / "defs")
    results = tmp_path / "results.csv"
    results.write_text("subject,rater_group,row_type,score,withheld\nT1V1,combined,combined,76.5,False\n",
                       encoding="utf-8")
    scores = tmp_path / "scores.csv"
    scores.write_text("组织编码,组织名称,上级组织,指标编码,得分,评分阶段\n"
                      "T1V1,第1村,T1,three_meetings,18,panel\nT1V1,第1村,T1,member_management,16,panel\n"
                      "T1V1,第1村,T1,village_affairs_open,25,panel\nT1V1,第1村,T1,dispute_resolution,27,panel\n",
                      encoding="utf-8")
    result = pingyi("grade", "--results", str(results), "--checklist", str(scores), "--scheme", str(files["scheme"]),
                    "--definitions", str(files["checklist"]), "--definitions", str(files["questionnaire"]),
                    "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert "良好 1" in result.output


def test_a_scheme_whose_questionnaire_is_on_no_sheet_does_not_break_the_ballot_pages(app, voter, county_templates):
    """The county's scheme grades on qinghe_village_affairs, but its sheets use the built-in
    village_satisfaction. The campaign opens; the snapshot holds the scheme and its checklist but
    not the questionnaire the scheme names, so reading the snapshot back fails and every ballot
    page is a 500. Expected: opening refuses (CampaignError), or the snapshot is complete."""
    campaign, sheets = county_campaign(questionnaire="village_satisfaction")
    try:
        campaigns.open_campaign(campaign)
    except CampaignError:
        return
    code = tokens.display(tokens.issue_tokens(sheets[0], 1).codes[0])
    app.config["PROPAGATE_EXCEPTIONS"] = False  # the voter's view: the error page, not the traceback
    assert voter.open(code).status_code == 200
    campaigns.frozen_definitions(db.session.get(Campaign, campaign.id))


# ---------------------------------------------------------------------------- the ballot page

def test_a_half_point_step_can_be_chosen_on_the_ballot_page(app, voter, county_templates):
    """The item says 可以打半分，例如 8.5 分 and the scale has step 0.5, but the page draws a radio
    per whole number from min to max (sheet.html: range(low|int, high|int + 1)), whatever the
    step: 8.5 is accepted by the server yet cannot be chosen on the page."""
    campaign, sheets = county_campaign()
    campaigns.open_campaign(campaign)
    code = tokens.display(tokens.issue_tokens(sheets[0], 1).codes[0])
    page = voter.open(code).get_data(as_text=True)
    offered = re.findall(r'name="T1V1__overall_score"[^>]*value="([^"]+)"', page)
    numeric_input = re.search(r'<input[^>]*type="number"[^>]*name="T1V1__overall_score"[^>]*step="0\.5"|'
                              r'<input[^>]*name="T1V1__overall_score"[^>]*type="number"[^>]*step="0\.5"', page)
    assert numeric_input or "8.5" in offered, offered


def test_an_off_step_number_is_told_the_step(app, voter, county_templates):
    """8.3 on a 0–10 scale of half points is refused with 请填写 0 到 10 之间的数 — which 8.3 is.
    The message should say half points (0.5) are the unit."""
    campaign, sheets = county_campaign()
    campaigns.open_campaign(campaign)
    code = tokens.display(tokens.issue_tokens(sheets[0], 1).codes[0])
    page = voter.vote(code, answers(overall_score="8.3")).get_data(as_text=True)
    messages = errors_on(page)
    assert messages and any("0.5" in m for m in messages), messages


def test_the_items_help_text_is_shown_to_the_voter(app, voter, county_templates):
    """`help:` is part of the language (Item.help) and tells the voter the optional item may be
    left blank; no page renders it (sheet.html, paper_ballot.html)."""
    campaign, sheets = county_campaign()
    campaigns.open_campaign(campaign)
    code = tokens.display(tokens.issue_tokens(sheets[0], 1).codes[0])
    page = voter.open(code).get_data(as_text=True)
    assert "如果您不了解村务监督委员会，本题可以不填。" in page


def test_a_numeric_item_on_a_grid_sheet_has_an_input(app, voter, county_templates):
    """layout: grid with a numeric item validates, but the grid draws one radio per
    ``scale.choices`` — none for a range — so the required 0–100 score has no input at all and
    the ballot can never be sent."""
    from survey_app.models import Person

    town = Organisation(code="T1", name="清河镇", kind="town")
    db.session.add(town)
    db.session.flush()
    for n in range(3):
        db.session.add(Person(person_key=f"C{n}", org_id=town.id, name=f"干部{n}", role="村党支部书记",
                              category="cadre", is_party_member=True))
    db.session.flush()
    campaign = campaigns.create_campaign("grid", "清河县干部测评", 2026)
    db.session.commit()
    sheet = campaigns.add_sheets_for(campaign, "qinghe_cadre_grid", "town_cadre", town)[0]
    campaigns.open_campaign(campaign)
    code = tokens.display(tokens.issue_tokens(sheet, 1).codes[0])
    page = voter.open(code).get_data(as_text=True)
    assert re.search(r'<input[^>]*name="C0__points"', page), "no input for the numeric grid item"


# ---------------------------------------------------------------------------- pingyi validate

def test_validate_refuses_negative_component_and_rater_group_weights(tmp_path):
    """Weights 1.2 / −0.2 sum to 1 and pass: a better vote then lowers the composite. Dimension
    weights are refused when negative and item weights when ≤ 0; components and rater groups are
    only checked for their sum (loader.py _scheme)."""
    library = {d.key: d for d in (load_text(QUESTIONNAIRE, "q.yaml"), load_text(CHECKLIST, "c.yaml"))}
    library = {**forms.loader.builtin_library(), **library}
    components = SCHEME.replace("weight: 0.7}", "weight: 1.2}").replace("weight: 0.3}", "weight: -0.2}")
    with pytest.raises(DefinitionError, match="负数|大于 0|不能小于 0"):
        load_text(components, "qinghe_scheme.yaml", library)
    groups = SCHEME.replace("weight: 0.6}", "weight: 1.5}").replace("weight: 0.4}", "weight: -0.5}")
    with pytest.raises(DefinitionError, match="负数|大于 0|不能小于 0"):
        load_text(groups, "qinghe_scheme.yaml", library)


@pytest.mark.parametrize("step", ["-1", "3", "20"], ids=["negative step", "max not on a step", "step beyond range"])
def test_validate_refuses_a_step_the_range_cannot_hold(step):
    """range {min: 0, max: 10} with step −1, 3 or 20 validates: nothing checks the step
    (loader.py _scales). With 3 the maximum 10 can never be given; with 20 only 0 can."""
    with pytest.raises(DefinitionError, match="step"):
        load_text(QUESTIONNAIRE.replace("step: 0.5", f"step: {step}"), "qinghe_village_affairs.yaml")


def test_validate_does_not_depend_on_how_kind_is_quoted(pingyi, tmp_path):
    """`kind: "scheme"` is the same YAML as `kind: scheme`, but load_many sorts files by the
    text "kind: scheme" (loader.py _looks_like_scheme), so the quoted scheme is read before the
    questionnaire beside it and is told the questionnaire is not defined."""
    files = write_county_files(tmp_path)
    files["scheme"].write_text(SCHEME.replace("kind: scheme", 'kind: "scheme"'), encoding="utf-8")
    unquoted = tmp_path / "unquoted" / "qinghe_scheme.yaml"
    unquoted.parent.mkdir()
    unquoted.write_text(SCHEME, encoding="utf-8")
    plain = pingyi("validate", str(unquoted), str(files["checklist"]), str(files["questionnaire"]))
    assert plain.exit_code == 0, plain.output  # the unquoted scheme passes in any order…
    # …the quoted one only when it comes last, as a shell's `*.yaml` need not put it
    result = pingyi("validate", str(files["scheme"]), str(files["checklist"]), str(files["questionnaire"]))
    assert result.exit_code == 0, result.output


def test_validate_warns_a_copy_that_keeps_a_builtin_key(pingyi, tmp_path):
    """The README's walkthrough: copy a template, change it, validate it. A copy that keeps the
    key village_satisfaction passes, silently standing in for the built-in; put where the library
    reads (the only way to use it), it makes builtin_library() raise for the whole desk."""
    text = forms.loader.TEMPLATE_DIR.joinpath("village_satisfaction.yaml").read_text(encoding="utf-8")
    copy = tmp_path / "qinghe_satisfaction.yaml"
    copy.write_text(text.replace("title: 村“两委”班子群众满意度测评表", "title: 清河县群众满意度测评表"), encoding="utf-8")
    result = pingyi("validate", str(copy))
    assert result.exit_code == 1 and "village_satisfaction" in result.output and "内置" in result.output, result.output


def test_a_tab_in_the_indentation_is_explained_in_chinese(tmp_path):
    """The commonest YAML slip from a Windows editor gets PyYAML's English:
    “found character '\\t' that cannot start any token”."""
    text = QUESTIONNAIRE.replace("  sat4:\n", "\tsat4:\n")
    line = text[:text.index("\tsat4")].count("\n") + 1
    with pytest.raises(DefinitionError) as caught:
        load_text(text, "qinghe_village_affairs.yaml")
    message = str(caught.value)
    assert f"第 {line} 行" in message
    assert re.search("制表符|Tab 键|tab 键", message, re.IGNORECASE), message


def test_a_broken_file_among_the_instances_definitions_is_said_and_the_desk_still_works(app, instance):
    """A county file with a mistake, kept with the instance, is named with its line where a campaign
    would use it, and the desk's new-campaign page still offers the built-ins with the error shown."""
    from tests.conftest import make_staff

    folder = instance / "definitions"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "broken.yaml").write_text(QUESTIONNAIRE.replace("dimension: service", "dimension: nowhere", 1),
                                        encoding="utf-8")
    with pytest.raises(CampaignError) as caught:
        campaigns.create_campaign("qh2026", "清河县2026", 2026, scheme_key="baishan_village_stars")
    assert "broken.yaml 第" in str(caught.value) and "nowhere" in str(caught.value)
    admin = make_staff(app, "desk", "admin")
    page = admin.get("/admin/campaigns/new")
    assert page.status_code == 200 and "broken.yaml" in page.get_data(as_text=True)
    assert "baishan_village_stars" in page.get_data(as_text=True)
