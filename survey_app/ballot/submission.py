"""Read a submitted ballot, the same way for a code (/t/…) and for a poster (/p/…).

A complete, well-formed submission takes the quick path (:func:`quick_answers`); anything else
goes through the WTForms form, which says item by item what is missing or off.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import request
from flask_wtf import FlaskForm

from survey_app.ballot.forms import NONCE_FIELDS, answers_from, quick_answers
from survey_app.services.casting import AnswerIn
from survey_app.services.sheets import SheetInfo

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@dataclass
class Submission:
    answers: list[AnswerIn] | None = None
    invalid_form: FlaskForm | None = None  # answers missing or off the scale: show the form again
    refusal: tuple[str, int] | None = None  # (message kind, HTTP status) for a malformed request
    nonce: str = ""
    started: str = ""


def read_submission(info: SheetInfo, form_class: Callable[[], type]) -> Submission:
    """``form_class`` is called only when WTForms is needed: building its key costs a locale lookup."""
    if request.mimetype not in FORM_TYPES:
        return Submission(refusal=("bad_request", 415))
    fields = request.form
    if request.files or any(len(values) > 1 or (name not in info.fields and name not in NONCE_FIELDS)
                            for name, values in fields.lists()):  # a field twice, or one not on the sheet
        return Submission(refusal=("bad_request", 400))
    nonce, started = fields.get("nonce", ""), fields.get("started", "")
    answers = quick_answers(fields, info) if 8 <= len(nonce) <= 64 else None
    if answers is not None:
        return Submission(answers=answers, nonce=nonce, started=started)
    form = form_class()()
    if form.validate():
        return Submission(answers=answers_from(form, info.questionnaire, info.subjects), nonce=form.nonce.data,
                          started=started)
    if "csrf_token" in form.errors or "nonce" in form.errors:
        return Submission(refusal=("expired" if request.endpoint != "ballot.poster" else "expired_open", 400))
    return Submission(invalid_form=form, nonce=form.nonce.data or "", started=started)
