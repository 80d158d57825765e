"""Ballot submission under gunicorn, against a hello-world endpoint of the same app, same settings.

    .venv/bin/python bench/bench_ballots.py [--db sqlite|postgresql|both] [--duration 10] [--rounds 3]

Each ballot is a full submission of a 20-answer sheet with CSRF, code check, validation and the
exactly-once transaction. wrk (Debian) drives 64 connections; every request uses a fresh code, so
after the run the database must hold exactly one ballot per 2xx response: nothing lost, nothing
doubled. Results are ratios to the hello-world rate measured in the same run; hello and ballots
alternate for several rounds against one server, and the median ratio is the result, because on a
shared 2-core machine one round differs from the next by a few hundredths. The CPU that the server
and wrk spend per request (from /proc) shows how much of the gap is work and how much is waiting.
With ``--framework`` each round also measures the ballot request without the ballot (see
``bench/framework_app.py``): the most any ballot could reach under these libraries and settings.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PG_URL = os.environ.get("PINGYI_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

# wrk prints percentiles up to the 99th; the slowest one in a thousand shows a stall that hits few.
TAIL_LUA = r"""
function done(summary, latency, requests)
  io.write(string.format("p99.9 %d us, max %d us\n", latency:percentile(99.9), latency.max))
end
"""

LUA = TAIL_LUA + r"""
local counter, requests = 0, {}
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
function init(args)
  local nthreads, path, prefix = tonumber(args[1]), args[2], args[3] or "/t/"
  cycle = args[4] == "cycle"  -- for requests that spend no code: start over instead of stopping
  local i = 0
  for line in io.lines(path) do
    if i % nthreads == tid then
      local code, body = line:match("([^\t]+)\t(.*)")
      requests[#requests + 1] = wrk.format("POST", prefix .. code, nil, body)
    end
    i = i + 1
  end
  pos = 0
end
function request()
  pos = pos + 1
  if pos > #requests and cycle then
    pos = 1
  elseif pos > #requests then
    wrk.thread:stop()
    return requests[#requests]
  end
  return requests[pos]
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(env: dict, codes_needed: int) -> list[str]:
    """Create a campaign with a 20-answer sheet (10 items × 2 subjects) and issue the codes."""
    script = f"""
import json, shutil, sys, tempfile
from pathlib import Path
import forms.loader
# The bench sheet joins the built-in templates for this process only; opening the campaign
# snapshots it, and the server reads the snapshot.
folder = Path(tempfile.mkdtemp())
for path in forms.loader.builtin_paths():
    shutil.copy(path, folder)
shutil.copy({str(ROOT / "bench" / "sheet20.yaml")!r}, folder)
forms.loader.TEMPLATE_DIR, forms.loader._BUILTIN = folder, None
from survey_app import create_app
from survey_app.extensions import db
from survey_app.models import Organisation
from survey_app.services import campaigns, tokens
from survey_app.services.campaigns import SubjectSpec
from survey_app.services.database import init_database
app = create_app()
with app.app_context():
    init_database()
    village = Organisation(code="V1", name="基准村", kind="village")
    db.session.add(village)
    db.session.flush()
    c = campaigns.create_campaign("bench", "基准测试", 2026)
    sheet = campaigns.add_sheet(c, "V1-masses", "基准村测评", "bench_twenty", "masses",
                                [SubjectSpec("V1-branch", "党支部", org_id=village.id),
                                 SubjectSpec("V1-committee", "村委会", org_id=village.id)])
    db.session.commit()
    campaigns.open_campaign(c)
    codes = []
    for _ in range({codes_needed} // 20000 + 1):
        codes += tokens.issue_tokens(sheet, 20000).codes
    json.dump([tokens.display(x) for x in codes], sys.stdout)
"""
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def count_rows(env: dict) -> dict[str, int]:
    script = """
import json
from sqlalchemy import func, select
from survey_app import create_app
from survey_app.extensions import db
from survey_app.models import Ballot, Token, answers_by_ballot
app = create_app()
with app.app_context():
    n = lambda q: db.session.scalar(q)
    print(json.dumps({"ballots": n(select(func.count()).select_from(Ballot)),
                      "answers": sum(len(a) for a in answers_by_ballot().values()),
                      "used": n(select(func.count()).select_from(Token).where(Token.status == "used"))}))
"""
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def wait_until_up(base: str) -> None:
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{base}/ping", timeout=1).read()
            return
        except OSError:
            time.sleep(0.1)


def form_fields(base: str, code: str) -> tuple[str, dict[str, str]]:
    """One visit to a ballot page: a session cookie and its CSRF token serve every submission."""
    with urllib.request.urlopen(f"{base}/t/{code}") as response:
        page = response.read().decode()
        cookie = "; ".join(c.split(";")[0] for c in response.headers.get_all("Set-Cookie") or [])
    assert "session=" in cookie, cookie
    hidden = dict(re.findall(r'name="(csrf_token|started)" type="hidden" value="([^"]*)"', page))
    names = sorted(set(re.findall(r'name="(V1-[a-z]+__[a-z_]+)"', page)))
    answers = {n: ("8" if n.endswith("overall_score") else "satisfied") for n in names}
    assert len(answers) == 20, len(answers)
    return cookie, {**hidden, **answers}


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its direct children, from /proc (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def wrk(args: list[str], server_pid: int) -> dict:
    """Run wrk; also measure the CPU the server and wrk itself spent per request."""
    server_before, client_before = cpu_seconds(server_pid), resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(["wrk", *args], capture_output=True, text=True, check=True)
    server_cpu = cpu_seconds(server_pid) - server_before
    client_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_cpu = (client_after.ru_utime + client_after.ru_stime) - (client_before.ru_utime + client_before.ru_stime)
    out = done.stdout

    def number(pattern: str, default: float = 0.0) -> float:
        m = re.search(pattern, out)
        return float(m.group(1)) if m else default

    def millis(label: str) -> float:
        m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]

    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    requests = max(1, int(number(r"(\d+) requests in")))
    return {"rate": number(r"Requests/sec:\s+([\d.]+)"), "requests": int(number(r"(\d+) requests in")),
            "server_us": server_cpu / requests * 1e6, "wrk_us": client_cpu / requests * 1e6,
            "non2xx": int(number(r"Non-2xx or 3xx responses: (\d+)")),
            "socket_errors": sum(int(x) for x in errors.groups()) if errors else 0,
            "p50": millis("50"), "p99": millis("99"), "p999": number(r"p99\.9 (\d+) us") / 1000,
            "max": number(r"max (\d+) us") / 1000, "raw": out}


def server_env(db: str, folder: Path, base: str, schema: str = "pingyi_bench") -> dict:
    """The server's environment: its own instance folder, and on PostgreSQL a fresh schema of its own."""
    env = {**os.environ, "PINGYI_INSTANCE": str(folder), "PINGYI_BASE_URL": base}
    if db == "postgresql":
        import sqlalchemy
        engine = sqlalchemy.create_engine(PG_URL)
        with engine.begin() as c:
            c.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            c.exec_driver_sql(f"CREATE SCHEMA {schema}")
        engine.dispose()
        env["DATABASE_URL"] = PG_URL + ("&" if "?" in PG_URL else "?") + f"options=-csearch_path%3D{schema}"
    else:
        env.pop("DATABASE_URL", None)
    return env


def run(db: str, duration: int, connections: int, workers: int, rounds: int, framework: bool = False) -> dict:
    folder = Path(tempfile.mkdtemp(prefix=f"bench-{db}-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = server_env(db, folder, base)
    per_round = duration * 2500 + 500
    codes = prepare(env, codes_needed=per_round * rounds + 1)
    app = ["--pythonpath", str(ROOT / "bench"), "framework_app:app"] if framework else ["survey_app.wsgi:app"]
    server = subprocess.Popen([BIN / "gunicorn", "-w", str(workers), "-k", "sync", "-b", f"127.0.0.1:{port}",
                               "--backlog", "2048", "--log-level", "warning", *app],
                              env=env, cwd=ROOT)
    try:
        wait_until_up(base)
        cookie, fields = form_fields(base, codes.pop())
        from urllib.parse import urlencode
        lua = folder / "ballots.lua"
        lua.write_text(LUA)
        hello_lua = folder / "hello.lua"
        hello_lua.write_text(TAIL_LUA)
        common = ["-t2", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "10s"]
        wrk(["-t2", "-c8", "-d2s", f"{base}/ping"], server.pid)  # warm-up
        results = []
        for n in range(rounds):
            # Each round has its own fresh codes; wrk stops a connection that runs out of them.
            requests_file = folder / f"requests-{n}.tsv"
            with requests_file.open("w") as handle:
                for code in codes[n * per_round:(n + 1) * per_round]:
                    handle.write(f"{code}\t{urlencode({**fields, 'nonce': secrets.token_urlsafe(12)})}\n")
            posts = common + ["-s", str(lua), "-H", f"Cookie: {cookie}", "-H",
                              "Content-Type: application/x-www-form-urlencoded", base, "--", "2", str(requests_file)]
            hello = wrk(common + ["-s", str(hello_lua), f"{base}/ping"], server.pid)
            # the framework floor spends no code, so it reads the round's requests before the ballots do
            floor = wrk(posts + ["/bench/framework/", "cycle"], server.pid) if framework else None
            ballots = wrk(posts, server.pid)
            results.append((hello, ballots, floor))
    finally:
        server.terminate()
        server.wait(timeout=30)
    rows = count_rows(env)
    ok = sum(b["requests"] - b["non2xx"] for _, b, _ in results)
    # lost: confirmed to wrk but not stored. doubled: a ballot without its own spent code.
    # in flight: stored, but wrk stopped before reading the confirmation (at most one per connection).
    return {"db": db, "rounds": results, "rows": rows, "ok": ok,
            "lost": max(0, ok - rows["ballots"]), "doubled": max(0, rows["ballots"] - rows["used"]),
            "in_flight": max(0, rows["ballots"] - ok),
            "answers_ok": rows["answers"] == rows["ballots"] * 20 and rows["used"] == rows["ballots"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="hello and ballot runs in turn; the median ratio counts")
    parser.add_argument("--framework", action="store_true",
                        help="also measure the ballot request without the ballot (bench/framework_app.py)")
    args = parser.parse_args()
    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    goals = {"sqlite": 0.40, "postgresql": 0.12}
    failed = False
    print(f"{'db':<11}{'hello/s':>9}{'ballots/s':>11}{'ratio':>7}{'goal':>6}{'p50 ms':>8}{'p99 ms':>8}"
          f"{'p99/hello':>10}{'errors':>8}")
    for db in dbs:
        r = run(db, args.duration, args.connections, args.workers, args.rounds, args.framework)
        ratios, tails, shapes, floors = [], [], [], []
        for h, b, f in r["rounds"]:
            ratio = b["rate"] / h["rate"]
            ratios.append(ratio)
            tails.append(b["p99"] / h["p99"])
            errors = b["non2xx"] + b["socket_errors"]
            failed |= errors > 0
            print(f"{db:<11}{h['rate']:>9.0f}{b['rate']:>11.0f}{ratio:>7.2f}{goals[db]:>6.2f}{b['p50']:>8.1f}"
                  f"{b['p99']:>8.1f}{b['p99'] / h['p99']:>10.2f}{errors:>8}")
            print(f"{'':<11}hello p50 {h['p50']:.1f} ms, p99 {h['p99']:.1f} ms; p99.9 and max: hello {h['p999']:.0f} and "
                  f"{h['max']:.0f} ms, ballots {b['p999']:.0f} and {b['max']:.0f} ms")
            # p99/hello = (p50/hello's p50, which with 64 busy connections is 1/ratio) × (the tails' shapes)
            shapes.append((b["p99"] / b["p50"]) / (h["p99"] / h["p50"]))
            print(f"{'':<11}p99/hello = p50/hello {b['p50'] / h['p50']:.2f} (1/ratio {1 / ratio:.2f}) × tail shape "
                  f"{shapes[-1]:.2f} (p99/p50: ballots {b['p99'] / b['p50']:.2f}, hello {h['p99'] / h['p50']:.2f})")
            print(f"{'':<11}CPU per request, server + wrk: "
                  f"hello {h['server_us']:.0f} + {h['wrk_us']:.0f} µs, ballot {b['server_us']:.0f} + {b['wrk_us']:.0f} µs")
            if f is not None:
                floors.append((f["rate"] / h["rate"], f["p99"] / h["p99"], b["server_us"] - f["server_us"]))
                failed |= f["non2xx"] + f["socket_errors"] > 0
                print(f"{'':<11}framework floor: ratio {floors[-1][0]:.2f}, p50 {f['p50']:.1f} ms, p99 {f['p99']:.1f} ms "
                      f"({floors[-1][1]:.2f}× hello's), server CPU {f['server_us']:.0f} µs; "
                      f"the ballot's own work: {floors[-1][2]:.0f} µs")
        print(f"{'':<11}median ratio {statistics.median(ratios):.2f} over {len(ratios)} rounds "
              f"({min(ratios):.2f}–{max(ratios):.2f}); median p99/hello {statistics.median(tails):.2f} "
              f"({min(tails):.2f}–{max(tails):.2f}; tail shape {statistics.median(shapes):.2f}); "
              f"{r['rows']['ballots']} ballots and {r['rows']['answers']} answers stored; lost {r['lost']}, "
              f"doubled {r['doubled']}, in flight {r['in_flight']}; answers and used codes consistent: "
              f"{r['answers_ok']}")
        if floors:
            print(f"{'':<11}framework floor: median ratio {statistics.median(x[0] for x in floors):.2f}, "
                  f"median p99/hello {statistics.median(x[1] for x in floors):.2f}; the ballot's own work "
                  f"(server CPU beyond the floor) {statistics.median(x[2] for x in floors):.0f} µs")
        failed |= r["lost"] > 0 or r["doubled"] > 0 or not r["answers_ok"]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
