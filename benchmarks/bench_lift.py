"""Hensel lifting speed: F2 schemes lifted to Z, and schemes that cannot lift.

    python benchmarks/bench_lift.py [REFERENCE]

Cases: Strassen mod 2; a <3,3,3>:23 found by flipforge over F2 (seed 1); Strassen (x) Strassen
mod 2 (<4,4,4>:49); and, when ../shared/reference is there, the <4,4,4>:47 F2 scheme of
Kauers-Moosbauer, which is known not to lift. Times are the median of 3 lifts.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np
from flipforge.schemes import Scheme, matmul_tensor, read_schemes
from flipforge.search.packing import pack, unpack
from flipforge.search.pool import PoolSearch
from flipforge.search.searchers.flip_pool import FlipPoolParams
from flipforge.verify.lift import lift


def kron(a: Scheme, b: Scheme) -> Scheme:
    """The product scheme <n1 n2, m1 m2, p1 p2> of two matmul schemes (rank r1 r2)."""
    (n1, m1, p1), (n2, m2, p2) = a.fmt, b.fmt
    n, m, p = n1 * n2, m1 * m2, p1 * p2
    r = a.rank * b.rank
    u, v, w = (np.zeros((r, size), dtype=np.int64) for size in (n * m, m * p, p * n))
    for t1 in range(a.rank):
        for t2 in range(b.rank):
            t = t1 * b.rank + t2
            for i1 in range(n1):
                for i2 in range(n2):
                    for j1 in range(m1):
                        for j2 in range(m2):
                            u[t, (i1 * n2 + i2) * m + j1 * m2 + j2] = a.u[t1, i1 * m1 + j1] * b.u[t2, i2 * m2 + j2]
            for j1 in range(m1):
                for j2 in range(m2):
                    for k1 in range(p1):
                        for k2 in range(p2):
                            v[t, (j1 * m2 + j2) * p + k1 * p2 + k2] = a.v[t1, j1 * p1 + k1] * b.v[t2, j2 * p2 + k2]
            for k1 in range(p1):
                for k2 in range(p2):
                    for i1 in range(n1):
                        for i2 in range(n2):
                            w[t, (k1 * p2 + k2) * n + i1 * n2 + i2] = a.w[t1, k1 * n1 + i1] * b.w[t2, k2 * n2 + i2]
    return Scheme.from_arrays((n, m, p), u, v, w, "Z")


def mod2(s: Scheme) -> Scheme:
    return Scheme.from_arrays(s.tensor, np.abs(s.u) % 2, np.abs(s.v) % 2, np.abs(s.w) % 2, "F2")


def found_333() -> Scheme:
    start = pack(Scheme.naive(matmul_tensor("3x3x3")), "F2")
    ps = PoolSearch({27: [start]}, "F2", FlipPoolParams(), 1)
    while ps.best_rank > 23:
        ps.step()
    return unpack(ps.pools[23].members[0], matmul_tensor("3x3x3"))


def main() -> None:
    ref = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared" / "reference")
    cases = [
        ("Strassen mod 2 <2,2,2>:7", mod2(Scheme.strassen())),
        ("flipforge <3,3,3>:23 over F2", found_333()),
        ("Strassen (x) Strassen mod 2 <4,4,4>:49", mod2(kron(Scheme.strassen(), Scheme.strassen()))),
    ]
    path = ref / "kauers_moosbauer_flips" / "solutions" / "444-47-mod2.exp"
    if path.exists():
        cases.append(("Kauers-Moosbauer <4,4,4>:47 over F2", read_schemes(path)[0].with_domain("F2")))
    print("| scheme | result | steps | time (median of 3) |")
    print("|---|---|---:|---:|")
    for label, s in cases:
        times, r = [], None
        for _ in range(3):
            t0 = time.perf_counter()
            r = lift(s, "Z")
            times.append(time.perf_counter() - t0)
        result = f"lifted to {r.domain}" if r.lifted else f"not liftable: {r.reason}"
        print(f"| {label} | {result} | {r.steps} | {statistics.median(times):.3f} s |")


if __name__ == "__main__":
    main()
