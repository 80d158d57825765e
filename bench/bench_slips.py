"""Benchmark: printing N voting-code slips against plain ``qrcode`` PNG encoding of N URLs.

Both are timed in the same run so the ratio holds on any machine; the goal is a ratio of at
most 0.4. Wall-clock and CPU time (this process plus its worker processes) are both reported:
on a shared machine the CPU ratio is the steadier one, the wall ratio is what a user waits. A random sample of slips is then cut out of a 150-dpi render of their pages and
decoded one by one with ``zbarimg``, because a fast PDF of unreadable codes is worthless.

    python bench/bench_slips.py [--count 10000] [--workers 1] [--sample 20] [--no-compress]
"""
from __future__ import annotations

import argparse
import io
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import qrcode  # noqa: E402
from PIL import Image  # noqa: E402

from reports.slips import CODE_ALPHABET, GRID, Slip, order_slips, write_slips  # noqa: E402

GOAL = 0.4
DPI = 150


def make_slips(count: int, rng: random.Random) -> list[Slip]:
    slips = []
    for _ in range(count):
        code = "".join(rng.choice(CODE_ALPHABET) for _ in range(10))
        code = f"{code[:5]}-{code[5:]}"
        slips.append(Slip(
            url=f"https://pingyi.example.gov.cn/t/{code}", code=code,
            campaign="示范区2026年度村级党组织量化考核", organisation="红旗镇东风村",
            rater_group="群众", sheet="东风村满意度测评（群众）",
            entry_url="https://pingyi.example.gov.cn/t",
        ))
    return slips


def cpu_seconds() -> float:
    """User and system time of this process and of its finished children (pool workers)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def time_baseline(urls: list[str]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), cpu_seconds()
    for url in urls:
        buffer = io.BytesIO()
        qrcode.make(url).save(buffer)
    return time.perf_counter() - wall, cpu_seconds() - cpu


def decode_sample(pdf: Path, expected: list[Slip], sample: int, rng: random.Random,
                  workdir: Path) -> tuple[int, int]:
    """Decode ``sample`` random slips, each from its own crop, against the slip printed there."""
    picks = sorted(rng.sample(range(len(expected)), min(sample, len(expected))))
    rendered: dict[int, Image.Image] = {}
    decoded = 0
    for index in picks:
        page, position = GRID.locate(index)
        if page not in rendered:
            stem = workdir / f"page-{page + 1}"
            subprocess.run(["pdftoppm", "-r", str(DPI), "-png", "-singlefile",
                            "-f", str(page + 1), "-l", str(page + 1), str(pdf), str(stem)],
                           check=True, capture_output=True)
            rendered[page] = Image.open(f"{stem}.png").convert("L")
        box = tuple(round(v / 25.4 * DPI) for v in GRID.cell_box_mm(position))
        crop = workdir / f"slip-{index}.png"
        rendered[page].crop(box).save(crop)
        result = subprocess.run(["zbarimg", "--raw", "-q", str(crop)],
                                capture_output=True, text=True)
        got = result.stdout.strip()
        if got == expected[index].url:
            decoded += 1
        else:
            print(f"  slip {index} (page {page + 1}, cell {position}): "
                  f"expected {expected[index].url}, got {got or 'nothing'}")
    return decoded, len(picks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--sample", type=int, default=20)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--no-compress", action="store_true")
    parser.add_argument("--keep", type=Path, help="also copy the PDF here")
    args = parser.parse_args(argv)

    slips = make_slips(args.count, random.Random(args.seed))
    urls = [slip.url for slip in slips]
    with tempfile.TemporaryDirectory(prefix="bench-slips-") as tmp:
        workdir = Path(tmp)
        pdf = args.keep or workdir / "slips.pdf"
        print(f"baseline: qrcode.make(url).save(png) for {args.count} URLs …", flush=True)
        baseline, baseline_cpu = time_baseline(urls)
        print(f"  {baseline:.2f} s ({baseline / args.count * 1000:.2f} ms per code), "
              f"CPU {baseline_cpu:.2f} s")
        print(f"write_slips for {args.count} slips (workers={args.workers}, "
              f"compress={not args.no_compress}) …", flush=True)
        start, start_cpu = time.perf_counter(), cpu_seconds()
        pages = write_slips(slips, pdf, rng=random.Random(args.seed + 1),
                            workers=args.workers, compress=not args.no_compress)
        elapsed, elapsed_cpu = time.perf_counter() - start, cpu_seconds() - start_cpu
        size_mb = Path(pdf).stat().st_size / 1e6
        print(f"  {elapsed:.2f} s ({elapsed / args.count * 1000:.2f} ms per slip), "
              f"{pages} pages, {size_mb:.1f} MB, CPU {elapsed_cpu:.2f} s")
        ratio = elapsed / baseline
        cpu_ratio = elapsed_cpu / baseline_cpu
        expected = order_slips(slips, rng=random.Random(args.seed + 1))
        print(f"decoding {args.sample} random slips with zbarimg at {DPI} dpi …", flush=True)
        decoded, tried = decode_sample(Path(pdf), expected, args.sample,
                                       random.Random(args.seed + 2), workdir)

    rows = [
        ("slips", f"{args.count}"),
        ("pages", f"{pages}"),
        ("workers", f"{args.workers}"),
        ("qrcode PNG baseline", f"{baseline:.2f} s wall, {baseline_cpu:.2f} s CPU"),
        ("write_slips PDF", f"{elapsed:.2f} s wall, {elapsed_cpu:.2f} s CPU"),
        ("ratio (goal <= 0.4)", f"{ratio:.3f} wall {'ok' if ratio <= GOAL else 'TOO SLOW'}, "
                                f"{cpu_ratio:.3f} CPU"),
        ("PDF size", f"{size_mb:.1f} MB"),
        ("sample decoded", f"{decoded}/{tried}"),
    ]
    width = max(len(name) for name, _ in rows)
    print()
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0 if ratio <= GOAL and decoded == tried else 1


if __name__ == "__main__":
    sys.exit(main())
