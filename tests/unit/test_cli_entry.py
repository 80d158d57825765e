"""The ``pingyi`` command itself, as installed: its version and its options are pingyi's."""
from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

PINGYI = Path(sys.executable).parent / "pingyi"


def test_version_is_pingyis_and_flasks_own_options_are_gone(tmp_path):
    env = {**os.environ, "PINGYI_INSTANCE": str(tmp_path)}
    version = subprocess.run([PINGYI, "--version"], capture_output=True, text=True, check=True, env=env).stdout
    assert version.strip() == f"pingyi {importlib.metadata.version('pingyi')}"
    options = subprocess.run([PINGYI, "--help"], capture_output=True, text=True, check=True, env=env).stdout
    options = options.split("命令:")[0]
    assert "--version" in options and not any(o in options for o in ("--app", "--env-file", "--debug", "Flask"))


def test_listing_the_commands_builds_no_app_and_writes_no_instance(tmp_path):
    """`pingyi --help` built the app to list app.cli's commands, which wrote ./instance with new key
    files into whatever folder it ran in. Every command, Flask-Migrate's db included, is listed
    without one."""
    env = {k: v for k, v in os.environ.items() if k not in ("PINGYI_INSTANCE", "SECRET_KEY", "PINGYI_TOKEN_KEY")}
    listing = subprocess.run([PINGYI, "--help"], capture_output=True, text=True, check=True, env=env,
                             cwd=tmp_path).stdout
    commands = [line.split()[0] for line in listing.split("命令:")[1].splitlines() if line.startswith("  ")]
    assert {"db", "limiter", "init", "serve", "validate"} <= set(commands)
    assert list(tmp_path.iterdir()) == [], "listing the commands wrote files"
