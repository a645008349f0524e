"""Orbit walks: flips, reductions and plus transitions that keep a scheme cyclic (Z3-invariant).

Orbit k of a cyclic <n,n,n> scheme is three factors (x, y, z) in slots 3k, 3k+1, 3k+2; it
stands for the terms x⊗y⊗z, y⊗z⊗x and z⊗x⊗y (schemes/orbits.py). The term whose first factor
is slot s has second factor ``_nxt(s)`` and third ``_nxt2(s)``. A flip between slot p and a slot
q of another orbit holding the same factor up to sign (q = σ p),

    p⊗e⊗f + σp⊗e'⊗f'  =  p⊗(e + λσe')⊗f + σp⊗e'⊗(f' - λf),

applied to the two orbits changes one slot of each, and the same identity holds for their
other two rotations, so the scheme stays cyclic and exact. A factor that becomes zero removes
its whole orbit (rank - 3): that is how reductions happen, as in Moosbauer and Poole's walk. A
plus transition rewrites two orbits as three (rank + 3).

With the mirror on (Z3×Z2, ``ctl``'s ``mirror`` = n*n), an orbit also stands for the three
terms reflected by ρ, the map (i, j) -> (n-1-i, n-1-j) on every factor (an isotropy of
<n,n,n> that commutes with the rotation; on a packed factor it reverses the n*n bits): six
terms per orbit. Every slot is then indexed twice, as itself and as its reflection, and a flip
between a term and a reflected term of another orbit applies ρ to what it adds.

Factors are (pos, neg) uint64 bitplanes as in ``arith``. An index from factor key (value up to
sign) to the slots holding it, and the list of keys held by two or more slots, are rebuilt at
every call from the slots alone, so the walk's state is the slots, the RNG word and ``ctl``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .arith import F2, add_scaled, mix_hash, sign_key

__all__ = ["orbit_walk", "CTL_FIELDS", "new_ctl"]

_ZERO = np.uint64(0)

# ctl: the walk's counters and settings (int64), read and written by ``orbit_walk``
CTL_FIELDS = (
    "work",  # flip attempts so far (all calls)
    "since_down",  # attempts since the rank last went down (plus transitions)
    "since_best",  # attempts since this run's lowest rank last improved (restarts)
    "rank",  # terms in the orbits now (3 per live orbit)
    "best",  # lowest rank of this run (the slots are copied to best_* then)
    "target",  # stop as soon as rank <= target
    "plus_after",  # attempts without a reduction before a plus transition
    "plus_limit",  # plus transitions only while rank + 3 <= plus_limit
    "plus",  # plus transitions so far
    "mirror",  # 0: Z3 (3 terms per orbit); n*n: Z3×Z2 (6 terms per orbit, ρ reverses n*n bits)
)
_WORK, _SINCE_DOWN, _SINCE_BEST, _RANK, _BEST, _TARGET, _PLUS_AFTER, _PLUS_LIMIT, _PLUS, _MIRROR = range(
    len(CTL_FIELDS)
)
_STUCK = 64  # failed picks in a row (no two orbits share a factor) before a plus transition

# rows of the index's int64 table
_COUNT, _HEAD, _CNEXT, _CPREV, _SPOS, _NODE, _SNEXT, _SPREV, _FREE, _SHARED = range(10)


def new_ctl(rank: int, target: int, plus_after: int, plus_limit: int, mirror: int = 0) -> np.ndarray:
    """A fresh ``ctl`` for a walk from a scheme of ``rank`` terms in orbits (``mirror``: 0 or n*n)."""
    ctl = np.zeros(len(CTL_FIELDS), dtype=np.int64)
    ctl[_RANK] = ctl[_BEST] = rank
    ctl[_TARGET], ctl[_PLUS_AFTER], ctl[_PLUS_LIMIT], ctl[_MIRROR] = target, plus_after, plus_limit, mirror
    return ctl


@njit(cache=True, inline="always")
def _rev(x: np.uint64, width: int) -> np.uint64:
    """ρ on a packed factor: the lowest ``width`` bits in reverse order."""
    x = ((x >> np.uint64(1)) & np.uint64(0x5555555555555555)) | ((x & np.uint64(0x5555555555555555)) << np.uint64(1))
    x = ((x >> np.uint64(2)) & np.uint64(0x3333333333333333)) | ((x & np.uint64(0x3333333333333333)) << np.uint64(2))
    x = ((x >> np.uint64(4)) & np.uint64(0x0F0F0F0F0F0F0F0F)) | ((x & np.uint64(0x0F0F0F0F0F0F0F0F)) << np.uint64(4))
    x = ((x >> np.uint64(8)) & np.uint64(0x00FF00FF00FF00FF)) | ((x & np.uint64(0x00FF00FF00FF00FF)) << np.uint64(8))
    x = ((x >> np.uint64(16)) & np.uint64(0x0000FFFF0000FFFF)) | ((x & np.uint64(0x0000FFFF0000FFFF)) << np.uint64(16))
    x = (x >> np.uint64(32)) | (x << np.uint64(32))
    return x >> np.uint64(64 - width)


@njit(cache=True, inline="always")
def _ref(p: np.uint64, n: np.uint64, m: int, width: int) -> tuple[np.uint64, np.uint64]:
    """ρ^m of a factor (m = 0 or 1)."""
    if m == 0:
        return p, n
    return _rev(p, width), _rev(n, width)


@njit(cache=True, inline="always")
def _nxt(s: int) -> int:
    return s - s % 3 + (s % 3 + 1) % 3


@njit(cache=True, inline="always")
def _nxt2(s: int) -> int:
    return s - s % 3 + (s % 3 + 2) % 3


@njit(cache=True, inline="always")
def _rand(rng: np.ndarray) -> np.uint64:
    x = rng[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    rng[0] = x
    return x * np.uint64(0x2545F4914F6CDD1D)


@njit(cache=True, inline="always")
def _below(rng: np.ndarray, n: int) -> int:
    return int((_rand(rng) >> np.uint64(33)) % np.uint64(n))


@njit(cache=True)
def _insert(ix, keys, bhead, meta, bits, dom, s, p, n) -> None:  # noqa: ANN001
    """Index entry s (slot * 2 + reflected) holding the factor (p, n)."""
    kp, kn, _ = sign_key(dom, p, n)
    h = mix_hash(kp, kn, bits)
    node = bhead[h]
    while node != -1 and not (keys[0, node] == kp and keys[1, node] == kn):
        node = ix[_CNEXT, node]
    if node == -1:
        meta[0] -= 1
        node = ix[_FREE, meta[0]]
        keys[0, node], keys[1, node] = kp, kn
        ix[_COUNT, node], ix[_HEAD, node], ix[_SPOS, node] = 0, -1, -1
        ix[_CNEXT, node], ix[_CPREV, node] = bhead[h], -1
        if bhead[h] != -1:
            ix[_CPREV, bhead[h]] = node
        bhead[h] = node
    head = ix[_HEAD, node]
    ix[_SNEXT, s], ix[_SPREV, s] = head, -1
    if head != -1:
        ix[_SPREV, head] = s
    ix[_HEAD, node] = s
    ix[_NODE, s] = node
    ix[_COUNT, node] += 1
    if ix[_COUNT, node] == 2:
        ix[_SPOS, node] = meta[1]
        ix[_SHARED, meta[1]] = node
        meta[1] += 1


@njit(cache=True)
def _remove(ix, keys, bhead, meta, bits, s) -> None:  # noqa: ANN001
    node = ix[_NODE, s]
    nx, pv = ix[_SNEXT, s], ix[_SPREV, s]
    if pv != -1:
        ix[_SNEXT, pv] = nx
    else:
        ix[_HEAD, node] = nx
    if nx != -1:
        ix[_SPREV, nx] = pv
    ix[_NODE, s] = -1
    ix[_COUNT, node] -= 1
    if ix[_COUNT, node] == 1:
        i = ix[_SPOS, node]
        meta[1] -= 1
        last = ix[_SHARED, meta[1]]
        ix[_SHARED, i] = last
        ix[_SPOS, last] = i
        ix[_SPOS, node] = -1
    elif ix[_COUNT, node] == 0:
        cn, cp = ix[_CNEXT, node], ix[_CPREV, node]
        if cp != -1:
            ix[_CNEXT, cp] = cn
        else:
            bhead[mix_hash(keys[0, node], keys[1, node], bits)] = cn
        if cn != -1:
            ix[_CPREV, cn] = cp
        ix[_FREE, meta[0]] = node
        meta[0] += 1


@njit(cache=True)
def _set(ix, keys, bhead, meta, bits, dom, vp, vn, width, s, p, n) -> None:  # noqa: ANN001
    """Slot s := (p, n), keeping the index (zero slots are not indexed; ``width`` > 0: also ρ of it)."""
    if vp[s] | vn[s]:
        _remove(ix, keys, bhead, meta, bits, 2 * s)
        if width:
            _remove(ix, keys, bhead, meta, bits, 2 * s + 1)
    vp[s], vn[s] = p, n
    if p | n:
        _insert(ix, keys, bhead, meta, bits, dom, 2 * s, p, n)
        if width:
            rp, rn = _ref(p, n, 1, width)
            _insert(ix, keys, bhead, meta, bits, dom, 2 * s + 1, rp, rn)


@njit(cache=True)
def _kill(ix, keys, bhead, meta, bits, dom, vp, vn, width, alive, k) -> None:  # noqa: ANN001
    for s in range(3 * k, 3 * k + 3):
        _set(ix, keys, bhead, meta, bits, dom, vp, vn, width, s, _ZERO, _ZERO)
    alive[k] = 0


@njit(cache=True)
def _flip(ix, keys, bhead, meta, bits, dom, vp, vn, width, alive, rng) -> int:  # noqa: ANN001
    """One random orbit flip: -1 no pair of orbits shares a factor here, 0 refused, else the
    number of orbits it removed plus one."""
    if meta[1] == 0:
        return -1
    node = ix[_SHARED, _below(rng, meta[1])]
    c = ix[_COUNT, node]
    i = _below(rng, c)
    j = _below(rng, c - 1)
    if j >= i:
        j += 1
    a = ix[_HEAD, node]
    for _ in range(i):
        a = ix[_SNEXT, a]
    b = ix[_HEAD, node]
    for _ in range(j):
        b = ix[_SNEXT, b]
    p, q = a >> 1, b >> 1
    if p // 3 == q // 3:
        return -1
    m = (a ^ b) & 1
    xp, xn = _ref(vp[p], vn[p], a & 1, width)
    yp, yn = _ref(vp[q], vn[q], b & 1, width)
    _, _, sp = sign_key(dom, xp, xn)
    _, _, sq = sign_key(dom, yp, yn)
    lam = 1 if dom == F2 or _rand(rng) & np.uint64(1) else -1
    ep, eq, fp, fq = _nxt(p), _nxt(q), _nxt2(p), _nxt2(q)
    gp, gn = _ref(vp[eq], vn[eq], m, width)
    e_p, e_n, ok1 = add_scaled(dom, vp[ep], vn[ep], lam * sp * sq, gp, gn)
    hp, hn = _ref(vp[fp], vn[fp], m, width)
    f_p, f_n, ok2 = add_scaled(dom, vp[fq], vn[fq], -lam, hp, hn)
    if not (ok1 and ok2):
        return 0
    _set(ix, keys, bhead, meta, bits, dom, vp, vn, width, ep, e_p, e_n)
    _set(ix, keys, bhead, meta, bits, dom, vp, vn, width, fq, f_p, f_n)
    gone = 0
    if (e_p | e_n) == _ZERO:
        _kill(ix, keys, bhead, meta, bits, dom, vp, vn, width, alive, p // 3)
        gone += 1
    if (f_p | f_n) == _ZERO:
        _kill(ix, keys, bhead, meta, bits, dom, vp, vn, width, alive, q // 3)
        gone += 1
    return gone + 1


@njit(cache=True)
def _nth_alive(alive: np.ndarray, i: int) -> int:
    for k in range(alive.shape[0]):
        if alive[k]:
            if i == 0:
                return k
            i -= 1
    return -1


@njit(cache=True)
def _plus(ix, keys, bhead, meta, bits, dom, vp, vn, width, alive, rng, live) -> bool:  # noqa: ANN001
    """Two orbits P, Q become three: p⊗e⊗f + D⊗E⊗F = p⊗(e-E)⊗f + p⊗E⊗(f-F) + (p+D)⊗E⊗F, with
    D⊗E⊗F a term of Q (reflected, with the mirror on) in P's frame."""
    r = _nth_alive(alive == 0, 0)
    if r == -1 or live < 2:
        return False
    for _ in range(32):
        a = _below(rng, live)
        b = _below(rng, live - 1)
        if b >= a:
            b += 1
        p = 3 * _nth_alive(alive, a) + _below(rng, 3)
        q = 3 * _nth_alive(alive, b) + _below(rng, 3)
        m = 1 if width and _rand(rng) & np.uint64(1) else 0
        s1 = 1 if dom == F2 or _rand(rng) & np.uint64(1) else -1
        s2 = 1 if dom == F2 or _rand(rng) & np.uint64(1) else -1
        dp, dn = _ref(vp[q], vn[q], m, width)
        ep_, en_ = _ref(vp[_nxt(q)], vn[_nxt(q)], m, width)
        fp_, fn_ = _ref(vp[_nxt2(q)], vn[_nxt2(q)], m, width)
        if s1 < 0:
            dp, dn = dn, dp
        if s1 * s2 < 0:
            ep_, en_ = en_, ep_
        if s2 < 0:
            fp_, fn_ = fn_, fp_
        t1p, t1n, ok1 = add_scaled(dom, vp[_nxt(p)], vn[_nxt(p)], -1, ep_, en_)
        t2p, t2n, ok2 = add_scaled(dom, vp[_nxt2(p)], vn[_nxt2(p)], -1, fp_, fn_)
        t3p, t3n, ok3 = add_scaled(dom, vp[p], vn[p], 1, dp, dn)
        if not (ok1 and ok2 and ok3) or (t1p | t1n) == _ZERO or (t2p | t2n) == _ZERO or (t3p | t3n) == _ZERO:
            continue
        xp, xn = vp[p], vn[p]
        _set(ix, keys, bhead, meta, bits, dom, vp, vn, width, 3 * r, xp, xn)
        _set(ix, keys, bhead, meta, bits, dom, vp, vn, width, 3 * r + 1, ep_, en_)
        _set(ix, keys, bhead, meta, bits, dom, vp, vn, width, 3 * r + 2, t2p, t2n)
        _set(ix, keys, bhead, meta, bits, dom, vp, vn, width, _nxt(p), t1p, t1n)
        qp, qn = _ref(t3p, t3n, m, width)
        _set(ix, keys, bhead, meta, bits, dom, vp, vn, width, q, qp, qn)
        qp, qn = _ref(ep_, en_, m, width)
        _set(ix, keys, bhead, meta, bits, dom, vp, vn, width, _nxt(q), qp, qn)
        qp, qn = _ref(fp_, fn_, m, width)
        _set(ix, keys, bhead, meta, bits, dom, vp, vn, width, _nxt2(q), qp, qn)
        alive[r] = 1
        return True
    return False


