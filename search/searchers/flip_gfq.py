"""``flip-gfq``: flip-graph walks over the small extension fields GF4 and F9 = F3[i].

A scheme is held as element indices 0..q-1 (``flipforge.schemes.gfq``) and walked by the generic
kernels of ``kernels/gfq.py`` (flips with a scalar, reductions, plus transitions), which take the
field's tables as arguments. One walker descends from the lowest rank it holds; after
``--restart`` flips without a new lowest rank it starts again from a random member of the lowest
pool (up to ``--pool-size`` distinct schemes per rank). Every scheme it reports or adopts is
checked exactly over the field first (``flipforge.verify``), so a wrong one is never reported.
Start schemes and schemes other workers share may be integer schemes (the naive scheme, a ZT or
F2/F3 result): their coefficients map through Z -> F_p ⊂ GF(q); those that do not hold over the
field are ignored (``ignored``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from flipforge.schemes import Domain, SchemeError, Tensor

from .base import TUNING_LIMIT, Candidate, Progress, Report, Searcher, SearcherParams, option

__all__ = ["FlipGFqParams", "FlipGFqSearcher"]

_MAX = TUNING_LIMIT - 1
_ORDERS = {"GF4": 4, "F9": 9}


@dataclass(frozen=True)
class FlipGFqParams(SearcherParams):
    """Options of the walk over GF4 / F9."""

    plus_after: int = option(5_000, "Flips without a new lowest rank before a plus transition.", 1, _MAX)
    plus_delta: int = option(2, "Plus transitions only while rank < lowest rank + this.", 0, 10_000)
    wide: int = option(
        0,
        "Per mille of scalars drawn from all of GF(q) instead of the prime subfield (reductions get rare "
        "as it grows; 1000: every scalar from the whole field).",
        0,
        1000,
    )
    restart: int = option(
        3_000_000, "Flips without a new lowest rank before the walker restarts from the pool.", 1, _MAX
    )
    pool_size: int = option(8, "Distinct schemes kept per rank.", 1, 10_000)
    room: int = option(8, "Terms the walker may hold above its start rank (plus transitions).", 1, 10_000, cli=False)


class FlipGFqSearcher(Searcher):
    """Random flip-graph walk over GF4 or F9 on element-index arrays."""

    name = "flip-gfq"
    Params = FlipGFqParams
    summary = "flip-graph walk over GF4 or F9 = F3[i] (generic field kernels; schemes as element indices)"
    domains = ("GF4", "F9")

    def __init__(
        self, tensor: Tensor, domain: str, params: FlipGFqParams, seed: int, start: dict[int, list[Candidate]]
    ) -> None:
        super().__init__(tensor, domain, params, seed, start)
        from flipforge.schemes.gfq import characteristic, tables

        self.q = _ORDERS[domain]
        self.p = characteristic(self.q)
        self.add, self.mul, self.neg, self.inv = tables(self.q)
        self.label = tensor.label(with_shape=False)
        self.rng = np.random.default_rng(seed)
        self.pools: dict[int, list[Candidate]] = {}
        self.work = 0
        self.since = 0  # flips since the last new lowest rank (for restarts)
        self.ignored = 0
        self.best = 0
        for rank in sorted(start):
            for c in start[rank]:
                own = self._own(c)
                if own is not None:
                    self._pool(own)
        if not self.pools:
            raise SchemeError(f"flip-gfq: no start scheme holds over {domain}")
        self.best = min(self.pools)
        self._load(self.pools[self.best][0])

    @classmethod
    def check_target(cls, tensor: Tensor, domain: str, params: Any) -> None:
        if domain not in cls.domains:
            raise SchemeError(f"flip-gfq walks over GF4 or F9, not {domain}")

    # --- schemes in and out ----------------------------------------------------------------------

    def _holds(self, factors: tuple[np.ndarray, ...]) -> bool:
        from flipforge.schemes import Scheme
        from flipforge.verify import verify

        dom = Domain.parse(self.domain, extension=True)
        scheme = Scheme(self.tensor, *factors, dom)  # type: ignore[call-arg]
        return scheme.domain_problem(dom) is None and verify(scheme, dom).valid

    def _own(self, c: Candidate) -> Candidate | None:
        """``c`` as this searcher's candidate (element indices) when it holds over the field, else None."""
        from flipforge.schemes.gfq import from_integers

        if c.target != self.label:
            self.ignored += 1
            return None
        readings = []
        if c.packed is not None:
            scheme = c.to_scheme(self.tensor, "ZT")
            readings.append(tuple(from_integers(a, self.q) for a in scheme.factors))
        elif c.denominator == 1:
            raw = tuple(np.asarray(a, dtype=np.int64) for a in c.factors)  # type: ignore[union-attr]
            if all(a.size == 0 or (a.min() >= 0 and a.max() < self.q) for a in raw):
                readings.append(raw)  # element indices (what this searcher sends)
            readings.append(tuple(from_integers(a, self.q) for a in raw))  # or integers
        for factors in readings:
            if self._holds(factors):
                return Candidate(self.label, factors=tuple(a.copy() for a in factors))  # type: ignore[arg-type]
        self.ignored += 1
        return None

    def _pool(self, c: Candidate) -> bool:
        """Add ``c`` to the pool of its rank when there is room and it is new; True when added."""
        members = self.pools.setdefault(c.rank, [])
        key = c.key()
        if len(members) >= self.params.pool_size or any(m.key() == key for m in members):
            return False
        members.append(c)
        return True

    def _load(self, c: Candidate) -> None:
        from ..kernels.gfq import new_state

        u, v, w = c.factors  # type: ignore[misc]
        seed = int(self.rng.integers(1, 2**62))
        self.f, self.keys, self.st, self.widths = new_state(
            u, v, w, c.rank + self.params.room, seed, self.mul, self.inv
        )
        self.since = 0

    def _current(self) -> Candidate:
        from ..kernels.gfq import read_terms

        return Candidate(self.label, factors=read_terms(self.f, self.st, self.widths))

    # --- the seam --------------------------------------------------------------------------------

    @classmethod
    def is_compiled(cls) -> bool:
        from ..kernels.gfq import walk_gfq
        from ..kernels.walk import kernels_cached

        return kernels_cached(walk_gfq)

    @classmethod
    def prepare(cls) -> None:
        from flipforge.schemes.gfq import tables

        from ..kernels.gfq import new_state, walk_gfq

        add, mul, neg, inv = tables(4)
        one = np.ones((2, 1), dtype=np.int64)
        f, keys, st, widths = new_state(one, one, one, 4, 1, mul, inv)
        walk_gfq(f, keys, st, widths, add, mul, neg, inv, 4, 0, 2, 1, 2, 2, 0)

    def step(self, budget: int) -> list[Report]:
        from ..kernels.gfq import RANK, walk_gfq

        p = self.params
        reports: list[Report] = []
        left = budget
        while left > 0:
            chunk = min(left, max(1, p.restart - self.since))
            done = int(
                walk_gfq(
                    self.f,
                    self.keys,
                    self.st,
                    self.widths,
                    self.add,
                    self.mul,
                    self.neg,
                    self.inv,
                    chunk,
                    self.best - 1,
                    p.plus_after,
                    p.plus_delta,
                    self.best,
                    self.p,
                    p.wide,
                )  # fmt: skip
            )
            done = max(done, 1)
            left -= done
            self.work += done
            self.since += done
            if int(self.st[RANK]) < self.best:
                found = self._current()
                if not self._holds(found.factors):  # type: ignore[arg-type]
                    raise AssertionError("flip-gfq: the walk left the tensor (a kernel bug); nothing is reported")
                self.best = found.rank
                self._pool(found)
                reports.append(Report(found, self.work))
                self.since = 0
            elif self.since >= p.restart:
                members = self.pools[self.best]
                self._load(members[int(self.rng.integers(len(members)))])
        return reports

    def progress(self) -> Progress:
        from ..kernels.gfq import RANK

        pools = {r: len(m) for r, m in self.pools.items()}
        return Progress(self.work, self.best, pools, int(self.st[RANK]))

    def best_rank(self) -> int:
        return self.best

    def snapshot(self) -> dict[str, Any]:
        return {
            "pools": {r: list(m) for r, m in self.pools.items()},
            "walker": {
                "f": self.f.copy(),
                "keys": self.keys.copy(),
                "st": self.st.copy(),
                "widths": self.widths.copy(),
            },
            "rng": self.rng.bit_generator.state,
            "counters": [self.work, self.since, self.ignored, self.best],
        }

    def restore(self, snapshot: dict[str, Any]) -> None:
        self.pools = {int(r): list(m) for r, m in snapshot["pools"].items()}
        walker = snapshot["walker"]
        self.f, self.keys, self.st, self.widths = (
            np.array(walker[k], dtype=np.int64, copy=True) for k in ("f", "keys", "st", "widths")
        )
        self.rng = np.random.default_rng()
        self.rng.bit_generator.state = snapshot["rng"]
        self.work, self.since, self.ignored, self.best = (int(x) for x in snapshot["counters"])

    def receive(self, message: Candidate) -> None:
        """Adopt a scheme another worker found when it holds over the field: a lower one becomes the
        walker's start (and the new best), any other joins its pool when there is room."""
        own = self._own(message)
        if own is None:
            return
        if own.rank < self.best:
            self._pool(own)
            self.best = own.rank
            self._load(own)
        else:
            self._pool(own)
