"""Invariants of a scheme under the symmetries of its target: a fingerprint for "not equivalent".

Equivalent schemes of <n,m,p> (term permutations, scaling of factors, isotropies
(U, V, W) -> (X U Y^-1, Y V Z^-1, Z W X^-1), and, where the format allows it, the cyclic and
transpose symmetries that permute the three factors) have equal fingerprints. Other targets
(structured and polynomial products, file tensors) assume no symmetry beyond term order and
scaling. Different fingerprints prove two schemes inequivalent; equal ones only say "possibly
equivalent".

Per term the fingerprint records, for each factor, its rank as a matrix (the full matrix its
parameters fill, from the target's layout: u_t is A, n x m for matmul; a symmetric operand gives
a symmetric matrix; a file tensor's factor is one row) and how many other terms have a
proportional factor in that slot. The multiset of these per-term records is taken over the slot
orders the target's symmetry allows, and the smallest is kept. Ranks are exact (``schemes.linalg``):
over Q on Fractions, over F_p mod p.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from fractions import Fraction
from itertools import product

import numpy as np
from flipforge.schemes import Domain, Scheme, SchemeError, linalg
from flipforge.schemes.coeffs import residues

__all__ = ["Fingerprint", "fingerprint", "compare", "find_isotropy"]


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

    target: str
    domain: str
    rank: int
    rank_profile: tuple  # multiset of (rank u, rank v, rank w), canonical slot order
    terms: tuple  # multiset of (rank, parallel count) per slot, canonical slot order

    def differences(self, other: Fingerprint) -> list[str]:
        out = []
        for name in ("target", "domain", "rank", "rank_profile", "terms"):
            if getattr(self, name) != getattr(other, name):
                out.append(name)
        return out


def _slot_orders(fmt: tuple[int, int, int] | None) -> list[tuple[int, int, int]]:
    """Permutations of (u, v, w) that a symmetry of this format can realise (none for other targets)."""
    orders = [(0, 1, 2)]
    if fmt is None:
        return orders
    n, m, p = fmt
    if n == m == p:
        orders += [(1, 2, 0), (2, 0, 1)]  # cyclic
    # transposition (C^T = B^T A^T) maps <n,m,p> to <p,m,n> and swaps the roles of u and v
    if n == p:
        orders += [(1, 0, 2)] + ([(0, 2, 1), (2, 1, 0)] if n == m else [])
    return orders


def _shapers(scheme: Scheme) -> list:
    """Per factor, a function from a factor row to the matrix it stands for."""
    layout = scheme.tensor.layout()
    if layout is None:
        return [lambda row: [list(row)]] * 3
    return [op.matrix for op in (layout.left, layout.right, layout.out)]


def fingerprint(scheme: Scheme, domain: Domain | str = "Q") -> Fingerprint:
    """The fingerprint over Q (or F_p: coefficients reduced mod p)."""
    dom = Domain.parse(domain)
    p = dom.p
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
    for arr, shaper in zip(factors, _shapers(scheme), strict=True):
        rows = [tuple(x if p else Fraction(x) for x in row) for row in arr.tolist()]
        keys = Counter(_normalised(r, p) for r in rows)
        records.append([(linalg.rank(shaper(row), p), keys[_normalised(row, p)] - 1) for row in rows])
    per_term = list(zip(*records, strict=True))
    candidates = []
    for order in _slot_orders(scheme.fmt):
        terms = tuple(sorted(tuple(t[i] for i in order) for t in per_term))
        profile = tuple(sorted(tuple(t[i][0] for i in order) for t in per_term))
        candidates.append((profile, terms))
    profile, terms = min(candidates)
    return Fingerprint(scheme.tensor.label(), dom.name if p else "Q", scheme.rank, profile, terms)


def compare(a: Scheme, b: Scheme, domain: Domain | str = "Q") -> tuple[bool, str]:
    """(possibly equivalent?, explanation) for two schemes of one target."""
    if a.tensor != b.tensor:
        return False, f"different targets {a.tensor.label()} and {b.tensor.label()}"
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


_SEARCH_LIMIT = 300_000  # (X, Y) pairs at most; beyond that the format is not "small"


def _group(n: int, p: int | None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Invertible n x n matrices with their inverses: all of GL(n, F_p), or over Q the integer
    matrices with entries in {-1, 0, 1} and determinant ±1 (their inverses are integral)."""
    values = range(p) if p else (-1, 0, 1)
    eye = np.eye(n, dtype=np.int64)
    out = []
    for entries in product(values, repeat=n * n):
        mat = np.array(entries, dtype=np.int64).reshape(n, n)
        solver = linalg.Solver(mat, p)
        if solver.rank < n:
            continue
        inv = solver.solve(eye)
        if not p:  # an integer matrix has an integer inverse exactly when det = ±1
            if any(x.denominator != 1 for x in inv.flat):  # type: ignore[union-attr]
                continue
            inv = inv.astype(np.int64)  # type: ignore[union-attr]
        out.append((mat, inv))
    return out


