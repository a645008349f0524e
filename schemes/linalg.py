"""Exact linear algebra over F_p and Q, once for the whole project: rank, RREF, solve, nullspace, inverse.

Lifting (the Jacobian of the Brent equations), equivalence (factor ranks, GL(n, F_p)) and the
isotropy symmetries all solve their linear systems here. ``p`` is a prime, or None for Q.

Three engines, chosen by measurement (``benchmarks/bench_linalg.py``):

- ``packed`` (F2 only): rows packed into bytes, a row operation is one XOR of packed rows. The
  fastest at every size measured, 3-10x ahead of the others.
- ``galois``: ``galois.GF(p)`` arrays and their ``row_reduce``. Building a field costs 1.5-2.5 s
  once per process (galois compiles its ufuncs), and a call costs milliseconds, so galois is
  slower up to about 512 x 512; from 1024 x 1024 on its row reduction is faster by more than
  the setup (3.1 s against 4.6 s over F3), and it is the engine for primes from 2^31 on, where
  a product of residues leaves int64. Solving needs the transform of [A | I], which makes galois
  2x slower than replaying recorded row operations, so ``Solver`` uses it only for large primes.
- ``int64``: the vectorised elimination mod p (p < 2^31) with its row operations recorded, for
  everything else; over Q (``p=None``) the same elimination runs on Fractions.

Every engine pivots on the first nonzero column, so RREF, pivots, nullspace basis and the solution
``solve`` returns (free variables 0) are the same whichever engine computed them.
"""

from __future__ import annotations

import functools
from fractions import Fraction
from typing import TYPE_CHECKING, Literal

import numpy as np

from .domain import is_prime
from .errors import DomainError, SchemeError

if TYPE_CHECKING:
    import galois

__all__ = [
    "BIG_PRIME",
    "Engine",
    "Solver",
    "check_prime",
    "field",
    "integer_solve",
    "inverse",
    "nullspace",
    "rank",
    "row_reduce",
    "solve",
]

Engine = Literal["auto", "packed", "galois", "int64"]

INT64_PRIME_LIMIT = 1 << 31
"""Below this the int64 engine is exact: a product of two residues stays below 2^62."""
GALOIS_MIN_CELLS = 1 << 20
"""From this many entries (1024 x 1024) on, galois row-reduces faster than int64 by more than its setup."""


def check_prime(p: int) -> int:
    """``p`` itself when it is a prime, else DomainError in one line."""
    if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or not is_prime(int(p)):
        raise DomainError(f"linear algebra mod {p}: the modulus must be a prime")
    return int(p)


@functools.lru_cache(maxsize=16)
def field(p: int) -> type[galois.FieldArray]:
    """The galois array class of GF(p), built once per process (its construction compiles ufuncs)."""
    import galois

    return galois.GF(check_prime(p))


def _engine(p: int | None, cells: int, engine: Engine, transform: bool = False) -> str:
    """The engine that runs: the asked one (checked against p), or the fastest measured for this size
    (``transform``: the row operations are needed too, to solve)."""
    if p is None:
        if engine not in ("auto", "int64"):
            raise SchemeError(f"the {engine} engine works over F_p; over Q elimination runs on Fractions")
        return "fraction"
    check_prime(p)
    if engine == "packed" and p != 2:
        raise SchemeError(f"the packed engine works over F2, not F{p}")
    if engine == "int64" and p >= INT64_PRIME_LIMIT:
        raise SchemeError(f"the int64 engine needs p < 2^31, not F{p}")
    if engine != "auto":
        return engine
    if p == 2:
        return "packed"
    if p >= INT64_PRIME_LIMIT or (cells >= GALOIS_MIN_CELLS and not transform):
        return "galois"
    return "int64"


def _matrix(a: object, p: int | None) -> np.ndarray:
    """A 2-D copy of ``a``: residues in [0, p) (int64, object above 2^63), or Fractions over Q."""
    arr = np.asarray(a)
    if arr.ndim != 2:
        raise SchemeError(f"linear algebra needs a matrix, not an array of shape {arr.shape}")
    if p is None:
        return np.array([[Fraction(x) for x in row] for row in arr.tolist()], dtype=object).reshape(arr.shape)
    if arr.dtype == object or arr.dtype.kind == "f":
        out = np.empty(arr.shape, dtype=np.int64 if p < 1 << 63 else object)
        for idx, x in np.ndenumerate(arr):
            q = Fraction(x)
            if q.denominator % p == 0:
                raise SchemeError(f"the entry {q} has no value mod {p}")
            out[idx] = q.numerator * pow(q.denominator, -1, p) % p
        return out
    if arr.dtype.kind not in "iub":
        raise SchemeError(f"linear algebra needs integer or rational entries, not {arr.dtype}")
    return np.mod(arr.astype(np.int64), p) if p < 1 << 63 else np.mod(arr.astype(object), p)


