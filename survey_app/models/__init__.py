"""Typed SQLAlchemy models, one module per part of the domain."""
from survey_app.models.audit import AuditEntry
from survey_app.models.ballot import Ballot, StoredAnswer, pack_answers, unpack_answers
from survey_app.models.campaign import (
    BallotSheet, Campaign, CampaignDefinition, OpenReceipt, Poster, SheetSubject,
)
from survey_app.models.checklist import ChecklistScore, VetoMark
from survey_app.models.org import Organisation, Person
from survey_app.models.results import GradeRecord, RectificationLine
from survey_app.models.token import Token, TokenBatch
from survey_app.models.user import User

__all__ = [
    "AuditEntry", "Ballot", "BallotSheet", "Campaign", "CampaignDefinition",
    "ChecklistScore", "GradeRecord", "OpenReceipt", "RectificationLine", "Organisation", "Person", "Poster", "SheetSubject", "StoredAnswer", "Token",
    "TokenBatch", "User",
    "VetoMark", "pack_answers", "unpack_answers",
]
