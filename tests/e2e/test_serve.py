"""`make run` in miniature: init, demo, serve, and a page on localhost shows the demo data."""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_pingyi_serves_the_demo_campaign_on_localhost(tmp_path):
    # gunicorn would put its control socket here (a Unix socket's path has at most 108 bytes)
    runtime = Path(tempfile.mkdtemp(prefix="run"))
    env = {**os.environ, "PINGYI_INSTANCE": str(tmp_path), "XDG_RUNTIME_DIR": str(runtime)}
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
        # no control socket that another site on the machine would share (see cli.serve); gunicorn
        # would open it in a thread of its own once the workers are spawned
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and not any(runtime.iterdir()):
            time.sleep(0.1)
        assert not list(runtime.iterdir())
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=15)
        shutil.rmtree(runtime)
    assert f"http://127.0.0.1:{port}/" in output


def test_a_port_in_use_is_said_at_once_and_nothing_claims_to_have_started(tmp_path):
    env = {**os.environ, "PINGYI_INSTANCE": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    with socket.create_server(("127.0.0.1", 0)) as taken:  # another site, or a second `make run`
        port = taken.getsockname()[1]
        done = subprocess.run([BIN / "pingyi", "serve", "--port", str(port)], env=env, capture_output=True,
                              text=True, timeout=60)
    assert done.returncode == 1 and "评议已启动" not in done.stdout
    assert f"无法在 127.0.0.1:{port} 上启动：端口已被占用" in done.stderr and "Traceback" not in done.stderr


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


def test_gunicorns_own_access_log_keeps_no_code(tmp_path):
    """An operator who runs ``gunicorn survey_app.wsgi:app --access-logfile …`` gets every request
    line, the code's path and the Referer redacted (survey_app.security), and no logging error."""
    env = {**os.environ, "PINGYI_INSTANCE": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    done = subprocess.run([BIN / "pingyi", "init"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    port, code = free_port(), "ABCDE-FGHJK"
    access, errors = tmp_path / "access.log", tmp_path / "error.log"
    server = subprocess.Popen([BIN / "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}", "--access-logfile",
                               str(access), "--error-logfile", str(errors), "survey_app.wsgi:app"],
                              env=env, cwd=tmp_path)
    try:
        _wait_up(f"http://127.0.0.1:{port}/ping")
        typed = urllib.request.Request(f"http://127.0.0.1:{port}/t/{code}?lang=en",
                                       headers={"Referer": f"http://hall/t/{code.replace('-', '')}"})
        assert _status(typed)[0] == 404
    finally:
        server.terminate()
        server.wait(timeout=15)
    lines = access.read_text().splitlines()
    assert any('"GET /t/…?lang=en HTTP/1.1" 404' in line and '"http://hall/t/…"' in line for line in lines), lines
    logs = access.read_text() + errors.read_text()
    assert code not in logs and code.replace("-", "") not in logs and "Logging error" not in logs


def _wait_up(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            time.sleep(0.1)


def _post(url: str, size: int) -> urllib.request.Request:
    return urllib.request.Request(url, data=b"x=" + b"a" * size, method="POST",
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})


def _status(request: urllib.request.Request) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _stall(port: int, count: int) -> list[socket.socket]:
    """Phones that connect and stop: a third send nothing, a third half their headers, and a third
    their headers and a quarter of the ballot they announce."""
    phones = []
    for n in range(count):
        phone = socket.create_connection(("127.0.0.1", port))
        if n % 3 == 1:
            phone.sendall(b"GET /ping HTTP/1.1\r\nHost: hall\r\nUser-Agent: MicroMessenger\r\n")
        elif n % 3 == 2:
            phone.sendall(b"POST /t/7KQ3MX9TRD HTTP/1.1\r\nHost: hall\r\nContent-Length: 2000\r\n"
                          b"Content-Type: application/x-www-form-urlencoded\r\n\r\n" + b"a=1&" * 125)
        phones.append(phone)
    return phones


def _page(url: str) -> tuple[str, str]:
    """A ballot page and the session cookie it came with."""
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode(), response.headers.get("Set-Cookie") or ""


def test_straight_to_pingyi_serve_stalled_phones_hold_no_voter_back(live_site):
    """The event loop reads every request whole before an app thread sees it (survey_app.asgi).

    Under gunicorn's threaded workers, 20 such connections kept a voter's page waiting 14.5 s
    and 40 past this test's 10 s (README, "Serving a meeting hall"); here there is one app thread
    per worker, so a single stalled body would be enough if the app read it."""
    port = int(live_site.url.rsplit(":", 1)[1])
    stalled = _stall(port, 45)
    try:
        urls = live_site.codes("D01T02V01-masses", 4)
        pages = [_page(f"{live_site.url}/{url.split('://', 1)[1].split('/', 1)[1]}") for url in urls]
        tokens = {re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1) for page, _ in pages}
        # each voter gets a session of their own: no request's state leaks into the next one's
        assert len(tokens) == 4 and all(cookie.startswith("session=") for _, cookie in pages)
        assert len({cookie for _, cookie in pages}) == 4
        # a body announced over the cap is refused before any of it is read, with the app's page
        path = urls[0].split("://", 1)[1].split("/", 1)[1]
        with socket.create_connection(("127.0.0.1", port), timeout=10) as phone:
            phone.sendall(f"POST /{path} HTTP/1.1\r\nHost: hall\r\nContent-Length: 5000000\r\n"
                          "Content-Type: application/x-www-form-urlencoded\r\n\r\n".encode())
            reply = b""
            while chunk := phone.recv(65536):
                reply += chunk
        head, _, body = reply.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 413") and b"connection: close" in head.lower()
        assert "提交的内容过大" in body.decode()
        assert _status(_post(f"{live_site.url}/admin/import", 1_000_000))[0] not in (413, 500, 502)
    finally:
        for phone in stalled:
            phone.close()
    log = live_site.log.read_text()
    assert all(url.rsplit("/", 1)[1] not in log for url in urls)


@contextmanager
def _nginx(tmp_path: Path, app_port: int) -> Iterator[tuple[str, Path]]:
    """Debian's nginx with deploy/nginx.conf in front of ``app_port``; yields its address and the
    folder it keeps request bodies in. Every log it writes lands in ``tmp_path``."""
    web_port = free_port()
    site = (ROOT / "deploy" / "nginx.conf").read_text()
    site = site.replace("127.0.0.1:5000", f"127.0.0.1:{app_port}").replace("listen 80;", f"listen 127.0.0.1:{web_port};")
    site = site.replace("/var/log/nginx/pingyi-error.log", str(tmp_path / "site-error.log"))
    (tmp_path / "site.conf").write_text(site)
    scratch = Path(tempfile.mkdtemp())  # nginx's temporary files: its workers may run as nobody
    scratch.chmod(0o777)
    bodies = scratch / "body"
    bodies.mkdir(mode=0o777)
    bodies.chmod(0o777)
    (tmp_path / "nginx.conf").write_text(
        f"daemon off; pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log info; worker_processes 1;\n"
        f"events {{ worker_connections 1024; }}\n"
        f"http {{ client_body_temp_path {bodies}; proxy_temp_path {scratch}/proxy;\n"
        f"  fastcgi_temp_path {scratch}/f; uwsgi_temp_path {scratch}/u; scgi_temp_path {scratch}/s;\n"
        f"  include {tmp_path}/site.conf; }}\n")
    checked = subprocess.run(["nginx", "-t", "-c", str(tmp_path / "nginx.conf")], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    nginx = subprocess.Popen(["nginx", "-c", str(tmp_path / "nginx.conf")], stderr=subprocess.DEVNULL)
    try:
        front = f"http://127.0.0.1:{web_port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # nginx is up once it answers, whatever the app does
            try:
                socket.create_connection(("127.0.0.1", web_port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield front, bodies
    finally:
        nginx.terminate()
        nginx.wait(timeout=20)
        shutil.rmtree(scratch, ignore_errors=True)


def test_behind_the_shipped_nginx_config_stalled_phones_hold_no_voter_back(live_site, tmp_path):
    """deploy/nginx.conf: phones that connect and stall (:func:`_stall`) cost the app no thread,
    and no log of nginx's holds a voting code. nginx is also where HTTPS is added."""
    app_port = int(live_site.url.rsplit(":", 1)[1])
    stalled: list[socket.socket] = []
    with _nginx(tmp_path, app_port) as (front, bodies):
        try:
            _wait_up(f"{front}/ping")
            web_port = int(front.rsplit(":", 1)[1])
            stalled = _stall(web_port, 40)
            code_url = live_site.codes("D01T02V01-masses", 1)[0]
            path = code_url.split("://", 1)[1].split("/", 1)[1]
            with urllib.request.urlopen(f"{front}/{path}", timeout=10) as response:
                page = response.read().decode()
            assert 'name="csrf_token"' in page and 'name="nonce"' in page
            # a 5 MB body is refused by nginx with the app's own page, in Chinese
            status, body = _status(_post(f"{front}/{path}", 5_000_000))
            assert status == 413 and "提交的内容过大" in body
            # a roster import may be big: nginx passes it on to the app (which wants a login first)
            assert _status(_post(f"{front}/admin/import", 1_000_000))[0] not in (413, 500, 502)
            # nginx failing on a request writes the kind of error line that quotes the request, code
            # and all; the voter gets nginx's stand-in page, not its English one
            bodies.chmod(0)
            try:
                status, body = _status(_post(f"{front}/{path}", 100_000))  # kept in a file it cannot write
                assert status == 500 and "系统暂时无法访问" in body
            finally:
                bodies.chmod(0o700)
        finally:
            for phone in stalled:
                phone.close()
    code = path.rsplit("/", 1)[1]
    logs = "".join(p.read_text() for p in tmp_path.glob("*.log"))
    assert code not in logs and code.replace("-", "") not in logs


def test_behind_nginx_a_stopped_app_gives_the_voter_a_page_in_their_language(tmp_path):
    """With the app down (a restart, a crash), nginx answers for it: a page in the voter's language
    that says what to do about a ballot that may or may not have been stored, not nginx's
    English "502 Bad Gateway"."""
    with socket.socket() as dead:  # a port nobody listens on
        dead.bind(("127.0.0.1", 0))
        app_port = dead.getsockname()[1]
    code = "7KQ3M-X9TRD"
    with _nginx(tmp_path, app_port) as (front, _bodies):
        def ask(path: str, data: bytes | None = None, **headers: str) -> tuple[int, dict, str]:
            request = urllib.request.Request(f"{front}{path}", data=data, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    return response.status, dict(response.headers), response.read().decode()
            except urllib.error.HTTPError as error:
                return error.code, dict(error.headers), error.read().decode()

        status, headers, page = ask(f"/t/{code}")
        assert status == 502 and headers["Content-Type"] == "text/html; charset=utf-8"
        assert "系统暂时无法访问" in page and "刷新本页" in page and "不会重复计票" in page
        assert "nginx" not in page.lower() and "Bad Gateway" not in page
        assert headers["Cache-Control"] == "no-store" and headers["Referrer-Policy"] == "no-referrer"
        assert "default-src 'none'" in headers["Content-Security-Policy"]
        # a ballot sent while the app is down: the same page, in Chinese by default
        form = b"nonce=abcdefghijkl&V1-branch__overall=satisfied"
        status, _, page = ask(f"/t/{code}", form, **{"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 502 and "如果您刚才点了“提交”" in page
        # English where the voter chose it, by the remembered cookie or by ?lang=en; ?lang=zh wins
        for path, cookie in ((f"/t/{code}", "lang=en"), (f"/t/{code}?lang=en", "lang=zh"), ("/?lang=en", "")):
            status, _, page = ask(path, **({"Cookie": cookie} if cookie else {}))
            assert status == 502 and "Voting is briefly unavailable" in page and "系统" not in page, path
        status, _, page = ask(f"/t/{code}?lang=zh", Cookie="lang=en")
        assert "系统暂时无法访问" in page
    logs = "".join(p.read_text() for p in tmp_path.glob("*.log"))
    assert code not in logs and code.replace("-", "") not in logs
