"""A ballot's answers are a short list read through its layout: what goes in comes back out."""
from __future__ import annotations

import pytest

from survey_app.models import Layout, StoredAnswer

SATISFACTION = (("satisfied", 100.0), ("basically", 60.0), ("dissatisfied", 0.0))
LAYOUT = Layout((("branch", "overall", SATISFACTION), ("branch", "score", None),
                 ("committee", "overall", SATISFACTION), ("committee", "score", None)))


def test_answers_come_back_as_cast_with_blanks_where_nothing_was_given():
    packed = LAYOUT.pack([("committee", "overall", "basically", 60.0), ("branch", "overall", "dissatisfied", 0.0),
                          ("branch", "score", None, 7.5)])
    assert packed == "[2,7.5,1,null]"
    assert list(LAYOUT.unpack(packed)) == [StoredAnswer("branch", "overall", "dissatisfied", 0.0),
                                           StoredAnswer("branch", "score", None, 7.5),
                                           StoredAnswer("committee", "overall", "basically", 60.0),
                                           StoredAnswer("committee", "score", None, None)]


def test_the_spec_round_trips_and_names_the_layout():
    again = Layout.from_spec(LAYOUT.spec)
    assert again == LAYOUT and again.id == LAYOUT.id and len(LAYOUT.id) == 16
    other = Layout(LAYOUT.pairs[::-1])
    assert other.id != LAYOUT.id, "another order is another layout"


@pytest.mark.parametrize("answer", [("village", "overall", "satisfied", 100.0),  # no such subject
                                    ("branch", "overall", "delighted", 120.0)])  # no such choice
def test_an_answer_the_layout_does_not_have_is_refused(answer):
    with pytest.raises(KeyError):
        LAYOUT.pack([answer])


def test_a_stored_list_of_the_wrong_length_is_an_error_not_a_shifted_reading():
    with pytest.raises(ValueError, match="3 answers"):
        list(LAYOUT.unpack("[0,1,2]"))
