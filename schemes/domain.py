"""Coefficient domains: where a scheme is claimed (or checked) to be valid.

``F2``, ``F3``, ``F<p>`` (p prime), ``ZT`` (integers restricted to {-1, 0, 1}), ``Z`` and ``Q``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import DomainError

__all__ = ["Domain", "is_prime", "F2", "F3", "ZT", "Z", "Q"]


def is_prime(n: int) -> bool:
    """Deterministic primality for the small moduli a scheme search uses."""
    if n < 2:
        return False
    if n % 2 == 0:
        return n == 2
    f = 3
    while f * f <= n:
        if n % f == 0:
            return False
        f += 2
    return True


@dataclass(frozen=True)
class Domain:
    """A coefficient domain; ``p`` is the characteristic for prime fields, else None."""

    name: str
    p: int | None = None

    @property
    def is_field(self) -> bool:
        """True for the prime fields F_p."""
        return self.p is not None

    @classmethod
    def parse(cls, text: str | Domain) -> Domain:
        """Read ``F2``, ``f3``, ``GF(7)``, ``F5``, ``ZT``, ``Z`` or ``Q``; reject anything else."""
        if isinstance(text, Domain):
            return text
        s = str(text).strip()
        up = s.upper()
        if up in ("Z", "ZT", "Q"):
            return cls(up)
        m = re.fullmatch(r"(?:GF|F)\(?(\d+)\)?", up)
        if m:
            p = int(m.group(1))
            if not is_prime(p):
                raise DomainError(f"F{p} is not a prime field ({p} is not prime); use F2, F3, F5, ...")
            return cls(f"F{p}", p)
        raise DomainError(f"unknown domain {s!r}: expected F2, F3, F<p> for a prime p, ZT, Z or Q")

    def __str__(self) -> str:
        return self.name


F2 = Domain("F2", 2)
F3 = Domain("F3", 3)
ZT = Domain("ZT")
Z = Domain("Z")
Q = Domain("Q")
