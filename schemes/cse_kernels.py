"""numba kernels for common-subexpression elimination over integer linear forms.

A family of forms is a dense int64 matrix ``F`` (one row per form, one column per variable:
the inputs first, then room for the fresh variables). One CSE step lists every pair
``x_a + r x_b`` that occurs in a form (coefficients c_a, c_b with c_b = r c_a, r an integer),
counts in how many forms each occurs, picks one with count >= 2, makes it a fresh variable and
substitutes it. A pair is a key ``(a * cap + b) * (2 rmax + 1) + r + rmax``; sorting the keys
of all forms counts them, and the smallest key among the most frequent is the greedy choice.

Choosing rules (``mode``): 0 greedy (most frequent, smallest key), 1 most frequent with a
random tie-break, 2 Boltzmann over all repeated pairs (weight exp((count - top) / temp)),
3 scripted: ``script[k]`` is the index of the choice at step k in the candidates ordered by
(count descending, key ascending), so that an elimination order is a short integer vector.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import kernel_cache  # noqa: F401  (clears a stale numba cache of this folder: cost.py and slp.py import this)

__all__ = ["cse_run", "cse_pilot", "cse_anneal", "additions_of", "below", "seed_state"]


def seed_state(seed: int) -> np.ndarray:
    """A nonzero xorshift state from any seed (splitmix64 of it): the RNG of every program-search
    kernel (here, ``slp`` and the F2 Boyar-Peralta of ``cost``)."""
    z = (seed * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E5B) % 2**64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) % 2**64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % 2**64
    return np.array([(z ^ (z >> 31)) or 1], dtype=np.uint64)


@njit(cache=True, inline="always")
def _next(state: np.ndarray) -> np.uint64:
    """xorshift64* on a one-element uint64 array (the kernels' own, reproducible RNG)."""
    x = state[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    state[0] = x
    return x * np.uint64(2685821657736338717)


@njit(cache=True, inline="always")
def below(state: np.ndarray, n: int) -> int:
    """A uniform integer below n from the xorshift64* state."""
    return np.int64((_next(state) >> np.uint64(11)) % np.uint64(n))


@njit(cache=True, inline="always")
def _uniform(state: np.ndarray) -> float:
    return float(_next(state) >> np.uint64(11)) / 9007199254740992.0


@njit(cache=True)
def _candidates(F: np.ndarray, nvars: int, rmax: int, keys: np.ndarray, ukeys: np.ndarray, counts: np.ndarray) -> int:
    """Repeated pairs of the forms, ordered by (count desc, key asc), into ukeys/counts; their number."""
    cap = F.shape[1]
    rw = 2 * rmax + 1
    nk = 0
    idx = np.empty(nvars, dtype=np.int64)
    for f in range(F.shape[0]):
        nz = 0
        for v in range(nvars):
            if F[f, v] != 0:
                idx[nz] = v
                nz += 1
        for x in range(nz):
            a = idx[x]
            ca = F[f, a]
            for y in range(x + 1, nz):
                b = idx[y]
                cb = F[f, b]
                if cb % ca == 0:
                    r = cb // ca
                    if -rmax <= r <= rmax:
                        keys[nk] = (a * cap + b) * rw + r + rmax
                        nk += 1
                elif ca % cb == 0:
                    r = ca // cb
                    if -rmax <= r <= rmax:
                        keys[nk] = (b * cap + a) * rw + r + rmax
                        nk += 1
    if nk < 2:
        return 0
    s = np.sort(keys[:nk])
    nu = 0
    start = 0
    for k in range(1, nk + 1):
        if k == nk or s[k] != s[start]:
            c = k - start
            if c >= 2:
                ukeys[nu] = s[start]
                counts[nu] = c
                nu += 1
            start = k
    if nu > 1:
        order = np.argsort(-counts[:nu] * (s[nk - 1] + 1) + ukeys[:nu], kind="mergesort")
        uk = ukeys[:nu][order].copy()
        ct = counts[:nu][order].copy()
        ukeys[:nu] = uk
        counts[:nu] = ct
    return nu


@njit(cache=True)
def _pair_buffers(F: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Room for every pair the forms hold now (CSE only ever shortens them): keys, keys, counts."""
    size = 0
    for f in range(F.shape[0]):
        nz = 0
        for v in range(F.shape[1]):
            if F[f, v] != 0:
                nz += 1
        size += nz * (nz - 1) // 2
    size = max(size, 1)
    return np.empty(size, dtype=np.int64), np.empty(size, dtype=np.int64), np.empty(size, dtype=np.int64)


@njit(cache=True)
def _apply(F: np.ndarray, nvars: int, key: int, rmax: int, temps: np.ndarray, nt: int) -> None:
    """Make the pair ``key`` the fresh variable ``nvars`` (temp number nt) and substitute it."""
    cap = F.shape[1]
    rw = 2 * rmax + 1
    r = key % rw - rmax
    ab = key // rw
    a = ab // cap
    b = ab % cap
    temps[nt, 0] = a
    temps[nt, 1] = b
    temps[nt, 2] = r
    for f in range(F.shape[0]):
        ca = F[f, a]
        if ca != 0 and F[f, b] == r * ca:
            F[f, nvars] = ca
            F[f, a] = 0
            F[f, b] = 0


@njit(cache=True)
def additions_of(F: np.ndarray, nt: int) -> int:
    """Additions of a program: its temps plus (nonzeros - 1) of every form."""
    total = nt
    for f in range(F.shape[0]):
        nz = 0
        for v in range(F.shape[1]):
            if F[f, v] != 0:
                nz += 1
        if nz > 1:
            total += nz - 1
    return total


@njit(cache=True)
def cse_run(
    F: np.ndarray, nin: int, rmax: int, mode: int, temp: float, rng: np.ndarray, script: np.ndarray, temps: np.ndarray
) -> int:
    """Run CSE on F in place (fresh variables in columns nin, nin+1, ...); the number of temps
    made, recorded in ``temps`` as rows (a, b, r): temp = x_a + r x_b."""
    keys, ukeys, counts = _pair_buffers(F)
    nt = 0
    while nin + nt < F.shape[1]:
        nu = _candidates(F, nin + nt, rmax, keys, ukeys, counts)
        if nu == 0:
            break
        if mode == 0:
            pick = 0
        elif mode == 1:
            top = 1
            while top < nu and counts[top] == counts[0]:
                top += 1
            pick = below(rng, top)
        elif mode == 2:
            total = 0.0
            for k in range(nu):
                total += np.exp((counts[k] - counts[0]) / temp)
            x = _uniform(rng) * total
            pick = nu - 1
            for k in range(nu):
                x -= np.exp((counts[k] - counts[0]) / temp)
                if x <= 0.0:
                    pick = k
                    break
        else:
            pick = script[nt] if nt < script.shape[0] else 0
            if pick >= nu:
                pick = nu - 1
        _apply(F, nin + nt, ukeys[pick], rmax, temps, nt)
        nt += 1
    return nt


@njit(cache=True)
def cse_pilot(F: np.ndarray, nin: int, rmax: int, width: int, temps: np.ndarray) -> int:
    """Greedy with look-ahead (the pilot method): at each step try the ``width`` best-counted
    pairs, finish each trial greedily, and keep the pair whose finished program is shortest."""
    keys, ukeys, counts = _pair_buffers(F)
    rng = np.ones(1, dtype=np.uint64)
    script = np.zeros(0, dtype=np.int64)
    scratch = np.empty_like(temps)
    nt = 0
    while nin + nt < F.shape[1]:
        nu = _candidates(F, nin + nt, rmax, keys, ukeys, counts)
        if nu == 0:
            break
        best_k = 0
        best_cost = -1
        for k in range(min(width, nu)):
            G = F.copy()
            scratch[:nt] = temps[:nt]
            _apply(G, nin + nt, ukeys[k], rmax, scratch, nt)
            more = cse_run(G[:, :], nin + nt + 1, rmax, 0, 1.0, rng, script, scratch[nt + 1 :])
            cost = additions_of(G, nt + 1 + more)
            if best_cost < 0 or cost < best_cost:
                best_cost = cost
                best_k = k
        _apply(F, nin + nt, ukeys[best_k], rmax, temps, nt)
        nt += 1
    return nt


@njit(cache=True)
def cse_anneal(
    F0: np.ndarray,
    nin: int,
    rmax: int,
    iters: int,
    t_start: float,
    t_end: float,
    rng: np.ndarray,
    best_script: np.ndarray,
) -> int:
    """Simulated annealing over elimination orders: a state is a script (see ``cse_run`` mode 3);
    a move changes one step's choice to one of the next few candidates (later steps keep their
    indices); Metropolis acceptance on the additions, with the temperature falling geometrically
    from t_start to t_end. Leaves the best script found in ``best_script``; returns its additions."""
    L = best_script.shape[0]
    temps = np.empty((F0.shape[1], 3), dtype=np.int64)
    cur = best_script.copy()
    G = F0.copy()
    nt = cse_run(G, nin, rmax, 3, 1.0, rng, cur, temps)
    cur_cost = additions_of(G, nt)
    best_cost = cur_cost
    best_script[:] = cur
    cand = cur.copy()
    for it in range(iters):
        t = t_start * (t_end / t_start) ** (it / max(iters - 1, 1))
        cand[:] = cur
        span = max(min(nt, L), 1)
        k = below(rng, span)
        step = 1 + below(rng, 3)
        cand[k] = min(cand[k] + step, 15) if below(rng, 2) == 0 or cand[k] < step else cand[k] - step
        G[:, :] = F0
        ntc = cse_run(G, nin, rmax, 3, 1.0, rng, cand, temps)
        cost = additions_of(G, ntc)
        if cost <= cur_cost or _uniform(rng) < np.exp((cur_cost - cost) / t):
            cur[:] = cand
            cur_cost = cost
            nt = ntc
            if cost < best_cost:
                best_cost = cost
                best_script[:] = cand
    return best_cost
