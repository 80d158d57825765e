"""Compare the ballot benchmark across git revisions: one server each, rounds interleaved, SQLite.

    .venv/bin/python bench/compare_ballots.py [--rounds 4] [--duration 8] REV [REV ...]

One round of bench_ballots.py differs from the next by several hundredths on a shared 2-core
machine, and the machine itself is faster or slower from one hour to the next; a change of a
few per cent in a ballot's cost is lost in that. Here every revision (a commit, a branch, or
``WORKTREE`` for the uncommitted tree) gets its own checkout, database and gunicorn server, and
the rounds take the servers in turn, so that each revision meets the same conditions. A
revision that adds 100 µs of CPU to a ballot shows as about +0.3 in "server CPU ÷ hello's".
"""
from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlencode

import bench_ballots as bench

HERE = bench.ROOT  # this checkout; each revision's server runs from its own


def checkout(revision: str, folder: Path) -> Path:
    if revision == "WORKTREE":
        return HERE
    target = folder / f"tree-{revision.replace('/', '_')}"
    done = subprocess.run(["git", "-C", str(HERE), "worktree", "add", "--detach", "-q", str(target), revision],
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"cannot check out {revision!r}: {done.stderr.strip()}")
    return target


def start(root: Path, codes_needed: int) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="compare-"))
    port = bench.free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PINGYI_INSTANCE": str(folder), "PINGYI_BASE_URL": base, "PYTHONPATH": str(root)}
    env.pop("DATABASE_URL", None)
    bench.ROOT = root  # prepare() reads the bench sheet from the revision's own tree
    try:
        codes = bench.prepare(env, codes_needed)
    finally:
        bench.ROOT = HERE
    server = subprocess.Popen([bench.BIN / "gunicorn", "-w", "2", "-k", "sync", "-b", f"127.0.0.1:{port}",
                               "--backlog", "2048", "--log-level", "warning", "--pythonpath", str(root),
                               "survey_app.wsgi:app"], env=env, cwd=root)
    bench.wait_until_up(base)
    cookie, fields = bench.form_fields(base, codes.pop())
    (folder / "ballots.lua").write_text(bench.LUA)
    (folder / "hello.lua").write_text(bench.TAIL_LUA)
    return {"root": root, "base": base, "server": server, "cookie": cookie, "fields": fields, "codes": codes,
            "folder": folder, "rounds": []}


def one_round(s: dict, n: int, duration: int) -> None:
    per_round = duration * 2500
    requests = s["folder"] / f"requests-{n}.tsv"
    with requests.open("w") as handle:
        for code in s["codes"][n * per_round:(n + 1) * per_round]:
            handle.write(f"{code}\t{urlencode({**s['fields'], 'nonce': secrets.token_urlsafe(12)})}\n")
    common = ["-t2", "-c64", f"-d{duration}s", "--latency", "--timeout", "10s"]
    hello = bench.wrk(common + ["-s", str(s["folder"] / "hello.lua"), f"{s['base']}/ping"], s["server"].pid)
    ballots = bench.wrk(common + ["-s", str(s["folder"] / "ballots.lua"), "-H", f"Cookie: {s['cookie']}", "-H",
                                  "Content-Type: application/x-www-form-urlencoded", s["base"], "--", "2",
                                  str(requests)], s["server"].pid)
    s["rounds"].append((hello, ballots))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revisions", nargs="+")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--duration", type=int, default=8)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="compare-trees-"))
    roots: list[Path] = []
    servers: list[dict] = []
    try:
        for revision in args.revisions:
            roots.append(checkout(revision, folder))
        for root in roots:
            servers.append(start(root, args.duration * 2500 * args.rounds + 500))
        for s in servers:
            bench.wrk(["-t2", "-c8", "-d2s", f"{s['base']}/ping"], s["server"].pid)  # warm-up
        for n in range(args.rounds):
            for s in servers if n % 2 == 0 else servers[::-1]:
                one_round(s, n, args.duration)
    finally:
        for s in servers:
            s["server"].terminate()
            s["server"].wait(timeout=30)
        for root in roots:
            if root != HERE:
                subprocess.run(["git", "-C", str(HERE), "worktree", "remove", "--force", str(root)], check=False)
    failed = False
    print(f"{'revision':<24}{'rate ratio':>11}{'p99/hello':>10}{'server CPU ÷ hello':>20}{'errors':>8}")
    for revision, s in zip(args.revisions, servers):
        rounds = s["rounds"]
        errors = sum(b["non2xx"] + b["socket_errors"] for _, b in rounds)
        failed |= errors > 0
        print(f"{revision:<24}{statistics.median(b['rate'] / h['rate'] for h, b in rounds):>11.3f}"
              f"{statistics.median(b['p99'] / h['p99'] for h, b in rounds):>10.2f}"
              f"{statistics.median(b['server_us'] / h['server_us'] for h, b in rounds):>20.3f}{errors:>8}")
        print(f"{'':<24}by round, p99/hello: " + ", ".join(f"{b['p99'] / h['p99']:.2f}" for h, b in rounds)
              + "; slowest ballot (ms): " + ", ".join(f"{b['max']:.0f}" for _, b in rounds))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
