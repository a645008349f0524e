"""Additions of the scheme in an arena, and an annealing walk at fixed rank that lowers them.

The cost of a state is either its naive additions (nonzeros minus one, summed over the forms
u_t(A), v_t(B) and the outputs) or the additions left after greedy CSE (``cse_run`` mode 0):
the number a user pays for. Both are read straight from the packed factors, without Python.
"""

from __future__ import annotations

import numpy as np
from flipforge.schemes.cse_kernels import additions_of, cse_run
from numba import njit

from .index import RANK, RNG, factor, rand_below
from .moves import flip, plus

__all__ = ["NAIVE", "CSE", "arena_cost", "anneal_cost"]

NAIVE, CSE = 0, 1


@njit(cache=True)
def _family(m: np.ndarray, slot: int, width: int, transpose: bool) -> np.ndarray:
    """The forms of one slot as a dense int64 matrix with room for the fresh variables: one row
    per term over the slot's entries, or (``transpose``) one row per entry over the terms."""
    rank = m[RANK]
    rows, nin = (width, rank) if transpose else (rank, width)
    nnz = 0
    for t in range(rank):
        p, n = factor(m, t, slot)
        x = p | n
        while x:
            x &= x - np.uint64(1)
            nnz += 1
    F = np.zeros((rows, nin + nnz // 2 + 1), dtype=np.int64)
    for t in range(rank):
        p, n = factor(m, t, slot)
        for e in range(width):
            bit = np.uint64(1) << np.uint64(e)
            c = 1 if p & bit else (-1 if n & bit else 0)
            if c != 0:
                if transpose:
                    F[e, t] = c
                else:
                    F[t, e] = c
    return F


@njit(cache=True)
def _naive(F: np.ndarray) -> int:
    return additions_of(F, 0)


@njit(cache=True)
def arena_cost(m: np.ndarray, widths: np.ndarray, objective: int) -> int:
    """The additions of the scheme in ``m`` (``widths`` = entries of A, B and C): naive, or after
    greedy CSE of each of the three families."""
    total = 0
    rng = np.ones(1, dtype=np.uint64)
    script = np.zeros(0, dtype=np.int64)
    for slot in range(3):
        F = _family(m, slot, widths[slot], slot == 2)
        if objective == NAIVE:
            total += _naive(F)
        else:
            nin = m[RANK] if slot == 2 else widths[slot]
            temps = np.empty((F.shape[1], 3), dtype=np.int64)
            nt = cse_run(F, nin, 1, 0, 1.0, rng, script, temps)
            total += additions_of(F, nt)
    return total


@njit(cache=True)
def anneal_cost(
    m: np.ndarray,
    backup: np.ndarray,
    best: np.ndarray,
    widths: np.ndarray,
    objective: int,
    moves: int,
    segment: int,
    temp: float,
    current: int,
    best_cost: int,
    plus_rate: float,
    plus_flips: int,
) -> tuple[int, int, int]:
    """``moves`` annealing moves at the rank of ``m``: each walks 1..``segment`` random flips,
    and is kept by the Metropolis rule at temperature ``temp`` on the cost (else undone; the
    RNG goes on). ``best`` holds the cheapest state seen. Returns (current cost, best cost,
    moves done); stops early when a flip sequence lowers the rank (``best`` then holds it).

    With probability ``plus_rate`` a move is a detour instead: a plus transition (rank + 1) and
    up to ``plus_flips`` flips until a reduction brings the rank back; the walk leaves its
    region of the flip graph that way (undone when the rank does not come back)."""
    rank = m[RANK]
    for k in range(moves):
        backup[:] = m
        if plus_rate > 0 and rand_below(m, 1 << 30) < plus_rate * (1 << 30):
            plus(m)
            for _ in range(plus_flips):
                if m[RANK] <= rank:
                    break
                flip(m)
        else:
            for _ in range(1 + rand_below(m, segment)):
                flip(m)
        if m[RANK] > rank:
            state = m[RNG]
            m[:] = backup
            m[RNG] = state
            continue
        if m[RANK] < rank:
            best[:] = m
            return current, arena_cost(m, widths, objective), k + 1
        cost = arena_cost(m, widths, objective)
        if cost <= current or rand_below(m, 1 << 30) < (1 << 30) * np.exp((current - cost) / temp):
            current = cost
            if cost < best_cost:
                best_cost = cost
                best[:] = m
        else:
            state = m[RNG]
            m[:] = backup
            m[RNG] = state
    return current, best_cost, moves
