"""A run's output files land in their folder together, or not at all.

People open ``results.csv`` and ``grades.csv`` side by side and trust that they come from one
run. Written file by file into the folder, a run that failed part-way (a full disk) left new files
beside old ones, and a file an earlier run wrote but this one does not (``leniency.csv`` from a
run with ``--leniency``) stayed there, looking current.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from os import PathLike
from pathlib import Path


def replace_outputs(folder: str | PathLike, files: Sequence[tuple[str, Callable[[Path], object]]],
                    family: Iterable[str] = ()) -> list[Path]:
    """Write each ``(name, write)`` into a scratch folder inside ``folder``, then move them in.

    ``write`` gets the path to write to. If any of them fails, ``folder`` is left as it was. Once
    all are written, the names of ``family`` that this run did not write are removed.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = Path(d, "old.csv").write_text("from an earlier run")
    ...     written = replace_outputs(d, [("new.csv", lambda p: p.write_text("x"))], family=["old.csv", "new.csv"])
    ...     sorted(p.name for p in Path(d).iterdir())
    ['new.csv']
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=out, prefix=".part-"))  # same file system: a rename, not a copy
    try:
        for name, write in files:
            write(scratch / name)
        for name, _write in files:
            os.replace(scratch / name, out / name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    names = [name for name, _write in files]
    for stale in set(family) - set(names):
        (out / stale).unlink(missing_ok=True)
    return [out / name for name in names]
