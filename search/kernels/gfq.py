"""Flip-graph moves over a small field GF(q) (GF4, F9) as numba kernels on element-index arrays.

The bitplane kernels (``moves.py``) hold F2/F3 coefficients as bits; here a scheme is an int64
array ``f`` of shape (cap, 3, width) of element indices 0..q-1 (galois's integer representation,
see ``flipforge.schemes.gfq``), and the field is given by its tables ``add``, ``mul``, ``neg``,
``inv`` — passed as **arguments** to every kernel, never read from globals, so that cached
compiled code serves every field. The moves are those of ``moves.py``, generic in the scalar:

- flip: terms i, j with x_j = κ·x_i in one slot (κ ≠ 0):
  ``x⊗y_i⊗z_i + κx⊗y_j⊗z_j -> x⊗(y_i + λκ y_j)⊗z_i + κx⊗y_j⊗(z_j − λ z_i)``, λ ≠ 0 at random;
- reduction: a zero factor drops its term; two terms proportional in two slots merge
  (``x⊗y⊗z + κx⊗μy⊗z' -> x⊗y⊗(z + κμ z')``), cascading;
- plus transition (rank +1) on two terms with no proportional slot, term 2 rescaled at random:
  ``a1⊗b1⊗c1 + a2⊗b2⊗c2 = a1⊗(b1−b2)⊗c1 + a1⊗b2⊗(c1−c2) + (a1+a2)⊗b2⊗c2``.

Each (term, slot) keeps a key: the factor scaled to a leading 1, read as a base-q number (wrapping
for long factors; a key match is always confirmed entry by entry). ``st`` holds the rank, the flips
since the last new lowest rank and the xorshift random state, so a walk split into many calls is
the same walk as one call.

Scalars (λ of a flip, the rescaling in a plus transition) come from the prime subfield F_p, and
with probability ``wide``/1000 from all of GF(q). Over a larger field random factors almost never
coincide, so reductions become rare: measured from the naive <3,3,3>, a walk with wide = 5 stays
at rank 26-27 for 10M flips over GF4 where wide = 0 reaches 23 in 0.3-0.6M (see the README).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["RANK", "SINCE", "RNG", "NST", "new_state", "walk_gfq", "read_terms"]

RANK, SINCE, RNG, NST = 0, 1, 2, 3


@njit(cache=True)
def _rand_below(st: np.ndarray, n: int) -> int:
    """xorshift64 on st[RNG]; a number in [0, n)."""
    x = np.uint64(st[RNG])
    x ^= x << np.uint64(13)
    x ^= x >> np.uint64(7)
    x ^= x << np.uint64(17)
    st[RNG] = np.int64(x)
    return np.int64(x % np.uint64(n))


@njit(cache=True)
def _scalar(st: np.ndarray, q: int, p: int, wide: int) -> int:
    """A random nonzero scalar: from all of GF(q) with probability wide/1000, else from F_p (1..p-1)."""
    if wide >= 1000 or _rand_below(st, 1000) < wide:
        return 1 + _rand_below(st, q - 1)
    return 1 + _rand_below(st, p - 1)


@njit(cache=True)
def _key(f: np.ndarray, t: int, s: int, width: int, mul: np.ndarray, inv: np.ndarray, q: int) -> int:
    """The factor (t, s) scaled to a leading 1, as a base-q number (0 for the zero factor)."""
    c = 0
    for k in range(width):
        if f[t, s, k] != 0:
            c = inv[f[t, s, k]]
            break
    if c == 0:
        return 0
    h = 0
    for k in range(width):
        h = h * q + mul[c, f[t, s, k]] + 1
    return h


@njit(cache=True)
def _ratio(f: np.ndarray, i: int, j: int, s: int, width: int, mul: np.ndarray, inv: np.ndarray) -> int:
    """κ with f[j, s] = κ·f[i, s] (both nonzero), else 0."""
    kappa = 0
    for k in range(width):
        a, b = f[i, s, k], f[j, s, k]
        if (a == 0) != (b == 0):
            return 0
        if a != 0:
            if kappa == 0:
                kappa = mul[b, inv[a]]
            elif mul[kappa, a] != b:
                return 0
    return kappa


@njit(cache=True)
def _is_zero(f: np.ndarray, t: int, s: int, width: int) -> bool:
    seen = 0
    for k in range(width):
        seen |= f[t, s, k]
    return seen == 0


@njit(cache=True)
def _remove(f: np.ndarray, keys: np.ndarray, st: np.ndarray, t: int, pending: np.ndarray, npend: int) -> None:
    """Drop term t: the last term moves into its place (pending indices follow it)."""
    last = st[RANK] - 1
    for k in range(npend):
        if pending[k] == t:
            pending[k] = -1
    if t != last:
        f[t] = f[last]
        keys[t] = keys[last]
        for k in range(npend):
            if pending[k] == last:
                pending[k] = t
    st[RANK] = last


@njit(cache=True)
def _settle(
    f: np.ndarray,
    keys: np.ndarray,
    st: np.ndarray,
    widths: np.ndarray,
    add: np.ndarray,
    mul: np.ndarray,
    inv: np.ndarray,
    q: int,
    pending: np.ndarray,
    npend: int,
) -> None:
    """Apply every reduction the terms in ``pending`` take part in (merges can cascade)."""
    while npend > 0:
        npend -= 1
        t = pending[npend]
        if t < 0 or t >= st[RANK]:
            continue
        if _is_zero(f, t, 0, widths[0]) or _is_zero(f, t, 1, widths[1]) or _is_zero(f, t, 2, widths[2]):
            pending[npend] = -1
            _remove(f, keys, st, t, pending, npend)
            continue
        for j in range(st[RANK]):
            if j == t:
                continue
            same = 0
            free = -1
            scale = 1
            for s in range(3):
                if keys[j, s] == keys[t, s]:
                    kappa = _ratio(f, t, j, s, widths[s], mul, inv)
                    if kappa != 0:
                        same += 1
                        scale = mul[scale, kappa]
                        continue
                free = s
            if same < 2:
                continue
            if same == 3:  # t and j are proportional in all slots: merge along the third
                free = 2
                scale = mul[_ratio(f, t, j, 0, widths[0], mul, inv), _ratio(f, t, j, 1, widths[1], mul, inv)]
            # j = κx ⊗ μy ⊗ z_j = x ⊗ y ⊗ (κμ z_j): add it to t's free slot
            for k in range(widths[free]):
                f[t, free, k] = add[f[t, free, k], mul[scale, f[j, free, k]]]
            keys[t, free] = _key(f, t, free, widths[free], mul, inv, q)
            pending[npend] = t
            npend += 1
            _remove(f, keys, st, j, pending, npend)
            break
    return


@njit(cache=True)
def _flip(
    f: np.ndarray,
    keys: np.ndarray,
    st: np.ndarray,
    widths: np.ndarray,
    add: np.ndarray,
    mul: np.ndarray,
    neg: np.ndarray,
    inv: np.ndarray,
    q: int,
    pending: np.ndarray,
    p: int,
    wide: int,
) -> bool:
    """One random flip: a random (term, slot) that has partners and a random partner proportional
    there; False when 3·rank random (term, slot) had none."""
    rank = st[RANK]
    i = 0
    s = 0
    key = 0
    count = 0
    for _ in range(3 * rank):  # a random (term, slot) that has a partner: most do, some never will
        i = _rand_below(st, rank)
        s = _rand_below(st, 3)
        key = keys[i, s]
        for j in range(rank):
            if j != i and keys[j, s] == key:
                count += 1
        if count > 0:
            break
    if count == 0:
        return False
    pick = _rand_below(st, count)
    j = -1
    for k in range(rank):
        if k != i and keys[k, s] == key:
            if pick == 0:
                j = k
                break
            pick -= 1
    kappa = _ratio(f, i, j, s, widths[s], mul, inv)
    if kappa == 0:
        return False
    s1 = (s + 1) % 3
    s2 = (s + 2) % 3
    if _rand_below(st, 2) == 1:
        s1, s2 = s2, s1
    lam = _scalar(st, q, p, wide)
    c1 = mul[lam, kappa]
    c2 = neg[lam]
    for k in range(widths[s1]):
        f[i, s1, k] = add[f[i, s1, k], mul[c1, f[j, s1, k]]]
    for k in range(widths[s2]):
        f[j, s2, k] = add[f[j, s2, k], mul[c2, f[i, s2, k]]]
    keys[i, s1] = _key(f, i, s1, widths[s1], mul, inv, q)
    keys[j, s2] = _key(f, j, s2, widths[s2], mul, inv, q)
    pending[0] = i
    pending[1] = j
    _settle(f, keys, st, widths, add, mul, inv, q, pending, 2)
    return True


@njit(cache=True)
def _plus(
    f: np.ndarray,
    keys: np.ndarray,
    st: np.ndarray,
    widths: np.ndarray,
    add: np.ndarray,
    mul: np.ndarray,
    neg: np.ndarray,
    inv: np.ndarray,
    q: int,
    pending: np.ndarray,
    p: int,
    wide: int,
) -> bool:
    """Plus transition on two random terms with no proportional slot (rank +1); False when none
    was found in a few tries or the arena is full."""
    rank = st[RANK]
    if rank < 2 or rank >= f.shape[0]:
        return False
    for _ in range(16):
        i = _rand_below(st, rank)
        j = _rand_below(st, rank - 1)
        if j >= i:
            j += 1
        shared = False
        for s in range(3):
            if keys[i, s] == keys[j, s] and _ratio(f, i, j, s, widths[s], mul, inv) != 0:
                shared = True
        if shared:
            continue
        sa = _rand_below(st, 3)
        sb = (sa + 1 + _rand_below(st, 2)) % 3
        sc = 3 - sa - sb
        e1 = _scalar(st, q, p, wide)
        e2 = _scalar(st, q, p, wide)
        e3 = inv[mul[e1, e2]]
        # term j rewritten as (e1 a2) ⊗ (e2 b2) ⊗ (c2 / (e1 e2))
        for k in range(widths[sa]):
            f[j, sa, k] = mul[e1, f[j, sa, k]]
        for k in range(widths[sb]):
            f[j, sb, k] = mul[e2, f[j, sb, k]]
        for k in range(widths[sc]):
            f[j, sc, k] = mul[e3, f[j, sc, k]]
        t = rank
        for k in range(widths[sa]):  # new term: (a1 + a2) ⊗ b2 ⊗ c2
            f[t, sa, k] = add[f[i, sa, k], f[j, sa, k]]
        for k in range(widths[sb]):
            f[t, sb, k] = f[j, sb, k]
        for k in range(widths[sc]):
            f[t, sc, k] = f[j, sc, k]
        for k in range(widths[sb]):  # term i: a1 ⊗ (b1 - b2) ⊗ c1
            f[i, sb, k] = add[f[i, sb, k], neg[f[j, sb, k]]]
        for k in range(widths[sc]):  # term j: a1 ⊗ b2 ⊗ (c1 - c2)
            f[j, sc, k] = add[f[i, sc, k], neg[f[j, sc, k]]]
        for k in range(widths[sa]):
            f[j, sa, k] = f[i, sa, k]
        st[RANK] = rank + 1
        for s in range(3):
            for term in (i, j, t):
                keys[term, s] = _key(f, term, s, widths[s], mul, inv, q)
        pending[0] = i
        pending[1] = j
        pending[2] = t
        _settle(f, keys, st, widths, add, mul, inv, q, pending, 3)
        return True
    return False


@njit(cache=True)
def walk_gfq(
    f: np.ndarray,
    keys: np.ndarray,
    st: np.ndarray,
    widths: np.ndarray,
    add: np.ndarray,
    mul: np.ndarray,
    neg: np.ndarray,
    inv: np.ndarray,
    max_flips: int,
    target: int,
    plus_after: int,
    plus_delta: int,
    best: int,
    p: int,
    wide: int,
) -> int:
    """Walk until rank <= target or ``max_flips`` flip attempts; returns the attempts made.

    After ``plus_after`` attempts without a new lowest rank (below ``best``, the lowest this walker
    has known) it takes a plus transition, but only while the rank is below best + plus_delta;
    when many attempts in a row find no flippable pair it takes one regardless (or stops when
    even that is impossible).
    """
    q = add.shape[0]
    pending = np.full(4 * f.shape[0] + 8, -1, np.int64)
    flips = 0
    since = st[SINCE]
    misses = 0
    while flips < max_flips:
        rank = st[RANK]
        if rank <= target:
            break
        if since >= plus_after:
            since = 0
            if rank < best + plus_delta:
                _plus(f, keys, st, widths, add, mul, neg, inv, q, pending, p, wide)
        if _flip(f, keys, st, widths, add, mul, neg, inv, q, pending, p, wide):
            misses = 0
        else:
            misses += 1
            if misses > 8:
                misses = 0
                if not _plus(f, keys, st, widths, add, mul, neg, inv, q, pending, p, wide):
                    flips += 1
                    break
        flips += 1
        since += 1
        if st[RANK] < best:
            best = st[RANK]
            since = 0
    st[SINCE] = since
    return flips


@njit(cache=True)
def _all_keys(f: np.ndarray, keys: np.ndarray, rank: int, widths: np.ndarray, mul: np.ndarray, inv: np.ndarray) -> None:
    q = mul.shape[0]
    for t in range(rank):
        for s in range(3):
            keys[t, s] = _key(f, t, s, widths[s], mul, inv, q)


def new_state(
    u: np.ndarray, v: np.ndarray, w: np.ndarray, cap: int, seed: int, mul: np.ndarray, inv: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(f, keys, st, widths) for a walker on the scheme (u, v, w) of element indices, room for
    ``cap`` terms; ``seed`` starts the random stream (0 is replaced: xorshift needs a nonzero state)."""
    rank = u.shape[0]
    widths = np.array([u.shape[1], v.shape[1], w.shape[1]], dtype=np.int64)
    f = np.zeros((max(cap, rank + 1), 3, int(widths.max(initial=1))), dtype=np.int64)
    for s, a in enumerate((u, v, w)):
        f[:rank, s, : a.shape[1]] = a
    keys = np.zeros((f.shape[0], 3), dtype=np.int64)
    _all_keys(f, keys, rank, widths, mul, inv)
    st = np.zeros(NST, dtype=np.int64)
    st[RANK] = rank
    x = (int(seed) * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) % 2**64 or 1
    st[RNG] = x - 2**64 if x >= 2**63 else x
    return f, keys, st, widths


def read_terms(f: np.ndarray, st: np.ndarray, widths: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The walker's scheme as (u, v, w) element-index arrays (copies)."""
    rank = int(st[RANK])
    return tuple(f[:rank, s, : int(widths[s])].copy() for s in range(3))  # type: ignore[return-value]
