"""The exact Scheme object: rank-r decomposition (U, V, W) of a target tensor over a domain."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import cached_property
from typing import Any

import numpy as np

from .coeffs import exact_array, is_complex, is_integral, scaled_integers
from .domain import Domain
from .errors import FormatError, SchemeError
from .tensor import Tensor, matmul_tensor, parse_target

__all__ = ["Scheme", "BUILTIN_PREFIX", "builtin_scheme"]

BUILTIN_PREFIX = "builtin:"


@dataclass(frozen=True, eq=False)
class Scheme:
    """``sum_r u_r ⊗ v_r ⊗ w_r`` claimed equal to ``tensor`` over ``domain``.

    ``u``, ``v``, ``w`` have one row per rank-one term (multiplication). For matrix
    multiplication ``u[r, i*m+j]`` multiplies A[i][j], ``v[r, j*p+k]`` B[j][k] and
    ``w[r, k*n+i]`` is the term's coefficient in C[i][k]. ``domain`` is where validity is
    claimed; None means the source did not say (the verifier then infers it).
    Construction never proves validity: that is ``flipforge.verify``'s job.
    """

    tensor: Tensor
    u: np.ndarray
    v: np.ndarray
    w: np.ndarray
    domain: Domain | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.domain, str):  # a name is read here once, so every later check sees a Domain
            object.__setattr__(self, "domain", Domain.parse(self.domain, extension=True))

    @classmethod
    def from_arrays(
        cls,
        tensor: Tensor | str | tuple[int, int, int],
        u: object,
        v: object,
        w: object,
        domain: Domain | str | None = None,
        meta: dict[str, Any] | None = None,
        check: bool = True,
    ) -> Scheme:
        """Build a scheme from nested lists or arrays (r rows each), converting coefficients exactly."""
        if isinstance(tensor, Tensor):
            t = tensor
        else:
            t = parse_target(tensor) if isinstance(tensor, str) else matmul_tensor(tensor)
        dom = Domain.parse(domain, extension=True) if domain is not None else None
        s = cls(t, exact_array(u, "u"), exact_array(v, "v"), exact_array(w, "w"), dom, dict(meta or {}))
        if check:
            s.check()
        return s

    def check(self) -> None:
        """Shapes agree with the tensor, and the claimed domain can hold every coefficient."""
        i, j, k = self.tensor.shape
        r = self.u.shape[0]
        for name, arr, width in (("u", self.u, i), ("v", self.v, j), ("w", self.w, k)):
            if arr.ndim != 2 or arr.shape[0] != r or arr.shape[1] != width:
                raise SchemeError(
                    f"{name} has shape {arr.shape}, expected ({r}, {width}) for {self.tensor.label()} at rank {r}"
                )
        if self.domain is not None:
            problem = self.domain_problem(self.domain)
            if problem:
                raise SchemeError(f"claimed domain {self.domain}: {problem}")

    def domain_problem(self, domain: Domain) -> str | None:
        """Why the coefficients cannot be read in ``domain`` (None when they can).

        A complex coefficient is readable in Q(i) only: no ring map from Q(i) to Z, Q or F_p is
        canonical, so a complex scheme is never judged in a friendlier ring."""
        if self.domain is not None and self.domain.is_extension and domain != self.domain:
            return f"the coefficients are element indices of {self.domain}, not numbers of {domain}"
        if domain.is_complex:
            return None
        if domain.is_extension:
            from .gfq import index_problem

            for arr in self.factors:
                problem = index_problem(arr, domain.q)  # type: ignore[arg-type]
                if problem:
                    return problem
            return None
        if self.is_complex:
            for arr in self.factors:
                if is_complex(arr):
                    bad = next(x for x in arr.flat if not isinstance(x, (int, Fraction)))
                    return f"coefficient {bad} is complex (the scheme is over Q(i))"
        if domain.name in ("Z", "ZT"):
            for arr in self.factors:
                if not is_integral(arr):
                    bad = next(x for x in arr.flat if isinstance(x, Fraction))
                    return f"coefficient {bad} is not an integer"
            if domain.name == "ZT":
                for arr in self.factors:
                    big = np.flatnonzero(np.abs(arr) > 1)
                    if big.size:
                        return f"coefficient {arr.flat[big[0]]} is not in {{-1, 0, 1}}"
        elif domain.p is not None:
            for arr in self.factors:
                if arr.dtype == object:
                    for x in arr.flat:
                        if isinstance(x, Fraction) and x.denominator % domain.p == 0:
                            return f"coefficient {x} has a denominator divisible by {domain.p}"
        return None

    @property
    def factors(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (self.u, self.v, self.w)

    @cached_property
    def scaled(self) -> tuple[tuple[np.ndarray, int], ...]:
        """Each factor as (integer array N, denominator d) with factor = N / d; cached."""
        return tuple(scaled_integers(a) for a in self.factors)

    @cached_property
    def is_complex(self) -> bool:
        """True when some coefficient has a nonzero imaginary part (the scheme lives in Q(i))."""
        return any(is_complex(a) for a in self.factors)

    @cached_property
    def is_integral(self) -> bool:
        """True when every coefficient is a (rational) integer; False for complex schemes."""
        if self.is_complex:
            return False
        return all(d == 1 for _, d in self.scaled)

    @property
    def rank(self) -> int:
        return int(self.u.shape[0])

    @property
    def fmt(self) -> tuple[int, int, int] | None:
        return self.tensor.fmt

    def with_domain(self, domain: Domain | str | None) -> Scheme:
        """The same coefficients with another claimed domain (checked)."""
        s = replace(self, domain=Domain.parse(domain, extension=True) if domain is not None else None)
        s.check()
        return s

    def with_meta(self, **meta: Any) -> Scheme:
        return replace(self, meta={**self.meta, **meta})

    def take_terms(self, order: list[int] | np.ndarray) -> Scheme:
        """The terms in the given order (a permutation, or a subset to drop terms)."""
        idx = np.asarray(order, dtype=np.int64)
        return replace(self, u=self.u[idx], v=self.v[idx], w=self.w[idx])

    @classmethod
    def naive(cls, target: Tensor | str | tuple[int, int, int]) -> Scheme:
        """The trivial decomposition. For matmul (a format, or a matmul Tensor) the schoolbook scheme
        of rank n*m*p, one product A[i][j]·B[j][k] per term, claimed over ZT; for any other target one
        term per nonzero fibre T[i, j, :], claimed over ZT when every entry is -1, 0 or 1."""
        if isinstance(target, str):
            target = parse_target(target)
        if isinstance(target, Tensor) and not target.is_matmul:
            i_idx, j_idx = np.nonzero(np.any(target.array != 0, axis=2))
            r = len(i_idx)
            u = np.zeros((r, target.shape[0]), np.int64)
            v = np.zeros((r, target.shape[1]), np.int64)
            u[np.arange(r), i_idx] = 1
            v[np.arange(r), j_idx] = 1
            w = target.array[i_idx, j_idx, :].astype(np.int64)
            claim = Domain("ZT") if target.is_named and np.abs(target.array).max(initial=0) <= 1 else None
            return cls(target, u, v, w, claim, {"name": "naive"})
        t = matmul_tensor(target.fmt if isinstance(target, Tensor) else target)  # type: ignore[arg-type]
        n, m, p = t.fmt  # type: ignore[misc]
        r = n * m * p
        u = np.zeros((r, n * m), dtype=np.int64)
        v = np.zeros((r, m * p), dtype=np.int64)
        w = np.zeros((r, p * n), dtype=np.int64)
        t_idx = 0
        for i in range(n):
            for j in range(m):
                for k in range(p):
                    u[t_idx, i * m + j] = v[t_idx, j * p + k] = w[t_idx, k * n + i] = 1
                    t_idx += 1
        return cls(t, u, v, w, Domain("ZT"), {"name": "naive"})

    @classmethod
    def strassen(cls) -> Scheme:
        """Strassen's <2,2,2> rank-7 scheme (1969), written out by hand."""
        # A = [[a11, a12], [a21, a22]] -> u index 0..3; same for B. C^T index: c11 0, c21 1, c12 2, c22 3.
        u = [[1, 0, 0, 1], [0, 0, 1, 1], [1, 0, 0, 0], [0, 0, 0, 1], [1, 1, 0, 0], [-1, 0, 1, 0], [0, 1, 0, -1]]
        v = [[1, 0, 0, 1], [1, 0, 0, 0], [0, 1, 0, -1], [-1, 0, 1, 0], [0, 0, 0, 1], [1, 1, 0, 0], [0, 0, 1, 1]]
        # M1 -> C11, C22; M2 -> C21, -C22; M3 -> C12, C22; M4 -> C11, C21; M5 -> -C11, C12; M6 -> C22; M7 -> C11
        w = [[1, 0, 0, 1], [0, 1, 0, -1], [0, 0, 1, 1], [1, 1, 0, 0], [-1, 0, 1, 0], [0, 0, 0, 1], [1, 0, 0, 0]]
        return cls.from_arrays((2, 2, 2), u, v, w, "ZT", {"name": "strassen"})

    @classmethod
    def strassen_winograd(cls) -> Scheme:
        """Winograd's variant of Strassen's <2,2,2> rank-7 scheme (15 additions after CSE), by hand."""
        # u: A11, A12, A11+A12-A21-A22, A22, A21+A22, -A11+A21+A22, A11-A21 (index a11 0, a12 1, a21 2, a22 3)
        u = [[1, 0, 0, 0], [0, 1, 0, 0], [1, 1, -1, -1], [0, 0, 0, 1], [0, 0, 1, 1], [-1, 0, 1, 1], [1, 0, -1, 0]]
        # v: B11, B21, B22, B11-B12-B21+B22, -B11+B12, B11-B12+B22, -B12+B22 (b11 0, b12 1, b21 2, b22 3)
        v = [[1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [1, -1, -1, 1], [-1, 1, 0, 0], [1, -1, 0, 1], [0, -1, 0, 1]]
        # C11 = M1+M2, C12 = M1+M3+M5+M6, C21 = M1-M4+M6+M7, C22 = M1+M5+M6+M7; C^T index: c11 0, c21 1, c12 2, c22 3
        w = [[1, 1, 1, 1], [1, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, 0], [0, 0, 1, 1], [0, 1, 1, 1], [0, 1, 0, 1]]
        return cls.from_arrays((2, 2, 2), u, v, w, "ZT", {"name": "strassen-winograd"})


def builtin_scheme(name: str) -> Scheme:
    """The scheme every command accepts by name: ``builtin:strassen``, ``builtin:winograd`` or
    ``builtin:naive:TARGET`` (any target name: ``3x3x3``, ``ug-444``, ``pm-22``); a FormatError
    names the choices for anything else."""
    spec = name[len(BUILTIN_PREFIX) :] if name.startswith(BUILTIN_PREFIX) else name
    if spec == "strassen":
        return Scheme.strassen()
    if spec == "winograd":
        return Scheme.strassen_winograd()
    if spec.startswith("naive:"):
        return Scheme.naive(spec[len("naive:") :])
    raise FormatError(f"unknown built-in {name!r}: use builtin:strassen, builtin:winograd or builtin:naive:TARGET")
