"""The walk policy as one compiled loop: random flips, reductions as they appear, plus transitions.

A walker flips at random; reductions happen inside the moves as soon as they appear. After
``plus_after`` flips without reaching a new lowest rank it takes a plus transition (rank +1),
but only while its rank is below ``best + plus_delta`` (a patient walk doubles that wait after
each plus transition that did not help). When no flippable pair is left it
tries a plus transition, then a split. The loop returns when the rank reaches ``target`` or
after ``max_flips`` flips, so the caller can check the clock and the pool between calls.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
from numba import njit

from .index import NPAIRS, O_FN, O_FP, RANK, SINCE, WAIT, new_arena
from .moves import flip, plus, split

__all__ = ["walk", "walk_sparse", "nonzeros", "kernels_cached", "prepare_kernels"]

MAX_WAIT = 1 << 40


@njit(cache=True)
def walk(
    m: np.ndarray, max_flips: int, target: int, plus_after: int, plus_delta: int, best: int, patient: bool = False
) -> int:
    """Walk until rank <= target or ``max_flips`` flips; returns the flips done (refused ones included).

    ``best`` is the lowest rank this walker has known (plus transitions are allowed only while
    the rank is below best + plus_delta); pass the start rank for a fresh walk. A ``patient``
    walk doubles its wait after every plus transition that did not lead to a new lowest rank
    (back to ``plus_after`` at the next one): on large formats reductions are rare, and plus
    transitions that come faster than reductions keep a walker above its lowest rank. The
    flips since the last new lowest rank and the current wait live in the arena, so a walk
    split into many calls is the same walk as one long call.
    """
    flips = 0
    since = m[SINCE]
    wait = m[WAIT] if m[WAIT] > 0 else plus_after
    while flips < max_flips:
        rank = m[RANK]
        if rank <= target:
            break
        if since >= wait:
            since = 0
            if rank < best + plus_delta:
                plus(m)
                if patient:
                    wait = min(2 * wait, MAX_WAIT)
        if not flip(m) and m[NPAIRS] == 0 and not plus(m) and not split(m):
            break
        flips += 1
        since += 1
        if m[RANK] < best:
            best = m[RANK]
            since = 0
            wait = plus_after
    m[SINCE] = since
    m[WAIT] = wait
    return flips


def kernels_cached(kernel: Any = None) -> bool:
    """True when the compiled ``kernel`` (default: the walk) is in numba's on-disk cache (or loaded here)."""
    kernel = walk if kernel is None else kernel
    if kernel.signatures:
        return True
    try:
        return os.path.exists(kernel._cache._cache_file._index_path)
    except AttributeError:  # a numba without these internals: assume the worst, say so once
        return False


def prepare_kernels() -> float:
    """Compile (first run) or load the kernels in this process; returns the seconds it took.

    Worker processes forked afterwards inherit the compiled code instead of each compiling it.
    """
    t0 = time.perf_counter()
    fp = np.array([[1, 1, 1], [2, 2, 2]], np.uint64)
    walk(new_arena(fp, np.zeros_like(fp), 0, 4, 0), 10, 0, 5, 1, 2, False)
    return time.perf_counter() - t0


@njit(cache=True, inline="always")
def _popcount(x: np.uint64) -> int:
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return int((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


@njit(cache=True)
def nonzeros(m: np.ndarray) -> int:
    """Nonzero coefficients of the walker's scheme (naive additions = this - 2*rank - outputs)."""
    total = 0
    fp = m[O_FP]
    fn = m[O_FN]
    for k in range(3 * m[RANK]):
        total += _popcount(np.uint64(m[fp + k]) | np.uint64(m[fn + k]))
    return total


@njit(cache=True)
def walk_sparse(m: np.ndarray, max_flips: int, best: np.ndarray) -> int:
    """Flip at (at most) the current rank, keeping in ``best`` (a copy of the arena) the state
    with the lowest rank and, at that rank, the fewest nonzeros. Returns that nonzero count."""
    best[:] = m
    best_rank = m[RANK]
    best_nnz = nonzeros(m)
    for _ in range(max_flips):
        flip(m)
        rank = m[RANK]
        nnz = nonzeros(m)
        if rank < best_rank or (rank == best_rank and nnz < best_nnz):
            best_rank = rank
            best_nnz = nnz
            best[:] = m
    return best_nnz
