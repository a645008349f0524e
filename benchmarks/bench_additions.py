"""Additions before and after CSE, and how flipforge's own sparse ternary <3,3,3>:23 was found.

    python benchmarks/bench_additions.py          # the table (seconds)
    python benchmarks/bench_additions.py --find   # search again for a ternary 3x3x3:23 with <= 62
                                                  # additions (seed 5; about 30 s) and save it

The search: a ZT pool search from the naive scheme collects rank-23 schemes; each is walked
200,000 flips at rank 23 keeping the sparsest scheme (``flipforge.search.sparse``), then greedy
CSE; the first with at most 62 additions is written to schemes/collection/.
"""

from __future__ import annotations

import argparse
import sys
import time
from fractions import Fraction
from pathlib import Path

from flipforge.schemes import Scheme, matmul_tensor, native_text, read_schemes
from flipforge.schemes.additions import check_program, reduce_additions
from flipforge.search.packing import pack, unpack
from flipforge.search.pool import PoolSearch
from flipforge.search.searchers.flip_pool import FlipPoolParams
from flipforge.search.sparse import sparsest
from flipforge.verify import verify

COLLECTION = Path(__file__).resolve().parents[1] / "schemes" / "collection"
FOUND = COLLECTION / "3x3x3-r23-ZT-sparse.json"


def find(seed: int = 5, limit: int = 62, flips: int = 200_000) -> Scheme:
    tensor = matmul_tensor("3x3x3")
    start = pack(Scheme.naive(tensor), "ZT")
    ps = PoolSearch({start.rank: [start]}, "ZT", FlipPoolParams(pool_size=400), seed)
    seen, t0 = 0, time.perf_counter()
    while True:
        ps.step()
        members = ps.pools[23].members if 23 in ps.pools else []
        for packed in members[seen:]:
            s = sparsest(unpack(packed, tensor), flips, seed=seen)
            r = reduce_additions(s, "greedy")
            print(f"rank-23 scheme {seen}: naive {r.naive}, after CSE {r.additions}", file=sys.stderr)
            seen += 1
            if r.additions <= limit:
                meta = {
                    "found_by": "flipforge: ZT pool search, sparse walk, greedy CSE (benchmarks/bench_additions.py)",
                    "seed": seed,
                    "rank23_index": seen - 1,
                    "sparse_walk_flips": flips,
                    "seconds": round(time.perf_counter() - t0, 1),
                    "additions_greedy": r.additions,
                }
                return Scheme(s.tensor, s.u, s.v, s.w, s.domain, meta)


def rational_strassen() -> Scheme:
    s = Scheme.strassen()
    u, w = s.u.astype(object), s.w.astype(object)
    u[0] = u[0] * 2
    w[0] = w[0] * Fraction(1, 2)
    return Scheme.from_arrays((2, 2, 2), u, s.v, w, "Q", {"name": "Strassen, term 1 scaled by 2 and 1/2"})


def table() -> list[str]:
    rows = [
        "| scheme | rank | naive | greedy | random (50 restarts) |",
        "|---|---:|---:|---:|---:|",
    ]
    cases = [
        ("Strassen 1969 (built-in)", Scheme.strassen()),
        ("Strassen-Winograd (built-in)", Scheme.strassen_winograd()),
        ("Strassen over Q with 1/2 (scaled term)", rational_strassen()),
        ("naive <2,3,4>", Scheme.naive("2x3x4")),
    ]
    if FOUND.exists():
        cases.append(("flipforge's ternary <3,3,3>:23 (schemes/collection)", read_schemes(FOUND)[0]))
    for label, s in cases:
        assert verify(s).valid
        g = reduce_additions(s, "greedy")
        r = reduce_additions(s, "random", restarts=50)
        check_program(g)
        check_program(r)
        rows.append(f"| {label} | {s.rank} | {g.naive} | {g.additions} | {r.additions} |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--find", action="store_true", help="search again and save the sparse 3x3x3:23")
    args = ap.parse_args()
    if args.find:
        s = find()
        COLLECTION.mkdir(parents=True, exist_ok=True)
        FOUND.write_text(native_text(s))
        print(f"saved {FOUND} ({s.meta})", file=sys.stderr)
    print("\n".join(table()))


if __name__ == "__main__":
    main()