def _codes(mats: np.ndarray, p: int | None) -> np.ndarray:
    """One sortable code per factor (last two axes a matrix), up to a nonzero scalar."""
    flat = mats.reshape(*mats.shape[:-2], -1)
    if p:
        flat = flat % p
        lead = np.take_along_axis(flat, np.argmax(flat != 0, axis=-1)[..., None], axis=-1)
        inv = np.array([0] + [pow(x, -1, p) for x in range(1, p)], dtype=np.int64)
        flat = flat * inv[lead] % p
        base = p
    else:
        g = np.gcd.reduce(np.abs(flat), axis=-1)[..., None]
        g = np.where(g == 0, 1, g)
        lead = np.take_along_axis(flat, np.argmax(flat != 0, axis=-1)[..., None], axis=-1)
        flat = flat // g * np.where(lead < 0, -1, 1)
        base = 1 << 32  # one fixed base, so codes from different calls compare
        flat = flat + (base >> 1)
    weights = base ** np.arange(flat.shape[-1], dtype=object)
    return (flat.astype(object) * weights).sum(axis=-1)


def _transform(scheme: Scheme, x: tuple, y: tuple, z: tuple, p: int | None) -> Scheme:
    (xm, xi), (ym, yi), (zm, zi) = x, y, z
    n, m, q = scheme.fmt  # type: ignore[misc]
    u, v, w = (np.asarray(a, dtype=np.int64) for a in scheme.factors)
    nu = np.einsum("ji,tjk,lk->til", xm, u.reshape(-1, n, m), yi).reshape(u.shape[0], -1)
    nv = np.einsum("ji,tjk,lk->til", ym, v.reshape(-1, m, q), zi).reshape(v.shape[0], -1)
    c = w.reshape(-1, q, n).transpose(0, 2, 1)
    nc = np.einsum("ij,tjk,kl->til", xi, c, zm)
    nw = nc.transpose(0, 2, 1).reshape(w.shape[0], -1)
    if p:
        nu, nv, nw = nu % p, nv % p, nw % p
    return Scheme.from_arrays(scheme.fmt, nu, nv, nw, None, {}, check=False)


def find_isotropy(a: Scheme, b: Scheme, domain: Domain | str = "Q") -> dict | None:
    """An explicit symmetry mapping A onto B for small formats, or None when the search finds none.

    Searches the cyclic/transpose variants of A the format allows, then isotropies (X, Y, Z) from
    GL over F_p, or over Q from the integer matrices with entries in {-1,0,1} and det ±1 (so over
    Q a None is not a proof). Raises SchemeError when the format is too large to search. A target
    other than matmul assumes no symmetry beyond term order and scaling, so there the answer is
    exact: ``{"symmetry": "term order and scaling"}`` when A and B are the same terms, else None.
    """
    from flipforge.schemes.canonical import canonical_hash
    from flipforge.schemes.symmetry import rotate, transpose

    if a.tensor != b.tensor or a.rank != b.rank:
        return None
    dom = Domain.parse(domain)
    if a.fmt is None:
        same = canonical_hash(a, dom) == canonical_hash(b, dom)
        return {"symmetry": "term order and scaling", "X": None, "Y": None, "Z": None} if same else None
    p = dom.p
    if not p and not (a.is_integral and b.is_integral):
        raise SchemeError("the isotropy search over Q needs integer schemes")
    n, m, q = a.fmt
    groups = {k: _group(k, p) for k in {n, m, q}} if max(n, m, q) <= (3 if p == 2 else 2) else None
    if groups is None or len(groups[n]) * len(groups[m]) > _SEARCH_LIMIT:
        limit = "sides up to 3 over F2, 2 otherwise"
        raise SchemeError(f"{a.tensor.label()} is too large for the isotropy search ({limit})")
    target = canonical_hash(b, dom)
    bu = sorted(_codes(np.asarray(b.u, dtype=np.int64).reshape(-1, n, m), p).tolist())
    bv = sorted(_codes(np.asarray(b.v, dtype=np.int64).reshape(-1, m, q), p).tolist())
    variants = [("identity", a)]
    if n == m == q:
        variants += [("cyclic", rotate(a)), ("cyclic twice", rotate(rotate(a)))]
    if n == q:
        variants += [(f"transpose after {name}", transpose(s)) for name, s in list(variants)]
    for name, s in variants:
        su = np.asarray(s.u, dtype=np.int64).reshape(-1, n, m)
        sv = np.asarray(s.v, dtype=np.int64).reshape(-1, m, q)
        y_inv_t = np.stack([yi.T for _, yi in groups[m]])
        for x in groups[n]:
            xu = np.einsum("ji,tjk->tik", x[0], su)
            moved = np.einsum("tik,bkl->btil", xu, y_inv_t)
            codes = _codes(moved, p)
            for yk in range(len(groups[m])):
                if sorted(codes[yk].tolist()) != bu:
                    continue
                y = groups[m][yk]
                yv = np.einsum("ji,tjk->tik", y[0], sv)
                for z in groups[q]:
                    if sorted(_codes(np.einsum("tik,kl->til", yv, z[1].T), p).tolist()) != bv:
                        continue
                    if canonical_hash(_transform(s, x, y, z, p), dom) == target:
                        return {"symmetry": name, "X": x[0].tolist(), "Y": y[0].tolist(), "Z": z[0].tolist()}
    return None
