"""``toy-descent``: a complete searcher in one file, to show what adding a strategy takes.

Not product code (it lives in tests/): a plain-numpy random walk on the flip graph over F2.
A scheme is an (r, 3) array of uint64 bitmasks, one row a rank-one term u (x) v (x) w. Each unit
of work is one flip: two terms sharing a factor, a (x) b (x) c + a (x) b' (x) c', become
a (x) (b + b') (x) c + a (x) b' (x) (c' + c), which leaves their sum unchanged. After a flip
every term with a zero factor is dropped and two terms that share two factors merge,
a (x) b (x) c + a (x) b (x) c' = a (x) b (x) (c + c'); either lowers the rank, and every scheme
below the best so far is reported. A walk that has not improved for ``--restart-after`` flips
starts again from a random scheme of the lowest rank found.

Adding it to flipforge is this file plus one line: ``register(ToySearcher)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from flipforge.schemes import Tensor
from flipforge.search.packing import Packed
from flipforge.search.searchers.base import Candidate, Progress, Report, Searcher, SearcherParams, option

__all__ = ["ToyParams", "ToySearcher"]

KEEP = 8  # distinct schemes kept per rank


@dataclass(frozen=True)
class ToyParams(SearcherParams):
    """The toy's one option."""

    restart_after: int = option(
        2_000, "Flips without a lower rank before the walk restarts from a lowest scheme found.", 1, 10**9
    )


class ToySearcher(Searcher):
    """Random flips and merges over F2, in numpy (no compiled code)."""

    name = "toy-descent"
    Params = ToyParams
    summary = "a toy: random flips and merges over F2 in plain numpy (tests only)"
    domains = ("F2",)
    step_budget = 500  # flips per step of a worker's loop (a few hundredths of a second)

    def __init__(
        self, tensor: Tensor, domain: str, params: ToyParams, seed: int, start: dict[int, list[Candidate]]
    ) -> None:
        super().__init__(tensor, domain, params, seed, start)
        if domain != "F2":
            raise ValueError(f"toy-descent runs over F2, not {domain}")
        self.label = tensor.label(with_shape=False)
        self.rng = np.random.default_rng(seed)
        self.pools: dict[int, list[Candidate]] = {}
        for rank, members in start.items():
            for c in members:
                if c.packed is not None and c.packed.domain == "F2" and not c.packed.fn.any():
                    self._pool(int(rank), c)
        if not self.pools:
            raise ValueError("toy-descent needs a start scheme packed over F2")
        self.work = 0
        self.since = 0
        self.terms = self._pick()

    # --- the walk --------------------------------------------------------------------------------

    def _pool(self, rank: int, c: Candidate) -> bool:
        members = self.pools.setdefault(rank, [])
        if len(members) >= KEEP or any(m.key() == c.key() for m in members):
            return False
        members.append(c)
        return True

    def _pick(self) -> np.ndarray:
        """A random scheme of the lowest rank held, as the walk's terms."""
        members = self.pools[min(self.pools)]
        return members[int(self.rng.integers(len(members)))].packed.fp.copy()

    def _flip(self) -> None:
        t = self.terms
        pairs = [np.argwhere(np.triu(t[:, s, None] == t[None, :, s], 1)) for s in range(3)]  # sharing factor s
        total = sum(len(p) for p in pairs)
        if not total:
            return
        k = int(self.rng.integers(total))
        s = 0
        while k >= len(pairs[s]):
            k -= len(pairs[s])
            s += 1
        i, j = (int(x) for x in pairs[s][k])
        if self.rng.integers(2):
            i, j = j, i
        b, c = [q for q in range(3) if q != s][:: 1 if self.rng.integers(2) else -1]
        t[i, b] ^= t[j, b]  # a (x) (b + b') (x) c
        t[j, c] ^= t[i, c]  # a (x) b' (x) (c' + c)

    def _reduce(self) -> None:
        """Drop terms with a zero factor; merge terms that share two factors (until none)."""
        t = self.terms[np.all(self.terms != 0, axis=1)]
        while len(t) > 1:
            same = [t[:, s, None] == t[None, :, s] for s in range(3)]
            hits = np.argwhere(np.triu(same[0].astype(int) + same[1] + same[2] >= 2, 1))
            if not len(hits):
                break
            i, j = hits[0]
            s = next(q for q in range(3) if t[i, q] != t[j, q]) if not np.array_equal(t[i], t[j]) else 2
            t[i, s] ^= t[j, s]
            t = np.delete(t, j, axis=0)
            if t[i, s] == 0:
                t = np.delete(t, i, axis=0)
        self.terms = t

    def _candidate(self) -> Candidate:
        fp = np.ascontiguousarray(self.terms, dtype=np.uint64)
        return Candidate(self.label, packed=Packed(fp.copy(), np.zeros_like(fp), "F2"))

    # --- the Searcher seam -----------------------------------------------------------------------

    def step(self, budget: int) -> list[Report]:
        reports = []
        for _ in range(budget):
            self.work += 1
            self.since += 1
            self._flip()
            self._reduce()
            rank = len(self.terms)
            if rank < self.best_rank():
                c = self._candidate()
                self._pool(rank, c)
                reports.append(Report(c, self.work))
                self.since = 0
            elif rank == self.best_rank() and self._pool(rank, self._candidate()):
                self.since = 0
            if self.since >= self.params.restart_after:
                self.terms = self._pick()
                self.since = 0
        return reports

    def progress(self) -> Progress:
        return Progress(self.work, len(self.terms), {r: len(m) for r, m in self.pools.items()})

    def best_rank(self) -> int:
        return min(self.pools)

    def snapshot(self) -> dict[str, Any]:
        return {
            "pools": {r: list(m) for r, m in self.pools.items()},
            "terms": self.terms.copy(),
            "rng": self.rng.bit_generator.state,
            "counters": [self.work, self.since],
        }

    def restore(self, snapshot: dict[str, Any]) -> None:
        self.pools = {int(r): list(m) for r, m in snapshot["pools"].items()}
        self.terms = np.array(snapshot["terms"], dtype=np.uint64)
        self.rng.bit_generator.state = snapshot["rng"]
        self.work, self.since = (int(x) for x in snapshot["counters"])

    def receive(self, message: Candidate) -> None:
        """A lower scheme from another worker: keep it, and walk from it."""
        p = message.packed
        if message.target != self.label or p is None or p.domain != "F2" or p.fn.any():
            return
        if p.rank < self.best_rank() and self._pool(p.rank, message):
            self.terms = p.fp.copy()
            self.since = 0
