"""Large targets: best rank reached after 60 s and 300 s with 2 workers (F2, from the naive scheme).

Runs the real command, ``flipforge search FMT --workers 2 --time T --seed S``, one format at a
time (it takes both cores), and reads each run's ``events.jsonl`` for the best rank at 60 s and
at the end. Takes ``len(formats) * len(seeds) * T`` seconds (20 minutes for the defaults):

    python benchmarks/bench_large.py                       # 4x4x4 4x5x5 5x5x5 6x6x6, 300 s
    python benchmarks/bench_large.py --formats 5x5x5 --time 60 --flipforge path/to/flipforge
    python benchmarks/bench_large.py --json results.json   # also keep the raw numbers
    python benchmarks/bench_large.py --formats ug-444 gt-444 --time 1800 --checkpoints 600 1800

Any target name works (structured products such as ``ug-444`` too); ``--domain`` picks the field;
every run starts from ``--start`` (default naive: ``flipforge search`` itself may start a large
flip-pool search from blocks, and a comparison needs the same start for every searcher).
``--searchers`` runs each format and seed with every listed searcher (same seed, same time, one
after another) and prints their best ranks side by side, with the flips each run did:

    python benchmarks/bench_large.py --formats 3x4x5 --seeds 1 2 3 --time 60 --workers 1 \
        --checkpoints 30 60 --searchers flip-pool meta

The target is rank 1 so that no run stops early; ``--checkpoints`` lists the times looked at.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FORMATS = ["4x4x4", "4x5x5", "5x5x5", "6x6x6"]


def best_by(events: list[dict], seconds: float, start: int) -> int:
    """The lowest rank found within ``seconds`` of search time (the start rank if none)."""
    ranks = [e["rank"] for e in events if e.get("event") == "best" and e["seconds"] <= seconds]
    return min(ranks, default=start)


def one_run(
    flipforge: str,
    fmt: str,
    seconds: float,
    seed: int,
    workers: int,
    extra: list[str],
    domain: str = "F2",
    searcher: str | None = None,
    start: str = "naive",
) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        cmd = [flipforge, "search", fmt, "-d", domain, "-r", "1", "-w", str(workers), "-t", str(seconds)]
        cmd += ["-s", str(seed), "--start", start, "--run-dir", str(run_dir), "--no-db", "-q", "--json", *extra]
        if searcher:
            cmd += ["--searcher", searcher]
        subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL)
        lines = (run_dir / "events.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--formats", nargs="+", default=FORMATS)
    ap.add_argument("--seeds", nargs="+", type=int, default=[1])
    ap.add_argument("--time", type=float, default=300.0)
    ap.add_argument("--checkpoints", nargs="+", type=float, default=[60.0, 300.0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--domain", default="F2", choices=["F2", "F3", "ZT"])
    ap.add_argument("--searchers", nargs="+", default=None, help="searchers side by side (default: the search's)")
    ap.add_argument(
        "--start", default="naive", help="start of every run (naive, so that searchers compare from the same scheme)"
    )
    ap.add_argument("--flipforge", default=shutil.which("flipforge") or "flipforge")
    ap.add_argument("--json", type=Path, help="also write the raw results here")
    ap.add_argument("extra", nargs="*", help="more search options, after --")
    args = ap.parse_args()
    marks = [c for c in args.checkpoints if c <= args.time]
    names = args.searchers or [None]
    cols = [f"{n + ' ' if n else ''}best after {c:g} s" for n in names for c in marks]
    if args.searchers:
        cols += [f"{n} flips" for n in names]
    header = "| target | seed | start | " + " | ".join(cols) + " |"
    rows = [header, "|---|---:|---:|" + "---:|" * len(cols)]
    print("\n".join(rows), flush=True)
    raw = []
    for fmt in args.formats:
        for seed in args.seeds:
            cells, flips = [], []
            for name in names:
                events = one_run(
                    args.flipforge, fmt, args.time, seed, args.workers, args.extra, args.domain, name, args.start
                )
                created = next(e for e in events if e.get("event") == "created")
                start = int(created["start_rank"])
                bests = [best_by(events, c, start) for c in marks]
                stop = [e for e in events if e.get("event") == "stop"]
                flips.append(stop[-1].get("flips") if stop else None)
                raw.append(
                    {
                        "format": fmt,
                        "seed": seed,
                        "searcher": name,
                        "start": start,
                        "flips": flips[-1],
                        "bests": dict(zip(map(str, marks), bests, strict=True)),
                    }
                )
                cells += map(str, bests)
            if args.searchers:
                cells += [f"{f / 1e6:.0f} M" if f else "-" for f in flips]
            rows.append(f"| {fmt} | {seed} | {start} | " + " | ".join(cells) + " |")
            print(rows[-1], flush=True)
    if args.json:
        args.json.write_text(json.dumps(raw, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
