"""Pareto fronts: the schemes no other scheme beats in every respect (the paper's selection)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import TypeVar

from .scheme import Scheme

__all__ = ["pareto_front", "largest_denominator"]

T = TypeVar("T")


def pareto_front(items: Sequence[T], key: Callable[[T], tuple]) -> list[T]:
    """The items whose objectives (``key``, each minimised) no other item dominates: another item
    dominates when it is at most as large in every objective and smaller in one. Ties all stay."""
    keys = [key(x) for x in items]

    def dominated(i: int) -> bool:
        return any(
            all(a <= b for a, b in zip(other, keys[i], strict=True)) and other != keys[i]
            for j, other in enumerate(keys)
            if j != i
        )

    return [x for i, x in enumerate(items) if not dominated(i)]


def largest_denominator(scheme: Scheme) -> int:
    """The largest denominator of any coefficient (1 for an integer scheme)."""
    dens = [x.denominator for f in scheme.factors if f.dtype == object for x in f.flat if isinstance(x, Fraction)]
    return max(dens, default=1)
