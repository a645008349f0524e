"""The walk state: packed factors plus the incremental indexes that make a flip O(bucket size).

For each slot (u, v, w) a chained hash maps a factor's sign-normalised key to the terms that
carry it (doubly linked through NXT/PRV). Every pair of terms that share a factor (up to sign
over F3/ZT) sits in PAIRS, with its position in PPOS so it can be removed in O(1); a random
flippable pair is one random index. Changing one factor touches only its old and new buckets;
nothing ever rescans all pairs.

The whole state lives in one int64 array (an arena: a header, then the fields at offsets the
header records). One array instead of fourteen matters: numba reference-counts every array
that crosses a function boundary, and with fourteen that bookkeeping cost more than the flip.
Bitplanes are stored as int64 and reinterpreted as uint64 for arithmetic.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .arith import mix_hash, sign_key

__all__ = [
    "new_arena",
    "load",
    "read_factors",
    "set_factor",
    "remove_term",
    "append_term",
    "push_dirty",
    "rand_below",
    "factor",
]

# header fields
RANK, NPAIRS, DOM, HBITS, CAP, NDIRTY, RNG = 0, 1, 2, 3, 4, 5, 6
SINCE, WAIT = 7, 20  # the walk's flips since its last new lowest rank, and its current plus wait
O_FP, O_FN, O_KP, O_KN, O_SG, O_HB, O_NXT, O_PRV, O_HEAD, O_PAIRS, O_PPOS, O_DIRTY = range(8, 20)
HEADER = 24
DIRTY_MAX = 64


def new_arena(fp: np.ndarray, fn: np.ndarray, dom: int, cap: int, seed: int) -> np.ndarray:
    """Lay out and index a packed scheme (rows = terms, columns = slots) with room for ``cap`` terms."""
    rank = fp.shape[0]
    cap = max(cap, rank, 2)
    bits = max(4, int(np.ceil(np.log2(4 * cap))))
    sizes = [
        (O_FP, 3 * cap),
        (O_FN, 3 * cap),
        (O_KP, 3 * cap),
        (O_KN, 3 * cap),
        (O_SG, 3 * cap),
        (O_HB, 3 * cap),
        (O_NXT, 3 * cap),
        (O_PRV, 3 * cap),
        (O_HEAD, 3 << bits),
        (O_PAIRS, 3 * (3 * cap * (cap - 1) // 2 + 1)),
        (O_PPOS, 3 * cap * cap),
        (O_DIRTY, DIRTY_MAX),
    ]
    offset = HEADER
    layout = {}
    for field, size in sizes:
        layout[field] = offset
        offset += size
    m = np.zeros(offset, np.int64)
    for field, off in layout.items():
        m[field] = off
    m[layout[O_HEAD] : layout[O_HEAD] + (3 << bits)] = -1
    m[layout[O_PPOS] : layout[O_PPOS] + 3 * cap * cap] = -1
    m[DOM] = dom
    m[HBITS] = bits
    m[CAP] = cap
    m[RNG] = _seed_state(seed)
    load(m, np.ascontiguousarray(fp).view(np.int64), np.ascontiguousarray(fn).view(np.int64))
    return m


def _seed_state(seed: int) -> int:
    """A nonzero xorshift state (as int64) from any integer seed (splitmix64 finaliser)."""
    mask = 0xFFFFFFFFFFFFFFFF
    z = (int(seed) * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    z = (z ^ (z >> 31)) or 1
    return z - (1 << 64) if z >= 1 << 63 else z


def read_factors(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Copies of the live terms' bitplanes as uint64 (rank, 3) arrays."""
    r = int(m[RANK])
    fp = m[m[O_FP] : m[O_FP] + 3 * r].reshape(r, 3).view(np.uint64).copy()
    fn = m[m[O_FN] : m[O_FN] + 3 * r].reshape(r, 3).view(np.uint64).copy()
    return fp, fn


