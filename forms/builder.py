"""Turn a questionnaire into a WTForms form class, one per call (WTForms' dynamic-form recipe).

Field names are ``<subject>__<item>`` so a cadre grid (subjects × items) and a single-subject
villager sheet share one shape, and the casting service can map every field back to its pair.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from wtforms import DecimalField, Form, RadioField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Optional, ValidationError

from forms.schema import Questionnaire

REQUIRED_MESSAGE = "请选择一项"
NUMBER_MESSAGE = "请填写 {low:g} 到 {high:g} 之间的数"
WHOLE_MESSAGE = "请填写 {low:g} 到 {high:g} 之间的整数"
STEP_MESSAGE = "请填写 {low:g} 到 {high:g} 之间的数，以 {step:g} 为单位"


def field_name(subject: str, item: str) -> str:
    return f"{subject}__{item}"


def on_step(value: float, low: float, step: float | None) -> bool:
    """Whether ``value`` is one of the scale's points: 7.5 is no answer on a scale of whole points.

    >>> on_step(7.0, 1, 1), on_step(7.5, 1, 1), on_step(7.5, 0, 0.5), on_step(7.3, 0, None)
    (True, False, True, True)
    """
    if not step:
        return True
    steps = (value - low) / step
    return abs(steps - round(steps)) < 1e-9


class OnScale:
    """A finite number within the scale and on its steps. Decimal parses "sNaN" and "Infinity",
    which compare (or convert) only with an exception: they are refused here with the message."""

    def __init__(self, low: float, high: float, step: float | None, message: str):
        self.low, self.high, self.step, self.message = low, high, step, message

    def __call__(self, _form: Form, field: DecimalField) -> None:
        if field.data is None:
            return
        try:
            number = float(field.data)
        except (ValueError, OverflowError):
            raise ValidationError(self.message) from None
        if not (math.isfinite(number) and self.low <= number <= self.high and on_step(number, self.low, self.step)):
            raise ValidationError(self.message)


def build_form(questionnaire: Questionnaire, subjects: Sequence[str], *,
               base: type = Form, messages: dict[str, str] | None = None) -> type:
    """Return a new form class with one field per (subject, item).

    ``base`` is ``wtforms.Form`` here and ``flask_wtf.FlaskForm`` in the web layer, which adds
    CSRF; ``messages`` lets the caller pass translated error texts.
    """
    texts = {"required": REQUIRED_MESSAGE, "number": NUMBER_MESSAGE, "whole": WHOLE_MESSAGE, "step": STEP_MESSAGE,
             **(messages or {})}
    attrs: dict[str, Any] = {}
    for subject in subjects:
        for item in questionnaire.items:
            scale = questionnaire.scale(item.scale)
            check = [InputRequired(message=texts["required"])] if item.required else [Optional()]
            name = field_name(subject, item.key)
            if scale.is_numeric:
                low, high = scale.bounds()
                # 8.3 on a scale of half points is told the unit, not only the range it is inside
                wording = texts["whole"] if scale.step == 1 else texts["step"] if scale.step else texts["number"]
                wording = wording.format(low=low, high=high, step=scale.step or 0)
                if item.required and questionnaire.number_box(scale):
                    check = [InputRequired(message=wording)]  # an empty number box: nothing to choose from
                attrs[name] = DecimalField(item.label, places=None,
                                           validators=check + [OnScale(low, high, scale.step, wording)])
            else:
                attrs[name] = RadioField(
                    item.label, choices=[SelectChoice(c.key, c.label) for c in scale.choices],
                    validators=check, validate_choice=True)
    return type(f"{questionnaire.key.title().replace('_', '')}Form", (base,), attrs)
