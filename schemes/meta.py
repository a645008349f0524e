"""Format-changing moves on exact schemes of <n,m,p> (the meta flip graph's edges).

- extend: one more index in a dimension, covered by the naive terms of the new slice (rank +
  the slice's size);
- project: delete one index of a dimension (a restriction of the bilinear map), drop terms left
  with a zero factor and merge terms that then share two factors;
- merge: the direct sum of two schemes along a dimension (rank a + rank b);
- product: the Kronecker product <n1n2, m1m2, p1p2> (rank a · rank b);
- serendipitous product: the Kronecker product in which each *bud* of the first scheme (g terms
  sharing one factor up to scale) is multiplied with the second scheme's format widened g times
  (a bud on A is a <1,1,g> block: bud ⊠ <n2,m2,p2> is <n2,m2,g·p2>), through a scheme for that
  wider format when one of rank below g · rank b is at hand;
- permute: the cyclic and transpose symmetries, to any reordering of the format.

Every move maps a valid scheme to a valid one in the same ring; merges during ``project`` that
would leave the ring's coefficient set (ZT's {-1,0,1}) are skipped, so the result stays in it.
Axes are named by the dimension they change: ``n`` (rows of A and C), ``m`` (the inner one) and
``p`` (columns of B and C).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction
from itertools import combinations, permutations

import numpy as np

from .coeffs import exact_array
from .domain import Domain
from .errors import SchemeError
from .scheme import Scheme
from .symmetry import rotate, transpose
from .tensor import format_name

__all__ = [
    "AXES",
    "axis_index",
    "extend",
    "project",
    "merge",
    "product",
    "serendipitous",
    "buds",
    "permute_to",
    "merge_pairs",
    "reorderings",
]

AXES = ("n", "m", "p")


def axis_index(axis: str | int) -> int:
    """0, 1 or 2 for ``n``, ``m``, ``p`` (or the number itself)."""
    if isinstance(axis, int) and axis in (0, 1, 2):
        return axis
    if isinstance(axis, str) and axis.lower() in AXES:
        return AXES.index(axis.lower())
    raise SchemeError(f"unknown axis {axis!r}: use n (rows of A and C), m (inner) or p (columns of B and C)")


def _fmt(scheme: Scheme) -> tuple[int, int, int]:
    if scheme.fmt is None:
        raise SchemeError(f"meta moves act on matrix multiplication schemes, not {scheme.tensor.label()}")
    return scheme.fmt


def _common_domain(a: Scheme, b: Scheme) -> Domain | None:
    """The ring both schemes hold in, from their claims: equal claims, or a prime field with an
    integral or rational claim (whose coefficients it can read)."""
    da, db = a.domain, b.domain
    if da is None or db is None or da == db:
        return da or db
    for field, other, scheme in ((da, db, b), (db, da, a)):
        if field.p is not None and other.p is None and scheme.domain_problem(field) is None:
            return field
    order = ["ZT", "Z", "Q"]
    if da.name in order and db.name in order:
        return Domain.parse(max(da.name, db.name, key=order.index))
    raise SchemeError(f"the schemes hold in different rings ({da} and {db}); convert one first")


def _blocks(scheme: Scheme) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """u as (r, n, m) matrices A-shaped, v as (r, m, p), c as (r, n, p) (C, not Cᵀ)."""
    n, m, p = _fmt(scheme)
    r = scheme.rank
    u = scheme.u.astype(object).reshape(r, n, m)
    v = scheme.v.astype(object).reshape(r, m, p)
    c = scheme.w.astype(object).reshape(r, p, n).transpose(0, 2, 1)
    return u, v, c


def _assemble(fmt: tuple[int, int, int], parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> tuple:
    """Stack blocks (u, v, c) of several pieces into factor rows of ``fmt``."""
    n, m, p = fmt
    u, v, c = (np.concatenate([x[k] for x in parts]) for k in range(3))
    r = u.shape[0]
    return u.reshape(r, n * m), v.reshape(r, m * p), c.transpose(0, 2, 1).reshape(r, p * n)


def _embed(scheme: Scheme, fmt: tuple[int, int, int], at: tuple[int, int, int]) -> tuple:
    """The scheme's blocks placed in the bigger format with its index ranges starting at ``at``."""
    n, m, p = _fmt(scheme)
    i0, j0, k0 = at
    u, v, c = _blocks(scheme)
    r = scheme.rank
    bu = np.zeros((r, fmt[0], fmt[1]), dtype=object)
    bv = np.zeros((r, fmt[1], fmt[2]), dtype=object)
    bc = np.zeros((r, fmt[0], fmt[2]), dtype=object)
    bu[:, i0 : i0 + n, j0 : j0 + m] = u
    bv[:, j0 : j0 + m, k0 : k0 + p] = v
    bc[:, i0 : i0 + n, k0 : k0 + p] = c
    return bu, bv, bc


