"""Additions after CSE, per method, and flipforge's own fewest additions against Perminov's.

    python benchmarks/bench_additions.py                 # methods on the built-ins and our collection
    python benchmarks/bench_additions.py --perminov      # + our CSE on Perminov's 38 reduced schemes
    python benchmarks/bench_additions.py --campaign 120  # + our own search, 120 s per format (sides <= 5)
    python benchmarks/bench_additions.py --find          # the older 3x3x3-r23-ZT-sparse.json again (~30 s)

``--perminov`` reads ``../shared/reference/perminov_fmm`` (skipped when absent): each of his
published reduced ternary schemes, expanded, and reduced again by every method; his count is the
one in the file name. ``--campaign T`` searches every format with sides <= 5 of that folder from
the naive scheme, over ZT, at his rank: ``flipforge search FMT --domain ZT --searcher sparse
--objective bp --rank R --time T --workers 2 --seed 0`` (real worker processes), then ``flipforge
reduce`` of the cheapest scheme with the bp method and 4 restarts. The printed tables are the README's.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

from flipforge.schemes import Scheme, matmul_tensor, native_text, read_schemes
from flipforge.schemes.additions import ReducedScheme, check_program, reduce_additions
from flipforge.search.packing import pack, unpack
from flipforge.search.pool import PoolSearch
from flipforge.search.searchers.flip_pool import FlipPoolParams
from flipforge.search.sparse import sparsest
from flipforge.verify import verify

ROOT = Path(__file__).resolve().parents[1]
COLLECTION = ROOT / "schemes" / "collection"
FOUND = COLLECTION / "3x3x3-r23-ZT-sparse.json"
PERMINOV = ROOT.parent / "shared" / "reference" / "perminov_fmm" / "schemes" / "results" / "addition_reduced_ZT"
FLIPFORGE = [sys.executable, "-m", "flipforge.search.cli"]

# (column, how): every method with the options the tables use
METHODS: list[tuple[str, Callable[[Scheme], ReducedScheme]]] = [
    ("greedy", lambda s: reduce_additions(s, "greedy")),
    ("random 50", lambda s: reduce_additions(s, "random", restarts=50)),
    ("lookahead 4", lambda s: reduce_additions(s, "lookahead", width=4)),
    ("anneal 1x1000", lambda s: reduce_additions(s, "anneal", restarts=1, iters=1000)),
    ("bp", lambda s: reduce_additions(s, "bp", restarts=1)),
]


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


def _reduced(s: Scheme, how: Callable[[Scheme], ReducedScheme]) -> tuple[ReducedScheme, float]:
    t0 = time.perf_counter()
    r = how(s)
    check_program(r)
    return r, time.perf_counter() - t0


def methods_table() -> list[str]:
    rows = [
        "| scheme | rank | naive | " + " | ".join(m for m, _ in METHODS) + " | exact (proved?) |",
        "|---|---:|---:|" + "---:|" * (len(METHODS) + 1),
    ]
    cases = [
        ("Strassen 1969 (built-in)", Scheme.strassen()),
        ("Strassen-Winograd (built-in)", Scheme.strassen_winograd()),
        ("Strassen over Q with 1/2 (scaled term)", rational_strassen()),
    ]
    cases += [
        (f"flipforge's {p.stem} (schemes/collection)", read_schemes(p)[0])
        for p in sorted(COLLECTION.glob("3x3x3-r23-ZT*.json"))
    ]
    for label, s in cases:
        assert verify(s).valid
        counts = [_reduced(s, how)[0] for _, how in METHODS]
        exact = reduce_additions(s, "exact", restarts=1, iters=500, seconds=30)
        check_program(exact)
        proved = "proved" if exact.proved else "not proved in 30 s"
        rows.append(
            f"| {label} | {s.rank} | {counts[0].naive} | " + " | ".join(str(r.additions) for r in counts)
            + f" | {exact.additions} ({proved}) |"
        )  # fmt: skip
    return rows


def _published(path: Path) -> int:
    return int(path.name.split("_cr")[1].split("_")[0])


SLOW = ("anneal 1x1000", "bp")  # minutes per family beyond sides 5 (bp: 115 s for one 3x6x6 scheme)


def perminov_table() -> list[str]:
    """Every method on each of Perminov's reduced schemes; anneal and bp only where every side <= 5."""
    files = sorted(PERMINOV.glob("*_reduced.json"))
    if not files:
        return [f"(no reduced schemes in {PERMINOV}: skipped)"]
    rows = [
        "| format:rank | Perminov | " + " | ".join(m for m, _ in METHODS) + " | best − his | anneal s | bp s |",
        "|---|---:|" + "---:|" * (len(METHODS) + 3),
    ]
    wins = ties = 0
    for path in files:
        (s,) = read_schemes(path)
        his = _published(path)
        small = max(s.tensor.fmt) <= 5
        got = {m: _reduced(s, how) for m, how in METHODS if small or m not in SLOW}
        best = min(r.additions for r, _ in got.values())
        wins += best < his
        ties += best == his
        cells = [str(got[m][0].additions) if m in got else "–" for m, _ in METHODS]
        secs = [f"{got[m][1]:.1f}" if m in got else "–" for m in SLOW]
        rows.append(f"| {s.tensor.label()}:{s.rank} | {his} | " + " | ".join(cells) + f" | {best - his:+d} | "
                    + " | ".join(secs) + " |")  # fmt: skip
        print(rows[-1], file=sys.stderr)
    rows.append(f"\n{len(files)} schemes: fewer additions than published on {wins}, as many on {ties}.")
    return rows


