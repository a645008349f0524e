"""Moves of the flip graph as numba kernels on a ``WalkState`` (DESIGN.md §2).

- flip: two terms share a factor a (up to a sign σ over F3/ZT):
  ``a⊗b⊗c + a⊗b'⊗c' -> a⊗(b+λσb')⊗c + a⊗b'⊗(c'-λc)``; rank unchanged.
- reduction: two terms sharing two factors merge (rank -1), a zero factor drops its term.
- plus transition: two terms with no common factor become three (rank +1).
- split: ``a⊗b⊗c -> a'⊗b⊗c + (a-a')⊗b⊗c`` with a' taken from another term (rank +1).

Every move keeps the tensor exactly; over ZT a move that would leave {-1,0,1} is refused.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .arith import F2, add_scaled
from .index import (
    CAP,
    DOM,
    HBITS,
    NDIRTY,
    NPAIRS,
    O_DIRTY,
    O_HB,
    O_HEAD,
    O_KN,
    O_KP,
    O_NXT,
    O_PAIRS,
    O_SG,
    RANK,
    append_term,
    factor,
    push_dirty,
    rand_below,
    remove_term,
    set_factor,
    shares,
)

__all__ = ["flip", "plus", "split", "reduce_pending"]

_ZERO = np.uint64(0)


@njit(cache=True, inline="always")
def _same_key(m: np.ndarray, s: int, i: int, j: int) -> bool:
    return m[m[O_KP] + 3 * i + s] == m[m[O_KP] + 3 * j + s] and m[m[O_KN] + 3 * i + s] == m[m[O_KN] + 3 * j + s]


@njit(cache=True, inline="always")
def _sign(m: np.ndarray, t: int, s: int) -> int:
    return m[m[O_SG] + 3 * t + s]


@njit(cache=True)
def _merge(m: np.ndarray, t: int) -> bool:
    """Merge t with one term that shares two of its factors; True when something changed."""
    dom = m[DOM]
    for s in range(3):
        k = m[m[O_HEAD] + (s << m[HBITS]) + m[m[O_HB] + 3 * t + s]]
        while k >= 0:
            if k != t and _same_key(m, s, t, k):
                for s2 in ((s + 1) % 3, (s + 2) % 3):
                    if not shares(m, s2, t, k):
                        continue
                    s3 = 3 - s - s2
                    alpha = _sign(m, t, s) * _sign(m, k, s) * _sign(m, t, s2) * _sign(m, k, s2)
                    tp, tn = factor(m, t, s3)
                    kp, kn = factor(m, k, s3)
                    p, n, ok = add_scaled(dom, tp, tn, alpha, kp, kn)
                    if not ok:
                        continue
                    if (p | n) == _ZERO:
                        remove_term(m, max(t, k))
                        remove_term(m, min(t, k))
                        return True
                    last = m[RANK] - 1
                    remove_term(m, k)
                    if t == last:
                        t = k
                    if set_factor(m, t, s3, p, n):
                        push_dirty(m, t)
                    return True
            k = m[m[O_NXT] + 3 * k + s]
    return False


@njit(cache=True)
def reduce_pending(m: np.ndarray) -> None:
    """Apply every reduction flagged by the last move (merges can cascade)."""
    while m[NDIRTY] > 0:
        d = m[NDIRTY] - 1
        t = m[m[O_DIRTY] + d]
        m[NDIRTY] = d
        if t >= 0:
            _merge(m, t)


@njit(cache=True)
def flip(m: np.ndarray) -> bool:
    """One random flip on a random flippable pair; False when refused (ZT overflow) or no pair."""
    npairs = m[NPAIRS]
    if npairs == 0:
        return False
    dom = m[DOM]
    k = rand_below(m, npairs * 8)
    bits = k & 7
    k >>= 3
    pairs = m[O_PAIRS]
    i, j, s = m[pairs + 3 * k], m[pairs + 3 * k + 1], m[pairs + 3 * k + 2]
    if bits & 1:
        i, j = j, i
    s1 = (s + 1) % 3
    s2 = (s + 2) % 3
    if bits & 2:
        s1, s2 = s2, s1
    sigma = _sign(m, i, s) * _sign(m, j, s)
    lam = -1 if (dom != F2 and bits & 4) else 1
    xp, xn = factor(m, i, s1)
    yp, yn = factor(m, j, s1)
    up, un = factor(m, j, s2)
    vp, vn = factor(m, i, s2)
    ap, an, ok1 = add_scaled(dom, xp, xn, lam * sigma, yp, yn)
    bp, bn, ok2 = add_scaled(dom, up, un, -lam, vp, vn)
    if not (ok1 and ok2):
        lam = -lam
        ap, an, ok1 = add_scaled(dom, xp, xn, lam * sigma, yp, yn)
        bp, bn, ok2 = add_scaled(dom, up, un, -lam, vp, vn)
        if not (ok1 and ok2):
            return False
    zi = (ap | an) == _ZERO
    zj = (bp | bn) == _ZERO
    if not zi and set_factor(m, i, s1, ap, an):
        push_dirty(m, i)
    if not zj and set_factor(m, j, s2, bp, bn):
        push_dirty(m, j)
    if zi and zj:
        remove_term(m, max(i, j))
        remove_term(m, min(i, j))
    elif zi:
        remove_term(m, i)
    elif zj:
        remove_term(m, j)
    if m[NDIRTY] > 0:
        reduce_pending(m)
    return True


@njit(cache=True, inline="always")
def _two_terms(m: np.ndarray, rank: int) -> tuple[int, int]:
    """Two distinct random live terms."""
    i = rand_below(m, rank)
    j = rand_below(m, rank - 1)
    return i, (j + 1 if j >= i else j)


@njit(cache=True)
def _neg_if(p: np.uint64, n: np.uint64, sign: int) -> tuple[np.uint64, np.uint64]:
    return (p, n) if sign > 0 else (n, p)


@njit(cache=True)
def plus(m: np.ndarray, tries: int = 16) -> bool:
    """Plus transition on two random terms with no common factor; False when none was possible.

    ``a1⊗b1⊗c1 + a2⊗b2⊗c2 = a1⊗(b1-b2)⊗c1 + a1⊗b2⊗(c1-c2) + (a1+a2)⊗b2⊗c2``,
    with the roles of the three slots and the signs of term 2 chosen at random.
    """
    rank = m[RANK]
    if rank < 2 or rank >= m[CAP]:
        return False
    dom = m[DOM]
    new_p = np.zeros(3, np.uint64)
    new_n = np.zeros(3, np.uint64)
    for _ in range(tries):
        i, j = _two_terms(m, rank)
        if shares(m, 0, i, j) or shares(m, 1, i, j) or shares(m, 2, i, j):
            continue
        r = rand_below(m, 24)
        sa = r % 3
        sb = (sa + 1 + (r // 3) % 2) % 3
        sc = 3 - sa - sb
        e1 = -1 if (dom != F2 and r & 8) else 1
        e2 = -1 if (dom != F2 and r & 16) else 1
        # term 2 written as (e1 a2) ⊗ (e2 b2) ⊗ (e1 e2 c2)
        p, n = factor(m, j, sa)
        a2p, a2n = _neg_if(p, n, e1)
        p, n = factor(m, j, sb)
        b2p, b2n = _neg_if(p, n, e2)
        p, n = factor(m, j, sc)
        c2p, c2n = _neg_if(p, n, e1 * e2)
        a1p, a1n = factor(m, i, sa)
        b1p, b1n = factor(m, i, sb)
        c1p, c1n = factor(m, i, sc)
        nbp, nbn, ok1 = add_scaled(dom, b1p, b1n, -1, b2p, b2n)
        ncp, ncn, ok2 = add_scaled(dom, c1p, c1n, -1, c2p, c2n)
        nap, nan, ok3 = add_scaled(dom, a1p, a1n, 1, a2p, a2n)
        if not (ok1 and ok2 and ok3):
            continue
        new_p[sa], new_n[sa] = nap, nan
        new_p[sb], new_n[sb] = b2p, b2n
        new_p[sc], new_n[sc] = c2p, c2n
        flag = set_factor(m, i, sb, nbp, nbn)
        flag |= set_factor(m, j, sa, a1p, a1n)
        flag |= set_factor(m, j, sb, b2p, b2n)
        flag |= set_factor(m, j, sc, ncp, ncn)
        if flag:
            push_dirty(m, i)
            push_dirty(m, j)
        if append_term(m, new_p, new_n):
            push_dirty(m, m[RANK] - 1)
        if m[NDIRTY] > 0:
            reduce_pending(m)
        return True
    return False


@njit(cache=True)
def split(m: np.ndarray, tries: int = 16) -> bool:
    """Split a random term along a factor borrowed from another term (rank +1)."""
    rank = m[RANK]
    if rank < 2 or rank >= m[CAP]:
        return False
    dom = m[DOM]
    new_p = np.zeros(3, np.uint64)
    new_n = np.zeros(3, np.uint64)
    for _ in range(tries):
        t, k = _two_terms(m, rank)
        s = rand_below(m, 3)
        if _same_key(m, s, t, k):
            continue
        xp, xn = factor(m, k, s)
        tp, tn = factor(m, t, s)
        rp, rn, ok = add_scaled(dom, tp, tn, -1, xp, xn)
        if not ok:
            continue
        for q in range(3):
            new_p[q], new_n[q] = factor(m, t, q)
        new_p[s], new_n[s] = rp, rn
        set_factor(m, t, s, xp, xn)
        append_term(m, new_p, new_n)
        return True
    return False
