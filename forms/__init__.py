"""Questionnaires, checklists and grading schemes as data.

Definitions live in YAML files, load into frozen dataclasses and are validated with
messages that name the file, the line and the field.  This package imports nothing of
ours, so analysis notebooks and the web site read the very same definitions.
"""
from forms.errors import DefinitionError, Problem
from forms.loader import builtin_paths, load_builtin, load_definition, load_text
from forms.schema import Checklist, Definition, Questionnaire, Scheme

__all__ = [
    "Checklist", "Definition", "DefinitionError", "Problem", "Questionnaire", "Scheme",
    "builtin_paths", "load_builtin", "load_definition", "load_text",
]