def _build(fmt: tuple[int, int, int], factors: tuple, domain: Domain | None, meta: dict) -> Scheme:
    u, v, w = (exact_array(x) for x in factors)
    return Scheme.from_arrays(fmt, u, v, w, domain, meta, check=True)


def merge(a: Scheme, b: Scheme, axis: str | int) -> Scheme:
    """The direct sum along ``axis``: <n1,m,p> and <n2,m,p> give <n1+n2,m,p> (and likewise for m,
    where C = A1·B1 + A2·B2, and p). The other two dimensions must agree."""
    ax = axis_index(axis)
    fa, fb = _fmt(a), _fmt(b)
    others = [d for d in range(3) if d != ax]
    if any(fa[d] != fb[d] for d in others):
        raise SchemeError(
            f"{format_name(fa)} and {format_name(fb)} differ outside axis {AXES[ax]}: a direct sum along "
            f"{AXES[ax]} needs the same {' and '.join(AXES[d] for d in others)}"
        )
    fmt = tuple(fa[d] + fb[d] if d == ax else fa[d] for d in range(3))
    at = tuple(fa[d] if d == ax else 0 for d in range(3))
    parts = [_embed(a, fmt, (0, 0, 0)), _embed(b, fmt, at)]  # type: ignore[arg-type]
    meta = {"move": f"merge along {AXES[ax]} of {format_name(fa)}:{a.rank} and {format_name(fb)}:{b.rank}"}
    return _build(fmt, _assemble(fmt, parts), _common_domain(a, b), meta)  # type: ignore[arg-type]


def extend(scheme: Scheme, axis: str | int) -> Scheme:
    """One more index along ``axis``, its slice covered by naive terms: <n,m,p> gives <n+1,m,p>
    with rank r + m·p (r + n·p along m, r + n·m along p)."""
    ax = axis_index(axis)
    fmt = _fmt(scheme)
    one = tuple(1 if d == ax else fmt[d] for d in range(3))
    naive = Scheme.naive(one)  # type: ignore[arg-type]
    naive = naive.with_domain(scheme.domain) if scheme.domain is not None else naive
    out = merge(scheme, naive, ax)
    return out.with_meta(move=f"extend {format_name(fmt)}:{scheme.rank} along {AXES[ax]}")


def product(a: Scheme, b: Scheme) -> Scheme:
    """The Kronecker product: a scheme for <n1n2, m1m2, p1p2> of rank ra·rb (entry (i1, i2) of a
    dimension is index i1·n2 + i2)."""
    fa, fb = _fmt(a), _fmt(b)
    fmt = (fa[0] * fb[0], fa[1] * fb[1], fa[2] * fb[2])
    (ua, va, ca), (ub, vb, cb) = _blocks(a), _blocks(b)
    us, vs, cs = [], [], []
    for s in range(a.rank):
        for t in range(b.rank):
            us.append(np.kron(ua[s], ub[t]))
            vs.append(np.kron(va[s], vb[t]))
            cs.append(np.kron(ca[s], cb[t]))
    parts = [(np.array(us, dtype=object), np.array(vs, dtype=object), np.array(cs, dtype=object))]
    meta = {"move": f"product of {format_name(fa)}:{a.rank} and {format_name(fb)}:{b.rank}"}
    return _build(fmt, _assemble(fmt, parts), _common_domain(a, b), meta)


