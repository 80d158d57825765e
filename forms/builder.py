"""Turn a questionnaire into a WTForms form class, one per call (WTForms' dynamic-form recipe).

Field names are ``<subject>__<item>`` so a cadre grid (subjects × items) and a single-subject
villager sheet share one shape, and the casting service can map every field back to its pair.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from wtforms import DecimalField, Form, RadioField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, NumberRange, Optional

from forms.schema import Questionnaire

REQUIRED_MESSAGE = "请选择一项"
NUMBER_MESSAGE = "请填写 {low:g} 到 {high:g} 之间的数"


def field_name(subject: str, item: str) -> str:
    return f"{subject}__{item}"


def build_form(questionnaire: Questionnaire, subjects: Sequence[str], *,
               base: type = Form, messages: dict[str, str] | None = None) -> type:
    """Return a new form class with one field per (subject, item).

    ``base`` is ``wtforms.Form`` here and ``flask_wtf.FlaskForm`` in the web layer, which adds
    CSRF; ``messages`` lets the caller pass translated error texts.
    """
    texts = {"required": REQUIRED_MESSAGE, "number": NUMBER_MESSAGE, **(messages or {})}
    attrs: dict[str, Any] = {}
    for subject in subjects:
        for item in questionnaire.items:
            scale = questionnaire.scale(item.scale)
            check = [InputRequired(message=texts["required"])] if item.required else [Optional()]
            name = field_name(subject, item.key)
            if scale.is_numeric:
                low, high = scale.bounds()
                attrs[name] = DecimalField(
                    item.label, places=None,
                    validators=check + [NumberRange(low, high, message=texts["number"].format(
                        low=low, high=high))])
            else:
                attrs[name] = RadioField(
                    item.label, choices=[SelectChoice(c.key, c.label) for c in scale.choices],
                    validators=check, validate_choice=True)
    return type(f"{questionnaire.key.title().replace('_', '')}Form", (base,), attrs)