def campaign(seconds: int, keep_dir: Path) -> list[str]:
    """Our own search per format (sides <= 5) at Perminov's rank, against his published count;
    every format's cheapest scheme is copied to ``keep_dir`` (and to schemes/collection/ when it
    beats his count, or for 3x3x3)."""
    keep_dir.mkdir(parents=True, exist_ok=True)
    best_of: dict[str, tuple[int, int]] = {}
    for path in sorted(PERMINOV.glob("*_reduced.json")):
        fmt, rank = path.name.split("_")[0], int(path.name.split("_m")[1].split("_")[0])
        if max(int(x) for x in fmt.split("x")) <= 5:
            his = _published(path)
            best_of[fmt] = (rank, min(his, best_of.get(fmt, (rank, his))[1]))
    if not best_of:
        return [f"(no reduced schemes in {PERMINOV}: skipped)"]
    rows = [
        f"| format | rank | Perminov | flipforge (search {seconds} s) | + bp, 4 restarts | reached rank at |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    beaten = 0
    for fmt, (rank, his) in best_of.items():
        with tempfile.TemporaryDirectory() as tmp:
            run = Path(tmp) / "run"
            cmd = [*FLIPFORGE, "search", fmt, "--domain", "ZT", "--searcher", "sparse", "--objective", "bp",
                   "--rank", str(rank),
                   "--time", str(seconds), "--workers", "2", "--seed", "0", "--run-dir", str(run),
                   "--no-db", "-q"]  # fmt: skip
            subprocess.run(cmd, capture_output=True, text=True)
            state = json.loads((run / "checkpoint.json").read_text())
            events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
            at_rank = [e["seconds"] for e in events if e["event"] == "best" and e["rank"] <= rank]
            if state["best_rank"] > rank or state.get("best_cost") is None:
                rows.append(f"| {fmt} | {rank} | {his} | rank {state['best_rank']} only | - | - |")
                print(rows[-1], file=sys.stderr)
                continue
            best = run / state["best_file"]
            (keep_dir / f"{fmt}-r{rank}-ZT.json").write_text(best.read_text())
            out = subprocess.run([*FLIPFORGE, "reduce", str(best), "--method", "bp", "--restarts", "4", "--json"],
                                 capture_output=True, text=True)  # fmt: skip
            reduced = json.loads(out.stdout)["reduced"]
            mark = " **(fewer)**" if reduced < his else ""
            beaten += reduced < his
            if reduced < his or fmt == "3x3x3":
                keep = COLLECTION / f"{fmt}-r{rank}-ZT-additions-{reduced}.json"
                if not keep.exists():
                    keep.write_text(best.read_text())
            rows.append(f"| {fmt} | {rank} | {his} | {state['best_cost']} | {reduced}{mark} | {min(at_rank):.1f} s |")
        print(rows[-1], file=sys.stderr)
    rows.append(f"\n{len(best_of)} formats; fewer additions than published on {beaten}.")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--perminov", action="store_true", help="our CSE on Perminov's 38 published reduced schemes")
    ap.add_argument("--campaign", type=int, metavar="SECONDS", help="our own search per format, SECONDS each")
    ap.add_argument("--keep", type=Path, default=Path(tempfile.gettempdir()) / "flipforge-campaign",
                    help="where the campaign copies each format's cheapest scheme")  # fmt: skip
    ap.add_argument("--find", action="store_true", help="search again and save the older sparse 3x3x3:23")
    args = ap.parse_args()
    if args.find:
        s = find()
        FOUND.write_text(native_text(s))
        print(f"saved {FOUND} ({s.meta})", file=sys.stderr)
    print("\n".join(methods_table()))
    if args.perminov:
        print()
        print("\n".join(perminov_table()))
    if args.campaign:
        print()
        print("\n".join(campaign(args.campaign, args.keep)))


if __name__ == "__main__":
    main()
