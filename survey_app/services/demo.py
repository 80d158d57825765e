"""A realistic demo: one district, 3 towns, 24 villages, ~2,000 residents, ~150 cadres, one campaign.

The rosters are written as real .xlsx files with Chinese headers and imported through the same
import service staff use, so the demo doubles as an example of the files the product expects.
"""
from __future__ import annotations

import os
import random
import secrets
from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook
from sqlalchemy import select

from survey_app.extensions import db
from survey_app.models import Campaign, Organisation, Person, User
from survey_app.services import campaigns, imports, users
from survey_app.services.campaigns import SubjectSpec

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉梅建国志红春林海波宁丹凤德福生成荣新文亮辉金山玉珍淑兰永庆广富振兴长青立民学"
TOWNS = [("红旗镇", ["东风村", "前进村", "胜利村", "光明村", "新华村", "友谊村", "团结村", "和平村"]),
         ("青山镇", ["青山村", "石桥村", "柳树村", "杏花村", "松林村", "泉水村", "南岭村", "北沟村"]),
         ("湖滨街道", ["湖滨社区", "临湖村", "渔港村", "荷花村", "长堤村", "芦苇村", "沙洲村", "望湖社区"])]
VILLAGE_ROLES = ["党支部书记兼村委会主任", "党支部副书记", "村委会副主任", "村两委委员", "村务监督委员会主任"]
TOWN_ROLES = ["镇党委书记", "镇长", "党委副书记", "组织委员", "宣传委员", "纪委书记", "副镇长",
              "包村干部", "包村干部", "党建办主任"]
CAMPAIGN_SLUG = "demo-2026"
SHORT_ROLES = {"党支部书记兼村委会主任": "书记、主任", "党支部副书记": "副书记", "村委会副主任": "副主任",
               "村两委委员": "委员", "村务监督委员会主任": "监委会主任"}


@dataclass
class DemoResult:
    campaign: Campaign
    admin_username: str
    admin_password: str | None
    roster_dir: Path
    orgs: int
    residents: int
    cadres: int


def _name(rng: random.Random) -> str:
    given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.7 else "")
    return rng.choice(SURNAMES) + given


def write_rosters(folder: Path, seed: int = 2026) -> tuple[Path, Path]:
    """Write 组织.xlsx and 人员.xlsx the way a county office would fill them in."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    orgs = Workbook(write_only=True)
    sheet = orgs.create_sheet("组织")
    sheet.append(["组织编码", "组织名称", "上级组织", "组织类型"])
    sheet.append(["D01", "示范区", "", "区"])
    people = Workbook(write_only=True)
    psheet = people.create_sheet("人员")
    psheet.append(["人员编号", "姓名", "组织编码", "职务", "是否党员", "人员类别", "性别"])
    serial = 0

    def person(org: str, role: str, party: bool, category: str) -> None:
        nonlocal serial
        serial += 1
        psheet.append([f"P{serial:05d}", _name(rng), org, role, "是" if party else "否", category,
                       rng.choice("男女")])

    for t, (town, villages) in enumerate(TOWNS, start=1):
        town_code = f"D01T{t:02d}"
        sheet.append([town_code, town, "D01", "街道" if town.endswith("街道") else "镇"])
        for role in TOWN_ROLES:
            person(town_code, role, True, "干部")
        for v, village in enumerate(villages, start=1):
            code = f"{town_code}V{v:02d}"
            sheet.append([code, village, town_code, "社区" if village.endswith("社区") else "村"])
            for role in VILLAGE_ROLES:
                person(code, role, rng.random() < 0.9, "干部")
            for _ in range(rng.randint(75, 92)):
                person(code, "村民" if not village.endswith("社区") else "居民", rng.random() < 0.12, "群众")
    org_path, people_path = folder / "组织.xlsx", folder / "人员.xlsx"
    orgs.save(org_path)
    people.save(people_path)
    return org_path, people_path


def seed_demo(folder: Path) -> DemoResult:
    """Import the demo rosters, create an admin and open the demo campaign; safe to call twice."""
    org_path, people_path = write_rosters(folder / "rosters")
    for report in (imports.import_orgs(org_path, actor="demo"),
                   imports.import_people(people_path, actor="demo")):
        if not report.ok:
            raise RuntimeError(report.summary() + "\n" + "\n".join(map(str, report.errors)))
    password = None
    if db.session.scalar(select(User).where(User.username == "admin")) is None:
        password = os.environ.get("PINGYI_DEMO_PASSWORD") or secrets.token_urlsafe(12)
        users.create_user("admin", password, "admin", actor="demo")
        secret = folder / "demo_admin.txt"
        secret.write_text(f"admin {password}\n")
        secret.chmod(0o600)
    campaign = db.session.scalar(select(Campaign).where(Campaign.slug == CAMPAIGN_SLUG))
    if campaign is None:
        campaign = _demo_campaign()
    residents = db.session.query(Person).filter(Person.category == "resident").count()
    cadres = db.session.query(Person).filter(Person.category == "cadre").count()
    return DemoResult(campaign, "admin", password, org_path.parent,
                      db.session.query(Organisation).count(), residents, cadres)


def _demo_campaign() -> Campaign:
    campaign = campaigns.create_campaign(CAMPAIGN_SLUG, "示范区2026年度村级党组织量化考核", 2026,
                                         scheme_key="baishan_village_stars", actor="demo")
    towns = db.session.scalars(select(Organisation).where(Organisation.kind.in_(("town", "street")))
                               .order_by(Organisation.code)).all()
    for town in towns:
        heads: list[SubjectSpec] = []
        for village in sorted(town.children, key=lambda o: o.code):
            org_subject = [SubjectSpec(village.code, village.name, org_id=village.id)]
            for group, label in (("masses", "群众"), ("member", "党员")):
                campaigns.add_sheet(campaign, f"{village.code}-{group}", f"{village.name}满意度测评（{label}）",
                                    "village_satisfaction", group, org_subject, org_id=village.id)
            cadres = [p for p in sorted(village.people, key=lambda p: p.person_key)
                      if p.category == "cadre"]
            specs = [SubjectSpec(p.person_key, f"{p.name}（{SHORT_ROLES.get(p.role, p.role)}）", person_id=p.id)
                     for p in cadres]
            campaigns.add_sheet(campaign, f"{village.code}-rep", f"{village.name}干部民主测评（村民代表）",
                                "cadre_evaluation", "village_rep", specs, org_id=village.id)
            heads.extend(SubjectSpec(p.person_key, f"{p.name}（{village.name}{SHORT_ROLES.get(p.role, p.role)}）",
                                     person_id=p.id) for p in cadres[:2])
        campaigns.add_sheet(campaign, f"{town.code}-town", f"{town.name}村干部测评（镇街干部）",
                            "cadre_evaluation", "town_cadre", heads, org_id=town.id)
    db.session.flush()
    return campaigns.open_campaign(campaign, actor="demo")