@njit(cache=True)
def orbit_walk(
    dom: int,
    vp: np.ndarray,
    vn: np.ndarray,
    alive: np.ndarray,
    best_p: np.ndarray,
    best_n: np.ndarray,
    best_alive: np.ndarray,
    rng: np.ndarray,
    ctl: np.ndarray,
    attempts: int,
) -> bool:
    """Walk for up to ``attempts`` flip attempts; True when the run's lowest rank went down.

    ``vp``/``vn`` are the slots (3 per orbit, zero for a dead orbit), ``alive`` one flag per
    orbit; ``best_*`` receive the slots whenever the rank goes below ``ctl``'s best.
    """
    width = ctl[_MIRROR]
    per = 6 if width else 3  # terms per orbit
    size = 2 * vp.shape[0]  # index entries: each slot, and its reflection
    bits = 4
    while (1 << bits) < 2 * size:
        bits += 1
    ix = np.full((10, size), -1, dtype=np.int64)
    keys = np.zeros((2, size), dtype=np.uint64)
    bhead = np.full(1 << bits, -1, dtype=np.int64)
    meta = np.zeros(2, dtype=np.int64)  # free nodes, shared keys
    for i in range(size):
        ix[_FREE, i] = size - 1 - i
    meta[0] = size
    for s in range(vp.shape[0]):
        if vp[s] | vn[s]:
            _insert(ix, keys, bhead, meta, bits, dom, 2 * s, vp[s], vn[s])
            if width:
                rp, rn = _ref(vp[s], vn[s], 1, width)
                _insert(ix, keys, bhead, meta, bits, dom, 2 * s + 1, rp, rn)
    improved = False
    stuck = 0
    for _ in range(attempts):
        ctl[_WORK] += 1
        ctl[_SINCE_DOWN] += 1
        ctl[_SINCE_BEST] += 1
        res = _flip(ix, keys, bhead, meta, bits, dom, vp, vn, width, alive, rng)
        stuck = stuck + 1 if res == -1 else 0
        if res > 1:
            ctl[_RANK] -= per * (res - 1)
            ctl[_SINCE_DOWN] = 0
            if ctl[_RANK] < ctl[_BEST]:
                ctl[_BEST] = ctl[_RANK]
                ctl[_SINCE_BEST] = 0
                best_p[:] = vp
                best_n[:] = vn
                best_alive[:] = alive
                improved = True
            if ctl[_RANK] <= ctl[_TARGET]:
                break
        if (ctl[_SINCE_DOWN] >= ctl[_PLUS_AFTER] or stuck >= _STUCK) and ctl[_RANK] + per <= ctl[_PLUS_LIMIT]:
            if _plus(ix, keys, bhead, meta, bits, dom, vp, vn, width, alive, rng, ctl[_RANK] // per):
                ctl[_RANK] += per
                ctl[_PLUS] += 1
            ctl[_SINCE_DOWN] = 0
            stuck = 0
    return improved
