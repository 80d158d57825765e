"""The ``pingyi`` command itself, as installed: its version and its options are pingyi's."""
from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

PINGYI = Path(sys.executable).parent / "pingyi"


def test_version_is_pingyis_and_flasks_own_options_are_gone(tmp_path):
    env = {**os.environ, "PINGYI_INSTANCE": str(tmp_path)}  # --help loads the app to list its commands
    version = subprocess.run([PINGYI, "--version"], capture_output=True, text=True, check=True, env=env).stdout
    assert version.strip() == f"pingyi {importlib.metadata.version('pingyi')}"
    options = subprocess.run([PINGYI, "--help"], capture_output=True, text=True, check=True, env=env).stdout
    options = options.split("命令:")[0]
    assert "--version" in options and not any(o in options for o in ("--app", "--env-file", "--debug", "Flask"))
