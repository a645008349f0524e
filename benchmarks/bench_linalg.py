"""Exact linear algebra engines: galois vs the old hand-written elimination vs bit-packed F2.

    python benchmarks/bench_linalg.py

Rank (RREF) and solve (reduce once, then one right-hand side) of random square matrices
64..512 over F2, F3, F5 (and 1024 over F3), and the Jacobians that lifting reduces (Strassen (x) Strassen,
<4,4,4>:49, mod 3: support-only and all-coefficient unknowns). "old" is a copy of the
elimination lift.py carried before schemes/linalg.py (kept here for comparison only); "galois"
and "packed" are the engines of schemes/linalg.py. Times are the best of 3 (1 from 512 cells up),
after galois has built the field, which is measured once per prime on its own line.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from fractions import Fraction

import numpy as np
from flipforge.schemes import Scheme
from flipforge.schemes import linalg as la
from flipforge.schemes.coeffs import residues
from flipforge.schemes.linalg import Solver, field, row_reduce
from flipforge.verify.lift import _jacobian


class OldEchelon:
    """The hand-written mod-p elimination lift.py used before (copy, for comparison only)."""

    def __init__(self, jac: np.ndarray, p: int) -> None:
        a = jac % p
        rows, cols = a.shape
        self.p, self.ops, self.pivots = p, [], []
        r = 0
        for c in range(cols):
            if r == rows:
                break
            nz = np.flatnonzero(a[r:, c])
            if nz.size == 0:
                continue
            prow = r + int(nz[0])
            if prow != r:
                a[[r, prow]] = a[[prow, r]]
            inv = pow(int(a[r, c]), -1, p)
            a[r] = (a[r] * inv) % p
            targets = np.flatnonzero(a[:, c])
            targets = targets[targets != r]
            factors = a[targets, c].copy()
            if targets.size:
                a[targets] = (a[targets] - factors[:, None] * a[r][None, :]) % p
            self.ops.append((r, prow, inv, targets, factors))
            self.pivots.append(c)
            r += 1
        self.rank, self.cols = r, cols

    def solve(self, rhs: np.ndarray) -> np.ndarray | None:
        b = rhs % self.p
        for r, prow, inv, targets, factors in self.ops:
            if prow != r:
                b[[r, prow]] = b[[prow, r]]
            b[r] = (b[r] * inv) % self.p
            if targets.size:
                b[targets] = (b[targets] - factors * b[r]) % self.p
        if np.any(b[self.rank :]):
            return None
        x = np.zeros(self.cols, dtype=np.int64)
        x[self.pivots] = b[: self.rank]
        return x


def best(fn: Callable[[], object], reps: int) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def kron_mod(p: int) -> Scheme:
    """Strassen (x) Strassen mod p (<4,4,4>:49)."""
    s = Scheme.strassen()
    u, v, w = (np.einsum("ai,bj->abij", a, a).reshape(49, 2, 2, 2, 2) for a in (s.u, s.v, s.w))
    # (i1, j1) x (i2, j2) -> row (i1 i2), column (j1 j2) of the 4x4 matrix
    u, v, w = (x.transpose(0, 1, 3, 2, 4).reshape(49, 16) for x in (u, v, w))
    return Scheme.from_arrays((4, 4, 4), *(residues(a, p) for a in (u, v, w)), f"F{p}", check=False)


def jacobians(p: int) -> list[tuple[str, np.ndarray]]:
    s = kron_mod(p)
    u, v, w = (np.asarray(a, dtype=np.int64) for a in s.factors)
    support = [(f, t, i) for f, a in enumerate((u, v, w)) for t, i in zip(*np.nonzero(a), strict=True)]
    full = support + [(f, t, i) for f, a in enumerate((u, v, w)) for t, i in zip(*np.nonzero(a == 0), strict=True)]
    return [(f"lift J <4,4,4>:49 support {len(support)}", _jacobian(u, v, w, support)),
            (f"lift J <4,4,4>:49 all {len(full)}", _jacobian(u, v, w, full))]  # fmt: skip


def row(label: str, p: int, a: np.ndarray, rng: np.random.Generator) -> str:
    reps = 1 if a.size >= 1 << 18 else 3
    b = a @ rng.integers(0, p, a.shape[1]) % p
    cells = {
        "old rank": best(lambda: OldEchelon(a.copy(), p), reps),
        "old solve": best(lambda: OldEchelon(a.copy(), p).solve(b.copy()), reps),
        "galois rank": best(lambda: row_reduce(a, p, "galois"), reps),
        "galois solve": best(lambda: Solver(a, p, "galois").solve(b), reps),
    }
    if p == 2:
        cells["packed rank"] = best(lambda: row_reduce(a, p, "packed"), reps)
        cells["packed solve"] = best(lambda: Solver(a, p, "packed").solve(b), reps)
    shown = " | ".join(f"{cells[k]:.4f}" if k in cells else "–" for k in COLUMNS)
    fastest = min(cells, key=cells.get)  # type: ignore[arg-type]
    return f"| F{p} | {label} {a.shape[0]}x{a.shape[1]} | {shown} | {fastest.split()[0]} |"


COLUMNS = ["old rank", "galois rank", "packed rank", "old solve", "galois solve", "packed solve"]


def fraction_solve(mat: np.ndarray, rhs: np.ndarray) -> list[list[Fraction]] | None:
    """For comparison only: elimination over Q with Fractions (what the numeric repair used)."""
    rows, cols = mat.shape
    a = [[Fraction(int(x)) for x in mat[i]] + [Fraction(int(x)) for x in rhs[i]] for i in range(rows)]
    pivots, r = [], 0
    for c in range(cols):
        pr = next((i for i in range(r, rows) if a[i][c] != 0), None)
        if pr is None:
            continue
        a[r], a[pr] = a[pr], a[r]
        inv = 1 / a[r][c]
        a[r] = [x * inv for x in a[r]]
        for i in range(rows):
            if i != r and a[i][c] != 0:
                f = a[i][c]
                a[i] = [x - f * y for x, y in zip(a[i], a[r], strict=True)]
        pivots.append(c)
        r += 1
        if r == rows:
            break
    if any(any(x != 0 for x in a[i][cols:]) for i in range(r, rows)):
        return None
    out = [[Fraction(0)] * (len(a[0]) - cols) for _ in range(cols)]
    for i, c in enumerate(pivots):
        out[c] = a[i][cols:]
    return out


def integer_table() -> None:
    """Small integral solutions of integer systems (the numeric searcher's exact repair)."""
    print("\n| system (rows x unknowns, right-hand sides) | Fractions over Q | integer_solve (mod 2^31-1) |")
    print("|---|---:|---:|")
    for rows, cols, k in ((81, 23, 9), (256, 49, 16), (400, 60, 20)):
        rng = np.random.default_rng(0)
        mat = rng.integers(-1, 2, (rows, cols))
        rhs = mat @ rng.integers(-1, 2, (cols, k))
        slow = best(lambda mat=mat, rhs=rhs: fraction_solve(mat, rhs), 1)
        fast = best(lambda mat=mat, rhs=rhs: la.integer_solve(mat, rhs, 1), 3)
        print(f"| {rows} x {cols}, {k} | {slow:.3f} | {fast:.4f} |", flush=True)


def main() -> None:
    t_start = time.perf_counter()
    rng = np.random.default_rng(0)
    print("| field | galois.GF(p) + first row_reduce (once per process) |")
    print("|---|---:|")
    for p in (2, 3, 5):
        t0 = time.perf_counter()
        field(p)
        row_reduce(np.eye(4, dtype=np.int64), p, "galois")
        print(f"| F{p} | {time.perf_counter() - t0:.2f} s |")
    print()
    print("| field | matrix | " + " | ".join(COLUMNS) + " | fastest |")
    print("|---|---|" + "---:|" * len(COLUMNS) + "---|")
    for p in (2, 3, 5):
        for n in (64, 128, 256, 512) + ((1024,) if p == 3 else ()):
            print(row("random", p, rng.integers(0, p, (n, n)), rng), flush=True)
    for p in (2, 3):
        for label, jac in jacobians(p):
            print(row(label, p, jac % p, rng), flush=True)
    integer_table()
    print(f"\n(total {time.perf_counter() - t_start:.0f} s; times in seconds)")


if __name__ == "__main__":
    main()
