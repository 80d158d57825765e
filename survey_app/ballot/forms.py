"""Form classes for voters: code entry, and a ballot form per sheet built from its questionnaire."""
from __future__ import annotations

import hmac
import math
import secrets
import time
from collections.abc import Mapping, Sequence

from flask import current_app, request
from flask_babel import get_locale, gettext as _, lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length

from forms.builder import build_form, field_name, on_step
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


def form_as_sent(form_class: type) -> FlaskForm:
    """The form filled in with what the voter sent, and a fresh CSRF token when rendered.

    For a page whose session cookie was lost or whose CSRF token grew old: with JavaScript off
    nothing else keeps the answers, and an elderly voter should not have to give twenty again.
    The nonce stays the form's own, so a ballot sent from both copies still counts once.
    """
    form = form_class(formdata=request.form)
    if not 8 <= len(form.nonce.data or "") <= 64:
        form.nonce.data = secrets.token_urlsafe(18)
    return form


def ballot_form_class(stamp: tuple, questionnaire: Questionnaire, subjects: Sequence[str]) -> type:
    """One class per sheet and language, built once: WTForms class creation is not free."""
    key = (stamp, str(get_locale()), tuple(subjects))
    cls = _CLASSES.get(key)
    if cls is None:
        cls = build_form(questionnaire, subjects, base=BallotBase,
                         messages={"required": _("Please choose one"),
                                   "number": _("Please give a number from {low:g} to {high:g}"),
                                   "whole": _("Please give a whole number from {low:g} to {high:g}"),
                                   "step": _("Please give a number from {low:g} to {high:g} in steps of {step:g}")})
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
            if not (math.isfinite(number) and spec.low <= number <= spec.high and on_step(number, spec.low, spec.step)):
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


def _signature(seconds: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.digest(key, f"ballot-started:{seconds}".encode(), "sha256").hex()[:32]


def start_stamp() -> str:
    """When the page was served, signed so that a voter cannot shorten or lengthen it.

    A plain HMAC rather than an itsdangerous serializer: the stamp is read on every ballot, and
    a number needs no JSON, compression or base64 around it.
    """
    seconds = str(int(time.time()))
    return f"{seconds}.{_signature(seconds)}"


def seconds_since(stamp: str) -> float | None:
    """How long the voter spent; only its coarse bucket is ever stored."""
    seconds, _dot, signature = (stamp or "").partition(".")
    if not (seconds.isascii() and seconds.isdigit() and len(seconds) <= 12) or \
            not hmac.compare_digest(signature.encode("utf-8", "replace"), _signature(seconds).encode()):
        return None
    age = time.time() - int(seconds)
    return max(0.0, age) if age <= 86_400 else None
