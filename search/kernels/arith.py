"""Coefficient arithmetic on packed factors: one uint64 bitplane pair (pos, neg) per factor.

Bit e of ``pos`` is set when entry e is +1, bit e of ``neg`` when it is -1 (over F3, -1 is 2).
Over F2 ``neg`` is always 0 and addition is XOR. Over ZT (integers in {-1,0,1}) a sum that
would leave {-1,0,1} is refused (``ok`` is False), which is how ZT walks reject moves.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..params import DOMAIN_CODES, F2, F3, ZT

__all__ = ["F2", "F3", "ZT", "DOMAIN_CODES", "add", "add_scaled", "sign_key", "mix_hash"]


_ZERO = np.uint64(0)
_ONE = np.uint64(1)
_K1 = np.uint64(0x9E3779B97F4A7C15)
_K2 = np.uint64(0xC2B2AE3D27D4EB4F)


@njit(cache=True, inline="always")
def add(dom: int, xp: np.uint64, xn: np.uint64, yp: np.uint64, yn: np.uint64) -> tuple[np.uint64, np.uint64, bool]:
    """x + y in the domain; ``ok`` is False only over ZT when an entry would become ±2."""
    if dom == F2:
        return xp ^ yp, _ZERO, True
    if dom == F3:
        xz = ~(xp | xn)
        yz = ~(yp | yn)
        rp = (xp & yz) | (yp & xz) | (xn & yn)
        rn = (xn & yz) | (yn & xz) | (xp & yp)
        return rp, rn, True
    if (xp & yp) | (xn & yn):
        return _ZERO, _ZERO, False
    xs = xp | yp
    ys = xn | yn
    return xs & ~ys, ys & ~xs, True


@njit(cache=True, inline="always")
def add_scaled(
    dom: int, xp: np.uint64, xn: np.uint64, lam: int, yp: np.uint64, yn: np.uint64
) -> tuple[np.uint64, np.uint64, bool]:
    """x + lam*y for lam = ±1 (over F2, -y = y)."""
    if lam < 0 and dom != F2:
        return add(dom, xp, xn, yn, yp)
    return add(dom, xp, xn, yp, yn)


@njit(cache=True, inline="always")
def sign_key(dom: int, p: np.uint64, n: np.uint64) -> tuple[np.uint64, np.uint64, int]:
    """(key_pos, key_neg, sign) with value = sign * key and the key's lowest nonzero entry +1.

    Two factors equal up to sign get the same key, which is what flips over F3/ZT need.
    """
    if dom == F2:
        return p, _ZERO, 1
    s = p | n
    low = s & (~s + _ONE)
    if n & low:
        return n, p, -1
    return p, n, 1


@njit(cache=True, inline="always")
def mix_hash(p: np.uint64, n: np.uint64, bits: int) -> int:
    """Bucket index in [0, 2**bits) for a key."""
    h = (p * _K1) ^ (n * _K2)
    h ^= h >> np.uint64(29)
    h *= _K1
    return int(h >> np.uint64(64 - bits))
