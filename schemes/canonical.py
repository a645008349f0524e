"""A normal form of a scheme up to term order and the scaling of each term's factors.

``a⊗b⊗c = (λa)⊗(μb)⊗(c/(λμ))``: each term is rescaled so that its u and v are in a fixed
normal form (over F_p and over Q(i): first nonzero entry 1; over Z and Q: the primitive integer
vector with a positive first nonzero entry), then the terms are sorted. Two
schemes with the same hash are the same set of rank-one terms in the same domain. (The
finer equivalence under the symmetry group of <n,m,p> is the lifting/equivalence issue's.)

The tensor is part of the identity: a matmul scheme mixes in its format, any other target its
shape and a digest of its entries (never its name, which is often just ``tensor``).
"""

from __future__ import annotations

import hashlib
import math
from fractions import Fraction
from functools import reduce

import numpy as np

from .coeffs import Gaussian, gaussian, max_abs, parts, residues
from .domain import Domain
from .errors import SchemeError
from .scheme import Scheme
from .tensor import Tensor

__all__ = ["canonical_hash", "tensor_digest"]

_INT64_SAFE_P = 1 << 31
"""Below this prime, products of two residues fit in int64; above it the residues are Python ints."""


def tensor_digest(tensor: Tensor) -> str:
    """Hex digest of a target tensor's shape and entries (names ignored): equal iff the tensors are."""
    h = hashlib.sha256(f"{tensor.shape}|".encode())
    h.update(np.ascontiguousarray(tensor.array, dtype=np.int64).tobytes())
    return h.hexdigest()[:16]


def _first_nonzero(arr: np.ndarray) -> np.ndarray:
    return arr[np.arange(arr.shape[0]), np.argmax(arr != 0, axis=1)]


def _big_residues(arr: np.ndarray, p: int) -> np.ndarray | None:
    """Residues mod a large p as Python ints (int64 products would overflow)."""
    out = np.empty(arr.shape, dtype=object)
    for idx, x in enumerate(arr.flat):
        q = x if isinstance(x, Fraction) else Fraction(int(x))
        if q.denominator % p == 0:
            return None
        out.flat[idx] = q.numerator * pow(q.denominator, -1, p) % p
    return out


def _mod_p(scheme: Scheme, p: int) -> list[np.ndarray]:
    if p < _INT64_SAFE_P:
        u, v, w = (residues(a, p) for a in scheme.factors)
    else:
        u, v, w = (_big_residues(a, p) for a in scheme.factors)
    if u is None or v is None or w is None:
        raise SchemeError(f"a coefficient has a denominator divisible by {p}")
    inv = np.array([0] + [pow(x, -1, p) for x in range(1, p)], dtype=np.int64) if p < 1 << 16 else None
    for a in (u, v):
        lead = _first_nonzero(a)
        if inv is not None:
            scale = inv[lead]
        else:
            kind = object if p >= _INT64_SAFE_P else np.int64
            scale = np.array([pow(int(x), -1, p) if x else 0 for x in lead], dtype=kind)
        a[:] = (a * scale[:, None]) % p
        w[:] = (w * lead[:, None]) % p
    return [u, v, w]


def _mod_q(scheme: Scheme, q: int) -> list[np.ndarray]:
    """Rows over GF4 or F9 (element indices): u and v scaled to a leading 1, w by both leads."""
    from .gfq import index_problem, tables

    _, mul, _, inv = tables(q)
    for a in scheme.factors:
        problem = index_problem(a, q)
        if problem:
            raise SchemeError(problem)
    u, v, w = (np.asarray(a, dtype=np.int64).copy() for a in scheme.factors)
    for a in (u, v):
        lead = _first_nonzero(a)
        a[:] = mul[inv[lead][:, None], a]
        w[:] = mul[lead[:, None], w]
    return [u, v, w]


def _row_gcd(arr: np.ndarray) -> np.ndarray:
    if arr.dtype != object:
        return np.gcd.reduce(np.abs(arr), axis=1)
    return np.array([reduce(math.gcd, (abs(int(x)) for x in row), 0) for row in arr], dtype=object)


def _ring_form(scheme: Scheme) -> np.ndarray:
    """Rows (primitive u, primitive v, w' numerators, w' denominator) over Z or Q.

    u = λ·pu with pu the primitive integer vector whose first nonzero entry is positive (same
    for v); then the term is pu ⊗ pv ⊗ w' with w' = λu·λv·w, a rational row written in lowest
    terms over one positive denominator. This form is unique for each rank-one term.
    """
    (nu, du), (nv, dv), (nw, dw) = scheme.scaled
    bound = max(max_abs(nu), 1) * max(max_abs(nv), 1) * max(max_abs(nw), 1)
    big = bound >= 1 << 62 or du * dv * dw >= 1 << 62
    kind = object if big else np.int64
    nu, nv, nw = nu.astype(kind), nv.astype(kind), nw.astype(kind)
    scales = []
    for a in (nu, nv):
        g = _row_gcd(a)
        g = np.where(g == 0, 1, g) * np.where(_first_nonzero(a) < 0, -1, 1)
        a[:] = a // g[:, None]
        scales.append(g)
    num = nw * (scales[0] * scales[1])[:, None]
    den = du * dv * dw
    g = np.array([math.gcd(int(x), den) for x in _row_gcd(num)], dtype=kind)
    num = num // g[:, None]
    dens = (den // g).reshape(-1, 1).astype(kind)
    return np.concatenate([nu, nv, num, dens], axis=1)


def _complex_form(scheme: Scheme) -> list[tuple[str, ...]]:
    """Rows over Q(i): u and v divided by their first nonzero entry, w multiplied by both, every
    coefficient as its exact text (``1/2-i``); unique for each rank-one term."""
    rows = []
    for ur, vr, wr in zip(*scheme.factors, strict=True):
        u, v, w = ([gaussian(*parts(x)) for x in row] for row in (ur, vr, wr))
        for vec in (u, v):
            lead = next((x for x in vec if x != 0), 1)
            inv = lead.inverse() if isinstance(lead, Gaussian) else Fraction(1) / lead
            vec[:] = [x * inv for x in vec]
            w = [x * lead for x in w]
        rows.append(tuple(str(x) for x in (*u, *v, *w)))
    return rows


def canonical_hash(scheme: Scheme, domain: Domain | str) -> str:
    """Hex digest of the normal form in ``domain``, with the tensor's identity mixed in."""
    dom = Domain.parse(domain, extension=True)
    t = scheme.tensor
    ident = t.label() if t.fmt is not None else f"tensor:{tensor_digest(t)}"
    h = hashlib.sha256(f"{ident}|{t.shape}|{dom}|".encode())
    if dom.is_complex:
        h.update(repr(sorted(_complex_form(scheme))).encode())
        return h.hexdigest()[:32]
    if dom.is_extension:
        rows = np.concatenate(_mod_q(scheme, dom.q), axis=1)  # type: ignore[arg-type]
        rows = rows[np.lexsort(rows.T[::-1])] if rows.size else rows
        h.update(np.ascontiguousarray(rows, dtype=np.int64).tobytes())
        return h.hexdigest()[:32]
    rows = np.concatenate(_mod_p(scheme, dom.p), axis=1) if dom.p is not None else _ring_form(scheme)
    if rows.dtype == object:
        h.update(repr(sorted(tuple(int(x) for x in row) for row in rows)).encode())
    else:
        rows = rows[np.lexsort(rows.T[::-1])] if rows.size else rows
        h.update(np.ascontiguousarray(rows, dtype=np.int64).tobytes())
    return h.hexdigest()[:32]
