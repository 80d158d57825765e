"""A meeting hall: hundreds of phones scan their slips within seconds, fill in, and submit.

    .venv/bin/python bench/bench_hall.py [--phones 300] [--window 10] [--think 5 20] [--rtt 0.15]
                                         [--nginx] [--stalled N] [--close] [--server serve|gthread|sync]
                                         [--db sqlite|postgresql]

``bench_ballots.py`` saturates the server with one request after another, which says what the
server can carry. A hall is different: the phones arrive at their own pace (open loop), each on
its own connection, and each behaves like a browser on a slow network. It loads its ballot page
and the page's stylesheet and script on one kept-alive connection, fills in for a while, submits
the answers the page asked for with the CSRF token and nonce the page gave it, and keeps its end
of the connection open for a round trip (``--rtt``) after each response, as a phone far from the
server does before its FIN arrives. Nothing here waits on the network for real: the round trips
are the phones' own pauses, so what is measured is what the server makes them wait.

The server is started as voters meet it: ``pingyi serve`` (gunicorn's asyncio workers, two
processes, each with one app thread that gets whole requests), or with ``--server gthread`` as
``pingyi serve`` ran before (threaded workers, two processes of four threads), or with
``--server sync`` as the saturation benchmark runs it. For
each arrival the benchmark also times ``/ping`` from the same kind of phone at the same moment,
so that the server's own floor is measured in the same run. The ballot page and ``/ping`` are
timed from the moment the phone was due to arrive, so a phone that waited to connect, or for a
busy client, counts its wait; the other requests from the moment they were sent. ``--nginx`` puts
``deploy/nginx.conf`` in front, and ``--stalled N`` adds phones that connect and then send
nothing, half their headers, or a quarter of their ballot, for the whole run.
"""
from __future__ import annotations

import argparse
import asyncio
import gzip
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ballots import BIN, ROOT, count_rows, free_port, prepare, server_env, wait_until_up  # noqa: E402

TIMEOUT = 30.0  # a phone gives up on a request after this long, and the run counts a failure
SERVERS = {"serve": "pingyi serve (gunicorn asyncio workers, 2 x 1 app thread)",
           "gthread": "gunicorn gthread, 2 workers x 4 threads (pingyi serve until November 2026)",
           "sync": "gunicorn sync, 2 workers (as bench_ballots.py)"}
PHONE_HEADERS = ("User-Agent: Mozilla/5.0 (Linux; Android 10) AppleWebKit/537.36 MicroMessenger/8.0\r\n"
                 "Accept-Encoding: gzip\r\nAccept-Language: zh-CN,zh;q=0.9\r\n")


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        data = gzip.decompress(self.body) if self.headers.get("content-encoding") == "gzip" else self.body
        return data.decode()


