"""Coefficient domains: where a scheme is claimed (or checked) to be valid.

``F2``, ``F3``, ``F<p>`` (p prime), ``ZT`` (integers restricted to {-1, 0, 1}), ``Z``, ``Q`` and
``QI``, the Gaussian rationals Q(i) (also spelled ``Q(i)``), for complex schemes such as AlphaEvolve's,
and the two small extension fields ``GF4`` = F2[α]/(α²+α+1) and ``F9`` = F3[i]/(i²+1). Over GF4 and
F9 a coefficient is a field element in galois's integer representation, 0..q-1: the base-p digits
of the polynomial, so over F9 ``3b + a`` is a + b·i (3 is i, 5 is 2+i) and over GF4 ``2b + a`` is
a + b·α.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .errors import DomainError

__all__ = ["Domain", "is_prime", "MAX_FIELD_BITS", "F2", "F3", "ZT", "Z", "Q", "QI", "GF4", "F9", "EXTENSION_FIELDS"]

EXTENSION_FIELDS = {4: "GF4", 9: "F9"}
"""The non-prime finite fields flipforge works over, by order (see ``schemes/gfq.py``)."""
_EXTENSION_SPELLINGS = {"GF4": 4, "GF(4)": 4, "F9": 9, "GF9": 9, "GF(9)": 9}

MAX_FIELD_BITS = 63
"""Prime fields F_p are accepted for p < 2**MAX_FIELD_BITS: residues mod p are held as int64
(``coeffs.residues``, ``verify``). ``is_prime`` itself is fast for numbers of any size."""

_SMALL_PRIMES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97)
# Miller-Rabin with the prime bases 2..41 is exact below this bound (Sorenson and Webster, 2015).
_MR_DETERMINISTIC_BELOW = 3_317_044_064_679_887_385_961_981
_MR_BASES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41)


def _strong_probable_prime(n: int, a: int) -> bool:
    """Miller-Rabin round: is odd ``n > 2`` a strong probable prime to base ``a``?"""
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    x = pow(a, d, n)
    if x in (1, n - 1):
        return True
    for _ in range(s - 1):
        x = x * x % n
        if x == n - 1:
            return True
    return False


def _jacobi(a: int, n: int) -> int:
    """The Jacobi symbol (a/n) for odd n > 0."""
    a %= n
    result = 1
    while a:
        while a % 2 == 0:
            a //= 2
            if n % 8 in (3, 5):
                result = -result
        a, n = n, a
        if a % 4 == 3 and n % 4 == 3:
            result = -result
        a %= n
    return result if n == 1 else 0


def _strong_lucas_probable_prime(n: int) -> bool:
    """Strong Lucas test with Selfridge's parameters (method A) for odd n > 2 that is not a square."""
    d = 5
    while True:
        j = _jacobi(d, n)
        if j == -1:
            break
        if j == 0 and abs(d) != n:
            return False
        d = -d - 2 if d > 0 else -d + 2
    p, q = 1, (1 - d) // 4
    k, s = n + 1, 0
    while k % 2 == 0:
        k //= 2
        s += 1
    # U_k, V_k and Q^k mod n by binary expansion of k (left to right).
    u, v, qk = 1, p, q % n
    inv2 = (n + 1) // 2
    for bit in bin(k)[3:]:
        u, v = u * v % n, (v * v - 2 * qk) % n
        qk = qk * qk % n
        if bit == "1":
            u, v = (p * u + v) * inv2 % n, (d * u + p * v) * inv2 % n
            qk = qk * q % n
    if u == 0 or v == 0:
        return True
    for _ in range(s - 1):
        v = (v * v - 2 * qk) % n
        qk = qk * qk % n
        if v == 0:
            return True
    return False


