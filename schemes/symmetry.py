"""Symmetries of <n,m,p> that map valid schemes to valid schemes (DESIGN.md §2).

Isotropy (sandwich): with invertible X (n x n), Y (m x m), Z (p x p) every term's matrices
become ``U_r -> Xᵀ U_r Y⁻ᵀ``, ``V_r -> Yᵀ V_r Z⁻ᵀ``, ``C_r -> X⁻¹ C_r Z`` (C_r the n x p matrix of
the term's coefficients in C). Exact over Q (Fractions); integer matrices with det ±1 keep an
integer scheme integral.
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import numpy as np

from . import linalg
from .coeffs import exact_array
from .errors import SchemeError
from .scheme import Scheme

__all__ = ["exact_inverse", "isotropy", "scale_terms", "rotate", "transpose"]


def exact_inverse(mat: np.ndarray) -> np.ndarray:
    """The inverse of a square matrix over Q (object array of Fractions); SchemeError if singular."""
    return linalg.inverse(np.asarray(mat, dtype=object), None)


def isotropy(scheme: Scheme, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> Scheme:
    """The scheme transformed by the isotropy (X, Y, Z); valid iff the original is."""
    if scheme.fmt is None:
        raise SchemeError("isotropies are defined for matrix multiplication schemes")
    n, m, p = scheme.fmt
    x, y, z = (np.asarray(a, dtype=object) for a in (x, y, z))
    if x.shape != (n, n) or y.shape != (m, m) or z.shape != (p, p):
        raise SchemeError(f"isotropy of {n}x{m}x{p} needs X {n}x{n}, Y {m}x{m}, Z {p}x{p}")
    xi, yi, zi = exact_inverse(x), exact_inverse(y), exact_inverse(z)
    u, v, w = (a.astype(object) for a in scheme.factors)
    nu, nv, nw = [], [], []
    for t in range(scheme.rank):
        nu.append((x.T @ u[t].reshape(n, m) @ yi.T).reshape(-1))
        nv.append((y.T @ v[t].reshape(m, p) @ zi.T).reshape(-1))
        c = w[t].reshape(p, n).T
        nw.append((xi @ c @ z).T.reshape(-1))
    return replace(scheme, u=exact_array(nu), v=exact_array(nv), w=exact_array(nw)).with_meta(transformed="isotropy")


def scale_terms(scheme: Scheme, a: list, b: list) -> Scheme:
    """Multiply term t's u by a[t], v by b[t] and w by 1/(a[t] b[t]): the scheme stays valid."""
    ua = np.array([[Fraction(s) * c for c in row] for s, row in zip(a, scheme.u, strict=True)], dtype=object)
    vb = np.array([[Fraction(s) * c for c in row] for s, row in zip(b, scheme.v, strict=True)], dtype=object)
    wc = np.array(
        [[c / (Fraction(s) * Fraction(q)) for c in row] for s, q, row in zip(a, b, scheme.w, strict=True)], dtype=object
    )
    return replace(scheme, u=exact_array(ua), v=exact_array(vb), w=exact_array(wc))


def rotate(scheme: Scheme) -> Scheme:
    """The cyclic symmetry: (U, V, W) read as a scheme for <m,p,n> (the same tensor when n = m = p)."""
    if scheme.fmt is None:
        raise SchemeError("the cyclic symmetry is defined for matrix multiplication schemes")
    n, m, p = scheme.fmt
    return Scheme.from_arrays((m, p, n), scheme.v, scheme.w, scheme.u, scheme.domain, dict(scheme.meta), check=False)


def transpose(scheme: Scheme) -> Scheme:
    """C^T = B^T A^T: a scheme for <n,m,p> becomes one for <p,m,n>."""
    if scheme.fmt is None:
        raise SchemeError("the transpose symmetry is defined for matrix multiplication schemes")
    n, m, p = scheme.fmt
    u = np.array([row.reshape(m, p).T.reshape(-1) for row in scheme.v])  # A' = B^T (p x m)
    v = np.array([row.reshape(n, m).T.reshape(-1) for row in scheme.u])  # B' = A^T (m x n)
    w = np.array([row.reshape(p, n).T.reshape(-1) for row in scheme.w])  # C'^T = C (n x p)
    r = scheme.rank
    u, v, w = (a.reshape(r, -1) for a in (u, v, w))
    return Scheme.from_arrays((p, m, n), u, v, w, scheme.domain, dict(scheme.meta), check=False)