# a bud sharing factor s (0: A, 1: B, 2: C) pairs the other two factors through this dimension
_BUD_AXIS = {0: 2, 1: 0, 2: 1}


def buds(scheme: Scheme, factor: int) -> list[list[tuple[int, Fraction]]]:
    """Groups of terms whose ``factor`` (0: u, 1: v, 2: w) is the same up to scale, as
    ``(term, scale)`` with the term's factor = scale · the group's first factor; groups of one
    included, in order of first appearance."""
    rows = scheme.factors[factor]
    groups: dict[tuple, list[tuple[int, Fraction]]] = {}
    p = scheme.domain.p if scheme.domain is not None else None
    for t in range(scheme.rank):
        row = [int(x) if isinstance(x, np.integer) else x for x in rows[t]]
        key = _normal(np.array([_mod(x, p) for x in row] if p else row, dtype=object), p)
        if key is None:
            continue
        groups.setdefault(key[0], []).append((t, key[1]))
    out = []
    for members in groups.values():
        lead = members[0][1]
        out.append([(t, lam / lead) for t, lam in members])
    return out


def _claimed(scheme: Scheme) -> Scheme:
    """The scheme with a ring claim: its own, else the smallest of ZT, Z, Q its coefficients fit."""
    if scheme.domain is not None:
        return scheme
    ring = next(d for d in ("ZT", "Z", "Q") if scheme.domain_problem(Domain.parse(d)) is None)
    return replace(scheme, domain=Domain.parse(ring))


def _widened(fb: tuple[int, int, int], factor: int, g: int) -> tuple[int, int, int]:
    d = _BUD_AXIS[factor]
    return tuple(fb[k] * g if k == d else fb[k] for k in range(3))  # type: ignore[return-value]


def _bud_times(a: Scheme, bud: list[tuple[int, Fraction]], factor: int, wide: Scheme, fb: tuple) -> tuple:
    """The bud's terms ⊠ the second scheme's tensor, through ``wide`` (a scheme for the widened
    format): blocks t of the widened dimension carry term t of the bud."""
    ua, va, ca = _blocks(a)
    uw, vw, cw = _blocks(wide)
    n2, m2, p2 = fb
    first = bud[0][0]
    us, vs, cs = [], [], []
    for s in range(wide.rank):
        if factor == 0:  # shared A: p split; blocks of B's columns and C's columns
            u = np.kron(ua[first], uw[s])
            v = sum(lam * np.kron(va[t], vw[s][:, i * p2 : (i + 1) * p2]) for i, (t, lam) in enumerate(bud))
            c = sum(np.kron(ca[t], cw[s][:, i * p2 : (i + 1) * p2]) for i, (t, _) in enumerate(bud))
        elif factor == 1:  # shared B: n split; blocks of A's rows and C's rows
            u = sum(lam * np.kron(ua[t], uw[s][i * n2 : (i + 1) * n2, :]) for i, (t, lam) in enumerate(bud))
            v = np.kron(va[first], vw[s])
            c = sum(np.kron(ca[t], cw[s][i * n2 : (i + 1) * n2, :]) for i, (t, _) in enumerate(bud))
        else:  # shared C: m split; blocks of A's columns and B's rows
            u = sum(lam * np.kron(ua[t], uw[s][:, i * m2 : (i + 1) * m2]) for i, (t, lam) in enumerate(bud))
            v = sum(np.kron(va[t], vw[s][i * m2 : (i + 1) * m2, :]) for i, (t, _) in enumerate(bud))
            c = np.kron(ca[first], cw[s])
        us.append(u)
        vs.append(v)
        cs.append(c)
    return np.array(us, dtype=object), np.array(vs, dtype=object), np.array(cs, dtype=object)


