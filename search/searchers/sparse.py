"""``sparse``: fewer additions at a fixed rank (annealing on the flip graph), after a descent.

The rank is what the descent (the flip-pool walk, with its options) reaches: ``--rank R`` once
it holds a scheme of rank R or lower, or, with ``--rank 0``, once it has walked ``settle_flips``
without a new lowest rank. From then on a walker anneals at that rank: a move is a short run of
flips (or, now and then, a plus transition and flips until a reduction comes back), kept by the
Metropolis rule on the cost: the additions left after greedy CSE (``--objective cse``) or the
naive additions (``naive``). With ``bp`` the walk anneals on the greedy count, and the states it
reaches within ``bp_margin`` of the lowest greedy count seen are counted again by the signed
Boyar-Peralta program search (milliseconds, too slow for every move): that count is reported.
A walker that finds nothing cheaper for ``patience`` moves restarts, alternately from the
cheapest scheme and from a fresh one of the rank (a pool member not annealed yet, or a descent
from one rank above). Reports carry the cost: at the same rank a cheaper scheme is a new best,
and a lower rank always is (the annealing moves to it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from flipforge.schemes import Tensor

from ..packing import Packed, unpack
from .base import TUNING_LIMIT, Candidate, Progress, Report, option
from .flip_pool import FlipPoolParams, FlipPoolSearcher

__all__ = ["SparseParams", "SparseSearcher"]

_MAX = TUNING_LIMIT - 1
OBJECTIVES = ("cse", "naive", "bp")


def _objective(value: str) -> str | None:
    return None if value in OBJECTIVES else f"the objective is one of {', '.join(OBJECTIVES)}, not {value!r}"


@dataclass(frozen=True)
class SparseParams(FlipPoolParams):
    """The flip-pool options (for the descent) plus the annealing at fixed rank."""

    rank: int = option(0, "Rank to lower additions at (0: where the descent settles, see --settle-flips).", 0, _MAX)
    objective: str = option(
        "cse",
        "Cost to lower: cse (additions after greedy CSE), naive, or bp (walk on the greedy count; report the "
        "signed Boyar-Peralta count of states within --bp-margin of the cheapest greedy count seen).",
        check=_objective,
    )
    bp_margin: int = option(
        2, "With --objective bp: greedy count above the lowest seen still worth a BP count.", 0, _MAX
    )
    temperature: float = option(1.0, "Annealing temperature: a move costing d more additions is kept with "
                                "probability exp(-d/T).", 1e-3, 1e6)  # fmt: skip
    segment: int = option(2, "Flips per annealing move, at most.", 1, _MAX)
    plus_rate: float = option(
        0.02, "Share of moves that are detours (a plus transition, flips until rank is back).", 0, 1
    )
    plus_flips: int = option(2000, "Flips a detour may take to come back to the rank.", 1, _MAX)
    patience: int = option(20_000, "Moves without a cheaper scheme before the walker restarts.", 1, _MAX)
    settle_flips: int = option(
        2_000_000, "With --rank 0: descent flips without a new lowest rank that fix the rank.", 1, _MAX
    )
    goal: int = option(0, "Stop once a scheme needs at most this many additions (0: until time or Ctrl-C).", 0, _MAX)


class SparseSearcher(FlipPoolSearcher):
    """Descend like flip-pool, then anneal at the rank reached on the additions."""

    name = "sparse"
    Params = SparseParams
    summary = "flip-pool descent, then annealing at fixed rank on the additions (after greedy CSE or naive)"
    objective = "additions"
    move_work = 1000  # work units per annealing move (a move costs about what 1000 flips cost on 3x3x3)

    def __init__(
        self, tensor: Tensor, domain: str, params: SparseParams, seed: int, start: dict[int, list[Candidate]]
    ) -> None:
        super().__init__(tensor, domain, params, seed, start)
        from ..kernels.cost import CSE, NAIVE

        self.kind = CSE if params.objective == "cse" else NAIVE
        self.widths = np.array(tensor.shape, dtype=np.int64)
        self.fixed = 0  # the rank the annealing works at (0: still descending)
        self.arena: np.ndarray | None = None  # the annealing walker and its cheapest state
        self.cheapest: np.ndarray | None = None
        self.current = self.best_cost = self.walk_cost = 0
        self.moves = self.since = 0
        self.used = 0  # pool members at the fixed rank the walker has started from
        self.restarts = 0
        self.low_greedy = 0  # with --objective bp: the lowest greedy count the walk has seen
        self.lowest_seen = self.search.best_rank
        self.flips_at_lowest = 0

    def budget(self) -> int:
        return self.params.chunk_flips

    def _work(self) -> int:
        return self.search.flips + self.moves

    # --- the descent -----------------------------------------------------------------------------

    def _settled(self) -> int:
        """The rank to anneal at now, or 0 while the descent goes on."""
        p, s = self.params, self.search
        if s.best_rank < self.lowest_seen:
            self.lowest_seen, self.flips_at_lowest = s.best_rank, s.flips
        if p.rank:
            return s.best_rank if s.best_rank <= p.rank else 0
        return s.best_rank if s.flips - self.flips_at_lowest >= p.settle_flips else 0

    def _cost(self, m: np.ndarray) -> int:
        """The count the annealing walks on (greedy CSE or naive, in the kernel)."""
        from ..kernels.cost import arena_cost

        return int(arena_cost(m, self.widths, self.kind))

    def _objective(self, m: np.ndarray) -> int:
        """The count reported: the walk's own, or with ``--objective bp`` the signed BP program's."""
        if self.params.objective != "bp":
            return self._cost(m)
        from flipforge.schemes.additions import reduce_additions

        return reduce_additions(unpack(self._packed(m), self.tensor), "bp", restarts=1, seed=0).additions

    def _load(self, packed: Packed) -> None:
        from ..kernels.index import new_arena

        self.arena = new_arena(packed.fp, packed.fn, packed.code, packed.rank + 2, int(self.copy_rng.integers(2**62)))
        self.current = self.walk_cost = self._cost(self.arena)
        self.since = 0

    def _packed(self, m: np.ndarray) -> Packed:
        from ..kernels.index import read_factors

        fp, fn = read_factors(m)
        return Packed(fp, fn, self.domain)

    def _report(self, m: np.ndarray, cost: int) -> Report:
        return Report(self._candidate(self._packed(m)), self._work(), cost)

    def _start_annealing(self, rank: int) -> list[Report]:
        self.fixed = rank
        members = self.search.pools[rank].members
        self.used = 1
        self._load(members[0])
        assert self.arena is not None
        self.cheapest = self.arena.copy()
        self.best_cost = self._objective(self.arena)
        self.low_greedy = self.current
        return [self._report(self.cheapest, self.best_cost)]

    # --- the annealing ---------------------------------------------------------------------------

    def _restart(self) -> None:
        """Every other restart from the cheapest scheme; the others from a fresh scheme of the
        fixed rank: one not annealed yet, or a descent from a random scheme one rank higher."""
        self.restarts += 1
        members = self.search.pools[self.fixed].members
        if self.restarts % 2 == 0:
            assert self.cheapest is not None
            self._load(self._packed(self.cheapest))
            return
        if self.used < len(members):
            self._load(members[self.used])
            self.used += 1
            return
        higher = sorted(r for r, pool in self.search.pools.items() if r > self.fixed and pool.members)
        if higher:
            from ..kernels.walk import walk

            pool = self.search.pools[higher[0]].members
            self._load(pool[int(self.copy_rng.integers(len(pool)))])
            assert self.arena is not None
            p = self.params
            walk(self.arena, p.chunk_flips, self.fixed, p.plus_after, p.plus_delta, higher[0])
            if int(self.arena[0]) == self.fixed:
                self.current = self.walk_cost = self._cost(self.arena)
                return
        assert self.cheapest is not None
        self._load(self._packed(self.cheapest))

    def step(self, budget: int) -> list[Report]:
        if not self.fixed:
            found = self._walk(budget)
            costs = [self._report_packed(p) for p in found]
            rank = self._settled()
            if rank:
                costs += self._start_annealing(rank)
            return costs
        from ..kernels.cost import anneal_cost
        from ..kernels.index import RANK

        p = self.params
        assert self.arena is not None and self.cheapest is not None
        backup = self.arena.copy()
        walk_best = self.arena.copy()
        current, cost, done = anneal_cost(
            self.arena, backup, walk_best, self.widths, self.kind, max(1, budget // self.move_work), p.segment,
            p.temperature,
            self.current, self.walk_cost, p.plus_rate, p.plus_flips,
        )  # fmt: skip
        self.moves += int(done)
        self.current = int(current)
        reports: list[Report] = []
        lowered = int(walk_best[RANK]) < self.fixed
        if lowered:
            packed = self._packed(walk_best)
            self.search.adopt(packed, restart=False)
            self.fixed = packed.rank
            self.used = len(self.search.pools.get(self.fixed, _NoPool).members)
            self.cheapest = walk_best.copy()
            self.best_cost = self._objective(walk_best)
            self._load(packed)
            self.low_greedy = self.current
            return [self._report(self.cheapest, self.best_cost)]
        improved = cost < self.walk_cost
        if improved:
            self.walk_cost = int(cost)
            self.since = 0
        else:
            self.since += int(done)
        if p.objective == "bp":
            self.low_greedy = min(self.low_greedy, self.walk_cost)
            states = [walk_best] if improved else []
            if self.current <= self.low_greedy + p.bp_margin:
                states.append(self.arena)
            for m in states:
                counted = self._objective(m)
                if counted < self.best_cost:
                    self.best_cost = counted
                    self.cheapest = m.copy()
                    reports.append(self._report(self.cheapest, self.best_cost))
        elif improved and cost < self.best_cost:
            self.best_cost = int(cost)
            self.cheapest = walk_best.copy()
            reports.append(self._report(self.cheapest, self.best_cost))
        if self.since >= p.patience:
            self._restart()
        return reports

    def _report_packed(self, packed: Packed) -> Report:
        """A new lowest rank of the descent: no cost (rank decides; counting a scheme the walk
        leaves at once would cost seconds per report on large formats with ``--objective bp``)."""
        return Report(self._candidate(packed), self._work())

    # --- the seam --------------------------------------------------------------------------------

    @classmethod
    def goal_reached(cls, params: Any, target_rank: int | None, rank: int, cost: int | None) -> bool:
        """Done at the target rank (or any, without one) once the cost meets ``--goal``; never without a goal."""
        if not params.goal or cost is None:
            return False
        return (target_rank is None or rank <= target_rank) and cost <= params.goal

    def progress(self) -> Progress:
        base = super().progress()
        if not self.fixed:
            return base
        return Progress(self._work(), self.fixed, base.pools, self.fixed, self.best_cost)

    def best_rank(self) -> int:
        return min(self.search.best_rank, self.fixed or self.search.best_rank)

    def snapshot(self) -> dict[str, Any]:
        state = super().snapshot()
        empty = np.zeros(0, dtype=np.int64)
        state["sparse"] = {
            "counters": [
                self.fixed,
                self.current,
                self.best_cost,
                self.walk_cost,
                self.moves,
                self.since,
                self.used,
                self.lowest_seen,
                self.flips_at_lowest,
                self.restarts,
                self.low_greedy,
            ],
            "arena": empty if self.arena is None else self.arena.copy(),
            "cheapest": empty if self.cheapest is None else self.cheapest.copy(),
        }
        return state

    def restore(self, snapshot: dict[str, Any]) -> None:
        state = dict(snapshot)
        sparse = state.pop("sparse")
        super().restore(state)
        (self.fixed, self.current, self.best_cost, self.walk_cost, self.moves, self.since, self.used,
         self.lowest_seen, self.flips_at_lowest, self.restarts, self.low_greedy) = (
            int(x) for x in sparse["counters"])  # fmt: skip
        arena, cheapest = np.asarray(sparse["arena"]), np.asarray(sparse["cheapest"])
        self.arena = arena.astype(np.int64).copy() if arena.size else None
        self.cheapest = cheapest.astype(np.int64).copy() if cheapest.size else None


class _NoPool:
    members: list = []
