"""The organisation tree (district → town/street → village/community, offices, branches) and people."""
from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey_app.extensions import db

ORG_KINDS: dict[str, str] = {
    "district": "区", "town": "镇", "street": "街道", "village": "村", "community": "社区",
    "office": "机关", "branch": "支部",
}


class Organisation(db.Model):
    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"),
                                                  index=True)

    parent: Mapped[Organisation | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Organisation]] = relationship(back_populates="parent")
    people: Mapped[list[Person]] = relationship(back_populates="org")

    def __repr__(self) -> str:
        return f"<Organisation {self.code} {self.name}>"


class Person(db.Model):
    """A cadre or resident on a roster; ``person_key`` makes re-imports land on the same row."""

    __tablename__ = "person"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_key: Mapped[str] = mapped_column(String(200), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(20))  # cadre | resident
    is_party_member: Mapped[bool] = mapped_column(Boolean)
    gender: Mapped[str | None] = mapped_column(String(10))

    org: Mapped[Organisation] = relationship(back_populates="people")