def serendipitous(a: Scheme, b: Scheme, wider: Callable[[tuple[int, int, int]], Scheme | None]) -> Scheme:
    """The Kronecker product of ``a`` and ``b`` with ``a``'s buds multiplied out together.

    ``wider(fmt)`` gives a valid scheme for a widened format of ``b`` (or None); a bud of g terms
    uses it when its rank is below g · rank b, else its terms are multiplied out one by one as in
    ``product``. Buds on A, B and C are tried in turn and the lowest rank is kept, so the result
    is never above the plain product. Valid whenever ``a``, ``b`` and the wider schemes are.
    """
    fa, fb = _fmt(a), _fmt(b)
    fmt = (fa[0] * fb[0], fa[1] * fb[1], fa[2] * fb[2])
    base = _common_domain(_claimed(a), _claimed(b))
    best: tuple[int, list, list[str], Domain | None] | None = None
    cache: dict[tuple[int, int, int], Scheme | None] = {}
    for factor in range(3):
        parts, used, domain = [], [], base
        rank = 0
        for bud in buds(a, factor):
            g = len(bud)
            wf = _widened(fb, factor, g)
            if g > 1 and wf not in cache:
                found = wider(wf)
                cache[wf] = found if found is not None and found.fmt == wf and found.rank < g * b.rank else None
            wide = cache.get(wf) if g > 1 else None
            if wide is not None:
                ring = _common_domain(replace(a, domain=domain), _claimed(wide))
                part = _bud_times(a, bud, factor, wide, fb)
                if _fits([x for block in part for x in block.flat], ring):  # ZT stays ZT, or plain
                    parts.append(part)
                    rank += wide.rank
                    domain = ring
                    used.append(f"{g} terms sharing {'uvw'[factor]} via {format_name(wf)}:{wide.rank}")
                    continue
            for t, _ in bud:
                parts.append(_bud_times(a, [(t, Fraction(1))], factor, b, fb))
            rank += g * b.rank
        if best is None or rank < best[0]:
            best = (rank, parts, used, domain)
    rank, parts, used, domain = best  # type: ignore[misc]
    meta = {
        "move": f"serendipitous product of {format_name(fa)}:{a.rank} and {format_name(fb)}:{b.rank}",
        "buds": "; ".join(used) or "none (the plain product)",
    }
    return _build(fmt, _assemble(fmt, parts), domain, meta)


def _mod(x: object, p: int) -> Fraction:
    """x mod p as a Fraction with denominator 1 (x's denominator is prime to p)."""
    q = Fraction(x)  # type: ignore[arg-type]
    return Fraction(q.numerator * pow(q.denominator, -1, p) % p)


def _normal(vec: np.ndarray, p: int | None) -> tuple[tuple, Fraction] | None:
    """(the vector divided by its first nonzero entry, that entry); None for a zero vector."""
    entries = [Fraction(x) for x in vec]
    lead = next((x for x in entries if x != 0), None)
    if lead is None:
        return None
    if p:
        return tuple(_mod(x / lead, p) for x in entries), lead
    return tuple(x / lead for x in entries), lead


def _fits(values: list, domain: Domain | None) -> bool:
    if domain is None or domain.name == "Q" or domain.p is not None:
        return True
    if any(Fraction(x).denominator != 1 for x in values):
        return False
    return domain.name != "ZT" or all(abs(x) <= 1 for x in values)


