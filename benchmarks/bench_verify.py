"""Verification speed: single schemes (median of repeats) and the whole reference set.

    python benchmarks/bench_verify.py [--reference ../shared/reference] [--repeat 20]

Prints a Markdown table (the README's "Verification speed" table comes from here).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

from flipforge.schemes import Scheme, iter_scheme_files, read_entries, read_schemes
from flipforge.verify import verify

CASES = [
    ("<2,2,2>:7 Strassen (built-in)", None, "Z"),
    ("<4,4,4>:47 over F2 (Kauers-Moosbauer)", "kauers_moosbauer_flips/solutions/444-47-mod2.exp", "F2"),
    ("<5,5,5>:93 over Z (Moosbauer-Poole lifted)", "moosbauer_poole_symmetric_flips/schemes/555m93_lifted.txt", "Z"),
    ("<6,6,6>:153 over Z (Moosbauer-Poole lifted)", "moosbauer_poole_symmetric_flips/schemes/666m153_lifted.txt", "Z"),
    ("<6,6,6>:153 over F2 (Moosbauer-Poole)", "moosbauer_poole_symmetric_flips/schemes/666m153.txt", "F2"),
    ("<4,4,4>:48 over Q (Dumas-Pernet-Sedoglavic)", "dps_rational/4x4x4_48_rational_L.sms", "Q"),
]


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_ref = Path(__file__).resolve().parents[1].parent / "shared" / "reference"
    ap.add_argument("--reference", type=Path, default=default_ref)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}")
    print("\n| scheme | domain | verify (median) |\n|---|---|---|")
    for label, rel, domain in CASES:
        if rel is None:
            scheme = Scheme.strassen()
        elif (args.reference / rel).exists():
            scheme = read_schemes(args.reference / rel)[0]
        else:
            continue
        # a fresh Scheme each time, so cached integer forms are not reused between repeats
        fresh = lambda s=scheme: Scheme(s.tensor, s.u, s.v, s.w, s.domain, s.meta)  # noqa: E731
        ms = median_ms(lambda f=fresh, d=domain: verify(f(), d), args.repeat)
        assert verify(scheme, domain).valid
        print(f"| {label} | {domain} | {ms:.2f} ms |")
    if not args.reference.exists():
        print("\n(reference data not found: whole-set timing skipped)")
        return
    t0 = time.perf_counter()
    files = schemes = valid = 0
    read_s = verify_s = 0.0
    for path in iter_scheme_files([args.reference]):
        files += 1
        t = time.perf_counter()
        entries = read_entries(path)
        read_s += time.perf_counter() - t
        t = time.perf_counter()
        for e in entries:
            if isinstance(e, Scheme):
                schemes += 1
                valid += verify(e).valid
        verify_s += time.perf_counter() - t
    total = time.perf_counter() - t0
    print("\n| whole reference set | files | schemes | valid | read | verify | total |\n|---|---|---|---|---|---|---|")
    times = f"{read_s:.1f} s | {verify_s:.1f} s | {total:.1f} s"
    print(f"| `{args.reference.name}/` | {files} | {schemes} | {valid} | {times} |")


if __name__ == "__main__":
    main()
