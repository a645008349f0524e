"""Scheme metrics: rank, nonzeros, naive additions, omega and coefficient class."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .coeffs import is_integral, max_abs
from .domain import Domain
from .scheme import Scheme

__all__ = ["Metrics", "metrics", "naive_additions", "coefficient_class", "nonzero_mask"]


def nonzero_mask(arr: np.ndarray, domain: Domain | None = None) -> np.ndarray:
    """Which coefficients are nonzero, read in ``domain`` (a 2 is zero over F2)."""
    if domain is not None and domain.p is not None:
        p = domain.p
        if arr.dtype == object:
            return np.array([(x.numerator % p) != 0 for x in (_as_q(y) for y in arr.flat)], dtype=bool).reshape(
                arr.shape
            )
        return (arr % p) != 0
    return arr != 0


def _as_q(x: object):
    from fractions import Fraction

    return x if isinstance(x, Fraction) else Fraction(int(x))  # type: ignore[arg-type]


def naive_additions(scheme: Scheme, domain: Domain | None = None) -> int:
    """Additions of the scheme as written: (nnz-1) per linear form of A, of B, and per output of C."""
    nz = [nonzero_mask(a, domain or scheme.domain) for a in scheme.factors]
    per_term = sum(int(np.maximum(m.sum(axis=1) - 1, 0).sum()) for m in nz[:2])
    per_output = int(np.maximum(nz[2].sum(axis=0) - 1, 0).sum())
    return per_term + per_output


def coefficient_class(scheme: Scheme) -> str:
    """``ZT`` when every coefficient is in {-1,0,1}, ``Z`` when all are integers, ``QI`` when some
    coefficient is complex, else ``Q``."""
    if scheme.is_complex:
        return "QI"
    if not all(is_integral(a) for a in scheme.factors):
        return "Q"
    if all(max_abs(a) <= 1 for a in scheme.factors):
        return "ZT"
    return "Z"


def omega(scheme: Scheme) -> float | None:
    """The exponent 3·log(r)/log(n·m·p) reached by recursive use (None for non-matmul or 1x1x1)."""
    if scheme.fmt is None:
        return None
    size = math.prod(scheme.fmt)
    if size <= 1 or scheme.rank < 1:
        return None
    return 3 * math.log(scheme.rank) / math.log(size)


@dataclass(frozen=True)
class Metrics:
    rank: int
    nnz: tuple[int, int, int]
    additions_naive: int
    omega: float | None
    coefficients: str


def metrics(scheme: Scheme) -> Metrics:
    """Every metric at once (nonzeros read in the scheme's claimed domain)."""
    nnz = tuple(int(nonzero_mask(a, scheme.domain).sum()) for a in scheme.factors)
    return Metrics(scheme.rank, nnz, naive_additions(scheme), omega(scheme), coefficient_class(scheme))  # type: ignore[arg-type]