def _vectors(b: object, p: int | None, rows: int) -> tuple[np.ndarray, bool]:
    """Right-hand side(s) as a (rows, k) matrix, and whether ``b`` was one vector."""
    arr = np.asarray(b)
    single = arr.ndim == 1
    if single:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2 or arr.shape[0] != rows:
        raise SchemeError(f"the right-hand side has shape {np.asarray(b).shape}; the matrix has {rows} rows")
    return _matrix(arr, p), single


class _Recorded:
    """Gauss-Jordan elimination with its row operations recorded (int64 mod p, or Fractions over Q)."""

    def __init__(self, a: np.ndarray, p: int | None) -> None:
        self.p = p
        self.ops: list[tuple[int, int, object, np.ndarray, np.ndarray]] = []
        self.pivots: list[int] = []
        rows, cols = a.shape
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
            inv = pow(int(a[r, c]), -1, p) if p else 1 / a[r, c]
            a[r] = self._reduce(a[r] * inv)
            targets = np.flatnonzero(a[:, c])
            targets = targets[targets != r]
            factors = a[targets, c].copy()
            if targets.size:
                a[targets] = self._reduce(a[targets] - factors[:, None] * a[r][None, :])
            self.ops.append((r, prow, inv, targets, factors))
            self.pivots.append(c)
            r += 1
        self.rref = a

    def _reduce(self, x: np.ndarray) -> np.ndarray:
        return x % self.p if self.p else x

    def replay(self, b: np.ndarray) -> np.ndarray:
        """The row operations applied to ``b`` (rows, k), in place."""
        for r, prow, inv, targets, factors in self.ops:
            if prow != r:
                b[[r, prow]] = b[[prow, r]]
            b[r] = self._reduce(b[r] * inv)
            if targets.size:
                b[targets] = self._reduce(b[targets] - factors[:, None] * b[r][None, :])
        return b


class _Packed:
    """The same over F2 with rows packed into bytes: a row operation is one XOR of packed rows."""

    def __init__(self, a: np.ndarray) -> None:
        rows, cols = a.shape
        packed = np.packbits((a & 1).astype(np.uint8), axis=1)
        self.ops: list[tuple[int, int, np.ndarray]] = []
        self.pivots: list[int] = []
        r = 0
        for c in range(cols):
            if r == rows:
                break
            byte, shift = c >> 3, 7 - (c & 7)
            nz = np.flatnonzero((packed[r:, byte] >> shift) & 1)
            if nz.size == 0:
                continue
            prow = r + int(nz[0])
            if prow != r:
                packed[[r, prow]] = packed[[prow, r]]
            targets = np.flatnonzero((packed[:, byte] >> shift) & 1)
            targets = targets[targets != r]
            if targets.size:
                packed[targets] ^= packed[r]
            self.ops.append((r, prow, targets))
            self.pivots.append(c)
            r += 1
        self.rref = np.unpackbits(packed, axis=1, count=cols).astype(np.int64)

    def replay(self, b: np.ndarray) -> np.ndarray:
        """The row operations applied to ``b`` (rows, k) of bits, in place."""
        b &= 1
        for r, prow, targets in self.ops:
            if prow != r:
                b[[r, prow]] = b[[prow, r]]
            if targets.size:
                b[targets] ^= b[r]
        return b


class _Galois:
    """RREF of [A | I] over GF(p) with galois: the right block E (E A = RREF) replays any right-hand side.

    Rows of A that are zero take no part (they only require the same rows of b to be zero), which
    keeps the identity block small for the sparse Jacobians of lifting."""

    def __init__(self, a: np.ndarray, p: int, transform: bool = True) -> None:
        gf = field(p)
        rows, cols = a.shape
        self.gf = gf
        self.zero_rows = np.flatnonzero(~a.any(axis=1))
        self.live = np.flatnonzero(a.any(axis=1))
        live = gf(a[self.live])
        if transform:
            live = np.concatenate([live, gf.Identity(self.live.size)], axis=1)
        reduced = live.row_reduce(ncols=cols) if self.live.size else live
        left = np.asarray(reduced[:, :cols].view(np.ndarray))
        lead = left.any(axis=1)
        self.pivots = [int(np.flatnonzero(row)[0]) for row in left[lead]]
        rref = np.zeros((rows, cols), dtype=left.dtype)
        rref[: len(self.pivots)] = left[: len(self.pivots)]
        self.rref = rref.astype(np.int64) if p < 1 << 63 else rref
        self.transform = reduced[:, cols:] if transform else None


