"""Form classes for voters: code entry, and a ballot form per sheet built from its questionnaire."""
from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence

from flask import current_app
from flask_babel import get_locale, gettext as _, lazy_gettext as _l
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, URLSafeTimedSerializer
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length

from forms.builder import build_form, field_name
from forms.schema import Questionnaire
from survey_app.services.casting import AnswerIn
from survey_app.services.sheets import SheetInfo

NONCE_FIELDS = ("csrf_token", "nonce", "started")
_CLASSES: dict[tuple, type] = {}


class CodeForm(FlaskForm):
    code = StringField(_l("Voting code"), validators=[DataRequired(_l("Please enter your voting code")),
                                                     Length(max=40)])


class BallotBase(FlaskForm):
    nonce = HiddenField(validators=[DataRequired(), Length(min=8, max=64)])
    started = HiddenField(validators=[Length(max=200)])


def ballot_form_class(stamp: tuple, questionnaire: Questionnaire, subjects: Sequence[str]) -> type:
    """One class per sheet and language, built once: WTForms class creation is not free."""
    key = (stamp, str(get_locale()), tuple(subjects))
    cls = _CLASSES.get(key)
    if cls is None:
        cls = build_form(questionnaire, subjects, base=BallotBase,
                         messages={"required": _("Please choose one"),
                                   "number": _("Please give a number from {low:g} to {high:g}")})
        _CLASSES[key] = cls
    return cls


def quick_answers(fields: Mapping[str, str], info: SheetInfo) -> list[AnswerIn] | None:
    """The answers of a complete, well-formed submission, or None to take the WTForms path.

    A valid ballot is the common case under load; checking it against the sheet's precomputed
    table costs a fraction of binding a WTForms form, which is kept for showing errors.
    """
    answers = []
    for name, spec in info.fields.items():
        raw = fields.get(name, "")
        if raw == "":
            if spec.required:
                return None
            answers.append(AnswerIn(spec.subject, spec.item, None, None))
        elif spec.choices is not None:
            value = spec.choices.get(raw)
            if value is None:
                return None
            answers.append(AnswerIn(spec.subject, spec.item, raw, value))
        else:
            try:
                number = float(raw)
            except ValueError:
                return None
            if not (math.isfinite(number) and spec.low <= number <= spec.high):
                return None
            answers.append(AnswerIn(spec.subject, spec.item, None, number))
    return answers


def answers_from(form: FlaskForm, questionnaire: Questionnaire, subjects: Sequence[str]) -> list[AnswerIn]:
    answers = []
    for subject in subjects:
        for item in questionnaire.items:
            data = form[field_name(subject, item.key)].data
            scale = questionnaire.scale(item.scale)
            if data in (None, ""):
                answers.append(AnswerIn(subject, item.key, None, None))
            elif scale.is_numeric:
                answers.append(AnswerIn(subject, item.key, None, float(data)))
            else:
                answers.append(AnswerIn(subject, item.key, data, scale.value_of(data)))
    return answers


def _serializer() -> URLSafeTimedSerializer:
    cached = current_app.extensions.get("pingyi_started_serializer")
    if cached is None:
        cached = URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="ballot-started")
        current_app.extensions["pingyi_started_serializer"] = cached
    return cached


def start_stamp() -> str:
    return _serializer().dumps(int(time.time()))


def seconds_since(stamp: str) -> float | None:
    """How long the voter spent; only its coarse bucket is ever stored."""
    try:
        started = _serializer().loads(stamp, max_age=86_400)
    except (BadSignature, TypeError, ValueError):
        return None
    return max(0.0, time.time() - float(started))
