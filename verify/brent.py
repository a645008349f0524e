"""Exact validity of a scheme: do the Brent equations ``sum_r u_r ⊗ v_r ⊗ w_r = T`` hold in a domain?

The sum is computed with the cheapest arithmetic that is provably exact: float64 BLAS while the
largest possible partial sum stays below 2**53, int64 below 2**62, Python integers beyond. Rational
schemes are scaled to integers by the common denominator of each factor first; finite fields map
every coefficient to its residue (a/b becomes a·b⁻¹ mod p).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
from flipforge.schemes import Domain, Scheme
from flipforge.schemes.coeffs import max_abs, residues

__all__ = ["VerifyResult", "verify", "valid_over", "infer_domain", "product_tensor", "residues", "CHECK_DOMAINS"]

CHECK_DOMAINS = ("F2", "F3", "Z", "Q")
_FLOAT_EXACT = 2**53
_INT64_SAFE = 2**62
_SHOW = 5


@dataclass(frozen=True)
class Failure:
    """One Brent equation that does not hold: the tensor entry, what the scheme gives, what it must."""

    index: tuple[int, int, int]
    name: str
    got: int | Fraction
    want: int

    def __str__(self) -> str:
        return f"{self.name}: {self.got} != {self.want}"


@dataclass(frozen=True)
class VerifyResult:
    """The verdict for one scheme in one domain."""

    valid: bool
    domain: Domain
    failures: int = 0
    first: list[Failure] = field(default_factory=list)
    reason: str | None = None

    def summary(self) -> str:
        """One phrase: VALID, or INVALID with the reason or the failing equations."""
        if self.valid:
            return "VALID"
        if self.reason:
            return f"INVALID ({self.reason})"
        shown = ", ".join(str(f) for f in self.first)
        more = "" if self.failures <= len(self.first) else ", ..."
        return f"INVALID ({self.failures} Brent equations fail: {shown}{more})"


def _integer_sum(u: np.ndarray, v: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``sum_r u_r ⊗ v_r ⊗ w_r`` for integer factor arrays, exactly, as int64 or object."""
    r = u.shape[0]
    shape = (u.shape[1], v.shape[1], w.shape[1])
    if r == 0:
        return np.zeros(shape, dtype=np.int64)
    bound = r * max(max_abs(u), 1) * max(max_abs(v), 1) * max(max_abs(w), 1)
    if bound < _FLOAT_EXACT:
        vw = (v.astype(np.float64)[:, :, None] * w.astype(np.float64)[:, None, :]).reshape(r, -1)
        s = u.astype(np.float64).T @ vw
        return np.rint(s).astype(np.int64).reshape(shape)
    if bound < _INT64_SAFE:
        u64, v64, w64 = (a.astype(np.int64) for a in (u, v, w))
        vw = (v64[:, :, None] * w64[:, None, :]).reshape(r, -1)
        return (u64.T @ vw).reshape(shape)
    uo, vo, wo = (a.astype(object) for a in (u, v, w))
    vw = (vo[:, :, None] * wo[:, None, :]).reshape(r, -1)
    return (uo.T @ vw).reshape(shape)


def product_tensor(scheme: Scheme, domain: Domain) -> tuple[np.ndarray, int] | str:
    """``(S, d)`` with ``sum_r u_r ⊗ v_r ⊗ w_r = S / d`` (S reduced mod p over F_p), or why not defined."""
    if domain.p is not None:
        res = [residues(a, domain.p) for a in scheme.factors]
        if any(x is None for x in res):
            return f"a coefficient has a denominator divisible by {domain.p}"
        return np.mod(_integer_sum(*res), domain.p), 1  # type: ignore[arg-type]
    problem = scheme.domain_problem(domain)
    if problem:
        return problem
    (u, du), (v, dv), (w, dw) = scheme.scaled
    return _integer_sum(u, v, w), du * dv * dw


def verify(scheme: Scheme, domain: Domain | str | None = None) -> VerifyResult:
    """Check every Brent equation exactly in ``domain`` (default: the claimed or inferred one)."""
    if domain is None and scheme.domain is None:
        return _verify_inferred(scheme)
    dom = Domain.parse(domain) if domain is not None else scheme.domain
    got = product_tensor(scheme, dom)
    if isinstance(got, str):
        return VerifyResult(False, dom, reason=got)
    s, d = got
    target = scheme.tensor.array
    if s.shape != target.shape:
        return VerifyResult(False, dom, reason=f"factor widths give shape {s.shape}, tensor is {target.shape}")
    want = np.mod(target, dom.p) if dom.p is not None else target * d if d != 1 else target
    bad = np.argwhere(s != want)
    if len(bad) == 0:
        return VerifyResult(True, dom)
    names = scheme.tensor.entry_names()
    first = []
    for i, j, k in bad[:_SHOW]:
        val = s[i, j, k]
        value = Fraction(int(val), d) if d != 1 else int(val)
        first.append(
            Failure(
                (int(i), int(j), int(k)),
                f"{names[0][i]}*{names[1][j]}*{names[2][k]}",
                int(value) if isinstance(value, Fraction) and value.denominator == 1 else value,
                int(target[i, j, k] % dom.p) if dom.p is not None else int(target[i, j, k]),
            )
        )
    return VerifyResult(False, dom, failures=len(bad), first=first)


def valid_over(scheme: Scheme, domains: tuple[str, ...] = CHECK_DOMAINS) -> list[str]:
    """The domains among F2, F3, Z and Q in which the scheme holds."""
    return [d for d in domains if verify(scheme, d).valid]


def _verify_inferred(scheme: Scheme) -> VerifyResult:
    """Q for rational coefficients, Z for integers, unless it only holds over F2 or F3 (then that
    field). Invalid everywhere gives the Q/Z verdict, so the report names the failing equations."""
    if not scheme.is_integral:
        return verify(scheme, "Q")
    over_z = verify(scheme, "Z")
    if over_z.valid:
        return over_z
    for name in ("F2", "F3"):
        res = verify(scheme, name)
        if res.valid:
            return res
    return over_z


def infer_domain(scheme: Scheme) -> Domain:
    """The domain an unclaimed scheme is checked in (see ``verify`` with no domain)."""
    return _verify_inferred(scheme).domain
