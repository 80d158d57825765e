"""`make run` in miniature: init, demo, serve, and a page on localhost shows the demo data."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_pingyi_serves_the_demo_campaign_on_localhost(tmp_path):
    env = {**os.environ, "PINGYI_INSTANCE": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    for command in (["init"], ["demo", "--if-empty"]):
        done = subprocess.run([BIN / "pingyi", *command], env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
    assert "/admin/  用户名 admin" in done.stdout
    port = free_port()
    server = subprocess.Popen([BIN / "pingyi", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, page = time.monotonic() + 30, ""
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    page = response.read().decode()
                    break
            except OSError:
                time.sleep(0.2)
        assert "示范区2026年度村级党组织量化考核" in page
        assert "村、社区 24 个" in page and "干部 150 人" in page
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=15)
    assert f"http://127.0.0.1:{port}/" in output


def test_the_wsgi_entry_point_loads_the_app_and_freezes_it_out_of_the_collector(tmp_path):
    """`gunicorn survey_app.wsgi:app`: every object loaded at start-up is frozen, so full
    collections walk only what requests create."""
    env = {**os.environ, "PINGYI_INSTANCE": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    script = ("import gc\n"
              "import survey_app.wsgi as wsgi\n"
              "frozen, old = gc.get_freeze_count(), len(gc.get_objects(generation=2))\n"
              "print(frozen, old, wsgi.app.test_client().get('/ping').status_code)\n")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    frozen, old, status = map(int, done.stdout.split())
    assert frozen > 100_000 and old == 0 and status == 200