@dataclass
class Phone:
    """One voter's connection, kept alive across requests when the server allows it, as a browser does."""

    port: int
    rtt: float
    ask_close: bool = False  # ask for "Connection: close", as HTTP/1.0 clients and some proxies do
    cookie: str = ""
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    connections: int = 0

    async def request(self, method: str, path: str, body: bytes = b"", content_type: str = "") -> Reply:
        for attempt in (1, 2):
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
                self.connections += 1
            head = f"{method} {path} HTTP/1.1\r\nHost: hall\r\n{PHONE_HEADERS}"
            if self.ask_close:
                head += "Connection: close\r\n"
            if self.cookie:
                head += f"Cookie: {self.cookie}\r\n"
            if body:
                head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            try:
                self.writer.write(head.encode() + b"\r\n" + body)
                await self.writer.drain()
                reply = await asyncio.wait_for(self._read(), TIMEOUT)
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close(linger=False)  # the server closed a kept-alive connection: a new one
                if attempt == 2:
                    raise
                continue
            if reply.headers.get("connection", "").lower() == "close":
                await self.close()
            return reply
        raise AssertionError("unreachable")

    async def _read(self) -> Reply:
        assert self.reader is not None
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split()[1])
        headers = {}
        for line in head[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                if name.lower() == "set-cookie":
                    self.cookie = value.strip().split(";")[0]
                headers[name.lower()] = value.strip()
        body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        return Reply(status, headers, body)

    async def close(self, linger: bool = True) -> None:
        """A phone's FIN reaches the server a round trip after the last response left it."""
        writer, self.reader, self.writer = self.writer, None, None
        if writer is None:
            return
        if linger:
            await asyncio.sleep(self.rtt)
        writer.close()
        try:
            await writer.wait_closed()
        except ConnectionError:
            pass


@dataclass
class Timings:
    page: list[float] = field(default_factory=list)
    assets: list[float] = field(default_factory=list)
    submit: list[float] = field(default_factory=list)
    ping: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    connections: int = 0


async def voter(phone: Phone, code: str, arrive: float, think: float, start: float, t: Timings) -> None:
    await asyncio.sleep(max(0.0, start + arrive - time.monotonic()))
    try:
        page = await phone.request("GET", f"/t/{code}")
        t.page.append(time.monotonic() - (start + arrive))
        if page.status != 200:
            t.failures.append(f"page {page.status}")
            return
        html = page.text
        for asset in re.findall(r'(?:href|src)="(/static/[^"]+)"', html):
            began = time.monotonic()
            reply = await phone.request("GET", asset)
            t.assets.append(time.monotonic() - began)
            if reply.status != 200:
                t.failures.append(f"{asset} {reply.status}")
        hidden = dict(re.findall(r'name="(csrf_token|started|nonce)" type="hidden" value="([^"]*)"', html))
        names = sorted(set(re.findall(r'name="([A-Za-z0-9_-]+__[a-z_]+)"', html)))
        answers = {n: ("8" if n.endswith("overall_score") else "satisfied") for n in names}
        await asyncio.sleep(think)  # filling in; a browser keeps the connection if the server lets it
        began = time.monotonic()
        done = await phone.request("POST", f"/t/{code}", urlencode({**hidden, **answers}).encode(),
                                   "application/x-www-form-urlencoded")
        t.submit.append(time.monotonic() - began)
        if done.status != 200 or "done" not in done.text:
            t.failures.append(f"submit {done.status}")
    except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError) as error:
        t.failures.append(f"{type(error).__name__}: {error}")
    finally:
        await phone.close()
        t.connections += phone.connections


async def pinger(phone: Phone, arrive: float, start: float, t: Timings) -> None:
    """The server's floor at the same moment: a phone that asks for /ping once."""
    await asyncio.sleep(max(0.0, start + arrive - time.monotonic()))
    try:
        reply = await phone.request("GET", "/ping")
        t.ping.append(time.monotonic() - (start + arrive))
        if reply.status != 200:
            t.failures.append(f"ping {reply.status}")
    except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError) as error:
        t.failures.append(f"ping {type(error).__name__}")
    finally:
        await phone.close()


async def hall(port: int, codes: list[str], window: float, think: tuple[float, float], rtt: float,
               close: bool, seed: int) -> Timings:
    rng = random.Random(seed)
    t = Timings()
    start = time.monotonic() + 0.5
    tasks = []
    for code in codes:
        arrive = rng.uniform(0, window)
        tasks.append(voter(Phone(port, rtt, close), code, arrive, rng.uniform(*think), start, t))
        tasks.append(pinger(Phone(port, rtt, close), arrive, start, t))
    await asyncio.gather(*tasks)
    return t


def start_nginx(folder: Path, app_port: int, port: int) -> subprocess.Popen:
    """Debian's nginx with deploy/nginx.conf as shipped, but for its ports and where it writes."""
    site = (ROOT / "deploy" / "nginx.conf").read_text().replace("127.0.0.1:5000", f"127.0.0.1:{app_port}")
    site = site.replace("listen 80;", f"listen 127.0.0.1:{port};").replace("/var/log/nginx/", f"{folder}/")
    (folder / "site.conf").write_text(site)
    scratch = Path(tempfile.mkdtemp(prefix="nginx-"))  # its workers may run as nobody
    scratch.chmod(0o777)
    (folder / "nginx.conf").write_text(
        f"daemon off; pid {folder}/nginx.pid; error_log {folder}/nginx-error.log; worker_processes 1;\n"
        f"events {{ worker_connections 4096; }}\n"
        f"http {{ client_body_temp_path {scratch}/body; proxy_temp_path {scratch}/proxy;\n"
        f"  fastcgi_temp_path {scratch}/f; uwsgi_temp_path {scratch}/u; scgi_temp_path {scratch}/s;\n"
        f"  include {folder}/site.conf; }}\n")
    nginx = subprocess.Popen(["nginx", "-c", str(folder / "nginx.conf")])
    wait_until_up(f"http://127.0.0.1:{port}")
    return nginx


