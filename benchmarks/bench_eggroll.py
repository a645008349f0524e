"""Low-rank evolution strategies (EGGROLL-style) after a failed numeric attempt: does it pay?

The numeric searcher's gradient method (``search/numeric.py``) fits in the reals; what it cannot
see is the residual *after rounding* to the ring's lattice, which is piecewise constant. This
experiment takes every start whose LM fit was exact but whose rounding failed, and runs an
evolution strategy on that fitness: antithetic perturbations σ·a·bᵀ of rank one per factor
matrix, fitness = squared residual of the rounded factors (plus a small share of the real
residual to break ties), centred-rank weights, steps along the weighted perturbations. A rounded
point with zero residual is checked exactly. Compared by seconds per success, on the same seeds:
the gradient method alone (``lm``) against the gradient method plus ES polishing (``lm+es``).

    python benchmarks/bench_eggroll.py                                     # 2x2x3:11, 2x3x3:15 over Z
    python benchmarks/bench_eggroll.py --targets 2x3x3:15 --starts 20 --es-seconds 10
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def es_polish(attempt, seconds: float, rng: np.random.Generator, pairs: int, sigma: float, lr: float):  # noqa: ANN001, ANN201
    """ES on the rounded residual from the attempt's last point; exact numerators or None."""
    from flipforge.search.numeric import exact_factors, reconstruct

    lat, tensor = attempt.lattice, attempt.tensor
    x = attempt.x.copy()
    shapes = attempt.shapes

    def split(vec: np.ndarray) -> list[np.ndarray]:
        out, at = [], 0
        for r, n in shapes:
            out.append(vec[at : at + r * n].reshape(r, n))
            at += r * n
        return out

    def fitness(vec: np.ndarray) -> tuple[float, list[np.ndarray]]:
        real = split(vec)
        rounded = [lat.round(f) for f in real]
        d = reconstruct(*rounded) - tensor
        e = reconstruct(*real) - tensor
        return float(np.sum(d * d)) + 1e-3 * float(np.sum(e * e)), rounded

    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        noise = []
        for r, n in shapes:
            a, b = rng.normal(size=(pairs, r, 1)), rng.normal(size=(pairs, 1, n))
            noise.append((a * b).reshape(pairs, r * n))
        eps = np.concatenate(noise, axis=1)
        scores = np.empty(2 * pairs)
        for i in range(pairs):
            for s, sign in enumerate((1.0, -1.0)):
                f, rounded = fitness(x + sign * sigma * eps[i])
                scores[2 * i + s] = f
                if f < 1e-2:  # the rounded point may be exact
                    found = exact_factors(attempt.exact_tensor, *(lat.numerators(q) for q in rounded), lat.denominator)
                    if found is not None:
                        return found
        ranks = np.argsort(np.argsort(scores)) / (2 * pairs - 1) - 0.5  # low residual -> negative
        weights = ranks[1::2] - ranks[0::2]  # antithetic: (minus) - (plus)
        x = x + lr * sigma * (weights @ eps) / pairs
    return None


def one_start(label: str, rank: int, ring: str, seed: int, es_seconds: float, max_seconds: float) -> dict:
    from flipforge.search.numeric import Attempt, Lattice
    from flipforge.search.run import load_target
    from flipforge.search.searchers import make_params

    tensor = np.asarray(load_target(label).array)
    p = make_params("numeric", {})
    lattice = Lattice(1, 1)
    attempt = Attempt(
        tensor, rank, lattice, np.random.default_rng(seed), p.fit_iterations, p.refit_iterations, p.prune, p.retries
    )
    t0 = time.perf_counter()
    found = None
    while not attempt.done and found is None and time.perf_counter() - t0 < max_seconds:
        found = attempt.advance(10)
    lm_seconds = time.perf_counter() - t0
    es_found, es_seconds_used = None, 0.0
    if found is None and attempt.fitted:
        t1 = time.perf_counter()
        es_found = es_polish(attempt, es_seconds, np.random.default_rng([seed, 1]), 16, 0.15, 1.0)
        es_seconds_used = time.perf_counter() - t1
    return {"lm": found is not None, "es": es_found is not None, "lm_s": lm_seconds, "es_s": es_seconds_used}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--targets", nargs="+", default=["2x2x3:11", "2x3x3:15"], help="FORMAT:RANK")
    ap.add_argument("--ring", default="Z", choices=["ZT", "Z"], help="ring (coefficients -1, 0, 1)")
    ap.add_argument("--starts", type=int, default=20, help="seeds 0.. (default 20)")
    ap.add_argument("--es-seconds", type=float, default=5.0, help="ES time after a failed fitted start (default 5)")
    ap.add_argument("--max-seconds", type=float, default=60.0, help="time limit of one LM start (default 60)")
    args = ap.parse_args(argv)
    print("| target | method | successes | seconds in all | seconds per success |")
    print("|---|---|---:|---:|---:|")
    for spec in args.targets:
        label, rank = spec.split(":")
        limits = (args.es_seconds, args.max_seconds)
        runs = [one_start(label, int(rank), args.ring, s, *limits) for s in range(args.starts)]
        lm_wins = sum(r["lm"] for r in runs)
        lm_time = sum(r["lm_s"] for r in runs)
        es_wins = lm_wins + sum(r["es"] for r in runs)
        es_time = lm_time + sum(r["es_s"] for r in runs)
        for name, wins, secs in (("lm", lm_wins, lm_time), ("lm+es", es_wins, es_time)):
            per = f"{secs / wins:.1f}" if wins else "-"
            print(f"| {spec} {args.ring} | {name} | {wins}/{len(runs)} | {secs:.0f} | {per} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
