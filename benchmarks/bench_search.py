"""Search benchmarks: single-core flips per second, and time to target over 10 seeds.

Run from the repository root (about 3 minutes on 2 cores):

    python benchmarks/bench_search.py            # both tables, Markdown
    python benchmarks/bench_search.py --quick    # 3 seeds, shorter throughput runs
    python benchmarks/bench_search.py --only target --set copy_best=1   # a searcher option

Throughput walks from the naive scheme on one core (``flipforge bench flips``). Time to target
runs the real search (worker processes, run directory, exact verification) with seeds 0..9 and
reports the search time (from the moment the worker's kernels are loaded to the verified
target scheme) and, separately, the wall time of the whole command path including process
start-up. Anchors are the native C++ tools on this machine kind (DESIGN.md §5).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from flipforge.search.bench import flips_per_second
from flipforge.search.orchestrator import run_session
from flipforge.search.run import create_run

THROUGHPUT = [  # (format, domain, anchor flips/s)
    ("3x3x3", "F2", 10.0e6),
    ("4x4x4", "F2", 7.0e6),
    ("3x3x3", "ZT", 8.5e6),
    ("4x4x4", "ZT", 4.5e6),
    ("3x3x3", "F3", 8.2e6),
]

TO_TARGET = [  # (format, domain, target rank, workers, anchor median seconds or None, anchor text)
    ("3x3x3", "F2", 23, 1, 0.08, "< 0.1 s"),
    ("3x3x3", "ZT", 23, 1, 0.3, "median 0.3 s"),
    ("4x4x4", "F2", 49, 2, 3.0, "~3 s (8 runners)"),
    ("2x2x2", "F2", 7, 1, None, "-"),
    ("2x2x2", "F3", 7, 1, None, "-"),
    ("2x2x2", "ZT", 7, 1, None, "-"),
]


def throughput_table(seconds: float) -> list[str]:
    rows = [
        "| format | domain | flips/s (1 core) | anchor | ratio | kernel load |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for fmt, dom, anchor in THROUGHPUT:
        r = flips_per_second(fmt, dom, seconds)
        rate = r["flips_per_second"]
        rows.append(
            f"| {fmt} | {dom} | {rate / 1e6:.2f} M | {anchor / 1e6:.1f} M | {rate / anchor:.2f} | "
            f"{r['warmup_seconds']:.2f} s |"
        )
        print(rows[-1], file=sys.stderr)
    return rows


def time_to_target(
    fmt: str, dom: str, target: int, workers: int, seed: int, root: Path, params: dict | None = None
) -> tuple[float, float]:
    run = create_run(fmt, dom, seed=seed, target_rank=target, runs_root=root, params=params)
    t0 = time.perf_counter()
    summary = run_session(run, workers, 300.0)
    wall = time.perf_counter() - t0
    if not summary.reached_target:
        return float("inf"), wall
    events = [json.loads(line) for line in run.events_file.read_text().splitlines()]
    (hit,) = [e for e in events if e["event"] == "best" and e["rank"] == summary.best_rank]
    return hit["search_seconds"], wall


def target_table(seeds: int, params: dict | None = None) -> list[str]:
    rows = [
        f"| search | workers | search time median / max ({seeds} seeds) | wall median (incl. start-up) | anchor |",
        "|---|---:|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for fmt, dom, target, workers, _, anchor_text in TO_TARGET:
            times, walls = [], []
            for seed in range(seeds):
                t, w = time_to_target(fmt, dom, target, workers, seed, Path(tmp), params)
                times.append(t)
                walls.append(w)
            start = int(np.prod([int(x) for x in fmt.split("x")]))
            rows.append(
                f"| {fmt} {dom} {start}→{target} | {workers} | {statistics.median(times):.3f} s / {max(times):.3f} s | "
                f"{statistics.median(walls):.2f} s | {anchor_text} |"
            )
            print(rows[-1], file=sys.stderr)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 seeds and 2-second throughput runs")
    ap.add_argument("--only", choices=["throughput", "target"], help="one of the two tables")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a flip-pool option (numbers)")
    args = ap.parse_args()
    params = {k: float(v) if "." in v else int(v) for k, v in (item.split("=", 1) for item in args.set)}
    seconds, seeds = (2.0, 3) if args.quick else (5.0, 10)
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}")
    print(f"options: {params or 'defaults'}\n")
    if args.only != "target":
        print("\n".join(throughput_table(seconds)) + "\n")
    if args.only != "throughput":
        print("\n".join(target_table(seeds, params)))


if __name__ == "__main__":
    main()
