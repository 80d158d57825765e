"""The WSGI entry point for gunicorn: ``gunicorn survey_app.wsgi:app``.

Once the app and everything it imports are loaded, the objects are frozen out of the garbage
collector's reach (:func:`gc.freeze`). They live as long as the process anyway, and each full
collection otherwise walked all of them: under a meeting hall's load a worker stood still for
about 90 ms roughly every half minute. With ``--preload`` the freeze happens before the fork,
so the collector no longer writes to those objects, and fewer of the shared pages get copied.
"""
from __future__ import annotations

import gc

from survey_app import create_app

app = create_app()
gc.collect()
gc.freeze()
