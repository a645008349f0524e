"""``numeric``: real-valued decompositions from random starts, sparsified, rounded and proven.

Each attempt (``search/numeric.py``) fits Σ u⊗v⊗w = T at one rank by Levenberg–Marquardt from
random real factors, zeroes the smallest entries while a refit still holds, fixes the rest to
the coefficient lattice of the run's ring one batch at a time, and checks the rounding (or a
repair: two factors kept, the third solved for exactly over Q) in exact integers; a rounding
that is still wrong gets a greedy local repair and is reduced mod 2 and mod 3 and Hensel-lifted
to the run's ring (``--repair 0`` turns both off). The ring
sets the lattice: ZT gives {-1, 0, 1}; Z the integers up to ``--coef-bound``; Q multiples of
1/``--denominator`` up to the bound. Attempts work one below the lowest rank held (or at
``--attempt-rank``); every success is reported and the next attempts go one lower. Nothing it
reports is trusted before the orchestrator proves it in the run's ring.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from flipforge.schemes import SchemeError, Tensor

from .base import Candidate, Progress, Report, Searcher, SearcherParams, option

__all__ = ["NumericParams", "NumericSearcher"]


def _check_fit(value: str) -> str | None:
    from ..numeric import FITS

    return None if value in FITS else f"the first fit is one of {', '.join(FITS)}, not {value!r}"


@dataclass(frozen=True)
class NumericParams(SearcherParams):
    """How each attempt fits, sparsifies and rounds."""

    attempt_rank: int = option(0, "Rank of the first attempts (0: one below the lowest rank held).", 0, 10_000)
    fit_iterations: int = option(
        100,
        "Levenberg-Marquardt iterations for the first real fit of an attempt (it ends early if it stalls).",
        1,
        10**7,
    )
    fit: str = option(
        "lm",
        "How the first real fit runs: lm (Levenberg-Marquardt) or als (alternating least squares, "
        "10 sweeps per iteration, LM once the residual is small). Sparsifying and rounding are the same.",
        check=_check_fit,
    )
    stall_iterations: int = option(
        25, "The first fit ends when this many iterations lowered its residual by under 10 %.", 1, 10**7
    )
    refit_iterations: int = option(
        15, "Iterations for a refit after entries are fixed; a refit that does not hold undoes them.", 1, 10**7
    )
    prune: float = option(0.1, "Share of the free entries fixed at once (halved when a refit fails).", 0, 1)
    retries: int = option(6, "Single entries tried (and undone) before the attempt moves on or ends.", 1, 10_000)
    denominator: int = option(2, "Over Q: coefficients are multiples of 1/this.", 1, 64)
    coef_bound: int = option(1, "Over Z and Q: largest absolute value of a coefficient.", 1, 64)
    repair: int = option(
        1,
        "1: a rounding still wrong after the exact solve gets a local repair and is reduced mod 2 and mod 3 and "
        "Hensel-lifted to the run's ring (a lift may leave the lattice); 0: off.",
        0,
        1,
    )


class NumericSearcher(Searcher):
    """Random real starts, Levenberg-Marquardt, sparsify, round to the ring's lattice, prove."""

    name = "numeric"
    Params = NumericParams
    summary = (
        "real-valued fits (Levenberg-Marquardt) from random starts, sparsified and rounded to {-1,0,1}, Z or "
        "(1/d)Z, then proven exactly (ZT, Z, Q)"
    )
    domains = ("ZT", "Z", "Q")
    step_budget = 50  # iterations per step of a worker's loop

    def __init__(
        self, tensor: Tensor, domain: str, params: NumericParams, seed: int, start: dict[int, list[Candidate]]
    ) -> None:
        super().__init__(tensor, domain, params, seed, start)
        from ..numeric import Lattice

        if domain not in self.domains:
            raise ValueError(f"numeric runs over {', '.join(self.domains)}, not {domain}")
        self.label = tensor.label(with_shape=False)
        self.target = np.asarray(tensor.array, dtype=np.int64)
        if domain == "ZT":
            self.lattice = Lattice(1, 1)
        elif domain == "Z":
            self.lattice = Lattice(1, params.coef_bound)
        else:
            self.lattice = Lattice(params.denominator, params.coef_bound)
        self.rng = np.random.default_rng(seed)
        self.pools: dict[int, list[Candidate]] = {}
        for rank, members in start.items():
            for c in members:
                self._keep(int(rank), c)
        if not self.pools:
            raise ValueError("a numeric search needs the start pools (its rank to beat)")
        self.work = 0
        self.attempts = 0
        self.rank = params.attempt_rank or self.best_rank() - 1
        self.attempt = None if self.rank < 1 else self._new_attempt()

    @classmethod
    def check_target(cls, tensor: Tensor, domain: str, params: SearcherParams) -> None:
        entries = int(np.prod(tensor.shape))
        if entries > 20_000:
            raise SchemeError(f"numeric: {tensor.label()} has {entries} entries; the dense fits stop at 20000")

    def _keep(self, rank: int, c: Candidate) -> bool:
        members = self.pools.setdefault(rank, [])
        if any(m.key() == c.key() for m in members):
            return False
        members.append(c)
        return True

    def _new_attempt(self) -> Any:
        self.attempts += 1
        return self._attempt(self.rng)

    def _attempt(self, rng: Any) -> Any:
        from ..numeric import Attempt

        p = self.params
        return Attempt(
            self.target,
            self.rank,
            self.lattice,
            rng,
            p.fit_iterations,
            p.refit_iterations,
            p.prune,
            p.retries,
            lift_to=self.domain if p.repair else None,
            stall=p.stall_iterations,
            fit=p.fit,
        )

    def step(self, budget: int) -> list[Report]:
        reports: list[Report] = []
        spent = 0
        while spent < budget and self.attempt is not None:
            before = self.attempt.iterations
            found = self.attempt.advance(min(budget - spent, 25))
            done = self.attempt.iterations - before
            spent += max(done, 1)
            self.work += max(done, 1)
            if found is not None:
                u, v, w = found
                c = Candidate(self.label, factors=(u, v, w), denominator=self.attempt.denominator)
                if c.rank < self.best_rank() and self._keep(c.rank, c):
                    reports.append(Report(c, self.work))
                self.rank = min(self.rank, self.best_rank() - 1)
                self.attempt = self._new_attempt() if self.rank >= 1 else None
                break  # report it now
            if self.attempt.done:
                self.attempt = self._new_attempt()
        return reports

    def progress(self) -> Progress:
        current = None if self.attempt is None else self.rank
        return Progress(self.work, self.best_rank(), {r: len(m) for r, m in self.pools.items() if m}, current)

    def best_rank(self) -> int:
        return min(r for r, m in self.pools.items() if m)

    def snapshot(self) -> dict[str, Any]:
        return {
            "pools": {r: list(m) for r, m in self.pools.items() if m},
            "rng": self.rng.bit_generator.state,
            "counters": [self.work, self.attempts, self.rank],
            "attempt": None if self.attempt is None else self.attempt.state(),
        }

    def restore(self, snapshot: dict[str, Any]) -> None:
        self.pools = {int(r): list(m) for r, m in snapshot["pools"].items()}
        self.rng.bit_generator.state = snapshot["rng"]
        self.work, self.attempts, self.rank = (int(x) for x in snapshot["counters"])
        state = snapshot["attempt"]
        if state is None:
            self.attempt = None
            return
        self.attempt = self._new_attempt_like()
        self.attempt.set_state(state)

    def _new_attempt_like(self) -> Any:
        """An attempt object to restore into (its random start is overwritten; the RNG is untouched)."""
        return self._attempt(np.random.default_rng(0))

    def receive(self, message: Candidate) -> None:
        """A lower scheme from another worker: later attempts aim below it."""
        if message.target != self.label or message.rank >= self.best_rank():
            return
        if self._keep(message.rank, message) and self.rank >= message.rank:
            self.rank = message.rank - 1
            self.attempt = self._new_attempt() if self.rank >= 1 else None