@njit(cache=True)
def load(m: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> None:
    """Replace the walker's scheme by another one (int64 views of the bitplanes), reusing the arena."""
    cap = m[CAP]
    pairs = m[O_PAIRS]
    ppos = m[O_PPOS]
    for k in range(m[NPAIRS]):
        a, b, s = m[pairs + 3 * k], m[pairs + 3 * k + 1], m[pairs + 3 * k + 2]
        m[ppos + (s * cap + a) * cap + b] = -1
    for t in range(m[RANK]):
        for s in range(3):
            m[m[O_HEAD] + (s << m[HBITS]) + m[m[O_HB] + 3 * t + s]] = -1
    m[NPAIRS] = 0
    m[NDIRTY] = 0
    m[SINCE] = 0
    m[WAIT] = 0
    rank = fp.shape[0]
    for t in range(rank):
        for s in range(3):
            m[m[O_FP] + 3 * t + s] = fp[t, s]
            m[m[O_FN] + 3 * t + s] = fn[t, s]
    m[RANK] = rank
    for t in range(rank):
        for s in range(3):
            _link(m, t, s)


@njit(cache=True, inline="always")
def factor(m: np.ndarray, t: int, s: int) -> tuple[np.uint64, np.uint64]:
    """The (pos, neg) bitplanes of factor s of term t."""
    return np.uint64(m[m[O_FP] + 3 * t + s]), np.uint64(m[m[O_FN] + 3 * t + s])


@njit(cache=True, inline="always")
def rand_below(m: np.ndarray, n: int) -> int:
    """An integer in [0, n) from the walker's xorshift64* stream."""
    x = np.uint64(m[RNG])
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    m[RNG] = np.int64(x)
    return int((x * np.uint64(2685821657736338717)) >> np.uint64(33)) % n


@njit(cache=True, inline="always")
def _link(m: np.ndarray, t: int, s: int) -> bool:
    """Put factor (t, s) into its bucket and pair it with equal factors.

    Returns True when some term now shares two factors with t (a reduction is possible).
    """
    ts = 3 * t + s
    p, n, sign = sign_key(m[DOM], np.uint64(m[m[O_FP] + ts]), np.uint64(m[m[O_FN] + ts]))
    kp = np.int64(p)
    kn = np.int64(n)
    okp = m[O_KP]
    okn = m[O_KN]
    nxt = m[O_NXT]
    m[okp + ts] = kp
    m[okn + ts] = kn
    m[m[O_SG] + ts] = sign
    b = mix_hash(p, n, m[HBITS])
    m[m[O_HB] + ts] = b
    hslot = m[O_HEAD] + (s << m[HBITS]) + b
    first = m[hslot]
    m[nxt + ts] = first
    m[m[O_PRV] + ts] = -1
    if first >= 0:
        m[m[O_PRV] + 3 * first + s] = t
    m[hslot] = t
    cap = m[CAP]
    ppos = m[O_PPOS]
    pairs = m[O_PAIRS]
    s1 = (s + 1) % 3
    s2 = (s + 2) % 3
    partner = False
    k = first
    while k >= 0:
        ks = 3 * k + s
        if m[okp + ks] == kp and m[okn + ks] == kn:
            lo = min(t, k)
            hi = max(t, k)
            q = m[NPAIRS]
            m[pairs + 3 * q] = lo
            m[pairs + 3 * q + 1] = hi
            m[pairs + 3 * q + 2] = s
            m[ppos + (s * cap + lo) * cap + hi] = q
            m[NPAIRS] = q + 1
            if m[ppos + (s1 * cap + lo) * cap + hi] >= 0 or m[ppos + (s2 * cap + lo) * cap + hi] >= 0:
                partner = True
        k = m[nxt + ks]
    return partner


@njit(cache=True, inline="always")
def _unlink(m: np.ndarray, t: int, s: int) -> None:
    """Take factor (t, s) out of its bucket and drop its pairs."""
    ts = 3 * t + s
    okp = m[O_KP]
    okn = m[O_KN]
    nxt = m[O_NXT]
    prv = m[O_PRV]
    kp = m[okp + ts]
    kn = m[okn + ts]
    cap = m[CAP]
    ppos = m[O_PPOS]
    pairs = m[O_PAIRS]
    hslot = m[O_HEAD] + (s << m[HBITS]) + m[m[O_HB] + ts]
    k = m[hslot]
    while k >= 0:
        ks = 3 * k + s
        if k != t and m[okp + ks] == kp and m[okn + ks] == kn:
            lo = min(t, k)
            hi = max(t, k)
            q = m[ppos + (s * cap + lo) * cap + hi]
            last = m[NPAIRS] - 1
            if q != last:
                a, b, c = m[pairs + 3 * last], m[pairs + 3 * last + 1], m[pairs + 3 * last + 2]
                m[pairs + 3 * q] = a
                m[pairs + 3 * q + 1] = b
                m[pairs + 3 * q + 2] = c
                m[ppos + (c * cap + a) * cap + b] = q
            m[ppos + (s * cap + lo) * cap + hi] = -1
            m[NPAIRS] = last
        k = m[nxt + ks]
    before = m[prv + ts]
    after = m[nxt + ts]
    if before >= 0:
        m[nxt + 3 * before + s] = after
    else:
        m[hslot] = after
    if after >= 0:
        m[prv + 3 * after + s] = before


@njit(cache=True, inline="always")
def set_factor(m: np.ndarray, t: int, s: int, p: np.uint64, n: np.uint64) -> bool:
    """Replace a (nonzero) factor; True when t may now merge with another term."""
    _unlink(m, t, s)
    m[m[O_FP] + 3 * t + s] = np.int64(p)
    m[m[O_FN] + 3 * t + s] = np.int64(n)
    return _link(m, t, s)


@njit(cache=True, inline="always")
def push_dirty(m: np.ndarray, t: int) -> None:
    d = m[NDIRTY]
    if d < DIRTY_MAX:
        m[m[O_DIRTY] + d] = t
        m[NDIRTY] = d + 1


@njit(cache=True, inline="always")
def shares(m: np.ndarray, s: int, i: int, j: int) -> bool:
    """Do terms i and j share factor s (up to sign)?"""
    cap = m[CAP]
    return m[m[O_PPOS] + (s * cap + min(i, j)) * cap + max(i, j)] >= 0


@njit(cache=True)
def remove_term(m: np.ndarray, t: int) -> None:
    """Delete term t; the last term moves into its place (pending dirty entries follow it)."""
    for s in range(3):
        _unlink(m, t, s)
    last = m[RANK] - 1
    if t != last:
        for s in range(3):
            _unlink(m, last, s)
        for s in range(3):
            m[m[O_FP] + 3 * t + s] = m[m[O_FP] + 3 * last + s]
            m[m[O_FN] + 3 * t + s] = m[m[O_FN] + 3 * last + s]
        for s in range(3):
            _link(m, t, s)
    m[RANK] = last
    dirty = m[O_DIRTY]
    for d in range(m[NDIRTY]):
        if m[dirty + d] == t:
            m[dirty + d] = -1
        elif m[dirty + d] == last:
            m[dirty + d] = t


@njit(cache=True)
def append_term(m: np.ndarray, p: np.ndarray, n: np.ndarray) -> bool:
    """Add a term at index rank from uint64 triples (the caller checked the capacity)."""
    t = m[RANK]
    for s in range(3):
        m[m[O_FP] + 3 * t + s] = np.int64(p[s])
        m[m[O_FN] + 3 * t + s] = np.int64(n[s])
    m[RANK] = t + 1
    partner = False
    for s in range(3):
        if _link(m, t, s):
            partner = True
    return partner
