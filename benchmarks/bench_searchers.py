"""Every registered searcher on the same targets, seeds and time budget: one table.

A run is one searcher stepped in this process (one core) from the naive scheme of the target
(the symmetric searcher builds its own cyclic start), with its default options, until it holds
a scheme of the target rank or the budget is spent; compile time is excluded (kernels are loaded
before the clock starts). Every scheme a run reports is proven exactly before it counts. For each
(searcher, target): runs that reached the target, the median seconds to the target over those
runs, and the best rank any run reached. A searcher that cannot search a target (its domain or
format) shows "-".

    python benchmarks/bench_searchers.py                                   # the README table (~25 min)
    python benchmarks/bench_searchers.py --targets 3x3x3:23:ZT --seeds 5 --seconds 30
    python benchmarks/bench_searchers.py --searchers flip-pool evolution --json out.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flipforge.search.searchers import Searcher

DEFAULT_TARGETS = ["2x2x2:7:ZT", "3x3x3:23:ZT", "3x3x4:29:ZT", "4x4x4:49:F2"]


def start_searcher(name: str, label: str, domain: str, seed: int) -> Searcher | None:
    """The named searcher with its default options, from the naive scheme of ``label``, kernels
    loaded; None when it cannot search this target (its domain or format)."""
    from flipforge.schemes import FlipforgeError, Scheme
    from flipforge.search.packing import pack, pool_domain
    from flipforge.search.run import load_target
    from flipforge.search.searchers import Candidate, get_searcher, make_params

    cls = get_searcher(name)
    tensor = load_target(label)
    params = make_params(name, {})
    if domain not in cls.domains:
        return None
    try:
        cls.check_target(tensor, domain, params)
    except FlipforgeError:
        return None
    naive = pack(Scheme.naive(tensor), pool_domain(domain))
    start = {naive.rank: [Candidate(tensor.label(with_shape=False), packed=naive)]}
    searcher = cls(tensor, domain, params, seed, start)
    searcher.warm_up()
    return searcher


def one_run(name: str, label: str, rank: int, domain: str, seed: int, seconds: float) -> dict | None:
    """One seeded run to ``rank``; None when the searcher cannot search this target."""
    from flipforge.search.run import load_target
    from flipforge.verify import verify

    searcher = start_searcher(name, label, domain, seed)
    if searcher is None:
        return None
    tensor = load_target(label)
    best, reached = searcher.best_rank(), None
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds and best > rank:
        for report in searcher.step(searcher.budget()):
            scheme = report.candidate.to_scheme(tensor, domain)
            if not verify(scheme, domain).valid:
                raise AssertionError(f"{name} reported an invalid rank-{scheme.rank} scheme")
            best = min(best, scheme.rank)
        if best <= rank and reached is None:
            reached = time.perf_counter() - t0
    return {"best": best, "seconds": reached}


def main(argv: list[str] | None = None) -> int:
    from flipforge.search.searchers import SEARCHERS

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--targets", nargs="+", default=DEFAULT_TARGETS, help="FORMAT:RANK:DOMAIN (default: four)")
    rank_searchers = sorted(n for n, cls in SEARCHERS.items() if cls.objective == "rank")  # not sparse (additions)
    ap.add_argument(
        "--searchers", nargs="+", default=rank_searchers, help="names (default: every one that lowers rank)"
    )
    ap.add_argument("--seeds", type=int, default=3, help="runs per searcher and target, seeds 0.. (default 3)")
    ap.add_argument("--seconds", type=float, default=30.0, help="time budget of one run (default 30)")
    ap.add_argument("--json", help="write every run's result to this file")
    args = ap.parse_args(argv)
    unknown = [s for s in args.searchers if s not in SEARCHERS]
    if unknown:
        ap.error(f"unknown searcher(s) {', '.join(unknown)} (known: {', '.join(sorted(SEARCHERS))})")
    rows, everything = [], {}
    for spec in args.targets:
        label, rank, domain = spec.split(":")
        for name in args.searchers:
            runs = [one_run(name, label, int(rank), domain, seed, args.seconds) for seed in range(args.seeds)]
            everything[f"{name} {spec}"] = runs
            if runs[0] is None:
                rows.append((f"{label}:{rank} {domain}", name, "-", "-", "-"))
                continue
            times = [r["seconds"] for r in runs if r["seconds"] is not None]
            median = f"{statistics.median(times):.2f}" if times else "-"
            best = str(min(r["best"] for r in runs))
            rows.append((f"{label}:{rank} {domain}", name, f"{len(times)}/{len(runs)}", median, best))
            print(f"  {spec} {name}: {len(times)}/{len(runs)}, best {best}", file=sys.stderr)
    head = ("target", "searcher", "reached", "median s", "best rank")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    print(f"{args.seeds} seeds per cell, {args.seconds:g} s per run, one core\n")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(everything, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
