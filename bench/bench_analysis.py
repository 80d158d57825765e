"""Benchmark: the full default analysis against one plain pandas groupby-mean pass.

Each measurement runs in its own subprocess (fresh interpreter, same generated frame), after a
warm-up call on a tiny frame: time is the best of three runs without tracing; peak memory is
measured with tracemalloc, started after the frame is built, so both numbers cover only the
operation itself. Ratios are printed against the baseline
``frame.groupby(["subject", "rater_group"]).value.mean()`` measured in the same run.

    .venv/bin/python bench/bench_analysis.py              # 10 million answers (scale 1)
    .venv/bin/python bench/bench_analysis.py --scale 0.01 # 100,000 answers

Goals: default analysis <= 5x the pass's time, peak memory <= 1.5x the pass's peak.
The bootstrap is timed separately on a smaller campaign (--boot-scale, --replicates).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.pipeline import analyze  # noqa: E402
from analysis.settings import AnalysisSpec, ItemSpec, SheetSpec  # noqa: E402

GROUPS = ("superior", "peer", "subordinate", "member", "masses")
WEIGHTS = dict(zip(GROUPS, (0.3, 0.2, 0.1, 0.15, 0.25)))
N_ITEMS = 20
VALUES = np.array([0.0, 60.0, 100.0])
CHOICES = ["dissatisfied", "basically", "satisfied"]
DURATIONS = ["<30s", "30-60s", "1-2m", "2-5m", "5-15m", ">15m"]


def make_spec(**overrides) -> AnalysisSpec:
    items = tuple(ItemSpec(f"q{i:02d}", f"dim{i % 4}", scale_min=0, scale_max=100,
                           allowed=tuple(VALUES)) for i in range(N_ITEMS))
    sheet = SheetSpec("villager", items, dimension_weights={"dim0": 2.0},
                      satisfaction_item="q00")
    return AnalysisSpec(sheets=(sheet,), group_weights=WEIGHTS, **overrides)


def make_frame(scale: float, seed: int = 0) -> pd.DataFrame:
    """20,000 x scale subjects, 5 groups x 5 ballots each, 20 items: 10M x scale answers.

    Each ballot rates one subject (the villager design); 10% of ballots are open mode.
    """
    rng = np.random.default_rng(seed)
    n_subjects = max(int(20_000 * scale), 2)
    per_group = 5
    n_ballots = n_subjects * len(GROUPS) * per_group
    ballot = np.repeat(np.arange(n_ballots, dtype=np.int32), N_ITEMS)
    b_subject = np.repeat(np.arange(n_subjects, dtype=np.int32), len(GROUPS) * per_group)
    b_group = np.tile(np.repeat(np.arange(len(GROUPS), dtype=np.int8), per_group), n_subjects)
    quality = rng.uniform(0.4, 0.95, n_subjects)
    q = quality[b_subject][ballot]
    u = rng.random(len(ballot))
    vcode = np.where(u < q, 2, np.where(u < q + (1 - q) * 0.7, 1, 0)).astype(np.int8)
    vcode[rng.random(len(ballot)) < 0.002] = -1  # a few unanswered
    value = np.where(vcode >= 0, VALUES[np.maximum(vcode, 0)], np.nan)
    open_mode = rng.random(n_ballots) < 0.1
    fingerprint = np.where(open_mode, rng.integers(0, n_ballots // 3 + 1, n_ballots), -1)
    fp_cats = [""] + [f"fp{i}" for i in range(n_ballots // 3 + 1)]

    def cat(codes, categories):
        return pd.Categorical.from_codes(codes, categories=categories)

    frame = pd.DataFrame({
        "ballot_id": cat(ballot, [f"b{i:07d}" for i in range(n_ballots)]),
        "sheet": cat(np.zeros(len(ballot), np.int8), ["villager"]),
        "rater_group": cat(b_group[ballot], list(GROUPS)),
        "subject": cat(b_subject[ballot], [f"village_{i:05d}" for i in range(n_subjects)]),
        "item": cat(np.tile(np.arange(N_ITEMS, dtype=np.int8), n_ballots), [f"q{i:02d}" for i in range(N_ITEMS)]),
        "dimension": cat(np.tile(np.arange(N_ITEMS, dtype=np.int8) % 4, n_ballots), [f"dim{i}" for i in range(4)]),
        "value": value,
        "choice": cat(vcode, CHOICES),
        "mode": cat(open_mode[ballot].astype(np.int8), ["token", "open"]),
        "day": cat(np.zeros(len(ballot), np.int8), ["2026-05-01"]),
        "duration_bucket": cat(rng.integers(0, 6, n_ballots).astype(np.int8)[ballot], DURATIONS),
        "fingerprint": cat((fingerprint + 1)[ballot].astype(np.int32), fp_cats),
    })
    return frame


def baseline(frame: pd.DataFrame):
    return frame.groupby(["subject", "rater_group"], observed=True).value.mean()


def default_analysis(frame: pd.DataFrame):
    return analyze(frame, make_spec())


def bootstrap_analysis(frame: pd.DataFrame, replicates: int):
    return analyze(frame, make_spec(bootstrap_replicates=replicates, seed=1))


def measure(task: str, scale: float, memory: bool, replicates: int, repeat: int = 3) -> dict:
    fn = {"baseline": baseline, "analysis": default_analysis,
          "bootstrap": lambda f: bootstrap_analysis(f, replicates)}[task]
    fn(make_frame(0.001))  # warm up: first-call costs (imports, caches) are not the operation's
    frame = make_frame(scale)
    if memory:
        tracemalloc.start()
        fn(frame)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return {"peak_bytes": peak, "answers": len(frame)}
    times = []
    for _ in range(repeat):  # best of ``repeat``: the least disturbed run
        t0 = time.perf_counter()
        fn(frame)
        times.append(time.perf_counter() - t0)
    return {"seconds": min(times), "all_seconds": times, "answers": len(frame)}


def run_child(task: str, scale: float, memory: bool, replicates: int) -> dict:
    cmd = [sys.executable, __file__, "--child", task, "--scale", str(scale),
           "--replicates", str(replicates)] + (["--memory"] if memory else [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 10 million answers")
    parser.add_argument("--boot-scale", type=float, default=0.01,
                        help="campaign size for the bootstrap timing (0.01 = 100,000 answers)")
    parser.add_argument("--replicates", type=int, default=500)
    parser.add_argument("--child", choices=["baseline", "analysis", "bootstrap"])
    parser.add_argument("--memory", action="store_true")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.scale, args.memory, args.replicates)))
        return
    base_t = run_child("baseline", args.scale, False, 0)
    full_t = run_child("analysis", args.scale, False, 0)
    base_m = run_child("baseline", args.scale, True, 0)
    full_m = run_child("analysis", args.scale, True, 0)
    answers = base_t["answers"]
    print(f"answers: {answers:,}  (scale {args.scale})")
    print("runs (s): baseline", [round(t, 3) for t in base_t["all_seconds"]],
          "analysis", [round(t, 3) for t in full_t["all_seconds"]])
    print(f"baseline groupby mean : {base_t['seconds']:8.3f} s   peak {base_m['peak_bytes'] / 2**20:9.1f} MiB")
    print(f"default analysis      : {full_t['seconds']:8.3f} s   peak {full_m['peak_bytes'] / 2**20:9.1f} MiB")
    t_ratio = full_t["seconds"] / base_t["seconds"]
    m_ratio = full_m["peak_bytes"] / base_m["peak_bytes"]
    print(f"time ratio   {t_ratio:6.2f}x  (goal <= 5x)   {'met' if t_ratio <= 5 else 'MISSED'}")
    print(f"memory ratio {m_ratio:6.2f}x  (goal <= 1.5x) {'met' if m_ratio <= 1.5 else 'MISSED'}")
    boot = run_child("bootstrap", args.boot_scale, False, args.replicates)
    plain = run_child("analysis", args.boot_scale, False, 0)
    print(f"bootstrap ({args.replicates} replicates, {boot['answers']:,} answers): "
          f"{boot['seconds']:.3f} s vs {plain['seconds']:.3f} s without "
          f"({boot['seconds'] / plain['seconds']:.1f}x)")


if __name__ == "__main__":
    main()
