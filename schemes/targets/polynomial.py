"""Polynomial products ``pm-<d1><d2>``: the coefficients of a degree-d1 polynomial times a degree-d2 one.

The tensor is T[i, j, i + j] = 1 with shape (d1 + 1, d2 + 1, d1 + d2 + 1): the bilinear map of
polynomial (or integer, or convolution) multiplication that Karatsuba and Toom–Cook schemes compute.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from numbers import Integral

import numpy as np

from ..errors import TensorError
from .layout import Layout, Operand

__all__ = ["PolySpec", "parse_poly", "poly_layout", "poly_array"]

MAX_DEGREE = 63

_LOOKS_LIKE = re.compile(r"pm-([0-9x]+)")


@dataclass(frozen=True)
class PolySpec:
    """The product of a degree-``d1`` and a degree-``d2`` polynomial (degrees 0..63)."""

    d1: int
    d2: int

    def __post_init__(self) -> None:
        for field in ("d1", "d2"):
            d = getattr(self, field)
            if isinstance(d, bool) or not isinstance(d, Integral) or not 0 <= d <= MAX_DEGREE:
                raise TensorError(f"bad polynomial product {self.d1!r}, {self.d2!r}: degrees are 0 to {MAX_DEGREE}")
            object.__setattr__(self, field, int(d))

    @property
    def name(self) -> str:
        """The canonical name: ``pm-22``, or ``pm-10x3`` when a degree is >= 10."""
        if max(self.d1, self.d2) >= 10:
            return f"pm-{self.d1}x{self.d2}"
        return f"pm-{self.d1}{self.d2}"

    @property
    def shape(self) -> tuple[int, int, int]:
        """Coefficients of the two factors and of the product."""
        return self.d1 + 1, self.d2 + 1, self.d1 + self.d2 + 1


def parse_poly(text: str) -> PolySpec | None:
    """Read ``pm-22`` or ``pm-10x3``; None when the text is not ``pm-...``, TensorError when the
    degrees are malformed or out of range."""
    match = _LOOKS_LIKE.fullmatch(str(text).strip().lower())
    if match is None:
        return None
    degrees = match.group(1)
    if re.fullmatch(r"\d\d", degrees):
        d1, d2 = int(degrees[0]), int(degrees[1])
    elif re.fullmatch(r"\d+x\d+", degrees):
        d1, d2 = (int(d) for d in degrees.split("x"))
    else:
        raise TensorError(f"bad polynomial product {text!r}: expected two degrees like pm-22 or pm-10x3")
    return PolySpec(d1, d2)


def _coefficients(name: str, count: int) -> Operand:
    return Operand(name, 1, count, "p", tuple(((0, t, 1),) for t in range(count)))


@lru_cache(maxsize=256)
def poly_layout(spec: PolySpec) -> Layout:
    """Each index is one coefficient: ``a0..a{d1}``, ``b0..b{d2}``, ``c0..c{d1+d2}`` (row vectors)."""
    n_left, n_right, n_out = spec.shape
    return Layout(_coefficients("A", n_left), _coefficients("B", n_right), _coefficients("C", n_out))


@lru_cache(maxsize=256)
def poly_array(spec: PolySpec) -> np.ndarray:
    """The exact tensor T[i, j, i + j] = 1 (int64, read-only)."""
    t = np.zeros(spec.shape, dtype=np.int64)
    for i in range(spec.d1 + 1):
        for j in range(spec.d2 + 1):
            t[i, j, i + j] = 1
    t.setflags(write=False)
    return t
