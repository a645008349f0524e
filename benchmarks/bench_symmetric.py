"""Symmetric (orbit) flips: success rate and time per success of independent runs.

One run is what Moosbauer and Poole count as one: a walk of the ``symmetric`` searcher from the
naive scheme written as orbits, until it reaches the target rank or has gone ``--orbit-restart``
flips without a lower rank. Runs use seeds 0, 1, ... and go ``--workers`` at a time (one
process each, multiprocess). Every run that reaches the target is verified exactly and, with
``--out``, saved as a scheme file. Prints one table row per run and a summary:

    python benchmarks/bench_symmetric.py                                  # 5x5x5 F2 -> 93, 20 runs
    python benchmarks/bench_symmetric.py --format 4x4x4 --target 49 --cubes 1111 --runs 20
    python benchmarks/bench_symmetric.py --format 6x6x6 --target 153 --cubes 110000,001100,000011 \\
        --symmetry z3xz2 --orbit-plus-after 83000 --orbit-restart 160000000 --runs 4   # 6x6x6: progress
    python benchmarks/bench_symmetric.py --out found/ --json runs.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import multiprocess as mp


def one_run(job: dict) -> dict:
    """Run seed ``job['seed']`` to the target or to its restart; the best rank, flips and seconds."""
    from flipforge.schemes import parse_target
    from flipforge.schemes.formats import write_schemes
    from flipforge.schemes.orbits import is_cyclic
    from flipforge.search.searchers import make_params
    from flipforge.search.searchers.symmetric import SymmetricSearcher
    from flipforge.verify import verify

    tensor = parse_target(job["format"])
    params = make_params("symmetric", job["params"])
    s = SymmetricSearcher(tensor, job["domain"], params, job["seed"], {})
    s.prepare()
    t0 = time.perf_counter()
    found = None
    while not s.finished:
        for r in s.step(s.budget()):
            if r.candidate.rank <= job["target"]:
                found = r
        if found is not None:
            break
    seconds = time.perf_counter() - t0
    out = {"seed": job["seed"], "best": s.best_rank(), "flips": s.progress().work, "seconds": round(seconds, 2)}
    if found is not None:
        scheme = found.candidate.to_scheme(tensor, job["domain"], {"source": "flipforge bench_symmetric"})
        out["valid"] = bool(verify(scheme, job["domain"]).valid and is_cyclic(scheme))
        if job.get("out"):
            path = Path(job["out"]) / f"{job['format']}-r{scheme.rank}-{job['domain']}-seed{job['seed']}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            write_schemes([scheme], path)
            out["file"] = str(path)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--format", default="5x5x5")
    ap.add_argument("--domain", default="F2", choices=["F2", "F3", "ZT"])
    ap.add_argument("--target", type=int, default=93)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cubes", default="auto")
    ap.add_argument("--symmetry", default="z3", choices=["z3", "z3xz2"])
    ap.add_argument("--orbit-plus-after", type=int, default=16_000)
    ap.add_argument("--orbit-restart", type=int, default=30_000_000)
    ap.add_argument("--out", type=Path, help="save every scheme that reaches the target here")
    ap.add_argument("--json", type=Path, help="also write the raw results here")
    args = ap.parse_args()
    params = {
        "cubes": args.cubes,
        "symmetry": args.symmetry,
        "orbit_plus_after": args.orbit_plus_after,
        "orbit_restart": args.orbit_restart,
    }
    jobs = [
        {"format": args.format, "domain": args.domain, "target": args.target, "seed": seed, "params": params}
        | ({"out": str(args.out)} if args.out else {})
        for seed in range(args.first_seed, args.first_seed + args.runs)
    ]
    print(
        f"{args.format} over {args.domain}, target {args.target}, {args.symmetry}, cubes {args.cubes}, "
        f"{args.runs} runs, {args.workers} at a time, restart after {args.orbit_restart:,} orbit flips without progress"
    )
    print("| seed | best rank | orbit flips | seconds |")
    print("|---:|---:|---:|---:|")
    results = []
    t0 = time.perf_counter()
    with mp.Pool(args.workers) as pool:
        for r in pool.imap_unordered(one_run, jobs):
            results.append(r)
            mark = " (target)" if r["best"] <= args.target else ""
            print(f"| {r['seed']} | {r['best']}{mark} | {r['flips']:,} | {r['seconds']:.1f} |", flush=True)
    wall = time.perf_counter() - t0
    hits = [r for r in results if r["best"] <= args.target]
    total = sum(r["seconds"] for r in results)
    ranks: dict[int, int] = {}
    for r in results:
        ranks[r["best"]] = ranks.get(r["best"], 0) + 1
    print()
    print(
        f"successes: {len(hits)}/{len(results)}; run seconds in all {total:.0f} (wall {wall:.0f} s, "
        f"{args.workers} workers); seconds per success: {total / len(hits):.0f}"
        if hits
        else f"successes: 0/{len(results)}; run seconds in all {total:.0f} (wall {wall:.0f} s)"
    )
    print("best rank of each run: " + ", ".join(f"{k}: {v}" for k, v in sorted(ranks.items())))
    if any(not r.get("valid", True) for r in hits):
        print("ERROR: a run reported an invalid scheme", file=sys.stderr)
        return 1
    if args.json:
        args.json.write_text(
            json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "runs": results}, indent=1)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
