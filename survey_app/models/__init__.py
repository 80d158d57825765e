"""Typed SQLAlchemy models, one module per part of the domain."""
from survey_app.models.audit import AuditEntry
from survey_app.models.ballot import AnswerLayout, Ballot, Layout, StoredAnswer, answers_by_ballot, load_layouts
from survey_app.models.campaign import (
    BallotSheet, Campaign, CampaignDefinition, OpenReceipt, Poster, SheetSubject,
)
from survey_app.models.checklist import ChecklistScore, VetoMark
from survey_app.models.org import Organisation, Person
from survey_app.models.results import GradeRecord, RectificationLine
from survey_app.models.token import Token, TokenBatch
from survey_app.models.user import User

__all__ = [
    "AnswerLayout", "AuditEntry", "Ballot", "BallotSheet", "Campaign", "CampaignDefinition",
    "ChecklistScore", "GradeRecord", "OpenReceipt", "RectificationLine", "Organisation", "Person", "Poster", "Layout", "SheetSubject", "StoredAnswer", "Token",
    "TokenBatch", "User",
    "VetoMark", "answers_by_ballot", "load_layouts",
]
