"""``flip-pool``: random flip-graph walks that descend one rank at a time through pools.

The strategy itself (pools of K distinct schemes per rank, walks, restarts) is
``search/pool.py``; this module gives it the Searcher seam: options, reports, snapshots and
what it does with a best another worker shares (``--copy-best``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from flipforge.schemes import Tensor

from ..packing import Packed
from .base import TUNING_LIMIT, Candidate, Progress, Report, Searcher, SearcherParams, option

__all__ = ["FlipPoolParams", "FlipPoolSearcher"]

_MAX = TUNING_LIMIT - 1


@dataclass(frozen=True)
class FlipPoolParams(SearcherParams):
    """Tuning of the pool search; the defaults work from 2x2x2 to 6x6x6."""

    pool_size: int = option(50, "Distinct schemes per rank before the walkers move down to it.", 1, 100_000, cli=False)
    plus_after: int = option(5_000, "Flips without a new lowest rank before a plus transition.", 1, _MAX)
    plus_delta: int = option(3, "Plus transitions only while rank < lowest rank + this.", 0, _MAX)
    restart_flips: int = option(
        10_000_000, "Flips without improvement before a walker restarts from the pool.", 1, _MAX
    )
    deep_restarts: float = option(
        0.5, "Share of restarts that start from the lowest rank found instead of the working pool.", 0, 1
    )
    chunk_flips: int = option(200_000, "Flips per call of the compiled walk.", 1, _MAX, cli=False)
    copy_best: float = option(
        0.0, "Probability that a worker restarts from a new best another worker found (else it only pools it).", 0, 1
    )


class FlipPoolSearcher(Searcher):
    """Pool search over F2, F3 or ZT (DOMAIN_CODES) with the compiled walk."""

    name = "flip-pool"
    Params = FlipPoolParams
    summary = "random flips, reductions and plus transitions; pools of distinct schemes per rank"

    def __init__(
        self, tensor: Tensor, domain: str, params: FlipPoolParams, seed: int, start: dict[int, list[Candidate]]
    ) -> None:
        super().__init__(tensor, domain, params, seed, start)
        from ..pool import PoolSearch  # numba loads with the searcher, not with the command line

        self.label = tensor.label(with_shape=False)
        pools = {r: [c.packed for c in members if c.packed is not None] for r, members in start.items()}
        self.search = PoolSearch(pools, domain, params, seed)
        self.copy_rng = np.random.default_rng([seed, 1])

    @classmethod
    def is_compiled(cls) -> bool:
        from ..kernels.walk import kernels_cached

        return kernels_cached()

    @classmethod
    def prepare(cls) -> None:
        from ..kernels.walk import prepare_kernels

        prepare_kernels()

    def budget(self) -> int:
        return self.params.chunk_flips

    def _candidate(self, packed: Packed) -> Candidate:
        return Candidate(self.label, packed=packed)

    def _work(self) -> int:
        """Work done so far (flips)."""
        return self.search.flips

    def _walk(self, budget: int) -> list[Packed]:
        """Walk the pools for at most ``budget`` flips, or until something new and lower is found."""
        s = self.search
        spent, found = 0, []
        while spent < budget and not found:
            before = s.flips
            found = s.step()
            spent += s.flips - before
            if s.flips == before and not found:  # a stuck walk restarts; never spin
                spent += 1
        return found

    def step(self, budget: int) -> list[Report]:
        return [Report(self._candidate(p), self._work()) for p in self._walk(budget)]

    def progress(self) -> Progress:
        s = self.search
        return Progress(self._work(), s.rank, {r: len(p) for r, p in s.snapshot().items()}, s.walk_rank)

    def best_rank(self) -> int:
        return self.search.best_rank

    def snapshot(self) -> dict[str, Any]:
        state = self.search.state()
        pools = state.pop("pools")
        state["copy_rng"] = self.copy_rng.bit_generator.state
        state["pools"] = {r: [self._candidate(p) for p in members] for r, members in pools.items()}
        return state

    def restore(self, snapshot: dict[str, Any]) -> None:
        state = dict(snapshot)
        state["pools"] = {int(r): [c.packed for c in members] for r, members in state["pools"].items()}
        self.copy_rng.bit_generator.state = state.pop("copy_rng")
        self.search.set_state(state)

    def receive(self, message: Candidate) -> None:
        if message.packed is None or message.target != self.label or message.packed.domain != self.domain:
            return
        restart = self.params.copy_best > 0 and self.copy_rng.random() < self.params.copy_best
        self.search.adopt(message.packed, restart)
