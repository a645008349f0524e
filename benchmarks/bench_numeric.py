"""Numeric searcher: success rate and time per success of independent random starts.

One start is one attempt of ``search/numeric.py`` at the given rank: a Levenberg–Marquardt fit
from random real factors (seed = the start's number), sparsified, fixed to the ring's lattice
and rounded. A start succeeds when it returns a scheme that ``verify`` proves exactly in the
ring (ZT, Z, or Q with multiples of 1/denominator). Starts are independent; each runs to its end
or to ``--max-seconds``. Prints one row per target:

    python benchmarks/bench_numeric.py                          # the five targets of issue 14, 20 starts
    python benchmarks/bench_numeric.py --targets 2x2x2:7 2x2x3:11 --starts 40 --ring ZT
    python benchmarks/bench_numeric.py --targets 2x4x5:32 --ring Q --denominator 2 --starts 20
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from fractions import Fraction

DEFAULT_TARGETS = ["2x2x2:7:Z", "2x2x3:11:Z", "2x3x3:15:Z", "3x3x3:23:Z", "2x4x5:32:Q"]


def one_start(label: str, rank: int, ring: str, denominator: int, bound: int, seed: int, max_seconds: float) -> dict:
    """Run start ``seed``; its verdict (exactly checked), LM iterations and seconds."""
    import numpy as np
    from flipforge.schemes import Scheme, parse_target
    from flipforge.schemes.coeffs import exact_array
    from flipforge.search.numeric import Attempt, Lattice
    from flipforge.search.searchers import make_params
    from flipforge.verify import verify

    tensor = parse_target(label)
    p = make_params("numeric", {})
    lattice = Lattice(1, 1) if ring == "ZT" else Lattice(denominator if ring == "Q" else 1, bound)
    attempt = Attempt(
        np.asarray(tensor.array),
        rank,
        lattice,
        np.random.default_rng(seed),
        p.fit_iterations,
        p.refit_iterations,
        p.prune,
        p.retries,
    )
    t0 = time.perf_counter()
    found = None
    while not attempt.done and found is None and time.perf_counter() - t0 < max_seconds:
        found = attempt.advance(10)
    seconds = time.perf_counter() - t0
    ok = False
    if found is not None:
        d = lattice.denominator
        arrays = [exact_array(np.array([[Fraction(int(x), d) for x in row] for row in a], dtype=object)) for a in found]
        scheme = Scheme(tensor, *arrays, ring)
        ok = scheme.rank <= rank and verify(scheme, ring).valid
    return {"seed": seed, "ok": ok, "iterations": attempt.iterations, "seconds": seconds, "fitted": attempt.fitted}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--targets", nargs="+", default=DEFAULT_TARGETS, help="FORMAT:RANK[:RING] (default ring: --ring)")
    ap.add_argument("--ring", default="Z", choices=["ZT", "Z", "Q"], help="ring of the results (default Z)")
    ap.add_argument("--denominator", type=int, default=2, help="over Q: coefficients in (1/d)Z (default 2)")
    ap.add_argument("--coef-bound", type=int, default=1, help="largest |coefficient| over Z and Q (default 1)")
    ap.add_argument("--starts", type=int, default=20, help="independent starts per target (default 20)")
    ap.add_argument("--max-seconds", type=float, default=120.0, help="time limit of one start (default 120)")
    ap.add_argument("--workers", type=int, default=1, help="starts run at once (processes; default 1)")
    ap.add_argument("--json", help="write every start's result to this file")
    args = ap.parse_args(argv)
    import multiprocess as mp

    rows, everything = [], {}
    for spec in args.targets:
        parts = spec.split(":")
        label, rank = parts[0], int(parts[1])
        ring = parts[2] if len(parts) > 2 else args.ring
        jobs = [(label, rank, ring, args.denominator, args.coef_bound, s, args.max_seconds) for s in range(args.starts)]
        t0 = time.perf_counter()
        if args.workers > 1:
            with mp.Pool(args.workers) as pool:
                results = pool.starmap(one_start, jobs)
        else:
            results = [one_start(*job) for job in jobs]
        wall = time.perf_counter() - t0
        wins = [r for r in results if r["ok"]]
        cpu = sum(r["seconds"] for r in results)
        per = f"{cpu / len(wins):.1f}" if wins else "-"
        fitted = sum(r["fitted"] for r in results)
        rows.append((f"{label}:{rank}", ring, f"{len(wins)}/{len(results)}", f"{fitted}", per, f"{wall:.0f}"))
        everything[spec] = results
        print(f"  {spec}: {len(wins)}/{len(results)} in {wall:.0f} s", file=sys.stderr)
    head = ("target", "ring", "successes", "fitted", "s/success", "wall s")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
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
