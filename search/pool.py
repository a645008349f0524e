"""Pool search (DESIGN.md §2): K distinct schemes per rank, walkers descend one rank at a time.

The working pool holds schemes of rank r. A walk starts from a random member and keeps
descending for as long as it improves; when ``restart_flips`` flips pass without a new lower
rank it starts again from another member of the working pool, or (a ``deep_restarts`` share
of the time) from a member of the lowest rank found so far. Every scheme a walk reaches
below r joins the pool of its rank; when a lower pool holds K distinct members it becomes
the working pool. Distinct means a different ``Packed.key()``. On easy levels a single walk
goes down several ranks at once; on hard ones the pool keeps the restarts diverse, and on
large formats, where filling a pool of K takes many walks, the deep restarts keep pushing
from the lowest rank meanwhile.

This object runs inside one worker process; ``step`` does a bounded amount of work so the
worker can check for a stop request between steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .kernels.index import RANK, load, new_arena, read_factors
from .kernels.walk import prepare_kernels, walk
from .packing import Packed

if TYPE_CHECKING:
    from .searchers.flip_pool import FlipPoolParams

__all__ = ["PoolSearch", "STALE"]

STALE = 8  # fruitless walks at a working rank before deep restarts begin


@dataclass
class _Pool:
    members: list[Packed] = field(default_factory=list)
    keys: set[bytes] = field(default_factory=set)

    def add(self, scheme: Packed) -> bool:
        key = scheme.key()
        if key in self.keys:
            return False
        self.keys.add(key)
        self.members.append(scheme)
        return True


class PoolSearch:
    """Descend from the start pools towards ``target`` (or forever when target is None)."""

    def __init__(self, pools: dict[int, list[Packed]], domain: str, params: FlipPoolParams, seed: int) -> None:
        if not pools or not any(pools.values()):
            raise ValueError("a pool search needs at least one start scheme")
        self.domain = domain
        self.params = params
        self.rng = np.random.default_rng(seed)
        self.pools: dict[int, _Pool] = {}
        for rank, members in pools.items():
            for s in members:
                self.pools.setdefault(rank, _Pool()).add(s)
        self.rank = self._working_rank(initial=True)
        top = max(self.pools)
        first = self.pools[self.rank].members[0]
        self.arena = new_arena(first.fp, first.fn, first.code, top + params.plus_delta + 2, seed)
        self.start_rank = self.rank
        self.flips = 0
        self._since = 0
        self._walk_best = self.rank
        self._walk_start_best = self.rank
        self._fruitless = 0  # walks at this working rank that ended without a new lowest rank
        self._patient = False  # a deep walk (from the lowest rank) is patient with plus transitions
        self._active = False

    def warm_up(self) -> None:
        """Load (or compile) the kernels now, so that timing starts afterwards."""
        prepare_kernels()

    @property
    def best_rank(self) -> int:
        return min(r for r, p in self.pools.items() if p.members)

    @property
    def walk_rank(self) -> int:
        """The lowest rank of the current walk (the working rank between walks)."""
        return self._walk_best if self._active else self.rank

    def _working_rank(self, initial: bool = False) -> int:
        """The lowest rank whose pool is full; at the start, the lowest non-empty one."""
        full = [r for r, p in self.pools.items() if len(p.members) >= self.params.pool_size]
        if initial:
            return min(full) if full else self.best_rank
        return min([*full, self.rank])

    def _restart_rank(self) -> int:
        """The working rank; once STALE walks at this working rank ended without a new lowest rank,
        a ``deep_restarts`` share of the restarts start from the lowest rank found instead."""
        low = self.best_rank
        deep = self.params.deep_restarts
        if low < self.rank and self._fruitless >= STALE and deep > 0 and self.rng.random() < deep:
            return low
        return self.rank

    def step(self, max_flips: int | None = None) -> list[Packed]:
        """Walk for at most one chunk of flips (or ``max_flips``); returns the new schemes it reached."""
        p = self.params
        if not self._active:
            rank = self._restart_rank()
            self._patient = rank < self.rank
            members = self.pools[rank].members
            start = members[int(self.rng.integers(len(members)))]
            load(self.arena, start.fp.view(np.int64), start.fn.view(np.int64))
            self._walk_best = start.rank
            self._walk_start_best = self.best_rank
            self._since = 0
            self._active = True
        budget = min(max_flips or p.chunk_flips, p.chunk_flips, p.restart_flips - self._since)
        done = walk(self.arena, budget, self._walk_best - 1, p.plus_after, p.plus_delta, self._walk_best, self._patient)
        self.flips += done
        self._since += done
        found: list[Packed] = []
        if self.arena[RANK] < self._walk_best:
            fp, fn = read_factors(self.arena)
            scheme = Packed(fp, fn, self.domain)
            self._walk_best = scheme.rank
            self._since = 0
            if self.pools.setdefault(scheme.rank, _Pool()).add(scheme):
                found.append(scheme)
            self._switch()
        elif self._since >= p.restart_flips or done == 0:
            self._active = False
            self._fruitless += self.best_rank >= self._walk_start_best
        return found

    def _switch(self) -> None:
        new_rank = self._working_rank()
        if new_rank < self.rank:
            self.rank = new_rank
            self._fruitless = 0
            for r in [r for r in self.pools if r > new_rank]:
                del self.pools[r]

    def snapshot(self) -> dict[int, list[Packed]]:
        """The pools as plain lists (for checkpoints)."""
        return {r: list(p.members) for r, p in self.pools.items() if p.members}

    def restart_from(self, scheme: Packed, patient: bool = True) -> None:
        """Move the walker to ``scheme`` now (a deep walk: patient with plus transitions by default)."""
        load(self.arena, scheme.fp.view(np.int64), scheme.fn.view(np.int64))
        self._walk_best = scheme.rank
        self._walk_start_best = self.best_rank
        self._since = 0
        self._active = True
        self._patient = patient

    def adopt(self, scheme: Packed, restart: bool) -> None:
        """A lower scheme found elsewhere joins its pool; with ``restart`` the walker moves to it."""
        if scheme.rank >= self.rank or not self.pools.setdefault(scheme.rank, _Pool()).add(scheme):
            return
        if restart and scheme.rank < self._walk_best:
            load(self.arena, scheme.fp.view(np.int64), scheme.fn.view(np.int64))
            self._walk_best = scheme.rank
            self._since = 0
            self._active = True
            self.rank = scheme.rank
            for r in [r for r in self.pools if r > scheme.rank]:
                del self.pools[r]
        else:
            self._switch()

    def state(self) -> dict[str, Any]:
        """Everything needed to continue exactly: pools, the walker's arena, RNG and counters."""
        return {
            "pools": self.snapshot(),
            "arena": self.arena.copy(),
            "rng": self.rng.bit_generator.state,
            "counters": [
                self.rank,
                self.start_rank,
                self.flips,
                self._since,
                self._walk_best,
                int(self._active),
                self._walk_start_best,
                self._fruitless,
                int(self._patient),
            ],
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Continue from ``state()`` of a search with the same domain and parameters."""
        self.pools = {}
        for rank, members in state["pools"].items():
            for s in members:
                self.pools.setdefault(int(rank), _Pool()).add(s)
        self.arena = np.array(state["arena"], dtype=np.int64)
        self.rng.bit_generator.state = state["rng"]
        counters = [int(x) for x in state["counters"]]
        rank, self.start_rank, self.flips, self._since, self._walk_best, active = counters[:6]
        self._walk_start_best, self._fruitless, patient = counters[6:]
        self._patient = bool(patient)
        self.rank, self._active = rank, bool(active)