class Solver:
    """A matrix A over F_p (or Q) reduced once; ``solve`` then answers A x = b for many b cheaply.

    Lifting builds one per Jacobian and solves one right-hand side per Hensel step.
    """

    def __init__(self, a: object, p: int | None, engine: Engine = "auto") -> None:
        mat = _matrix(a, p)
        self.p = p
        self.shape: tuple[int, int] = mat.shape  # type: ignore[assignment]
        self.engine = _engine(p, mat.size, engine, transform=True)
        if self.engine == "galois":
            self._impl: _Recorded | _Packed | _Galois = _Galois(mat, p)  # type: ignore[arg-type]
        elif self.engine == "packed":
            self._impl = _Packed(mat)
        else:
            self._impl = _Recorded(mat, p)
        self.pivots: list[int] = list(self._impl.pivots)
        self.rank = len(self.pivots)

    def solve(self, b: object) -> np.ndarray | None:
        """One solution of A x = b (free variables 0), or None when there is none; b may be a (rows, k) matrix."""
        rhs, single = _vectors(b, self.p, self.shape[0])
        y = self._reduced_rhs(rhs)
        if y is None:
            return None
        x = np.zeros((self.shape[1], rhs.shape[1]), dtype=y.dtype)
        if self.p is None:
            x[:] = Fraction(0)
        x[self.pivots] = y[: self.rank]
        return x[:, 0] if single else x

    def _reduced_rhs(self, rhs: np.ndarray) -> np.ndarray | None:
        """E b for the transform E with E A = RREF(A), or None when b is outside the column space."""
        impl = self._impl
        if isinstance(impl, _Galois):
            if np.any(rhs[impl.zero_rows]):
                return None
            if impl.live.size == 0:
                return np.zeros((0, rhs.shape[1]), dtype=rhs.dtype) if self.rank == 0 else None
            y = np.asarray((impl.transform @ impl.gf(rhs[impl.live])).view(np.ndarray))
            y = y.astype(np.int64) if self.p is not None and self.p < 1 << 63 else y
        else:
            y = impl.replay(rhs)
        return None if np.any(y[self.rank :]) else y


def row_reduce(a: object, p: int | None, engine: Engine = "auto") -> tuple[np.ndarray, list[int]]:
    """The reduced row echelon form of ``a`` over F_p (or Q) and its pivot columns."""
    mat = _matrix(a, p)
    eng = _engine(p, mat.size, engine)
    if eng == "galois":
        impl: _Recorded | _Packed | _Galois = _Galois(mat, p, transform=False)  # type: ignore[arg-type]
    elif eng == "packed":
        impl = _Packed(mat)
    else:
        impl = _Recorded(mat, p)
    return impl.rref, list(impl.pivots)


def rank(a: object, p: int | None, engine: Engine = "auto") -> int:
    """The rank of ``a`` over F_p (or Q)."""
    return len(row_reduce(a, p, engine)[1])


def solve(a: object, b: object, p: int | None, engine: Engine = "auto") -> np.ndarray | None:
    """One solution x of a x = b over F_p (or Q) with the free variables 0, or None when there is none."""
    return Solver(a, p, engine).solve(b)


def nullspace(a: object, p: int | None, engine: Engine = "auto") -> np.ndarray:
    """A basis of {x : a x = 0} as rows, shape (n - rank, n): one vector per free column, 1 there."""
    rref, pivots = row_reduce(a, p, engine)
    cols = rref.shape[1]
    free = [c for c in range(cols) if c not in set(pivots)]
    basis = np.zeros((len(free), cols), dtype=rref.dtype)
    if p is None:
        basis[:] = Fraction(0)
    for k, f in enumerate(free):
        basis[k, f] = 1
        for i, c in enumerate(pivots):
            basis[k, c] = -rref[i, f] % p if p else -rref[i, f]
    return basis


def inverse(a: object, p: int | None, engine: Engine = "auto") -> np.ndarray:
    """The inverse of a square matrix over F_p (or Q, Fractions); SchemeError when it is singular."""
    mat = np.asarray(a)
    if mat.ndim != 2 or mat.shape[0] != mat.shape[1]:
        raise SchemeError(f"only a square matrix has an inverse, not one of shape {mat.shape}")
    n = mat.shape[0]
    solver = Solver(mat, p, engine)
    if solver.rank < n:
        where = f"over F{p}" if p else "over Q"
        raise SchemeError(f"the {n}x{n} matrix is singular {where} (rank {solver.rank})")
    eye = np.eye(n, dtype=np.int64)
    return solver.solve(eye)  # type: ignore[return-value]


BIG_PRIME = 2**31 - 1  # the largest prime whose residue products stay inside int64


def integer_solve(a: object, b: object, bound: int, engine: Engine = "auto") -> np.ndarray | None:
    """An integer X with entries in [-bound, bound] and a·X = b exactly, found modulo a large prime:
    the solution ``solve`` gives mod 2^31 − 1 (free variables 0), read in the symmetric range and
    checked in exact integers; None when that reading is not such an X. This replaces elimination
    over Q with Fractions when only small integral solutions matter (100-1000x faster from a few
    hundred rows: ``benchmarks/bench_linalg.py``)."""
    if not 0 <= bound <= BIG_PRIME // 2:
        raise SchemeError(f"bound {bound} is out of range (0 .. {BIG_PRIME // 2})")
    mat = np.asarray(a, dtype=np.int64)
    rhs = np.asarray(b, dtype=np.int64)
    sol = solve(mat, rhs, BIG_PRIME, engine)
    if sol is None:
        return None
    sol = np.where(sol > BIG_PRIME // 2, sol - BIG_PRIME, sol).astype(np.int64)
    if np.abs(sol).max(initial=0) > bound:
        return None
    return sol if np.array_equal(mat.astype(object) @ sol.astype(object), rhs.astype(object)) else None
