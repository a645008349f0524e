"""Invariants of a scheme under the symmetries of <n,m,p>: a fingerprint for "not equivalent".

Equivalent schemes (term permutations, scaling of factors, isotropies
(U, V, W) -> (X U Y^-1, Y V Z^-1, Z W X^-1), and, where the format allows it, the cyclic and
transpose symmetries that permute the three factors) have equal fingerprints. Different
fingerprints prove two schemes inequivalent; equal ones only say "possibly equivalent".

Per term the fingerprint records, for each factor, its rank as a matrix (u_t is n x m, v_t is
m x p, w_t is p x n) and how many other terms have a proportional factor in that slot. The
multiset of these per-term records is taken over the slot orders the format's symmetry allows,
and the smallest is kept. Ranks are exact: over Q by fraction-free elimination, over F_p mod p.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from flipforge.schemes import Domain, Scheme, SchemeError
from flipforge.schemes.coeffs import residues

__all__ = ["Fingerprint", "fingerprint", "compare"]


def _rank(mat: list[list], p: int | None) -> int:
    """Exact rank: over F_p for a prime p, else over Q."""

    def nz(x: object) -> bool:
        return bool(x % p) if p else bool(x)

    rows = [[x % p if p else Fraction(x) for x in r] for r in mat]
    rank = 0
    for c in range(len(rows[0]) if rows else 0):
        piv = next((r for r in range(rank, len(rows)) if nz(rows[r][c])), None)
        if piv is None:
            continue
        rows[rank], rows[piv] = rows[piv], rows[rank]
        pv = rows[rank][c]
        for r in range(len(rows)):
            if r != rank and nz(rows[r][c]):
                f = rows[r][c] * pow(int(pv), -1, p) % p if p else rows[r][c] / pv
                rows[r] = [((a - f * b) % p) if p else a - f * b for a, b in zip(rows[r], rows[rank], strict=True)]
        rank += 1
    return rank


def _normalised(vec: tuple, p: int | None) -> tuple:
    """The factor up to a nonzero scalar (first nonzero entry made 1)."""
    lead = next((x for x in vec if (x % p if p else x)), None)
    if lead is None:
        return vec
    if p:
        inv = pow(int(lead), -1, p)
        return tuple(int(x) * inv % p for x in vec)
    return tuple(Fraction(x) / lead for x in vec)


@dataclass(frozen=True)
class Fingerprint:
    """Invariants of a scheme; ``terms`` is the canonical multiset of per-term records."""

    fmt: tuple[int, int, int]
    domain: str
    rank: int
    rank_profile: tuple  # multiset of (rank u, rank v, rank w), canonical slot order
    terms: tuple  # multiset of (rank, parallel count) per slot, canonical slot order

    def differences(self, other: Fingerprint) -> list[str]:
        out = []
        for name in ("fmt", "domain", "rank", "rank_profile", "terms"):
            if getattr(self, name) != getattr(other, name):
                out.append(name)
        return out


def _slot_orders(fmt: tuple[int, int, int]) -> list[tuple[int, int, int]]:
    """Permutations of (u, v, w) that a symmetry of this format can realise."""
    n, m, p = fmt
    orders = [(0, 1, 2)]
    if n == m == p:
        orders += [(1, 2, 0), (2, 0, 1)]  # cyclic
    # transposition (C^T = B^T A^T) maps <n,m,p> to <p,m,n> and swaps the roles of u and v
    if n == p:
        orders += [(1, 0, 2)] + ([(0, 2, 1), (2, 1, 0)] if n == m else [])
    return orders


def fingerprint(scheme: Scheme, domain: Domain | str = "Q") -> Fingerprint:
    """The fingerprint over Q (or F_p: coefficients reduced mod p)."""
    if scheme.fmt is None:
        raise SchemeError("fingerprints are defined for matrix multiplication schemes")
    dom = Domain.parse(domain)
    p = dom.p
    n, m, p_ = scheme.fmt
    shapes = ((n, m), (m, p_), (p_, n))
    factors = []
    for a in scheme.factors:
        if p:
            r = residues(a, p)
            if r is None:
                raise SchemeError(f"a coefficient has a denominator divisible by {p}")
            factors.append(r.astype(np.int64))
        else:
            factors.append(a)
    records = []
    for arr, shape in zip(factors, shapes, strict=True):
        rows = [tuple(x if p else Fraction(x) for x in row) for row in arr.tolist()]
        keys = Counter(_normalised(r, p) for r in rows)
        slot = []
        for row in rows:
            mat = [list(row[i * shape[1] : (i + 1) * shape[1]]) for i in range(shape[0])]
            slot.append((_rank(mat, p), keys[_normalised(row, p)] - 1))
        records.append(slot)
    per_term = list(zip(*records, strict=True))
    candidates = []
    for order in _slot_orders(scheme.fmt):
        terms = tuple(sorted(tuple(t[i] for i in order) for t in per_term))
        profile = tuple(sorted(tuple(t[i][0] for i in order) for t in per_term))
        candidates.append((profile, terms))
    profile, terms = min(candidates)
    return Fingerprint(scheme.fmt, dom.name if p else "Q", scheme.rank, profile, terms)


def compare(a: Scheme, b: Scheme, domain: Domain | str = "Q") -> tuple[bool, str]:
    """(possibly equivalent?, explanation) for two schemes of one format."""
    if a.fmt != b.fmt:
        return False, f"different formats {a.tensor.label()} and {b.tensor.label()}"
    if a.rank != b.rank:
        return False, f"different ranks {a.rank} and {b.rank}"
    fa, fb = fingerprint(a, domain), fingerprint(b, domain)
    diff = fa.differences(fb)
    if not diff:
        return True, f"possibly equivalent: every invariant agrees over {fa.domain} (rank profile {_short(fa)})"
    if "rank_profile" in diff:
        return False, f"not equivalent: the factor-rank profiles differ ({_short(fa)} vs {_short(fb)})"
    return False, "not equivalent: the counts of proportional factors differ (same rank profile)"


def _short(f: Fingerprint) -> str:
    c = Counter(f.rank_profile)
    return ", ".join(f"{k}x{''.join(map(str, t))}" for t, k in sorted(c.items()))