def merge_pairs(scheme: Scheme) -> Scheme:
    """Drop terms with a zero factor and merge pairs of terms that share two factors up to a
    scalar, until none is left (over a prime field in its arithmetic); a merge whose result would
    leave the claimed ring's coefficients (ZT: {-1,0,1}) is skipped."""
    dom = scheme.domain
    p = dom.p if dom is not None else None
    terms = [list(t) for t in zip(*(list(f.astype(object)) for f in scheme.factors), strict=True)]
    if p:
        terms = [[np.array([_mod(x, p) for x in f], dtype=object) for f in t] for t in terms]
    terms = [t for t in terms if all(any(x != 0 for x in f) for f in t)]
    keys = [[_normal(f, p) for f in t] for t in terms]  # kept in step with terms: each factor normalised once
    changed = True
    while changed:
        changed = False
        for s, t in combinations(range(len(terms)), 2):
            mine, other = keys[s], keys[t]
            same = [k for k in range(3) if mine[k][0] == other[k][0]]  # type: ignore[index]
            if len(same) < 2:
                continue
            k1, k2 = same[:2]
            k3 = 3 - k1 - k2
            # term t is term s's two shared factors times `ratio`: fold it into s's third factor
            ratio = other[k1][1] * other[k2][1] / (mine[k1][1] * mine[k2][1])  # type: ignore[index]
            folded = [x + ratio * y for x, y in zip(terms[s][k3], terms[t][k3], strict=True)]
            if p:
                folded = [_mod(x, p) for x in folded]
            if not _fits(folded, dom):
                continue
            del terms[t], keys[t]
            if any(x != 0 for x in folded):
                terms[s][k3] = np.array(folded, dtype=object)
                keys[s][k3] = _normal(terms[s][k3], p)
            else:
                del terms[s], keys[s]
            changed = True
            break
    i, j, k = scheme.tensor.shape
    if not terms:
        factors = (np.zeros((0, i), dtype=object), np.zeros((0, j), dtype=object), np.zeros((0, k), dtype=object))
    else:
        factors = tuple(np.array([t[f] for t in terms], dtype=object) for f in range(3))
    return Scheme.from_arrays(scheme.tensor, *factors, dom, dict(scheme.meta), check=True)


def project(scheme: Scheme, axis: str | int, index: int) -> Scheme:
    """Delete index ``index`` (0-based) of ``axis``: <n,m,p> gives <n-1,m,p>, with the terms
    left with a zero factor dropped and terms sharing two factors merged."""
    ax = axis_index(axis)
    fmt = _fmt(scheme)
    if fmt[ax] < 2:
        raise SchemeError(f"{format_name(fmt)} has a single index along {AXES[ax]}: nothing is left to project to")
    if not 0 <= index < fmt[ax]:
        raise SchemeError(f"index {index} is outside 0..{fmt[ax] - 1} along {AXES[ax]} of {format_name(fmt)}")
    u, v, c = _blocks(scheme)
    keep = [x for x in range(fmt[ax]) if x != index]
    if ax == 0:
        u, c = u[:, keep, :], c[:, keep, :]
    elif ax == 1:
        u, v = u[:, :, keep], v[:, keep, :]
    else:
        v, c = v[:, :, keep], c[:, :, keep]
    new = tuple(fmt[d] - (d == ax) for d in range(3))
    raw = _build(new, _assemble(new, [(u, v, c)]), scheme.domain, {})  # type: ignore[arg-type]
    out = merge_pairs(raw)
    return out.with_meta(move=f"project {format_name(fmt)}:{scheme.rank} along {AXES[ax]} (index {index})")


def permute_to(scheme: Scheme, fmt: tuple[int, int, int]) -> Scheme:
    """The scheme moved to another ordering of its format by the cyclic and transpose symmetries
    (<n,m,p> -> <m,p,n> and <p,m,n>)."""
    start = _fmt(scheme)
    if sorted(start) != sorted(fmt):
        raise SchemeError(f"{format_name(fmt)} is not a reordering of {format_name(start)}")
    frontier = [(scheme, "identity")]
    seen = {start}
    while frontier:
        s, how = frontier.pop(0)
        if s.fmt == tuple(fmt):
            return s.with_meta(move=f"permute {format_name(start)} to {format_name(fmt)} ({how})")
        for step, name in ((rotate, "cyclic"), (transpose, "transpose")):
            t = step(s)
            if t.fmt not in seen:
                seen.add(t.fmt)  # type: ignore[arg-type]
                frontier.append((t, name if how == "identity" else f"{how}, {name}"))
    raise SchemeError(f"no symmetry maps {format_name(start)} to {format_name(fmt)}")  # pragma: no cover


def reorderings(fmt: tuple[int, int, int]) -> list[tuple[int, int, int]]:
    """Every distinct ordering of a format's three sides."""
    return sorted(set(permutations(fmt)))  # type: ignore[arg-type]
