"""Numeric searcher: success rate and time per success of independent random starts.

One start is one attempt of ``search/numeric.py`` at the given rank: a Levenberg–Marquardt fit
from random real factors (seed = the start's number), sparsified, fixed to the ring's lattice
and rounded. A start succeeds when it returns a scheme that ``verify`` proves exactly in the
ring (ZT, Z, or Q with multiples of 1/denominator). Starts are independent; each runs to its end
or to ``--max-seconds``. Prints one row per target:

    python benchmarks/bench_numeric.py                          # the five targets of issue 14, 20 starts
    python benchmarks/bench_numeric.py --targets 2x2x2:7 2x2x3:11 --starts 40 --ring ZT
    python benchmarks/bench_numeric.py --targets 2x4x5:32 --ring Q --denominator 2 --starts 20
    python benchmarks/bench_numeric.py --targets 2x3x3:15 --repair both   # same starts, repairs off and on
    python benchmarks/bench_numeric.py --targets 3x3x3:23 --starts 50 --first-fit-only --fit als  # fits per second
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from fractions import Fraction

DEFAULT_TARGETS = ["2x2x2:7:Z", "2x2x3:11:Z", "2x3x3:15:Z", "3x3x3:23:Z", "2x4x5:32:Q"]


def _proven(tensor, found, denominator: int, ring: str, rank: int) -> bool:  # noqa: ANN001
    """True when the numerators over ``denominator`` are a scheme of rank <= ``rank`` valid in ``ring``."""
    import numpy as np
    from flipforge.schemes import Scheme
    from flipforge.schemes.coeffs import exact_array
    from flipforge.verify import verify

    if found is None:
        return False
    rows = [[[Fraction(int(x), denominator) for x in row] for row in a] for a in found]
    arrays = [exact_array(np.array(r, dtype=object).reshape(a.shape)) for r, a in zip(rows, found, strict=True)]
    scheme = Scheme.from_arrays(tensor, *arrays, ring)
    return scheme.rank <= rank and verify(scheme, ring).valid


def one_start(
    label: str,
    rank: int,
    ring: str,
    denominator: int,
    bound: int,
    seed: int,
    max_seconds: float,
    repair: str = "on",
    options: dict | None = None,
    first_fit_only: bool = False,
) -> dict:
    """Run start ``seed``; its verdict (exactly checked), LM iterations and seconds.

    ``repair`` "on" / "off": the local and modular (mod 2 / mod 3 lifting) repairs on or off.
    "both": the trajectory without them, with the repairs tried on the side at every rounding
    (they do not change the attempt or its random numbers), so one run tells both outcomes of
    the same start: ``ok`` / ``seconds`` without (the repairs' time taken out), ``ok_repair`` /
    ``seconds_repair`` with them (up to the first success of either path). ``first_fit_only``:
    the start ends with its first real fit (exact or given up), nothing is rounded."""
    import numpy as np
    from flipforge.schemes import parse_target
    from flipforge.search.numeric import Attempt, Lattice
    from flipforge.search.searchers import make_params

    tensor = parse_target(label)
    p = make_params("numeric", dict(options or {}))
    lattice = Lattice(1, 1) if ring == "ZT" else Lattice(denominator if ring == "Q" else 1, bound)
    t0 = time.perf_counter()

    class Shadow(Attempt):
        """Without repairs, but tries them on the side and records the first that succeeds."""

        hit: tuple | None = None
        aside = 0.0  # seconds spent in the side repairs

        def _rounded(self):  # noqa: ANN202
            found = super()._rounded()
            if found is None and self.hit is None:
                t1 = time.perf_counter()
                fixed = self.repair(ring)
                self.aside += time.perf_counter() - t1
                if fixed is not None:
                    self.hit = (time.perf_counter() - t0, fixed, self.denominator)
                    self.denominator = lattice.denominator
            return found

    kind = Shadow if repair == "both" else Attempt
    attempt = kind(
        np.asarray(tensor.array),
        rank,
        lattice,
        np.random.default_rng(seed),
        p.fit_iterations,
        p.refit_iterations,
        p.prune,
        p.retries,
        lift_to=ring if repair == "on" else None,
        stall=p.stall_iterations,
        fit=p.fit,
    )
    found = None
    while not attempt.done and found is None and not (first_fit_only and attempt.phase != 0):
        if time.perf_counter() - t0 - getattr(attempt, "aside", 0.0) >= max_seconds:
            break
        found = attempt.advance(10)
    wall = time.perf_counter() - t0
    ok = _proven(tensor, found, attempt.denominator, ring, rank)
    out = {"seed": seed, "iterations": attempt.iterations, "fitted": attempt.fitted, "residual": attempt.residual}
    if repair != "both":
        return {**out, "ok": ok, "seconds": wall, "repaired": getattr(attempt, "repairs", 0) > 0 and ok}
    aside = attempt.aside
    out.update(ok=ok, seconds=wall - aside)
    if attempt.hit is not None and _proven(tensor, attempt.hit[1], attempt.hit[2], ring, rank):
        out.update(ok_repair=True, seconds_repair=attempt.hit[0], repaired=True)
    else:
        out.update(ok_repair=ok, seconds_repair=wall, repaired=False)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--targets", nargs="+", default=DEFAULT_TARGETS, help="FORMAT:RANK[:RING] (default ring: --ring)")
    ap.add_argument("--ring", default="Z", choices=["ZT", "Z", "Q"], help="ring of the results (default Z)")
    ap.add_argument("--denominator", type=int, default=2, help="over Q: coefficients in (1/d)Z (default 2)")
    ap.add_argument("--coef-bound", type=int, default=1, help="largest |coefficient| over Z and Q (default 1)")
    ap.add_argument("--starts", type=int, default=20, help="independent starts per target (default 20)")
    ap.add_argument("--max-seconds", type=float, default=120.0, help="time limit of one start (default 120)")
    ap.add_argument("--workers", type=int, default=1, help="starts run at once (processes; default 1)")
    ap.add_argument(
        "--repair",
        default="on",
        choices=["on", "off", "both"],
        help="local + mod 2/mod 3 lifting repairs; both: the same starts with and without (default on)",
    )
    ap.add_argument("--fit-iterations", type=int, help="LM iterations of the first fit (default: the searcher's)")
    ap.add_argument("--refit-iterations", type=int, help="LM iterations of a refit (default: the searcher's)")
    ap.add_argument("--stall-iterations", type=int, help="stall window of the first fit (default: the searcher's)")
    ap.add_argument("--fit", choices=["lm", "als"], help="how the first fit runs (default: the searcher's)")
    ap.add_argument(
        "--first-fit-only", action="store_true", help="end each start after its first real fit: exact fits per second"
    )
    ap.add_argument("--json", help="write every start's result to this file")
    args = ap.parse_args(argv)
    import multiprocess as mp

    rows, everything = [], {}
    options = {
        k: getattr(args, k)
        for k in ("fit_iterations", "refit_iterations", "stall_iterations", "fit")
        if getattr(args, k) is not None
    }
    for spec in args.targets:
        parts = spec.split(":")
        label, rank = parts[0], int(parts[1])
        ring = parts[2] if len(parts) > 2 else args.ring
        jobs = [
            (label, rank, ring, args.denominator, args.coef_bound, s, args.max_seconds, args.repair, options)
            + (args.first_fit_only,)
            for s in range(args.starts)
        ]
        t0 = time.perf_counter()
        if args.workers > 1:
            with mp.Pool(args.workers) as pool:
                results = pool.starmap(one_start, jobs)
        else:
            results = [one_start(*job) for job in jobs]
        wall = time.perf_counter() - t0
        fitted = sum(r["fitted"] for r in results)
        if args.first_fit_only:
            cpu = sum(r["seconds"] for r in results)
            per = f"{cpu / fitted:.2f}" if fitted else "-"
            rows.append((f"{label}:{rank}", options.get("fit", "lm"), f"{fitted}/{len(results)}", per, f"{wall:.0f}"))
            everything[spec] = results
            print(f"  {spec}: {fitted} fitted in {wall:.0f} s", file=sys.stderr)
            continue
        row = [f"{label}:{rank}", ring if ring != "Q" else f"Q (d={args.denominator}, |c|<={args.coef_bound})"]
        for key, secs in [("ok", "seconds")] + ([("ok_repair", "seconds_repair")] if args.repair == "both" else []):
            wins = sum(r[key] for r in results)
            cpu = sum(r[secs] for r in results)
            row += [f"{wins}/{len(results)}", f"{cpu / wins:.1f}" if wins else "-"]
        repaired = sum(r["repaired"] for r in results)
        rows.append((*row, str(fitted), str(repaired), f"{wall:.0f}"))
        everything[spec] = results
        print(f"  {spec}: {row[2]} in {wall:.0f} s", file=sys.stderr)
    head = ["target", "ring", "successes", "s/success"]
    if args.repair == "both":
        head = ["target", "ring", "no repair", "s/success", "with repair", "s/success"]
    head += ["fitted", "by repair", "wall s"]
    if args.first_fit_only:  # no rounding, so no repairs either
        head = ["target", "first fit", "exact real fits", "s/fit", "wall s"]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    if not args.first_fit_only:
        print(f"repair: {args.repair}")
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
