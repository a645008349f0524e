"""The (rank, naive additions) Pareto front each searcher holds after a time budget.

Each searcher is stepped in this process (one core) from the naive scheme of the target with its
default options (``bench_searchers.start_searcher``) for ``--seconds``; every report and, every
``--every`` seconds, every scheme in its pools is scored by rank and naive additions (per term:
nonzeros - 1 in its A and B forms, plus per output of C the terms it sums - 1). The table shows
the non-dominated points of each run as ``rank:additions``; each point's scheme is proven exactly.

    python benchmarks/bench_pareto.py                               # 3x3x3 ZT, 600 s, the README table
    python benchmarks/bench_pareto.py --target 4x4x4:F2 --seconds 60 --searchers evolution flip-pool
"""

from __future__ import annotations

import argparse
import sys
import time

from bench_searchers import start_searcher


def front(points: dict[int, tuple[int, object]]) -> list[tuple[int, int, object]]:
    """The non-dominated (rank, additions, scheme) among the lowest additions per rank."""
    out, lowest = [], None
    for rank in sorted(points):
        adds, packed = points[rank]
        if lowest is None or adds < lowest:
            out.append((rank, adds, packed))
            lowest = adds
    return out


def one_run(name: str, label: str, domain: str, seed: int, seconds: float, every: float) -> list | None:
    from flipforge.search.packing import unpack
    from flipforge.search.run import load_target
    from flipforge.search.searchers.evolution import additions
    from flipforge.verify import verify

    searcher = start_searcher(name, label, domain, seed)
    if searcher is None:
        return None
    tensor = load_target(label)
    points: dict[int, tuple[int, object]] = {}

    def score(packed: object) -> None:
        adds = additions(packed, tensor.shape)
        if packed.rank not in points or adds < points[packed.rank][0]:
            points[packed.rank] = (adds, packed)

    t0 = last = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for report in searcher.step(searcher.budget()):
            if report.candidate.packed is not None:
                score(report.candidate.packed)
        if time.perf_counter() - last >= every or time.perf_counter() - t0 >= seconds:
            last = time.perf_counter()
            for members in searcher.snapshot()["pools"].values():
                for c in members:
                    if c.packed is not None:
                        score(c.packed)
    out = front(points)
    for rank, adds, packed in out:
        if not verify(unpack(packed, tensor), domain).valid:
            raise AssertionError(f"{name}: the rank-{rank} scheme with {adds} additions is not valid")
    return [(rank, adds) for rank, adds, _ in out]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", default="3x3x3:ZT", help="FORMAT:DOMAIN (default 3x3x3:ZT)")
    ap.add_argument("--searchers", nargs="+", default=["evolution", "flip-pool", "meta"], help="names")
    ap.add_argument("--seeds", type=int, default=1, help="runs per searcher, seeds 0.. (default 1)")
    ap.add_argument("--seconds", type=float, default=600.0, help="time budget of one run (default 600)")
    ap.add_argument("--every", type=float, default=2.0, help="seconds between looks at the pools (default 2)")
    args = ap.parse_args(argv)
    label, domain = args.target.split(":")
    print(f"{label} over {domain}, {args.seconds:g} s per run, one core; rank:naive additions on each front\n")
    print("| searcher | seed | Pareto front (rank:additions) |")
    print("|---|---:|---|")
    for name in args.searchers:
        for seed in range(args.seeds):
            got = one_run(name, label, domain, seed, args.seconds, args.every)
            shown = "-" if got is None else " ".join(f"{r}:{a}" for r, a in got)
            print(f"| {name} | {seed} | {shown} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
