"""Exact validity of a scheme: do the Brent equations ``sum_r u_r ⊗ v_r ⊗ w_r = T`` hold in a domain?

Where a scheme is judged when no domain is given (``auto``): the domain its source claims (the
JSON ``domain``, a file-name token such as ``mod2`` or ``_ZT``, kept by the readers as
``Scheme.domain``, or as ``meta["claimed_domain"]`` when its coefficients cannot even be read
there), else the ring of its coefficients (ZT, Z or Q) — never a finite field the source did not
name. A scheme that fails in a ring but holds over F2 or F3 says so (``holds_over``).

The sum is computed with the cheapest arithmetic that is provably exact: float64 BLAS while the
largest possible partial sum stays below 2**53, int64 below 2**62, Python integers beyond. Rational
schemes are scaled to integers by the common denominator of each factor first; finite fields map
every coefficient to its residue (a/b becomes a·b⁻¹ mod p).

Complex schemes (coefficients in Q(i)) are judged over ``QI`` only, in exact integer arithmetic:
each factor is written (Re + Im·i)/d over one common denominator and the real and imaginary parts
of the sum are computed separately with int64 (or Python integers when the bound says so), never
with floats. A complex coefficient has no canonical image in Z, Q or F_p, so every other domain
reports it as a reason, never as a verdict computed in a friendlier ring.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from fractions import Fraction

import numpy as np
from flipforge.schemes import Domain, DomainError, Scheme, coefficient_class
from flipforge.schemes.coeffs import Gaussian, complex_scaled, gaussian, max_abs, residues

__all__ = [
    "VerifyResult",
    "verify",
    "valid_over",
    "auto_domain",
    "is_claimed",
    "verify_where_valid",
    "product_tensor",
    "CHECK_DOMAINS",
    "FIELDS",
]

CHECK_DOMAINS = ("F2", "F3", "Z", "Q")
FIELDS = ("F2", "F3")  # the fields a scheme that fails in its ring is also tried in, to say where it holds
_FLOAT_EXACT = 2**53
_INT64_SAFE = 2**62
_SHOW = 5


@dataclass(frozen=True)
class Failure:
    """One Brent equation that does not hold: the tensor entry, what the scheme gives, what it must."""

    index: tuple[int, int, int]
    name: str
    got: int | Fraction | Gaussian | str  # str: an element of GF4 or F9 by name (2+i)
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
    holds_over: tuple[str, ...] = ()  # where an invalid scheme holds instead (F2, F3; see verify's explain)

    def summary(self) -> str:
        """One phrase: ``VALID``; ``INVALID (why)``; or, for a scheme that fails in a ring but holds
        over a field, ``INVALID over Z (holds over F2 only): why``."""
        if self.valid:
            return "VALID"
        if self.reason:
            why = self.reason
        else:
            shown = ", ".join(str(f) for f in self.first)
            more = "" if self.failures <= len(self.first) else ", ..."
            fail = "Brent equation fails" if self.failures == 1 else "Brent equations fail"
            why = f"{self.failures} {fail}: {shown}{more}"
        if self.holds_over:
            *most, last = self.holds_over
            where = f"{', '.join(most)} and {last}" if most else last
            return f"INVALID over {self.domain} (holds over {where} only): {why}"
        return f"INVALID ({why})"


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


def _complex_sum(scheme: Scheme) -> tuple[np.ndarray, np.ndarray, int]:
    """``(Re, Im, d)`` with ``sum_r u_r ⊗ v_r ⊗ w_r = (Re + Im·i) / d``, in exact integer arithmetic
    (int64 when the largest possible partial sum is below 2**62, else Python integers)."""
    (ur, ui, du), (vr, vi, dv), (wr, wi, dw) = (complex_scaled(a) for a in scheme.factors)
    r = scheme.rank
    bounds = [max(max_abs(a) + max_abs(b), 1) for a, b in ((ur, ui), (vr, vi), (wr, wi))]
    kind = np.int64 if 4 * max(r, 1) * bounds[0] * bounds[1] * bounds[2] < _INT64_SAFE else object
    ur, ui, vr, vi, wr, wi = (a.astype(kind) for a in (ur, ui, vr, vi, wr, wi))
    shape = (ur.shape[1], vr.shape[1], wr.shape[1])
    vw_re = (vr[:, :, None] * wr[:, None, :] - vi[:, :, None] * wi[:, None, :]).reshape(r, -1)
    vw_im = (vr[:, :, None] * wi[:, None, :] + vi[:, :, None] * wr[:, None, :]).reshape(r, -1)
    re_part = (ur.T @ vw_re - ui.T @ vw_im).reshape(shape)
    im_part = (ur.T @ vw_im + ui.T @ vw_re).reshape(shape)
    return re_part, im_part, du * dv * dw


def product_tensor(scheme: Scheme, domain: Domain) -> tuple[np.ndarray, int] | str:
    """``(S, d)`` with ``sum_r u_r ⊗ v_r ⊗ w_r = S / d`` (S reduced mod p over F_p; over Q(i) an
    object array of ints and Gaussians), or why it is not defined."""
    if domain.is_complex:
        re_part, im_part, d = _complex_sum(scheme)
        out = np.empty(re_part.shape, dtype=object)
        out.flat[:] = [gaussian(int(a), int(b)) for a, b in zip(re_part.flat, im_part.flat, strict=True)]
        return out, d
    if scheme.is_complex or (scheme.domain is not None and scheme.domain.is_extension and domain != scheme.domain):
        return str(scheme.domain_problem(domain))
    if domain.is_extension:
        from flipforge.schemes.gfq import product

        problem = scheme.domain_problem(domain)
        return problem if problem else (product(*scheme.factors, domain.q), 1)  # type: ignore[arg-type]
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


def verify(scheme: Scheme, domain: Domain | str | None = None, *, explain: bool | None = None) -> VerifyResult:
    """Check every Brent equation exactly in ``domain`` (default: ``auto_domain``, the claimed
    domain, else the ring of the coefficients).

    With ``explain`` (default: when no domain is given) a scheme that fails in a ring is also
    checked over F2 and F3 (and in the ring of its coefficients when they do not fit ``domain``,
    such as a 2 claimed over ZT); where it holds comes back as ``holds_over``.
    """
    dom = Domain.parse(domain, extension=True) if domain is not None else auto_domain(scheme)
    result = _check(scheme, dom)
    explaining = domain is None if explain is None else explain
    if explaining and not result.valid and dom.p is None and not dom.is_extension:
        ring = coefficient_class(scheme)
        wider = (ring,) if scheme.domain_problem(dom) and scheme.domain_problem(Domain.parse(ring)) is None else ()
        holds = tuple(name for name in (*wider, *FIELDS) if _check(scheme, Domain.parse(name)).valid)
        if holds:
            result = replace(result, holds_over=holds)
    return result


def _failures(scheme: Scheme, bad: np.ndarray, got: Callable, want: Callable) -> list[Failure]:
    """The first failing Brent equations, named, with the sum found and the entry wanted."""
    names = scheme.tensor.entry_names()
    return [
        Failure((int(i), int(j), int(k)), f"{names[0][i]}*{names[1][j]}*{names[2][k]}", got(i, j, k), want(i, j, k))
        for i, j, k in bad[:_SHOW]
    ]


def _check_complex(scheme: Scheme, dom: Domain) -> VerifyResult:
    """The verdict over Q(i): the real part of the sum must be T and the imaginary part 0."""
    target = scheme.tensor.array
    re_part, im_part, d = _complex_sum(scheme)
    if re_part.shape != target.shape:
        return VerifyResult(False, dom, reason=f"factor widths give shape {re_part.shape}, tensor is {target.shape}")
    want = target.astype(object) * d if re_part.dtype == object else target * d
    bad = np.argwhere((re_part != want) | (im_part != 0))
    if len(bad) == 0:
        return VerifyResult(True, dom)
    first = _failures(
        scheme,
        bad,
        lambda i, j, k: gaussian(Fraction(int(re_part[i, j, k]), d), Fraction(int(im_part[i, j, k]), d)),
        lambda i, j, k: int(target[i, j, k]),
    )
    return VerifyResult(False, dom, failures=len(bad), first=first)


def _check_extension(scheme: Scheme, dom: Domain) -> VerifyResult:
    """The verdict over GF4 or F9: coefficients are element indices; the sum is taken with the
    field's tables and compared with the tensor's entries mapped through Z -> F_p ⊂ GF(q)."""
    from flipforge.schemes.gfq import element_name, from_integers, product

    problem = scheme.domain_problem(dom)
    if problem:
        return VerifyResult(False, dom, reason=problem)
    q = dom.q
    assert q is not None
    target = scheme.tensor.array
    s = product(*scheme.factors, q)
    if s.shape != target.shape:
        return VerifyResult(False, dom, reason=f"factor widths give shape {s.shape}, tensor is {target.shape}")
    want = from_integers(target, q)
    bad = np.argwhere(s != want)
    if len(bad) == 0:
        return VerifyResult(True, dom)
    first = _failures(scheme, bad, lambda i, j, k: element_name(q, s[i, j, k]), lambda i, j, k: int(want[i, j, k]))
    return VerifyResult(False, dom, failures=len(bad), first=first)


def _check(scheme: Scheme, dom: Domain) -> VerifyResult:
    """The verdict in exactly ``dom``."""
    if dom.is_complex:
        return _check_complex(scheme, dom)
    if dom.is_extension:
        return _check_extension(scheme, dom)
    got = product_tensor(scheme, dom)
    if isinstance(got, str):
        return VerifyResult(False, dom, reason=got)
    s, d = got
    target = scheme.tensor.array
    if s.shape != target.shape:
        return VerifyResult(False, dom, reason=f"factor widths give shape {s.shape}, tensor is {target.shape}")
    if dom.p is not None:
        want = np.mod(target, dom.p)
    elif d == 1:
        want = target
    else:  # exact for any denominator: beyond int64 the products are Python ints
        fits = d * max(max_abs(target), 1) < _INT64_SAFE
        want = target * d if fits else target.astype(object) * d
    bad = np.argwhere(s != want)
    if len(bad) == 0:
        return VerifyResult(True, dom)

    def got(i: int, j: int, k: int) -> int | Fraction:
        value = Fraction(int(s[i, j, k]), d)
        return int(value) if value.denominator == 1 else value

    def wanted(i: int, j: int, k: int) -> int:
        return int(target[i, j, k] % dom.p) if dom.p is not None else int(target[i, j, k])

    return VerifyResult(False, dom, failures=len(bad), first=_failures(scheme, bad, got, wanted))


def valid_over(scheme: Scheme, domains: tuple[str, ...] = CHECK_DOMAINS) -> list[str]:
    """The domains among F2, F3, Z and Q in which the scheme holds (and QI for a complex scheme,
    which holds nowhere else)."""
    if scheme.is_complex and domains == CHECK_DOMAINS:
        domains = (*domains, "QI")
    if scheme.domain is not None and scheme.domain.is_extension:
        domains = (scheme.domain.name,)  # element indices mean nothing in any other domain
    return [d for d in domains if verify(scheme, d).valid]


def is_claimed(scheme: Scheme) -> bool:
    """Whether the scheme's source named a domain (kept even when the coefficients cannot hold it)."""
    return scheme.domain is not None or bool(scheme.meta.get("claimed_domain"))


def auto_domain(scheme: Scheme) -> Domain:
    """The domain ``auto`` judges a scheme in: the one its source claims, else the ring of its
    coefficients (ZT, Z or Q), never a finite field that the source did not name."""
    if scheme.domain is not None:
        return scheme.domain
    claim = scheme.meta.get("claimed_domain")
    if claim:
        try:
            return Domain.parse(claim, extension=True)
        except DomainError:
            pass  # an unreadable claim in hand-written meta: judge by the coefficients
    return Domain.parse(coefficient_class(scheme))


def verify_where_valid(scheme: Scheme) -> VerifyResult:
    """For storing or lifting, not for judging a claim: the ``auto`` verdict, except that a scheme
    whose source claims nothing and which fails in its coefficient ring but holds over F2 or F3
    gets its passing verdict in that field. A claimed domain is always honoured."""
    result = verify(scheme)
    if result.valid or not result.holds_over or is_claimed(scheme):
        return result
    field_name = next((name for name in result.holds_over if name in FIELDS), None)
    return _check(scheme, Domain.parse(field_name)) if field_name else result