def ms(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phones", type=int, default=300)
    parser.add_argument("--window", type=float, default=10.0, help="seconds over which the phones arrive")
    parser.add_argument("--think", type=float, nargs=2, default=(5.0, 20.0), metavar=("MIN", "MAX"),
                        help="seconds each voter spends filling in")
    parser.add_argument("--rtt", type=float, default=0.15, help="a phone's round trip, seconds")
    parser.add_argument("--close", action="store_true",
                        help='phones ask for "Connection: close" instead of keeping connections alive')
    parser.add_argument("--server", choices=list(SERVERS), default="serve")
    parser.add_argument("--nginx", action="store_true", help="phones reach the server through deploy/nginx.conf")
    parser.add_argument("--stalled", type=int, default=0,
                        help="phones that connect and stall for the whole run: a third send nothing, a third "
                             "half their headers, a third a quarter of their ballot")
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-hall-"))
    port = free_port()
    env = server_env(args.db, folder, f"http://127.0.0.1:{port}", schema="pingyi_hall")
    codes = prepare(env, args.phones)[:args.phones]
    if args.server == "serve":
        command = [str(BIN / "pingyi"), "serve", "--port", str(port), "--workers", "2"]
    elif args.server == "gthread":
        command = [str(BIN / "gunicorn"), "-w", "2", "-k", "gthread", "--threads", "4", "--preload", "-b",
                   f"127.0.0.1:{port}", "--log-level", "warning", "survey_app.wsgi:app"]
    else:
        command = [str(BIN / "gunicorn"), "-w", "2", "-k", "sync", "-b", f"127.0.0.1:{port}", "--backlog", "2048",
                   "--log-level", "warning", "survey_app.wsgi:app"]
    server = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    front, stalled = port, []
    try:
        wait_until_up(f"http://127.0.0.1:{port}")
        if args.nginx:
            front = free_port()
            nginx = start_nginx(folder, port, front)
        for n in range(args.stalled):
            phone = socket.create_connection(("127.0.0.1", front))
            if n % 3 == 1:
                phone.sendall(b"GET /ping HTTP/1.1\r\nHost: hall\r\n")
            elif n % 3 == 2:  # a ballot whose last three quarters never come
                phone.sendall(b"POST /t/7KQ3MX9TRD HTTP/1.1\r\nHost: hall\r\nContent-Length: 2000\r\n"
                              b"Content-Type: application/x-www-form-urlencoded\r\n\r\n" + b"a=1&" * 125)
            stalled.append(phone)
        began = time.monotonic()
        t = asyncio.run(hall(front, codes, args.window, tuple(args.think), args.rtt, args.close, args.seed))
        elapsed = time.monotonic() - began
    finally:
        for phone in stalled:
            phone.close()
        if args.nginx:
            nginx.terminate()
            nginx.wait(timeout=30)
        server.terminate()
        server.wait(timeout=30)
    rows = count_rows(env)
    print(f"{args.phones} phones over {args.window:g} s, filling in {args.think[0]:g}–{args.think[1]:g} s, "
          f"round trip {args.rtt * 1000:.0f} ms{', Connection: close' if args.close else ''}"
          f"{f', {args.stalled} stalled phones' if args.stalled else ''}; {SERVERS[args.server]}"
          f"{' behind nginx' if args.nginx else ''}, {args.db}; {elapsed:.1f} s in all, {t.connections} ballot connections")
    print(f"{'request':<22}{'count':>7}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for label, values in (("ballot page", t.page), ("stylesheet, script", t.assets), ("submit", t.submit),
                          ("/ping, same moments", t.ping)):
        print(f"{label:<22}{len(values):>7}{ms(values, .5):>9.1f}{ms(values, .9):>9.1f}{ms(values, .99):>9.1f}"
              f"{ms(values, 1.0):>9.1f}")
    stored = rows["ballots"]
    print(f"ballots stored {stored} of {args.phones}; codes used {rows['used']}; answers {rows['answers']} "
          f"({rows['answers'] == stored * 20}); failures {len(t.failures)}"
          + (f": {sorted(set(t.failures))[:5]}" if t.failures else ""))
    return 1 if t.failures or stored != args.phones or rows["used"] != stored else 0


if __name__ == "__main__":
    raise SystemExit(main())
