"""``meta``: pool walks in the target format and in formats one index larger, projected back.

A move of the meta flip graph: a scheme of <n+1,m,p> with one index deleted is a scheme of
<n,m,p>, often of lower rank than the walk in <n,m,p> itself has reached (rectangular and large
formats stall where a neighbour does not). This searcher runs the flip-pool walk in the target
format and, every ``meta_every`` steps, one step of a walk in a neighbour one index larger along
n, m or p (started from the target's start schemes, extended). Each new best of a neighbour is
projected back at every index (terms merged, in the search domain; over ZT a merge that would
leave {-1,0,1} is skipped) and a projection below the target walk's best is adopted by it and
reported. New bests of the target are extended into the neighbours in turn. Targets other than
<n,m,p>, and neighbours too wide for the 64-bit kernels, leave the plain walk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from flipforge.schemes import Tensor
from flipforge.schemes.meta import extend, project
from flipforge.schemes.tensor import format_name, matmul_tensor

from ..packing import MAX_WIDTH, Packed, pack, unpack
from .base import TUNING_LIMIT, Candidate, Report, option
from .flip_pool import FlipPoolParams, FlipPoolSearcher

__all__ = ["MetaParams", "MetaSearcher"]


@dataclass(frozen=True)
class MetaParams(FlipPoolParams):
    """The flip-pool options, for every walk, plus how often the neighbours walk."""

    meta_every: int = option(4, "Steps of the target walk between two steps of a neighbour's walk.", 1, TUNING_LIMIT)
    neighbours: int = option(3, "Neighbours walked: one index larger along n, m, p (the first this many).", 0, 3)


class _Neighbour:
    """The walk in one neighbouring format and how its schemes come back."""

    def __init__(self, tensor: Tensor, axis: int, index_count: int, search: Any) -> None:
        self.tensor, self.axis, self.index_count, self.search = tensor, axis, index_count, search


class MetaSearcher(FlipPoolSearcher):
    """flip-pool in the target format plus walks one index larger whose bests are projected back."""

    name = "meta"
    Params = MetaParams
    summary = (
        "flip-pool walks (with the flip-pool options) in the format and one index larger along n, m, p, "
        "projected back (meta moves)"
    )

    def __init__(
        self, tensor: Tensor, domain: str, params: MetaParams, seed: int, start: dict[int, list[Candidate]]
    ) -> None:
        super().__init__(tensor, domain, params, seed, start)
        from ..pool import PoolSearch  # numba loads with the searcher, not with the command line

        self.steps = 0
        self.neighbours: list[_Neighbour] = []
        fmt = tensor.fmt
        if fmt is None:
            return
        starts = [unpack(p, tensor) for members in self.search.snapshot().values() for p in members]
        for axis in range(3)[: params.neighbours]:
            bigger = tuple(fmt[d] + (d == axis) for d in range(3))
            big = matmul_tensor(bigger)  # type: ignore[arg-type]
            if max(big.shape) > MAX_WIDTH:
                continue
            seeds: dict[int, list[Packed]] = {}
            for s in starts:
                grown = pack(extend(s, axis), domain)
                seeds.setdefault(grown.rank, []).append(grown)
            search = PoolSearch(
                seeds, domain, params, int(np.random.SeedSequence([seed, 2 + axis]).generate_state(1)[0])
            )
            self.neighbours.append(_Neighbour(big, axis, bigger[axis], search))

    def _work(self) -> int:
        return self.search.flips + sum(n.search.flips for n in self.neighbours)

    def _project(self, nb: _Neighbour, packed: Packed) -> list[Packed]:
        """The neighbour's scheme with each index of its extra axis deleted, below the target's best."""
        scheme = unpack(packed, nb.tensor)
        out = []
        for index in range(nb.index_count):
            moved = project(scheme, nb.axis, index)
            if 0 < moved.rank < self.search.best_rank:
                out.append(pack(moved, self.domain))
        return sorted(out, key=lambda p: -p.rank)

    def _share(self, found: list[Packed]) -> None:
        """New bests of the target, extended into every neighbour's pools."""
        for packed in found[-1:]:
            scheme = unpack(packed, self.tensor)
            for nb in self.neighbours:
                nb.search.adopt(pack(extend(scheme, nb.axis), self.domain), restart=False)

    def step(self, budget: int) -> list[Report]:
        self.steps += 1
        every = self.params.meta_every + 1
        if not (self.neighbours and self.steps % every == 0):
            found = self._walk(budget)
            self._share(found)
            return [Report(self._candidate(p), self._work()) for p in found]
        nb = self.neighbours[(self.steps // every) % len(self.neighbours)]
        before = nb.search.flips
        found = []
        while nb.search.flips - before < budget and not found:
            flips = nb.search.flips
            found = nb.search.step()
            if nb.search.flips == flips and not found:
                break
        reports = []
        for packed in found:
            for low in self._project(nb, packed):
                if low.rank < self.search.best_rank:
                    self.search.adopt(low, restart=True)
                    reports.append(Report(self._candidate(low), self._work()))
        return sorted(reports, key=lambda r: -r.candidate.rank)

    def snapshot(self) -> dict[str, Any]:
        neighbours = []
        for nb in self.neighbours:
            state = nb.search.state()
            label = format_name(nb.tensor.fmt)  # type: ignore[arg-type]
            state["pools"] = {r: [Candidate(label, packed=p) for p in m] for r, m in state["pools"].items()}
            neighbours.append(state)
        return {**super().snapshot(), "steps": self.steps, "neighbours": neighbours}

    def restore(self, snapshot: dict[str, Any]) -> None:
        state = dict(snapshot)
        self.steps = int(state.pop("steps"))
        for nb, sub in zip(self.neighbours, state.pop("neighbours"), strict=True):
            pools = {int(r): [c.packed for c in m] for r, m in sub["pools"].items()}
            nb.search.set_state({**sub, "pools": pools})
        super().restore(state)
