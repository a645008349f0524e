"""Database benchmarks: import the whole reference set (twice) and answer `db best`.

Run from the repository root with ../shared/reference beside it (about 2 minutes):

    python benchmarks/bench_db.py [REFERENCE]

Every step runs the installed command as a user would, on a fresh database file; times are
wall-clock seconds including Python start-up.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(db: Path, *args: str) -> tuple[float, str]:
    env = {**os.environ, "FLIPFORGE_DB": str(db)}
    t0 = time.perf_counter()
    out = subprocess.run(["flipforge", "db", *args], capture_output=True, text=True, env=env)
    return time.perf_counter() - t0, out.stdout


def main() -> None:
    ref = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared" / "reference")
    if not ref.is_dir():
        sys.exit(f"no reference data at {ref}")
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "flipforge.db"
        rows = ["| step | seconds | result |", "|---|---:|---|"]
        for name in ("first import", "second import"):
            secs, out = run(db, "import", str(ref), "--json")
            r = json.loads(out.strip().splitlines()[-1])
            rows.append(
                f"| {name} of `reference/` | {secs:.1f} | imported {r['imported']}, duplicates {r['duplicates']}, "
                f"invalid {r['invalid']}, unreadable {r['unreadable']}; {r['stored']} stored |"
            )
            print(rows[-1], file=sys.stderr)
        best = [run(db, "best")[0] for _ in range(5)]
        size = f"{db.stat().st_size / 1e6:.0f} MB file"
        rows.append(f"| `flipforge db best` (median of 5) | {sorted(best)[2]:.2f} | {size} |")
        lst = [run(db, "list", "--format", "3x3x3", "--rank", "23")[0] for _ in range(5)]
        rows.append(f"| `flipforge db list --format 3x3x3 --rank 23` (median of 5) | {sorted(lst)[2]:.2f} | |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