def is_prime(n: int) -> bool:
    """Primality in well under a millisecond for any size a field can have.

    Below 3.3e24 the answer is proven: Miller-Rabin with the 13 prime bases 2..41 has no
    pseudoprime there (Sorenson and Webster 2015). Above it, Baillie-PSW (Miller-Rabin base 2 and
    a strong Lucas test): no composite passing it is known, though none is proven impossible.
    """
    if n < 2:
        return False
    for p in _SMALL_PRIMES:
        if n % p == 0:
            return n == p
    if n < _SMALL_PRIMES[-1] ** 2:
        return True
    if n < _MR_DETERMINISTIC_BELOW:
        return all(_strong_probable_prime(n, a) for a in _MR_BASES)
    if not _strong_probable_prime(n, 2):
        return False
    if math.isqrt(n) ** 2 == n:
        return False
    return _strong_lucas_probable_prime(n)


@dataclass(frozen=True)
class Domain:
    """A coefficient domain; ``p`` is the characteristic for prime fields, else None; ``q`` the
    order of an extension field (GF4, F9; ``p`` is None there: residues mod p do not apply)."""

    name: str
    p: int | None = None
    q: int | None = None

    @property
    def is_field(self) -> bool:
        """True for the prime fields F_p."""
        return self.p is not None

    @property
    def is_extension(self) -> bool:
        """True for GF4 and F9, whose coefficients are element indices 0..q-1."""
        return self.q is not None

    @property
    def is_complex(self) -> bool:
        """True for Q(i), where coefficients may have an imaginary part."""
        return self.name == "QI"

    @classmethod
    def parse(cls, text: str | Domain, *, extension: bool = False) -> Domain:
        """Read ``F2``, ``f3``, ``GF(7)``, ``F5``, ``ZT``, ``Z``, ``Q`` or ``QI`` (``Q(i)``, ``Q[i]``);
        with ``extension`` also ``GF4`` (``GF(4)``) and ``F9`` (``GF9``, ``GF(9)``); reject anything else.

        Extension fields are opt-in: only the code that knows their element indices (``verify``,
        native JSON, the ``flip-gfq`` searcher) asks for them, so no other command can misread a
        GF4 coefficient as an integer. ``F4`` is refused (4 is not prime; the field is spelled GF4)."""
        if isinstance(text, Domain):
            return text
        s = str(text).strip()
        up = s.upper()
        ext = _EXTENSION_SPELLINGS.get("".join(up.split()))
        if ext is not None:
            if not extension:
                raise DomainError(
                    f"{s}: the extension field {EXTENSION_FIELDS[ext]} is known to verify and the flip-gfq searcher "
                    "only; use F2, F3, F<p> for a prime p, ZT, Z, Q or QI here"
                )
            return cls(EXTENSION_FIELDS[ext], None, ext)
        if up in ("Z", "ZT", "Q"):
            return cls(up)
        if "".join(up.split()) in ("QI", "Q(I)", "Q[I]", "QQ(I)"):
            return cls("QI")
        m = re.fullmatch(r"(?:GF|F)\(?([0-9]+)\)?", up)
        if m:
            digits = m.group(1).lstrip("0") or "0"
            # Count digits first: int() of a huge string is slow, and Python refuses more than 4300 digits.
            p = int(digits) if len(digits) <= MAX_FIELD_BITS // 3 + 1 else 1 << MAX_FIELD_BITS
            shown = digits if len(digits) <= 40 else f"{digits[:20]}...{digits[-4:]}"
            if p.bit_length() > MAX_FIELD_BITS:
                raise DomainError(
                    f"F{shown}: prime fields F<p> are supported for p < 2^{MAX_FIELD_BITS} (residues are int64)"
                )
            if not is_prime(p):
                raise DomainError(f"F{shown} is not a prime field ({shown} is not prime); use F2, F3, F5, ...")
            return cls(f"F{p}", p)
        raise DomainError(f"unknown domain {s[:60]!r}: expected F2, F3, F<p> for a prime p, ZT, Z, Q or QI")

    def __str__(self) -> str:
        return self.name


F2 = Domain("F2", 2)
F3 = Domain("F3", 3)
ZT = Domain("ZT")
Z = Domain("Z")
Q = Domain("Q")
QI = Domain("QI")
GF4 = Domain("GF4", None, 4)
F9 = Domain("F9", None, 9)
